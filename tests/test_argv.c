/*
 * wpool_argv(): a task and an initializer read the program's command line,
 * and every method gives them the same strings as the program itself has
 * (the test program's own "--suite argv --method ..." line).
 */
#include "harness.h"

#include <stdio.h>
#include <string.h>

/* The command line, each string with its NUL, back to back. */
static int put_argv(wpool_out_t *out) {
  int argc = -1;
  char *const *argv = wpool_argv(&argc);
  for (int i = 0; i < argc; i++) {
    int rc = wpool_out_append(out, argv[i], strlen(argv[i]) + 1);
    if (rc)
      return rc;
  }
  return argv[argc] == NULL ? 0 : wpool_out_fail(out, 2, "no NULL at end");
}

static int task_argv(const void *arg, size_t len, wpool_out_t *out) {
  (void)arg;
  (void)len;
  return put_argv(out);
}
WPOOL_REGISTER(task_argv)

/* What the initializer saw: argc, and argv[1] (the test's own "--suite"). */
static WT_THREAD_LOCAL int init_argc = -1;
static WT_THREAD_LOCAL char init_arg1[32];

static int init_read_argv(const void *arg, size_t len, wpool_out_t *out) {
  (void)arg;
  (void)len;
  (void)out;
  char *const *argv = wpool_argv(&init_argc);
  init_arg1[0] = '\0';
  if (init_argc > 1)
    strncat(init_arg1, argv[1], sizeof init_arg1 - 1);
  return 0;
}
WPOOL_REGISTER(init_read_argv)

static int task_init_argv(const void *arg, size_t len, wpool_out_t *out) {
  (void)arg;
  (void)len;
  char text[64];
  int n = snprintf(text, sizeof text, "%d %s", init_argc, init_arg1);
  return wpool_out_set(out, text, (size_t)n);
}
WPOOL_REGISTER(task_init_argv)

static void expected(char *buf, size_t cap, size_t *len) {
  int argc = -1;
  char *const *argv = wpool_argv(&argc);
  *len = 0;
  for (int i = 0; i < argc; i++) {
    size_t n = strlen(argv[i]) + 1;
    if (*len + n > cap)
      break;
    memcpy(buf + *len, argv[i], n);
    *len += n;
  }
}

static void test_task_sees_argv(void) {
  int argc = -1;
  char *const *argv = wpool_argv(&argc);
  /* main() called wpool_bootstrap(argc, argv) with at least "--suite". */
  CU_ASSERT_FATAL(argc >= 3 && argv != NULL && argv[argc] == NULL);
  CU_ASSERT_STRING_EQUAL(argv[1], "--suite");
  char want[4096];
  size_t want_len;
  expected(want, sizeof want, &want_len);
  wpool_t *pool = wt_pool(2);
  CU_ASSERT_PTR_NOT_NULL_FATAL(pool);
  /* Several tasks, so that both workers answer. */
  for (int i = 0; i < 4; i++) {
    void *got = NULL;
    size_t len = 0;
    char *msg = NULL;
    CU_ASSERT_EQUAL(
        wpool_apply(pool, task_argv, NULL, 0, &got, &len, &msg), 0);
    CU_ASSERT(len == want_len && got && memcmp(got, want, len) == 0);
    wpool_free(got);
    wpool_free(msg);
  }
  wpool_destroy(pool);
}

static void test_initializer_sees_argv(void) {
  wpool_options_t o;
  wt_options(&o, 2);
  o.initializer = init_read_argv;
  wpool_t *pool = NULL;
  CU_ASSERT_EQUAL_FATAL(wt_create(&pool, &o), 0);
  int argc = 0;
  wpool_argv(&argc);
  char want[64];
  snprintf(want, sizeof want, "%d --suite", argc);
  void *got = NULL;
  size_t len = 0;
  CU_ASSERT_EQUAL(wpool_apply(pool, task_init_argv, NULL, 0, &got, &len, NULL),
                  0);
  CU_ASSERT(len == strlen(want) && got && memcmp(got, want, len) == 0);
  wpool_free(got);
  wpool_destroy(pool);
}

static void test_null_argc(void) {
  char *const *argv = wpool_argv(NULL);
  CU_ASSERT_PTR_NOT_NULL(argv);
  CU_ASSERT_STRING_EQUAL(argv[1], "--suite");
}

static const wt_test_t tests[] = {
    {"task_sees_argv", test_task_sees_argv},
    {"initializer_sees_argv", test_initializer_sees_argv},
    {"null_argc", test_null_argc},
    {NULL, NULL},
};

const wt_suite_t wt_suite_argv = {"argv", 1, 0, tests};
