/*
 * Throttled progress callbacks of results and iterators
 * (wpool_result_on_progress, wpool_iter_on_progress). The throttle is
 * checked on what the reports say, never on how long anything took: a time
 * bound of an hour can only leave the last report.
 */
#include "harness.h"

#include <stdint.h>
#include <string.h>

#define MAX_REPORTS 256

typedef struct reports {
  wt_mutex_t lock;
  wt_cond_t cond;
  size_t n;
  size_t done[MAX_REPORTS], total[MAX_REPORTS];
  int last_seen;    /* a report said done == total */
  int callback_ran; /* the result's own callback ran */
  int last_before_callback;
} reports_t;

static void reports_init(reports_t *r) {
  memset(r, 0, sizeof *r);
  wt_mutex_init(&r->lock);
  wt_cond_init(&r->cond);
}

static void reports_fini(reports_t *r) {
  wt_cond_destroy(&r->cond);
  wt_mutex_destroy(&r->lock);
}

static void on_progress(size_t done, size_t total, void *user) {
  reports_t *r = user;
  wt_mutex_lock(&r->lock);
  if (r->n < MAX_REPORTS) {
    r->done[r->n] = done;
    r->total[r->n] = total;
  }
  r->n++;
  if (done == total)
    r->last_seen = 1;
  wt_cond_broadcast(&r->cond);
  wt_mutex_unlock(&r->lock);
}

static void on_done(wpool_result_t *res, void *user) {
  reports_t *r = user;
  (void)res;
  wt_mutex_lock(&r->lock);
  r->callback_ran = 1;
  r->last_before_callback = r->last_seen;
  wt_cond_broadcast(&r->cond);
  wt_mutex_unlock(&r->lock);
}

/* Wait for the last report (and the result's callback when want_cb). */
static int wait_last(reports_t *r, int want_cb) {
  int rc = 0;
  wt_mutex_lock(&r->lock);
  while (rc == 0 && (!r->last_seen || (want_cb && !r->callback_ran)))
    rc = wt_cond_wait_ms(&r->cond, &r->lock, WT_LONG_MS);
  wt_mutex_unlock(&r->lock);
  return rc;
}

/* Reports only grow, each at least `every` past the one before (the last
   one excepted), and the last says total of total. */
static void assert_throttled(reports_t *r, size_t every, size_t total) {
  CU_ASSERT_TRUE_FATAL(r->n >= 1 && r->n <= MAX_REPORTS);
  int bad = 0;
  for (size_t i = 0; i < r->n; i++) {
    size_t prev = i ? r->done[i - 1] : 0;
    bad += r->total[i] != total && r->total[i] != SIZE_MAX;
    /* Equal only when the total became known (a producer ended). */
    bad += r->done[i] < prev ||
           (i && r->done[i] == prev && r->total[i] == r->total[i - 1]);
    bad += i == 0 && r->done[0] == 0 && total != 0;
    bad += i + 1 < r->n && r->done[i] - prev < every;
  }
  CU_ASSERT_EQUAL(bad, 0);
  CU_ASSERT_EQUAL(r->done[r->n - 1], total);
  CU_ASSERT_EQUAL(r->total[r->n - 1], total);
}

/* Wait until n reports have been made. */
static int wait_reports(reports_t *r, size_t n) {
  int rc = 0;
  wt_mutex_lock(&r->lock);
  while (rc == 0 && r->n < n)
    rc = wt_cond_wait_ms(&r->cond, &r->lock, WT_LONG_MS);
  wt_mutex_unlock(&r->lock);
  return rc;
}

/* A map of 40 items whose tasks the test lets through 10 at a time, with a
   report every 10 items: exactly 10, 20, 30 and 40, the last one before
   the result's own callback. */
static void test_result_every_items(void) {
  enum { N = 40 };
  wpool_t *pool = wt_pool(1);
  CU_ASSERT_PTR_NOT_NULL_FATAL(pool);
  wt_gate_t g;
  CU_ASSERT_EQUAL_FATAL(wt_gate_open(&g), 0);
  wt_gate_arg_t in[N];
  int out[N];
  for (int i = 0; i < N; i++)
    in[i] = wt_gate_arg(&g, i);
  reports_t rep;
  reports_init(&rep);
  wpool_result_t *r = NULL;
  CU_ASSERT_EQUAL_FATAL(wpool_map_async(pool, task_gate, in, N, sizeof *in, out,
                                        sizeof *out, 1, on_done, on_done, &rep,
                                        &r),
                        0);
  wpool_progress_t pr = {on_progress, &rep, 10, 0};
  CU_ASSERT_EQUAL(wpool_result_on_progress(r, &pr), 0);
  for (size_t k = 1; k <= N / 10; k++) {
    CU_ASSERT_EQUAL(wt_gate_release(&g, 10), 0);
    CU_ASSERT_EQUAL_FATAL(wait_reports(&rep, k), 0);
    wt_mutex_lock(&rep.lock);
    CU_ASSERT_EQUAL(rep.n, k);
    CU_ASSERT_EQUAL(rep.done[k - 1], 10 * k);
    CU_ASSERT_EQUAL(rep.total[k - 1], (size_t)N);
    wt_mutex_unlock(&rep.lock);
  }
  CU_ASSERT_EQUAL(wait_last(&rep, 1), 0);
  CU_ASSERT_EQUAL(wpool_result_get(r, WT_LONG_MS, NULL, NULL), 0);
  assert_throttled(&rep, 10, N);
  CU_ASSERT_EQUAL(rep.n, (size_t)N / 10);
  CU_ASSERT_TRUE(rep.last_before_callback);
  wpool_result_free(r);
  wpool_destroy(pool);
  wt_gate_close(&g);
  reports_fini(&rep);
}

/* A time bound nothing can reach leaves only the last report; a result
   that is ready already gets it at once. */
static void test_result_every_ms(void) {
  enum { N = 40 };
  int in[N], out[N];
  for (int i = 0; i < N; i++)
    in[i] = i;
  wpool_t *pool = wt_pool(2);
  CU_ASSERT_PTR_NOT_NULL_FATAL(pool);
  reports_t rep;
  reports_init(&rep);
  wpool_result_t *r = NULL;
  CU_ASSERT_EQUAL_FATAL(wpool_map_async(pool, task_square, in, N, sizeof *in,
                                        out, sizeof *out, 1, NULL, NULL, NULL,
                                        &r),
                        0);
  wpool_progress_t pr = {on_progress, &rep, 1, 3600L * 1000};
  CU_ASSERT_EQUAL(wpool_result_on_progress(r, &pr), 0);
  /* get, then free: the last report has been made when free returns. */
  CU_ASSERT_EQUAL(wpool_result_get(r, WT_LONG_MS, NULL, NULL), 0);
  wpool_result_free(r);
  CU_ASSERT_TRUE(rep.last_seen);
  CU_ASSERT_EQUAL(rep.n, 1u);
  assert_throttled(&rep, 1, N);

  reports_t late;
  reports_init(&late);
  int x = 5;
  CU_ASSERT_EQUAL_FATAL(
      wpool_apply_async(pool, task_square, &x, sizeof x, NULL, NULL, NULL, &r),
      0);
  CU_ASSERT_EQUAL(wpool_result_wait(r, WT_LONG_MS), 0);
  wpool_progress_t lp = {on_progress, &late, 0, 0};
  CU_ASSERT_EQUAL(wpool_result_on_progress(r, &lp), 0);
  CU_ASSERT_EQUAL(wait_last(&late, 0), 0);
  CU_ASSERT_EQUAL(late.n, 1u);
  assert_throttled(&late, 1, 1);
  wpool_result_free(r);

  wpool_progress_t bad = {on_progress, &late, 1, -1};
  CU_ASSERT_EQUAL(wpool_result_on_progress(NULL, &pr), WPOOL_EINVAL);
  CU_ASSERT_EQUAL_FATAL(
      wpool_apply_async(pool, task_square, &x, sizeof x, NULL, NULL, NULL, &r),
      0);
  CU_ASSERT_EQUAL(wpool_result_on_progress(r, &bad), WPOOL_EINVAL);
  CU_ASSERT_EQUAL(wpool_result_wait(r, WT_LONG_MS), 0);
  wpool_destroy(pool);
  /* A result outlives its pool, but no report comes any more: none is
     owed, and freeing the result does not wait for one. */
  late.n = 0;
  CU_ASSERT_EQUAL(wpool_result_on_progress(r, &lp), 0);
  wpool_result_free(r);
  CU_ASSERT_EQUAL(late.n, 0u);
  reports_fini(&rep);
  reports_fini(&late);
}

/* No report starts once the handle is freed: the tasks are held at a gate
   while it is freed, and the pool is drained before counting. */
static void test_free_stops_reports(void) {
  wpool_t *pool = wt_pool(1);
  CU_ASSERT_PTR_NOT_NULL_FATAL(pool);
  wt_gate_t g;
  CU_ASSERT_EQUAL_FATAL(wt_gate_open(&g), 0);
  wt_gate_arg_t a[4];
  int out[4];
  for (int i = 0; i < 4; i++)
    a[i] = wt_gate_arg(&g, i);
  reports_t rep;
  reports_init(&rep);
  wpool_result_t *r = NULL;
  CU_ASSERT_EQUAL_FATAL(wpool_map_async(pool, task_gate, a, 4, sizeof *a, out,
                                        sizeof *out, 1, NULL, NULL, NULL, &r),
                        0);
  wpool_progress_t pr = {on_progress, &rep, 1, 0};
  CU_ASSERT_EQUAL(wpool_result_on_progress(r, &pr), 0);
  CU_ASSERT_EQUAL(wt_gate_wait_started(&g, 1), 0);
  wpool_result_free(r);
  CU_ASSERT_EQUAL(wt_gate_release(&g, 4), 0);
  CU_ASSERT_EQUAL(wpool_close(pool), 0);
  CU_ASSERT_EQUAL(wpool_join(pool), 0);
  CU_ASSERT_EQUAL(rep.n, 0u);
  wpool_destroy(pool);
  wt_gate_close(&g);
  reports_fini(&rep);
}

/* An iterator over an array: reports of items back, up to the last. */
static void test_iter_reports(void) {
  enum { N = 50 };
  int in[N];
  for (int i = 0; i < N; i++)
    in[i] = i;
  wpool_t *pool = wt_pool(2);
  CU_ASSERT_PTR_NOT_NULL_FATAL(pool);
  reports_t rep;
  reports_init(&rep);
  wpool_source_t src = wpool_source_array(in, N, sizeof *in);
  wpool_iter_t *it = NULL;
  CU_ASSERT_EQUAL_FATAL(wpool_imap(pool, task_square, &src, 1, &it), 0);
  wpool_progress_t pr = {on_progress, &rep, 5, 0};
  CU_ASSERT_EQUAL(wpool_iter_on_progress(it, &pr), 0);
  int rc, got = 0;
  const void *data;
  size_t len;
  while ((rc = wpool_iter_next(it, WT_LONG_MS, &data, &len)) != WPOOL_EDONE) {
    CU_ASSERT_EQUAL_FATAL(rc, 0);
    got++;
  }
  CU_ASSERT_EQUAL(got, N);
  CU_ASSERT_EQUAL(wpool_iter_on_progress(NULL, &pr), WPOOL_EINVAL);
  wpool_iter_free(it); /* waits for the last report */
  CU_ASSERT_TRUE(rep.last_seen);
  assert_throttled(&rep, 5, N);
  wpool_destroy(pool);
  reports_fini(&rep);
}

typedef struct count_src {
  int next, n;
} count_src_t;

static int produce(void *user, const void **item, size_t *len) {
  count_src_t *c = user;
  if (c->next == c->n)
    return 0;
  static int v;
  v = c->next++;
  *item = &v;
  *len = sizeof v;
  return 1;
}

/* A producer's total is unknown (SIZE_MAX) until it ends; the last report
   gives it. */
static void test_iter_producer_total(void) {
  wpool_t *pool = wt_pool(2);
  CU_ASSERT_PTR_NOT_NULL_FATAL(pool);
  reports_t rep;
  reports_init(&rep);
  count_src_t c = {0, 30};
  wpool_source_t src = wpool_source_producer(produce, &c);
  wpool_iter_t *it = NULL;
  CU_ASSERT_EQUAL_FATAL(wpool_imap_unordered(pool, task_square, &src, 2, &it),
                        0);
  wpool_progress_t pr = {on_progress, &rep, 1, 0};
  CU_ASSERT_EQUAL(wpool_iter_on_progress(it, &pr), 0);
  int rc, got = 0;
  while ((rc = wpool_iter_next(it, WT_LONG_MS, NULL, NULL)) != WPOOL_EDONE) {
    CU_ASSERT_EQUAL_FATAL(rc, 0);
    got++;
  }
  CU_ASSERT_EQUAL(got, 30);
  CU_ASSERT_EQUAL(wait_last(&rep, 0), 0);
  assert_throttled(&rep, 1, 30);
  wpool_iter_free(it);
  wpool_destroy(pool);
  reports_fini(&rep);
}

static const wt_test_t tests[] = {
    {"result_every_items", test_result_every_items},
    {"result_every_ms", test_result_every_ms},
    {"free_stops_reports", test_free_stops_reports},
    {"iter_reports", test_iter_reports},
    {"iter_producer_total", test_iter_producer_total},
    {NULL, NULL},
};

const wt_suite_t wt_suite_progress = {"progress", 1, 0, tests};
