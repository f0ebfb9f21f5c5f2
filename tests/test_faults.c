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
 * Prove that all P workers are alive again: P tasks held at a gate can only
 * all announce themselves if P workers run them at once. Then stats must
 * agree, and count at least one replacement.
 */
static void check_restored(wpool_t *pool) {
  wt_gate_t g;
  wpool_result_t *r[P] = {0};
  CU_ASSERT_EQUAL_FATAL(wt_gate_open(&g), 0);
  wt_gate_arg_t a = wt_gate_arg(&g, 9);
  for (int i = 0; i < P; i++)
    CU_ASSERT_EQUAL(wpool_apply_async(pool, task_gate, &a, sizeof a, NULL,
                                      NULL, NULL, &r[i]),
                    0);
  CU_ASSERT_EQUAL(wt_gate_wait_started(&g, P), 0);
  wpool_stats_t st;
  CU_ASSERT_EQUAL(wpool_stats(pool, &st, NULL, 0), 0);
  CU_ASSERT_EQUAL(st.workers, P);
  CU_ASSERT(st.workers_replaced >= 1);
  CU_ASSERT_EQUAL(wt_gate_release(&g, P), 0);
  for (int i = 0; i < P; i++) {
    int y = 0;
    CU_ASSERT_EQUAL(wt_result_int(r[i], WT_LONG_MS, &y), 0);
    CU_ASSERT_EQUAL(y, 9);
    wpool_result_free(r[i]);
  }
  wt_gate_close(&g);
}

/* A map with one crashing item (chunksize 1) among healthy ones. */
static void crash_in_map(int how, const char *cause) {
  wpool_t *pool = wt_pool(P);
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
  if (!wt_contains(msg, cause))
    fprintf(stderr, "\n  message: %s\n", msg ? msg : "(null)");
  wpool_free(msg);
  for (int i = 0; i < N; i++)
    if (i != BAD)
      CU_ASSERT_EQUAL(out[i], i * i);
  check_restored(pool);
  int y = 0;
  CU_ASSERT_EQUAL(wt_apply_int(pool, task_crash, 6, &y, NULL), 0);
  CU_ASSERT_EQUAL(y, 36);
  wpool_destroy(pool);
}

static void test_segv_in_map(void) { crash_in_map(WT_CRASH_SEGV, "SIGSEGV"); }
static void test_abort_in_map(void) {
  crash_in_map(WT_CRASH_ABORT, "SIGABRT");
}
static void test_exit_in_map(void) { crash_in_map(WT_CRASH_EXIT3, "status 3"); }

static void test_crash_in_apply(void) {
  wpool_t *pool = wt_pool(P);
  CU_ASSERT_PTR_NOT_NULL_FATAL(pool);
  char *msg = NULL;
  int y = 0;
  CU_ASSERT_EQUAL(wt_apply_int(pool, task_crash, WT_CRASH_SEGV, &y, &msg),
                  WPOOL_EWORKER);
  CU_ASSERT(wt_contains(msg, "SIGSEGV"));
  wpool_free(msg);

  int x = WT_CRASH_EXIT3;
  wpool_result_t *r = NULL;
  CU_ASSERT_EQUAL_FATAL(
      wpool_apply_async(pool, task_crash, &x, sizeof x, NULL, NULL, NULL, &r),
      0);
  CU_ASSERT_EQUAL(wpool_result_get(r, WT_LONG_MS, NULL, NULL), WPOOL_EWORKER);
  CU_ASSERT_EQUAL(wpool_result_successful(r), 0);
  CU_ASSERT(wt_contains(wpool_result_message(r), "status 3"));
  CU_ASSERT_EQUAL(wpool_result_task_code(r), 0); /* not an ETASK */
  wpool_result_free(r);

  check_restored(pool);
  CU_ASSERT_EQUAL(wt_apply_int(pool, task_crash, 5, &y, NULL), 0);
  CU_ASSERT_EQUAL(y, 25);
  wpool_destroy(pool);
}

/* In an iterator, the crashed item is reported in its place. */
static void test_crash_in_imap(void) {
  wpool_t *pool = wt_pool(P);
  CU_ASSERT_PTR_NOT_NULL_FATAL(pool);
  int in[N];
  for (int i = 0; i < N; i++)
    in[i] = i == BAD ? WT_CRASH_ABORT : i;
  wpool_source_t src = wpool_source_array(in, N, sizeof(int));
  wpool_iter_t *it = NULL;
  CU_ASSERT_EQUAL_FATAL(wpool_imap(pool, task_crash, &src, 1, &it), 0);
  for (int i = 0; i < N; i++) {
    const void *data = NULL;
    size_t len = 0;
    int rc = wpool_iter_next(it, WT_LONG_MS, &data, &len);
    CU_ASSERT_EQUAL(wpool_iter_index(it), (size_t)i);
    if (i == BAD) {
      CU_ASSERT_EQUAL(rc, WPOOL_EWORKER);
      CU_ASSERT(wt_contains(wpool_iter_message(it), "SIGABRT"));
    } else {
      CU_ASSERT_EQUAL(rc, 0);
      CU_ASSERT(rc == 0 && len == sizeof(int) && *(const int *)data == i * i);
    }
  }
  CU_ASSERT_EQUAL(wpool_iter_next(it, WT_LONG_MS, NULL, NULL), WPOOL_EDONE);
  wpool_iter_free(it);
  check_restored(pool);
  wpool_destroy(pool);
}

/* Several crashes in a row, more than there are workers. */
static void test_repeated_crashes(void) {
  wpool_t *pool = wt_pool(P);
  CU_ASSERT_PTR_NOT_NULL_FATAL(pool);
  for (int i = 0; i < 2 * P + 1; i++) {
    int y = 0;
    CU_ASSERT_EQUAL(wt_apply_int(pool, task_crash, WT_CRASH_EXIT3, &y, NULL),
                    WPOOL_EWORKER);
  }
  check_restored(pool);
  wpool_stats_t st;
  CU_ASSERT_EQUAL(wpool_stats(pool, &st, NULL, 0), 0);
  CU_ASSERT(st.workers_replaced >= 2 * P + 1);
  wpool_destroy(pool);
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
