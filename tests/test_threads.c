/*
 * Several threads drive one pool at once. Worker threads of the test only
 * count mistakes (CUnit assertions are not thread-safe); the main thread
 * asserts on the counts.
 */
#include "harness.h"

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

static const wt_test_t tests[] = {
    {"many_drivers", test_many_drivers},
    {NULL, NULL},
};

const wt_suite_t wt_suite_threads = {"threads", 1, 0, tests};
