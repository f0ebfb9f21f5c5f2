/*
 * Several threads drive one pool at once. Worker threads of the test only
 * count mistakes (CUnit assertions are not thread-safe); the main thread
 * asserts on the counts.
 */
#include "harness.h"

#include <stdatomic.h>
#include <string.h>

enum { THREADS = 4, APPLIES = 200, MAPN = 100, IMAPN = 50 };

typedef struct driver {
  wpool_t *pool;
  int id;
  int errors;  /* calls that failed */
  int wrong;   /* results that came back wrong */
} driver_t;

static void *drive(void *arg) {
  driver_t *d = arg;
  for (int i = 0; i < APPLIES; i++) {
    int x = d->id * 1000 + i, y = -1;
    int rc = wt_apply_int(d->pool, task_square, x, &y, NULL);
    d->errors += rc != 0;
    d->wrong += rc == 0 && y != x * x;
  }

  int in[MAPN], out[MAPN];
  for (int i = 0; i < MAPN; i++) {
    in[i] = d->id * 100 + i;
    out[i] = -1;
  }
  int rc = wpool_map(d->pool, task_square, in, MAPN, sizeof(int), out,
                     sizeof(int), 3, NULL);
  d->errors += rc != 0;
  for (int i = 0; i < MAPN; i++)
    d->wrong += out[i] != in[i] * in[i];

  wpool_source_t src = wpool_source_array(in, IMAPN, sizeof(int));
  wpool_iter_t *it = NULL;
  rc = wpool_imap(d->pool, task_square, &src, 2, &it);
  d->errors += rc != 0;
  for (int i = 0; rc == 0 && i < IMAPN; i++) {
    const void *data = NULL;
    size_t len = 0;
    int r = wpool_iter_next(it, WT_LONG_MS, &data, &len);
    d->errors += r != 0;
    d->wrong += r == 0 && (wpool_iter_index(it) != (size_t)i ||
                           len != sizeof(int) ||
                           *(const int *)data != in[i] * in[i]);
  }
  if (rc == 0)
    d->errors += wpool_iter_next(it, WT_LONG_MS, NULL, NULL) != WPOOL_EDONE;
  wpool_iter_free(it);
  return NULL;
}

static void test_many_drivers(void) {
  wpool_t *pool = wt_pool(2);
  CU_ASSERT_PTR_NOT_NULL_FATAL(pool);
  driver_t d[THREADS];
  wt_thread_t t[THREADS];
  int started[THREADS];
  for (int i = 0; i < THREADS; i++) {
    memset(&d[i], 0, sizeof d[i]);
    d[i].pool = pool;
    d[i].id = i + 1;
    started[i] = wt_thread_start(&t[i], drive, &d[i]) == 0;
    CU_ASSERT(started[i]);
  }
  for (int i = 0; i < THREADS; i++) {
    if (started[i])
      wt_thread_join(t[i]);
    CU_ASSERT_EQUAL(d[i].errors, 0);
    CU_ASSERT_EQUAL(d[i].wrong, 0);
  }
  wpool_stats_t st;
  CU_ASSERT_EQUAL(wpool_stats(pool, &st, NULL, 0), 0);
  CU_ASSERT_EQUAL(st.tasks_done,
                  (size_t)THREADS * (APPLIES + MAPN + IMAPN));
  wpool_destroy(pool);
}

/* ------------------------------------------------------------------------
 * 16 threads, every kind of call mixed: cancels, early frees of iterators
 * over arrays on the calling thread's stack, producers, callbacks, results
 * released unread. The TSan run of the suite checks it for races; here each
 * call's outcome is checked.
 */
enum { STRESS_THREADS = 16, STRESS_ROUNDS = 24, STRESS_N = 40 };

typedef struct stress {
  wpool_t *pool;
  int id;
  int bad; /* outcomes that are not allowed */
} stress_t;

static atomic_int stress_callbacks;

static void count_callback(wpool_result_t *r, void *user) {
  (void)r;
  (void)user;
  atomic_fetch_add(&stress_callbacks, 1);
}

typedef struct counter {
  int next, n;
  int value;
} counter_t;

static int count_up(void *user, const void **item, size_t *len) {
  counter_t *c = user;
  if (c->next >= c->n)
    return 0;
  c->value = c->next++;
  *item = &c->value;
  *len = sizeof c->value;
  return 1;
}

/* Consume k items of it (all when k < 0); count wrong ones. */
static int consume(wpool_iter_t *it, const int *in, int k, int ordered) {
  int bad = 0;
  for (int i = 0; k < 0 || i < k; i++) {
    const void *d;
    size_t len;
    int rc = wpool_iter_next(it, WT_LONG_MS, &d, &len);
    if (rc == WPOOL_EDONE)
      break;
    size_t idx = wpool_iter_index(it);
    bad += rc != 0 || len != sizeof(int) || (ordered && idx != (size_t)i) ||
           *(const int *)d != in[idx] * in[idx];
  }
  return bad;
}

static void stress_round(stress_t *s, int round) {
  int in[STRESS_N], out[STRESS_N];
  for (int i = 0; i < STRESS_N; i++)
    in[i] = s->id * 100 + i;
  wpool_source_t src = wpool_source_array(in, STRESS_N, sizeof(int));
  wpool_iter_t *it = NULL;
  wpool_result_t *r = NULL;
  int y = 0, rc;
  switch ((s->id + round) % 7) {
  case 0:
    rc = wt_apply_int(s->pool, task_square, round, &y, NULL);
    s->bad += rc != 0 || y != round * round;
    break;
  case 1: /* released unread: the pool frees it after its callback */
    s->bad += wpool_apply_async(s->pool, task_square, &round, sizeof round,
                                count_callback, count_callback, NULL,
                                NULL) != 0;
    break;
  case 2: /* cancelled or not, it ends either way */
    rc = wpool_map_async(s->pool, task_square, in, STRESS_N, sizeof(int), out,
                         sizeof(int), 3, NULL, NULL, NULL, &r);
    s->bad += rc != 0;
    if (rc)
      break;
    if (round % 2)
      wpool_result_cancel(r);
    rc = wpool_result_get(r, WT_LONG_MS, NULL, NULL);
    s->bad += rc != 0 && rc != WPOOL_ECANCELED;
    for (int i = 0; rc == 0 && i < STRESS_N; i++)
      s->bad += out[i] != in[i] * in[i];
    wpool_result_free(r);
    break;
  case 3: /* freed half-way: the array on this stack goes right after */
    rc = wpool_imap(s->pool, task_square, &src, 2, &it);
    s->bad += rc != 0;
    if (rc == 0) {
      s->bad += consume(it, in, STRESS_N / 2, 1);
      wpool_iter_free(it);
    }
    break;
  case 4: {
    counter_t c = {0, STRESS_N, 0};
    wpool_source_t ps = wpool_source_producer(count_up, &c);
    int ident[STRESS_N];
    for (int i = 0; i < STRESS_N; i++)
      ident[i] = i;
    rc = wpool_imap_unordered(s->pool, task_square, &ps, 3, &it);
    s->bad += rc != 0;
    if (rc == 0) {
      s->bad += consume(it, ident, -1, 0);
      wpool_iter_free(it);
    }
    break;
  }
  case 5: /* freed at once: nothing consumed */
    rc = wpool_imap_unordered(s->pool, task_square, &src, 1, &it);
    s->bad += rc != 0;
    if (rc == 0)
      wpool_iter_free(it);
    break;
  default: {
    wpool_stats_t st;
    s->bad += wpool_stats(s->pool, &st, NULL, 0) != 0;
    rc = wpool_apply_async(s->pool, task_square, &round, sizeof round, NULL,
                           NULL, NULL, &r);
    s->bad += rc != 0;
    if (rc == 0) {
      rc = wt_result_int(r, WT_LONG_MS, &y);
      s->bad += rc != 0 || y != round * round;
      wpool_result_free(r);
    }
  }
  }
}

static void *stress(void *arg) {
  stress_t *s = arg;
  for (int round = 0; round < STRESS_ROUNDS; round++)
    stress_round(s, round);
  return NULL;
}

static void test_mixed_stress(void) {
  atomic_store(&stress_callbacks, 0);
  wpool_t *pool = wt_pool(3);
  CU_ASSERT_PTR_NOT_NULL_FATAL(pool);
  stress_t s[STRESS_THREADS];
  wt_thread_t t[STRESS_THREADS];
  int started[STRESS_THREADS];
  int expect_callbacks = 0;
  for (int i = 0; i < STRESS_THREADS; i++) {
    s[i] = (stress_t){pool, i + 1, 0};
    for (int round = 0; round < STRESS_ROUNDS; round++)
      expect_callbacks += (i + 1 + round) % 7 == 1;
    started[i] = wt_thread_start(&t[i], stress, &s[i]) == 0;
    CU_ASSERT(started[i]);
  }
  for (int i = 0; i < STRESS_THREADS; i++) {
    if (started[i])
      wt_thread_join(t[i]);
    CU_ASSERT_EQUAL(s[i].bad, 0);
  }
  /* Every callback has run once join returns. */
  CU_ASSERT_EQUAL(wpool_close(pool), 0);
  CU_ASSERT_EQUAL(wpool_join(pool), 0);
  CU_ASSERT_EQUAL(atomic_load(&stress_callbacks), expect_callbacks);
  wpool_stats_t st;
  CU_ASSERT_EQUAL(wpool_stats(pool, &st, NULL, 0), 0);
  CU_ASSERT_EQUAL(st.tasks_queued, 0);
  CU_ASSERT_EQUAL(st.tasks_running, 0);
  wpool_destroy(pool);
}

static const wt_test_t tests[] = {
    {"many_drivers", test_many_drivers},
    {"mixed_stress", test_mixed_stress},
    {NULL, NULL},
};

const wt_suite_t wt_suite_threads = {"threads", 1, 0, tests};
