/*
 * Results that travel around the channel (WPOOL__FL_SHM_RES): an output
 * past the frame limit comes back through a buffer that the worker makes
 * and hands over, for every method (thread workers hand it over in place).
 * Large outputs of apply, map and imap; imap inputs past the threshold; a
 * worker that dies holding a result's buffer leaves nothing behind; a worker
 * that lies about its buffer fails its task with WPOOL_EPROTO; results outlive
 * their pool.
 *
 * The large apply returns WPOOL_TEST_RESULT_MB megabytes (100 by default,
 * 8 under sanitizers and valgrind); its frame limit is set below that.
 */
#if defined(__linux__) && !defined(_GNU_SOURCE)
#define _GNU_SOURCE /* memfd_create, SO_PEERCRED */
#endif
#include "../src/proto.h" /* to speak the protocol as an impostor would */
#include "harness.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef __linux__
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#endif

#include "checked.h"

/* ---------------------------------------------------------------------- */
/* Tasks                                                                  */

/* Word i of an output of n bytes made by res_big. */
static uint64_t word_at(uint64_t n, uint64_t i) {
  return (i * 0x9E3779B97F4A7C15u) ^ n;
}

/* Returns as many bytes as its argument (a uint64_t, a multiple of 8)
   says, written in place through wpool_out_reserve. */
static int res_big(const void *arg, size_t len, wpool_out_t *out) {
  uint64_t n;
  if (len < sizeof n)
    return wpool_out_fail(out, 1, "bad argument");
  memcpy(&n, arg, sizeof n);
  if (n > SIZE_MAX)
    return wpool_out_fail(out, 1, "too large for this process");
  uint64_t *w = wpool_out_reserve(out, (size_t)n);
  if (!w)
    return 1;
  for (uint64_t i = 0; i < n / 8; i++)
    w[i] = word_at(n, i);
  return 0;
}
WPOOL_REGISTER(res_big)

/* A fixed output of its whole slot: every byte is the item's first byte
   plus 1; an item whose first byte is 0xFF fails. */
static int res_fill(const void *arg, size_t len, wpool_out_t *out) {
  const uint8_t *in = arg;
  if (len == 0 || in[0] == 0xFF)
    return wpool_out_fail(out, 5, "item refused");
  size_t n = 64 << 10;
  uint8_t *slot = wpool_out_reserve(out, n);
  if (!slot)
    return 1;
  memset(slot, in[0] + 1, n);
  return 0;
}
WPOOL_REGISTER(res_fill)

/* The sum of an item's bytes, whatever its length. */
static int res_sum(const void *arg, size_t len, wpool_out_t *out) {
  const uint8_t *b = arg;
  uint64_t sum = 0;
  for (size_t i = 0; i < len; i++)
    sum += b[i];
  return wpool_out_set(out, &sum, sizeof sum);
}
WPOOL_REGISTER(res_sum)

#ifdef __linux__
/* The worker's task socket: the Unix socket made by its parent (the pool,
   or the fork server that forked it), which SO_PEERCRED names. */
static int task_socket(void) {
  for (int fd = 3; fd < 1024; fd++) {
    struct stat st;
    if (fstat(fd, &st) || !S_ISSOCK(st.st_mode))
      continue;
    struct ucred cr;
    socklen_t n = sizeof cr;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &n) == 0 &&
        cr.pid == getppid())
      return fd;
  }
  return -1;
}

/* The worker's result pipe: its one write-only pipe. */
static int result_pipe(void) {
  for (int fd = 3; fd < 1024; fd++) {
    struct stat st;
    int fl = fcntl(fd, F_GETFL);
    if (fl >= 0 && fstat(fd, &st) == 0 && S_ISFIFO(st.st_mode) &&
        (fl & O_ACCMODE) == O_WRONLY)
      return fd;
  }
  return -1;
}

/* A memfd of size bytes, sealed against shrinking unless unsealed. */
static int make_memfd(size_t size, int sealed) {
  int fd = memfd_create("wpool-impostor", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (fd < 0 || ftruncate(fd, (off_t)size) < 0)
    return -1;
  if (sealed && fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW) < 0)
    return -1;
  return fd;
}

static int send_fd(int sock, int fd) {
  union {
    struct cmsghdr h;
    char space[CMSG_SPACE(sizeof(int))];
  } u;
  memset(&u, 0, sizeof u);
  struct iovec iov = {(void *)"R", 1};
  struct msghdr m = {0};
  m.msg_iov = &iov;
  m.msg_iovlen = 1;
  m.msg_control = u.space;
  m.msg_controllen = sizeof u.space;
  struct cmsghdr *c = CMSG_FIRSTHDR(&m);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(c), &fd, sizeof fd);
  return sendmsg(sock, &m, MSG_NOSIGNAL) == 1 ? 0 : -1;
}

/*
 * What a worker that misbehaves around a result's buffer does, by its
 * argument (an int):
 *   1 hand a buffer back, then die by SIGKILL before its RESULT;
 *   2 make a buffer and die by SIGKILL without handing it back;
 *   3 answer job 1 (the first of a fresh pool) with a RESULT that names a
 *     buffer it never sent;
 *   4 the same, having sent a buffer smaller than the RESULT says;
 *   5 the same, with a buffer of the right size that it could still shrink;
 *   6 a descriptor RESULT whose payload is not a descriptor.
 * Faking the worker loop's own frames from inside a task is the point:
 * the parent must hold every frame against what it knows.
 */
static int res_impostor(const void *arg, size_t len, wpool_out_t *out) {
  int how;
  if (len != sizeof how)
    return wpool_out_fail(out, 1, "bad argument");
  memcpy(&how, arg, sizeof how);
  int sock = task_socket(), pipe_w = result_pipe();
  if (sock < 0 || pipe_w < 0)
    return wpool_out_fail(out, 1, "cannot find the worker's channels");
  const uint64_t claimed = 1 << 20;
  if (how == 1 || how == 2) {
    int fd = make_memfd(claimed, 1);
    if (fd < 0 || (how == 1 && send_fd(sock, fd)))
      return wpool_out_fail(out, 1, "cannot make a buffer");
    raise(SIGKILL);
  }
  if (how == 4 || how == 5) {
    int fd = make_memfd(how == 4 ? 4096 : claimed, how == 4);
    if (fd < 0 || send_fd(sock, fd))
      return wpool_out_fail(out, 1, "cannot hand a buffer back");
    close(fd);
  }
  struct {
    wpool__frame_t f;
    wpool__res_desc_t d;
  } wire;
  memset(&wire, 0, sizeof wire);
  wire.f.magic = WPOOL__MAGIC;
  wire.f.type = WPOOL__F_RESULT;
  wire.f.flags = WPOOL__FL_SHM_RES;
  wire.f.len = how == 6 ? 8 : WPOOL__RES_DESC_SIZE;
  wire.f.job = 1;
  wire.f.count = 1;
  wire.d.len = claimed;
  size_t n = how == 6 ? sizeof wire.f + 8 : sizeof wire;
  if (write(pipe_w, &wire, n) != (ssize_t)n)
    return wpool_out_fail(out, 1, "cannot write the frame");
  /* The parent has what it needs to refuse this worker, which it kills. */
  for (;;)
    pause();
}
WPOOL_REGISTER(res_impostor)
#endif

/* ---------------------------------------------------------------------- */
/* Helpers                                                                */

static size_t result_mb(void) {
  const char *e = getenv("WPOOL_TEST_RESULT_MB");
  if (e && *e)
    return (size_t)strtoul(e, NULL, 10);
#ifdef WT_HEAVY_TOOLS
  return 8;
#else
  return WT_UNDER_VALGRIND() ? 8 : 100;
#endif
}

/* Words of an output of res_big(n) that are wrong (0: all right). */
static uint64_t wrong_words(const void *data, size_t len, uint64_t n) {
  if (len != n)
    return 1;
  const uint64_t *w = data;
  uint64_t bad = 0;
  for (uint64_t i = 0; i < n / 8; i++)
    bad += w[i] != word_at(n, i);
  return bad;
}

#ifdef __linux__
/* Entries of directory path whose names start with prefix (any: ""). */
static int count_dir(const char *path, const char *prefix) {
  DIR *d = opendir(path);
  if (!d)
    return -1;
  int n = 0;
  for (struct dirent *e; (e = readdir(d));)
    n += e->d_name[0] != '.' && strncmp(e->d_name, prefix, strlen(prefix)) == 0;
  closedir(d);
  return n;
}

/* Mappings of shared memory (a memfd, or an shm_open object). */
static int count_shm_maps(void) {
  FILE *f = fopen("/proc/self/maps", "r");
  if (!f)
    return -1;
  char line[512];
  int n = 0;
  while (fgets(line, sizeof line, f))
    n += strstr(line, "/memfd:") != NULL || strstr(line, "/dev/shm/") != NULL;
  fclose(f);
  return n;
}

typedef struct leaks {
  int fds, maps, shm;
  char mine[32];
} leaks_t;

static void leaks_start(leaks_t *l) {
  snprintf(l->mine, sizeof l->mine, "wpool.%ld.", wt_getpid());
  l->fds = count_dir("/proc/self/fd", "");
  l->maps = count_shm_maps();
  l->shm = count_dir("/dev/shm", l->mine);
}

static void leaks_check(const leaks_t *l) {
  CU_ASSERT_EQUAL(count_dir("/proc/self/fd", ""), l->fds);
  CU_ASSERT_EQUAL(count_shm_maps(), l->maps);
  CU_ASSERT_EQUAL(count_dir("/dev/shm", l->mine), l->shm);
}
#endif

/* ---------------------------------------------------------------------- */
/* Tests                                                                  */

/* An apply whose output is larger than the frame limit: the call returns
   it whole, by wpool_apply and through a result. */
/* wpool_apply of res_big for an n-byte result, checked word by word. */
static void apply_big(wpool_t *pool, uint64_t n) {
  void *out = NULL;
  size_t len = 0;
  char *msg = NULL;
  int rc = wpool_apply(pool, res_big, &n, sizeof n, &out, &len, &msg);
  CU_ASSERT_EQUAL(rc, 0);
  if (rc)
    fprintf(stderr, "apply: %s\n", msg ? msg : "(no message)");
  wpool_free(msg);
  CU_ASSERT_EQUAL(wrong_words(out, len, n), 0);
  wpool_free(out);
}

static void apply_over_frame_limit(void) {
  uint64_t n = (uint64_t)result_mb() << 20;
  wpool_options_t o;
  wt_options(&o, 1);
  o.max_frame = n / 2 < ((size_t)64 << 20) ? (size_t)(n / 2) : 64 << 20;
  wpool_t *pool = NULL;
  CU_ASSERT_EQUAL_FATAL(wt_create(&pool, &o), 0);
  apply_big(pool, n);
  /* The same through a result, twice at once. */
  wpool_result_t *r[2] = {NULL, NULL};
  for (int k = 0; k < 2; k++)
    CU_ASSERT_EQUAL_FATAL(
        wpool_apply_async(pool, res_big, &n, sizeof n, NULL, NULL, NULL, &r[k]),
        0);
  for (int k = 0; k < 2; k++) {
    const void *data = NULL;
    size_t len = 0;
    CU_ASSERT_EQUAL(wpool_result_get(r[k], WT_LONG_MS, &data, &len), 0);
    CU_ASSERT_EQUAL(wrong_words(data, len, n), 0);
    wpool_result_free(r[k]);
  }
  /* Just past the limit, where the frame's slack for record headers would
     still hold it: the limit is on the user's bytes. */
  apply_big(pool, o.max_frame + 8);
  /* Small results still take the channel, and the pool goes on. */
  wt_assert_squares(pool, 10);
  wpool_destroy(pool);
}

/* A map whose chunks' fixed outputs pass the threshold: they keep the
   channel (chunks are cut to fit the frame limit by their outputs, and a
   small result is faster there) and land in the caller's array; a failed
   item's slot reads as zero and says why. */
static void map_outputs_over_threshold(void) {
  wpool_options_t o;
  wt_options(&o, 2);
  o.shm_threshold = 16 << 10;
  wpool_t *pool = NULL;
  CU_ASSERT_EQUAL_FATAL(wt_create(&pool, &o), 0);
  enum { N = 12, OSIZE = 64 << 10 };
  uint8_t in[N];
  for (int i = 0; i < N; i++)
    in[i] = (uint8_t)(i == 5 ? 0xFF : i);
  uint8_t *outs = malloc((size_t)N * OSIZE);
  CU_ASSERT_PTR_NOT_NULL_FATAL(outs);
  memset(outs, 0xAB, (size_t)N * OSIZE);
  wpool_result_t *r = NULL;
  CU_ASSERT_EQUAL_FATAL(wpool_map_async(pool, res_fill, in, N, 1, outs, OSIZE,
                                        3, NULL, NULL, NULL, &r),
                        0);
  CU_ASSERT_EQUAL(wpool_result_wait(r, WT_LONG_MS), 0);
  CU_ASSERT_EQUAL(wpool_result_item_code(r, 5), WPOOL_ETASK);
  int bad = 0;
  for (int i = 0; i < N; i++)
    for (size_t b = 0; b < OSIZE; b += 4093)
      bad += outs[(size_t)i * OSIZE + b] != (i == 5 ? 0 : (uint8_t)(i + 1));
  CU_ASSERT_EQUAL(bad, 0);
  wpool_result_free(r);
  free(outs);
  wpool_destroy(pool);
}

/* imap and imap_unordered whose outputs pass the frame limit, one by one
   and a chunk's together. */
static void imap_outputs_over_frame_limit(void) {
  wpool_options_t o;
  wt_options(&o, 2);
  o.max_frame = 1 << 20;
  o.shm_threshold = 64 << 10;
  wpool_t *pool = NULL;
  CU_ASSERT_EQUAL_FATAL(wt_create(&pool, &o), 0);
  enum { N = 9 };
  uint64_t sizes[N];
  for (int i = 0; i < N; i++)
    sizes[i] = (uint64_t)(i % 3 == 0 ? 8 : (3 << 19) + 8 * i); /* 1.5 MiB+ */
  for (int unordered = 0; unordered < 2; unordered++) {
    wpool_source_t src = wpool_source_array(sizes, N, sizeof sizes[0]);
    wpool_iter_t *it = NULL;
    CU_ASSERT_EQUAL_FATAL(
        unordered ? wpool_imap_unordered(pool, res_big, &src, 3, &it)
                  : wpool_imap(pool, res_big, &src, 3, &it),
        0);
    const void *d;
    size_t len;
    int rc, got = 0;
    uint64_t bad = 0;
    while ((rc = wpool_iter_next(it, WT_LONG_MS, &d, &len)) == 0) {
      size_t i = wpool_iter_index(it);
      bad += i >= N || wrong_words(d, len, sizes[i]);
      got++;
    }
    CU_ASSERT_EQUAL(rc, WPOOL_EDONE);
    CU_ASSERT_EQUAL(got, N);
    CU_ASSERT_EQUAL(bad, 0);
    wpool_iter_free(it);
  }
  wpool_destroy(pool);
}

/* imap and imap_unordered over items of at least the threshold, past the
   frame limit: they go through a buffer (read in place by threads). */
static void imap_large_inputs(void) {
  wpool_options_t o;
  wt_options(&o, 2);
  o.max_frame = 64 << 10;
  o.shm_threshold = 32 << 10;
  wpool_t *pool = NULL;
  CU_ASSERT_EQUAL_FATAL(wt_create(&pool, &o), 0);
  enum { N = 10, ITEM = 256 << 10 };
  uint8_t *items = malloc((size_t)N * ITEM);
  CU_ASSERT_PTR_NOT_NULL_FATAL(items);
  for (size_t i = 0; i < (size_t)N * ITEM; i++)
    items[i] = (uint8_t)(i / ITEM + 1);
  for (int unordered = 0; unordered < 2; unordered++) {
    wpool_source_t src = wpool_source_array(items, N, ITEM);
    wpool_iter_t *it = NULL;
    int rc = unordered ? wpool_imap_unordered(pool, res_sum, &src, 2, &it)
                       : wpool_imap(pool, res_sum, &src, 2, &it);
    CU_ASSERT_EQUAL_FATAL(rc, 0);
    const void *d;
    size_t len;
    int got = 0, bad = 0;
    while ((rc = wpool_iter_next(it, WT_LONG_MS, &d, &len)) == 0) {
      size_t i = wpool_iter_index(it);
      uint64_t sum = 0;
      if (len == sizeof sum)
        memcpy(&sum, d, sizeof sum);
      bad += i >= N || sum != (uint64_t)ITEM * (i + 1);
      got++;
    }
    CU_ASSERT_EQUAL(rc, WPOOL_EDONE);
    CU_ASSERT_EQUAL(got, N);
    CU_ASSERT_EQUAL(bad, 0);
    wpool_iter_free(it);
  }
  /* The frame limit still holds where the threshold says never. */
  wpool_destroy(pool);
  o.shm_threshold = SIZE_MAX;
  CU_ASSERT_EQUAL_FATAL(wt_create(&pool, &o), 0);
  wpool_source_t src = wpool_source_array(items, N, ITEM);
  wpool_iter_t *it = NULL;
  CU_ASSERT_EQUAL(wpool_imap(pool, res_sum, &src, 1, &it), WPOOL_E2BIG);
  wpool_destroy(pool);
  free(items);
}

/* Results read and freed after their pool is destroyed, results never read
   at all, cancelled and terminated: nothing leaks (ASan, valgrind, and the
   counts on Linux). */
static void results_outlive_pool(void) {
#ifdef __linux__
  leaks_t l;
  leaks_start(&l);
#endif
  uint64_t n = 4 << 20;
  wpool_options_t o;
  wt_options(&o, 2);
  o.max_frame = 1 << 20;
  wpool_t *pool = NULL;
  CU_ASSERT_EQUAL_FATAL(wt_create(&pool, &o), 0);
  wpool_result_t *r[4] = {NULL, NULL, NULL, NULL};
  for (int k = 0; k < 4; k++)
    CU_ASSERT_EQUAL_FATAL(
        wpool_apply_async(pool, res_big, &n, sizeof n, NULL, NULL, NULL, &r[k]),
        0);
  CU_ASSERT_EQUAL(wpool_result_wait(r[0], WT_LONG_MS), 0);
  CU_ASSERT_EQUAL(wpool_close(pool), 0);
  CU_ASSERT_EQUAL(wpool_join(pool), 0);
  wpool_destroy(pool);
  const void *data;
  size_t len;
  CU_ASSERT_EQUAL(wpool_result_get(r[1], 0, &data, &len), 0);
  CU_ASSERT_EQUAL(wrong_words(data, len, n), 0);
  for (int k = 0; k < 4; k++)
    wpool_result_free(r[k]);
  /* Cancelled while large results are on their way: discarded. */
  CU_ASSERT_EQUAL_FATAL(wt_create(&pool, &o), 0);
  for (int k = 0; k < 4; k++)
    CU_ASSERT_EQUAL_FATAL(
        wpool_apply_async(pool, res_big, &n, sizeof n, NULL, NULL, NULL, &r[k]),
        0);
  for (int k = 0; k < 4; k++) {
    int rc = wpool_result_cancel(r[k]);
    CU_ASSERT_TRUE(rc == 0 || rc == WPOOL_ESTATE); /* may be done already */
    CU_ASSERT_EQUAL(wpool_result_wait(r[k], WT_LONG_MS), 0);
    wpool_result_free(r[k]);
  }
  wt_assert_squares(pool, 4);
  wpool_destroy(pool);
  /* Terminated while large results are on their way: discarded. */
  CU_ASSERT_EQUAL_FATAL(wt_create(&pool, &o), 0);
  for (int k = 0; k < 4; k++)
    CU_ASSERT_EQUAL_FATAL(
        wpool_apply_async(pool, res_big, &n, sizeof n, NULL, NULL, NULL, &r[k]),
        0);
  wpool_terminate(pool);
  for (int k = 0; k < 4; k++) {
    CU_ASSERT_EQUAL(wpool_result_wait(r[k], WT_LONG_MS), 0);
    wpool_result_free(r[k]);
  }
  wpool_destroy(pool);
#ifdef __linux__
  leaks_check(&l);
#endif
}

/* A worker killed after it made a result's buffer, before or after it
   handed it back, leaves nothing behind: no descriptor, no mapping in
   this process, nothing under /dev/shm. */
static void killed_with_result_buffer(void) {
  if (!wt_is_process())
    WT_SKIP("a thread cannot be killed");
  WT_SKIP_REMOTE("the task finds its worker's local channels");
#ifndef __linux__
  WT_SKIP("counts descriptors and mappings through /proc");
#else
  leaks_t l;
  leaks_start(&l);
  wpool_t *pool = wt_pool(1);
  CU_ASSERT_PTR_NOT_NULL_FATAL(pool);
  for (int how = 1; how <= 2; how++) {
    char *msg = NULL;
    CU_ASSERT_EQUAL(
        wpool_apply(pool, res_impostor, &how, sizeof how, NULL, NULL, &msg),
        WPOOL_EWORKER);
    wpool_free(msg);
  }
  wt_assert_squares(pool, 10);
  wpool_destroy(pool);
  leaks_check(&l);
#endif
}

/* A RESULT that lies about its buffer fails its task with WPOOL_EPROTO,
   and the pool replaces the worker and goes on. */
static void corrupt_result_descriptor(void) {
  if (!wt_is_process())
    WT_SKIP("thread workers send no frames");
  WT_SKIP_REMOTE("the task finds its worker's local channels");
#ifndef __linux__
  WT_SKIP("the impostor task finds its channels through Linux calls");
#else
  leaks_t l;
  leaks_start(&l);
  static const char *const why[] = {
      NULL,         NULL,       NULL, "did not send", "smaller than it says",
      "not sealed", "malformed"};
  for (int how = 3; how <= 6; how++) {
    /* A fresh pool: the impostor's task is its job 1. */
    wpool_t *pool = wt_pool(1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(pool);
    char *msg = NULL;
    CU_ASSERT_EQUAL(
        wpool_apply(pool, res_impostor, &how, sizeof how, NULL, NULL, &msg),
        WPOOL_EPROTO);
    CU_ASSERT_TRUE(wt_contains(msg, why[how]));
    if (!wt_contains(msg, why[how]))
      fprintf(stderr, "case %d: %s\n", how, msg ? msg : "(no message)");
    wpool_free(msg);
    wt_assert_squares(pool, 4);
    wpool_destroy(pool);
  }
  leaks_check(&l);
#endif
}

/* A 5 GiB result (WPOOL_TEST_HUGE=1: the worker's output and its buffer,
   then the buffer and the parent's copy, 10 GiB at a time). */
static void result_over_4gib(void) {
  const char *e = getenv("WPOOL_TEST_HUGE");
  if (!e || strcmp(e, "1") != 0)
    WT_SKIP("set WPOOL_TEST_HUGE=1 to return 5 GiB (10 GiB of memory)");
  if (sizeof(size_t) < 8)
    WT_SKIP("needs a 64-bit address space");
  uint64_t n = (uint64_t)5 << 30;
  wpool_t *pool = wt_pool(1);
  CU_ASSERT_PTR_NOT_NULL_FATAL(pool);
  apply_big(pool, n);
  wpool_destroy(pool);
}

static const wt_test_t tests[] = {
    {"apply_over_frame_limit", apply_over_frame_limit},
    {"map_outputs_over_threshold", map_outputs_over_threshold},
    {"imap_outputs_over_frame_limit", imap_outputs_over_frame_limit},
    {"imap_large_inputs", imap_large_inputs},
    {"results_outlive_pool", results_outlive_pool},
    {"killed_with_result_buffer", killed_with_result_buffer},
    {"corrupt_result_descriptor", corrupt_result_descriptor},
    {"result_over_4gib", result_over_4gib},
    {NULL, NULL}};

const wt_suite_t wt_suite_shm_results = {"shm_results", 1, 0, tests};
