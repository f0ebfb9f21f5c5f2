/*
 * wpool_create's argument checks. These fail before any worker starts, so
 * the suite runs once, with whatever --method says (thread by default).
 */
#include "harness.h"

/* Deliberately never registered. */
static int unregistered_init(const void *arg, size_t len, wpool_out_t *out) {
  (void)arg;
  (void)len;
  (void)out;
  return 0;
}

/*
 * Expect wpool_create to fail with `expected`, leaving *pool NULL and any
 * message releasable.
 */
static void expect_create_fails(const wpool_options_t *o, int expected) {
  wpool_t *pool = (wpool_t *)&pool; /* not NULL, so that resetting shows */
  char *msg = NULL;
  int rc = wpool_create(&pool, o, &msg);
  CU_ASSERT_EQUAL(rc, expected);
  CU_ASSERT_PTR_NULL(pool);
  wpool_free(msg);
  if (rc == 0 && pool != (wpool_t *)&pool)
    wpool_destroy(pool);
}

static void test_null_pool_pointer(void) {
  wpool_options_t o;
  wt_options(&o, 1);
  CU_ASSERT_EQUAL(wpool_create(NULL, &o, NULL), WPOOL_EINVAL);
}

static void test_negative_processes(void) {
  wpool_options_t o;
  wt_options(&o, -1);
  expect_create_fails(&o, WPOOL_EINVAL);
}

static void test_negative_maxtasks(void) {
  wpool_options_t o;
  wt_options(&o, 1);
  o.maxtasksperchild = -1;
  expect_create_fails(&o, WPOOL_EINVAL);
}

static void test_spin_us_range(void) {
  wpool_options_t o;
  wt_options(&o, 1);
  o.spin_us = -1;
  expect_create_fails(&o, WPOOL_EINVAL);
  o.spin_us = 1000001; /* more than a second */
  expect_create_fails(&o, WPOOL_EINVAL);
}

static void test_unregistered_initializer(void) {
  wpool_options_t o;
  wt_options(&o, 1);
  o.initializer = unregistered_init;
  expect_create_fails(&o, WPOOL_ENOFUNC);
}

static void test_bad_method(void) {
  wpool_options_t o;
  wpool_t *pool = NULL;
  wt_options(&o, 1);
  o.method = (wpool_method_t)42;
  int rc = wpool_create(&pool, &o, NULL);
  /* Not a method at all: an invalid argument (ENOTSUP is for a real
     method this platform lacks, fork on Windows). */
  CU_ASSERT_EQUAL(rc, WPOOL_EINVAL);
  CU_ASSERT_PTR_NULL(pool);
  if (rc == 0)
    wpool_destroy(pool);
}

static void test_errmsg_null_ok(void) {
  wpool_options_t o;
  wpool_t *pool = NULL;
  wt_options(&o, -5);
  CU_ASSERT_EQUAL(wpool_create(&pool, &o, NULL), WPOOL_EINVAL);
  CU_ASSERT_PTR_NULL(pool);
}

/* opts == NULL means the defaults: CPU count, default method. */
static void test_default_options(void) {
  wpool_t *pool = NULL;
  wpool_stats_t st;
  int rc = wt_create(&pool, NULL);
  CU_ASSERT_EQUAL_FATAL(rc, 0);
  CU_ASSERT_EQUAL(wpool_stats(pool, &st, NULL, 0), 0);
  CU_ASSERT(st.workers > 0);
  int y = 0;
  CU_ASSERT_EQUAL(wt_apply_int(pool, task_square, 6, &y, NULL), 0);
  CU_ASSERT_EQUAL(y, 36);
  wpool_destroy(pool);
}

static const wt_test_t tests[] = {
    {"null_pool_pointer", test_null_pool_pointer},
    {"negative_processes", test_negative_processes},
    {"negative_maxtasksperchild", test_negative_maxtasks},
    {"spin_us_range", test_spin_us_range},
    {"unregistered_initializer", test_unregistered_initializer},
    {"bad_method", test_bad_method},
    {"errmsg_null_ok", test_errmsg_null_ok},
    {"default_options", test_default_options},
    {NULL, NULL},
};

const wt_suite_t wt_suite_options = {"options", 0, 0, tests};
