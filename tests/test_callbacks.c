/*
 * Success and error callbacks: each runs exactly once, with the user
 * pointer, also for detached results; a slow callback holds up neither
 * wpool_result_get nor wpool_apply; wpool_join from a callback is refused.
 *
 * Callbacks run on a pool thread, where CUnit assertions are not safe, so
 * they only record what they saw and the test thread asserts afterwards.
 */
#include "harness.h"

#include <string.h>

typedef struct record {
  wt_mutex_t mu;
  wt_cond_t cv;
  int successes, errors;
  int wrong_user;    /* a callback got another user pointer */
  int wrong_state;   /* ready/successful disagreed with the callback kind */
  int value;         /* output seen by the last success callback */
  const void *data;  /* its output pointer */
  int error_code;    /* get() code seen by the last error callback */
  int task_code;
  int message_ok;    /* the error callback saw a message with "bad" */
} record_t;

static void record_init(record_t *rec) {
  memset(rec, 0, sizeof *rec);
  wt_mutex_init(&rec->mu);
  wt_cond_init(&rec->cv);
}

static void record_free(record_t *rec) {
  wt_mutex_destroy(&rec->mu);
  wt_cond_destroy(&rec->cv);
}

static void on_success(wpool_result_t *r, void *user) {
  record_t *rec = user;
  const void *data = NULL;
  size_t len = 0;
  int rc = wpool_result_get(r, 0, &data, &len);
  wt_mutex_lock(&rec->mu);
  rec->successes++;
  if (wpool_result_ready(r) != 1 || wpool_result_successful(r) != 1 ||
      rc != 0)
    rec->wrong_state++;
  rec->data = data;
  if (data != NULL && len == sizeof(int))
    memcpy(&rec->value, data, sizeof(int));
  wt_cond_broadcast(&rec->cv);
  wt_mutex_unlock(&rec->mu);
}

static void on_error(wpool_result_t *r, void *user) {
  record_t *rec = user;
  int rc = wpool_result_get(r, 0, NULL, NULL);
  wt_mutex_lock(&rec->mu);
  rec->errors++;
  if (wpool_result_ready(r) != 1 || wpool_result_successful(r) != 0)
    rec->wrong_state++;
  rec->error_code = rc;
  rec->task_code = wpool_result_task_code(r);
  rec->message_ok = wt_contains(wpool_result_message(r), "bad");
  wt_cond_broadcast(&rec->cv);
  wt_mutex_unlock(&rec->mu);
}

/* A user pointer that is not the record must never reach the callbacks. */
static void on_any_wrong(wpool_result_t *r, void *user) {
  (void)r;
  record_t *rec = user;
  wt_mutex_lock(&rec->mu);
  rec->wrong_user++;
  wt_mutex_unlock(&rec->mu);
}

/* Wait until *flag >= want under rec's lock, at most WT_LONG_MS. */
static int wait_count(wt_mutex_t *mu, wt_cond_t *cv, const int *flag,
                      int want) {
  long deadline = wt_now_ms() + WT_LONG_MS;
  wt_mutex_lock(mu);
  for (long left = WT_LONG_MS; *flag < want && left > 0;
       left = deadline - wt_now_ms())
    wt_cond_wait_ms(cv, mu, left);
  int ok = *flag >= want;
  wt_mutex_unlock(mu);
  return ok ? 0 : -1;
}

static void test_called_once(void) {
  wpool_t *pool = wt_pool(2);
  CU_ASSERT_PTR_NOT_NULL_FATAL(pool);
  record_t rec;
  record_init(&rec);
  int ok = 6, bad = 7;
  wpool_result_t *r1 = NULL, *r2 = NULL;
  CU_ASSERT_EQUAL(wpool_apply_async(pool, task_square, &ok, sizeof ok,
                                    on_success, on_error, &rec, &r1),
                  0);
  CU_ASSERT_EQUAL(wpool_apply_async(pool, task_fail, &bad, sizeof bad,
                                    on_success, on_error, &rec, &r2),
                  0);
  CU_ASSERT_EQUAL(wpool_result_get(r1, WT_LONG_MS, NULL, NULL), 0);
  CU_ASSERT_EQUAL(wpool_result_get(r2, WT_LONG_MS, NULL, NULL), WPOOL_ETASK);
  /* join returns only after every callback has returned. */
  CU_ASSERT_EQUAL(wpool_close(pool), 0);
  CU_ASSERT_EQUAL(wpool_join(pool), 0);
  CU_ASSERT_EQUAL(rec.successes, 1);
  CU_ASSERT_EQUAL(rec.errors, 1);
  CU_ASSERT_EQUAL(rec.wrong_state, 0);
  CU_ASSERT_EQUAL(rec.value, 36);
  CU_ASSERT_EQUAL(rec.error_code, WPOOL_ETASK);
  CU_ASSERT_EQUAL(rec.task_code, 7);
  CU_ASSERT(rec.message_ok);
  wpool_result_free(r1);
  wpool_result_free(r2);
  wpool_destroy(pool);
  record_free(&rec);
}

/* result == NULL: the pool owns the result and frees it after callbacks. */
static void test_detached(void) {
  wpool_t *pool = wt_pool(2);
  CU_ASSERT_PTR_NOT_NULL_FATAL(pool);
  record_t rec;
  record_init(&rec);
  int ok = 9, bad = 7;
  CU_ASSERT_EQUAL(wpool_apply_async(pool, task_square, &ok, sizeof ok,
                                    on_success, on_error, &rec, NULL),
                  0);
  CU_ASSERT_EQUAL(wpool_apply_async(pool, task_fail, &bad, sizeof bad,
                                    on_success, on_error, &rec, NULL),
                  0);
  /* Callbacks only (no handle at all) must also be accepted. */
  CU_ASSERT_EQUAL(wpool_apply_async(pool, task_square, &ok, sizeof ok, NULL,
                                    NULL, NULL, NULL),
                  0);
  CU_ASSERT_EQUAL(wpool_close(pool), 0);
  CU_ASSERT_EQUAL(wpool_join(pool), 0);
  CU_ASSERT_EQUAL(rec.successes, 1);
  CU_ASSERT_EQUAL(rec.errors, 1);
  CU_ASSERT_EQUAL(rec.wrong_state, 0);
  CU_ASSERT_EQUAL(rec.value, 81);
  CU_ASSERT_EQUAL(rec.error_code, WPOOL_ETASK);
  CU_ASSERT_EQUAL(rec.task_code, 7);
  wpool_destroy(pool);
  record_free(&rec);
}

/* Only the callback that matches the outcome runs, with the right user. */
static void test_only_matching_callback(void) {
  wpool_t *pool = wt_pool(1);
  CU_ASSERT_PTR_NOT_NULL_FATAL(pool);
  record_t rec;
  record_init(&rec);
  int ok = 2, bad = 7;
  CU_ASSERT_EQUAL(wpool_apply_async(pool, task_square, &ok, sizeof ok,
                                    on_success, on_any_wrong, &rec, NULL),
                  0);
  CU_ASSERT_EQUAL(wpool_apply_async(pool, task_fail, &bad, sizeof bad,
                                    on_any_wrong, on_error, &rec, NULL),
                  0);
  CU_ASSERT_EQUAL(wpool_close(pool), 0);
  CU_ASSERT_EQUAL(wpool_join(pool), 0);
  CU_ASSERT_EQUAL(rec.successes, 1);
  CU_ASSERT_EQUAL(rec.errors, 1);
  CU_ASSERT_EQUAL(rec.wrong_user, 0);
  wpool_destroy(pool);
  record_free(&rec);
}

static void test_map_async_callback(void) {
  enum { N = 20 };
  wpool_t *pool = wt_pool(2);
  CU_ASSERT_PTR_NOT_NULL_FATAL(pool);
  record_t rec;
  record_init(&rec);
  int in[N], out[N];
  for (int i = 0; i < N; i++)
    in[i] = i;
  CU_ASSERT_EQUAL(wpool_map_async(pool, task_square, in, N, sizeof(int), out,
                                  sizeof(int), 3, on_success, on_error, &rec,
                                  NULL),
                  0);
  CU_ASSERT_EQUAL(wpool_close(pool), 0);
  CU_ASSERT_EQUAL(wpool_join(pool), 0);
  CU_ASSERT_EQUAL(rec.successes, 1);
  CU_ASSERT_EQUAL(rec.errors, 0);
  CU_ASSERT_PTR_EQUAL(rec.data, out);
  for (int i = 0; i < N; i++)
    CU_ASSERT_EQUAL(out[i], i * i);
  wpool_destroy(pool);
  record_free(&rec);
}

/* A freed handle does not cancel the callbacks. */
static void test_callback_after_free(void) {
  wpool_t *pool = wt_pool(1);
  CU_ASSERT_PTR_NOT_NULL_FATAL(pool);
  record_t rec;
  record_init(&rec);
  wt_gate_t g;
  CU_ASSERT_EQUAL_FATAL(wt_gate_open(&g), 0);
  wt_gate_arg_t a = wt_gate_arg(&g, 3);
  wpool_result_t *r = NULL;
  CU_ASSERT_EQUAL(wpool_apply_async(pool, task_gate, &a, sizeof a, on_success,
                                    on_error, &rec, &r),
                  0);
  wpool_result_free(r);
  CU_ASSERT_EQUAL(wt_gate_release(&g, 1), 0);
  CU_ASSERT_EQUAL(wpool_close(pool), 0);
  CU_ASSERT_EQUAL(wpool_join(pool), 0);
  CU_ASSERT_EQUAL(rec.successes, 1);
  CU_ASSERT_EQUAL(rec.value, 3);
  wt_gate_close(&g);
  wpool_destroy(pool);
  record_free(&rec);
}

typedef struct stall {
  wt_mutex_t mu;
  wt_cond_t cv;
  int entered;
  int released;
  int others;
} stall_t;

static void on_stall(wpool_result_t *r, void *user) {
  (void)r;
  stall_t *s = user;
  wt_mutex_lock(&s->mu);
  s->entered = 1;
  wt_cond_broadcast(&s->cv);
  while (!s->released)
    wt_cond_wait(&s->cv, &s->mu);
  wt_mutex_unlock(&s->mu);
}

static void on_other(wpool_result_t *r, void *user) {
  (void)r;
  stall_t *s = user;
  wt_mutex_lock(&s->mu);
  s->others++;
  wt_mutex_unlock(&s->mu);
}

/*
 * While one callback is stuck, results of other tasks still reach
 * wpool_result_get and wpool_apply. Getting them is what releases the stuck
 * callback, so a library that routes delivery through the callback thread
 * fails here (after WT_LONG_MS) instead of passing by luck.
 */
static void test_slow_callback_no_stall(void) {
  enum { N = 8 };
  wpool_t *pool = wt_pool(2);
  CU_ASSERT_PTR_NOT_NULL_FATAL(pool);
  stall_t s;
  memset(&s, 0, sizeof s);
  wt_mutex_init(&s.mu);
  wt_cond_init(&s.cv);

  int one = 1;
  CU_ASSERT_EQUAL(wpool_apply_async(pool, task_square, &one, sizeof one,
                                    on_stall, on_stall, &s, NULL),
                  0);
  CU_ASSERT_EQUAL(wait_count(&s.mu, &s.cv, &s.entered, 1), 0);

  wpool_result_t *r[N] = {0};
  int stalled = 0;
  for (int i = 0; i < N; i++)
    CU_ASSERT_EQUAL(wpool_apply_async(pool, task_square, &i, sizeof i,
                                      on_other, on_other, &s, &r[i]),
                    0);
  for (int i = 0; i < N && !stalled; i++) {
    int y = -1;
    if (r[i] == NULL)
      continue;
    int rc = wt_result_int(r[i], WT_LONG_MS, &y);
    CU_ASSERT_EQUAL(rc, 0);
    CU_ASSERT_EQUAL(y, i * i);
    stalled = rc == WPOOL_ETIMEDOUT; /* one long wait shows it */
  }
  if (!stalled) { /* wpool_apply has no timeout */
    int y = -1;
    CU_ASSERT_EQUAL(wt_apply_int(pool, task_square, 12, &y, NULL), 0);
    CU_ASSERT_EQUAL(y, 144);
  }

  wt_mutex_lock(&s.mu);
  s.released = 1;
  wt_cond_broadcast(&s.cv);
  wt_mutex_unlock(&s.mu);

  CU_ASSERT_EQUAL(wpool_close(pool), 0);
  CU_ASSERT_EQUAL(wpool_join(pool), 0);
  CU_ASSERT_EQUAL(s.others, N); /* delayed, not dropped */
  for (int i = 0; i < N; i++)
    wpool_result_free(r[i]);
  wpool_destroy(pool);
  wt_mutex_destroy(&s.mu);
  wt_cond_destroy(&s.cv);
}

typedef struct joiner {
  wt_mutex_t mu;
  wt_cond_t cv;
  wpool_t *pool;
  int rc;
  int done;
} joiner_t;

static void on_join(wpool_result_t *r, void *user) {
  (void)r;
  joiner_t *j = user;
  int rc = wpool_join(j->pool);
  wt_mutex_lock(&j->mu);
  j->rc = rc;
  j->done = 1;
  wt_cond_broadcast(&j->cv);
  wt_mutex_unlock(&j->mu);
}

/*
 * The callback runs after close (its task is held at the gate until then),
 * so that the only reason for join to refuse is the deadlock, not the
 * pool's state.
 */
static void test_join_in_callback(void) {
  wpool_t *pool = wt_pool(1);
  CU_ASSERT_PTR_NOT_NULL_FATAL(pool);
  joiner_t j;
  memset(&j, 0, sizeof j);
  wt_mutex_init(&j.mu);
  wt_cond_init(&j.cv);
  j.pool = pool;
  j.rc = 12345;
  wt_gate_t g;
  CU_ASSERT_EQUAL_FATAL(wt_gate_open(&g), 0);
  wt_gate_arg_t a = wt_gate_arg(&g, 1);
  CU_ASSERT_EQUAL(wpool_apply_async(pool, task_gate, &a, sizeof a, on_join,
                                    on_join, &j, NULL),
                  0);
  CU_ASSERT_EQUAL(wpool_close(pool), 0);
  CU_ASSERT_EQUAL(wt_gate_release(&g, 1), 0);
  CU_ASSERT_EQUAL(wait_count(&j.mu, &j.cv, &j.done, 1), 0);
  CU_ASSERT_EQUAL(j.rc, WPOOL_EDEADLK);
  CU_ASSERT_EQUAL(wpool_join(pool), 0);
  wt_gate_close(&g);
  wpool_destroy(pool);
  wt_mutex_destroy(&j.mu);
  wt_cond_destroy(&j.cv);
}

static const wt_test_t tests[] = {
    {"called_once", test_called_once},
    {"detached", test_detached},
    {"only_matching_callback", test_only_matching_callback},
    {"map_async_callback", test_map_async_callback},
    {"callback_after_free", test_callback_after_free},
    {"slow_callback_no_stall", test_slow_callback_no_stall},
    {"join_in_callback", test_join_in_callback},
    {NULL, NULL},
};

const wt_suite_t wt_suite_callbacks = {"callbacks", 1, 0, tests};
