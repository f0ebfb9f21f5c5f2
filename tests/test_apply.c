/*
 * wpool_apply and the submission checks of wpool_apply_async: outputs,
 * task failures, argument errors and the frame limit.
 */
#include "harness.h"
#include "static_tasks/static_tasks.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Deliberately never registered. */
static int unregistered(const void *arg, size_t len, wpool_out_t *out) {
  (void)arg;
  (void)len;
  (void)out;
  return 0;
}

static void test_square(void) {
  wpool_t *pool = wt_pool(2);
  CU_ASSERT_PTR_NOT_NULL_FATAL(pool);
  for (int x = 0; x < 10; x++) {
    int y = -1;
    CU_ASSERT_EQUAL(wt_apply_int(pool, task_square, x, &y, NULL), 0);
    CU_ASSERT_EQUAL(y, x * x);
  }
  /* Output pointers are optional. */
  int x = 3;
  CU_ASSERT_EQUAL(
      wpool_apply(pool, task_square, &x, sizeof x, NULL, NULL, NULL), 0);
  wpool_destroy(pool);
}

static void test_empty_arg_and_output(void) {
  wpool_t *pool = wt_pool(1);
  CU_ASSERT_PTR_NOT_NULL_FATAL(pool);
  void *out = (void *)&pool;
  size_t len = 99;
  CU_ASSERT_EQUAL(wpool_apply(pool, task_echo, NULL, 0, &out, &len, NULL), 0);
  CU_ASSERT_PTR_NULL(out); /* an empty output comes back as NULL */
  CU_ASSERT_EQUAL(len, 0);
  if (out != (void *)&pool)
    wpool_free(out);
  wpool_destroy(pool);
}

/* One MiB each way: more than any pipe buffer holds. */
static void test_large_echo(void) {
  const size_t n = 1u << 20;
  unsigned char *in = malloc(n);
  CU_ASSERT_PTR_NOT_NULL_FATAL(in);
  for (size_t i = 0; i < n; i++)
    in[i] = (unsigned char)(i * 31 + (i >> 8));
  wpool_t *pool = wt_pool(2);
  if (pool != NULL) {
    void *out = NULL;
    size_t len = 0;
    CU_ASSERT_EQUAL(wpool_apply(pool, task_echo, in, n, &out, &len, NULL), 0);
    CU_ASSERT_EQUAL(len, n);
    CU_ASSERT(out != NULL && len == n && memcmp(out, in, n) == 0);
    wpool_free(out);
    wpool_destroy(pool);
  }
  free(in);
}

static void test_invalid_arguments(void) {
  wpool_t *pool = wt_pool(1);
  CU_ASSERT_PTR_NOT_NULL_FATAL(pool);
  int x = 2;
  wpool_result_t *r = NULL;
  CU_ASSERT_EQUAL(wpool_apply(NULL, task_square, &x, sizeof x, NULL, NULL,
                              NULL),
                  WPOOL_EINVAL);
  CU_ASSERT_EQUAL(wpool_apply(pool, NULL, &x, sizeof x, NULL, NULL, NULL),
                  WPOOL_EINVAL);
  CU_ASSERT_EQUAL(wpool_apply_async(NULL, task_square, &x, sizeof x, NULL,
                                    NULL, NULL, &r),
                  WPOOL_EINVAL);
  CU_ASSERT_EQUAL(
      wpool_apply_async(pool, NULL, &x, sizeof x, NULL, NULL, NULL, &r),
      WPOOL_EINVAL);
  /* The pool is unharmed by rejected calls. */
  int y = 0;
  CU_ASSERT_EQUAL(wt_apply_int(pool, task_square, 5, &y, NULL), 0);
  CU_ASSERT_EQUAL(y, 25);
  wpool_destroy(pool);
}

static void test_unregistered(void) {
  wpool_t *pool = wt_pool(1);
  CU_ASSERT_PTR_NOT_NULL_FATAL(pool);
  int x = 2;
  wpool_result_t *r = NULL;
  CU_ASSERT_EQUAL(
      wpool_apply(pool, unregistered, &x, sizeof x, NULL, NULL, NULL),
      WPOOL_ENOFUNC);
  CU_ASSERT_EQUAL(wpool_apply_async(pool, unregistered, &x, sizeof x, NULL,
                                    NULL, NULL, &r),
                  WPOOL_ENOFUNC);
  wpool_destroy(pool);
}

static void test_task_failure(void) {
  wpool_t *pool = wt_pool(1);
  CU_ASSERT_PTR_NOT_NULL_FATAL(pool);
  char *msg = NULL;
  int y = 0;
  CU_ASSERT_EQUAL(wt_apply_int(pool, task_fail, 7, &y, &msg), WPOOL_ETASK);
  CU_ASSERT(wt_contains(msg, "bad 7"));
  wpool_free(msg);
  /* Without errmsg, only the code. */
  CU_ASSERT_EQUAL(wt_apply_int(pool, task_fail, 7, &y, NULL), WPOOL_ETASK);
  /* A negative square is the same failure from another task. */
  msg = NULL;
  CU_ASSERT_EQUAL(wt_apply_int(pool, task_square, -4, &y, &msg), WPOOL_ETASK);
  CU_ASSERT(wt_contains(msg, "bad -4"));
  wpool_free(msg);
  wpool_destroy(pool);
}

/* The task's own return value, through an asynchronous result. */
static int task_code_of(wpool_t *pool, wpool_fn fn, int x) {
  wpool_result_t *r = NULL;
  int code = -1000;
  if (wpool_apply_async(pool, fn, &x, sizeof x, NULL, NULL, NULL, &r) != 0)
    return code;
  if (wpool_result_get(r, WT_LONG_MS, NULL, NULL) == WPOOL_ETASK)
    code = wpool_result_task_code(r);
  wpool_result_free(r);
  return code;
}

static void test_task_codes(void) {
  wpool_t *pool = wt_pool(1);
  CU_ASSERT_PTR_NOT_NULL_FATAL(pool);
  CU_ASSERT_EQUAL(task_code_of(pool, task_fail, 7), 7);
  CU_ASSERT_EQUAL(task_code_of(pool, task_fail, -3), -3);
  /* wpool_out_fail turns 0 into 1, so that it always marks a failure. */
  CU_ASSERT_EQUAL(task_code_of(pool, task_fail, 0), 1);
  /* A plain nonzero return is a failure too, message or not. */
  CU_ASSERT_EQUAL(task_code_of(pool, task_return, 3), 3);
  /* Returning 0 without output is a success with an empty output. */
  int x = 0;
  void *out = (void *)&pool;
  size_t len = 5;
  CU_ASSERT_EQUAL(
      wpool_apply(pool, task_return, &x, sizeof x, &out, &len, NULL), 0);
  CU_ASSERT_PTR_NULL(out);
  CU_ASSERT_EQUAL(len, 0);
  wpool_destroy(pool);
}

static void test_out_reserve(void) {
  wpool_t *pool = wt_pool(1);
  CU_ASSERT_PTR_NOT_NULL_FATAL(pool);
  int n = 16;
  void *out = NULL;
  size_t len = 0;
  CU_ASSERT_EQUAL(
      wpool_apply(pool, task_reserve, &n, sizeof n, &out, &len, NULL), 0);
  CU_ASSERT_EQUAL(len, 16);
  if (out != NULL && len == 16) {
    unsigned char expect[16];
    memset(expect, 0xAB, sizeof expect);
    CU_ASSERT(memcmp(out, expect, 16) == 0);
  }
  wpool_free(out);
  wpool_destroy(pool);
}

/* The task's object file comes from a static library (tests/static_tasks). */
static void test_static_library_task(void) {
  wpool_t *pool = wt_pool(1);
  CU_ASSERT_PTR_NOT_NULL_FATAL(pool);
  int y = 0;
  CU_ASSERT_EQUAL(wt_apply_int(pool, static_triple, 5, &y, NULL), 0);
  CU_ASSERT_EQUAL(y, 15);
  wpool_destroy(pool);
}

static void test_frame_limit(void) {
  wpool_options_t o;
  wpool_t *pool = NULL;
  wt_options(&o, 1);
  o.max_frame = 4096;
  CU_ASSERT_EQUAL_FATAL(wt_create(&pool, &o), 0);

  /* Work submitted before a rejected submission must not be lost. */
  int x = 9, y = 0;
  wpool_result_t *before = NULL;
  CU_ASSERT_EQUAL(wpool_apply_async(pool, task_square, &x, sizeof x, NULL,
                                    NULL, NULL, &before),
                  0);

  static unsigned char big[8192];
  wpool_result_t *r = NULL;
  CU_ASSERT_EQUAL(
      wpool_apply(pool, task_echo, big, sizeof big, NULL, NULL, NULL),
      WPOOL_E2BIG);
  CU_ASSERT_EQUAL(wpool_apply_async(pool, task_echo, big, sizeof big, NULL,
                                    NULL, NULL, &r),
                  WPOOL_E2BIG);
  CU_ASSERT_EQUAL(wt_result_int(before, WT_LONG_MS, &y), 0);
  CU_ASSERT_EQUAL(y, 81);
  wpool_result_free(before);

  /* An argument just under the limit still goes through. */
  void *out = NULL;
  size_t len = 0;
  CU_ASSERT_EQUAL(
      wpool_apply(pool, task_echo, big, 1024, &out, &len, NULL), 0);
  CU_ASSERT_EQUAL(len, 1024);
  wpool_free(out);

  /* An output over the limit comes back through a buffer of its own
     (shm_threshold), except where the workers share no memory with us
     (MPI): there it cannot come back, and the call fails with E2BIG. The
     pool works afterwards either way. */
  char *msg = NULL;
  int n = 8000;
  int rc = wpool_apply(pool, task_bytes, &n, sizeof n, &out, &len, &msg);
  if (wt_transport) {
    CU_ASSERT_EQUAL(rc, WPOOL_E2BIG);
  } else {
    CU_ASSERT_EQUAL(rc, 0);
    CU_ASSERT_EQUAL(len, 8000);
  }
  wpool_free(out);
  wpool_free(msg);
  CU_ASSERT_EQUAL(wt_apply_int(pool, task_square, 12, &y, NULL), 0);
  CU_ASSERT_EQUAL(y, 144);
  wpool_destroy(pool);
}

/*
 * A task that floods stdout. The test's stdout goes to the null device
 * meanwhile, so that the flood stays out of the CTest log; workers inherit
 * it, because the pool is created while the redirect is in place.
 */
static void test_stdout_flood(void) {
  int saved = wt_stdout_silence();
  CU_ASSERT_FATAL(saved >= 0);

  wpool_t *pool = wt_pool(2);
  if (pool != NULL) {
    int y = 0;
    CU_ASSERT_EQUAL(wt_apply_int(pool, task_print_mb, 0, &y, NULL), 0);
    CU_ASSERT_EQUAL(y, 42);
    for (int x = 0; x < 4; x++) {
      CU_ASSERT_EQUAL(wt_apply_int(pool, task_square, x, &y, NULL), 0);
      CU_ASSERT_EQUAL(y, x * x);
    }
    wpool_destroy(pool);
  }

  wt_stdout_restore(saved);
}

static const wt_test_t tests[] = {
    {"square", test_square},
    {"empty_arg_and_output", test_empty_arg_and_output},
    {"large_echo", test_large_echo},
    {"invalid_arguments", test_invalid_arguments},
    {"unregistered", test_unregistered},
    {"task_failure", test_task_failure},
    {"task_codes", test_task_codes},
    {"out_reserve", test_out_reserve},
    {"static_library_task", test_static_library_task},
    {"frame_limit", test_frame_limit},
    {"stdout_flood", test_stdout_flood},
    {NULL, NULL},
};

const wt_suite_t wt_suite_apply = {"apply", 1, 0, tests};
