/*
 * wpool_map and wpool_map_async: order, starmap items, fixed-size output
 * slots (zero fill, overflow), chunk sizes, failing items and the frame
 * limit.
 */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Deliberately never registered. */
static int unregistered(const void *arg, size_t len, wpool_out_t *out) {
  (void)arg;
  (void)len;
  (void)out;
  return 0;
}

/* Map task_square over 0..n-1 with chunksize; count wrong outputs. */
static int squares(wpool_t *pool, size_t n, size_t chunksize, int *rc) {
  int *in = malloc((n + 1) * sizeof(int));
  int *out = malloc((n + 1) * sizeof(int));
  int wrong = 0;
  if (in == NULL || out == NULL) {
    free(in);
    free(out);
    return -1;
  }
  for (size_t i = 0; i < n; i++) {
    in[i] = (int)i;
    out[i] = -1;
  }
  in[n] = 0;
  out[n] = 0x5a5a5a5a; /* a guard: the map must not write past n slots */
  *rc = wpool_map(pool, task_square, in, n, sizeof(int), out, sizeof(int),
                  chunksize, NULL);
  for (size_t i = 0; i < n; i++)
    wrong += out[i] != (int)(i * i);
  wrong += out[n] != 0x5a5a5a5a;
  free(in);
  free(out);
  return wrong;
}

static void test_in_order(void) {
  wpool_t *pool = wt_pool(2);
  CU_ASSERT_PTR_NOT_NULL_FATAL(pool);
  int rc = -1;
  CU_ASSERT_EQUAL(squares(pool, 100, 0, &rc), 0);
  CU_ASSERT_EQUAL(rc, 0);
  CU_ASSERT_EQUAL(squares(pool, 10000, 0, &rc), 0);
  CU_ASSERT_EQUAL(rc, 0);
  wpool_destroy(pool);
}

static void test_chunk_edges(void) {
  static const struct {
    size_t n, chunksize;
  } cases[] = {{0, 0},  {0, 3},   {1, 0},   {1, 1},    {1, 5},
               {3, 10}, {10, 3},  {10, 10}, {10, 1},   {10, 0},
               {10, 9}, {97, 4},  {1000, 0}, {1000, 7}, {1000, 1000}};
  wpool_t *pool = wt_pool(2);
  CU_ASSERT_PTR_NOT_NULL_FATAL(pool);
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    int rc = -1;
    int wrong = squares(pool, cases[i].n, cases[i].chunksize, &rc);
    CU_ASSERT_EQUAL(wrong, 0);
    CU_ASSERT_EQUAL(rc, 0);
    if (wrong != 0 || rc != 0)
      fprintf(stderr, "\n  n=%zu chunksize=%zu: rc %d, %d wrong\n",
              cases[i].n, cases[i].chunksize, rc, wrong);
  }
  wpool_destroy(pool);
}

/* A struct item carries several arguments: Python's starmap. */
static void test_starmap(void) {
  enum { N = 30 };
  wpool_t *pool = wt_pool(2);
  CU_ASSERT_PTR_NOT_NULL_FATAL(pool);
  wt_pair_t in[N];
  int out[N];
  for (int i = 0; i < N; i++) {
    in[i].a = i;
    in[i].b = i + 3;
    out[i] = -1;
  }
  CU_ASSERT_EQUAL(wpool_map(pool, task_mul, in, N, sizeof in[0], out,
                            sizeof out[0], 4, NULL),
                  0);
  for (int i = 0; i < N; i++)
    CU_ASSERT_EQUAL(out[i], i * (i + 3));
  wpool_destroy(pool);
}

/* Outputs shorter than the slot: the rest of the slot reads as zeros. */
static void test_zero_fill(void) {
  enum { N = 18, SLOT = 8 };
  wpool_t *pool = wt_pool(2);
  CU_ASSERT_PTR_NOT_NULL_FATAL(pool);
  int in[N];
  unsigned char out[N][SLOT];
  memset(out, 0xEE, sizeof out);
  for (int i = 0; i < N; i++)
    in[i] = i % (SLOT + 1); /* 0..8 bytes */
  CU_ASSERT_EQUAL(
      wpool_map(pool, task_bytes, in, N, sizeof(int), out, SLOT, 2, NULL), 0);
  for (int i = 0; i < N; i++)
    for (int b = 0; b < SLOT; b++)
      CU_ASSERT_EQUAL(out[i][b], b < in[i] ? in[i] : 0);
  wpool_destroy(pool);
}

/* An output longer than its slot fails that item only, with ERANGE. */
static void test_output_too_long(void) {
  enum { N = 4, SLOT = 8 };
  wpool_t *pool = wt_pool(2);
  CU_ASSERT_PTR_NOT_NULL_FATAL(pool);
  int in[N] = {2, 12, 3, 5};
  unsigned char out[N][SLOT];
  memset(out, 0xEE, sizeof out);
  char *msg = NULL;
  CU_ASSERT_EQUAL(
      wpool_map(pool, task_bytes, in, N, sizeof(int), out, SLOT, 1, &msg),
      WPOOL_ERANGE);
  CU_ASSERT(wt_contains(msg, "item 1"));
  wpool_free(msg);
  for (int i = 0; i < N; i++) {
    if (i == 1)
      continue;
    for (int b = 0; b < SLOT; b++)
      CU_ASSERT_EQUAL(out[i][b], b < in[i] ? in[i] : 0);
  }
  wpool_destroy(pool);
}

/* wpool_out_reserve hands out the slot itself; the rest is zero-filled. */
static void test_reserve_in_slot(void) {
  enum { N = 9, SLOT = 8 };
  wpool_t *pool = wt_pool(2);
  CU_ASSERT_PTR_NOT_NULL_FATAL(pool);
  int in[N];
  unsigned char out[N][SLOT];
  memset(out, 0xEE, sizeof out);
  for (int i = 0; i < N; i++)
    in[i] = i;
  CU_ASSERT_EQUAL(
      wpool_map(pool, task_reserve, in, N, sizeof(int), out, SLOT, 3, NULL),
      0);
  for (int i = 0; i < N; i++)
    for (int b = 0; b < SLOT; b++)
      CU_ASSERT_EQUAL(out[i][b], b < in[i] ? 0xAB : 0);
  /* Reserving more than the slot is refused, failing that item. */
  int over = SLOT + 1;
  CU_ASSERT_NOT_EQUAL(
      wpool_map(pool, task_reserve, &over, 1, sizeof(int), out, SLOT, 1, NULL),
      0);
  wpool_destroy(pool);
}

/*
 * Items 5 and 12 fail: the call reports item 5 (first in input order, not
 * first to finish) and every other item is still computed.
 */
static void test_failing_items(void) {
  enum { N = 20 };
  static const size_t chunks[] = {1, 4, 0};
  wpool_t *pool = wt_pool(2);
  CU_ASSERT_PTR_NOT_NULL_FATAL(pool);
  for (size_t c = 0; c < sizeof chunks / sizeof chunks[0]; c++) {
    int in[N], out[N];
    for (int i = 0; i < N; i++) {
      in[i] = (i == 5 || i == 12) ? -i : i;
      out[i] = -1;
    }
    char *msg = NULL;
    CU_ASSERT_EQUAL(wpool_map(pool, task_square, in, N, sizeof(int), out,
                              sizeof(int), chunks[c], &msg),
                    WPOOL_ETASK);
    CU_ASSERT(wt_contains(msg, "item 5"));
    CU_ASSERT(wt_contains(msg, "bad -5"));
    wpool_free(msg);
    for (int i = 0; i < N; i++)
      if (i != 5 && i != 12)
        CU_ASSERT_EQUAL(out[i], i * i);
  }
  wpool_destroy(pool);
}

static void test_async(void) {
  enum { N = 50 };
  wpool_t *pool = wt_pool(2);
  CU_ASSERT_PTR_NOT_NULL_FATAL(pool);
  int in[N], out[N];
  for (int i = 0; i < N; i++)
    in[i] = i;
  wpool_result_t *r = NULL;
  CU_ASSERT_EQUAL_FATAL(wpool_map_async(pool, task_square, in, N, sizeof(int),
                                        out, sizeof(int), 0, NULL, NULL, NULL,
                                        &r),
                        0);
  const void *data = NULL;
  size_t len = 0;
  CU_ASSERT_EQUAL(wpool_result_get(r, WT_LONG_MS, &data, &len), 0);
  CU_ASSERT_PTR_EQUAL(data, out);
  CU_ASSERT_EQUAL(len, N * sizeof(int));
  CU_ASSERT_EQUAL(wpool_result_successful(r), 1);
  for (int i = 0; i < N; i++)
    CU_ASSERT_EQUAL(out[i], i * i);
  wpool_result_free(r);

  /* n == 0 is ready at once and successful. */
  r = NULL;
  CU_ASSERT_EQUAL_FATAL(wpool_map_async(pool, task_square, in, 0, sizeof(int),
                                        out, sizeof(int), 0, NULL, NULL, NULL,
                                        &r),
                        0);
  CU_ASSERT_EQUAL(wpool_result_get(r, WT_LONG_MS, NULL, &len), 0);
  CU_ASSERT_EQUAL(len, 0);
  wpool_result_free(r);
  wpool_destroy(pool);
}

static void test_async_failure(void) {
  enum { N = 10 };
  wpool_t *pool = wt_pool(2);
  CU_ASSERT_PTR_NOT_NULL_FATAL(pool);
  int in[N], out[N];
  for (int i = 0; i < N; i++)
    in[i] = i == 5 ? -5 : i;
  wpool_result_t *r = NULL;
  CU_ASSERT_EQUAL_FATAL(wpool_map_async(pool, task_square, in, N, sizeof(int),
                                        out, sizeof(int), 1, NULL, NULL, NULL,
                                        &r),
                        0);
  CU_ASSERT_EQUAL(wpool_result_get(r, WT_LONG_MS, NULL, NULL), WPOOL_ETASK);
  CU_ASSERT_EQUAL(wpool_result_successful(r), 0);
  CU_ASSERT(wt_contains(wpool_result_message(r), "item 5"));
  CU_ASSERT_EQUAL(wpool_result_task_code(r), 7);
  wpool_result_free(r);
  for (int i = 0; i < N; i++)
    if (i != 5)
      CU_ASSERT_EQUAL(out[i], i * i);
  wpool_destroy(pool);
}

/* Chunks are cut to fit the frame limit, whatever chunksize asks for. */
static void test_frame_limit(void) {
  enum { N = 4000 };
  wpool_options_t o;
  wpool_t *pool = NULL;
  wt_options(&o, 2);
  o.max_frame = 4096;
  CU_ASSERT_EQUAL_FATAL(wt_create(&pool, &o), 0);
  int rc = -1;
  CU_ASSERT_EQUAL(squares(pool, N, N, &rc), 0);
  CU_ASSERT_EQUAL(rc, 0);
  CU_ASSERT_EQUAL(squares(pool, N, 0, &rc), 0);
  CU_ASSERT_EQUAL(rc, 0);

  /* One item over the limit cannot be sent at all; earlier work survives. */
  int x = 4, y = 0;
  wpool_result_t *before = NULL;
  CU_ASSERT_EQUAL(wpool_apply_async(pool, task_square, &x, sizeof x, NULL,
                                    NULL, NULL, &before),
                  0);
  static unsigned char big[2][8192];
  static unsigned char out[2][8];
  wpool_result_t *r = NULL;
  CU_ASSERT_EQUAL(wpool_map(pool, task_echo, big, 2, sizeof big[0], out,
                            sizeof out[0], 1, NULL),
                  WPOOL_E2BIG);
  CU_ASSERT_EQUAL(wpool_map_async(pool, task_echo, big, 2, sizeof big[0], out,
                                  sizeof out[0], 1, NULL, NULL, NULL, &r),
                  WPOOL_E2BIG);
  CU_ASSERT_EQUAL(wt_result_int(before, WT_LONG_MS, &y), 0);
  CU_ASSERT_EQUAL(y, 16);
  wpool_result_free(before);
  wpool_destroy(pool);
}

static void test_invalid(void) {
  wpool_t *pool = wt_pool(1);
  CU_ASSERT_PTR_NOT_NULL_FATAL(pool);
  int in[3] = {1, 2, 3}, out[3];
  wpool_result_t *r = NULL;
  CU_ASSERT_EQUAL(wpool_map(NULL, task_square, in, 3, sizeof(int), out,
                            sizeof(int), 0, NULL),
                  WPOOL_EINVAL);
  CU_ASSERT_EQUAL(
      wpool_map(pool, NULL, in, 3, sizeof(int), out, sizeof(int), 0, NULL),
      WPOOL_EINVAL);
  CU_ASSERT_EQUAL(wpool_map(pool, unregistered, in, 3, sizeof(int), out,
                            sizeof(int), 0, NULL),
                  WPOOL_ENOFUNC);
  CU_ASSERT_EQUAL(wpool_map_async(NULL, task_square, in, 3, sizeof(int), out,
                                  sizeof(int), 0, NULL, NULL, NULL, &r),
                  WPOOL_EINVAL);
  CU_ASSERT_EQUAL(wpool_map_async(pool, NULL, in, 3, sizeof(int), out,
                                  sizeof(int), 0, NULL, NULL, NULL, &r),
                  WPOOL_EINVAL);
  CU_ASSERT_EQUAL(wpool_map_async(pool, unregistered, in, 3, sizeof(int), out,
                                  sizeof(int), 0, NULL, NULL, NULL, &r),
                  WPOOL_ENOFUNC);
  wpool_destroy(pool);
}

/*
 * Frames many times a pipe's capacity, both ways: 8 items of 2 MiB in chunks
 * of 4 (8 MiB TASK frames) whose outputs are 2 MiB each (8 MiB RESULT
 * frames). The I/O loop must keep writing and reading in parts.
 */
static void test_huge_frames(void) {
  enum { N = 8, ITEM = 2 << 20 };
  unsigned char *in = malloc((size_t)N * ITEM);
  unsigned char *out = malloc((size_t)N * ITEM);
  CU_ASSERT_PTR_NOT_NULL_FATAL(in);
  CU_ASSERT_PTR_NOT_NULL_FATAL(out);
  for (size_t i = 0; i < (size_t)N * ITEM; i++)
    in[i] = (unsigned char)(i * 2654435761u >> 24);
  memset(out, 0, (size_t)N * ITEM);
  wpool_t *pool = wt_pool(2);
  CU_ASSERT_PTR_NOT_NULL_FATAL(pool);
  char *err = NULL;
  CU_ASSERT_EQUAL(wpool_map(pool, task_echo, in, N, ITEM, out, ITEM, 4, &err),
                  0);
  wpool_free(err);
  CU_ASSERT_EQUAL(memcmp(in, out, (size_t)N * ITEM), 0);
  wpool_destroy(pool);
  free(in);
  free(out);
}

static const wt_test_t tests[] = {
    {"in_order", test_in_order},
    {"chunk_edges", test_chunk_edges},
    {"starmap", test_starmap},
    {"zero_fill", test_zero_fill},
    {"output_too_long", test_output_too_long},
    {"reserve_in_slot", test_reserve_in_slot},
    {"failing_items", test_failing_items},
    {"async", test_async},
    {"async_failure", test_async_failure},
    {"frame_limit", test_frame_limit},
    {"invalid", test_invalid},
    {"huge_frames", test_huge_frames},
    {NULL, NULL},
};

const wt_suite_t wt_suite_map = {"map", 1, 0, tests};
