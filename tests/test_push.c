/*
 * Iterators over pushed input (wpool_source_push): results in order and out
 * of order, a pusher thread apart from the reader, the window that makes a
 * push wait, and what a push meets after terminate, a freed reader and a
 * destroyed pool.
 *
 * The window is checked by what a push with a zero timeout says, never by
 * timing: a window of w chunks takes w chunks and refuses the next until
 * the reader consumes one.
 */
#include "harness.h"

#include <stdlib.h>
#include <string.h>

typedef int (*imap_fn)(wpool_t *, wpool_fn, const wpool_source_t *, size_t,
                       wpool_iter_t **);

static wpool_iter_t *start(wpool_t *pool, int ordered, size_t window,
                           size_t chunksize) {
  wpool_source_t src = wpool_source_push(window);
  wpool_iter_t *it = NULL;
  imap_fn f = ordered ? wpool_imap : wpool_imap_unordered;
  CU_ASSERT_EQUAL(f(pool, task_square, &src, chunksize, &it), 0);
  return it;
}

typedef struct pusher {
  wpool_iter_t *it;
  int from, n;
  int rc;      /* the first failed push's code, else 0 */
  int end_rc;  /* wpool_iter_push_end()'s */
} pusher_t;

static void *push_range(void *arg) {
  pusher_t *ps = arg;
  ps->rc = 0;
  for (int i = ps->from; i < ps->from + ps->n && ps->rc == 0; i++)
    ps->rc = wpool_iter_push(ps->it, &i, sizeof i, WT_LONG_MS);
  ps->end_rc = wpool_iter_push_end(ps->it);
  return NULL;
}

/* Read squares of 0 .. n-1; count wrong ones (value, order, repeats). */
static int drain(wpool_iter_t *it, int ordered, int n, long *got,
                 long *wrong) {
  unsigned char *seen = calloc((size_t)n, 1);
  const void *data;
  size_t len;
  int rc;
  *got = *wrong = 0;
  while ((rc = wpool_iter_next(it, WT_LONG_MS, &data, &len)) == 0) {
    size_t idx = wpool_iter_index(it);
    int v = -1;
    if (len == sizeof v)
      memcpy(&v, data, sizeof v);
    if (!seen || idx >= (size_t)n || seen[idx] || v != (int)(idx * idx) ||
        (ordered && idx != (size_t)*got))
      (*wrong)++;
    else
      seen[idx] = 1;
    (*got)++;
  }
  free(seen);
  return rc;
}

/* A thread pushes, the test's own thread reads: the window is far smaller
   than the input, so the pusher waits for the reader many times. */
static void run_threads(int ordered) {
  enum { N = 400 };
  static const size_t chunks[] = {1, 7};
  wpool_t *pool = wt_pool(2);
  CU_ASSERT_PTR_NOT_NULL_FATAL(pool);
  for (size_t c = 0; c < 2; c++) {
    wpool_iter_t *it = start(pool, ordered, 3, chunks[c]);
    if (it == NULL)
      continue;
    pusher_t ps = {it, 0, N, -1, -1};
    wt_thread_t t;
    CU_ASSERT_EQUAL_FATAL(wt_thread_start(&t, push_range, &ps), 0);
    long got, wrong;
    CU_ASSERT_EQUAL(drain(it, ordered, N, &got, &wrong), WPOOL_EDONE);
    wt_thread_join(t);
    CU_ASSERT_EQUAL(ps.rc, 0);
    CU_ASSERT_EQUAL(ps.end_rc, 0);
    CU_ASSERT_EQUAL(got, N);
    CU_ASSERT_EQUAL(wrong, 0);
    CU_ASSERT_EQUAL(wpool_iter_next(it, 0, NULL, NULL), WPOOL_EDONE);
    wpool_iter_free(it);
  }
  wpool_destroy(pool);
}

static void test_ordered(void) { run_threads(1); }
static void test_unordered(void) { run_threads(0); }

/* Pushes only (the caller ends the input). */
static void *push_only(void *arg) {
  pusher_t *ps = arg;
  ps->rc = 0;
  for (int i = ps->from; i < ps->from + ps->n && ps->rc == 0; i++)
    ps->rc = wpool_iter_push(ps->it, &i, sizeof i, WT_LONG_MS);
  return NULL;
}

/* Two threads push at once through a small window while this thread
   reads: every item comes back once, whatever index it was given. */
static void test_two_pushers(void) {
  enum { M = 150 };
  wpool_t *pool = wt_pool(2);
  CU_ASSERT_PTR_NOT_NULL_FATAL(pool);
  for (int ordered = 0; ordered < 2; ordered++) {
    wpool_iter_t *it = start(pool, ordered, 2, 3);
    if (it == NULL)
      continue;
    pusher_t a = {it, 0, M, -1, -1}, b = {it, M, M, -1, -1};
    wt_thread_t ta, tb;
    CU_ASSERT_EQUAL_FATAL(wt_thread_start(&ta, push_only, &a), 0);
    CU_ASSERT_EQUAL_FATAL(wt_thread_start(&tb, push_only, &b), 0);
    unsigned char seen[2 * M] = {0};
    int wrong = 0, got = 0;
    const void *data;
    size_t len;
    /* The last partial chunk leaves only at the end of input. */
    while (got < 2 * M - 2 * M % 3 &&
           wpool_iter_next(it, WT_LONG_MS, &data, &len) == 0) {
      int v = -1;
      if (len == sizeof v)
        memcpy(&v, data, sizeof v);
      int x = -1;
      for (int c = 0; c < 2 * M && x < 0; c++)
        if (c * c == v)
          x = c;
      if (x < 0 || seen[x] || (ordered && wpool_iter_index(it) != (size_t)got))
        wrong++;
      else
        seen[x] = 1;
      got++;
    }
    wt_thread_join(ta);
    wt_thread_join(tb);
    CU_ASSERT_EQUAL(a.rc, 0);
    CU_ASSERT_EQUAL(b.rc, 0);
    CU_ASSERT_EQUAL(wpool_iter_push_end(it), 0);
    int rc;
    while ((rc = wpool_iter_next(it, WT_LONG_MS, &data, &len)) == 0) {
      int v = -1;
      if (len == sizeof v)
        memcpy(&v, data, sizeof v);
      int x = -1;
      for (int c = 0; c < 2 * M && x < 0; c++)
        if (c * c == v)
          x = c;
      if (x < 0 || seen[x])
        wrong++;
      else
        seen[x] = 1;
      got++;
    }
    CU_ASSERT_EQUAL(rc, WPOOL_EDONE);
    CU_ASSERT_EQUAL(got, 2 * M);
    CU_ASSERT_EQUAL(wrong, 0);
    wpool_iter_free(it);
  }
  wpool_destroy(pool);
}

/* Items large enough to be copied without the pool's lock, from two
   threads at once: one copy at a time, none torn. Item k of pusher t is
   BIG bytes of (t * 64 + k) & 0xff, echoed back. */
enum { BIG = 10000, BIG_N = 40 };

typedef struct big_pusher {
  wpool_iter_t *it;
  int t, rc;
  unsigned char buf[BIG];
} big_pusher_t;

static void *push_big(void *arg) {
  big_pusher_t *bp = arg;
  bp->rc = 0;
  for (int k = 0; k < BIG_N && bp->rc == 0; k++) {
    memset(bp->buf, (bp->t * 64 + k) & 0xff, BIG);
    bp->rc = wpool_iter_push(bp->it, bp->buf, BIG, WT_LONG_MS);
  }
  return NULL;
}

static void test_large_items(void) {
  wpool_t *pool = wt_pool(2);
  CU_ASSERT_PTR_NOT_NULL_FATAL(pool);
  wpool_source_t src = wpool_source_push(2);
  wpool_iter_t *it = NULL;
  CU_ASSERT_EQUAL_FATAL(wpool_imap_unordered(pool, task_echo, &src, 2, &it),
                        0);
  static big_pusher_t a, b;
  a.it = b.it = it;
  a.t = 0;
  b.t = 1;
  wt_thread_t ta, tb;
  CU_ASSERT_EQUAL_FATAL(wt_thread_start(&ta, push_big, &a), 0);
  CU_ASSERT_EQUAL_FATAL(wt_thread_start(&tb, push_big, &b), 0);
  unsigned char seen[2 * 64] = {0};
  int got = 0, wrong = 0;
  const void *data;
  size_t len;
  /* 2 x BIG_N items in chunks of 2: all full, so all leave before the
     end of input. */
  while (got < 2 * BIG_N &&
         wpool_iter_next(it, WT_LONG_MS, &data, &len) == 0) {
    const unsigned char *d = data;
    int v = len == BIG ? d[0] : -1;
    int torn = 0;
    for (size_t i = 1; v >= 0 && i < len; i++)
      torn |= d[i] != d[0];
    if (v < 0 || torn || seen[v])
      wrong++;
    else
      seen[v] = 1;
    got++;
  }
  wt_thread_join(ta);
  wt_thread_join(tb);
  CU_ASSERT_EQUAL(a.rc, 0);
  CU_ASSERT_EQUAL(b.rc, 0);
  CU_ASSERT_EQUAL(wpool_iter_push_end(it), 0);
  CU_ASSERT_EQUAL(wpool_iter_next(it, WT_LONG_MS, &data, &len), WPOOL_EDONE);
  CU_ASSERT_EQUAL(got, 2 * BIG_N);
  CU_ASSERT_EQUAL(wrong, 0);
  wpool_iter_free(it);
  wpool_destroy(pool);
}

/* One thread pushes everything, ends, then reads: a window larger than the
   input never blocks. An empty input ends at once. */
static void test_one_thread(void) {
  enum { N = 50 };
  wpool_t *pool = wt_pool(2);
  CU_ASSERT_PTR_NOT_NULL_FATAL(pool);
  for (int ordered = 0; ordered < 2; ordered++) {
    wpool_iter_t *it = start(pool, ordered, N, 1);
    if (it == NULL)
      continue;
    for (int i = 0; i < N; i++)
      CU_ASSERT_EQUAL(wpool_iter_push(it, &i, sizeof i, 0), 0);
    CU_ASSERT_EQUAL(wpool_iter_push_end(it), 0);
    long got, wrong;
    CU_ASSERT_EQUAL(drain(it, ordered, N, &got, &wrong), WPOOL_EDONE);
    CU_ASSERT_EQUAL(got, N);
    CU_ASSERT_EQUAL(wrong, 0);
    wpool_iter_free(it);

    it = start(pool, ordered, 0, 4);
    if (it == NULL)
      continue;
    CU_ASSERT_EQUAL(wpool_iter_push_end(it), 0);
    CU_ASSERT_EQUAL(wpool_iter_next(it, WT_LONG_MS, NULL, NULL), WPOOL_EDONE);
    wpool_iter_free(it);
  }
  wpool_destroy(pool);
}

/*
 * A window of 2 chunks takes two and refuses the third (at once and after
 * a short wait) until the reader has moved past both; then it takes two
 * more, and a pusher thread waiting on a full window resumes each time the
 * reader reads.
 */
static void test_window_blocks(void) {
  wpool_t *pool = wt_pool(2);
  CU_ASSERT_PTR_NOT_NULL_FATAL(pool);
  for (int ordered = 0; ordered < 2; ordered++) {
    wpool_iter_t *it = start(pool, ordered, 2, 1);
    if (it == NULL)
      continue;
    int x = 0;
    CU_ASSERT_EQUAL(wpool_iter_push(it, &x, sizeof x, 0), 0);
    x = 1;
    CU_ASSERT_EQUAL(wpool_iter_push(it, &x, sizeof x, 0), 0);
    x = 2;
    CU_ASSERT_EQUAL(wpool_iter_push(it, &x, sizeof x, 0), WPOOL_ETIMEDOUT);
    CU_ASSERT_EQUAL(wpool_iter_push(it, &x, sizeof x, WT_SHORT_MS),
                    WPOOL_ETIMEDOUT);
    const void *data;
    size_t len;
    /* Yielding chunk 0's item leaves it in the window until the next call
       moves past it. */
    CU_ASSERT_EQUAL(wpool_iter_next(it, WT_LONG_MS, &data, &len), 0);
    CU_ASSERT_EQUAL(wpool_iter_push(it, &x, sizeof x, 0), WPOOL_ETIMEDOUT);
    CU_ASSERT_EQUAL(wpool_iter_next(it, WT_LONG_MS, &data, &len), 0);
    /* Unordered, the first item yielded may be chunk 1's: only this call,
       which moves past the second, frees both chunks. */
    CU_ASSERT_EQUAL(wpool_iter_next(it, 0, &data, &len), WPOOL_ETIMEDOUT);
    CU_ASSERT_EQUAL(wpool_iter_push(it, &x, sizeof x, 0), 0);
    x = 3;
    CU_ASSERT_EQUAL(wpool_iter_push(it, &x, sizeof x, 0), 0);
    x = 4;
    CU_ASSERT_EQUAL(wpool_iter_push(it, &x, sizeof x, 0), WPOOL_ETIMEDOUT);
    /* Items 4 .. 9 from a thread that waits each time for the reader. */
    pusher_t ps = {it, 4, 6, -1, -1};
    wt_thread_t t;
    CU_ASSERT_EQUAL_FATAL(wt_thread_start(&t, push_range, &ps), 0);
    int got = 2, wrong = 0, rc;
    while ((rc = wpool_iter_next(it, WT_LONG_MS, &data, &len)) == 0) {
      size_t idx = wpool_iter_index(it);
      if (len != sizeof(int) || *(const int *)data != (int)(idx * idx) ||
          (ordered && idx != (size_t)got))
        wrong++;
      got++;
    }
    wt_thread_join(t);
    CU_ASSERT_EQUAL(rc, WPOOL_EDONE);
    CU_ASSERT_EQUAL(ps.rc, 0);
    CU_ASSERT_EQUAL(ps.end_rc, 0);
    CU_ASSERT_EQUAL(got, 10);
    CU_ASSERT_EQUAL(wrong, 0);
    wpool_iter_free(it);
  }
  wpool_destroy(pool);
}

/* A partial chunk goes on wpool_iter_flush(), without the end of input;
   the rest goes at the end. */
static void test_flush(void) {
  wpool_t *pool = wt_pool(2);
  CU_ASSERT_PTR_NOT_NULL_FATAL(pool);
  wpool_iter_t *it = start(pool, 1, 0, 4);
  if (it != NULL) {
    for (int i = 0; i < 2; i++)
      CU_ASSERT_EQUAL(wpool_iter_push(it, &i, sizeof i, 0), 0);
    CU_ASSERT_EQUAL(wpool_iter_flush(it), 0);
    CU_ASSERT_EQUAL(wpool_iter_flush(it), 0); /* nothing to send: a no-op */
    const void *data;
    size_t len;
    for (int i = 0; i < 2; i++) {
      CU_ASSERT_EQUAL(wpool_iter_next(it, WT_LONG_MS, &data, &len), 0);
      CU_ASSERT_EQUAL(wpool_iter_index(it), (size_t)i);
    }
    int x = 2;
    CU_ASSERT_EQUAL(wpool_iter_push(it, &x, sizeof x, 0), 0);
    CU_ASSERT_EQUAL(wpool_iter_push_end(it), 0);
    CU_ASSERT_EQUAL(wpool_iter_next(it, WT_LONG_MS, &data, &len), 0);
    CU_ASSERT(len == sizeof(int) && *(const int *)data == 4);
    CU_ASSERT_EQUAL(wpool_iter_index(it), 2);
    CU_ASSERT_EQUAL(wpool_iter_next(it, WT_LONG_MS, &data, &len), WPOOL_EDONE);
    wpool_iter_free(it);
  }
  wpool_destroy(pool);
}

/* Items are cut into chunks by the frame limit as well as by chunksize;
   one item over the limit is refused and the input goes on. */
static void test_frame_limit(void) {
  enum { N = 40, ITEM = 24 };
  wpool_options_t o;
  wt_options(&o, 2);
  o.max_frame = 64;
  wpool_t *pool = NULL;
  CU_ASSERT_EQUAL_FATAL(wt_create(&pool, &o), 0);
  wpool_source_t src = wpool_source_push(0);
  wpool_iter_t *it = NULL;
  CU_ASSERT_EQUAL_FATAL(wpool_imap(pool, task_echo, &src, 10, &it), 0);
  unsigned char big[65] = {0};
  CU_ASSERT_EQUAL(wpool_iter_push(it, big, sizeof big, 0), WPOOL_E2BIG);
  for (int i = 0; i < N; i++) {
    unsigned char item[ITEM];
    memset(item, i, sizeof item);
    CU_ASSERT_EQUAL(wpool_iter_push(it, item, sizeof item, WT_LONG_MS), 0);
  }
  CU_ASSERT_EQUAL(wpool_iter_push_end(it), 0);
  const void *data;
  size_t len;
  int got = 0, wrong = 0, rc;
  while ((rc = wpool_iter_next(it, WT_LONG_MS, &data, &len)) == 0) {
    const unsigned char *b = data;
    if (len != ITEM || b[0] != got || b[ITEM - 1] != got ||
        wpool_iter_index(it) != (size_t)got)
      wrong++;
    got++;
  }
  CU_ASSERT_EQUAL(rc, WPOOL_EDONE);
  CU_ASSERT_EQUAL(got, N);
  CU_ASSERT_EQUAL(wrong, 0);
  wpool_iter_free(it);
  wpool_destroy(pool);
}

/* After terminate a push fails at once, a push waiting on a full window
   returns, the reader ends, and push_end says why. */
static void test_terminate(void) {
  wpool_t *pool = wt_pool(2);
  CU_ASSERT_PTR_NOT_NULL_FATAL(pool);
  wpool_iter_t *it = start(pool, 1, 1, 1);
  if (it != NULL) {
    int x = 3;
    CU_ASSERT_EQUAL(wpool_iter_push(it, &x, sizeof x, 0), 0);
    /* The window is full: this thread waits until terminate. */
    pusher_t ps = {it, 4, 1, -1, -1};
    wt_thread_t t;
    CU_ASSERT_EQUAL_FATAL(wt_thread_start(&t, push_range, &ps), 0);
    CU_ASSERT_EQUAL(wpool_terminate(pool), 0);
    wt_thread_join(t);
    CU_ASSERT_EQUAL(ps.rc, WPOOL_ETERMINATED);
    CU_ASSERT_EQUAL(ps.end_rc, WPOOL_ETERMINATED);
    int rc = wpool_iter_next(it, WT_LONG_MS, NULL, NULL);
    /* Chunk 0 may have finished before terminate. */
    if (rc == 0)
      rc = wpool_iter_next(it, WT_LONG_MS, NULL, NULL);
    CU_ASSERT_EQUAL(rc, WPOOL_ETERMINATED);
    CU_ASSERT_EQUAL(wpool_iter_next(it, WT_LONG_MS, NULL, NULL), WPOOL_EDONE);
    wpool_iter_free(it);
  }
  wpool_destroy(pool);
}

/* The reader frees the iterator first: pushes fail with ECANCELED, and the
   pushing side still releases its handle (nothing leaks). Then the same
   with the pool destroyed under an open input. */
static void test_reader_gone(void) {
  wpool_t *pool = wt_pool(2);
  CU_ASSERT_PTR_NOT_NULL_FATAL(pool);
  wpool_iter_t *it = start(pool, 0, 1, 1);
  if (it != NULL) {
    int x = 5;
    CU_ASSERT_EQUAL(wpool_iter_push(it, &x, sizeof x, 0), 0);
    pusher_t ps = {it, 6, 1, -1, -1};
    wt_thread_t t;
    CU_ASSERT_EQUAL_FATAL(wt_thread_start(&t, push_range, &ps), 0);
    wpool_iter_free(it);
    wt_thread_join(t);
    CU_ASSERT_EQUAL(ps.rc, WPOOL_ECANCELED);
    CU_ASSERT_EQUAL(ps.end_rc, WPOOL_ECANCELED);
  }
  it = start(pool, 1, 0, 2);
  if (it != NULL) {
    int x = 5;
    CU_ASSERT_EQUAL(wpool_iter_push(it, &x, sizeof x, 0), 0);
    wpool_destroy(pool);
    pool = NULL;
    CU_ASSERT_EQUAL(wpool_iter_push(it, &x, sizeof x, 0), WPOOL_ETERMINATED);
    CU_ASSERT_EQUAL(wpool_iter_flush(it), WPOOL_ETERMINATED);
    CU_ASSERT_EQUAL(wpool_iter_next(it, WT_LONG_MS, NULL, NULL),
                    WPOOL_ETERMINATED);
    CU_ASSERT_EQUAL(wpool_iter_push_end(it), WPOOL_ETERMINATED);
    wpool_iter_free(it);
  }
  wpool_destroy(pool);
}

static int never_called(void *user, const void **item, size_t *len) {
  (void)user;
  (void)item;
  (void)len;
  return -1;
}

/* Calls that do not fit the iterator are refused and change nothing. */
static void test_bad_calls(void) {
  wpool_t *pool = wt_pool(1);
  CU_ASSERT_PTR_NOT_NULL_FATAL(pool);
  int xs[2] = {1, 2};
  wpool_source_t arr = wpool_source_array(xs, 2, sizeof xs[0]);
  wpool_iter_t *it = NULL;
  CU_ASSERT_EQUAL_FATAL(wpool_imap(pool, task_square, &arr, 1, &it), 0);
  CU_ASSERT_EQUAL(wpool_iter_push(it, xs, sizeof xs[0], 0), WPOOL_EINVAL);
  CU_ASSERT_EQUAL(wpool_iter_flush(it), WPOOL_EINVAL);
  CU_ASSERT_EQUAL(wpool_iter_push_end(it), WPOOL_EINVAL);
  wpool_iter_free(it);

  wpool_source_t both = wpool_source_push(0);
  both.producer = never_called;
  it = NULL;
  CU_ASSERT_EQUAL(wpool_imap(pool, task_square, &both, 1, &it), WPOOL_EINVAL);
  CU_ASSERT_PTR_NULL(it);

  it = start(pool, 1, 0, 1);
  if (it != NULL) {
    CU_ASSERT_EQUAL(wpool_iter_push(it, NULL, 4, 0), WPOOL_EINVAL);
    CU_ASSERT_EQUAL(wpool_iter_push(NULL, xs, 4, 0), WPOOL_EINVAL);
    CU_ASSERT_EQUAL(wpool_iter_push(it, xs, sizeof xs[0], 0), 0);
    CU_ASSERT_EQUAL(wpool_iter_push_end(it), 0);
    /* The reader still holds the iterator: the pushing side is gone. */
    CU_ASSERT_EQUAL(wpool_iter_push_end(it), WPOOL_EINVAL);
    CU_ASSERT_EQUAL(wpool_iter_push(it, xs, sizeof xs[0], 0), WPOOL_EINVAL);
    const void *data;
    size_t len;
    CU_ASSERT_EQUAL(wpool_iter_next(it, WT_LONG_MS, &data, &len), 0);
    CU_ASSERT(len == sizeof(int) && *(const int *)data == 1);
    CU_ASSERT_EQUAL(wpool_iter_next(it, WT_LONG_MS, &data, &len), WPOOL_EDONE);
    wpool_iter_free(it);
  }
  wpool_close(pool);
  wpool_source_t src = wpool_source_push(0);
  it = NULL;
  CU_ASSERT_EQUAL(wpool_imap(pool, task_square, &src, 1, &it), WPOOL_ECLOSED);
  wpool_destroy(pool);
}

static const wt_test_t tests[] = {
    {"ordered", test_ordered},
    {"unordered", test_unordered},
    {"one_thread", test_one_thread},
    {"two_pushers", test_two_pushers},
    {"large_items", test_large_items},
    {"window_blocks", test_window_blocks},
    {"flush", test_flush},
    {"frame_limit", test_frame_limit},
    {"terminate", test_terminate},
    {"reader_gone", test_reader_gone},
    {"bad_calls", test_bad_calls},
    {NULL, NULL},
};

const wt_suite_t wt_suite_push = {"push", 1, 0, tests};
