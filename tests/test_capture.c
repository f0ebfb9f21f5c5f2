/*
 * capture_output: what a task prints comes back with its result (apply,
 * map, imap), in the order it reached the descriptors, bounded per task;
 * thread pools refuse the option.
 */
#include "harness.h"

#include <stdio.h>
#include <string.h>

/* int x -> x * x; prints two lines (stdout, then stderr) for even x and
   nothing for odd x. */
static int task_say(const void *arg, size_t len, wpool_out_t *out) {
  int x;
  if (len != sizeof x)
    return wpool_out_fail(out, 1, "bad length");
  memcpy(&x, arg, sizeof x);
  if (x % 2 == 0) {
    printf("out %d\n", x);
    fflush(stdout); /* stdout is buffered: its line first */
    fprintf(stderr, "err %d\n", x);
  }
  int y = x * x;
  return wpool_out_set(out, &y, sizeof y);
}
WPOOL_REGISTER(task_say)

static void expect_say(int x, const char *data, size_t len) {
  char want[64] = "";
  if (x % 2 == 0)
    snprintf(want, sizeof want, "out %d\nerr %d\n", x, x);
  CU_ASSERT(len == strlen(want) && memcmp(data, want, len) == 0);
  if (len != strlen(want) || memcmp(data, want, len) != 0)
    fprintf(stderr, "\n  item %d printed [%.*s]\n", x, (int)len, data);
}

/* A pool with capture_output, or NULL after a skip. */
static wpool_t *capture_pool(int processes) {
  wpool_options_t o;
  wt_options(&o, processes);
  o.capture_output = 1;
  wpool_t *pool = NULL;
  CU_ASSERT_EQUAL(wt_create(&pool, &o), 0);
  return pool;
}

#define SKIP_WHERE_UNSUPPORTED()                                               \
  if (!wt_is_process())                                                        \
  WT_SKIP("thread pools refuse capture_output (see "                           \
          "refused_where_unsupported)")

static void test_apply(void) {
  SKIP_WHERE_UNSUPPORTED();
  wpool_t *pool = capture_pool(1);
  CU_ASSERT_PTR_NOT_NULL_FATAL(pool);
  for (int x = 2; x <= 3; x++) {
    wpool_result_t *r = NULL;
    CU_ASSERT_EQUAL_FATAL(wpool_apply_async(pool, task_say, &x, sizeof x,
                                            NULL, NULL, NULL, &r),
                          0);
    int y = 0;
    CU_ASSERT_EQUAL(wt_result_int(r, WT_LONG_MS, &y), 0);
    CU_ASSERT_EQUAL(y, x * x);
    if (y != x * x)
      fprintf(stderr, "\n  apply failed: %s\n", wpool_result_message(r));
    const char *data = NULL;
    size_t len = 99;
    CU_ASSERT_EQUAL(wpool_result_output(r, 0, &data, &len), 0);
    expect_say(x, data, len);
    CU_ASSERT_EQUAL(wpool_result_output(r, 1, &data, &len), WPOOL_EINVAL);
    wpool_result_free(r);
  }
  wpool_destroy(pool);
}

static void test_map(void) {
  SKIP_WHERE_UNSUPPORTED();
  enum { N = 40 };
  int xs[N], ys[N];
  for (int i = 0; i < N; i++)
    xs[i] = i;
  wpool_t *pool = capture_pool(2);
  CU_ASSERT_PTR_NOT_NULL_FATAL(pool);
  wpool_result_t *r = NULL;
  CU_ASSERT_EQUAL_FATAL(wpool_map_async(pool, task_say, xs, N, sizeof(int), ys,
                                        sizeof(int), 3, NULL, NULL, NULL, &r),
                        0);
  CU_ASSERT_EQUAL(wpool_result_get(r, WT_LONG_MS, NULL, NULL), 0);
  for (int i = 0; i < N; i++) {
    const char *data = NULL;
    size_t len = 0;
    CU_ASSERT_EQUAL(wpool_result_output(r, (size_t)i, &data, &len), 0);
    expect_say(i, data, len);
    CU_ASSERT_EQUAL(ys[i], i * i);
  }
  wpool_result_free(r);
  wpool_destroy(pool);
}

static void test_imap(void) {
  SKIP_WHERE_UNSUPPORTED();
  enum { N = 30 };
  int xs[N];
  for (int i = 0; i < N; i++)
    xs[i] = i;
  wpool_t *pool = capture_pool(2);
  CU_ASSERT_PTR_NOT_NULL_FATAL(pool);
  for (int ordered = 0; ordered < 2; ordered++) {
    wpool_source_t src = wpool_source_array(xs, N, sizeof xs[0]);
    wpool_iter_t *it = NULL;
    CU_ASSERT_EQUAL_FATAL((ordered ? wpool_imap : wpool_imap_unordered)(
                              pool, task_say, &src, 4, &it),
                          0);
    int got = 0, rc;
    while ((rc = wpool_iter_next(it, WT_LONG_MS, NULL, NULL)) == 0) {
      const char *data = NULL;
      size_t len = 0;
      CU_ASSERT_EQUAL(wpool_iter_output(it, &data, &len), 0);
      expect_say((int)wpool_iter_index(it), data, len);
      got++;
    }
    CU_ASSERT_EQUAL(rc, WPOOL_EDONE);
    CU_ASSERT_EQUAL(got, N);
    wpool_iter_free(it);
  }
  wpool_destroy(pool);
}

/* 1 MiB printed: what comes back is bounded and says what was dropped;
   the next task's output starts afresh. */
static void test_bounded(void) {
  SKIP_WHERE_UNSUPPORTED();
  wpool_t *pool = capture_pool(1);
  CU_ASSERT_PTR_NOT_NULL_FATAL(pool);
  wpool_result_t *r = NULL;
  CU_ASSERT_EQUAL_FATAL(wpool_apply_async(pool, task_print_mb, NULL, 0, NULL,
                                          NULL, NULL, &r),
                        0);
  int y = 0;
  CU_ASSERT_EQUAL(wt_result_int(r, WT_LONG_MS, &y), 0);
  CU_ASSERT_EQUAL(y, 42);
  const char *data = NULL;
  size_t len = 0;
  CU_ASSERT_EQUAL(wpool_result_output(r, 0, &data, &len), 0);
  CU_ASSERT(len > 1000000 && len <= ((size_t)1 << 20));
  char end[65] = "";
  if (len > 64)
    memcpy(end, data + len - 64, 64);
  CU_ASSERT(wt_contains(end, "more bytes of output dropped"));
  wpool_result_free(r);
  int x = 4;
  CU_ASSERT_EQUAL_FATAL(
      wpool_apply_async(pool, task_say, &x, sizeof x, NULL, NULL, NULL, &r), 0);
  CU_ASSERT_EQUAL(wpool_result_wait(r, WT_LONG_MS), 0);
  CU_ASSERT_EQUAL(wpool_result_output(r, 0, &data, &len), 0);
  expect_say(x, data, len);
  wpool_result_free(r);
  wpool_destroy(pool);
}

/* Without the option nothing is kept; where it cannot work it is refused
   with WPOOL_ENOTSUP and a message. */
static void test_refused_where_unsupported(void) {
  wpool_options_t o;
  wt_options(&o, 1);
  o.capture_output = 1;
  wpool_t *pool = NULL;
  char *msg = NULL;
  int rc = wpool_create(&pool, &o, &msg);
  if (!wt_is_process()) {
    CU_ASSERT_EQUAL(rc, WPOOL_ENOTSUP);
    CU_ASSERT_PTR_NULL(pool);
    CU_ASSERT(wt_contains(msg, "capture_output"));
  } else {
    CU_ASSERT_EQUAL(rc, 0);
  }
  wpool_free(msg);
  wpool_destroy(pool);
  /* Without capture_output: an empty output, not an error (the two lines
     reach the test program's own streams). */
  pool = wt_pool(1);
  CU_ASSERT_PTR_NOT_NULL_FATAL(pool);
  int x = 2;
  wpool_result_t *r = NULL;
  CU_ASSERT_EQUAL_FATAL(
      wpool_apply_async(pool, task_say, &x, sizeof x, NULL, NULL, NULL, &r), 0);
  CU_ASSERT_EQUAL(wpool_result_wait(r, WT_LONG_MS), 0);
  const char *data = NULL;
  size_t len = 9;
  CU_ASSERT_EQUAL(wpool_result_output(r, 0, &data, &len), 0);
  CU_ASSERT(len == 0 && data && data[0] == '\0');
  wpool_result_free(r);
  wpool_destroy(pool);
}

static const wt_test_t tests[] = {
    {"apply", test_apply},
    {"map", test_map},
    {"imap", test_imap},
    {"bounded", test_bounded},
    {"refused_where_unsupported", test_refused_where_unsupported},
    {NULL, NULL},
};

const wt_suite_t wt_suite_capture = {"capture", 1, 0, tests};
