/*
 * Shared test plumbing: the worker method under test, pool creation for that
 * method, and a "gate" that lets a test hold tasks inside a worker and let
 * them go at a moment it chooses, so that no test has to sleep to arrange an
 * order of events.
 */
#ifndef WT_HARNESS_H
#define WT_HARNESS_H

#include "port.h"
#include "tasks.h"
#include "wpool.h"

#include <CUnit/CUnit.h>

/*
 * A wait that only a hung library can exhaust. Tests use it instead of
 * WPOOL_FOREVER where a hang is a plausible bug, so that the bug shows up as
 * a named assertion failure rather than as a CTest timeout.
 */
#define WT_LONG_MS 30000L

/* A wait that must expire because the task it waits for is held at a gate. */
#define WT_SHORT_MS 50L

typedef struct wt_test {
  const char *name;
  void (*fn)(void);
} wt_test_t;

typedef struct wt_suite {
  const char *name;
  int per_method;   /* run once per worker method (else once) */
  int process_only; /* meaningless for thread workers */
  const wt_test_t *tests; /* ends with { NULL, NULL } */
} wt_suite_t;

/*
 * Skipping: a test that does not apply to the method or platform under test
 * calls WT_SKIP("why") at its top level, before it creates anything, and
 * returns at once. The runner (main.c) prints it as skipped, counts it as
 * not run in CUnit's summary, and when every test of a run skipped, exits
 * with CTest's skip code (WT_SKIP_EXIT). A test that makes no assertion and
 * does not skip fails: a check that silently does nothing must not pass.
 */
#define WT_SKIP(why)                                                           \
  do {                                                                         \
    wt_skip(why);                                                              \
    return;                                                                    \
  } while (0)
#define WT_SKIP_EXIT 77
void wt_skip(const char *why);
/* The reason given to WT_SKIP in the current test, or NULL. */
const char *wt_skip_reason(void);
/* Forget the current test's skip (the runner, before each test). */
void wt_skip_reset(void);

/* The method chosen with --method (WPOOL_THREAD when none was given). */
extern wpool_method_t wt_method;

int wt_parse_method(const char *s, wpool_method_t *m);
const char *wt_method_name(wpool_method_t m);
/* The transport under test: NULL for local workers, "mpi" when the suites
   run over the MPI component (wpool_mpi_tests, under mpiexec), where
   wt_create() and wt_pool() make MPI pools. */
extern const char *wt_transport;
extern int (*wt_create_fn)(wpool_t **pool, const wpool_options_t *opts,
                           char **errmsg);
/* WT_SKIP(why) when the workers are not local processes of this program
   (a test about the pool process's own signals, limits or death). */
#define WT_SKIP_REMOTE(why)                                                    \
  do {                                                                         \
    if (wt_transport)                                                          \
      WT_SKIP(why);                                                            \
  } while (0)

/* 1 when workers are processes (fork or spawn). */
int wt_is_process(void);

/* Default options for the current method with the given worker count. */
void wt_options(wpool_options_t *o, int processes);

/*
 * Create a pool with o (method already set by the caller); on failure print
 * the library's message, so that a setup failure explains itself.
 */
int wt_create(wpool_t **pool, const wpool_options_t *o);

/* A pool of the current method with `processes` workers, or NULL. */
wpool_t *wt_pool(int processes);

/*
 * wpool_apply of an int-to-int task: the library's code, or 1 when the task
 * succeeded but its output is not one int. *y is set on success.
 */
int wt_apply_int(wpool_t *pool, wpool_fn fn, int x, int *y, char **errmsg);

/* wpool_result_get of an int output, with the same convention. */
int wt_result_int(wpool_result_t *r, long timeout_ms, int *y);

/* Assert that pool still squares 0 .. n-1 right (after a fault). */
void wt_assert_squares(wpool_t *pool, int n);
/* The pool's workers_replaced once it reaches least, or as it is after
   WT_LONG_MS: a replacement starts just after the death whose failure the
   caller saw, so it may not have started when that call returns. */
size_t wt_wait_replaced(wpool_t *pool, size_t least);

/* 1 when s is not NULL and contains needle. */
int wt_contains(const char *s, const char *needle);

/*
 * The gate: two channels between the test and its tasks (see port.h for
 * what they are on each platform). task_gate() announces itself on
 * "started" when it begins and then waits for a "go"; the test releases one
 * task per "go" it sends. Closing the gate makes every blocked and every
 * later task_gate() return at once.
 *
 * Open a gate only after creating the pools of the test: a fork pool forks
 * its fork server at creation, and a server forked while the gate is open
 * would hold a writer on "go", so closing the gate would no longer release
 * anything.
 *
 * wt_gate_open(), wt_gate_release(g, n) (let n held or future tasks
 * through) and wt_gate_close() (release everything and remove the gate;
 * safe to call twice) are in port.h.
 */
/* The argument for a task_gate() call that returns value once released. */
wt_gate_arg_t wt_gate_arg(const wt_gate_t *g, int value);
/* Wait until n more tasks have reached the gate; 0, or -1 after WT_LONG_MS. */
int wt_gate_wait_started(wt_gate_t *g, int n);

#endif
