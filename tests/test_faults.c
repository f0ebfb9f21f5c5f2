/*
 * Fault isolation, for process workers only: a task that kills its worker
 * fails with WPOOL_EWORKER and a message naming the cause, the tasks around
 * it are unaffected, the worker is replaced and the pool keeps working.
 */
#include "harness.h"

#include <stdio.h>
#include <string.h>

enum { P = 2, N = 8, BAD = 3 };

/*
 * A pool whose workers announce themselves: init_announce writes a byte to
 * the gate's "started" FIFO in every new worker, so that a test can wait for
 * a replacement to exist instead of polling for it. Only that side of the
 * gate is used here, so it may be opened before the pool (see harness.h).
 */
static wpool_t *announcing_pool(wt_gate_t *g, wt_gate_arg_t *a) {
  wpool_options_t o;
  wpool_t *pool = NULL;
  if (wt_gate_open(g) != 0)
    return NULL;
  *a = wt_gate_arg(g, 0);
  wt_options(&o, P);
  o.initializer = init_announce;
  o.initargs = a;
  o.initargs_len = sizeof *a;
  if (wt_create(&pool, &o) != 0 || wt_gate_wait_started(g, P) != 0) {
    wpool_destroy(pool);
    wt_gate_close(g);
    return NULL;
  }
  return pool;
}

/*
 * After `crashes` workers died: that many replacements have announced
 * themselves, stats count P live workers and the replacements, and the pool
 * computes again.
 */
static void check_restored(wpool_t *pool, wt_gate_t *g, int crashes) {
  CU_ASSERT_EQUAL(wt_gate_wait_started(g, crashes), 0);
  wpool_stats_t st;
  CU_ASSERT_EQUAL(wpool_stats(pool, &st, NULL, 0), 0);
  CU_ASSERT_EQUAL(st.workers, P);
  CU_ASSERT(wt_wait_replaced(pool, (size_t)crashes) >= (size_t)crashes);
  int y = 0;
  CU_ASSERT_EQUAL(wt_apply_int(pool, task_crash, 6, &y, NULL), 0);
  CU_ASSERT_EQUAL(y, 36);
  int in[N], out[N];
  for (int i = 0; i < N; i++)
    in[i] = i;
  CU_ASSERT_EQUAL(wpool_map(pool, task_crash, in, N, sizeof(int), out,
                            sizeof(int), 1, NULL),
                  0);
  for (int i = 0; i < N; i++)
    CU_ASSERT_EQUAL(out[i], i * i);
}

/* A map with one crashing item (chunksize 1) among healthy ones. */
static void crash_in_map(int how, const char *cause) {
  wt_gate_t g;
  wt_gate_arg_t a;
  wpool_t *pool = announcing_pool(&g, &a);
  CU_ASSERT_PTR_NOT_NULL_FATAL(pool);
  int in[N], out[N];
  for (int i = 0; i < N; i++) {
    in[i] = i == BAD ? how : i;
    out[i] = -1;
  }
  char *msg = NULL;
  CU_ASSERT_EQUAL(wpool_map(pool, task_crash, in, N, sizeof(int), out,
                            sizeof(int), 1, &msg),
                  WPOOL_EWORKER);
  CU_ASSERT(wt_contains(msg, "item 3"));
  CU_ASSERT(wt_contains(msg, cause));
  if (!wt_contains(msg, "item 3") || !wt_contains(msg, cause))
    fprintf(stderr, "\n  message: %s\n", msg ? msg : "(null)");
  wpool_free(msg);
  for (int i = 0; i < N; i++)
    if (i != BAD)
      CU_ASSERT_EQUAL(out[i], i * i);
  check_restored(pool, &g, 1);
  wpool_destroy(pool);
  wt_gate_close(&g);
}

static void test_segv_in_map(void) {
  crash_in_map(WT_CRASH_SEGV, WT_CAUSE_SEGV);
}
static void test_abort_in_map(void) {
  crash_in_map(WT_CRASH_ABORT, WT_CAUSE_ABORT);
}
static void test_exit_in_map(void) { crash_in_map(WT_CRASH_EXIT3, "status 3"); }

static void test_crash_in_apply(void) {
  wt_gate_t g;
  wt_gate_arg_t a;
  wpool_t *pool = announcing_pool(&g, &a);
  CU_ASSERT_PTR_NOT_NULL_FATAL(pool);
  char *msg = NULL;
  int y = 0;
  CU_ASSERT_EQUAL(wt_apply_int(pool, task_crash, WT_CRASH_SEGV, &y, &msg),
                  WPOOL_EWORKER);
  CU_ASSERT(wt_contains(msg, WT_CAUSE_SEGV));
  wpool_free(msg);

  int x = WT_CRASH_EXIT3;
  wpool_result_t *r = NULL;
  CU_ASSERT_EQUAL(
      wpool_apply_async(pool, task_crash, &x, sizeof x, NULL, NULL, NULL, &r),
      0);
  if (r != NULL) {
    CU_ASSERT_EQUAL(wpool_result_get(r, WT_LONG_MS, NULL, NULL),
                    WPOOL_EWORKER);
    CU_ASSERT_EQUAL(wpool_result_successful(r), 0);
    CU_ASSERT(wt_contains(wpool_result_message(r), "status 3"));
    CU_ASSERT_EQUAL(wpool_result_task_code(r), 0); /* not an ETASK */
    wpool_result_free(r);
  }
  check_restored(pool, &g, 2);
  wpool_destroy(pool);
  wt_gate_close(&g);
}

/* In an iterator, the crashed item is reported in its place. */
static void test_crash_in_imap(void) {
  wt_gate_t g;
  wt_gate_arg_t a;
  wpool_t *pool = announcing_pool(&g, &a);
  CU_ASSERT_PTR_NOT_NULL_FATAL(pool);
  int in[N];
  for (int i = 0; i < N; i++)
    in[i] = i == BAD ? WT_CRASH_ABORT : i;
  wpool_source_t src = wpool_source_array(in, N, sizeof(int));
  wpool_iter_t *it = NULL;
  CU_ASSERT_EQUAL(wpool_imap(pool, task_crash, &src, 1, &it), 0);
  for (int i = 0; it != NULL && i < N; i++) {
    const void *data = NULL;
    size_t len = 0;
    int rc = wpool_iter_next(it, WT_LONG_MS, &data, &len);
    CU_ASSERT_EQUAL(wpool_iter_index(it), (size_t)i);
    if (i == BAD) {
      CU_ASSERT_EQUAL(rc, WPOOL_EWORKER);
      CU_ASSERT(wt_contains(wpool_iter_message(it), WT_CAUSE_ABORT));
    } else {
      CU_ASSERT_EQUAL(rc, 0);
      CU_ASSERT(rc == 0 && len == sizeof(int) && *(const int *)data == i * i);
    }
  }
  if (it != NULL)
    CU_ASSERT_EQUAL(wpool_iter_next(it, WT_LONG_MS, NULL, NULL), WPOOL_EDONE);
  wpool_iter_free(it);
  check_restored(pool, &g, 1);
  wpool_destroy(pool);
  wt_gate_close(&g);
}

/* Several crashes in a row, more than there are workers. */
static void test_repeated_crashes(void) {
  enum { CRASHES = 2 * P + 1 };
  wt_gate_t g;
  wt_gate_arg_t a;
  wpool_t *pool = announcing_pool(&g, &a);
  CU_ASSERT_PTR_NOT_NULL_FATAL(pool);
  for (int i = 0; i < CRASHES; i++) {
    int y = 0;
    CU_ASSERT_EQUAL(wt_apply_int(pool, task_crash, WT_CRASH_EXIT3, &y, NULL),
                    WPOOL_EWORKER);
  }
  check_restored(pool, &g, CRASHES);
  wpool_destroy(pool);
  wt_gate_close(&g);
}

static const wt_test_t tests[] = {
    {"segv_in_map", test_segv_in_map},
    {"abort_in_map", test_abort_in_map},
    {"exit_in_map", test_exit_in_map},
    {"crash_in_apply", test_crash_in_apply},
    {"crash_in_imap", test_crash_in_imap},
    {"repeated_crashes", test_repeated_crashes},
    {NULL, NULL},
};

const wt_suite_t wt_suite_faults = {"faults", 1, 1, tests};
