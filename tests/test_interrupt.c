/*
 * wpool_interrupt(): Ctrl-C while the program waits in the pool. The test
 * sends the signal itself, from a thread of its own, once the work it
 * waits for is known to run (a gate), and learns that the pool has been
 * terminated from an apply held at the same gate (terminate fails it at
 * once, even on a thread), never from a sleep.
 */
#include "harness.h"

#include <string.h>

static wpool_t *volatile the_pool;

static void on_sigint(int sig) {
  (void)sig;
  wpool_interrupt(the_pool);
}

typedef struct helper {
  wpool_t *pool;
  wt_gate_t *gate;
  wpool_result_t *sentinel; /* held at the gate: fails when terminated */
  int by_signal;            /* send SIGINT, else call wpool_interrupt */
  int started, sent, sentinel_rc;
} helper_t;

/* Wait until both held tasks run, interrupt, wait for the terminate to
   show on the sentinel, then let held thread workers finish. */
static void *interrupter(void *arg) {
  helper_t *h = arg;
  h->started = wt_gate_wait_started(h->gate, 2);
  h->sent = h->by_signal ? wt_sigint_send() : wpool_interrupt(h->pool);
  h->sentinel_rc = wpool_result_wait(h->sentinel, WT_LONG_MS) == 0
                       ? wpool_result_get(h->sentinel, 0, NULL, NULL)
                       : WPOOL_ETIMEDOUT;
  wt_gate_close(h->gate);
  return NULL;
}

/* Two workers: one holds the sentinel apply, the other map item 0 (a
   second gated task); the rest of the map waits in the queue. */
static void blocked_map(int by_signal) {
  enum { N = 4 };
  wpool_t *pool = wt_pool(2);
  CU_ASSERT_PTR_NOT_NULL_FATAL(pool);
  wt_gate_t g;
  CU_ASSERT_EQUAL_FATAL(wt_gate_open(&g), 0);
  wt_gate_arg_t hold = wt_gate_arg(&g, 1);
  helper_t h = {pool, &g, NULL, by_signal, -1, -1, 0};
  CU_ASSERT_EQUAL_FATAL(wpool_apply_async(pool, task_gate, &hold, sizeof hold,
                                          NULL, NULL, NULL, &h.sentinel),
                        0);
  the_pool = pool;
  if (by_signal)
    CU_ASSERT_EQUAL_FATAL(wt_sigint_install(on_sigint), 0);
  wt_gate_arg_t in[N];
  for (int i = 0; i < N; i++)
    in[i] = wt_gate_arg(&g, 10 + i);
  int out[N];
  memset(out, 0, sizeof out);
  wt_thread_t t;
  CU_ASSERT_EQUAL_FATAL(wt_thread_start(&t, interrupter, &h), 0);
  char *msg = NULL;
  int rc = wpool_map(pool, task_gate, in, N, sizeof in[0], out, sizeof out[0],
                     1, &msg);
  wt_thread_join(t);
  if (by_signal)
    wt_sigint_restore();
  the_pool = NULL;
  CU_ASSERT_EQUAL(h.started, 0);
  CU_ASSERT_EQUAL(h.sent, 0);
  CU_ASSERT_EQUAL(rc, WPOOL_ETERMINATED);
  CU_ASSERT(wt_contains(msg, "interrupted"));
  CU_ASSERT_EQUAL(h.sentinel_rc, WPOOL_ETERMINATED);
  CU_ASSERT(wt_contains(wpool_result_message(h.sentinel), "interrupted"));
  wpool_free(msg);
  wpool_result_free(h.sentinel);
  CU_ASSERT_EQUAL(wpool_join(pool), WPOOL_ETERMINATED);
  wpool_destroy(pool);
}

static void test_map_sigint(void) { blocked_map(1); }
static void test_map_call(void) { blocked_map(0); }

/* A blocked iterator, a blocked result_get and a later join of a closed
   pool all return WPOOL_ETERMINATED; nothing of the pool is left. */
static void test_every_waiter(void) {
  wpool_t *pool = wt_pool(2);
  CU_ASSERT_PTR_NOT_NULL_FATAL(pool);
  wt_gate_t g;
  CU_ASSERT_EQUAL_FATAL(wt_gate_open(&g), 0);
  wt_gate_arg_t hold = wt_gate_arg(&g, 1);
  helper_t h = {pool, &g, NULL, 0, -1, -1, 0};
  CU_ASSERT_EQUAL_FATAL(wpool_apply_async(pool, task_gate, &hold, sizeof hold,
                                          NULL, NULL, NULL, &h.sentinel),
                        0);
  wt_gate_arg_t in[3];
  for (int i = 0; i < 3; i++)
    in[i] = wt_gate_arg(&g, 20 + i);
  wpool_source_t src = wpool_source_array(in, 3, sizeof in[0]);
  wpool_iter_t *it = NULL;
  CU_ASSERT_EQUAL_FATAL(wpool_imap(pool, task_gate, &src, 1, &it), 0);
  CU_ASSERT_EQUAL(wpool_close(pool), 0);
  wt_thread_t t;
  CU_ASSERT_EQUAL_FATAL(wt_thread_start(&t, interrupter, &h), 0);
  int rc = wpool_iter_next(it, WT_LONG_MS, NULL, NULL);
  wt_thread_join(t);
  /* Threads finish item 0 (released after the terminate): the iterator
     still ends there. */
  CU_ASSERT_EQUAL(rc, WPOOL_ETERMINATED);
  CU_ASSERT(wt_contains(wpool_iter_message(it), "interrupted"));
  CU_ASSERT_EQUAL(wpool_iter_next(it, WT_LONG_MS, NULL, NULL), WPOOL_EDONE);
  CU_ASSERT_EQUAL(h.sentinel_rc, WPOOL_ETERMINATED);
  CU_ASSERT_EQUAL(wpool_result_get(h.sentinel, WT_LONG_MS, NULL, NULL),
                  WPOOL_ETERMINATED);
  CU_ASSERT_EQUAL(wpool_join(pool), WPOOL_ETERMINATED);
  wpool_iter_free(it);
  wpool_result_free(h.sentinel);
  wpool_destroy(pool);
}

/* An interrupt of a pool that was terminated already changes nothing
   (join says 0, as after any terminate); NULL is refused; a pool that was
   never interrupted is destroyed as usual. */
static void test_after_terminate(void) {
  CU_ASSERT_EQUAL(wpool_interrupt(NULL), WPOOL_EINVAL);
  wpool_t *pool = wt_pool(1);
  CU_ASSERT_PTR_NOT_NULL_FATAL(pool);
  CU_ASSERT_EQUAL(wpool_terminate(pool), 0);
  CU_ASSERT_EQUAL(wpool_interrupt(pool), 0);
  CU_ASSERT_EQUAL(wpool_join(pool), 0);
  wpool_destroy(pool);
  pool = wt_pool(1);
  CU_ASSERT_PTR_NOT_NULL_FATAL(pool);
  int y = 0;
  CU_ASSERT_EQUAL(wt_apply_int(pool, task_square, 3, &y, NULL), 0);
  CU_ASSERT_EQUAL(y, 9);
  wpool_destroy(pool);
}

static const wt_test_t tests[] = {
    {"map_sigint", test_map_sigint},
    {"map_call", test_map_call},
    {"every_waiter", test_every_waiter},
    {"after_terminate", test_after_terminate},
    {NULL, NULL},
};

const wt_suite_t wt_suite_interrupt = {"interrupt", 1, 0, tests};
