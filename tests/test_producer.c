/*
 * Iterators over lazy producer sources: results, a failing producer, and the
 * window that bounds how far the producer may run ahead of the consumer.
 *
 * The bound is checked by counting, not by timing: the producer records how
 * many items it has handed out minus how many the test has consumed, and the
 * maximum of that may never exceed what the window allows.
 */
#include "harness.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

typedef struct prod {
  long n;       /* items to produce */
  long fail_at; /* index at which to fail, or -1 */
  int var_len;  /* produce item i as i % 50 bytes instead of an int */
  long next;    /* only touched by the producer (one call at a time) */
  int value;
  unsigned char bytes[64];
  atomic_long produced;
  atomic_long consumed;
  atomic_long max_ahead;
} prod_t;

static void prod_init(prod_t *p, long n, long fail_at) {
  memset(p, 0, sizeof *p);
  p->n = n;
  p->fail_at = fail_at;
}

static int produce(void *user, const void **item, size_t *len) {
  prod_t *p = user;
  if (p->next == p->fail_at)
    return -1;
  if (p->next >= p->n)
    return 0;
  long i = p->next++;
  if (p->var_len) {
    /* One buffer reused for every item: the pool copies before the next
       call, as documented. */
    *len = (size_t)(i % 50);
    memset(p->bytes, (int)(i & 0xff), *len);
    *item = p->bytes;
  } else {
    p->value = (int)i;
    *item = &p->value;
    *len = sizeof p->value;
  }
  long ahead = atomic_fetch_add(&p->produced, 1) + 1 - atomic_load(&p->consumed);
  long seen = atomic_load(&p->max_ahead);
  while (ahead > seen && !atomic_compare_exchange_weak(&p->max_ahead, &seen,
                                                       ahead))
    ;
  return 1;
}

typedef int (*imap_fn)(wpool_t *, wpool_fn, const wpool_source_t *, size_t,
                       wpool_iter_t **);

static wpool_iter_t *start(wpool_t *pool, int ordered, wpool_fn fn, prod_t *p,
                           size_t window, size_t chunksize) {
  wpool_source_t src = wpool_source_producer(produce, p);
  src.window = window;
  wpool_iter_t *it = NULL;
  imap_fn f = ordered ? wpool_imap : wpool_imap_unordered;
  CU_ASSERT_EQUAL(f(pool, fn, &src, chunksize, &it), 0);
  return it;
}

/*
 * Consume squares until the iterator stops; return the stopping code and
 * count wrong results (value, order, duplicates) into *wrong. seen must have
 * room for p->n entries.
 */
static int drain_squares(wpool_iter_t *it, int ordered, prod_t *p,
                         unsigned char *seen, long *got, long *wrong) {
  int rc;
  const void *data;
  size_t len;
  *got = *wrong = 0;
  while ((rc = wpool_iter_next(it, WT_LONG_MS, &data, &len)) == 0) {
    atomic_fetch_add(&p->consumed, 1);
    size_t idx = wpool_iter_index(it);
    int v = -1;
    if (len == sizeof v)
      memcpy(&v, data, sizeof v);
    if (idx >= (size_t)p->n || seen[idx] || v != (int)(idx * idx) ||
        (ordered && idx != (size_t)*got))
      (*wrong)++;
    if (idx < (size_t)p->n)
      seen[idx] = 1;
    (*got)++;
  }
  return rc;
}

static void run_all(int ordered) {
  enum { N = 300 };
  static const size_t chunks[] = {1, 7};
  wpool_t *pool = wt_pool(2);
  CU_ASSERT_PTR_NOT_NULL_FATAL(pool);
  for (size_t c = 0; c < 2; c++) {
    prod_t p;
    unsigned char seen[N] = {0};
    long got, wrong;
    prod_init(&p, N, -1);
    wpool_iter_t *it = start(pool, ordered, task_square, &p, 0, chunks[c]);
    if (it == NULL)
      continue;
    CU_ASSERT_EQUAL(drain_squares(it, ordered, &p, seen, &got, &wrong),
                    WPOOL_EDONE);
    CU_ASSERT_EQUAL(got, N);
    CU_ASSERT_EQUAL(wrong, 0);
    CU_ASSERT_EQUAL(wpool_iter_next(it, 0, NULL, NULL), WPOOL_EDONE);
    wpool_iter_free(it);
  }
  wpool_destroy(pool);
}

static void test_ordered(void) { run_all(1); }
static void test_unordered(void) { run_all(0); }

static void test_empty(void) {
  wpool_t *pool = wt_pool(1);
  CU_ASSERT_PTR_NOT_NULL_FATAL(pool);
  for (int ordered = 0; ordered < 2; ordered++) {
    prod_t p;
    prod_init(&p, 0, -1);
    wpool_iter_t *it = start(pool, ordered, task_square, &p, 0, 3);
    if (it == NULL)
      continue;
    CU_ASSERT_EQUAL(wpool_iter_next(it, WT_LONG_MS, NULL, NULL), WPOOL_EDONE);
    CU_ASSERT_EQUAL(wpool_iter_next(it, 0, NULL, NULL), WPOOL_EDONE);
    wpool_iter_free(it);
  }
  wpool_destroy(pool);
}

/* Items of different sizes, from one reused buffer, echoed back. */
static void test_variable_items(void) {
  enum { N = 200 };
  wpool_t *pool = wt_pool(2);
  CU_ASSERT_PTR_NOT_NULL_FATAL(pool);
  prod_t p;
  prod_init(&p, N, -1);
  p.var_len = 1;
  wpool_iter_t *it = start(pool, 1, task_echo, &p, 0, 4);
  if (it != NULL) {
    int rc, got = 0, wrong = 0;
    const void *data;
    size_t len;
    while ((rc = wpool_iter_next(it, WT_LONG_MS, &data, &len)) == 0) {
      size_t idx = wpool_iter_index(it);
      if (idx != (size_t)got || len != idx % 50)
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

/*
 * The producer fails at item K: every item before K's chunk is yielded
 * (items of K's own chunk may or may not be), nothing from K on, then
 * EPRODUCER once, then EDONE; and the pool still serves new work.
 */
static void test_producer_fails(void) {
  enum { N = 30, K = 17 };
  static const size_t chunks[] = {1, 5};
  wpool_t *pool = wt_pool(2);
  CU_ASSERT_PTR_NOT_NULL_FATAL(pool);
  for (int ordered = 0; ordered < 2; ordered++) {
    for (size_t c = 0; c < 2; c++) {
      prod_t p;
      unsigned char seen[N] = {0};
      long got, wrong;
      size_t chunk_start = K / chunks[c] * chunks[c];
      prod_init(&p, N, K);
      wpool_iter_t *it = start(pool, ordered, task_square, &p, 0, chunks[c]);
      if (it == NULL)
        continue;
      CU_ASSERT_EQUAL(drain_squares(it, ordered, &p, seen, &got, &wrong),
                      WPOOL_EPRODUCER);
      CU_ASSERT_EQUAL(wrong, 0);
      for (size_t i = 0; i < N; i++) {
        if (i < chunk_start)
          CU_ASSERT(seen[i]);
        if (i >= K)
          CU_ASSERT(!seen[i]);
      }
      CU_ASSERT_EQUAL(wpool_iter_next(it, WT_LONG_MS, NULL, NULL),
                      WPOOL_EDONE);
      CU_ASSERT_EQUAL(wpool_iter_next(it, 0, NULL, NULL), WPOOL_EDONE);
      wpool_iter_free(it);
    }
  }
  int y = 0;
  CU_ASSERT_EQUAL(wt_apply_int(pool, task_square, 13, &y, NULL), 0);
  CU_ASSERT_EQUAL(y, 169);
  wpool_destroy(pool);
}

/*
 * A long input with a small window completes, and the producer never gets
 * more than the window allows ahead of the consumer. The allowance is one
 * chunk more than window x chunksize: the library may learn that a chunk was
 * consumed (and pull the next one) a moment before this test counts it.
 */
static void check_window(int ordered, long n, size_t window, size_t chunksize,
                         size_t workers) {
  wpool_t *pool = wt_pool((int)workers);
  CU_ASSERT_PTR_NOT_NULL_FATAL(pool);
  static unsigned char seen[100000];
  CU_ASSERT_FATAL(n <= (long)sizeof seen);
  memset(seen, 0, sizeof seen);
  prod_t p;
  long got, wrong;
  prod_init(&p, n, -1);
  wpool_iter_t *it = start(pool, ordered, task_square, &p, window, chunksize);
  if (it != NULL) {
    CU_ASSERT_EQUAL(drain_squares(it, ordered, &p, seen, &got, &wrong),
                    WPOOL_EDONE);
    CU_ASSERT_EQUAL(got, n);
    CU_ASSERT_EQUAL(wrong, 0);
    wpool_iter_free(it);
  }
  /* The documented default: 4096 / chunksize chunks per worker, between 4
     and 32. */
  size_t per = 4096 / chunksize;
  per = per > 32 ? 32 : per < 4 ? 4 : per;
  size_t w = window ? window : per * workers;
  long limit = (long)((w + 1) * chunksize);
  long max_ahead = atomic_load(&p.max_ahead);
  CU_ASSERT(max_ahead <= limit);
  if (max_ahead > limit)
    fprintf(stderr, "\n  producer ran %ld items ahead; window allows %ld\n",
            max_ahead, limit);
  wpool_destroy(pool);
}

static void test_window_small(void) { check_window(1, 100000, 2, 50, 2); }
static void test_window_unordered(void) { check_window(0, 100000, 2, 100, 2); }
static void test_window_default(void) { check_window(1, 5000, 0, 10, 2); }
/* Large chunks: the default window shrinks to hold ~4096 items per worker. */
static void test_window_default_big_chunks(void) {
  check_window(1, 100000, 0, 2048, 2);
}
static void test_window_one(void) { check_window(1, 2000, 1, 1, 2); }

static const wt_test_t tests[] = {
    {"ordered", test_ordered},
    {"unordered", test_unordered},
    {"empty", test_empty},
    {"variable_items", test_variable_items},
    {"producer_fails", test_producer_fails},
    {"window_small", test_window_small},
    {"window_unordered", test_window_unordered},
    {"window_default", test_window_default},
    {"window_default_big_chunks", test_window_default_big_chunks},
    {"window_one", test_window_one},
    {NULL, NULL},
};

const wt_suite_t wt_suite_producer = {"producer", 1, 0, tests};
