/*
 * The copy of a large map's items into the pool's shared buffer (part of the
 * shm suite): chunks go to workers while later ones are still being
 * copied, so the tests stop the copy half way and do to the pool, the
 * result or a worker what a program could do at that moment.
 *
 * How the copy is stopped: a page of the caller's items (the first page of
 * item TRIP) is made unreadable; the copy faults on it, and the fault
 * handler parks the copying thread until the test's other thread, having
 * done its deed, makes the page readable again. Chunks are one item each,
 * so at that instant exactly TRIP chunks are published and none after; a
 * second unreadable page, in the item after, tells whether the copy went on.
 * POSIX only (a fault handler that parks); thread pools make no copy.
 */
#include "checked.h"
#include "harness.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#ifndef _WIN32
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>
#endif

enum { ITEM = 64 << 10, N = 8, TRIP = 4 };

/* The sum of an item's bytes; an item whose first byte is 0xDD kills its
   worker. */
static int copy_probe(const void *arg, size_t len, wpool_out_t *out) {
  const uint8_t *b = arg;
  if (len && b[0] == 0xDD)
    abort();
  uint64_t sum = 0;
  for (size_t i = 0; i < len; i++)
    sum += b[i];
  return wpool_out_set(out, &sum, sizeof sum);
}
WPOOL_REGISTER(copy_probe)

/* Item i is all i + 1. */
static uint64_t expected(size_t i) { return (uint64_t)ITEM * (i + 1); }

static void fill(uint8_t *items) {
  for (size_t i = 0; i < N; i++)
    memset(items + i * ITEM, (int)(i + 1), ITEM);
}

/* Why this method or platform has no copy to test, or NULL. */
static const char *why_no_copy(void) {
  if (!wt_is_process())
    return "thread workers read the caller's items: there is no copy";
  wpool_shm_t *probe = NULL;
  int rc = wpool_shm_alloc(1, &probe);
  if (rc == WPOOL_ENOTSUP)
    return "no shared buffers on this platform yet";
  wpool_shm_free(probe);
  return NULL;
}

#define NEED_COPY()                                                            \
  do {                                                                         \
    const char *why_ = why_no_copy();                                          \
    if (why_)                                                                  \
      WT_SKIP(why_);                                                           \
  } while (0)

/* A pool whose map of N items of ITEM bytes, one per chunk, goes through
   the pool's shared buffer. */
static wpool_t *copy_pool(void) {
  wpool_options_t o;
  wt_options(&o, 2);
  o.shm_threshold = 16 << 10;
  wpool_t *pool = NULL;
  CU_ASSERT_EQUAL(wt_create(&pool, &o), 0);
  return pool;
}

/* A map of several chunks is right, and the async call may free its items
   as soon as it returns: the copy is over by then. */
void shm_copy_overlaps(void) {
  NEED_COPY();
  wpool_t *pool = copy_pool();
  CU_ASSERT_PTR_NOT_NULL_FATAL(pool);
  for (int round = 0; round < 3; round++) { /* a fresh buffer, then the spare */
    uint8_t *items = malloc((size_t)N * ITEM);
    CU_ASSERT_PTR_NOT_NULL_FATAL(items);
    fill(items);
    uint64_t sums[N] = {0};
    wpool_result_t *r = NULL;
    CU_ASSERT_EQUAL_FATAL(wpool_map_async(pool, copy_probe, items, N, ITEM,
                                          sums, sizeof sums[0], 1, NULL, NULL,
                                          NULL, &r),
                          0);
    free(items);
    CU_ASSERT_EQUAL(wpool_result_get(r, WT_LONG_MS, NULL, NULL), 0);
    wpool_result_free(r);
    int bad = 0;
    for (size_t i = 0; i < N; i++)
      bad += sums[i] != expected(i);
    CU_ASSERT_EQUAL(bad, 0);
  }
  wpool_destroy(pool);
}

#ifndef _WIN32


/* A one-way signal that a fault handler may send or wait for: a pipe,
   since read and write are async-signal-safe (and unnamed semaphores are
   missing on macOS). */
typedef struct note {
  int fd[2];
} note_t;

static int note_open(note_t *n) {
  if (pipe(n->fd) != 0)
    return -1;
  fcntl(n->fd[0], F_SETFD, FD_CLOEXEC);
  fcntl(n->fd[1], F_SETFD, FD_CLOEXEC);
  return 0;
}

static void note_post(note_t *n) {
  char c = 1;
  while (write(n->fd[1], &c, 1) < 0 && errno == EINTR)
    ;
}

static void note_wait(note_t *n) {
  char c;
  while (read(n->fd[0], &c, 1) < 0 && errno == EINTR)
    ;
}

static void note_close(note_t *n) {
  close(n->fd[0]);
  close(n->fd[1]);
}

/* What the test's other thread does while the copy is parked. */
enum deed { CANCEL, TERMINATE, DESTROY, INTERRUPT, KILL_WORKER, CALLBACK };

typedef struct trip {
  uint8_t *page;
  size_t page_len;
  note_t hit, go;
  volatile sig_atomic_t fired;
  /* The first page of item TRIP + 1: read only if the copy went on. */
  uint8_t *later;
  volatile sig_atomic_t went_on;
  enum deed deed;
  wpool_t *pool;
  wpool_result_t *result; /* set by the submit, before the copy starts */
  note_t called;          /* CALLBACK: the error callback ran */
  int deed_rc;
} trip_t;

static trip_t *the_trip;
static struct sigaction old_segv;

static void on_fault(int sig, siginfo_t *si, void *ctx) {
  trip_t *t = the_trip;
  uint8_t *a = si->si_addr;
  (void)ctx;
  if (t && a >= t->later && a < t->later + t->page_len) {
    t->went_on = 1;
    mprotect(t->later, t->page_len, PROT_READ | PROT_WRITE);
    return;
  }
  if (!t || a < t->page || a >= t->page + t->page_len) {
    sigaction(sig, &old_segv, NULL); /* not ours: fault again, for real */
    return;
  }
  t->fired = 1;
  note_post(&t->hit);
  note_wait(&t->go);
}

static void on_error_cb(wpool_result_t *r, void *user) {
  (void)r;
  note_post(&((trip_t *)user)->called);
}

static void *deed_thread(void *arg) {
  trip_t *t = arg;
  note_wait(&t->hit);
  if (!t->fired)
    return NULL; /* the copy never faulted: the main thread says so */
  wpool_result_t *r = t->result;
  switch (t->deed) {
  case CANCEL:
    t->deed_rc = wpool_result_cancel(r);
    break;
  case TERMINATE:
    t->deed_rc = wpool_terminate(t->pool);
    if (t->deed_rc == 0)
      t->deed_rc = wpool_result_wait(r, WT_LONG_MS);
    break;
  case DESTROY:
    wpool_destroy(t->pool);
    break;
  case INTERRUPT:
    t->deed_rc = wpool_interrupt(t->pool);
    /* Resumed only once the interrupt has stopped the pool. */
    if (t->deed_rc == 0)
      t->deed_rc = wpool_result_wait(r, WT_LONG_MS);
    break;
  case KILL_WORKER: {
    /* Item 0 kills its worker: wait until the published chunks are all
       accounted for, the dead one included. */
    size_t done = 0, total = 0;
    for (int i = 0; i < 30000 && done < TRIP; i++) {
      t->deed_rc = wpool_result_progress(r, &done, &total);
      if (done < TRIP)
        wt_nap_ms(1);
    }
    if (done < TRIP)
      t->deed_rc = -1;
    break;
  }
  case CALLBACK:
    t->deed_rc = wpool_terminate(t->pool);
    note_wait(&t->called);
    break;
  }
  mprotect(t->page, t->page_len, PROT_READ | PROT_WRITE);
  note_post(&t->go);
  return NULL;
}

/* Run a map of N items whose copy parks at item TRIP while the other
   thread does deed; sums gets the outputs. The map's submit code, and the
   result (NULL for CALLBACK, which has none) are returned. */
static int parked_map(wpool_t *pool, enum deed deed, uint64_t *sums,
                      wpool_result_t **result, int crash_first) {
  long page = sysconf(_SC_PAGESIZE);
  size_t len = (size_t)N * ITEM;
  uint8_t *items = mmap(NULL, len, PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  CU_ASSERT_FATAL(items != MAP_FAILED);
  fill(items);
  if (crash_first)
    items[0] = 0xDD;
  trip_t t;
  memset(&t, 0, sizeof t);
  t.page = items + (size_t)TRIP * ITEM;
  t.page_len = (size_t)page;
  t.later = items + (size_t)(TRIP + 1) * ITEM;
  t.deed = deed;
  t.pool = pool;
  CU_ASSERT_EQUAL_FATAL(note_open(&t.hit), 0);
  CU_ASSERT_EQUAL_FATAL(note_open(&t.go), 0);
  CU_ASSERT_EQUAL_FATAL(note_open(&t.called), 0);
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = on_fault;
  sa.sa_flags = SA_SIGINFO | SA_NODEFER;
  sigemptyset(&sa.sa_mask);
  the_trip = &t;
  CU_ASSERT_EQUAL_FATAL(sigaction(SIGSEGV, &sa, &old_segv), 0);
  CU_ASSERT_EQUAL_FATAL(mprotect(t.page, t.page_len, PROT_NONE), 0);
  CU_ASSERT_EQUAL_FATAL(mprotect(t.later, t.page_len, PROT_NONE), 0);
  pthread_t th;
  CU_ASSERT_EQUAL_FATAL(pthread_create(&th, NULL, deed_thread, &t), 0);
  int rc;
  if (deed == CALLBACK) {
    wpool_call_t call = {NULL, on_error_cb, &t, 0, 0};
    rc = wpool_map_async_ex(pool, copy_probe, items, N, ITEM, sums,
                            sizeof *sums, 1, &call, NULL);
  } else {
    rc = wpool_map_async(pool, copy_probe, items, N, ITEM, sums, sizeof *sums,
                         1, NULL, NULL, NULL, &t.result);
  }
  /* The items are gone at once: nothing may read them after the return. */
  munmap(items, len);
  if (!t.fired)
    note_post(&t.hit); /* release the other thread: nothing to do */
  pthread_join(th, NULL);
  sigaction(SIGSEGV, &old_segv, NULL);
  the_trip = NULL;
  CU_ASSERT_EQUAL(t.fired, 1);
  CU_ASSERT_EQUAL(t.deed_rc, 0);
  /* Once the result is cancelled or done, the copy stops at once. */
  CU_ASSERT_EQUAL(t.went_on, deed == KILL_WORKER);
  note_close(&t.hit);
  note_close(&t.go);
  note_close(&t.called);
  *result = t.result;
  return rc;
}

/* A parked map whose deed ends it with code want; the pool, or NULL when
   the deed destroyed it. */
static wpool_t *parked_ends(enum deed deed, int want) {
  wpool_t *pool = copy_pool();
  CU_ASSERT_PTR_NOT_NULL_FATAL(pool);
  uint64_t sums[N];
  wpool_result_t *r = NULL;
  CU_ASSERT_EQUAL_FATAL(parked_map(pool, deed, sums, &r, 0), 0);
  /* After DESTROY the handle outlives the pool: it only reads the end. */
  CU_ASSERT_EQUAL(wpool_result_get(r, WT_LONG_MS, NULL, NULL), want);
  wpool_result_free(r);
  return deed == DESTROY ? NULL : pool;
}

void shm_copy_cancel(void) {
  NEED_COPY();
  wpool_t *pool = parked_ends(CANCEL, WPOOL_ECANCELED);
  /* The pool goes on, with its buffer back as the spare. */
  wt_assert_squares(pool, 8);
  uint64_t sums[N];
  wpool_result_t *r = NULL;
  CU_ASSERT_EQUAL(parked_map(pool, KILL_WORKER, sums, &r, 0), 0);
  CU_ASSERT_EQUAL(wpool_result_get(r, WT_LONG_MS, NULL, NULL), 0);
  wpool_result_free(r);
  wpool_destroy(pool);
}

void shm_copy_terminate(void) {
  NEED_COPY();
  wpool_destroy(parked_ends(TERMINATE, WPOOL_ETERMINATED));
}

void shm_copy_destroy(void) {
  NEED_COPY();
  CU_ASSERT_PTR_NULL(parked_ends(DESTROY, WPOOL_ETERMINATED));
}

void shm_copy_interrupt(void) {
  NEED_COPY();
  wpool_t *pool = parked_ends(INTERRUPT, WPOOL_ETERMINATED);
  CU_ASSERT_EQUAL(wpool_join(pool), WPOOL_ETERMINATED);
  wpool_destroy(pool);
}

void shm_copy_worker_death(void) {
  NEED_COPY();
  wpool_t *pool = copy_pool();
  CU_ASSERT_PTR_NOT_NULL_FATAL(pool);
  uint64_t sums[N];
  wpool_result_t *r = NULL;
  CU_ASSERT_EQUAL_FATAL(parked_map(pool, KILL_WORKER, sums, &r, 1), 0);
  CU_ASSERT_EQUAL(wpool_result_get(r, WT_LONG_MS, NULL, NULL), WPOOL_EWORKER);
  CU_ASSERT_EQUAL(wpool_result_failed_count(r), 1);
  CU_ASSERT_EQUAL(wpool_result_item_code(r, 0), WPOOL_EWORKER);
  int bad = 0;
  /* valgrind resumes a memcpy that faulted on a guarded page with some
     bytes wrong (a plain memcpy program shows it too): there only the items
     copied before the fault are checked. */
  size_t checked = WT_UNDER_VALGRIND() ? TRIP : N;
  for (size_t i = 1; i < checked; i++)
    bad += sums[i] != expected(i);
  CU_ASSERT_EQUAL(bad, 0);
  wpool_result_free(r);
  wpool_destroy(pool);
}

/* A map with callbacks and no handle: its result is done (and its callback
   has run) while the copy is parked, and goes only when the copy lets go. */
void shm_copy_callback(void) {
  NEED_COPY();
  wpool_t *pool = copy_pool();
  CU_ASSERT_PTR_NOT_NULL_FATAL(pool);
  uint64_t sums[N];
  wpool_result_t *r = NULL;
  CU_ASSERT_EQUAL(parked_map(pool, CALLBACK, sums, &r, 0), 0);
  CU_ASSERT_PTR_NULL(r);
  wpool_destroy(pool);
}

#else

static void no_park(void) {
  WT_SKIP("parking the copy needs a POSIX fault handler (not written for "
          "Windows)");
}
void shm_copy_cancel(void) { no_park(); }
void shm_copy_terminate(void) { no_park(); }
void shm_copy_destroy(void) { no_park(); }
void shm_copy_interrupt(void) { no_park(); }
void shm_copy_worker_death(void) { no_park(); }
void shm_copy_callback(void) { no_park(); }

#endif
