/*
 * Asynchronous results: get, wait, ready, successful, message and task code,
 * before and after the task finishes. Tasks that must still be running are
 * held at a gate (see harness.h), never raced against a sleep.
 */
#include "harness.h"

#include <string.h>

static void test_get_data_len(void) {
  wpool_t *pool = wt_pool(2);
  CU_ASSERT_PTR_NOT_NULL_FATAL(pool);
  int x = 11;
  wpool_result_t *r = NULL;
  CU_ASSERT_EQUAL_FATAL(wpool_apply_async(pool, task_square, &x, sizeof x,
                                          NULL, NULL, NULL, &r),
                        0);
  const void *data = NULL;
  size_t len = 0;
  CU_ASSERT_EQUAL(wpool_result_get(r, WT_LONG_MS, &data, &len), 0);
  CU_ASSERT_EQUAL(len, sizeof(int));
  if (data != NULL && len == sizeof(int))
    CU_ASSERT_EQUAL(*(const int *)data, 121);
  /* The output belongs to the result: a second get sees the same bytes. */
  const void *again = NULL;
  size_t len2 = 0;
  CU_ASSERT_EQUAL(wpool_result_get(r, 0, &again, &len2), 0);
  CU_ASSERT_PTR_EQUAL(again, data);
  CU_ASSERT_EQUAL(len2, len);
  /* data and len are optional. */
  CU_ASSERT_EQUAL(wpool_result_get(r, 0, NULL, NULL), 0);
  wpool_result_free(r);
  wpool_destroy(pool);
}

/*
 * A held task: get and wait time out, ready is 0, successful says not
 * ready; once released the same result completes normally.
 */
static void test_pending_then_done(void) {
  wpool_t *pool = wt_pool(2);
  CU_ASSERT_PTR_NOT_NULL_FATAL(pool);
  wt_gate_t g;
  CU_ASSERT_EQUAL_FATAL(wt_gate_open(&g), 0);
  wt_gate_arg_t a = wt_gate_arg(&g, 77);
  wpool_result_t *r = NULL;
  CU_ASSERT_EQUAL(
      wpool_apply_async(pool, task_gate, &a, sizeof a, NULL, NULL, NULL, &r),
      0);
  if (r != NULL) {
    const void *data = NULL;
    size_t len = 0;
    CU_ASSERT_EQUAL(wt_gate_wait_started(&g, 1), 0);
    CU_ASSERT_EQUAL(wpool_result_get(r, WT_SHORT_MS, &data, &len),
                    WPOOL_ETIMEDOUT);
    CU_ASSERT_EQUAL(wpool_result_get(r, 0, &data, &len), WPOOL_ETIMEDOUT);
    CU_ASSERT_EQUAL(wpool_result_wait(r, 0), WPOOL_ETIMEDOUT);
    CU_ASSERT_EQUAL(wpool_result_wait(r, WT_SHORT_MS), WPOOL_ETIMEDOUT);
    CU_ASSERT_EQUAL(wpool_result_ready(r), 0);
    CU_ASSERT_EQUAL(wpool_result_successful(r), 0); /* never true early */
    CU_ASSERT_PTR_NULL(wpool_result_message(r));
    CU_ASSERT_EQUAL(wpool_result_task_code(r), 0);

    CU_ASSERT_EQUAL(wt_gate_release(&g, 1), 0);
    CU_ASSERT_EQUAL(wpool_result_wait(r, WT_LONG_MS), 0);
    CU_ASSERT_EQUAL(wpool_result_ready(r), 1);
    CU_ASSERT_EQUAL(wpool_result_successful(r), 1);
    int y = 0;
    CU_ASSERT_EQUAL(wt_result_int(r, WPOOL_FOREVER, &y), 0);
    CU_ASSERT_EQUAL(y, 77);
    CU_ASSERT_PTR_NULL(wpool_result_message(r));
    CU_ASSERT_EQUAL(wpool_result_task_code(r), 0);
    wpool_result_free(r);
  }
  wt_gate_close(&g);
  wpool_destroy(pool);
}

/*
 * The low-latency mode (spin_us): results come back right while the caller,
 * the loop and the workers spin; a wait with a timeout shorter than the
 * spin still times out on a held task, and a wait of 0 does not spin.
 */
static void test_low_latency_mode(void) {
  wpool_options_t o;
  wt_options(&o, 2);
  o.spin_us = 200;
  wpool_t *pool = NULL;
  CU_ASSERT_EQUAL_FATAL(wt_create(&pool, &o), 0);
  int wrong = 0;
  for (int x = 0; x < 300; x++) {
    int y = -1;
    wrong += wt_apply_int(pool, task_square, x, &y, NULL) != 0 || y != x * x;
  }
  CU_ASSERT_EQUAL(wrong, 0);
  wt_gate_t g;
  CU_ASSERT_EQUAL_FATAL(wt_gate_open(&g), 0);
  wt_gate_arg_t a = wt_gate_arg(&g, 5);
  wpool_result_t *r = NULL;
  CU_ASSERT_EQUAL(
      wpool_apply_async(pool, task_gate, &a, sizeof a, NULL, NULL, NULL, &r),
      0);
  if (r != NULL) {
    CU_ASSERT_EQUAL(wt_gate_wait_started(&g, 1), 0);
    CU_ASSERT_EQUAL(wpool_result_wait(r, 0), WPOOL_ETIMEDOUT);
    CU_ASSERT_EQUAL(wpool_result_wait(r, 1), WPOOL_ETIMEDOUT);
    CU_ASSERT_EQUAL(wt_gate_release(&g, 1), 0);
    int y = 0;
    CU_ASSERT_EQUAL(wt_result_int(r, WPOOL_FOREVER, &y), 0);
    CU_ASSERT_EQUAL(y, 5);
    wpool_result_free(r);
  }
  wt_gate_close(&g);
  wt_assert_squares(pool, 50);
  wpool_destroy(pool);
}

/*
 * Two threads wait for one result: whichever comes first may sleep on a
 * condition of its own, the other then on the pool's; the completion must
 * wake both, whatever their order.
 */
typedef struct waiter {
  wpool_result_t *r;
  int rc;
} waiter_t;

static void *wait_for(void *arg) {
  waiter_t *w = arg;
  w->rc = wpool_result_wait(w->r, WPOOL_FOREVER);
  return NULL;
}

static void test_two_waiters(void) {
  wpool_t *pool = wt_pool(1);
  CU_ASSERT_PTR_NOT_NULL_FATAL(pool);
  wt_gate_t g;
  CU_ASSERT_EQUAL_FATAL(wt_gate_open(&g), 0);
  wt_gate_arg_t a = wt_gate_arg(&g, 9);
  wpool_result_t *r = NULL;
  CU_ASSERT_EQUAL(
      wpool_apply_async(pool, task_gate, &a, sizeof a, NULL, NULL, NULL, &r),
      0);
  if (r != NULL) {
    CU_ASSERT_EQUAL(wt_gate_wait_started(&g, 1), 0);
    waiter_t w[2] = {{r, -1}, {r, -1}};
    wt_thread_t t[2];
    int started = 0;
    for (int i = 0; i < 2; i++)
      started += wt_thread_start(&t[i], wait_for, &w[i]) == 0;
    CU_ASSERT_EQUAL(started, 2);
    CU_ASSERT_EQUAL(wt_gate_release(&g, 1), 0);
    for (int i = 0; i < started; i++)
      wt_thread_join(t[i]);
    CU_ASSERT_EQUAL(w[0].rc, 0);
    CU_ASSERT_EQUAL(w[1].rc, 0);
    int y = 0;
    CU_ASSERT_EQUAL(wt_result_int(r, 0, &y), 0);
    CU_ASSERT_EQUAL(y, 9);
    wpool_result_free(r);
  }
  wt_gate_close(&g);
  wpool_destroy(pool);
}

static void test_failed_result(void) {
  wpool_t *pool = wt_pool(1);
  CU_ASSERT_PTR_NOT_NULL_FATAL(pool);
  int x = 7;
  wpool_result_t *r = NULL;
  CU_ASSERT_EQUAL_FATAL(
      wpool_apply_async(pool, task_fail, &x, sizeof x, NULL, NULL, NULL, &r),
      0);
  CU_ASSERT_EQUAL(wpool_result_get(r, WT_LONG_MS, NULL, NULL), WPOOL_ETASK);
  CU_ASSERT_EQUAL(wpool_result_ready(r), 1);
  CU_ASSERT_EQUAL(wpool_result_successful(r), 0);
  CU_ASSERT(wt_contains(wpool_result_message(r), "bad 7"));
  CU_ASSERT_EQUAL(wpool_result_task_code(r), 7);
  /* A failure stays a failure on every later call. */
  CU_ASSERT_EQUAL(wpool_result_get(r, 0, NULL, NULL), WPOOL_ETASK);
  CU_ASSERT_EQUAL(wpool_result_wait(r, 0), 0);
  wpool_result_free(r);
  wpool_destroy(pool);
}

/* Many results in flight at once, collected in reverse order. */
static void test_many_outstanding(void) {
  enum { N = 64 };
  wpool_t *pool = wt_pool(2);
  CU_ASSERT_PTR_NOT_NULL_FATAL(pool);
  wpool_result_t *r[N] = {0};
  for (int i = 0; i < N; i++)
    CU_ASSERT_EQUAL(wpool_apply_async(pool, task_square, &i, sizeof i, NULL,
                                      NULL, NULL, &r[i]),
                    0);
  for (int i = N - 1; i >= 0; i--) {
    int y = -1;
    if (r[i] == NULL)
      continue;
    CU_ASSERT_EQUAL(wt_result_int(r[i], WT_LONG_MS, &y), 0);
    CU_ASSERT_EQUAL(y, i * i);
    wpool_result_free(r[i]);
  }
  wpool_destroy(pool);
}

/* Freeing a result early does not cancel its work. */
static void test_free_while_pending(void) {
  wpool_t *pool = wt_pool(1);
  CU_ASSERT_PTR_NOT_NULL_FATAL(pool);
  wt_gate_t g;
  CU_ASSERT_EQUAL_FATAL(wt_gate_open(&g), 0);
  wt_gate_arg_t a = wt_gate_arg(&g, 5);
  wpool_result_t *r = NULL, *after = NULL;
  CU_ASSERT_EQUAL(
      wpool_apply_async(pool, task_gate, &a, sizeof a, NULL, NULL, NULL, &r),
      0);
  CU_ASSERT_EQUAL(wt_gate_wait_started(&g, 1), 0);
  wpool_result_free(r);
  /* Queued behind the held task on the only worker: it can only finish
     if the freed result's task ran to its end. */
  a.value = 6;
  CU_ASSERT_EQUAL(wpool_apply_async(pool, task_gate, &a, sizeof a, NULL, NULL,
                                    NULL, &after),
                  0);
  CU_ASSERT_EQUAL(wt_gate_release(&g, 2), 0);
  int y = 0;
  CU_ASSERT_EQUAL(wt_result_int(after, WT_LONG_MS, &y), 0);
  CU_ASSERT_EQUAL(y, 6);
  wpool_result_free(after);
  wt_gate_close(&g);
  wpool_destroy(pool);
}

/*
 * A task submitted while one worker is held must go to the idle worker, not
 * queue behind the held task, even after many fast tasks taught the pool to
 * send work ahead.
 */
static void test_idle_worker_first(void) {
  wpool_t *pool = wt_pool(2);
  CU_ASSERT_PTR_NOT_NULL_FATAL(pool);
  wt_gate_t g;
  CU_ASSERT_EQUAL_FATAL(wt_gate_open(&g), 0);
  for (int i = 0; i < 200; i++) {
    int y = 0;
    CU_ASSERT_EQUAL(wt_apply_int(pool, task_square, i, &y, NULL), 0);
  }
  wt_gate_arg_t a = wt_gate_arg(&g, 1);
  wpool_result_t *held = NULL, *quick = NULL;
  CU_ASSERT_EQUAL(wpool_apply_async(pool, task_gate, &a, sizeof a, NULL, NULL,
                                    NULL, &held),
                  0);
  CU_ASSERT_EQUAL(wt_gate_wait_started(&g, 1), 0);
  int x = 9;
  CU_ASSERT_EQUAL(wpool_apply_async(pool, task_square, &x, sizeof x, NULL,
                                    NULL, NULL, &quick),
                  0);
  int y = 0;
  /* Only a quick task queued behind the held one could exhaust this. */
  CU_ASSERT_EQUAL(wt_result_int(quick, WT_LONG_MS, &y), 0);
  CU_ASSERT_EQUAL(y, 81);
  CU_ASSERT_EQUAL(wpool_result_ready(held), 0);
  CU_ASSERT_EQUAL(wt_gate_release(&g, 1), 0);
  CU_ASSERT_EQUAL(wt_result_int(held, WT_LONG_MS, &y), 0);
  wpool_result_free(quick);
  wpool_result_free(held);
  wt_gate_close(&g);
  wpool_destroy(pool);
}

/*
 * Once the pool has seen that its tasks are long (each at least 20 ms: a
 * sleep never ends early), a worker holds only the task it runs: the tasks
 * of a map submitted while one worker is held all go to the other worker,
 * none waits behind the held task. (Shorter tasks may be sent one ahead, to
 * save a worker a round trip between two tasks.)
 */
static void test_long_tasks_not_sent_ahead(void) {
  WT_SKIP_REMOTE("a channel kind with a long round trip asks for work sent "
                 "ahead of any task length (ahead_us)");
  wpool_t *pool = wt_pool(2);
  CU_ASSERT_PTR_NOT_NULL_FATAL(pool);
  wt_gate_t g;
  CU_ASSERT_EQUAL_FATAL(wt_gate_open(&g), 0);
  enum { N = 6 };
  int naps[N], out[N];
  for (int i = 0; i < N; i++)
    naps[i] = 20;
  CU_ASSERT_EQUAL(wpool_map(pool, task_nap, naps, N, sizeof *naps, out,
                            sizeof *out, 1, NULL),
                  0);
  wt_gate_arg_t a = wt_gate_arg(&g, 1);
  wpool_result_t *held = NULL, *map = NULL;
  CU_ASSERT_EQUAL(wpool_apply_async(pool, task_gate, &a, sizeof a, NULL, NULL,
                                    NULL, &held),
                  0);
  CU_ASSERT_EQUAL(wt_gate_wait_started(&g, 1), 0);
  memset(out, 0, sizeof out);
  CU_ASSERT_EQUAL(wpool_map_async(pool, task_nap, naps, N, sizeof *naps, out,
                                  sizeof *out, 1, NULL, NULL, NULL, &map),
                  0);
  /* Only a task sent to the held worker could keep the map from ending. */
  CU_ASSERT_EQUAL(wpool_result_wait(map, WT_LONG_MS), 0);
  CU_ASSERT_EQUAL(wpool_result_successful(map), 1);
  CU_ASSERT_EQUAL(out[N - 1], 20);
  CU_ASSERT_EQUAL(wpool_result_ready(held), 0);
  CU_ASSERT_EQUAL(wt_gate_release(&g, 1), 0);
  int y = 0;
  CU_ASSERT_EQUAL(wt_result_int(held, WT_LONG_MS, &y), 0);
  wpool_result_free(map);
  wpool_result_free(held);
  wt_gate_close(&g);
  wpool_destroy(pool);
}

static const wt_test_t tests[] = {
    {"get_data_len", test_get_data_len},
    {"pending_then_done", test_pending_then_done},
    {"low_latency_mode", test_low_latency_mode},
    {"two_waiters", test_two_waiters},
    {"failed_result", test_failed_result},
    {"many_outstanding", test_many_outstanding},
    {"free_while_pending", test_free_while_pending},
    {"idle_worker_first", test_idle_worker_first},
    {"long_tasks_not_sent_ahead", test_long_tasks_not_sent_ahead},
    {NULL, NULL},
};

const wt_suite_t wt_suite_results = {"results", 1, 0, tests};
