/*
 * Item-level recovery for every method of submission, and the process
 * transport's handling of cancelled work (process workers only: a thread
 * cannot be killed). A chunk whose worker dies or runs out of time comes
 * back in parts or an item at a time, so only the guilty item fails, for
 * imap as for map; imap honours the pool's and the call's time limits; cancelling a map
 * whose chunk waits in a worker's FIFO behind another job costs no worker.
 */
#include "harness.h"

#include <limits.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#ifdef __linux__
#include <sys/time.h>
#include <time.h>
#endif

static wpool_t *pool_with_limit(int processes, long limit_ms) {
  wpool_options_t o;
  wt_options(&o, processes);
  o.task_timeout_ms = limit_ms;
  wpool_t *pool = NULL;
  return wt_create(&pool, &o) == 0 ? pool : NULL;
}

typedef int (*imap_ex_fn)(wpool_t *, wpool_fn, const wpool_source_t *,
                          size_t, const wpool_call_t *, wpool_iter_t **);

/*
 * Drain it: item i must be in[i] squared (or in[i] itself, when the task
 * returns its argument), except item bad, which must fail with code.
 * Returns the number of items seen.
 */
static int drain_as(wpool_iter_t *it, const int *in, int n, int bad, int code,
                    int squared) {
  int seen = 0;
  const void *data;
  size_t len;
  int rc;
  while ((rc = wpool_iter_next(it, WT_LONG_MS, &data, &len)) != WPOOL_EDONE) {
    size_t i = wpool_iter_index(it);
    CU_ASSERT_TRUE_FATAL(i < (size_t)n);
    if ((int)i == bad) {
      CU_ASSERT_EQUAL(rc, code);
    } else {
      int y = -1;
      CU_ASSERT_EQUAL(rc, 0);
      if (rc == 0 && len == sizeof y)
        memcpy(&y, data, sizeof y);
      CU_ASSERT_EQUAL(y, squared ? in[i] * in[i] : in[i]);
    }
    if (rc == WPOOL_ETIMEDOUT)
      break;
    seen++;
  }
  return seen;
}

static int drain(wpool_iter_t *it, const int *in, int n, int bad, int code) {
  return drain_as(it, in, n, bad, code, 1);
}

/* The pool's task_timeout_ms limits one item of an imap (it used to be
   ignored: the item simply ran on). */
static void test_imap_pool_limit(void) {
  static const int in[] = {1, 2, 3, 4};
  wpool_t *pool = pool_with_limit(2, 100);
  CU_ASSERT_PTR_NOT_NULL_FATAL(pool);
  for (int ordered = 0; ordered < 2; ordered++) {
    wpool_source_t src = wpool_source_array(in, 4, sizeof in[0]);
    wpool_iter_t *it = NULL;
    int rc = ordered ? wpool_imap(pool, task_hang_on_two, &src, 1, &it)
                     : wpool_imap_unordered(pool, task_hang_on_two, &src, 1, &it);
    CU_ASSERT_EQUAL_FATAL(rc, 0);
    CU_ASSERT_EQUAL(drain_as(it, in, 4, 1, WPOOL_ETIMELIMIT, 0), 4);
    wpool_iter_free(it);
  }
  wpool_destroy(pool);
}

/* A per-call limit for imap, and a chunk of several items that passes it:
   only the hung item fails, the others of its chunk come back. */
static void test_imap_call_limit_in_chunk(void) {
  static const int in[] = {1, 3, 2, 4, 5};
  wpool_t *pool = wt_pool(2);
  CU_ASSERT_PTR_NOT_NULL_FATAL(pool);
  static const imap_ex_fn fns[] = {wpool_imap_ex, wpool_imap_unordered_ex};
  for (int f = 0; f < 2; f++) {
    wpool_source_t src = wpool_source_array(in, 5, sizeof in[0]);
    /* The chunk's healthy items share the limit: over MPI each crosses a
       relay, which a loaded machine can hold up past 100 ms. */
    wpool_call_t call = {NULL, NULL, NULL, wt_transport ? 500 : 100, 0};
    wpool_iter_t *it = NULL;
    CU_ASSERT_EQUAL_FATAL(fns[f](pool, task_hang_on_two, &src, 5, &call, &it),
                          0);
    CU_ASSERT_EQUAL(drain_as(it, in, 5, 2, WPOOL_ETIMELIMIT, 0), 5);
    wpool_iter_free(it);
  }
  wpool_stats_t st;
  CU_ASSERT_EQUAL(wpool_stats(pool, &st, NULL, 0), 0);
  CU_ASSERT_TRUE(wt_wait_replaced(pool, 2) >= 2);
  wpool_destroy(pool);
}

/* A worker that dies in the middle of an imap chunk fails only the item
   that killed it (it used to fail the whole chunk). */
static void test_imap_death_in_chunk(void) {
  static const int in[] = {1, 2, WT_CRASH_SEGV, 4, 5, 6, 7};
  wt_no_core_dumps();
  wpool_t *pool = wt_pool(2);
  CU_ASSERT_PTR_NOT_NULL_FATAL(pool);
  for (int ordered = 0; ordered < 2; ordered++) {
    for (size_t cs = 2; cs <= 7; cs += 5) {
      wpool_source_t src = wpool_source_array(in, 7, sizeof in[0]);
      wpool_iter_t *it = NULL;
      int rc = ordered ? wpool_imap(pool, task_crash, &src, cs, &it)
                       : wpool_imap_unordered(pool, task_crash, &src, cs, &it);
      CU_ASSERT_EQUAL_FATAL(rc, 0);
      CU_ASSERT_EQUAL(drain(it, in, 7, 2, WPOOL_EWORKER), 7);
      wpool_iter_free(it);
    }
  }
  wpool_destroy(pool);
}

/* The same for a producer source (var input records are split by item). */
static int crash_producer(void *user, const void **item, size_t *len) {
  static const int in[] = {1, 2, WT_CRASH_ABORT, 4, 5};
  int *next = user;
  if (*next >= 5)
    return 0;
  *item = &in[(*next)++];
  *len = sizeof(int);
  return 1;
}

static void test_producer_death_in_chunk(void) {
  static const int in[] = {1, 2, WT_CRASH_ABORT, 4, 5};
  wt_no_core_dumps();
  wpool_t *pool = wt_pool(1);
  CU_ASSERT_PTR_NOT_NULL_FATAL(pool);
  int next = 0;
  wpool_source_t src = wpool_source_producer(crash_producer, &next);
  wpool_iter_t *it = NULL;
  CU_ASSERT_EQUAL_FATAL(wpool_imap(pool, task_crash, &src, 5, &it), 0);
  CU_ASSERT_EQUAL(drain(it, in, 5, 2, WPOOL_EWORKER), 5);
  wpool_iter_free(it);
  wpool_destroy(pool);
}


/* Map N ints through fn in one chunk on 2 workers: it must fail with code,
   and every item but bad come back as expect(in[i]); 0 or -1. */
static int map_one_chunk(wpool_t *pool, wpool_fn fn, const int *in, int *out,
                         int n, int bad, int code, int square) {
  memset(out, 0xff, (size_t)n * sizeof *out);
  char *msg = NULL;
  int rc = wpool_map(pool, fn, in, (size_t)n, sizeof in[0], out, sizeof out[0],
                     (size_t)n, &msg);
  CU_ASSERT_EQUAL(rc, code);
  CU_ASSERT_PTR_NOT_NULL(msg);
  wpool_free(msg);
  int wrong = 0;
  for (int i = 0; i < n; i++)
    wrong += i != bad && out[i] != (square ? in[i] * in[i] : in[i]);
  CU_ASSERT_EQUAL(wrong, 0);
  return rc == code && wrong == 0 ? 0 : -1;
}

/*
 * A death in a large chunk (2,000 items, the culprit the 1,001st). Process
 * workers of a kind that shares memory say in their progress line which
 * item runs: the culprit fails alone at the first death, and the chunk's
 * 1,999 other items run again as two parts. Without the line (MPI), the
 * chunk is run again in parts of 45, the part that dies again item by
 * item: the items run again are the chunk's 2,000 and the dying part's 45,
 * for three deaths.
 */
static void test_map_death_in_large_chunk(void) {
  enum { N = 2000, BAD = 1000 };
  static int in[N], out[N];
  for (int i = 0; i < N; i++)
    in[i] = i == BAD ? WT_CRASH_SEGV : i + 1;
  wt_no_core_dumps();
  wpool_t *pool = wt_pool(2);
  CU_ASSERT_PTR_NOT_NULL_FATAL(pool);
  map_one_chunk(pool, task_crash, in, out, N, BAD, WPOOL_EWORKER, 1);
  size_t deaths = wt_transport ? 3 : 1;
  CU_ASSERT_EQUAL(wt_wait_replaced(pool, deaths), deaths);
  wpool_stats_t st;
  CU_ASSERT_EQUAL_FATAL(wpool_stats(pool, &st, NULL, 0), 0);
  CU_ASSERT_EQUAL(st.tasks_rerun, wt_transport ? (size_t)N + 45 : N - 1);
  wpool_destroy(pool);
}

/* A hang past the time limit in the middle of a chunk is attributed from
   the progress line too: one kill, the chunk's other items run again as
   two parts. Without the line (MPI), an item at a time, the culprit
   killed twice. */
static void test_map_limit_in_chunk(void) {
  enum { N = 8, BAD = 3 };
  static int in[N], out[N];
  for (int i = 0; i < N; i++)
    in[i] = i == BAD ? 2 : i + 3; /* task_hang_on_two hangs on 2 */
  /* Long enough for an MPI round trip under load: only the hung item may
     pass it. */
  wpool_t *pool = pool_with_limit(2, 200);
  CU_ASSERT_PTR_NOT_NULL_FATAL(pool);
  map_one_chunk(pool, task_hang_on_two, in, out, N, BAD, WPOOL_ETIMELIMIT, 0);
  size_t deaths = wt_transport ? 2 : 1;
  CU_ASSERT_EQUAL(wt_wait_replaced(pool, deaths), deaths);
  wpool_stats_t st;
  CU_ASSERT_EQUAL_FATAL(wpool_stats(pool, &st, NULL, 0), 0);
  CU_ASSERT_EQUAL(st.tasks_rerun, wt_transport ? (size_t)N : N - 1);
  wpool_destroy(pool);
}

/* With max_retries, the culprit named by the line runs again alone, as a
   lone item that died would: its attempts count, the chunk's split does
   not. */
static void test_map_death_in_chunk_retried(void) {
  enum { N = 2000, BAD = 1500 };
  static int in[N], out[N];
  for (int i = 0; i < N; i++)
    in[i] = i == BAD ? WT_CRASH_SEGV : i + 1;
  wt_no_core_dumps();
  wpool_options_t o;
  wt_options(&o, 2);
  o.max_retries = 1;
  wpool_t *pool = NULL;
  CU_ASSERT_EQUAL_FATAL(wt_create(&pool, &o), 0);
  map_one_chunk(pool, task_crash, in, out, N, BAD, WPOOL_EWORKER, 1);
  size_t deaths = wt_transport ? 4 : 2;
  CU_ASSERT_EQUAL(wt_wait_replaced(pool, deaths), deaths);
  wpool_stats_t st;
  CU_ASSERT_EQUAL_FATAL(wpool_stats(pool, &st, NULL, 0), 0);
  CU_ASSERT_EQUAL(st.tasks_rerun, wt_transport ? (size_t)N + 45 + 1 : N);
  wpool_destroy(pool);
}

#ifdef __linux__
/* The lie a worker's task tells in its progress line before it crashes. */
enum { LIE_INDEX = -20, LIE_SEQ = -21 };

/* Rewrite every line in use of this worker's progress page (a 4 KiB
   shared mapping of a memfd named "wpool-progress", docs/design.md "Attribution
   and deaths": u64 job id, u64 item index per 64-byte line): an index past
   any chunk, or an id of another job. Then crash. */
static int task_lie(const void *arg, size_t len, wpool_out_t *out) {
  int x;
  if (len != sizeof x)
    return wpool_out_fail(out, 1, "bad argument");
  memcpy(&x, arg, sizeof x);
  if (x != LIE_INDEX && x != LIE_SEQ)
    return wpool_out_set(out, (int[]){x * x}, sizeof x);
  FILE *maps = fopen("/proc/self/maps", "r");
  char line[512];
  while (maps && fgets(line, sizeof line, maps)) {
    unsigned long lo, hi;
    if (!strstr(line, "/memfd:wpool-progress") || !strstr(line, "rw-s") ||
        sscanf(line, "%lx-%lx", &lo, &hi) != 2 || hi - lo != 4096)
      continue;
    volatile uint64_t *w = (volatile uint64_t *)lo;
    for (int k = 0; k < 64; k++, w += 8) {
      if (!w[0])
        continue;
      if (x == LIE_INDEX)
        w[1] = 5000;
      else
        w[0] += 1, w[1] = 0;
    }
  }
  if (maps)
    fclose(maps);
  wt_no_core_dumps();
  volatile int *volatile p = NULL;
  *p = 1;
  raise(SIGSEGV);
  return 1;
}
WPOOL_REGISTER(task_lie)

/* A worker that lies in its progress line cannot make the parent blame an
   item outside its chunk, nor one of another job: the parent falls back to
   finding the culprit by further deaths, and only the culprit fails. */
static void test_lying_progress_line(void) {
  enum { N = 2000, BAD = 1000 };
  static int in[N], out[N];
  if (wt_transport) {
    WT_SKIP("the MPI kind shares no memory: no progress page to lie in");
    return;
  }
  wt_no_core_dumps();
  wpool_t *pool = wt_pool(2);
  CU_ASSERT_PTR_NOT_NULL_FATAL(pool);
  size_t deaths = 0;
  for (int lie = LIE_SEQ; lie <= LIE_INDEX; lie++) {
    for (int i = 0; i < N; i++)
      in[i] = i == BAD ? lie : i + 1;
    map_one_chunk(pool, task_lie, in, out, N, BAD, WPOOL_EWORKER, 1);
    deaths += 3;
    CU_ASSERT_EQUAL(wt_wait_replaced(pool, deaths), deaths);
  }
  wpool_stats_t st;
  CU_ASSERT_EQUAL_FATAL(wpool_stats(pool, &st, NULL, 0), 0);
  CU_ASSERT_EQUAL(st.tasks_rerun, 2 * ((size_t)N + 45));
  wpool_destroy(pool);
}
#else
static void test_lying_progress_line(void) {
  WT_SKIP("the test finds the progress page through /proc/self/maps");
}
#endif

/* The same with var input records (a producer's items): a part holds
   several records, found by walking the chunk. */
typedef struct count_src {
  int next, n, bad;
  int value;
} count_src_t;

static int count_producer(void *user, const void **item, size_t *len) {
  count_src_t *c = user;
  if (c->next >= c->n)
    return 0;
  c->value = c->next == c->bad ? WT_CRASH_ABORT : c->next + 1;
  c->next++;
  *item = &c->value;
  *len = sizeof c->value;
  return 1;
}

static void test_producer_death_in_large_chunk(void) {
  enum { N = 1100, BAD = 700 };
  static int in[N];
  for (int i = 0; i < N; i++)
    in[i] = i == BAD ? WT_CRASH_ABORT : i + 1;
  wt_no_core_dumps();
  wpool_t *pool = wt_pool(2);
  CU_ASSERT_PTR_NOT_NULL_FATAL(pool);
  for (int ordered = 0; ordered < 2; ordered++) {
    count_src_t c = {0, N, BAD, 0};
    wpool_source_t src = wpool_source_producer(count_producer, &c);
    wpool_iter_t *it = NULL;
    int rc = ordered ? wpool_imap(pool, task_crash, &src, N, &it)
                     : wpool_imap_unordered(pool, task_crash, &src, N, &it);
    CU_ASSERT_EQUAL_FATAL(rc, 0);
    CU_ASSERT_EQUAL(drain(it, in, N, BAD, WPOOL_EWORKER), N);
    wpool_iter_free(it);
  }
  /* Each run: the chunk's 1,099 other items at one death, named by the
     progress line; without it (MPI) the chunk's 1,100 items, then the
     dying part's 34, at three deaths. */
  size_t deaths = wt_transport ? 6 : 2;
  CU_ASSERT_EQUAL(wt_wait_replaced(pool, deaths), deaths);
  wpool_stats_t st;
  CU_ASSERT_EQUAL_FATAL(wpool_stats(pool, &st, NULL, 0), 0);
  CU_ASSERT_EQUAL(st.tasks_rerun,
                  wt_transport ? 2 * ((size_t)N + 34) : 2 * ((size_t)N - 1));
  wpool_destroy(pool);
}

/* Wait until the pool's workers hold `running` items; 0, or -1 after
   WT_LONG_MS (only a hung pool gets there). */
static int wait_running(wpool_t *pool, size_t running) {
  long until = wt_now_ms() + WT_LONG_MS;
  wpool_stats_t st;
  wt_mutex_t m;
  wt_cond_t c; /* never signalled: a bounded pause between looks */
  wt_mutex_init(&m);
  wt_cond_init(&c);
  int rc = -1;
  wt_mutex_lock(&m);
  while (wpool_stats(pool, &st, NULL, 0) == 0 && wt_now_ms() < until) {
    if (st.tasks_running == running) {
      rc = 0;
      break;
    }
    wt_cond_wait_ms(&c, &m, 1);
  }
  wt_mutex_unlock(&m);
  wt_cond_destroy(&c);
  wt_mutex_destroy(&m);
  return rc;
}

/*
 * Cancel a map whose chunk sits in a worker's FIFO behind a running job.
 * The worker still answers the cancelled chunk; its outputs must be
 * discarded, not read as failure records (that was a protocol error that
 * killed the worker).
 */
static void test_cancel_map_queued_in_worker(void) {
  wpool_t *pool = wt_pool(1);
  CU_ASSERT_PTR_NOT_NULL_FATAL(pool);
  /* Quick tasks first: the scheduler learns they are short and then keeps
     several jobs in flight per worker. */
  int warm[256], wout[256];
  for (int i = 0; i < 256; i++)
    warm[i] = i;
  CU_ASSERT_EQUAL(wpool_map(pool, task_square, warm, 256, sizeof(int), wout,
                            sizeof(int), 1, NULL),
                  0);
  long pid_before = 0;
  wpool_stats_t st;
  CU_ASSERT_EQUAL(wpool_stats(pool, &st, &pid_before, 1), 0);
  wt_gate_t g;
  CU_ASSERT_EQUAL_FATAL(wt_gate_open(&g), 0);
  wt_gate_arg_t a = wt_gate_arg(&g, 5);
  wpool_result_t *held = NULL, *m = NULL;
  CU_ASSERT_EQUAL_FATAL(wpool_apply_async(pool, task_gate, &a, sizeof a, NULL,
                                          NULL, NULL, &held),
                        0);
  CU_ASSERT_EQUAL(wt_gate_wait_started(&g, 1), 0);
  int in[4] = {1, 2, 3, 4}, out[4] = {9, 9, 9, 9};
  CU_ASSERT_EQUAL_FATAL(wpool_map_async(pool, task_square, in, 4, sizeof(int),
                                        out, sizeof(int), 4, NULL, NULL, NULL,
                                        &m),
                        0);
  /* Both jobs are in the worker's FIFO: 1 item running, 4 behind it. */
  CU_ASSERT_EQUAL(wait_running(pool, 5), 0);
  CU_ASSERT_EQUAL(wpool_result_cancel(m), 0);
  CU_ASSERT_EQUAL(wpool_result_wait(m, WT_LONG_MS), 0);
  CU_ASSERT_EQUAL(wpool_result_get(m, 0, NULL, NULL), WPOOL_ECANCELED);
  CU_ASSERT_EQUAL(wt_gate_release(&g, 1), 0);
  int y = 0;
  CU_ASSERT_EQUAL(wt_result_int(held, WT_LONG_MS, &y), 0);
  CU_ASSERT_EQUAL(y, 5);
  /* The worker answered the cancelled chunk too; it is still the same. */
  CU_ASSERT_EQUAL(wait_running(pool, 0), 0);
  CU_ASSERT_EQUAL(wt_apply_int(pool, task_square, 3, &y, NULL), 0);
  long pid_after = 0;
  CU_ASSERT_EQUAL(wpool_stats(pool, &st, &pid_after, 1), 0);
  CU_ASSERT_EQUAL(st.workers_replaced, 0);
  CU_ASSERT_EQUAL(pid_after, pid_before);
  wpool_result_free(held);
  wpool_result_free(m);
  wt_gate_close(&g);
  wpool_destroy(pool);
}

#ifdef __linux__
/*
 * A wall clock that, once armed, jumps an hour ahead at every reading: the
 * test program's own gettimeofday() stands in for the C library's (APR's
 * clock reads it), so any deadline still taken from the wall clock expires
 * at once.
 */
static atomic_int runaway;
static atomic_long runaway_reads;

int gettimeofday(struct timeval *restrict tv, void *restrict tz) {
  struct timespec ts;
  (void)tz;
  clock_gettime(CLOCK_REALTIME, &ts);
  tv->tv_sec = ts.tv_sec;
  tv->tv_usec = ts.tv_nsec / 1000;
  if (atomic_load(&runaway))
    tv->tv_sec += 3600 * (time_t)atomic_fetch_add(&runaway_reads, 1);
  return 0;
}
#endif

/* Steps of the wall clock neither kill a healthy worker for its time limit
   nor end a wait: limits and waits run on the monotonic clock. */
static void test_wall_clock_steps(void) {
#ifndef __linux__
  WT_SKIP("the wall clock can only be faked on Linux");
#else
  wpool_t *pool = pool_with_limit(2, WT_LONG_MS);
  CU_ASSERT_PTR_NOT_NULL_FATAL(pool);
  wt_gate_t g;
  CU_ASSERT_EQUAL_FATAL(wt_gate_open(&g), 0);
  wt_gate_arg_t a = wt_gate_arg(&g, 8);
  wpool_result_t *held = NULL;
  CU_ASSERT_EQUAL_FATAL(wpool_apply_async(pool, task_gate, &a, sizeof a, NULL,
                                          NULL, NULL, &held),
                        0);
  CU_ASSERT_EQUAL(wt_gate_wait_started(&g, 1), 0);
  atomic_store(&runaway, 1);
  /* Work on the other worker makes the I/O loop look at its clocks. */
  int y = 0;
  for (int i = 0; i < 20; i++)
    CU_ASSERT_EQUAL(wt_apply_int(pool, task_square, i, &y, NULL), 0);
  CU_ASSERT_EQUAL(wpool_result_wait(held, 1), WPOOL_ETIMEDOUT);
  atomic_store(&runaway, 0);
  CU_ASSERT_EQUAL(wt_gate_release(&g, 1), 0);
  CU_ASSERT_EQUAL(wt_result_int(held, WT_LONG_MS, &y), 0);
  CU_ASSERT_EQUAL(y, 8);
  wpool_result_free(held);
  wt_gate_close(&g);
  wpool_destroy(pool);
#endif
}

/* A huge limit means no limit, never an overflow into the past. */
static void test_huge_limits(void) {
  wpool_t *pool = wt_pool(1);
  CU_ASSERT_PTR_NOT_NULL_FATAL(pool);
  wpool_call_t call = {NULL, NULL, NULL, LONG_MAX, 0};
  int x = 6, y = 0;
  wpool_result_t *r = NULL;
  CU_ASSERT_EQUAL_FATAL(
      wpool_apply_async_ex(pool, task_square, &x, sizeof x, &call, &r), 0);
  CU_ASSERT_EQUAL(wt_result_int(r, LONG_MAX, &y), 0);
  CU_ASSERT_EQUAL(y, 36);
  wpool_result_free(r);
  wpool_destroy(pool);
}

/*
 * Recycling (maxtasksperchild = 1) starts each replacement beside the worker
 * sent its last task, which it replaces once that task is answered. A crash
 * in such a task still fails that task alone (never the replacement's, nor
 * a task sent to the replacement), every other task runs in a worker of its
 * own, and nothing is left once the pool is destroyed: no replacement
 * started for a last task that never came.
 */
static void test_recycle_crash_attribution(void) {
  enum { N = 48 };
  int in[N];
  for (int i = 0; i < N; i++)
    in[i] = i % 7 == 3 ? WT_CRASH_SEGV : i;
  wt_no_core_dumps();
  wpool_options_t o;
  wt_options(&o, 2);
  o.maxtasksperchild = 1;
  wpool_t *pool = NULL;
  CU_ASSERT_EQUAL_FATAL(wt_create(&pool, &o), 0);
  for (int ordered = 0; ordered < 2; ordered++) {
    wpool_source_t src = wpool_source_array(in, N, sizeof in[0]);
    wpool_iter_t *it = NULL;
    int rc = ordered ? wpool_imap(pool, task_crash, &src, 1, &it)
                     : wpool_imap_unordered(pool, task_crash, &src, 1, &it);
    CU_ASSERT_EQUAL_FATAL(rc, 0);
    int seen = 0;
    const void *data;
    size_t len;
    while ((rc = wpool_iter_next(it, WT_LONG_MS, &data, &len)) != WPOOL_EDONE) {
      size_t i = wpool_iter_index(it);
      CU_ASSERT_TRUE_FATAL(i < N);
      if (in[i] == WT_CRASH_SEGV) {
        CU_ASSERT_EQUAL(rc, WPOOL_EWORKER);
      } else {
        int y = -1;
        CU_ASSERT_EQUAL(rc, 0);
        if (rc == 0 && len == sizeof y)
          memcpy(&y, data, sizeof y);
        CU_ASSERT_EQUAL(y, in[i] * in[i]);
      }
      if (rc == WPOOL_ETIMEDOUT)
        break;
      seen++;
    }
    CU_ASSERT_EQUAL(seen, N);
    wpool_iter_free(it);
  }
  wpool_stats_t st;
  CU_ASSERT_EQUAL(wpool_stats(pool, &st, NULL, 0), 0);
  CU_ASSERT_TRUE(st.workers_replaced >= N);
  CU_ASSERT_EQUAL(st.tasks_rerun, 0);
  CU_ASSERT_EQUAL(wpool_close(pool), 0);
  CU_ASSERT_EQUAL(wpool_join(pool), 0);
  wpool_destroy(pool);
  if (!wt_transport)
    CU_ASSERT_EQUAL(wt_children_left(), 0);
}

/* A pool of `processes` workers, each replaced after one task. */
static wpool_t *recycling_pool(int processes) {
  wpool_options_t o;
  wt_options(&o, processes);
  o.maxtasksperchild = 1;
  wpool_t *pool = NULL;
  return wt_create(&pool, &o) == 0 ? pool : NULL;
}

/*
 * A worker held in its last task while the other worker recycles several
 * times: its replacement has all that while to start and complete its
 * handshake beside it, and takes over once the held task is answered (the
 * order of those two events is the system's; the outcome is the same). The
 * held task's result comes from the worker that ran it, every task runs in
 * a worker of its own, and the pool goes on.
 */
static void test_recycle_held_last_task(void) {
  enum { R = 3, K = 4 };
  wpool_t *pool = recycling_pool(2);
  CU_ASSERT_PTR_NOT_NULL_FATAL(pool);
  for (int r = 0; r < R; r++) {
    wt_gate_t g;
    CU_ASSERT_EQUAL_FATAL(wt_gate_open(&g), 0);
    wt_gate_arg_t a = wt_gate_arg(&g, 100 + r);
    wpool_result_t *held = NULL;
    CU_ASSERT_EQUAL(wpool_apply_async(pool, task_gate, &a, sizeof a, NULL,
                                      NULL, NULL, &held),
                    0);
    CU_ASSERT_EQUAL(wt_gate_wait_started(&g, 1), 0);
    for (int k = 0; k < K; k++) {
      int y = 0;
      CU_ASSERT_EQUAL(wt_apply_int(pool, task_square, k + 2, &y, NULL), 0);
      CU_ASSERT_EQUAL(y, (k + 2) * (k + 2));
    }
    CU_ASSERT_EQUAL(wt_gate_release(&g, 1), 0);
    int v = 0;
    CU_ASSERT_EQUAL(wt_result_int(held, WT_LONG_MS, &v), 0);
    CU_ASSERT_EQUAL(v, 100 + r);
    wpool_result_free(held);
    wt_gate_close(&g);
  }
  wpool_stats_t st;
  CU_ASSERT_EQUAL(wpool_stats(pool, &st, NULL, 0), 0);
  /* Every task ran in a worker of its own: all but the first two workers
     were replacements, counted when they started. */
  CU_ASSERT_TRUE(st.workers_replaced >= R * (K + 1) - 2);
  CU_ASSERT_EQUAL(st.tasks_rerun, 0);
  wpool_destroy(pool);
  if (!wt_transport)
    CU_ASSERT_EQUAL(wt_children_left(), 0);
}

/* Terminating a recycling pool while each worker holds its last task (and
   each replacement is starting beside it) fails those tasks and leaves no
   process behind. */
static void test_recycle_terminate(void) {
  wpool_t *pool = recycling_pool(2);
  CU_ASSERT_PTR_NOT_NULL_FATAL(pool);
  wt_gate_t g;
  CU_ASSERT_EQUAL_FATAL(wt_gate_open(&g), 0);
  wt_gate_arg_t a = wt_gate_arg(&g, 1);
  wpool_result_t *held[2] = {NULL, NULL};
  for (int i = 0; i < 2; i++)
    CU_ASSERT_EQUAL(wpool_apply_async(pool, task_gate, &a, sizeof a, NULL,
                                      NULL, NULL, &held[i]),
                    0);
  CU_ASSERT_EQUAL(wt_gate_wait_started(&g, 2), 0);
  CU_ASSERT_EQUAL(wpool_terminate(pool), 0);
  for (int i = 0; i < 2; i++) {
    CU_ASSERT_EQUAL(wpool_result_get(held[i], WT_LONG_MS, NULL, NULL),
                    WPOOL_ETERMINATED);
    wpool_result_free(held[i]);
  }
  wt_gate_close(&g);
  CU_ASSERT_EQUAL(wpool_join(pool), 0);
  wpool_destroy(pool);
  if (!wt_transport)
    CU_ASSERT_EQUAL(wt_children_left(), 0);
}

/* Set around a recycling fork pool's create: the value at that moment is
   the one its workers must see. */
static int create_marker = 1;

/* () -> create_marker as this worker sees it. */
static int task_create_marker(const void *arg, size_t len, wpool_out_t *out) {
  (void)arg;
  (void)len;
  return wpool_out_set(out, &create_marker, sizeof create_marker);
}
WPOOL_REGISTER(task_create_marker)

/*
 * A recycling fork pool's replacements are copies of the program as it was
 * at wpool_create, like its first workers, although the fork server makes
 * each one before the pool asks for it (the spare): a change the program
 * makes afterwards is never seen. Nothing is left once the pool is gone,
 * the spare that was never asked for included.
 */
static void test_recycle_sees_create_copy(void) {
  if (wt_method != WPOOL_FORK)
    WT_SKIP("only fork workers are copies of the program");
  WT_SKIP_REMOTE("workers are copies of a serving rank, not of this process");
  enum { N = 12 };
  create_marker = 41;
  wpool_t *pool = recycling_pool(2);
  create_marker = 7;
  CU_ASSERT_PTR_NOT_NULL_FATAL(pool);
  for (int i = 0; i < N; i++) {
    void *out = NULL;
    size_t len = 0;
    int v = 0;
    CU_ASSERT_EQUAL(
        wpool_apply(pool, task_create_marker, NULL, 0, &out, &len, NULL), 0);
    if (out != NULL && len == sizeof v)
      memcpy(&v, out, sizeof v);
    CU_ASSERT_EQUAL(v, 41);
    wpool_free(out);
  }
  wpool_stats_t st;
  CU_ASSERT_EQUAL(wpool_stats(pool, &st, NULL, 0), 0);
  CU_ASSERT_TRUE(st.workers_replaced >= N - 2);
  wpool_destroy(pool);
  create_marker = 1;
  CU_ASSERT_EQUAL(wt_children_left(), 0);
}

static const wt_test_t tests[] = {
    {"wall_clock_steps", test_wall_clock_steps},
    {"huge_limits", test_huge_limits},
    {"imap_pool_limit", test_imap_pool_limit},
    {"imap_call_limit_in_chunk", test_imap_call_limit_in_chunk},
    {"imap_death_in_chunk", test_imap_death_in_chunk},
    {"producer_death_in_chunk", test_producer_death_in_chunk},
    {"map_death_in_large_chunk", test_map_death_in_large_chunk},
    {"producer_death_in_large_chunk", test_producer_death_in_large_chunk},
    {"map_limit_in_chunk", test_map_limit_in_chunk},
    {"map_death_in_chunk_retried", test_map_death_in_chunk_retried},
    {"lying_progress_line", test_lying_progress_line},
    {"cancel_map_queued_in_worker", test_cancel_map_queued_in_worker},
    {"recycle_crash_attribution", test_recycle_crash_attribution},
    {"recycle_held_last_task", test_recycle_held_last_task},
    {"recycle_terminate", test_recycle_terminate},
    {"recycle_sees_create_copy", test_recycle_sees_create_copy},
    {NULL, NULL},
};

const wt_suite_t wt_suite_recovery = {"recovery", 1, 1, tests};
