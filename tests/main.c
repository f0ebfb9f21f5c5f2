/*
 * wpool_tests: runs one suite (or all) against one worker method.
 *
 *   wpool_tests --suite NAME|all [--method fork|spawn|thread] [--test NAME]
 *
 * Exit status: 0 when every assertion passed, 1 on a failure, 2 on a usage
 * or framework error, 77 (CTest's skip code, WT_SKIP_EXIT) when the suite
 * does not apply to the method or every test it ran skipped.
 *
 * Output: "[ RUN  ] suite/test" before each test, flushed (a hang that runs
 * into CTest's timeout is named by the log's last line), then OK, FAIL with
 * the failed assertions, or SKIP with the reason; a count of skipped tests;
 * and CUnit's own run summary last, in which skipped tests are in the
 * Inactive column, not among the passed.
 */
#include "harness.h"

#include <CUnit/CUnit.h>
#ifdef WT_MPI
#include "wpool_mpi.h"
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* test_hardening.c checks POSIX matters (signals, descriptors, fork);
   Windows has a suite of its own in its place (test_win32.c). */
#ifdef _WIN32
#define wt_suite_hardening wt_suite_windows
#endif
extern const wt_suite_t wt_suite_errors, wt_suite_options, wt_suite_registry,
    wt_suite_apply, wt_suite_results, wt_suite_callbacks, wt_suite_map,
    wt_suite_imap, wt_suite_producer, wt_suite_lifecycle, wt_suite_workers,
    wt_suite_faults, wt_suite_threads, wt_suite_hardening, wt_suite_limits,
    wt_suite_badinput, wt_suite_core, wt_suite_recovery, wt_suite_outcomes,
    wt_suite_transport, wt_suite_retries, wt_suite_progress, wt_suite_push,
    wt_suite_interrupt, wt_suite_argv, wt_suite_resize, wt_suite_capture,
    wt_suite_shm, wt_suite_shm_results;
#ifndef _WIN32
extern const wt_suite_t wt_suite_posix_lifecycle;
#endif
#ifdef WT_MPI
extern const wt_suite_t wt_suite_mpi;
#endif

static const wt_suite_t *const suites[] = {
    &wt_suite_errors,    &wt_suite_options,   &wt_suite_registry,
    &wt_suite_apply,     &wt_suite_results,   &wt_suite_callbacks,
    &wt_suite_map,       &wt_suite_imap,      &wt_suite_producer,
    &wt_suite_lifecycle, &wt_suite_workers,   &wt_suite_faults,
    &wt_suite_threads,   &wt_suite_hardening, &wt_suite_limits,
    &wt_suite_badinput,  &wt_suite_core,     &wt_suite_recovery,
    &wt_suite_outcomes,  &wt_suite_transport, &wt_suite_retries,
    &wt_suite_progress,  &wt_suite_push,      &wt_suite_interrupt,
    &wt_suite_argv,      &wt_suite_resize,    &wt_suite_capture,
    &wt_suite_shm,       &wt_suite_shm_results,
#ifndef _WIN32
    &wt_suite_posix_lifecycle,
#endif
#ifdef WT_MPI
    &wt_suite_mpi,
#endif
};
#define NSUITES (sizeof suites / sizeof suites[0])

static int usage(const char *argv0) {
  fprintf(stderr,
          "usage: %s --suite NAME|all [--method fork|spawn|thread] "
          "[--test NAME]\nsuites:",
          argv0);
  for (size_t i = 0; i < NSUITES; i++)
    fprintf(stderr, " %s", suites[i]->name);
  fprintf(stderr, "\n");
  return 2;
}

/* Assertions counted before the current test; tests skipped so far; when
   the current test started (its time is printed, to find slow tests; no
   test asserts a time). */
static unsigned asserts_before, skipped;
static long started_ms;

static void on_test_start(const CU_pTest t, const CU_pSuite s) {
  wt_skip_reset();
  printf("[ RUN  ] %s/%s\n", s->pName, t->pName);
  fflush(stdout);
  started_ms = wt_now_ms();
}

/* CUnit runs a suite's set-up and tear-down around each test, inside the
   test's run: a failure recorded in the tear-down fails that test. */
static void before_test(void) { asserts_before = CU_get_number_of_asserts(); }

static void after_test(void) {
  if (wt_skip_reason() == NULL && CU_get_number_of_asserts() == asserts_before)
    CU_assertImplementation(CU_FALSE, __LINE__,
                            "the test made no assertion (WT_SKIP when it "
                            "does not apply)",
                            __FILE__, "", CU_FALSE);
}

static void on_test_complete(const CU_pTest t, const CU_pSuite s,
                             const CU_pFailureRecord failures) {
  long ms = wt_now_ms() - started_ms;
  if (failures != NULL) {
    printf("[ FAIL ] %s/%s (%ld ms)\n", s->pName, t->pName, ms);
    for (CU_pFailureRecord f = failures; f != NULL && f->pTest == t;
         f = f->pNext)
      printf("         %s:%u: %s\n", f->strFileName ? f->strFileName : "?",
             f->uiLineNumber, f->strCondition ? f->strCondition : "?");
  } else if (wt_skip_reason() != NULL) {
    /* CUnit 2.1 has no skip of its own and has counted the test as run
       (and so as passed): move it to the tests that were not run, so that
       CUnit's summary never reports a skipped test as passed. */
    CU_pRunSummary sum = CU_get_run_summary();
    sum->nTestsRun--;
    sum->nTestsInactive++;
    skipped++;
    printf("[ SKIP ] %s/%s: %s\n", s->pName, t->pName, wt_skip_reason());
  } else {
    printf("[   OK ] %s/%s (%ld ms)\n", s->pName, t->pName, ms);
  }
  fflush(stdout);
}

/* Add one suite's tests (all, or only the one named) to the registry. */
static int add_suite(const wt_suite_t *s, const char *only, int *added) {
  char name[64];
  if (s->per_method)
    snprintf(name, sizeof name, "%s.%s%s%s", s->name,
             wt_transport ? wt_transport : "", wt_transport ? "-" : "",
             wt_method_name(wt_method));
  else
    snprintf(name, sizeof name, "%s", s->name);
  CU_pSuite cs = CU_add_suite_with_setup_and_teardown(name, NULL, NULL,
                                                      before_test, after_test);
  if (cs == NULL)
    return -1;
  for (const wt_test_t *t = s->tests; t->name != NULL; t++) {
    if (only != NULL && strcmp(only, t->name) != 0)
      continue;
    if (CU_add_test(cs, t->name, t->fn) == NULL)
      return -1;
    (*added)++;
  }
  return 0;
}

#ifdef WT_MPI
static int extra_fn(const void *arg, size_t len, wpool_out_t *out) {
  return wpool_out_set(out, arg, len);
}
#endif

int main(int argc, char **argv) {
  /* First, always: a spawned worker re-executes this binary and must be
     caught here before anything else runs. */
#ifdef WT_MPI
  /* wpool_mpi_tests: the same suites over the MPI component. Every rank
     but 0 serves here and never returns. */
  char *err = NULL;
  /* The registry_mismatch test makes one rank another program. */
  if (getenv("WT_MPI_EXTRA_FN"))
    wpool_register("wt_mpi_extra_fn", extra_fn);
  int rc = wpool_mpi_init(&argc, &argv, &err);
  if (rc != 0) {
    fprintf(stderr, "wpool_mpi_init: %s\n", err ? err : wpool_strerror(rc));
    wpool_free(err);
    return 2;
  }
  wt_transport = "mpi";
  wt_create_fn = wpool_mpi_create;
#else
  int rc = wpool_bootstrap(argc, argv);
  if (rc != 0) {
    fprintf(stderr, "wpool_bootstrap: %s\n", wpool_strerror(rc));
    return 2;
  }
#endif
  /* Some tests start this program again as a helper (port.h). */
  rc = wt_helper(argc, argv);
  if (rc >= 0)
    return rc;

  const char *suite = NULL, *test = NULL;
  for (int i = 1; i < argc; i++) {
    if (i + 1 < argc && strcmp(argv[i], "--suite") == 0)
      suite = argv[++i];
    else if (i + 1 < argc && strcmp(argv[i], "--test") == 0)
      test = argv[++i];
    else if (i + 1 < argc && strcmp(argv[i], "--method") == 0) {
      if (wt_parse_method(argv[++i], &wt_method) != 0)
        return usage(argv[0]);
    } else
      return usage(argv[0]);
  }
  if (suite == NULL)
    return usage(argv[0]);
  int all = strcmp(suite, "all") == 0;

  if (CU_initialize_registry() != CUE_SUCCESS) {
    fprintf(stderr, "CUnit: %s\n", CU_get_error_msg());
    return 2;
  }
  int matched = 0, added = 0;
  for (size_t i = 0; i < NSUITES; i++) {
    const wt_suite_t *s = suites[i];
    if (!all && strcmp(suite, s->name) != 0)
      continue;
    matched++;
    if (s->process_only && !wt_is_process()) {
      if (all)
        continue;
      fprintf(stderr, "suite %s needs process workers; skipped\n", s->name);
      CU_cleanup_registry();
      return WT_SKIP_EXIT;
    }
    if (add_suite(s, test, &added) != 0) {
      fprintf(stderr, "CUnit: %s\n", CU_get_error_msg());
      CU_cleanup_registry();
      return 2;
    }
  }
  if (matched == 0 || added == 0) {
    CU_cleanup_registry();
    return usage(argv[0]);
  }

  /* Unbuffered, as CUnit's basic runner has it: each line is out before the
     next test starts, the test's own messages on stderr interleave in
     order, and a forked worker inherits no unwritten output. */
  setvbuf(stdout, NULL, _IONBF, 0);
  setvbuf(stderr, NULL, _IONBF, 0);
  CU_set_test_start_handler(on_test_start);
  CU_set_test_complete_handler(on_test_complete);
  /* The return value is a framework error, not the failure count. */
  if (CU_run_all_tests() != CUE_SUCCESS)
    fprintf(stderr, "CUnit: %s\n", CU_get_error_msg());
  unsigned failures = CU_get_number_of_failures();
  unsigned ran = CU_get_number_of_tests_run();
  int framework_error = CU_get_error() != CUE_SUCCESS;
  if (skipped != 0)
    printf("\nSkipped %u of %d tests (Inactive below)\n", skipped, added);
  printf("\n");
  CU_print_run_results(stdout);
  printf("\n");
  CU_cleanup_registry();
  if (failures != 0)
    return 1;
  if (framework_error)
    return 2;
  return ran == 0 && skipped != 0 ? WT_SKIP_EXIT : 0;
}
