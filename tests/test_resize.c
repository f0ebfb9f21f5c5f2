/*
 * wpool_resize(): growing starts workers at once, shrinking retires the
 * workers beyond the new size after the tasks they hold, and the stats say
 * so. How many workers run is told by how many tasks held at a gate start
 * at once, never by timing: n workers let n held tasks start, and the
 * (n+1)-th waits (WT_SHORT_MS, a wait that must expire).
 */
#include "harness.h"

#include <string.h>

enum { MAXT = 8 };

typedef struct held {
  wt_gate_arg_t arg[MAXT];
  wpool_result_t *r[MAXT];
  int n;
} held_t;

/* Submit n tasks held at the gate, returning base + i. */
static void hold(wpool_t *pool, wt_gate_t *g, held_t *h, int n, int base) {
  h->n = n;
  for (int i = 0; i < n; i++) {
    h->arg[i] = wt_gate_arg(g, base + i);
    h->r[i] = NULL;
    CU_ASSERT_EQUAL(wpool_apply_async(pool, task_gate, &h->arg[i],
                                      sizeof h->arg[i], NULL, NULL, NULL,
                                      &h->r[i]),
                    0);
  }
}

/* Every held task came back with its own value. */
static void collect(held_t *h, int base) {
  for (int i = 0; i < h->n; i++) {
    int y = -1;
    if (!h->r[i])
      continue;
    CU_ASSERT_EQUAL(wt_result_int(h->r[i], WT_LONG_MS, &y), 0);
    CU_ASSERT_EQUAL(y, base + i);
    wpool_result_free(h->r[i]);
  }
}

static wpool_stats_t stats(wpool_t *pool) {
  wpool_stats_t st;
  memset(&st, 0, sizeof st);
  CU_ASSERT_EQUAL(wpool_stats(pool, &st, NULL, 0), 0);
  return st;
}

/* Exactly n held tasks start: n workers take work. */
static void assert_runs_at_once(wt_gate_t *g, int n) {
  CU_ASSERT_EQUAL(wt_gate_wait_started(g, n), 0);
  CU_ASSERT_EQUAL(wt_gate_wait_started_ms(g, 1, WT_SHORT_MS), -1);
}

/* The MPI channel kind is sized once (wpool_chan_ops_t.grows): growing past
   the created size is refused there, and tested as such in the mpi suite. */
#define SKIP_GROW_OVER_MPI()                                                   \
  do {                                                                         \
    if (wt_transport)                                                          \
      WT_SKIP("the MPI channel kind cannot grow past its created size");       \
  } while (0)

static void test_grow(void) {
  SKIP_GROW_OVER_MPI();
  wpool_t *pool = wt_pool(1);
  CU_ASSERT_PTR_NOT_NULL_FATAL(pool);
  wt_gate_t g;
  CU_ASSERT_EQUAL_FATAL(wt_gate_open(&g), 0);
  CU_ASSERT_EQUAL(wpool_resize(pool, 3), 0);
  CU_ASSERT_EQUAL(stats(pool).size, 3);
  held_t h;
  hold(pool, &g, &h, 4, 10);
  assert_runs_at_once(&g, 3);
  CU_ASSERT_EQUAL(wt_gate_release(&g, 4), 0);
  collect(&h, 10);
  wpool_stats_t st = stats(pool);
  CU_ASSERT_EQUAL(st.workers, 3);
  CU_ASSERT_EQUAL(st.retiring, 0);
  CU_ASSERT_EQUAL(st.workers_replaced, 0); /* new, not replacements */
  wt_gate_close(&g);
  wpool_destroy(pool);
}

/* Three workers busy, three tasks queued behind them: shrink to one. The
   busy workers beyond the size finish (they are counted as retiring until
   then), every task succeeds once, and from then on one worker runs. */
static void test_shrink(void) {
  wpool_t *pool = wt_pool(3);
  CU_ASSERT_PTR_NOT_NULL_FATAL(pool);
  wt_gate_t g;
  CU_ASSERT_EQUAL_FATAL(wt_gate_open(&g), 0);
  held_t h;
  hold(pool, &g, &h, 6, 20);
  CU_ASSERT_EQUAL(wt_gate_wait_started(&g, 3), 0);
  CU_ASSERT_EQUAL(wpool_resize(pool, 1), 0);
  wpool_stats_t st = stats(pool);
  CU_ASSERT_EQUAL(st.size, 1);
  CU_ASSERT_EQUAL(st.workers, 3);
  CU_ASSERT_EQUAL(st.retiring, 2);
  CU_ASSERT_EQUAL(wt_gate_release(&g, 6), 0);
  collect(&h, 20);
  /* Three more held tasks: one worker takes them, one at a time. */
  held_t h2;
  hold(pool, &g, &h2, 2, 40);
  /* The queued three of the first round announced themselves too. */
  CU_ASSERT_EQUAL(wt_gate_wait_started(&g, 3), 0);
  assert_runs_at_once(&g, 1);
  CU_ASSERT_EQUAL(wt_gate_release(&g, 2), 0);
  collect(&h2, 40);
  CU_ASSERT_EQUAL(wpool_close(pool), 0);
  CU_ASSERT_EQUAL(wpool_join(pool), 0);
  st = stats(pool);
  CU_ASSERT_EQUAL(st.workers, 0);
  CU_ASSERT_EQUAL(st.workers_replaced, 0); /* retired, not replaced */
  wt_gate_close(&g);
  wpool_destroy(pool);
}

/* Shrink then grow past the old size: slots are reused (a retiring thread
   may simply stay) and new ones are added. */
static void test_shrink_then_grow(void) {
  SKIP_GROW_OVER_MPI();
  wpool_t *pool = wt_pool(2);
  CU_ASSERT_PTR_NOT_NULL_FATAL(pool);
  wt_gate_t g;
  CU_ASSERT_EQUAL_FATAL(wt_gate_open(&g), 0);
  CU_ASSERT_EQUAL(wpool_resize(pool, 1), 0);
  CU_ASSERT_EQUAL(wpool_resize(pool, 4), 0);
  CU_ASSERT_EQUAL(wpool_resize(pool, 4), 0); /* the same size: nothing */
  CU_ASSERT_EQUAL(stats(pool).size, 4);
  held_t h;
  hold(pool, &g, &h, 5, 30);
  assert_runs_at_once(&g, 4);
  CU_ASSERT_EQUAL(wt_gate_release(&g, 5), 0);
  collect(&h, 30);
  wt_assert_squares(pool, 50);
  wt_gate_close(&g);
  wpool_destroy(pool);
}

/* A map that runs across a shrink and a grow loses and repeats nothing. */
static void test_map_across(void) {
  enum { N = 2000 };
  static int xs[N], ys[N];
  for (int i = 0; i < N; i++)
    xs[i] = i;
  wpool_t *pool = wt_pool(3);
  CU_ASSERT_PTR_NOT_NULL_FATAL(pool);
  wpool_result_t *r = NULL;
  CU_ASSERT_EQUAL_FATAL(wpool_map_async(pool, task_square, xs, N, sizeof(int),
                                        ys, sizeof(int), 7, NULL, NULL, NULL,
                                        &r),
                        0);
  CU_ASSERT_EQUAL(wpool_resize(pool, 1), 0);
  CU_ASSERT_EQUAL(wpool_resize(pool, 2), 0);
  CU_ASSERT_EQUAL(wpool_result_get(r, WT_LONG_MS, NULL, NULL), 0);
  int wrong = 0;
  for (int i = 0; i < N; i++)
    wrong += ys[i] != i * i;
  CU_ASSERT_EQUAL(wrong, 0);
  wpool_result_free(r);
  wpool_destroy(pool);
}

static void test_bad_calls(void) {
  CU_ASSERT_EQUAL(wpool_resize(NULL, 2), WPOOL_EINVAL);
  wpool_t *pool = wt_pool(1);
  CU_ASSERT_PTR_NOT_NULL_FATAL(pool);
  CU_ASSERT_EQUAL(wpool_resize(pool, 0), WPOOL_EINVAL);
  CU_ASSERT_EQUAL(wpool_resize(pool, -3), WPOOL_EINVAL);
  CU_ASSERT_EQUAL(stats(pool).size, 1);
  CU_ASSERT_EQUAL(wpool_close(pool), 0);
  CU_ASSERT_EQUAL(wpool_resize(pool, 2), WPOOL_ESTATE);
  CU_ASSERT_EQUAL(stats(pool).size, 1);
  wpool_destroy(pool);
}

static const wt_test_t tests[] = {
    {"grow", test_grow},
    {"shrink", test_shrink},
    {"shrink_then_grow", test_shrink_then_grow},
    {"map_across", test_map_across},
    {"bad_calls", test_bad_calls},
    {NULL, NULL},
};

const wt_suite_t wt_suite_resize = {"resize", 1, 0, tests};
