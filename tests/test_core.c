/*
 * The core's contracts that hold for every method: calls that must not
 * deadlock on their own thread (destroy in a callback, freeing an iterator
 * from its producer or while its producer is blocked), bad sizes, a result
 * freed twice, a pool used from a forked child, and every error path of
 * wpool_create (with the failure-injection build).
 */
#include "harness.h"

#include <limits.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#ifndef _WIN32
#include <sys/wait.h>
#include <unistd.h>
#endif

/* A flag that one thread sets and another waits for. */
typedef struct event {
  wt_mutex_t m;
  wt_cond_t c;
  int set;
} event_t;

static void event_init(event_t *e) {
  wt_mutex_init(&e->m);
  wt_cond_init(&e->c);
  e->set = 0;
}

static void event_destroy(event_t *e) {
  wt_cond_destroy(&e->c);
  wt_mutex_destroy(&e->m);
}

static void event_set(event_t *e) {
  wt_mutex_lock(&e->m);
  e->set = 1;
  wt_cond_broadcast(&e->c);
  wt_mutex_unlock(&e->m);
}

/* 0 once set, or -1 after WT_LONG_MS (only a hang gets there). */
static int event_wait(event_t *e) {
  long until = wt_now_ms() + WT_LONG_MS;
  wt_mutex_lock(&e->m);
  while (!e->set && wt_now_ms() < until)
    wt_cond_wait_ms(&e->c, &e->m, 100);
  int set = e->set;
  wt_mutex_unlock(&e->m);
  return set ? 0 : -1;
}

typedef struct destroyer {
  wpool_t *pool;
  event_t returned;
} destroyer_t;

static void destroy_from_callback(wpool_result_t *r, void *user) {
  (void)r;
  destroyer_t *d = user;
  wpool_destroy(d->pool); /* on the callback thread: must not join itself */
  event_set(&d->returned);
}

static void test_destroy_in_callback(void) {
  static destroyer_t d;
  event_init(&d.returned);
  d.pool = wt_pool(2);
  CU_ASSERT_PTR_NOT_NULL_FATAL(d.pool);
  int x = 3;
  CU_ASSERT_EQUAL(wpool_apply_async(d.pool, task_square, &x, sizeof x,
                                    destroy_from_callback, NULL, &d, NULL),
                  0);
  CU_ASSERT_EQUAL(event_wait(&d.returned), 0);
  event_destroy(&d.returned);
}

typedef struct self_freeing {
  wpool_iter_t *it;
  event_t ready; /* it is set */
  event_t returned;
  int calls;
} self_freeing_t;

/* Frees its own iterator on its third call. */
static int producer_frees_iter(void *user, const void **item, size_t *len) {
  self_freeing_t *s = user;
  static const int one = 1;
  if (++s->calls == 3) {
    event_wait(&s->ready);
    wpool_iter_free(s->it);
    event_set(&s->returned);
    return 0;
  }
  *item = &one;
  *len = sizeof one;
  return 1;
}

static void test_iter_free_from_producer(void) {
  static self_freeing_t s;
  memset(&s, 0, sizeof s);
  event_init(&s.ready);
  event_init(&s.returned);
  wpool_t *pool = wt_pool(1);
  CU_ASSERT_PTR_NOT_NULL_FATAL(pool);
  wpool_source_t src = wpool_source_producer(producer_frees_iter, &s);
  CU_ASSERT_EQUAL_FATAL(wpool_imap(pool, task_square, &src, 1, &s.it), 0);
  event_set(&s.ready);
  CU_ASSERT_EQUAL(event_wait(&s.returned), 0);
  wpool_destroy(pool);
  /* The feeder thread may still be on its way out: both events stay. */
}

typedef struct blocked {
  atomic_int calls;
  event_t entered, go, returned;
} blocked_t;

/* One item, then it blocks until told to go, then claims to have more. */
static int producer_blocks(void *user, const void **item, size_t *len) {
  blocked_t *b = user;
  static const int one = 1;
  if (atomic_fetch_add(&b->calls, 1) == 1) {
    event_set(&b->entered);
    event_wait(&b->go);
    event_set(&b->returned);
  }
  *item = &one;
  *len = sizeof one;
  return 1;
}

/* Freeing an iterator, terminating and destroying its pool all return
   while its producer is blocked; the producer's later return is discarded
   and it is not called again. */
static void test_iter_free_blocked_producer(void) {
  static blocked_t b;
  memset(&b, 0, sizeof b);
  event_init(&b.entered);
  event_init(&b.go);
  event_init(&b.returned);
  wpool_t *pool = wt_pool(1);
  CU_ASSERT_PTR_NOT_NULL_FATAL(pool);
  wpool_source_t src = wpool_source_producer(producer_blocks, &b);
  wpool_iter_t *it = NULL;
  CU_ASSERT_EQUAL_FATAL(wpool_imap(pool, task_square, &src, 1, &it), 0);
  const void *data;
  size_t len;
  CU_ASSERT_EQUAL(wpool_iter_next(it, WT_LONG_MS, &data, &len), 0);
  CU_ASSERT_EQUAL(event_wait(&b.entered), 0);
  wpool_iter_free(it);
  CU_ASSERT_EQUAL(wpool_terminate(pool), 0);
  wpool_destroy(pool);
  event_set(&b.go);
  CU_ASSERT_EQUAL(event_wait(&b.returned), 0);
  CU_ASSERT_EQUAL(atomic_load(&b.calls), 2);
}

/* An item that is read again after the gate: its value must still be the
   caller's when the task gets to it. */
typedef struct late_item {
  wt_gate_arg_t g;
  int v;
} late_item_t;

static atomic_int late_seen[4];

static int task_read_late(const void *arg, size_t len, wpool_out_t *out) {
  wt_gate_arg_t g;
  if (len != sizeof(late_item_t))
    return wpool_out_fail(out, 1, "bad argument");
  memcpy(&g, arg, sizeof g);
  wt_gate_announce(&g);
  wt_gate_pass(&g);
  int v;
  memcpy(&v, (const char *)arg + offsetof(late_item_t, v), sizeof v);
  if (g.value >= 0 && g.value < 4)
    atomic_store(&late_seen[g.value], v); /* seen by thread workers only */
  return wpool_out_set(out, &v, sizeof v);
}
WPOOL_REGISTER(task_read_late)

/* Wait until the pool has `queued` items never sent; 0, or -1 after
   WT_LONG_MS. */
static int wait_queued(wpool_t *pool, size_t queued) {
  event_t never; /* a bounded pause between looks */
  event_init(&never);
  long until = wt_now_ms() + WT_LONG_MS;
  wpool_stats_t st;
  int rc = -1;
  wt_mutex_lock(&never.m);
  while (wpool_stats(pool, &st, NULL, 0) == 0 && wt_now_ms() < until) {
    if (st.tasks_queued == queued) {
      rc = 0;
      break;
    }
    wt_cond_wait_ms(&never.c, &never.m, 1);
  }
  wt_mutex_unlock(&never.m);
  event_destroy(&never);
  return rc;
}

typedef struct freer {
  wpool_iter_t *it;
  late_item_t *items;
  event_t done;
} freer_t;

static void *free_then_poison(void *arg) {
  freer_t *f = arg;
  wpool_iter_free(f->it);
  /* The header's promise: the array may go once the iterator is freed. */
  memset(f->items, 0xff, 4 * sizeof *f->items);
  event_set(&f->done);
  return NULL;
}

/* wpool_iter_free waits for the chunks that workers are running on the
   caller's array (it used to return at once, and a thread worker then read
   freed memory). */
static void test_iter_free_waits_for_readers(void) {
  wpool_t *pool = wt_pool(2);
  CU_ASSERT_PTR_NOT_NULL_FATAL(pool);
  wt_gate_t g;
  CU_ASSERT_EQUAL_FATAL(wt_gate_open(&g), 0);
  late_item_t *items = calloc(4, sizeof *items);
  CU_ASSERT_PTR_NOT_NULL_FATAL(items);
  for (int i = 0; i < 4; i++) {
    items[i].g = wt_gate_arg(&g, i);
    items[i].v = 100 + i;
    atomic_store(&late_seen[i], -1);
  }
  wpool_source_t src = wpool_source_array(items, 4, sizeof *items);
  freer_t f;
  f.items = items;
  event_init(&f.done);
  CU_ASSERT_EQUAL_FATAL(wpool_imap(pool, task_read_late, &src, 1, &f.it), 0);
  CU_ASSERT_EQUAL(wt_gate_wait_started(&g, 2), 0);
  wt_thread_t t;
  CU_ASSERT_EQUAL_FATAL(wt_thread_start(&t, free_then_poison, &f), 0);
  /* The free has dropped the two items never sent ... */
  CU_ASSERT_EQUAL(wait_queued(pool, 0), 0);
  /* ... but two tasks are held inside the array: it cannot be over. */
  wt_mutex_lock(&f.done.m);
  wt_cond_wait_ms(&f.done.c, &f.done.m, WT_SHORT_MS);
  CU_ASSERT_EQUAL(f.done.set, 0);
  wt_mutex_unlock(&f.done.m);
  CU_ASSERT_EQUAL(wt_gate_release(&g, 4), 0);
  wt_thread_join(t);
  CU_ASSERT_EQUAL(f.done.set, 1);
  if (!wt_is_process()) {
    int read = 0;
    for (int i = 0; i < 4; i++) {
      int v = atomic_load(&late_seen[i]);
      if (v != -1) {
        CU_ASSERT_EQUAL(v, 100 + i);
        read++;
      }
    }
    CU_ASSERT_EQUAL(read, 2); /* the two held ones; the rest were dropped */
  }
  event_destroy(&f.done);
  free(items);
  wt_gate_close(&g);
  wpool_destroy(pool);
}

/*
 * One frame-limit rule for every method: the limit is on the user's bytes
 * (an argument, an output, a chunk's outputs together), never on headers,
 * and a refusal says which payload and what size.
 */
static void test_frame_limit_rule(void) {
  enum { MIB = 1 << 20 };
  wpool_options_t o;
  wt_options(&o, 1);
  o.max_frame = MIB;
  /* The rule of the channel: arguments never go around it here. */
  o.shm_threshold = SIZE_MAX;
  wpool_t *pool = NULL;
  CU_ASSERT_EQUAL_FATAL(wt_create(&pool, &o), 0);
  unsigned char *big = calloc(1, MIB + 1);
  CU_ASSERT_PTR_NOT_NULL_FATAL(big);
  void *out = NULL;
  size_t len = 0;
  char *msg = NULL;
  /* An argument of exactly the limit, echoed back as an output of it. */
  CU_ASSERT_EQUAL(wpool_apply(pool, task_echo, big, MIB, &out, &len, &msg), 0);
  CU_ASSERT_EQUAL(len, MIB);
  wpool_free(out);
  wpool_free(msg);
  /* An output one byte under it. */
  int n = MIB - 1;
  CU_ASSERT_EQUAL(
      wpool_apply(pool, task_bytes, &n, sizeof n, &out, &len, &msg), 0);
  CU_ASSERT_EQUAL(len, (size_t)MIB - 1);
  wpool_free(out);
  wpool_free(msg);
  /* One byte over, each way: refused, and the message says what. */
  CU_ASSERT_EQUAL(
      wpool_apply(pool, task_echo, big, MIB + 1, &out, &len, &msg),
      WPOOL_E2BIG);
  CU_ASSERT_TRUE(wt_contains(msg, "argument of 1048577 bytes"));
  CU_ASSERT_TRUE(wt_contains(msg, "limit of 1048576 bytes"));
  wpool_free(msg);
  n = MIB + 1;
  CU_ASSERT_EQUAL(
      wpool_apply(pool, task_bytes, &n, sizeof n, &out, &len, &msg),
      WPOOL_E2BIG);
  CU_ASSERT_TRUE(wt_contains(msg, "output of 1048577 bytes"));
  CU_ASSERT_TRUE(wt_contains(msg, "limit of 1048576 bytes"));
  wpool_free(msg);
  /* An imap chunk whose outputs together pass the limit: each of its
     items fails and says why. */
  int sizes[3] = {MIB / 2, MIB / 2, MIB / 2};
  wpool_source_t src = wpool_source_array(sizes, 3, sizeof sizes[0]);
  wpool_iter_t *it = NULL;
  CU_ASSERT_EQUAL_FATAL(wpool_imap(pool, task_bytes, &src, 3, &it), 0);
  const void *d;
  int failed = 0, rc;
  while ((rc = wpool_iter_next(it, WT_LONG_MS, &d, &len)) != WPOOL_EDONE) {
    CU_ASSERT_EQUAL(rc, WPOOL_E2BIG);
    CU_ASSERT_TRUE(wt_contains(wpool_iter_message(it), "over the frame limit"));
    if (rc != WPOOL_E2BIG)
      break;
    failed++;
  }
  CU_ASSERT_EQUAL(failed, 3);
  wpool_iter_free(it);
  free(big);
  wpool_destroy(pool);
}

/* count x item_size overflows: refused, as map refuses it. */
static void test_imap_size_overflow(void) {
  wpool_t *pool = wt_pool(1);
  CU_ASSERT_PTR_NOT_NULL_FATAL(pool);
  int dummy = 0;
  wpool_source_t src = wpool_source_array(&dummy, SIZE_MAX / 2, 4);
  wpool_iter_t *it = NULL;
  CU_ASSERT_EQUAL(wpool_imap(pool, task_square, &src, 1, &it), WPOOL_EINVAL);
  CU_ASSERT_PTR_NULL(it);
  CU_ASSERT_EQUAL(wpool_imap_unordered(pool, task_square, &src, 0, &it),
                  WPOOL_EINVAL);
  wpool_destroy(pool);
}

/* imap's per-call settings: no callbacks; a limit only where it can be
   enforced. */
static void test_imap_ex_settings(void) {
  wpool_t *pool = wt_pool(1);
  CU_ASSERT_PTR_NOT_NULL_FATAL(pool);
  int in[3] = {1, 2, 3};
  wpool_source_t src = wpool_source_array(in, 3, sizeof in[0]);
  wpool_iter_t *it = NULL;
  wpool_call_t call = {NULL, NULL, NULL, 0, 0};
  call.on_error = (wpool_callback)1; /* any non-NULL callback */
  CU_ASSERT_EQUAL(wpool_imap_ex(pool, task_square, &src, 1, &call, &it),
                  WPOOL_EINVAL);
  call.on_error = NULL;
  call.timeout_ms = 1000;
  int rc = wpool_imap_ex(pool, task_square, &src, 1, &call, &it);
  if (!wt_is_process()) {
    CU_ASSERT_EQUAL(rc, WPOOL_ENOTSUP);
  } else {
    CU_ASSERT_EQUAL_FATAL(rc, 0);
    const void *d;
    size_t len;
    int n = 0;
    while (wpool_iter_next(it, WT_LONG_MS, &d, &len) == 0)
      n++;
    CU_ASSERT_EQUAL(n, 3);
    wpool_iter_free(it);
  }
  call.timeout_ms = -1; /* no limit: fine everywhere */
  CU_ASSERT_EQUAL_FATAL(
      wpool_imap_unordered_ex(pool, task_square, &src, 1, &call, &it), 0);
  wpool_iter_free(it);
  CU_ASSERT_EQUAL(wpool_imap_ex(pool, task_square, &src, 1, NULL, &it), 0);
  wpool_iter_free(it);
  wpool_destroy(pool);
}

typedef struct waiter {
  wpool_result_t *r;
  int rc;
} waiter_t;

static void *wait_forever_ms(void *arg) {
  waiter_t *w = arg;
  w->rc = wpool_result_wait(w->r, LONG_MAX);
  return NULL;
}

/* A wait of LONG_MAX ms is a wait without end, not an overflow that
   expires at once. */
static void test_huge_wait(void) {
  wpool_t *pool = wt_pool(1);
  CU_ASSERT_PTR_NOT_NULL_FATAL(pool);
  wt_gate_t g;
  CU_ASSERT_EQUAL_FATAL(wt_gate_open(&g), 0);
  wt_gate_arg_t a = wt_gate_arg(&g, 2);
  waiter_t w = {NULL, -1};
  CU_ASSERT_EQUAL_FATAL(
      wpool_apply_async(pool, task_gate, &a, sizeof a, NULL, NULL, NULL, &w.r),
      0);
  CU_ASSERT_EQUAL(wt_gate_wait_started(&g, 1), 0);
  wt_thread_t t;
  CU_ASSERT_EQUAL_FATAL(wt_thread_start(&t, wait_forever_ms, &w), 0);
  /* The waiter is still waiting while the task is held. */
  CU_ASSERT_EQUAL(wpool_result_wait(w.r, WT_SHORT_MS), WPOOL_ETIMEDOUT);
  CU_ASSERT_EQUAL(wt_gate_release(&g, 1), 0);
  wt_thread_join(t);
  CU_ASSERT_EQUAL(w.rc, 0);
  wpool_result_free(w.r);
  wt_gate_close(&g);
  wpool_destroy(pool);
}

/* A second free of a result the pool still holds is harmless. */
static void test_result_double_free(void) {
  wpool_t *pool = wt_pool(1);
  CU_ASSERT_PTR_NOT_NULL_FATAL(pool);
  wt_gate_t g;
  CU_ASSERT_EQUAL_FATAL(wt_gate_open(&g), 0);
  wt_gate_arg_t a = wt_gate_arg(&g, 1);
  wpool_result_t *r = NULL;
  CU_ASSERT_EQUAL_FATAL(
      wpool_apply_async(pool, task_gate, &a, sizeof a, NULL, NULL, NULL, &r),
      0);
  CU_ASSERT_EQUAL(wt_gate_wait_started(&g, 1), 0);
  wpool_result_free(r);
  wpool_result_free(r); /* still pending: the pool holds it */
  CU_ASSERT_EQUAL(wt_gate_release(&g, 1), 0);
  int y = 0;
  CU_ASSERT_EQUAL(wt_apply_int(pool, task_square, 4, &y, NULL), 0);
  CU_ASSERT_EQUAL(y, 16);
  wt_gate_close(&g);
  wpool_destroy(pool);
}

/* Reading freed memory is what this test does on purpose: the tools that
   watch for it would (rightly) report it. */
#include "checked.h"

/*
 * A ready result freed twice in a row: the second call finds the poisoned
 * magic and returns (it used to free the memory again and abort). Only
 * where freed memory is neither watched (sanitizers, valgrind) nor handed to
 * another thread at once: glibc keeps a freed block in the freeing thread's
 * own cache, and this thread allocates nothing between the two calls.
 */
static void test_result_double_free_after_ready(void) {
#if defined(WT_HEAVY_TOOLS) || !defined(__GLIBC__)
  WT_SKIP("needs glibc's heap, unwatched by sanitizers");
#else
  if (WT_UNDER_VALGRIND())
    WT_SKIP("valgrind reports the read of freed memory this test makes");
  wpool_t *pool = wt_pool(1);
  CU_ASSERT_PTR_NOT_NULL_FATAL(pool);
  int x = 6, y = 0;
  wpool_result_t *r = NULL;
  CU_ASSERT_EQUAL_FATAL(
      wpool_apply_async(pool, task_square, &x, sizeof x, NULL, NULL, NULL, &r),
      0);
  CU_ASSERT_EQUAL(wt_result_int(r, WT_LONG_MS, &y), 0);
  wpool_result_free(r);
  wpool_result_free(r);
  CU_ASSERT_EQUAL(wt_apply_int(pool, task_square, 7, &y, NULL), 0);
  CU_ASSERT_EQUAL(y, 49);
  wpool_destroy(pool);
#endif
}

/* A forked child of the pool's owner gets WPOOL_EFOREIGN instead of a
   hang (the pool's threads were not copied into it). */
static void test_forked_child(void) {
#ifdef _WIN32
  WT_SKIP("no fork on Windows");
#else
  wpool_t *pool = wt_pool(1);
  CU_ASSERT_PTR_NOT_NULL_FATAL(pool);
  fflush(NULL);
  pid_t pid = fork();
  if (pid == 0) {
    int code = 0, x = 2, y;
    wpool_result_t *r = NULL;
    if (wpool_apply(pool, task_square, &x, sizeof x, NULL, NULL, NULL) !=
        WPOOL_EFOREIGN)
      code |= 1;
    if (wpool_apply_async(pool, task_square, &x, sizeof x, NULL, NULL, NULL,
                          &r) != WPOOL_EFOREIGN)
      code |= 2;
    if (wpool_close(pool) != WPOOL_EFOREIGN ||
        wpool_join(pool) != WPOOL_EFOREIGN)
      code |= 4;
    if (wt_apply_int(pool, task_square, 3, &y, NULL) != WPOOL_EFOREIGN)
      code |= 8;
    wpool_destroy(pool); /* returns: the pool is not the child's */
    _exit(code);
  }
  CU_ASSERT_FATAL(pid > 0);
  int status = 0;
  CU_ASSERT_EQUAL(waitpid(pid, &status, 0), pid);
  CU_ASSERT_TRUE(WIFEXITED(status));
  CU_ASSERT_EQUAL(WEXITSTATUS(status), 0);
  /* The parent's pool is untouched. */
  int y = 0;
  CU_ASSERT_EQUAL(wt_apply_int(pool, task_square, 5, &y, NULL), 0);
  CU_ASSERT_EQUAL(y, 25);
  wpool_destroy(pool);
#endif
}

/*
 * Every step of wpool_create that can fail, made to fail in turn (builds
 * with WPOOL_FAULT_INJECTION): each returns a code with a message and
 * leaves nothing behind (the sanitizer and valgrind runs check that).
 */
static void test_create_error_paths(void) {
#ifndef WPOOL_FAULT_INJECTION
  WT_SKIP("not a failure-injection build (WPOOL_FAULT_INJECTION)");
#else
  int failed = 0, ok = 0;
  char at[16];
  for (int n = 1; n < 200 && !ok; n++) {
    snprintf(at, sizeof at, "%d", n);
    CU_ASSERT_EQUAL_FATAL(wt_setenv("WPOOL_FAULT_AT", at), 0);
    wpool_options_t o;
    wt_options(&o, 2);
    wpool_t *pool = NULL;
    char *err = NULL;
    int rc = wpool_create(&pool, &o, &err);
    if (rc == 0) {
      ok = 1;
      CU_ASSERT_PTR_NOT_NULL(pool);
      wpool_destroy(pool);
    } else {
      failed++;
      CU_ASSERT_PTR_NULL(pool);
      CU_ASSERT_PTR_NOT_NULL(err);
      CU_ASSERT_TRUE(rc == WPOOL_ENOMEM || rc == WPOOL_ESYS);
    }
    wpool_free(err);
  }
  wt_setenv("WPOOL_FAULT_AT", "0");
  CU_ASSERT_TRUE(ok);
  CU_ASSERT_TRUE(failed >= 8);
#endif
}

static const wt_test_t tests[] = {
    {"destroy_in_callback", test_destroy_in_callback},
    {"iter_free_from_producer", test_iter_free_from_producer},
    {"iter_free_blocked_producer", test_iter_free_blocked_producer},
    {"iter_free_waits_for_readers", test_iter_free_waits_for_readers},
    {"frame_limit_rule", test_frame_limit_rule},
    {"imap_size_overflow", test_imap_size_overflow},
    {"imap_ex_settings", test_imap_ex_settings},
    {"huge_wait", test_huge_wait},
    {"result_double_free", test_result_double_free},
    {"result_double_free_after_ready", test_result_double_free_after_ready},
    {"forked_child", test_forked_child},
    {"create_error_paths", test_create_error_paths},
    {NULL, NULL},
};

const wt_suite_t wt_suite_core = {"core", 1, 0, tests};
