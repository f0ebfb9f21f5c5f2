/*
 * wpool_register and wpool_fn_name.
 *
 * Registration is only allowed before wpool_bootstrap() and before any pool
 * exists, and main() calls wpool_bootstrap() first, so the cases that must
 * succeed run in a constructor (before main) and keep their return codes for
 * the tests to check. The constructor runs identically in spawned workers, so
 * every process still registers the same table.
 */
#include "harness.h"
#include "static_tasks/static_tasks.h"

#include <string.h>

/* Registered only under an alias, through wpool_register. */
static int aliased(const void *arg, size_t len, wpool_out_t *out) {
  (void)arg;
  (void)len;
  int v = 1234;
  return wpool_out_set(out, &v, sizeof v);
}

/* Offered under a name that is already taken, so never registered. */
static int intruder(const void *arg, size_t len, wpool_out_t *out) {
  (void)arg;
  (void)len;
  (void)out;
  return 0;
}

static int rc_first, rc_again, rc_taken, rc_null_name, rc_empty_name,
    rc_same_as_macro;

WT_CONSTRUCTOR(register_early) {
  rc_first = wpool_register("wt_alias", aliased);
  rc_again = wpool_register("wt_alias", aliased);
  rc_taken = wpool_register("wt_alias", intruder);
  rc_null_name = wpool_register(NULL, intruder);
  rc_empty_name = wpool_register("", intruder);
  /* task_square also has WPOOL_REGISTER(task_square); whichever of the two
     runs first, the other is a repeat of the same pair and must be 0. */
  rc_same_as_macro = wpool_register("task_square", task_square);
}

static void test_register_results(void) {
  CU_ASSERT_EQUAL(rc_first, 0);
  CU_ASSERT_EQUAL(rc_again, 0);
  CU_ASSERT_EQUAL(rc_taken, WPOOL_EINVAL);
  CU_ASSERT_EQUAL(rc_null_name, WPOOL_EINVAL);
  CU_ASSERT_EQUAL(rc_empty_name, WPOOL_EINVAL);
  CU_ASSERT_EQUAL(rc_same_as_macro, 0);
}

static void test_fn_name(void) {
  const char *n = wpool_fn_name(task_square);
  CU_ASSERT_PTR_NOT_NULL_FATAL(n);
  CU_ASSERT_STRING_EQUAL(n, "task_square");
  n = wpool_fn_name(aliased);
  CU_ASSERT_PTR_NOT_NULL_FATAL(n);
  CU_ASSERT_STRING_EQUAL(n, "wt_alias");
  /* The static library's function, registered by its own object file. */
  n = wpool_fn_name(static_triple);
  CU_ASSERT_PTR_NOT_NULL_FATAL(n);
  CU_ASSERT_STRING_EQUAL(n, "static_triple");
  /* The loser of a name clash stays unregistered. */
  CU_ASSERT_PTR_NULL(wpool_fn_name(intruder));
  CU_ASSERT_PTR_NULL(wpool_fn_name(NULL));
}

static void test_register_after_create(void) {
  wpool_t *pool = wt_pool(1);
  CU_ASSERT_PTR_NOT_NULL_FATAL(pool);
  CU_ASSERT_EQUAL(wpool_register("wt_too_late", intruder), WPOOL_ESTATE);
  CU_ASSERT_PTR_NULL(wpool_fn_name(intruder));
  wpool_destroy(pool);
}

/* An alias registered with wpool_register works like a macro-registered fn. */
static void test_alias_runs(void) {
  wpool_t *pool = wt_pool(1);
  CU_ASSERT_PTR_NOT_NULL_FATAL(pool);
  int y = 0;
  CU_ASSERT_EQUAL(wt_apply_int(pool, aliased, 0, &y, NULL), 0);
  CU_ASSERT_EQUAL(y, 1234);
  CU_ASSERT_EQUAL(wt_apply_int(pool, intruder, 0, &y, NULL), WPOOL_ENOFUNC);
  wpool_destroy(pool);
}

static const wt_test_t tests[] = {
    {"register_results", test_register_results},
    {"fn_name", test_fn_name},
    {"register_after_create", test_register_after_create},
    {"alias_runs", test_alias_runs},
    {NULL, NULL},
};

const wt_suite_t wt_suite_registry = {"registry", 0, 0, tests};
