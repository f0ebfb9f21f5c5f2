/*
 * What the MPI transport adds to a pool (wpool_mpi_tests only, under
 * mpiexec -n 3): a task's death or time limit names the host and the rank
 * it happened on; a cancelled task's remote worker is replaced; slots are
 * spread over the serving ranks, and more slots than one wait reports
 * events are all served; payloads far larger than one MPI message and
 * one credit window cross whole; a serving rank with other registered functions
 * is refused by name; and two MPI pools work at once.
 */
#include "harness.h"

#ifdef WT_MPI
#include "wpool_mpi.h"

#include <stdlib.h>
#include <string.h>

/* The message names a serving rank, and its host: under mpi_netns.sh
   (WT_MPI_NETNS) the serving ranks are the namespaces' hosts wpb and wpc. */
static void assert_names_rank(const char *msg) {
  CU_ASSERT_TRUE(wt_contains(msg, " on host "));
  CU_ASSERT_TRUE(wt_contains(msg, "(rank 1)") || wt_contains(msg, "(rank 2)"));
  if (getenv("WT_MPI_NETNS"))
    CU_ASSERT_TRUE(wt_contains(msg, "on host wpb (rank 1)") ||
                   wt_contains(msg, "on host wpc (rank 2)"));
}

static void test_crash_names_rank(void) {
  wpool_t *pool = wt_pool(2);
  CU_ASSERT_PTR_NOT_NULL_FATAL(pool);
  char *err = NULL;
  int y = 0;
  CU_ASSERT_EQUAL(wt_apply_int(pool, task_crash, WT_CRASH_SEGV, &y, &err),
                  WPOOL_EWORKER);
  CU_ASSERT_TRUE(wt_contains(err, "SIGSEGV"));
  assert_names_rank(err);
  wpool_free(err);
  wt_assert_squares(pool, 20);
  wpool_destroy(pool);
}

static void test_time_limit_names_rank(void) {
  /* The limit is the hanging call's alone: over a slow link on a loaded
     machine, a healthy task's round trip may take longer than a limit
     short enough for a test. */
  wpool_t *pool = wt_pool(2);
  CU_ASSERT_PTR_NOT_NULL_FATAL(pool);
  wpool_call_t call = {NULL, NULL, NULL, 100, 0};
  int x = 2;
  wpool_result_t *r = NULL;
  CU_ASSERT_EQUAL_FATAL(
      wpool_apply_async_ex(pool, task_hang_on_two, &x, sizeof x, &call, &r),
      0);
  CU_ASSERT_EQUAL(wpool_result_get(r, WT_LONG_MS, NULL, NULL),
                  WPOOL_ETIMELIMIT);
  CU_ASSERT_TRUE(wt_contains(wpool_result_message(r), "time limit"));
  assert_names_rank(wpool_result_message(r));
  wpool_result_free(r);
  wt_assert_squares(pool, 20);
  wpool_destroy(pool);
}

/* The cancelled task's worker on its serving rank is killed and replaced:
   the pool goes on. */
static void test_cancel_remote(void) {
  wpool_t *pool = wt_pool(2);
  CU_ASSERT_PTR_NOT_NULL_FATAL(pool);
  wt_gate_t g;
  CU_ASSERT_EQUAL_FATAL(wt_gate_open(&g), 0);
  wt_gate_arg_t a = wt_gate_arg(&g, 1);
  wpool_result_t *r = NULL;
  CU_ASSERT_EQUAL_FATAL(
      wpool_apply_async(pool, task_gate, &a, sizeof a, NULL, NULL, NULL, &r),
      0);
  CU_ASSERT_EQUAL(wt_gate_wait_started(&g, 1), 0);
  CU_ASSERT_EQUAL(wpool_result_cancel(r), 0);
  CU_ASSERT_EQUAL(wpool_result_get(r, WT_LONG_MS, NULL, NULL), WPOOL_ECANCELED);
  /* As on a local pool the result fails at once, before its worker is
     killed: the message is the pool's, not a rank's. */
  CU_ASSERT_TRUE(wt_contains(wpool_result_message(r), "cancelled"));
  wpool_result_free(r);
  wt_gate_close(&g);
  wt_assert_squares(pool, 20);
  wpool_destroy(pool);
}

/* Slot g lives on rank 1 + g % 2: four slots, two workers on each serving
   rank, four distinct processes; and the default is every serving rank's
   CPUs. */
static void test_slots_spread(void) {
  wpool_t *pool = wt_pool(4);
  CU_ASSERT_PTR_NOT_NULL_FATAL(pool);
  wpool_stats_t st;
  long pids[8] = {0};
  CU_ASSERT_EQUAL(wpool_stats(pool, &st, pids, 8), 0);
  CU_ASSERT_EQUAL(st.workers, 4);
  for (int i = 0; i < 4; i++) {
    CU_ASSERT_TRUE(pids[i] > 0);
    for (int j = 0; j < i; j++)
      CU_ASSERT_NOT_EQUAL(pids[i], pids[j]);
  }
  wpool_destroy(pool);
  CU_ASSERT_EQUAL(wpool_mpi_serving_ranks(), 2);
  pool = wt_pool(0);
  CU_ASSERT_PTR_NOT_NULL_FATAL(pool);
  CU_ASSERT_EQUAL(wpool_stats(pool, &st, NULL, 0), 0);
  CU_ASSERT_TRUE(st.workers >= 2);
  wpool_destroy(pool);
}

/* More slots than one wait() reports events (64): every slot is served. */
static void test_many_slots(void) {
  wpool_t *pool = wt_pool(80);
  CU_ASSERT_PTR_NOT_NULL_FATAL(pool);
  int in[800], out[800];
  for (int i = 0; i < 800; i++)
    in[i] = i;
  CU_ASSERT_EQUAL(wpool_map(pool, task_square, in, 800, sizeof *in, out,
                            sizeof *out, 1, NULL),
                  0);
  for (int i = 0; i < 800; i++)
    CU_ASSERT_EQUAL(out[i], i * i);
  wpool_stats_t st;
  CU_ASSERT_EQUAL(wpool_stats(pool, &st, NULL, 0), 0);
  CU_ASSERT_EQUAL(st.workers, 80);
  wpool_destroy(pool);
}

/* 40 MiB each way: 160 messages and ten credit windows per direction. */
static void test_large_payload(void) {
  const size_t n = (size_t)40 << 20;
  wpool_options_t o;
  wt_options(&o, 2);
  o.max_frame = (size_t)64 << 20;
  wpool_t *pool = NULL;
  CU_ASSERT_EQUAL_FATAL(wt_create(&pool, &o), 0);
  unsigned char *in = malloc(n);
  CU_ASSERT_PTR_NOT_NULL_FATAL(in);
  for (size_t i = 0; i < n; i++)
    in[i] = (unsigned char)(i * 131 + (i >> 20));
  void *out = NULL;
  size_t len = 0;
  char *err = NULL;
  CU_ASSERT_EQUAL(wpool_apply(pool, task_echo, in, n, &out, &len, &err), 0);
  CU_ASSERT_EQUAL(len, n);
  CU_ASSERT_TRUE(out && len == n && memcmp(in, out, n) == 0);
  wpool_free(out);
  wpool_free(err);
  free(in);
  wpool_destroy(pool);
}

/* Two MPI pools at once, each with its own session on the serving ranks. */
static void test_two_pools(void) {
  wpool_t *a = wt_pool(2), *b = wt_pool(2);
  CU_ASSERT_PTR_NOT_NULL_FATAL(a);
  CU_ASSERT_PTR_NOT_NULL_FATAL(b);
  wt_assert_squares(a, 50);
  wt_assert_squares(b, 50);
  wpool_destroy(a);
  wt_assert_squares(b, 50);
  wpool_destroy(b);
}

/* The MPI channel kind is sized once: growing past the created size is
   refused and changes nothing; shrinking, and growing back, work. */
static void test_resize_within_created_size(void) {
  wpool_t *pool = wt_pool(2);
  CU_ASSERT_PTR_NOT_NULL_FATAL(pool);
  CU_ASSERT_EQUAL(wpool_resize(pool, 3), WPOOL_ENOTSUP);
  wpool_stats_t st;
  CU_ASSERT_EQUAL(wpool_stats(pool, &st, NULL, 0), 0);
  CU_ASSERT_EQUAL(st.size, 2);
  CU_ASSERT_EQUAL(wpool_resize(pool, 1), 0);
  wt_assert_squares(pool, 50);
  CU_ASSERT_EQUAL(wpool_resize(pool, 2), 0);
  wt_assert_squares(pool, 50);
  CU_ASSERT_EQUAL(wpool_stats(pool, &st, NULL, 0), 0);
  CU_ASSERT_EQUAL(st.size, 2);
  wpool_destroy(pool);
}

/* Ranks share no memory: shared-buffer calls are refused, and a large
   argument, which a local pool would put in a shared buffer, crosses the
   channel instead. */
static void test_shm_refused(void) {
  wpool_t *pool = wt_pool(2);
  CU_ASSERT_PTR_NOT_NULL_FATAL(pool);
  wpool_shm_t *shm = NULL;
  CU_ASSERT_EQUAL_FATAL(wpool_shm_alloc(4096, &shm), 0);
  wpool_slice_t sl = wpool_slice(shm, 0, 4096);
  wpool_result_t *r = NULL;
  CU_ASSERT_EQUAL(wpool_apply_shm_async(pool, task_echo, &sl, NULL, &r),
                  WPOOL_ENOTSUP);
  CU_ASSERT_PTR_NULL(r);
  enum { BIG = 3 << 20 }; /* above the default shm_threshold */
  unsigned char *big = malloc(BIG);
  CU_ASSERT_PTR_NOT_NULL_FATAL(big);
  for (size_t i = 0; i < BIG; i++)
    big[i] = (unsigned char)(i * 7);
  void *back = NULL;
  size_t len = 0;
  CU_ASSERT_EQUAL(wpool_apply(pool, task_echo, big, BIG, &back, &len, NULL), 0);
  CU_ASSERT_EQUAL(len, (size_t)BIG);
  CU_ASSERT_TRUE(back && memcmp(back, big, BIG) == 0);
  wpool_free(back);
  free(big);
  wpool_shm_free(shm);
  wpool_destroy(pool);
}

/* Run by the mpi_registry_mismatch test, in which rank 2 registers one
   function more (WT_MPI_EXTRA_FN): the create fails naming that rank. */
static void test_registry_mismatch(void) {
  if (!getenv("WT_MPI_EXPECT_MISMATCH"))
    WT_SKIP("needs a rank that runs another program "
            "(the mpi_registry_mismatch test)");
  wpool_t *pool = NULL;
  wpool_options_t o;
  wt_options(&o, 2);
  char *err = NULL;
  int rc = wt_create_fn(&pool, &o, &err);
  CU_ASSERT_EQUAL(rc, WPOOL_ESPAWN);
  CU_ASSERT_PTR_NULL(pool);
  CU_ASSERT_TRUE(wt_contains(err, "(rank 2)"));
  CU_ASSERT_TRUE(wt_contains(err, "registered functions"));
  wpool_free(err);
  if (pool)
    wpool_destroy(pool);
}

static const wt_test_t tests[] = {
    {"crash_names_rank", test_crash_names_rank},
    {"time_limit_names_rank", test_time_limit_names_rank},
    {"cancel_remote", test_cancel_remote},
    {"slots_spread", test_slots_spread},
    {"many_slots", test_many_slots},
    {"large_payload", test_large_payload},
    {"two_pools", test_two_pools},
    {"resize_within_created_size", test_resize_within_created_size},
    {"shm_refused", test_shm_refused},
    {"registry_mismatch", test_registry_mismatch},
    {NULL, NULL}};
#else
static const wt_test_t tests[] = {{NULL, NULL}};
#endif

const wt_suite_t wt_suite_mpi = {"mpi", 1, 1, tests};
