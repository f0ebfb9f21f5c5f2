/*
 * close, terminate, join and destroy, and the stats that describe a pool.
 *
 * Thread workers cannot be killed, so when a test terminates a pool whose
 * thread workers are held at a gate, it opens the gate after the checks
 * (before join or destroy), to let those threads return.
 */
#include "harness.h"

#include <stdlib.h>
#include <string.h>

static void test_closed_rejects(void) {
  wpool_t *pool = wt_pool(1);
  CU_ASSERT_PTR_NOT_NULL_FATAL(pool);
  CU_ASSERT_EQUAL(wpool_close(pool), 0);
  CU_ASSERT_EQUAL(wpool_close(pool), 0); /* idempotent */
  int x = 1, out[1];
  wpool_result_t *r = NULL;
  wpool_iter_t *it = NULL;
  wpool_source_t src = wpool_source_array(&x, 1, sizeof x);
  CU_ASSERT_EQUAL(
      wpool_apply(pool, task_square, &x, sizeof x, NULL, NULL, NULL),
      WPOOL_ECLOSED);
  CU_ASSERT_EQUAL(wpool_apply_async(pool, task_square, &x, sizeof x, NULL,
                                    NULL, NULL, &r),
                  WPOOL_ECLOSED);
  CU_ASSERT_EQUAL(wpool_map(pool, task_square, &x, 1, sizeof x, out,
                            sizeof out[0], 0, NULL),
                  WPOOL_ECLOSED);
  CU_ASSERT_EQUAL(wpool_map_async(pool, task_square, &x, 1, sizeof x, out,
                                  sizeof out[0], 0, NULL, NULL, NULL, &r),
                  WPOOL_ECLOSED);
  CU_ASSERT_EQUAL(wpool_imap(pool, task_square, &src, 1, &it), WPOOL_ECLOSED);
  CU_ASSERT_EQUAL(wpool_imap_unordered(pool, task_square, &src, 1, &it),
                  WPOOL_ECLOSED);
  CU_ASSERT_EQUAL(wpool_join(pool), 0);
  CU_ASSERT_EQUAL(wpool_join(pool), 0); /* nothing left to wait for */
  wpool_destroy(pool);
}

static void test_join_needs_close(void) {
  wpool_t *pool = wt_pool(1);
  CU_ASSERT_PTR_NOT_NULL_FATAL(pool);
  CU_ASSERT_EQUAL(wpool_join(pool), WPOOL_ESTATE);
  /* The refused join changed nothing. */
  int y = 0;
  CU_ASSERT_EQUAL(wt_apply_int(pool, task_square, 3, &y, NULL), 0);
  CU_ASSERT_EQUAL(y, 9);
  wpool_destroy(pool);
}

/* close then join: everything submitted before close still completes. */
static void test_close_join_completes(void) {
  enum { N = 40, M = 100 };
  wpool_t *pool = wt_pool(2);
  CU_ASSERT_PTR_NOT_NULL_FATAL(pool);
  wpool_result_t *r[N] = {0}, *mr = NULL;
  int in[M], out[M];
  for (int i = 0; i < M; i++)
    in[i] = i;
  for (int i = 0; i < N; i++)
    CU_ASSERT_EQUAL(wpool_apply_async(pool, task_square, &i, sizeof i, NULL,
                                      NULL, NULL, &r[i]),
                    0);
  CU_ASSERT_EQUAL(wpool_map_async(pool, task_square, in, M, sizeof(int), out,
                                  sizeof(int), 3, NULL, NULL, NULL, &mr),
                  0);
  CU_ASSERT_EQUAL(wpool_close(pool), 0);
  CU_ASSERT_EQUAL(wpool_join(pool), 0);
  for (int i = 0; i < N; i++) {
    int y = -1;
    CU_ASSERT_EQUAL(wpool_result_ready(r[i]), 1); /* no waiting after join */
    CU_ASSERT_EQUAL(wt_result_int(r[i], 0, &y), 0);
    CU_ASSERT_EQUAL(y, i * i);
    wpool_result_free(r[i]);
  }
  CU_ASSERT_EQUAL(wpool_result_get(mr, 0, NULL, NULL), 0);
  for (int i = 0; i < M; i++)
    CU_ASSERT_EQUAL(out[i], i * i);
  wpool_result_free(mr);
  wpool_stats_t st;
  CU_ASSERT_EQUAL(wpool_stats(pool, &st, NULL, 0), 0);
  CU_ASSERT_EQUAL(st.workers, 0); /* workers exit once the work is done */
  wpool_destroy(pool);
}

typedef struct errs {
  wt_mutex_t mu;
  int calls;
  int terminated;
} errs_t;

static void on_error(wpool_result_t *r, void *user) {
  errs_t *e = user;
  int rc = wpool_result_get(r, 0, NULL, NULL);
  wt_mutex_lock(&e->mu);
  e->calls++;
  e->terminated += rc == WPOOL_ETERMINATED;
  wt_mutex_unlock(&e->mu);
}

static void on_success(wpool_result_t *r, void *user) {
  (void)r;
  errs_t *e = user;
  wt_mutex_lock(&e->mu);
  e->calls += 1000; /* a held task must not have succeeded */
  wt_mutex_unlock(&e->mu);
}

/*
 * terminate with work held in the workers and more queued behind it: every
 * pending result, map, iterator item and error callback sees ETERMINATED,
 * without waiting for the held tasks.
 */
static void test_terminate_fails_pending(void) {
  enum { N = 4, M = 3 };
  wpool_t *pool = wt_pool(2);
  CU_ASSERT_PTR_NOT_NULL_FATAL(pool);
  errs_t e;
  memset(&e, 0, sizeof e);
  wt_mutex_init(&e.mu);
  wt_gate_t g;
  CU_ASSERT_EQUAL_FATAL(wt_gate_open(&g), 0);
  wt_gate_arg_t a[M];
  int mout[M];
  for (int i = 0; i < M; i++)
    a[i] = wt_gate_arg(&g, i);

  wpool_result_t *r[N] = {0}, *mr = NULL;
  wpool_iter_t *it = NULL;
  for (int i = 0; i < N; i++)
    CU_ASSERT_EQUAL(wpool_apply_async(pool, task_gate, &a[0], sizeof a[0],
                                      on_success, on_error, &e, &r[i]),
                    0);
  CU_ASSERT_EQUAL(wpool_map_async(pool, task_gate, a, M, sizeof a[0], mout,
                                  sizeof mout[0], 1, NULL, NULL, NULL, &mr),
                  0);
  wpool_source_t src = wpool_source_array(a, M, sizeof a[0]);
  CU_ASSERT_EQUAL(wpool_imap(pool, task_gate, &src, 1, &it), 0);
  CU_ASSERT_EQUAL(wt_gate_wait_started(&g, 1), 0); /* work is held */

  CU_ASSERT_EQUAL(wpool_terminate(pool), 0);
  for (int i = 0; i < N; i++) {
    CU_ASSERT_EQUAL(wpool_result_get(r[i], WT_LONG_MS, NULL, NULL),
                    WPOOL_ETERMINATED);
    CU_ASSERT_EQUAL(wpool_result_successful(r[i]), 0);
  }
  CU_ASSERT_EQUAL(wpool_result_get(mr, WT_LONG_MS, NULL, NULL),
                  WPOOL_ETERMINATED);
  if (it != NULL) {
    CU_ASSERT_EQUAL(wpool_iter_next(it, WT_LONG_MS, NULL, NULL),
                    WPOOL_ETERMINATED);
    /* Said once; then the iteration is over, so the natural loop
       (until WPOOL_EDONE) ends. */
    CU_ASSERT_EQUAL(wpool_iter_next(it, 0, NULL, NULL), WPOOL_EDONE);
    CU_ASSERT_EQUAL(wpool_iter_next(it, 0, NULL, NULL), WPOOL_EDONE);
  }
  CU_ASSERT_EQUAL(wpool_terminate(pool), 0); /* idempotent */
  CU_ASSERT_EQUAL(wpool_close(pool), 0);     /* implied already; harmless */
  int x = 1;
  CU_ASSERT_EQUAL(
      wpool_apply(pool, task_square, &x, sizeof x, NULL, NULL, NULL),
      WPOOL_ECLOSED);

  wt_gate_close(&g); /* thread workers can only leave once released */
  CU_ASSERT_EQUAL(wpool_join(pool), 0);
  CU_ASSERT_EQUAL(e.calls, N);
  CU_ASSERT_EQUAL(e.terminated, N);
  for (int i = 0; i < N; i++)
    wpool_result_free(r[i]);
  wpool_result_free(mr);
  wpool_iter_free(it);
  wpool_destroy(pool);
  wt_mutex_destroy(&e.mu);
}

/*
 * destroy with results and an iterator still held: they stay usable, and
 * are freed afterwards. Every gated task is still held at the gate when the
 * pool goes (threads: when it is terminated), so each of them, and the
 * iterator's first item, failed with ETERMINATED; the quick task finished
 * before.
 */
static void test_destroy_with_outstanding(void) {
  enum { N = 3 };
  wpool_t *pool = wt_pool(2);
  CU_ASSERT_PTR_NOT_NULL_FATAL(pool);
  wt_gate_t g;
  CU_ASSERT_EQUAL_FATAL(wt_gate_open(&g), 0);
  wt_gate_arg_t a[N];
  for (int i = 0; i < N; i++)
    a[i] = wt_gate_arg(&g, 100 + i);

  int x = 5;
  wpool_result_t *quick = NULL, *held[N] = {0};
  wpool_iter_t *it = NULL;
  CU_ASSERT_EQUAL(wpool_apply_async(pool, task_square, &x, sizeof x, NULL,
                                    NULL, NULL, &quick),
                  0);
  CU_ASSERT_EQUAL(wpool_result_wait(quick, WT_LONG_MS), 0);
  for (int i = 0; i < N; i++)
    CU_ASSERT_EQUAL(wpool_apply_async(pool, task_gate, &a[i], sizeof a[i],
                                      NULL, NULL, NULL, &held[i]),
                    0);
  wpool_source_t src = wpool_source_array(a, N, sizeof a[0]);
  CU_ASSERT_EQUAL(wpool_imap_unordered(pool, task_gate, &src, 1, &it), 0);

  if (!wt_is_process()) {
    /* Threads cannot be killed: fail the pending work first, then let the
       held threads go, so that destroy's join can finish. */
    CU_ASSERT_EQUAL(wpool_terminate(pool), 0);
    wt_gate_close(&g);
  }
  wpool_destroy(pool);
  wt_gate_close(&g);

  int y = -1;
  CU_ASSERT_EQUAL(wt_result_int(quick, 0, &y), 0);
  CU_ASSERT_EQUAL(y, 25);
  for (int i = 0; i < N; i++) {
    CU_ASSERT_EQUAL(wt_result_int(held[i], 0, &y), WPOOL_ETERMINATED);
    CU_ASSERT_EQUAL(wpool_result_ready(held[i]), 1);
    wpool_result_free(held[i]);
  }
  CU_ASSERT_PTR_NOT_NULL(it);
  if (it != NULL) {
    CU_ASSERT_EQUAL(wpool_iter_next(it, 0, NULL, NULL), WPOOL_ETERMINATED);
    wpool_iter_free(it);
  }
  wpool_result_free(quick);
}

static void test_stats(void) {
  enum { P = 3, N = 50 };
  wpool_t *pool = wt_pool(P);
  CU_ASSERT_PTR_NOT_NULL_FATAL(pool);
  wpool_stats_t st;
  long pids[8];
  memset(pids, 0, sizeof pids);
  CU_ASSERT_EQUAL(wpool_stats(pool, &st, pids, 8), 0);
  CU_ASSERT_EQUAL(st.workers, P);
  CU_ASSERT_EQUAL(st.tasks_done, 0);
  CU_ASSERT_EQUAL(st.workers_replaced, 0);
  for (int i = 0; i < P; i++) {
    CU_ASSERT(pids[i] > 0);
    if (wt_is_process()) {
      CU_ASSERT_NOT_EQUAL(pids[i], wt_getpid());
      for (int j = 0; j < i; j++)
        CU_ASSERT_NOT_EQUAL(pids[i], pids[j]);
    } else {
      CU_ASSERT_EQUAL(pids[i], wt_getpid());
    }
  }
  /* A short array gets only what fits. */
  long one[2] = {0, -7};
  CU_ASSERT_EQUAL(wpool_stats(pool, &st, one, 1), 0);
  CU_ASSERT(one[0] > 0);
  CU_ASSERT_EQUAL(one[1], -7);
  CU_ASSERT_EQUAL(wpool_stats(pool, NULL, NULL, 0), WPOOL_EINVAL);

  int in[N], out[N];
  for (int i = 0; i < N; i++)
    in[i] = i;
  CU_ASSERT_EQUAL(wpool_map(pool, task_square, in, N, sizeof(int), out,
                            sizeof(int), 4, NULL),
                  0);
  CU_ASSERT_EQUAL(wpool_stats(pool, &st, NULL, 0), 0);
  CU_ASSERT_EQUAL(st.tasks_done, N);
  CU_ASSERT_EQUAL(st.workers, P);
  wpool_destroy(pool);
}

/* processes = 0 means one worker per CPU: at least one. */
static void test_cpu_count(void) {
  wpool_t *pool = wt_pool(0);
  CU_ASSERT_PTR_NOT_NULL_FATAL(pool);
  wpool_stats_t st;
  CU_ASSERT_EQUAL(wpool_stats(pool, &st, NULL, 0), 0);
  CU_ASSERT(st.workers > 0);
  int y = 0;
  CU_ASSERT_EQUAL(wt_apply_int(pool, task_square, 4, &y, NULL), 0);
  CU_ASSERT_EQUAL(y, 16);
  wpool_destroy(pool);
}

/* Destroy right after create, and after close without join. */
static void test_quick_destroy(void) {
  wpool_t *pool = wt_pool(2);
  CU_ASSERT_PTR_NOT_NULL_FATAL(pool);
  wpool_destroy(pool);
  pool = wt_pool(2);
  CU_ASSERT_PTR_NOT_NULL_FATAL(pool);
  CU_ASSERT_EQUAL(wpool_close(pool), 0);
  wpool_destroy(pool);
}

static const wt_test_t tests[] = {
    {"closed_rejects", test_closed_rejects},
    {"join_needs_close", test_join_needs_close},
    {"close_join_completes", test_close_join_completes},
    {"terminate_fails_pending", test_terminate_fails_pending},
    {"destroy_with_outstanding", test_destroy_with_outstanding},
    {"stats", test_stats},
    {"cpu_count", test_cpu_count},
    {"quick_destroy", test_quick_destroy},
    {NULL, NULL},
};

const wt_suite_t wt_suite_lifecycle = {"lifecycle", 1, 0, tests};
