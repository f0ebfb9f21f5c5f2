/*
 * What a pool does about a worker that dies under a task: the default
 * chunk size under a time limit, opt-in retries (max_retries), and the ids
 * that tell a replacement from the worker it replaced. Attempts are
 * counted in a file the task appends to, since each attempt runs in a
 * process of its own; nothing here measures time.
 */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
  RUN_PLAIN,      /* succeed */
  RUN_CRASH_ONCE, /* crash unless the marker exists (then succeed) */
  RUN_CRASH,      /* crash, every time */
  RUN_FAIL,       /* report a failure of its own */
  RUN_HANG        /* never return */
};

typedef struct attempt_arg {
  int mode;
  int value;
  char marker[240]; /* one byte is appended per attempt */
} attempt_arg_t;

/* The size of the marker: how many attempts it counted. */
static long marker_size(const char *marker) {
  FILE *f = fopen(marker, "rb");
  long n = 0;
  if (!f)
    return 0;
  while (fgetc(f) != EOF)
    n++;
  fclose(f);
  return n;
}

/* Append one byte to the marker and say how many attempts it now holds.
   (Counted by reading it back: ftell on a stream in append mode is wrong
   before its first flush with Microsoft's C runtime.) */
static long count_attempt(const char *marker) {
  FILE *f = fopen(marker, "ab");
  if (!f)
    return -1;
  int ok = fputc('x', f) != EOF;
  ok = fclose(f) == 0 && ok;
  return ok ? marker_size(marker) : -1;
}

static int task_attempt(const void *arg, size_t len, wpool_out_t *out) {
  attempt_arg_t a;
  if (len != sizeof a)
    return wpool_out_fail(out, 1, "bad argument");
  memcpy(&a, arg, sizeof a);
  long n = a.mode == RUN_PLAIN ? 0 : count_attempt(a.marker);
  if (n < 0)
    return wpool_out_fail(out, 2, "cannot write %s", a.marker);
  int crash = a.mode == RUN_CRASH || (a.mode == RUN_CRASH_ONCE && n == 1);
  if (crash) {
    wt_no_core_dumps();
    abort();
  }
  switch (a.mode) {
  case RUN_FAIL:
    return wpool_out_fail(out, 5, "refused %d", a.value);
  case RUN_HANG:
    for (;;)
      wt_pause();
  default:
    break;
  }
  int y = a.value * a.value;
  return wpool_out_set(out, &y, sizeof y);
}
WPOOL_REGISTER(task_attempt)

/* A marker path of this test program, unique per call; the file is
   removed first. */
static void marker_path(char *buf, size_t cap) {
  static int seq;
  const char *dir = getenv("TMPDIR");
  if (!dir || !*dir)
    dir = getenv("TEMP");
  if (!dir || !*dir || strlen(dir) > 150)
    dir = ".";
  snprintf(buf, cap, "%s/wpool-attempts-%ld-%d", dir, wt_getpid(), ++seq);
  remove(buf);
}

static attempt_arg_t attempt(int mode, int value) {
  attempt_arg_t a;
  memset(&a, 0, sizeof a);
  a.mode = mode;
  a.value = value;
  if (mode != RUN_PLAIN)
    marker_path(a.marker, sizeof a.marker);
  return a;
}

/* How many attempts the marker counted; the marker is removed. */
static long attempts_of(const attempt_arg_t *a) {
  long n = marker_size(a->marker);
  remove(a->marker);
  return n;
}

static wpool_t *retry_pool(int processes, int max_retries, long limit_ms) {
  wpool_options_t o;
  wt_options(&o, processes);
  o.max_retries = max_retries;
  o.task_timeout_ms = limit_ms;
  wpool_t *pool = NULL;
  return wt_create(&pool, &o) == 0 ? pool : NULL;
}

static size_t reruns(wpool_t *pool) {
  wpool_stats_t st;
  memset(&st, 0, sizeof st);
  CU_ASSERT_EQUAL(wpool_stats(pool, &st, NULL, 0), 0);
  return st.tasks_rerun;
}

#define NEEDS_PROCESSES(why)                                                   \
  do {                                                                         \
    if (!wt_is_process())                                                      \
      WT_SKIP(why);                                                            \
  } while (0)

/* With a time limit, a map's default chunk is one item: a hung item fails
   alone, after one limit, and no other item is sent twice. An explicit
   chunk of 5 costs 5 items sent again (its split). */
static void test_limit_default_chunksize(void) {
  NEEDS_PROCESSES("time limits need process workers (a thread pool refuses "
                  "them with WPOOL_ENOTSUP)");
  enum { N = 250, HUNG = 100 };
  static int in[N], out[N];
  for (int i = 0; i < N; i++)
    in[i] = i == HUNG ? 2 : 1000 + i; /* task_hang_on_two hangs on 2 */
  wpool_t *pool = retry_pool(2, 0, 200);
  CU_ASSERT_PTR_NOT_NULL_FATAL(pool);
  wpool_result_t *r = NULL;
  CU_ASSERT_EQUAL_FATAL(wpool_map_async(pool, task_hang_on_two, in, N,
                                        sizeof *in, out, sizeof *out, 0, NULL,
                                        NULL, NULL, &r),
                        0);
  CU_ASSERT_EQUAL(wpool_result_get(r, WT_LONG_MS, NULL, NULL),
                  WPOOL_ETIMELIMIT);
  CU_ASSERT_EQUAL(wpool_result_failed_count(r), 1u);
  CU_ASSERT_EQUAL(wpool_result_item_code(r, HUNG), WPOOL_ETIMELIMIT);
  int wrong = 0;
  for (int i = 0; i < N; i++)
    wrong += i != HUNG && out[i] != in[i];
  CU_ASSERT_EQUAL(wrong, 0);
  CU_ASSERT_EQUAL(reruns(pool), 0u);
  wpool_result_free(r);

  /* The same with chunks of 5: the hung item's chunk is split, and its 4
     other items are sent again (its progress line names the hung one;
     without the line, MPI, its 5 items). */
  CU_ASSERT_EQUAL(wpool_map(pool, task_hang_on_two, in, 20, sizeof *in, out,
                            sizeof *out, 5, NULL),
                  0);
  in[7] = 2;
  CU_ASSERT_EQUAL(wpool_map(pool, task_hang_on_two, in, 20, sizeof *in, out,
                            sizeof *out, 5, NULL),
                  WPOOL_ETIMELIMIT);
  CU_ASSERT_EQUAL(reruns(pool), wt_transport ? 5u : 4u);
  wpool_destroy(pool);
}

/* A task that crashes on its first attempt only succeeds with one retry,
   for apply (pool option) and map (per call). */
static void test_retry_crash_once(void) {
  NEEDS_PROCESSES("a crash in a thread worker ends the program: there is "
                  "nothing to retry");
  wpool_t *pool = retry_pool(2, 1, 0);
  CU_ASSERT_PTR_NOT_NULL_FATAL(pool);
  attempt_arg_t a = attempt(RUN_CRASH_ONCE, 7);
  int *y = NULL;
  size_t len = 0;
  char *err = NULL;
  CU_ASSERT_EQUAL(
      wpool_apply(pool, task_attempt, &a, sizeof a, (void **)&y, &len, &err),
      0);
  CU_ASSERT_PTR_NULL(err);
  CU_ASSERT_TRUE(len == sizeof *y && y && *y == 49);
  wpool_free(y);
  wpool_free(err);
  CU_ASSERT_EQUAL(attempts_of(&a), 2);
  CU_ASSERT_EQUAL(reruns(pool), 1u);

  /* A map on a pool without retries, one per call; chunks of 1. */
  wpool_t *plain = retry_pool(2, 0, 0);
  CU_ASSERT_PTR_NOT_NULL_FATAL(plain);
  attempt_arg_t items[4];
  int out[4];
  for (int i = 0; i < 4; i++)
    items[i] = attempt(i == 2 ? RUN_CRASH_ONCE : RUN_PLAIN, i + 1);
  wpool_call_t call = {NULL, NULL, NULL, 0, 1};
  wpool_result_t *r = NULL;
  CU_ASSERT_EQUAL_FATAL(wpool_map_async_ex(plain, task_attempt, items, 4,
                                           sizeof *items, out, sizeof *out, 1,
                                           &call, &r),
                        0);
  CU_ASSERT_EQUAL(wpool_result_get(r, WT_LONG_MS, NULL, NULL), 0);
  for (int i = 0; i < 4; i++)
    CU_ASSERT_EQUAL(out[i], (i + 1) * (i + 1));
  CU_ASSERT_EQUAL(attempts_of(&items[2]), 2);
  CU_ASSERT_EQUAL(reruns(plain), 1u);
  wpool_result_free(r);

  /* The same through an iterator. */
  items[2] = attempt(RUN_CRASH_ONCE, 3);
  wpool_source_t src = wpool_source_array(items, 4, sizeof *items);
  wpool_iter_t *it = NULL;
  CU_ASSERT_EQUAL_FATAL(wpool_imap_ex(plain, task_attempt, &src, 1, &call, &it),
                        0);
  const void *data;
  int rc, got = 0;
  while ((rc = wpool_iter_next(it, WT_LONG_MS, &data, &len)) != WPOOL_EDONE) {
    CU_ASSERT_EQUAL_FATAL(rc, 0);
    int y = 0;
    if (len == sizeof y)
      memcpy(&y, data, sizeof y);
    CU_ASSERT_EQUAL(y, (got + 1) * (got + 1));
    got++;
  }
  CU_ASSERT_EQUAL(got, 4);
  CU_ASSERT_EQUAL(attempts_of(&items[2]), 2);
  CU_ASSERT_EQUAL(reruns(plain), 2u);
  wpool_iter_free(it);
  wpool_destroy(plain);
  wpool_destroy(pool);
}

/* Applies task_attempt to *a, expecting code want; returns the message. */
static char *apply_err(wpool_t *pool, attempt_arg_t *a, int want) {
  char *err = NULL;
  CU_ASSERT_EQUAL(
      wpool_apply(pool, task_attempt, a, sizeof *a, NULL, NULL, &err), want);
  return err;
}

/* The same, checking that the message holds has and does not hold lacks
   (either may be NULL). */
static void expect_apply(wpool_t *pool, attempt_arg_t *a, int want,
                         const char *has, const char *lacks) {
  char *err = apply_err(pool, a, want);
  if (has)
    CU_ASSERT_TRUE(wt_contains(err, has));
  if (lacks)
    CU_ASSERT_FALSE(wt_contains(err, lacks));
  wpool_free(err);
}

/* A task that always crashes runs max_retries + 1 times, and its message
   says so; a call may turn the pool's retries off. */
static void test_retry_always_crash(void) {
  NEEDS_PROCESSES("a crash in a thread worker ends the program: there is "
                  "nothing to retry");
  wpool_t *pool = retry_pool(2, 2, 0);
  CU_ASSERT_PTR_NOT_NULL_FATAL(pool);
  attempt_arg_t a = attempt(RUN_CRASH, 3);
  expect_apply(pool, &a, WPOOL_EWORKER, "failed on all 3 attempts", NULL);
  CU_ASSERT_EQUAL(attempts_of(&a), 3);
  CU_ASSERT_EQUAL(reruns(pool), 2u);

  a = attempt(RUN_CRASH, 3);
  wpool_call_t call = {NULL, NULL, NULL, 0, -1};
  wpool_result_t *r = NULL;
  CU_ASSERT_EQUAL_FATAL(
      wpool_apply_async_ex(pool, task_attempt, &a, sizeof a, &call, &r), 0);
  CU_ASSERT_EQUAL(wpool_result_get(r, WT_LONG_MS, NULL, NULL), WPOOL_EWORKER);
  CU_ASSERT_FALSE(wt_contains(wpool_result_message(r), "attempts"));
  wpool_result_free(r);
  CU_ASSERT_EQUAL(attempts_of(&a), 1);
  CU_ASSERT_EQUAL(reruns(pool), 2u);
  wt_assert_squares(pool, 8);
  wpool_destroy(pool);
}

/* A task past its time limit is retried like a crash. */
static void test_retry_time_limit(void) {
  NEEDS_PROCESSES("time limits need process workers (a thread pool refuses "
                  "them with WPOOL_ENOTSUP)");
  wpool_t *pool = retry_pool(1, 1, 100);
  CU_ASSERT_PTR_NOT_NULL_FATAL(pool);
  attempt_arg_t a = attempt(RUN_HANG, 0);
  char *err = apply_err(pool, &a, WPOOL_ETIMELIMIT);
  CU_ASSERT_TRUE(wt_contains(err, "time limit of 100 ms"));
  CU_ASSERT_TRUE(wt_contains(err, "failed on all 2 attempts"));
  wpool_free(err);
  CU_ASSERT_EQUAL(attempts_of(&a), 2);
  wpool_destroy(pool);
}

/* A failure the task reports itself is never retried, on any method. */
static void test_self_failure_not_retried(void) {
  wpool_t *pool = retry_pool(2, 3, 0);
  CU_ASSERT_PTR_NOT_NULL_FATAL(pool);
  attempt_arg_t a = attempt(RUN_FAIL, 4);
  expect_apply(pool, &a, WPOOL_ETASK, "refused 4", "attempts");
  CU_ASSERT_EQUAL(attempts_of(&a), 1);
  CU_ASSERT_EQUAL(reruns(pool), 0u);
  wpool_destroy(pool);
}

/* A negative max_retries is refused; a thread pool takes the option (it
   never has a death to retry). */
static void test_retry_options(void) {
  wpool_options_t o;
  wt_options(&o, 1);
  o.max_retries = -1;
  wpool_t *pool = NULL;
  CU_ASSERT_EQUAL(wpool_create(&pool, &o, NULL), WPOOL_EINVAL);
  CU_ASSERT_PTR_NULL(pool);
  pool = retry_pool(1, 5, 0);
  CU_ASSERT_PTR_NOT_NULL_FATAL(pool);
  wt_assert_squares(pool, 4);
  wpool_destroy(pool);
}

static int has_id(const wpool_worker_info_t *w, size_t n, uint64_t id) {
  for (size_t i = 0; i < n; i++)
    if (w[i].id == id)
      return 1;
  return 0;
}

/* Every worker has an id of its own, a replacement a new one; a thread
   worker reports its thread's id. */
static void test_worker_ids(void) {
  wpool_t *pool = wt_pool(2);
  CU_ASSERT_PTR_NOT_NULL_FATAL(pool);
  wpool_worker_info_t w[4];
  size_t n = 0;
  CU_ASSERT_EQUAL(wpool_workers(pool, w, 4, &n), 0);
  CU_ASSERT_EQUAL_FATAL(n, 2u);
  /* Ids count starts, from 1 (a start that failed and was tried again
     took one too). */
  CU_ASSERT_TRUE(w[0].id != 0 && w[1].id != 0 && w[0].id != w[1].id);
  for (size_t i = 0; i < n; i++) {
    if (wt_is_process()) {
      CU_ASSERT_TRUE(w[i].pid > 0 && w[i].pid != wt_getpid());
      CU_ASSERT_EQUAL(w[i].thread_id, 0u);
    } else {
      CU_ASSERT_EQUAL(w[i].pid, wt_getpid());
      CU_ASSERT_NOT_EQUAL(w[i].thread_id, 0u);
    }
  }
  if (!wt_is_process())
    CU_ASSERT_NOT_EQUAL(w[0].thread_id, w[1].thread_id);
  CU_ASSERT_EQUAL(wpool_workers(pool, NULL, 0, &n), 0);
  CU_ASSERT_EQUAL(n, 2u);
  CU_ASSERT_EQUAL(wpool_workers(pool, NULL, 1, &n), WPOOL_EINVAL);
  CU_ASSERT_EQUAL(wpool_workers(NULL, w, 4, &n), WPOOL_EINVAL);
  wpool_destroy(pool);

  /* One worker, replaced once: by a crash (processes), by
     maxtasksperchild (threads, whose successor is started before the
     result is delivered). */
  wpool_options_t o;
  wt_options(&o, 1);
  if (!wt_is_process())
    o.maxtasksperchild = 1;
  CU_ASSERT_EQUAL_FATAL(wt_create(&pool, &o), 0);
  CU_ASSERT_EQUAL(wpool_workers(pool, w, 4, &n), 0);
  CU_ASSERT_EQUAL_FATAL(n, 1u);
  uint64_t first = w[0].id;
  int y = 0;
  if (wt_is_process()) {
    CU_ASSERT_EQUAL(wt_apply_int(pool, task_crash, WT_CRASH_SEGV, &y, NULL),
                    WPOOL_EWORKER);
    CU_ASSERT_EQUAL(wt_apply_int(pool, task_square, 3, &y, NULL), 0);
  } else {
    CU_ASSERT_EQUAL(wt_apply_int(pool, task_square, 3, &y, NULL), 0);
  }
  CU_ASSERT_EQUAL(wpool_workers(pool, w, 4, &n), 0);
  CU_ASSERT_EQUAL(n, 1u);
  CU_ASSERT_TRUE(w[0].id > first);
  CU_ASSERT_FALSE(has_id(w, n, first));
  wpool_destroy(pool);
}

static const wt_test_t tests[] = {
    {"limit_default_chunksize", test_limit_default_chunksize},
    {"retry_crash_once", test_retry_crash_once},
    {"retry_always_crash", test_retry_always_crash},
    {"retry_time_limit", test_retry_time_limit},
    {"self_failure_not_retried", test_self_failure_not_retried},
    {"retry_options", test_retry_options},
    {"worker_ids", test_worker_ids},
    {NULL, NULL},
};

const wt_suite_t wt_suite_retries = {"retries", 1, 0, tests};
