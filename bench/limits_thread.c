/*
 * Thread limits: a spinning handoff between two CPUs (W2's low-latency
 * bound), a pthread mutex+condvar queue (throughput and round trip, W9),
 * GLib's GThreadPool when GLib was found at build time (W9), and the CPU
 * noise check the runner makes before each workload.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "limits.h"

#ifdef BENCH_HAVE_GLIB
#include <glib.h>
#endif

static void start(pthread_t *t, void *(*fn)(void *), void *arg) {
  int rc = pthread_create(t, NULL, fn, arg);
  if (rc != 0)
    bench_die("limits: pthread_create: %s", strerror(rc));
}

static inline void relax(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

/* ---- spin handoff ------------------------------------------------------ */

typedef struct spin {
  _Alignas(64) atomic_long turn; /* odd: the other side's turn */
  long rounds;
} spin_t;

static void *spin_peer(void *arg) {
  spin_t *s = arg;
  bench_pin(1);
  for (long i = 0; i < s->rounds; i++) {
    while ((atomic_load_explicit(&s->turn, memory_order_acquire) & 1) == 0)
      relax();
    atomic_fetch_add_explicit(&s->turn, 1, memory_order_release);
  }
  return NULL;
}

/* Two threads on CPUs 0 and 1 hand a token back and forth by spinning. */
void lim_spin(int argc, char **argv) {
  long n = bench_arg_long(argc, argv, "--n", 1000000), warm = 1000;
  if (bench_ncpus() < 2)
    bench_die("limits: spin needs 2 CPUs");
  spin_t s;
  atomic_init(&s.turn, 0);
  s.rounds = n + warm;
  pthread_t t;
  start(&t, spin_peer, &s);
  bench_pin(0);
  uint64_t t0 = 0;
  for (long i = 0; i < n + warm; i++) {
    if (i == warm)
      t0 = bench_now_ns();
    atomic_fetch_add_explicit(&s.turn, 1, memory_order_release);
    while (atomic_load_explicit(&s.turn, memory_order_acquire) & 1)
      relax();
  }
  double us = bench_secs(t0, bench_now_ns()) * 1e6 / (double)n;
  pthread_join(t, NULL);
  lim_emit("round_trip", "us", us);
}

/* ---- mutex + condvar queue --------------------------------------------- */

typedef struct queue {
  pthread_mutex_t mu;
  pthread_cond_t nonempty, done;
  long *items; /* room for every task: the queue never blocks the producer */
  long head, tail, n;
  int waiting, stop, signal_each;
  atomic_long completed;
  int32_t *out;
} queue_t;

static void *consumer(void *arg) {
  queue_t *q = arg;
  pthread_mutex_lock(&q->mu);
  for (;;) {
    while (q->head == q->tail && !q->stop) {
      q->waiting++;
      pthread_cond_wait(&q->nonempty, &q->mu);
      q->waiting--;
    }
    if (q->head == q->tail) {
      pthread_mutex_unlock(&q->mu);
      return NULL;
    }
    long i = q->items[q->head++];
    pthread_mutex_unlock(&q->mu);
    q->out[i] = (int32_t)((i % 40000) * (i % 40000)); /* the task */
    long c = atomic_fetch_add(&q->completed, 1) + 1;
    pthread_mutex_lock(&q->mu);
    if (q->signal_each || c == q->n)
      pthread_cond_signal(&q->done);
  }
}

static void push(queue_t *q, long i) {
  pthread_mutex_lock(&q->mu);
  q->items[q->tail++] = i;
  if (q->waiting)
    pthread_cond_signal(&q->nonempty);
  pthread_mutex_unlock(&q->mu);
}

static void wait_completed(queue_t *q, long c) {
  pthread_mutex_lock(&q->mu);
  while (atomic_load(&q->completed) < c)
    pthread_cond_wait(&q->done, &q->mu);
  pthread_mutex_unlock(&q->mu);
}

/*
 * Two consumer threads and the calling thread as producer. Throughput: push
 * --n tasks, wait for all. Round trip (signal_each): push one, wait for it,
 * --n times.
 */
static void mutex_bench(int argc, char **argv, int round_trip) {
  long n = bench_arg_long(argc, argv, "--n", round_trip ? 20000 : 1000000);
  queue_t q;
  memset(&q, 0, sizeof q);
  pthread_mutex_init(&q.mu, NULL);
  pthread_cond_init(&q.nonempty, NULL);
  pthread_cond_init(&q.done, NULL);
  q.n = n;
  q.signal_each = round_trip;
  q.items = malloc((size_t)n * sizeof *q.items);
  q.out = malloc((size_t)n * sizeof *q.out);
  if (!q.items || !q.out)
    bench_die("limits: out of memory");
  pthread_t t[2];
  start(&t[0], consumer, &q);
  start(&t[1], consumer, &q);
  uint64_t t0 = bench_now_ns();
  for (long i = 0; i < n; i++) {
    push(&q, i);
    if (round_trip)
      wait_completed(&q, i + 1);
  }
  wait_completed(&q, n);
  double s = bench_secs(t0, bench_now_ns());
  pthread_mutex_lock(&q.mu);
  q.stop = 1;
  pthread_cond_broadcast(&q.nonempty);
  pthread_mutex_unlock(&q.mu);
  pthread_join(t[0], NULL);
  pthread_join(t[1], NULL);
  free(q.items);
  free(q.out);
  if (round_trip)
    lim_emit("round_trip", "us", s * 1e6 / (double)n);
  else
    lim_emit("queue_rate", "tasks/s", (double)n / s);
}

void lim_mutex_queue(int argc, char **argv) { mutex_bench(argc, argv, 0); }
void lim_mutex_rtt(int argc, char **argv) { mutex_bench(argc, argv, 1); }

/* ---- GLib's GThreadPool ------------------------------------------------- */

#ifdef BENCH_HAVE_GLIB
typedef struct gstate {
  GMutex mu;
  GCond cond;
  long done;
  int32_t *out;
} gstate_t;

static void gtask(gpointer data, gpointer user) {
  gstate_t *g = user;
  long i = (long)GPOINTER_TO_SIZE(data) - 1;
  g->out[i] = (int32_t)((i % 40000) * (i % 40000));
}

static void gtask_signal(gpointer data, gpointer user) {
  gstate_t *g = user;
  (void)data;
  g_mutex_lock(&g->mu);
  g->done++;
  g_cond_signal(&g->cond);
  g_mutex_unlock(&g->mu);
}

static GThreadPool *gpool(GFunc fn, gstate_t *g) {
  GError *err = NULL;
  GThreadPool *p = g_thread_pool_new(fn, g, 2, FALSE, &err);
  if (!p)
    bench_die("limits: g_thread_pool_new: %s", err ? err->message : "?");
  return p;
}

static void gthreadpool(int argc, char **argv, int round_trip) {
  long n = bench_arg_long(argc, argv, "--n", round_trip ? 20000 : 1000000);
  gstate_t g;
  memset(&g, 0, sizeof g);
  g_mutex_init(&g.mu);
  g_cond_init(&g.cond);
  g.out = malloc((size_t)n * sizeof *g.out);
  if (!g.out)
    bench_die("limits: out of memory");
  /* Warm-up: GLib starts its threads on demand and keeps idle ones. */
  GThreadPool *p = gpool(gtask, &g);
  for (long i = 0; i < 1000 && i < n; i++)
    g_thread_pool_push(p, GSIZE_TO_POINTER((size_t)i + 1), NULL);
  g_thread_pool_free(p, FALSE, TRUE);

  p = gpool(round_trip ? gtask_signal : gtask, &g);
  uint64_t t0 = bench_now_ns();
  for (long i = 0; i < n; i++) {
    g_thread_pool_push(p, GSIZE_TO_POINTER((size_t)i + 1), NULL);
    if (round_trip) {
      g_mutex_lock(&g.mu);
      while (g.done < i + 1)
        g_cond_wait(&g.cond, &g.mu);
      g_mutex_unlock(&g.mu);
    }
  }
  g_thread_pool_free(p, FALSE, TRUE); /* waits for every task */
  double s = bench_secs(t0, bench_now_ns());
  free(g.out);
  if (round_trip)
    lim_emit("round_trip", "us", s * 1e6 / (double)n);
  else
    lim_emit("push_rate", "tasks/s", (double)n / s);
}

void lim_gthreadpool(int argc, char **argv) { gthreadpool(argc, argv, 0); }
void lim_gthreadpool_rtt(int argc, char **argv) { gthreadpool(argc, argv, 1); }
#else
void lim_gthreadpool(int argc, char **argv) {
  (void)argc;
  (void)argv;
  printf("UNAVAILABLE GLib (libglib2.0-dev) was not found when limits was "
         "built\n");
}
void lim_gthreadpool_rtt(int argc, char **argv) { lim_gthreadpool(argc, argv); }
#endif

/* ---- CPU noise check ---------------------------------------------------- */

typedef struct crunch_job {
  int cpu;
  uint64_t iters;
  double secs;
} crunch_job_t;

static void *crunch_on(void *arg) {
  crunch_job_t *j = arg;
  bench_pin(j->cpu);
  volatile uint64_t sink;
  uint64_t t0 = bench_now_ns();
  sink = bench_crunch(j->iters, 12345);
  (void)sink;
  j->secs = bench_secs(t0, bench_now_ns());
  return NULL;
}

/* user+nice+system+idle+iowait+irq+softirq+steal, and steal, from /proc/stat.
 */
static void cpu_ticks(unsigned long long *total, unsigned long long *steal) {
  unsigned long long v[8] = {0};
  FILE *f = fopen("/proc/stat", "r");
  *total = *steal = 0;
  if (!f)
    return;
  if (fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1],
             &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]) == 8) {
    for (int i = 0; i < 8; i++)
      *total += v[i];
    *steal = v[7];
  }
  fclose(f);
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/*
 * Is the machine quiet enough to measure? The same CPU-bound slice is timed
 * alone (best of 3) and then on every CPU at once (--trials times, 5 by
 * default; the median counts): when another
 * process or a neighbour on the host takes CPU time, the parallel slices
 * take longer than the lone one. Also reports the steal time over the check.
 * Prints: NOISE efficiency=0.98 steal_pct=0.0 noisy=0
 */
void lim_noise(int argc, char **argv) {
  long ms = bench_arg_long(argc, argv, "--ms", 20);
  int trials = (int)bench_arg_long(argc, argv, "--trials", 5);
  double min_eff =
      (double)bench_arg_long(argc, argv, "--min-eff-pct", 85) / 100;
  int ncpu = bench_ncpus();
  if (ncpu > 16)
    ncpu = 16;
  uint64_t iters = bench_calibrate((double)ms);
  unsigned long long tot0, st0, tot1, st1;
  cpu_ticks(&tot0, &st0);
  double alone = 1e9;
  for (int r = 0; r < 3; r++) {
    crunch_job_t j = {0, iters, 0};
    crunch_on(&j);
    if (j.secs < alone)
      alone = j.secs;
  }
  double worst[16];
  if (trials < 1 || trials > 16)
    bench_die("limits: noise: 1 to 16 trials");
  for (int r = 0; r < trials; r++) {
    pthread_t t[16];
    crunch_job_t j[16];
    for (int c = 0; c < ncpu; c++) {
      j[c] = (crunch_job_t){c, iters, 0};
      start(&t[c], crunch_on, &j[c]);
    }
    worst[r] = 0;
    for (int c = 0; c < ncpu; c++) {
      pthread_join(t[c], NULL);
      if (j[c].secs > worst[r])
        worst[r] = j[c].secs;
    }
  }
  qsort(worst, (size_t)trials, sizeof worst[0], cmp_double);
  cpu_ticks(&tot1, &st1);
  double eff = alone / worst[trials / 2]; /* the median parallel slice */
  double steal =
      tot1 > tot0 ? 100.0 * (double)(st1 - st0) / (double)(tot1 - tot0) : 0;
  int noisy = eff < min_eff || steal > 5.0;
  printf("NOISE efficiency=%.3f steal_pct=%.1f cpus=%d noisy=%d\n", eff, steal,
         ncpu, noisy);
}
