/*
 * Method-independent checks of the error table, the version string, the
 * option and source initialisers, and the NULL handling that needs no pool.
 */
#include "harness.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

static void check_code(int code, int expected, const char *name,
                       const char *text) {
  const char *s = wpool_strerror(code);
  const char *n = wpool_err_name(code);
  CU_ASSERT_EQUAL(code, expected);
  CU_ASSERT_PTR_NOT_NULL_FATAL(s);
  CU_ASSERT_PTR_NOT_NULL_FATAL(n);
  CU_ASSERT_STRING_EQUAL(s, text);
  CU_ASSERT_STRING_EQUAL(n, name);
}

static void test_every_code(void) {
  /* The same X-macro that builds the enum drives the checks, so a code
     added to the table is covered without editing this file. */
#define CHECK(name, value, text) check_code(WPOOL_##name, value, #name, text);
  WPOOL_ERRNO_MAP(CHECK)
#undef CHECK
}

/* WPOOL_ESTATE comes from calls without an errmsg: its sentence says what
   to call first. */
static void test_estate_says_what_first(void) {
  const char *s = wpool_strerror(WPOOL_ESTATE);
  CU_ASSERT_TRUE(wt_contains(s, "close or terminate the pool first"));
  CU_ASSERT_TRUE(wt_contains(s, "the result is ready already"));
  CU_ASSERT_TRUE(wt_contains(s, "before the first pool"));
}

static void test_codes_distinct(void) {
  static const int codes[] = {
#define CODE(name, value, text) WPOOL_##name,
      WPOOL_ERRNO_MAP(CODE)
#undef CODE
  };
  size_t n = sizeof codes / sizeof codes[0];
  for (size_t i = 0; i < n; i++) {
    CU_ASSERT(codes[i] < 0);
    CU_ASSERT(codes[i] > WPOOL__ERR_LAST);
    for (size_t j = i + 1; j < n; j++)
      CU_ASSERT_NOT_EQUAL(codes[i], codes[j]);
  }
}

static void test_unknown_codes(void) {
  static const int unknown[] = {WPOOL__ERR_LAST, -999, 1, 42, INT_MIN,
                                INT_MAX};
  for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
    const char *s = wpool_strerror(unknown[i]);
    CU_ASSERT_PTR_NOT_NULL(s);
    if (s != NULL)
      CU_ASSERT(s[0] != '\0');
    const char *n = wpool_err_name(unknown[i]);
    CU_ASSERT_PTR_NOT_NULL_FATAL(n);
    CU_ASSERT_STRING_EQUAL(n, "UNKNOWN");
  }
  /* Success is not in the table, but strerror must still say something. */
  CU_ASSERT_PTR_NOT_NULL(wpool_strerror(WPOOL_OK));
  CU_ASSERT_PTR_NOT_NULL(wpool_err_name(WPOOL_OK));
}

static void test_version(void) {
  char expected[32];
  snprintf(expected, sizeof expected, "%d.%d.%d", WPOOL_VERSION_MAJOR,
           WPOOL_VERSION_MINOR, WPOOL_VERSION_PATCH);
  const char *v = wpool_version();
  CU_ASSERT_PTR_NOT_NULL_FATAL(v);
  CU_ASSERT_STRING_EQUAL(v, expected);
  CU_ASSERT_PTR_EQUAL(wpool_version(), v); /* a static string */
}

static void test_options_init(void) {
  wpool_options_t o;
  memset(&o, 0xA5, sizeof o);
  wpool_options_init(&o);
  CU_ASSERT_EQUAL(o.processes, 0);
  CU_ASSERT_EQUAL(o.method, WPOOL_DEFAULT);
  CU_ASSERT_PTR_NULL(o.initializer);
  CU_ASSERT_PTR_NULL(o.initargs);
  CU_ASSERT_EQUAL(o.initargs_len, 0);
  CU_ASSERT_EQUAL(o.maxtasksperchild, 0);
  CU_ASSERT_EQUAL(o.max_frame, 0);
  CU_ASSERT_EQUAL(o.start_timeout_ms, 0);
}

static int dummy_producer(void *user, const void **item, size_t *len) {
  (void)user;
  (void)item;
  (void)len;
  return 0;
}

static void test_source_initialisers(void) {
  int items[5] = {0};
  int user = 0;
  wpool_source_t a = wpool_source_array(items, 5, sizeof(int));
  CU_ASSERT_PTR_EQUAL(a.items, items);
  CU_ASSERT_EQUAL(a.count, 5);
  CU_ASSERT_EQUAL(a.item_size, sizeof(int));
  CU_ASSERT(a.producer == NULL);
  CU_ASSERT_EQUAL(a.window, 0);

  wpool_source_t p = wpool_source_producer(dummy_producer, &user);
  CU_ASSERT_PTR_NULL(p.items);
  CU_ASSERT(p.producer == dummy_producer);
  CU_ASSERT_PTR_EQUAL(p.producer_user, &user);
  CU_ASSERT_EQUAL(p.window, 0);
}

static void test_null_handling(void) {
  wpool_stats_t st;
  /* Documented as accepting NULL: must simply return. */
  wpool_free(NULL);
  wpool_result_free(NULL);
  wpool_iter_free(NULL);
  wpool_destroy(NULL);

  CU_ASSERT_EQUAL(wpool_result_ready(NULL), 0);
  CU_ASSERT_EQUAL(wpool_result_successful(NULL), 0);
  CU_ASSERT_EQUAL(wpool_result_wait(NULL, 0), WPOOL_EINVAL);
  CU_ASSERT_EQUAL(wpool_stats(NULL, &st, NULL, 0), WPOOL_EINVAL);
  /* Not spelled out per function, but "0 or a negative code" holds for all. */
  CU_ASSERT(wpool_close(NULL) < 0);
  CU_ASSERT(wpool_terminate(NULL) < 0);
  CU_ASSERT(wpool_join(NULL) < 0);
}

static const wt_test_t tests[] = {
    {"every_code", test_every_code},
    {"codes_distinct", test_codes_distinct},
    {"estate_says_what_first", test_estate_says_what_first},
    {"unknown_codes", test_unknown_codes},
    {"version", test_version},
    {"options_init", test_options_init},
    {"source_initialisers", test_source_initialisers},
    {"null_handling", test_null_handling},
    {NULL, NULL},
};

const wt_suite_t wt_suite_errors = {"errors", 0, 0, tests};
