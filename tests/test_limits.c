/*
 * Time limits, cancellation and memory limits. A task past its limit is
 * killed with its worker and fails with WPOOL_ETIMELIMIT; a cancelled task
 * fails with WPOOL_ECANCELED, whether it was queued or running; a worker
 * grown past its memory bound is replaced. Nothing here waits on time: the
 * tasks that must be stopped block until they are.
 */
#include "harness.h"

/* Address and thread sanitizers reserve terabytes of address space: a
   worker under an address-space limit cannot even start with them. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define WT_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define WT_ASAN 1
#endif
#endif

#include <stdlib.h>
#include <string.h>

/* Touch n MiB and keep them; return the pid. */
static int task_grow(const void *arg, size_t len, wpool_out_t *out) {
  int mib;
  if (len != sizeof mib)
    return wpool_out_fail(out, 1, "bad argument");
  memcpy(&mib, arg, sizeof mib);
  size_t n = (size_t)mib << 20;
  char *p = malloc(n);
  if (!p)
    return wpool_out_fail(out, 2, "could not allocate %d MiB", mib);
  memset(p, 1, n);
  static char *keep; /* resident until the worker goes */
  free(keep);
  keep = p;
  long pid = wt_getpid();
  return wpool_out_set(out, &pid, sizeof pid);
}
WPOOL_REGISTER(task_grow)

static wpool_t *limited_pool(int processes, long task_timeout_ms) {
  wpool_options_t o;
  wt_options(&o, processes);
  o.task_timeout_ms = task_timeout_ms;
  wpool_t *pool = NULL;
  return wt_create(&pool, &o) == 0 ? pool : NULL;
}

/* A hung apply fails with ETIMELIMIT; the pool is whole again. */
static void test_apply_time_limit(void) {
  if (!wt_is_process()) {
    wpool_options_t o;
    wt_options(&o, 1);
    o.task_timeout_ms = 100;
    wpool_t *pool = NULL;
    CU_ASSERT_EQUAL(wpool_create(&pool, &o, NULL), WPOOL_ENOTSUP);
    CU_ASSERT_PTR_NULL(pool);
    return;
  }
  wpool_t *pool = limited_pool(2, 100);
  CU_ASSERT_PTR_NOT_NULL_FATAL(pool);
  int two = 2, y = 0;
  char *err = NULL;
  CU_ASSERT_EQUAL(wt_apply_int(pool, task_hang_on_two, two, &y, &err),
                  WPOOL_ETIMELIMIT);
  CU_ASSERT_TRUE(wt_contains(err, "time limit of 100 ms"));
  wpool_free(err);
  CU_ASSERT_EQUAL(wt_apply_int(pool, task_hang_on_two, 5, &y, NULL), 0);
  CU_ASSERT_EQUAL(y, 5);
  wpool_stats_t st;
  CU_ASSERT_EQUAL(wpool_stats(pool, &st, NULL, 0), 0);
  CU_ASSERT_EQUAL(st.workers, 2);
  CU_ASSERT_TRUE(wt_wait_replaced(pool, 1) >= 1);
  wpool_destroy(pool);
}

/* In a map with big chunks, only the hung item fails; a per-call limit
   works without a pool limit. */
static void test_map_time_limit(void) {
  if (!wt_is_process()) {
    /* A per-call limit is refused on threads, as a pool limit is. */
    wpool_t *pool = wt_pool(1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(pool);
    int in[2] = {1, 3}, out[2] = {0, 0};
    wpool_call_t call = {NULL, NULL, NULL, 100, 0};
    wpool_result_t *r = NULL;
    CU_ASSERT_EQUAL(wpool_map_async_ex(pool, task_hang_on_two, in, 2,
                                       sizeof *in, out, sizeof *out, 1, &call,
                                       &r),
                    WPOOL_ENOTSUP);
    CU_ASSERT_PTR_NULL(r);
    CU_ASSERT_EQUAL(wpool_apply_async_ex(pool, task_hang_on_two, in,
                                         sizeof *in, &call, &r),
                    WPOOL_ENOTSUP);
    CU_ASSERT_PTR_NULL(r);
    wpool_destroy(pool);
    return;
  }
  wpool_t *pool = wt_pool(2);
  CU_ASSERT_PTR_NOT_NULL_FATAL(pool);
  int in[12], out[12];
  for (int i = 0; i < 12; i++)
    in[i] = i + 1; /* item 1 holds 2 */
  wpool_call_t call = {NULL, NULL, NULL, 100, 0};
  wpool_result_t *r = NULL;
  CU_ASSERT_EQUAL_FATAL(wpool_map_async_ex(pool, task_hang_on_two, in, 12,
                                           sizeof *in, out, sizeof *out, 4,
                                           &call, &r),
                        0);
  CU_ASSERT_EQUAL(wpool_result_get(r, WT_LONG_MS, NULL, NULL),
                  WPOOL_ETIMELIMIT);
  CU_ASSERT_TRUE(wt_contains(wpool_result_message(r), "item 1:"));
  for (int i = 0; i < 12; i++)
    CU_ASSERT_EQUAL(out[i], i == 1 ? 0 : i + 1);
  wpool_result_free(r);
  wpool_destroy(pool);
}

/* Cancel a queued task: it never runs. Cancel a running one: on processes
   its worker is killed; on threads the result fails at once. */
static void test_cancel(void) {
  wpool_t *pool = wt_pool(1);
  CU_ASSERT_PTR_NOT_NULL_FATAL(pool);
  wt_gate_t g;
  CU_ASSERT_EQUAL_FATAL(wt_gate_open(&g), 0);
  wt_gate_arg_t a = wt_gate_arg(&g, 1);
  wpool_result_t *running = NULL, *queued = NULL;
  CU_ASSERT_EQUAL_FATAL(wpool_apply_async(pool, task_gate, &a, sizeof a, NULL,
                                          NULL, NULL, &running),
                        0);
  CU_ASSERT_EQUAL(wt_gate_wait_started(&g, 1), 0);
  int x = 4;
  CU_ASSERT_EQUAL_FATAL(wpool_apply_async(pool, task_square, &x, sizeof x,
                                          NULL, NULL, NULL, &queued),
                        0);
  CU_ASSERT_EQUAL(wpool_result_cancel(queued), 0);
  CU_ASSERT_EQUAL(wpool_result_get(queued, WT_LONG_MS, NULL, NULL),
                  WPOOL_ECANCELED);
  CU_ASSERT_EQUAL(wpool_result_cancel(queued), WPOOL_ESTATE);
  CU_ASSERT_EQUAL(wpool_result_cancel(running), 0);
  CU_ASSERT_EQUAL(wpool_result_get(running, WT_LONG_MS, NULL, NULL),
                  WPOOL_ECANCELED);
  CU_ASSERT_TRUE(wt_contains(wpool_result_message(running), "cancelled"));
  /* A thread cannot be stopped: let its task end before going on. */
  if (!wt_is_process())
    CU_ASSERT_EQUAL(wt_gate_release(&g, 1), 0);
  int y = 0;
  CU_ASSERT_EQUAL(wt_apply_int(pool, task_square, 7, &y, NULL), 0);
  CU_ASSERT_EQUAL(y, 49);
  wpool_result_free(queued);
  wpool_result_free(running);
  wt_gate_close(&g);
  wpool_destroy(pool);
  CU_ASSERT_EQUAL(wpool_result_cancel(NULL), WPOOL_EINVAL);
}

/* A worker over its address-space limit cannot allocate past it. */
static void test_memory_limit(void) {
  if (!wt_is_process())
    WT_SKIP("thread workers share the parent's memory: no limit of their own");
#ifdef WT_ASAN
  WT_SKIP("a sanitizer's shadow memory does not fit under an address-space "
          "limit");
#endif
  if (wt_under_wine())
    WT_SKIP("wine accepts a Job object's memory limit but does not enforce "
            "it");
  wpool_options_t o;
  wt_options(&o, 1);
  o.worker_memory_limit = (size_t)512 << 20;
  wpool_t *pool = NULL;
  CU_ASSERT_EQUAL_FATAL(wt_create(&pool, &o), 0);
  int big = 1024;
  char *err = NULL;
  void *out = NULL;
  size_t len = 0;
  CU_ASSERT_EQUAL(
      wpool_apply(pool, task_grow, &big, sizeof big, &out, &len, &err),
      WPOOL_ETASK);
  CU_ASSERT_TRUE(wt_contains(err, "could not allocate"));
  wpool_free(err);
  wpool_free(out);
  /* The limit failed the allocation, not the worker: it still serves. */
  int small = 1;
  CU_ASSERT_EQUAL(
      wpool_apply(pool, task_grow, &small, sizeof small, &out, &len, NULL), 0);
  wpool_free(out);
  wpool_destroy(pool);
}

/* A worker grown past worker_max_rss is replaced after its task. */
static void test_max_rss(void) {
  if (!wt_is_process())
    WT_SKIP("thread workers share the parent's memory: no limit of their own");
  wpool_options_t o;
  wt_options(&o, 1);
  o.worker_max_rss = (size_t)64 << 20;
  wpool_t *pool = NULL;
  CU_ASSERT_EQUAL_FATAL(wt_create(&pool, &o), 0);
  long pids[3] = {0, 0, 0};
  int sizes[3] = {1, 128, 1};
  for (int i = 0; i < 3; i++) {
    void *out = NULL;
    size_t len = 0;
    CU_ASSERT_EQUAL(wpool_apply(pool, task_grow, &sizes[i], sizeof sizes[i],
                                &out, &len, NULL),
                    0);
    if (out && len == sizeof(long))
      memcpy(&pids[i], out, sizeof(long));
    wpool_free(out);
  }
  CU_ASSERT_EQUAL(pids[0], pids[1]); /* 1 MiB: stays */
  CU_ASSERT_NOT_EQUAL(pids[1], pids[2]); /* 128 MiB: replaced after */
  wpool_destroy(pool);
}

static const wt_test_t tests[] = {
    {"apply_time_limit", test_apply_time_limit},
    {"map_time_limit", test_map_time_limit},
    {"cancel", test_cancel},
    {"memory_limit", test_memory_limit},
    {"max_rss", test_max_rss},
    {NULL, NULL},
};

const wt_suite_t wt_suite_limits = {"limits", 1, 0, tests};
