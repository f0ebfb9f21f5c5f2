/*
 * wpool_imap and wpool_imap_unordered over array sources: order, indices,
 * variable-size outputs, failing items, timeouts and the end of iteration.
 * Producer sources are in test_producer.c.
 */
#include "harness.h"

#include <stdlib.h>
#include <string.h>

/* Deliberately never registered. */
static int unregistered(const void *arg, size_t len, wpool_out_t *out) {
  (void)arg;
  (void)len;
  (void)out;
  return 0;
}

typedef int (*imap_fn)(wpool_t *, wpool_fn, const wpool_source_t *, size_t,
                       wpool_iter_t **);

/*
 * Run task_square over 0..n-1 and check every result: in input order with
 * matching indices when ordered, else each index exactly once. Then the
 * iterator must say EDONE, and keep saying it.
 */
static void check_squares(wpool_t *pool, int ordered, size_t n,
                          size_t chunksize) {
  int *in = malloc((n + 1) * sizeof(int));
  unsigned char *seen = calloc(n + 1, 1);
  CU_ASSERT_FATAL(in != NULL && seen != NULL);
  for (size_t i = 0; i < n; i++)
    in[i] = (int)i;
  wpool_source_t src = wpool_source_array(in, n, sizeof(int));
  wpool_iter_t *it = NULL;
  imap_fn start = ordered ? wpool_imap : wpool_imap_unordered;
  int rc = start(pool, task_square, &src, chunksize, &it);
  CU_ASSERT_EQUAL(rc, 0);
  size_t got = 0, wrong = 0;
  while (rc == 0 && got < n) {
    const void *data = NULL;
    size_t len = 0;
    rc = wpool_iter_next(it, WT_LONG_MS, &data, &len);
    CU_ASSERT_EQUAL(rc, 0);
    if (rc != 0)
      break;
    size_t idx = wpool_iter_index(it);
    int v = -1;
    if (data != NULL && len == sizeof v)
      memcpy(&v, data, sizeof v);
    if (idx >= n || seen[idx] || v != (int)(idx * idx) ||
        (ordered && idx != got))
      wrong++;
    if (idx < n)
      seen[idx] = 1;
    got++;
  }
  CU_ASSERT_EQUAL(got, n);
  CU_ASSERT_EQUAL(wrong, 0);
  if (rc == 0) {
    CU_ASSERT_EQUAL(wpool_iter_next(it, WT_LONG_MS, NULL, NULL), WPOOL_EDONE);
    CU_ASSERT_EQUAL(wpool_iter_next(it, 0, NULL, NULL), WPOOL_EDONE);
  }
  wpool_iter_free(it);
  free(in);
  free(seen);
}

static void test_ordered(void) {
  static const size_t chunks[] = {0, 1, 3, 7, 100};
  wpool_t *pool = wt_pool(2);
  CU_ASSERT_PTR_NOT_NULL_FATAL(pool);
  for (size_t c = 0; c < sizeof chunks / sizeof chunks[0]; c++)
    check_squares(pool, 1, 40, chunks[c]);
  check_squares(pool, 1, 1, 1);
  check_squares(pool, 1, 5000, 16);
  wpool_destroy(pool);
}

static void test_unordered(void) {
  static const size_t chunks[] = {0, 1, 4, 100};
  wpool_t *pool = wt_pool(2);
  CU_ASSERT_PTR_NOT_NULL_FATAL(pool);
  for (size_t c = 0; c < sizeof chunks / sizeof chunks[0]; c++)
    check_squares(pool, 0, 40, chunks[c]);
  check_squares(pool, 0, 5000, 16);
  wpool_destroy(pool);
}

static void test_empty(void) {
  wpool_t *pool = wt_pool(1);
  CU_ASSERT_PTR_NOT_NULL_FATAL(pool);
  int dummy = 0;
  wpool_source_t src = wpool_source_array(&dummy, 0, sizeof dummy);
  for (int ordered = 0; ordered < 2; ordered++) {
    wpool_iter_t *it = NULL;
    imap_fn start = ordered ? wpool_imap : wpool_imap_unordered;
    CU_ASSERT_EQUAL_FATAL(start(pool, task_square, &src, 1, &it), 0);
    CU_ASSERT_EQUAL(wpool_iter_next(it, WT_LONG_MS, NULL, NULL), WPOOL_EDONE);
    CU_ASSERT_EQUAL(wpool_iter_next(it, WT_LONG_MS, NULL, NULL), WPOOL_EDONE);
    wpool_iter_free(it);
  }
  wpool_destroy(pool);
}

/* Item i yields i bytes of value i & 0xff: outputs of any size, even 0. */
static void test_variable_sizes(void) {
  enum { N = 300 };
  wpool_t *pool = wt_pool(2);
  CU_ASSERT_PTR_NOT_NULL_FATAL(pool);
  int in[N];
  for (int i = 0; i < N; i++)
    in[i] = i;
  wpool_source_t src = wpool_source_array(in, N, sizeof(int));
  for (int ordered = 0; ordered < 2; ordered++) {
    wpool_iter_t *it = NULL;
    imap_fn start = ordered ? wpool_imap : wpool_imap_unordered;
    CU_ASSERT_EQUAL_FATAL(start(pool, task_bytes, &src, 5, &it), 0);
    int got = 0, wrong = 0, rc;
    const void *data;
    size_t len;
    while ((rc = wpool_iter_next(it, WT_LONG_MS, &data, &len)) == 0) {
      size_t idx = wpool_iter_index(it);
      if (idx >= N || len != idx || (ordered && idx != (size_t)got))
        wrong++;
      else
        for (size_t b = 0; b < len; b++)
          wrong += ((const unsigned char *)data)[b] != (idx & 0xff);
      got++;
    }
    CU_ASSERT_EQUAL(rc, WPOOL_EDONE);
    CU_ASSERT_EQUAL(got, N);
    CU_ASSERT_EQUAL(wrong, 0);
    wpool_iter_free(it);
  }
  wpool_destroy(pool);
}

/* A failing item is reported in its place and the iteration goes on. */
static void test_failing_item(void) {
  enum { N = 10, BAD = 4 };
  wpool_t *pool = wt_pool(2);
  CU_ASSERT_PTR_NOT_NULL_FATAL(pool);
  int in[N];
  for (int i = 0; i < N; i++)
    in[i] = i == BAD ? -BAD : i;
  wpool_source_t src = wpool_source_array(in, N, sizeof(int));
  for (int ordered = 0; ordered < 2; ordered++) {
    wpool_iter_t *it = NULL;
    imap_fn start = ordered ? wpool_imap : wpool_imap_unordered;
    CU_ASSERT_EQUAL_FATAL(start(pool, task_square, &src, 3, &it), 0);
    int got = 0, failures = 0, wrong = 0, rc;
    const void *data;
    size_t len;
    while (got <= N &&
           (rc = wpool_iter_next(it, WT_LONG_MS, &data, &len)) != WPOOL_EDONE) {
      size_t idx = wpool_iter_index(it);
      if (ordered && idx != (size_t)got)
        wrong++;
      got++;
      if (rc == WPOOL_ETASK) {
        failures++;
        CU_ASSERT_EQUAL(idx, BAD);
        CU_ASSERT(wt_contains(wpool_iter_message(it), "bad -4"));
        CU_ASSERT_EQUAL(wpool_iter_task_code(it), 7);
        continue;
      }
      CU_ASSERT_EQUAL(rc, 0);
      if (rc != 0)
        break;
      if (len != sizeof(int) || *(const int *)data != (int)(idx * idx))
        wrong++;
    }
    CU_ASSERT_EQUAL(got, N);
    CU_ASSERT_EQUAL(failures, 1);
    CU_ASSERT_EQUAL(wrong, 0);
    wpool_iter_free(it);
  }
  wpool_destroy(pool);
}

/* next() times out while the first item is held, then delivers in order. */
static void test_next_timeout(void) {
  enum { N = 3 };
  wpool_t *pool = wt_pool(2);
  CU_ASSERT_PTR_NOT_NULL_FATAL(pool);
  wt_gate_t g;
  CU_ASSERT_EQUAL_FATAL(wt_gate_open(&g), 0);
  wt_gate_arg_t in[N];
  for (int i = 0; i < N; i++)
    in[i] = wt_gate_arg(&g, 10 + i);
  wpool_source_t src = wpool_source_array(in, N, sizeof in[0]);
  for (int ordered = 0; ordered < 2; ordered++) {
    wpool_iter_t *it = NULL;
    imap_fn start = ordered ? wpool_imap : wpool_imap_unordered;
    CU_ASSERT_EQUAL(start(pool, task_gate, &src, 1, &it), 0);
    if (it == NULL)
      break;
    CU_ASSERT_EQUAL(wt_gate_wait_started(&g, 1), 0);
    const void *data;
    size_t len;
    CU_ASSERT_EQUAL(wpool_iter_next(it, WT_SHORT_MS, &data, &len),
                    WPOOL_ETIMEDOUT);
    CU_ASSERT_EQUAL(wpool_iter_next(it, 0, &data, &len), WPOOL_ETIMEDOUT);
    CU_ASSERT_EQUAL(wt_gate_release(&g, N), 0);
    int sum = 0;
    for (int i = 0; i < N; i++) {
      int rc = wpool_iter_next(it, WT_LONG_MS, &data, &len);
      CU_ASSERT_EQUAL(rc, 0);
      if (rc != 0)
        break;
      size_t idx = wpool_iter_index(it);
      if (ordered)
        CU_ASSERT_EQUAL(idx, (size_t)i);
      CU_ASSERT(idx < N && len == sizeof(int) &&
                *(const int *)data == 10 + (int)idx);
      sum += (int)idx;
    }
    CU_ASSERT_EQUAL(sum, 0 + 1 + 2);
    CU_ASSERT_EQUAL(wpool_iter_next(it, WT_LONG_MS, &data, &len), WPOOL_EDONE);
    wpool_iter_free(it);
    /* Every item ran, so every item announced itself: drain those marks so
       that the next round waits for its own. */
    CU_ASSERT_EQUAL(wt_gate_wait_started(&g, N - 1), 0);
  }
  wt_gate_close(&g);
  wpool_destroy(pool);
}

/* Freeing an unfinished iterator drops its work; the pool carries on. */
static void test_free_early(void) {
  enum { N = 2000 };
  wpool_t *pool = wt_pool(2);
  CU_ASSERT_PTR_NOT_NULL_FATAL(pool);
  static int in[N];
  for (int i = 0; i < N; i++)
    in[i] = i;
  wpool_source_t src = wpool_source_array(in, N, sizeof(int));
  for (int ordered = 0; ordered < 2; ordered++) {
    wpool_iter_t *it = NULL;
    imap_fn start = ordered ? wpool_imap : wpool_imap_unordered;
    CU_ASSERT_EQUAL_FATAL(start(pool, task_square, &src, 2, &it), 0);
    for (int i = 0; i < 3; i++)
      CU_ASSERT_EQUAL(wpool_iter_next(it, WT_LONG_MS, NULL, NULL), 0);
    wpool_iter_free(it);
  }
  int y = 0;
  CU_ASSERT_EQUAL(wt_apply_int(pool, task_square, 8, &y, NULL), 0);
  CU_ASSERT_EQUAL(y, 64);
  wpool_destroy(pool);
}

static void test_invalid(void) {
  wpool_options_t o;
  wpool_t *pool = NULL;
  wt_options(&o, 1);
  o.max_frame = 4096;
  CU_ASSERT_EQUAL_FATAL(wt_create(&pool, &o), 0);
  int in[3] = {1, 2, 3};
  wpool_source_t src = wpool_source_array(in, 3, sizeof(int));
  for (int ordered = 0; ordered < 2; ordered++) {
    imap_fn start = ordered ? wpool_imap : wpool_imap_unordered;
    wpool_iter_t *it = NULL;
    CU_ASSERT_EQUAL(start(NULL, task_square, &src, 1, &it), WPOOL_EINVAL);
    CU_ASSERT_EQUAL(start(pool, NULL, &src, 1, &it), WPOOL_EINVAL);
    CU_ASSERT_EQUAL(start(pool, task_square, NULL, 1, &it), WPOOL_EINVAL);
    CU_ASSERT_EQUAL(start(pool, task_square, &src, 1, NULL), WPOOL_EINVAL);
    CU_ASSERT_EQUAL(start(pool, unregistered, &src, 1, &it), WPOOL_ENOFUNC);
    static unsigned char big[2][8192];
    wpool_source_t bigsrc = wpool_source_array(big, 2, sizeof big[0]);
    CU_ASSERT_EQUAL(start(pool, task_echo, &bigsrc, 1, &it), WPOOL_E2BIG);
  }
  int y = 0;
  CU_ASSERT_EQUAL(wt_apply_int(pool, task_square, 3, &y, NULL), 0);
  CU_ASSERT_EQUAL(y, 9);
  wpool_destroy(pool);
}

static const wt_test_t tests[] = {
    {"ordered", test_ordered},
    {"unordered", test_unordered},
    {"empty", test_empty},
    {"variable_sizes", test_variable_sizes},
    {"failing_item", test_failing_item},
    {"next_timeout", test_next_timeout},
    {"free_early", test_free_early},
    {"invalid", test_invalid},
    {NULL, NULL},
};

const wt_suite_t wt_suite_imap = {"imap", 1, 0, tests};
