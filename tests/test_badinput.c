/*
 * Bad input to every public function: each call gives its documented code,
 * and work submitted before it is neither lost nor disturbed.
 */
#include "harness.h"

#include <limits.h>
#include <stdint.h>
#include <string.h>

static int unregistered(const void *arg, size_t len, wpool_out_t *out) {
  (void)arg;
  (void)len;
  (void)out;
  return 0;
}

/* Work in flight while the bad calls are made. */
enum { N = 2000 };
static int in[N], out[N];

typedef struct pending {
  wpool_result_t *map, *apply;
} pending_t;

static void submit_work(wpool_t *pool, pending_t *w) {
  for (int i = 0; i < N; i++)
    in[i] = i % 1000;
  memset(out, 0xff, sizeof out);
  int x = 9;
  CU_ASSERT_EQUAL(wpool_map_async(pool, task_square, in, N, sizeof *in, out,
                                  sizeof *out, 7, NULL, NULL, NULL, &w->map),
                  0);
  CU_ASSERT_EQUAL(wpool_apply_async(pool, task_square, &x, sizeof x, NULL,
                                    NULL, NULL, &w->apply),
                  0);
}

static void check_work(pending_t *w) {
  CU_ASSERT_EQUAL(wpool_result_get(w->map, WT_LONG_MS, NULL, NULL), 0);
  int wrong = 0;
  for (int i = 0; i < N; i++)
    wrong += out[i] != in[i] * in[i];
  CU_ASSERT_EQUAL(wrong, 0);
  int y = 0;
  CU_ASSERT_EQUAL(wt_result_int(w->apply, WT_LONG_MS, &y), 0);
  CU_ASSERT_EQUAL(y, 81);
  wpool_result_free(w->map);
  wpool_result_free(w->apply);
}

/* Every submission function with arguments it must refuse. */
static void bad_submissions(wpool_t *pool, size_t max_frame) {
  int x = 3, o[4] = {0};
  void *res = &x;
  size_t len = 7;
  char *err = &(char){0};
  wpool_result_t *r = (wpool_result_t *)&x;
  wpool_iter_t *it = (wpool_iter_t *)&x;
  static char big[1 << 16];

  /* apply and apply_async */
  CU_ASSERT_EQUAL(wpool_apply(NULL, task_square, &x, sizeof x, NULL, NULL,
                              NULL),
                  WPOOL_EINVAL);
  CU_ASSERT_EQUAL(wpool_apply(pool, NULL, &x, sizeof x, &res, &len, &err),
                  WPOOL_EINVAL);
  CU_ASSERT_PTR_NULL(res); /* outputs are cleared on every failure */
  CU_ASSERT_EQUAL(len, 0);
  CU_ASSERT_PTR_NULL(err);
  CU_ASSERT_EQUAL(wpool_apply(pool, unregistered, &x, sizeof x, NULL, NULL,
                              NULL),
                  WPOOL_ENOFUNC);
  CU_ASSERT_EQUAL(wpool_apply(pool, task_square, NULL, 4, NULL, NULL, NULL),
                  WPOOL_EINVAL);
  CU_ASSERT_EQUAL(wpool_apply(pool, task_echo, big, max_frame + 1, NULL, NULL,
                              NULL),
                  WPOOL_E2BIG);
  CU_ASSERT_EQUAL(wpool_apply_async(pool, unregistered, &x, sizeof x, NULL,
                                    NULL, NULL, &r),
                  WPOOL_ENOFUNC);
  CU_ASSERT_EQUAL(wpool_apply_async(NULL, task_square, &x, sizeof x, NULL,
                                    NULL, NULL, NULL),
                  WPOOL_EINVAL);
  CU_ASSERT_EQUAL(wpool_apply_async_ex(pool, NULL, &x, sizeof x, NULL, NULL),
                  WPOOL_EINVAL);

  /* map and map_async */
  CU_ASSERT_EQUAL(wpool_map(NULL, task_square, o, 4, sizeof *o, o, sizeof *o,
                            0, NULL),
                  WPOOL_EINVAL);
  CU_ASSERT_EQUAL(wpool_map(pool, task_square, o, 4, 0, o, sizeof *o, 0,
                            NULL),
                  WPOOL_EINVAL);
  CU_ASSERT_EQUAL(wpool_map(pool, task_square, o, 4, sizeof *o, o, 0, 0,
                            NULL),
                  WPOOL_EINVAL);
  CU_ASSERT_EQUAL(wpool_map(pool, task_square, NULL, 4, sizeof *o, o,
                            sizeof *o, 0, NULL),
                  WPOOL_EINVAL);
  CU_ASSERT_EQUAL(wpool_map(pool, task_square, o, 4, sizeof *o, NULL,
                            sizeof *o, 0, NULL),
                  WPOOL_EINVAL);
  CU_ASSERT_EQUAL(wpool_map(pool, task_square, o, SIZE_MAX / 2, sizeof *o, o,
                            sizeof *o, 0, NULL),
                  WPOOL_EINVAL);
  CU_ASSERT_EQUAL(wpool_map(pool, task_echo, big, 1, max_frame + 1, o,
                            sizeof *o, 0, NULL),
                  WPOOL_E2BIG);
  CU_ASSERT_EQUAL(wpool_map(pool, unregistered, o, 4, sizeof *o, o, sizeof *o,
                            0, NULL),
                  WPOOL_ENOFUNC);
  CU_ASSERT_EQUAL(wpool_map_async(pool, task_square, o, 4, sizeof *o, o, 0, 0,
                                  NULL, NULL, NULL, &r),
                  WPOOL_EINVAL);
  CU_ASSERT_EQUAL(wpool_map_async_ex(pool, NULL, o, 4, sizeof *o, o,
                                     sizeof *o, 0, NULL, &r),
                  WPOOL_EINVAL);

  /* imap and imap_unordered */
  wpool_source_t src = wpool_source_array(o, 4, sizeof *o);
  wpool_source_t zero = wpool_source_array(o, 4, 0);
  wpool_source_t null_items = wpool_source_array(NULL, 4, sizeof *o);
  wpool_source_t huge = wpool_source_array(big, 1, max_frame + 1);
  CU_ASSERT_EQUAL(wpool_imap(NULL, task_square, &src, 1, &it), WPOOL_EINVAL);
  CU_ASSERT_PTR_NULL(it);
  CU_ASSERT_EQUAL(wpool_imap(pool, NULL, &src, 1, &it), WPOOL_EINVAL);
  CU_ASSERT_EQUAL(wpool_imap(pool, task_square, NULL, 1, &it), WPOOL_EINVAL);
  CU_ASSERT_EQUAL(wpool_imap(pool, task_square, &src, 1, NULL), WPOOL_EINVAL);
  CU_ASSERT_EQUAL(wpool_imap(pool, task_square, &zero, 1, &it), WPOOL_EINVAL);
  CU_ASSERT_EQUAL(wpool_imap(pool, task_square, &null_items, 1, &it),
                  WPOOL_EINVAL);
  CU_ASSERT_EQUAL(wpool_imap(pool, task_echo, &huge, 1, &it), WPOOL_E2BIG);
  CU_ASSERT_EQUAL(wpool_imap_unordered(pool, unregistered, &src, 1, &it),
                  WPOOL_ENOFUNC);
#if SIZE_MAX > UINT32_MAX
  /* A chunk size the wire's u32 cannot carry (a 32-bit size_t cannot
     hold one: there this number is 0, which means the default). */
  CU_ASSERT_EQUAL(wpool_imap_unordered(pool, task_square, &src,
                                       (size_t)UINT32_MAX + 1, &it),
                  WPOOL_EINVAL);
#endif
}

/* The handle-taking functions with NULL. */
static void bad_handles(void) {
  wpool_stats_t st;
  long pids[2];
  CU_ASSERT_EQUAL(wpool_close(NULL), WPOOL_EINVAL);
  CU_ASSERT_EQUAL(wpool_terminate(NULL), WPOOL_EINVAL);
  CU_ASSERT_EQUAL(wpool_join(NULL), WPOOL_EINVAL);
  wpool_destroy(NULL);
  CU_ASSERT_EQUAL(wpool_stats(NULL, &st, pids, 2), WPOOL_EINVAL);
  CU_ASSERT_EQUAL(wpool_result_get(NULL, 0, NULL, NULL), WPOOL_EINVAL);
  CU_ASSERT_EQUAL(wpool_result_wait(NULL, 0), WPOOL_EINVAL);
  CU_ASSERT_EQUAL(wpool_result_ready(NULL), 0);
  CU_ASSERT_EQUAL(wpool_result_successful(NULL), 0);
  CU_ASSERT_PTR_NULL(wpool_result_message(NULL));
  CU_ASSERT_EQUAL(wpool_result_task_code(NULL), 0);
  CU_ASSERT_EQUAL(wpool_result_cancel(NULL), WPOOL_EINVAL);
  wpool_result_free(NULL);
  CU_ASSERT_EQUAL(wpool_iter_next(NULL, 0, NULL, NULL), WPOOL_EINVAL);
  CU_ASSERT_EQUAL(wpool_iter_index(NULL), 0);
  CU_ASSERT_PTR_NULL(wpool_iter_message(NULL));
  CU_ASSERT_EQUAL(wpool_iter_task_code(NULL), 0);
  wpool_iter_free(NULL);
  CU_ASSERT_EQUAL(wpool_out_set(NULL, "x", 1), WPOOL_EINVAL);
  CU_ASSERT_PTR_NULL(wpool_out_reserve(NULL, 1));
  CU_ASSERT_EQUAL(wpool_out_fail(NULL, 0, "x"), 1);
  CU_ASSERT_EQUAL(wpool_register(NULL, task_square), WPOOL_EINVAL);
  CU_ASSERT_EQUAL(wpool_register("", task_square), WPOOL_EINVAL);
  CU_ASSERT_EQUAL(wpool_register("x", NULL), WPOOL_EINVAL);
  char longname[300];
  memset(longname, 'a', sizeof longname - 1);
  longname[sizeof longname - 1] = '\0';
  CU_ASSERT_EQUAL(wpool_register(longname, task_square), WPOOL_EINVAL);
  CU_ASSERT_PTR_NULL(wpool_fn_name(unregistered));
  CU_ASSERT_EQUAL(wpool_bootstrap(-1, NULL), WPOOL_EINVAL);
  CU_ASSERT_EQUAL(wpool_bootstrap(1, NULL), WPOOL_EINVAL);
}

static void test_table(void) {
  wpool_options_t o;
  wt_options(&o, 2);
  o.max_frame = 4096;
  wpool_t *pool = NULL;
  CU_ASSERT_EQUAL_FATAL(wt_create(&pool, &o), 0);
  pending_t w;
  submit_work(pool, &w);
  bad_submissions(pool, o.max_frame);
  bad_handles();
  wpool_stats_t st;
  long pids[2];
  CU_ASSERT_EQUAL(wpool_stats(pool, NULL, pids, 2), WPOOL_EINVAL);
  CU_ASSERT_EQUAL(wpool_stats(pool, &st, NULL, 2), WPOOL_EINVAL);
  CU_ASSERT_EQUAL(wpool_join(pool), WPOOL_ESTATE);
  CU_ASSERT_EQUAL(wpool_close(pool), 0);
  /* After close: every submission is ECLOSED, and the work goes on. */
  int x = 2, o4[4] = {0};
  wpool_result_t *r = NULL;
  wpool_iter_t *it = NULL;
  wpool_source_t src = wpool_source_array(o4, 4, sizeof *o4);
  CU_ASSERT_EQUAL(wpool_apply(pool, task_square, &x, sizeof x, NULL, NULL,
                              NULL),
                  WPOOL_ECLOSED);
  CU_ASSERT_EQUAL(wpool_apply_async(pool, task_square, &x, sizeof x, NULL,
                                    NULL, NULL, &r),
                  WPOOL_ECLOSED);
  CU_ASSERT_EQUAL(wpool_map(pool, task_square, o4, 4, sizeof *o4, o4,
                            sizeof *o4, 0, NULL),
                  WPOOL_ECLOSED);
  CU_ASSERT_EQUAL(wpool_imap(pool, task_square, &src, 1, &it), WPOOL_ECLOSED);
  CU_ASSERT_EQUAL(wpool_close(pool), 0); /* idempotent */
  check_work(&w);
  CU_ASSERT_EQUAL(wpool_join(pool), 0);
  wpool_destroy(pool);
}

/* After terminate: submissions are ECLOSED and pending work, queued or
   running, is ETERMINATED. */
static void test_after_terminate(void) {
  wpool_t *pool = wt_pool(1);
  CU_ASSERT_PTR_NOT_NULL_FATAL(pool);
  wt_gate_t g;
  CU_ASSERT_EQUAL_FATAL(wt_gate_open(&g), 0);
  wt_gate_arg_t a = wt_gate_arg(&g, 1);
  wpool_result_t *held = NULL, *queued = NULL;
  CU_ASSERT_EQUAL(wpool_apply_async(pool, task_gate, &a, sizeof a, NULL, NULL,
                                    NULL, &held),
                  0);
  CU_ASSERT_EQUAL(wt_gate_wait_started(&g, 1), 0);
  int x = 5;
  CU_ASSERT_EQUAL(wpool_apply_async(pool, task_square, &x, sizeof x, NULL,
                                    NULL, NULL, &queued),
                  0);
  CU_ASSERT_EQUAL(wpool_terminate(pool), 0);
  CU_ASSERT_EQUAL(wpool_terminate(pool), 0);
  CU_ASSERT_EQUAL(wpool_apply(pool, task_square, &x, sizeof x, NULL, NULL,
                              NULL),
                  WPOOL_ECLOSED);
  CU_ASSERT_EQUAL(wpool_result_get(queued, WT_LONG_MS, NULL, NULL),
                  WPOOL_ETERMINATED);
  CU_ASSERT_EQUAL(wpool_result_get(held, WT_LONG_MS, NULL, NULL),
                  WPOOL_ETERMINATED);
  CU_ASSERT_EQUAL(wpool_result_cancel(queued), WPOOL_ESTATE);
  wt_gate_close(&g); /* a thread worker's task may now end */
  CU_ASSERT_EQUAL(wpool_join(pool), 0);
  wpool_result_free(queued);
  wpool_result_free(held);
  wpool_destroy(pool);
}

static const wt_test_t tests[] = {
    {"table", test_table},
    {"after_terminate", test_after_terminate},
    {NULL, NULL},
};

const wt_suite_t wt_suite_badinput = {"badinput", 1, 0, tests};
