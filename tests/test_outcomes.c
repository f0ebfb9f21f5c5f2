/*
 * Every failure of a batch, not only the first: per-item outcomes of map
 * and apply results (wpool_result_failed_count, _failed_item, _item_code).
 */
#include "harness.h"

#include <string.h>

/* Items 2 and 7 fail in the task: both are reported, in input order, with
   their own codes and messages; the others succeeded. */
static void test_map_every_failure(void) {
  enum { N = 10 };
  int in[N], out[N];
  for (int i = 0; i < N; i++)
    in[i] = i;
  in[2] = -2;
  in[7] = -7;
  wpool_t *pool = wt_pool(2);
  CU_ASSERT_PTR_NOT_NULL_FATAL(pool);
  wpool_result_t *r = NULL;
  CU_ASSERT_EQUAL_FATAL(wpool_map_async(pool, task_square, in, N, sizeof(int),
                                        out, sizeof(int), 3, NULL, NULL, NULL,
                                        &r),
                        0);
  CU_ASSERT_EQUAL(wpool_result_wait(r, WT_LONG_MS), 0);
  size_t nfail = wpool_result_failed_count(r);
  CU_ASSERT_EQUAL(nfail, 2u);
  for (size_t k = 0; k < nfail && k < 2; k++) {
    size_t index = 99;
    int code = 0, task_code = 0;
    const char *msg = NULL;
    CU_ASSERT_EQUAL(wpool_result_failed_item(r, k, &index, &code, &task_code,
                                             &msg),
                    0);
    CU_ASSERT_EQUAL(index, k == 0 ? 2u : 7u);
    CU_ASSERT_EQUAL(code, WPOOL_ETASK);
    CU_ASSERT_EQUAL(task_code, 7);
    char want[16];
    snprintf(want, sizeof want, "bad -%zu", index);
    CU_ASSERT_TRUE(wt_contains(msg, want));
  }
  CU_ASSERT_EQUAL(wpool_result_failed_item(r, nfail, NULL, NULL, NULL, NULL),
                  WPOOL_EINVAL);
  for (size_t i = 0; i < N; i++) {
    int code = wpool_result_item_code(r, i);
    if (i == 2 || i == 7) {
      CU_ASSERT_EQUAL(code, WPOOL_ETASK);
      CU_ASSERT_EQUAL(out[i], 0); /* a failed item's slot reads zero */
    } else {
      CU_ASSERT_EQUAL(code, 0);
      CU_ASSERT_EQUAL(out[i], in[i] * in[i]);
    }
  }
  CU_ASSERT_EQUAL(wpool_result_item_code(r, N), WPOOL_EINVAL);
  /* The first failure is still the result's own. */
  CU_ASSERT_EQUAL(wpool_result_get(r, 0, NULL, NULL), WPOOL_ETASK);
  CU_ASSERT_TRUE(wt_contains(wpool_result_message(r), "item 2"));
  wpool_result_free(r);
  wpool_destroy(pool);
}

/* A crash is one item's failure among the others' successes. */
static void test_map_crash_outcome(void) {
  if (!wt_is_process()) {
    WT_SKIP("a crash would end the test program with thread workers");
  }
  wt_no_core_dumps();
  int in[5] = {1, 2, WT_CRASH_SEGV, 4, 5}, out[5];
  wpool_t *pool = wt_pool(2);
  CU_ASSERT_PTR_NOT_NULL_FATAL(pool);
  wpool_result_t *r = NULL;
  CU_ASSERT_EQUAL_FATAL(wpool_map_async(pool, task_crash, in, 5, sizeof(int),
                                        out, sizeof(int), 5, NULL, NULL, NULL,
                                        &r),
                        0);
  CU_ASSERT_EQUAL(wpool_result_wait(r, WT_LONG_MS), 0);
  CU_ASSERT_EQUAL(wpool_result_failed_count(r), 1u);
  size_t index = 0;
  int code = 0;
  const char *msg = NULL;
  CU_ASSERT_EQUAL(wpool_result_failed_item(r, 0, &index, &code, NULL, &msg),
                  0);
  CU_ASSERT_EQUAL(index, 2u);
  CU_ASSERT_EQUAL(code, WPOOL_EWORKER);
  CU_ASSERT_TRUE(wt_contains(msg, WT_CAUSE_SEGV));
  CU_ASSERT_EQUAL(wpool_result_item_code(r, 4), 0);
  CU_ASSERT_EQUAL(out[4], 25);
  wpool_result_free(r);
  wpool_destroy(pool);
}

/* Not ready yet: no outcomes, and the calls say why. A terminated map
   reports every item it never ran, in a handful of entries. */
static void test_outcomes_pending_and_terminated(void) {
  enum { N = 1000 };
  static int in[N], out[N];
  wpool_t *pool = wt_pool(1);
  CU_ASSERT_PTR_NOT_NULL_FATAL(pool);
  wt_gate_t g;
  CU_ASSERT_EQUAL_FATAL(wt_gate_open(&g), 0);
  wt_gate_arg_t a = wt_gate_arg(&g, 1);
  wpool_result_t *held = NULL, *m = NULL;
  CU_ASSERT_EQUAL_FATAL(wpool_apply_async(pool, task_gate, &a, sizeof a, NULL,
                                          NULL, NULL, &held),
                        0);
  CU_ASSERT_EQUAL(wt_gate_wait_started(&g, 1), 0);
  CU_ASSERT_EQUAL_FATAL(wpool_map_async(pool, task_square, in, N, sizeof(int),
                                        out, sizeof(int), 10, NULL, NULL, NULL,
                                        &m),
                        0);
  CU_ASSERT_EQUAL(wpool_result_failed_count(m), 0);
  CU_ASSERT_EQUAL(wpool_result_failed_item(m, 0, NULL, NULL, NULL, NULL),
                  WPOOL_ENOTREADY);
  CU_ASSERT_EQUAL(wpool_result_item_code(m, 0), WPOOL_ENOTREADY);
  CU_ASSERT_EQUAL(wpool_terminate(pool), 0);
  CU_ASSERT_EQUAL(wpool_result_wait(m, WT_LONG_MS), 0);
  CU_ASSERT_EQUAL(wpool_result_failed_count(m), (size_t)N);
  size_t index = 0;
  int code = 0;
  CU_ASSERT_EQUAL(
      wpool_result_failed_item(m, N - 1, &index, &code, NULL, NULL), 0);
  CU_ASSERT_EQUAL(index, (size_t)N - 1);
  CU_ASSERT_EQUAL(code, WPOOL_ETERMINATED);
  CU_ASSERT_EQUAL(wpool_result_item_code(m, 500), WPOOL_ETERMINATED);
  /* The held apply failed too: one item. */
  CU_ASSERT_EQUAL(wpool_result_wait(held, WT_LONG_MS), 0);
  CU_ASSERT_EQUAL(wpool_result_failed_count(held), 1u);
  CU_ASSERT_EQUAL(wpool_result_item_code(held, 0), WPOOL_ETERMINATED);
  wt_gate_close(&g);
  wpool_result_free(held);
  wpool_result_free(m);
  wpool_destroy(pool);
}

static int not_registered(const void *arg, size_t len, wpool_out_t *out) {
  (void)arg;
  (void)len;
  (void)out;
  return 0;
}

/* A refusal explains itself where the call has an errmsg. */
static void test_refusal_messages(void) {
  wpool_t *pool = wt_pool(1);
  CU_ASSERT_PTR_NOT_NULL_FATAL(pool);
  int x = 1, y;
  char *msg = NULL;
  CU_ASSERT_EQUAL(
      wpool_apply(pool, not_registered, &x, sizeof x, NULL, NULL, &msg),
      WPOOL_ENOFUNC);
  CU_ASSERT_TRUE(wt_contains(msg, "WPOOL_REGISTER"));
  wpool_free(msg);
  CU_ASSERT_EQUAL(wpool_map(pool, not_registered, &x, 1, sizeof x, &y,
                            sizeof y, 0, &msg),
                  WPOOL_ENOFUNC);
  CU_ASSERT_TRUE(wt_contains(msg, "WPOOL_REGISTER"));
  wpool_free(msg);
  CU_ASSERT_EQUAL(wpool_close(pool), 0);
  CU_ASSERT_EQUAL(
      wpool_apply(pool, task_square, &x, sizeof x, NULL, NULL, &msg),
      WPOOL_ECLOSED);
  CU_ASSERT_TRUE(wt_contains(msg, "closed"));
  wpool_free(msg);
  wpool_destroy(pool);
}

/* Progress of a map and of an iterator, polled while their work is held. */
static void test_progress(void) {
  enum { N = 6 };
  wpool_t *pool = wt_pool(2);
  CU_ASSERT_PTR_NOT_NULL_FATAL(pool);
  wt_gate_t g;
  CU_ASSERT_EQUAL_FATAL(wt_gate_open(&g), 0);
  wt_gate_arg_t a[N];
  int out[N];
  for (int i = 0; i < N; i++)
    a[i] = wt_gate_arg(&g, i);
  wpool_result_t *r = NULL;
  CU_ASSERT_EQUAL_FATAL(wpool_map_async(pool, task_gate, a, N, sizeof a[0],
                                        out, sizeof out[0], 1, NULL, NULL,
                                        NULL, &r),
                        0);
  size_t done = 99, total = 0;
  CU_ASSERT_EQUAL(wt_gate_wait_started(&g, 2), 0);
  CU_ASSERT_EQUAL(wpool_result_progress(r, &done, &total), 0);
  CU_ASSERT_EQUAL(done, 0u);
  CU_ASSERT_EQUAL(total, (size_t)N);
  CU_ASSERT_EQUAL(wt_gate_release(&g, N), 0);
  CU_ASSERT_EQUAL(wpool_result_wait(r, WT_LONG_MS), 0);
  CU_ASSERT_EQUAL(wpool_result_progress(r, &done, NULL), 0);
  CU_ASSERT_EQUAL(done, (size_t)N);
  wpool_result_free(r);

  int in[N] = {1, 2, 3, 4, 5, 6};
  wpool_source_t src = wpool_source_array(in, N, sizeof in[0]);
  wpool_iter_t *it = NULL;
  CU_ASSERT_EQUAL_FATAL(wpool_imap(pool, task_square, &src, 2, &it), 0);
  const void *d;
  size_t len, yielded = 0;
  CU_ASSERT_EQUAL(wpool_iter_next(it, WT_LONG_MS, &d, &len), 0);
  CU_ASSERT_EQUAL(wpool_iter_progress(it, &yielded, &done, &total), 0);
  CU_ASSERT_EQUAL(yielded, 1u);
  CU_ASSERT_TRUE(done >= 2 && done <= (size_t)N);
  CU_ASSERT_EQUAL(total, (size_t)N);
  while (wpool_iter_next(it, WT_LONG_MS, &d, &len) == 0) {
  }
  CU_ASSERT_EQUAL(wpool_iter_progress(it, &yielded, &done, NULL), 0);
  CU_ASSERT_EQUAL(yielded, (size_t)N);
  CU_ASSERT_EQUAL(done, (size_t)N);
  wpool_iter_free(it);
  CU_ASSERT_EQUAL(wpool_result_progress(NULL, &done, &total), WPOOL_EINVAL);
  wt_gate_close(&g);
  wpool_destroy(pool);
}

/* int n -> n bytes (byte i is i & 0xff), appended 7 at a time. */
static int task_append(const void *arg, size_t len, wpool_out_t *out) {
  int n;
  if (len != sizeof n)
    return wpool_out_fail(out, 1, "bad argument");
  memcpy(&n, arg, sizeof n);
  unsigned char piece[7];
  for (int i = 0; i < n; i += 7) {
    int k = n - i < 7 ? n - i : 7;
    for (int j = 0; j < k; j++)
      piece[j] = (unsigned char)((i + j) & 0xff);
    int rc = wpool_out_append(out, piece, (size_t)k);
    if (rc)
      return rc;
  }
  return 0;
}
WPOOL_REGISTER(task_append)

/* An output written in one pass, in pieces: any size for apply and imap;
   up to the output size for a map item (beyond: WPOOL_ERANGE). */
static void test_out_append(void) {
  wpool_t *pool = wt_pool(2);
  CU_ASSERT_PTR_NOT_NULL_FATAL(pool);
  int n = 100003;
  void *data = NULL;
  size_t len = 0;
  CU_ASSERT_EQUAL_FATAL(
      wpool_apply(pool, task_append, &n, sizeof n, &data, &len, NULL), 0);
  CU_ASSERT_EQUAL(len, (size_t)n);
  int wrong = 0;
  for (int i = 0; i < n && len == (size_t)n; i++)
    wrong += ((unsigned char *)data)[i] != (unsigned char)(i & 0xff);
  CU_ASSERT_EQUAL(wrong, 0);
  wpool_free(data);
  int in[3] = {10, 16, 17};
  unsigned char out[3][16];
  char *msg = NULL;
  CU_ASSERT_EQUAL(wpool_map(pool, task_append, in, 3, sizeof in[0], out,
                            sizeof out[0], 1, &msg),
                  WPOOL_ERANGE);
  CU_ASSERT_TRUE(wt_contains(msg, "item 2"));
  wpool_free(msg);
  CU_ASSERT_EQUAL(out[0][9], 9);
  CU_ASSERT_EQUAL(out[0][10], 0); /* the rest of a short output is zero */
  CU_ASSERT_EQUAL(out[1][15], 15);
  wpool_destroy(pool);
}

typedef struct point {
  double x, y;
} point_t;

static int norm2(const point_t *in, double *out) {
  *out = in->x * in->x + in->y * in->y;
  return *out > 1000 ? 9 : 0; /* a failure of its own, far out */
}
WPOOL_TYPED_TASK(norm2_task, norm2, point_t, double)

/* Typed tasks: no byte plumbing, sizes checked for the caller. */
static void test_typed_task(void) {
  wpool_t *pool = wt_pool(2);
  CU_ASSERT_PTR_NOT_NULL_FATAL(pool);
  point_t p[4] = {{1, 2}, {3, 4}, {0, 0}, {30, 40}};
  double out[4] = {-1, -1, -1, -1};
  CU_ASSERT_EQUAL(wpool_map(pool, norm2_task, p, 3, sizeof p[0], out,
                            sizeof out[0], 2, NULL),
                  0);
  CU_ASSERT_EQUAL(out[0], 5.0);
  CU_ASSERT_EQUAL(out[1], 25.0);
  CU_ASSERT_EQUAL(out[2], 0.0);
  void *data = NULL;
  size_t len = 0;
  CU_ASSERT_EQUAL(
      wpool_apply(pool, norm2_task, &p[1], sizeof p[1], &data, &len, NULL), 0);
  CU_ASSERT_EQUAL(len, sizeof(double));
  wpool_free(data);
  char *msg = NULL;
  wpool_result_t *r = NULL;
  CU_ASSERT_EQUAL_FATAL(wpool_apply_async(pool, norm2_task, &p[3],
                                          sizeof p[3], NULL, NULL, NULL, &r),
                        0);
  CU_ASSERT_EQUAL(wpool_result_get(r, WT_LONG_MS, NULL, NULL), WPOOL_ETASK);
  CU_ASSERT_EQUAL(wpool_result_task_code(r), 9);
  wpool_result_free(r);
  int wrong = 3;
  CU_ASSERT_EQUAL(
      wpool_apply(pool, norm2_task, &wrong, sizeof wrong, NULL, NULL, &msg),
      WPOOL_ETASK);
  CU_ASSERT_TRUE(wt_contains(msg, "norm2_task expects 16 bytes, got 4"));
  wpool_free(msg);
  wpool_destroy(pool);
}

/* Fails with code 7 and a message of about 1000 bytes. */
static int task_fail_long(const void *arg, size_t len, wpool_out_t *out) {
  (void)arg;
  (void)len;
  char msg[1001];
  memset(msg, 'm', sizeof msg - 1);
  msg[sizeof msg - 1] = '\0';
  return wpool_out_fail(out, 7, "%s", msg);
}
WPOOL_REGISTER(task_fail_long)

/* A chunk whose failure messages together pass the frame limit: every
   item still fails with its own code (process workers send the messages
   empty; they used to turn every item into WPOOL_E2BIG). */
static void test_messages_over_limit(void) {
  enum { N = 100 };
  wpool_options_t o;
  wt_options(&o, 1);
  o.max_frame = 4096;
  wpool_t *pool = NULL;
  CU_ASSERT_EQUAL_FATAL(wt_create(&pool, &o), 0);
  int in[N] = {0}, out[N];
  wpool_result_t *r = NULL;
  CU_ASSERT_EQUAL_FATAL(wpool_map_async(pool, task_fail_long, in, N,
                                        sizeof in[0], out, sizeof out[0], N,
                                        NULL, NULL, NULL, &r),
                        0);
  CU_ASSERT_EQUAL(wpool_result_wait(r, WT_LONG_MS), 0);
  CU_ASSERT_EQUAL(wpool_result_failed_count(r), (size_t)N);
  int wrong = 0;
  for (size_t k = 0; k < N; k++) {
    int code = 0, task_code = 0;
    wpool_result_failed_item(r, k, NULL, &code, &task_code, NULL);
    wrong += code != WPOOL_ETASK || task_code != 7;
  }
  CU_ASSERT_EQUAL(wrong, 0);
  wpool_result_free(r);
  wpool_destroy(pool);
}

static const wt_test_t tests[] = {
    {"messages_over_limit", test_messages_over_limit},
    {"typed_task", test_typed_task},
    {"out_append", test_out_append},
    {"progress", test_progress},
    {"refusal_messages", test_refusal_messages},
    {"map_every_failure", test_map_every_failure},
    {"map_crash_outcome", test_map_crash_outcome},
    {"pending_and_terminated", test_outcomes_pending_and_terminated},
    {NULL, NULL},
};

const wt_suite_t wt_suite_outcomes = {"outcomes", 1, 0, tests};
