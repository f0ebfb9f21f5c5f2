/*
 * Worker life: the initializer (its argument, once per worker, its failure)
 * and maxtasksperchild recycling; pools made through the transport
 * extension point (wpool_create_with). task_ident reports the worker's pid, an id
 * the initializer drew for the worker, and how often the initializer ran in
 * it; for thread workers the id tells the threads apart.
 */
#include "harness.h"
#include "wpool_transport.h"

#include <string.h>

static int ident(wpool_t *pool, wt_ident_t *id) {
  void *out = NULL;
  size_t len = 0;
  memset(id, 0, sizeof *id);
  int rc = wpool_apply(pool, task_ident, NULL, 0, &out, &len, NULL);
  if (rc == 0 && (out == NULL || len != sizeof *id))
    rc = 1;
  if (rc == 0)
    memcpy(id, out, sizeof *id);
  wpool_free(out);
  return rc;
}

/* The identity that tells workers apart for the current method. */
static long who(const wt_ident_t *id) {
  return wt_is_process() ? id->pid : id->worker_id;
}

static wpool_t *pool_with_init(int processes, long maxtasks, const void *args,
                               size_t args_len) {
  wpool_options_t o;
  wpool_t *pool = NULL;
  wt_options(&o, processes);
  o.initializer = init_record;
  o.initargs = args;
  o.initargs_len = args_len;
  o.maxtasksperchild = maxtasks;
  CU_ASSERT_EQUAL(wt_create(&pool, &o), 0);
  return pool;
}

/*
 * One worker, one task each: every task runs in a new worker (new pid, or a
 * new thread), whose initializer ran exactly once, and the replacements are
 * counted.
 */
static void test_maxtasks_one(void) {
  enum { N = 4 };
  wpool_t *pool = pool_with_init(1, 1, NULL, 0);
  CU_ASSERT_PTR_NOT_NULL_FATAL(pool);
  wt_ident_t id[N];
  for (int i = 0; i < N; i++) {
    CU_ASSERT_EQUAL(ident(pool, &id[i]), 0);
    CU_ASSERT_EQUAL(id[i].init_count, 1);
    CU_ASSERT(id[i].pid > 0);
    if (wt_is_process()) {
      CU_ASSERT_NOT_EQUAL(id[i].pid, wt_getpid());
    } else {
      CU_ASSERT_EQUAL(id[i].pid, wt_getpid());
    }
    for (int j = 0; j < i; j++)
      CU_ASSERT_NOT_EQUAL(who(&id[i]), who(&id[j]));
  }
  wpool_stats_t st;
  CU_ASSERT_EQUAL(wpool_stats(pool, &st, NULL, 0), 0);
  /* Tasks 2..N each ran in a replacement. */
  CU_ASSERT(wt_wait_replaced(pool, N - 1) >= N - 1);
  wpool_destroy(pool);
}

/* A map chunk counts as one task, as in Python. */
static void test_maxtasks_chunks(void) {
  enum { N = 10 };
  wpool_t *pool = pool_with_init(1, 2, NULL, 0);
  CU_ASSERT_PTR_NOT_NULL_FATAL(pool);
  int in[N] = {0};
  wt_ident_t out[N];
  memset(out, 0, sizeof out);
  /* Two chunks of five: two tasks, both for the first worker. */
  CU_ASSERT_EQUAL(wpool_map(pool, task_ident, in, N, sizeof(int), out,
                            sizeof out[0], 5, NULL),
                  0);
  for (int i = 1; i < N; i++)
    CU_ASSERT_EQUAL(who(&out[i]), who(&out[0]));
  /* That worker is used up; the next task meets a new one. */
  wt_ident_t next;
  CU_ASSERT_EQUAL(ident(pool, &next), 0);
  CU_ASSERT_NOT_EQUAL(who(&next), who(&out[0]));
  CU_ASSERT_EQUAL(next.init_count, 1);
  wpool_destroy(pool);
}

/* Without a limit the initializer runs once per worker, never again. */
static void test_init_once_per_worker(void) {
  enum { P = 2, N = 20 };
  wpool_t *pool = pool_with_init(P, 0, NULL, 0);
  CU_ASSERT_PTR_NOT_NULL_FATAL(pool);
  long seen[N];
  int distinct = 0;
  for (int i = 0; i < N; i++) {
    wt_ident_t id;
    CU_ASSERT_EQUAL(ident(pool, &id), 0);
    CU_ASSERT_EQUAL(id.init_count, 1);
    int known = 0;
    for (int j = 0; j < distinct; j++)
      known |= seen[j] == who(&id);
    if (!known)
      seen[distinct++] = who(&id);
  }
  CU_ASSERT(distinct >= 1 && distinct <= P);
  wpool_stats_t st;
  CU_ASSERT_EQUAL(wpool_stats(pool, &st, NULL, 0), 0);
  CU_ASSERT_EQUAL(st.workers_replaced, 0);
  wpool_destroy(pool);
}

/* The initializer receives a copy of initargs, embedded NUL and all. */
static void test_initargs(void) {
  static const char args[] = "hello\0world";
  char copy[sizeof args];
  memcpy(copy, args, sizeof args);
  wpool_t *pool = pool_with_init(2, 0, copy, sizeof copy);
  CU_ASSERT_PTR_NOT_NULL_FATAL(pool);
  memset(copy, 0, sizeof copy); /* copied at create: later changes unseen */
  for (int i = 0; i < 4; i++) {
    void *out = NULL;
    size_t len = 0;
    CU_ASSERT_EQUAL(
        wpool_apply(pool, task_initargs, NULL, 0, &out, &len, NULL), 0);
    CU_ASSERT_EQUAL(len, sizeof args);
    CU_ASSERT(out != NULL && len == sizeof args &&
              memcmp(out, args, sizeof args) == 0);
    wpool_free(out);
  }
  wpool_destroy(pool);
}

/* Replaced workers get the same initargs. */
static void test_initargs_after_replace(void) {
  static const char args[] = "again";
  wpool_t *pool = pool_with_init(1, 1, args, sizeof args);
  CU_ASSERT_PTR_NOT_NULL_FATAL(pool);
  for (int i = 0; i < 3; i++) {
    void *out = NULL;
    size_t len = 0;
    CU_ASSERT_EQUAL(
        wpool_apply(pool, task_initargs, NULL, 0, &out, &len, NULL), 0);
    CU_ASSERT(out != NULL && len == sizeof args &&
              memcmp(out, args, sizeof args) == 0);
    wpool_free(out);
  }
  wpool_destroy(pool);
}

/* A failing initializer fails the create, with the initializer's message. */
static void test_init_fails(void) {
  wpool_options_t o;
  wpool_t *pool = (wpool_t *)&o;
  char *msg = NULL;
  wt_options(&o, 2);
  o.initializer = init_refuse;
  int rc = wt_create_fn(&pool, &o, &msg);
  CU_ASSERT_EQUAL(rc, WPOOL_ETASK);
  CU_ASSERT_PTR_NULL(pool);
  CU_ASSERT(wt_contains(msg, "init refused"));
  wpool_free(msg);
  if (rc == 0 && pool != NULL && pool != (wpool_t *)&o)
    wpool_destroy(pool);
  /* The failure left nothing behind that stops a good pool. */
  pool = wt_pool(1);
  CU_ASSERT_PTR_NOT_NULL_FATAL(pool);
  int y = 0;
  CU_ASSERT_EQUAL(wt_apply_int(pool, task_square, 2, &y, NULL), 0);
  CU_ASSERT_EQUAL(y, 4);
  wpool_destroy(pool);
}

/* The extension point (wpool_transport.h): a pool made with the platform's
   process channel given from outside works as any other; a kind with
   thread workers, or no kind, is refused. */
static void test_create_with_kind(void) {
  wpool_options_t o;
  wt_options(&o, 2);
  wpool_t *pool = (wpool_t *)&o;
  char *err = NULL;
  CU_ASSERT_EQUAL(wpool_create_with(&pool, &o, NULL, &err), WPOOL_EINVAL);
  CU_ASSERT_PTR_NULL(pool);
  const wpool_chan_ops_t *kind = wpool_process_channel();
  CU_ASSERT_PTR_NOT_NULL_FATAL(kind);
  CU_ASSERT_PTR_NOT_NULL(kind->name);
  int rc = wpool_create_with(&pool, &o, kind, &err);
  if (!wt_is_process()) {
    CU_ASSERT_EQUAL(rc, WPOOL_EINVAL);
    CU_ASSERT_TRUE(wt_contains(err, "process workers"));
    CU_ASSERT_PTR_NULL(pool);
    wpool_free(err);
    return;
  }
  CU_ASSERT_EQUAL_FATAL(rc, 0);
  wt_assert_squares(pool, 30);
  wpool_destroy(pool);
  uint32_t n = 0;
  CU_ASSERT_EQUAL(wpool_registry_fingerprint(&n),
                  wpool_registry_fingerprint(NULL));
  CU_ASSERT_TRUE(n > 0);
}

static const wt_test_t tests[] = {
    {"create_with_kind", test_create_with_kind},
    {"maxtasks_one", test_maxtasks_one},
    {"maxtasks_chunks", test_maxtasks_chunks},
    {"init_once_per_worker", test_init_once_per_worker},
    {"initargs", test_initargs},
    {"initargs_after_replace", test_initargs_after_replace},
    {"init_fails", test_init_fails},
    {NULL, NULL},
};

const wt_suite_t wt_suite_workers = {"workers", 1, 0, tests};
