/*
 * Shared buffers (wpool_shm_*): map and apply over slices without copies,
 * outputs written into shared slots, read-only inputs in process workers,
 * bad slices, freeing a buffer in use, and nothing left behind when a
 * worker holding buffers is killed. Every method, on Windows too (there
 * the two leak counts that read /proc are skipped).
 *
 * The large map uses WPOOL_TEST_SHM_MB megabytes (1024 by default, 64
 * under sanitizers and valgrind, whose shadow memory would double it).
 */
#include "harness.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef __linux__
#include <dirent.h>
#endif

#include "checked.h"

/* ---------------------------------------------------------------------- */
/* Tasks                                                                  */

/* The sum of an item's 64-bit words. */
static int shm_sum(const void *arg, size_t len, wpool_out_t *out) {
  const uint64_t *w = arg;
  uint64_t sum = 0;
  for (size_t i = 0; i < len / sizeof *w; i++)
    sum += w[i];
  return wpool_out_set(out, &sum, sizeof sum);
}
WPOOL_REGISTER(shm_sum)

/* Writes its first byte into its (read-only) input when that byte is 0xEE;
   else returns the byte. */
static int shm_scribble(const void *arg, size_t len, wpool_out_t *out) {
  if (len == 0)
    return wpool_out_fail(out, 1, "empty item");
  uint8_t *p = (uint8_t *)arg; /* a bug on purpose */
  if (p[0] == 0xEE)
    p[0] = 0;
  int v = p[0];
  return wpool_out_set(out, &v, sizeof v);
}
WPOOL_REGISTER(shm_scribble)

/* Fails on items whose first int is negative; else writes its item's ints
   doubled into its slot, through the slot pointer itself. */
static int shm_double(const void *arg, size_t len, wpool_out_t *out) {
  const int *in = arg;
  size_t n = len / sizeof *in;
  if (n && in[0] < 0)
    return wpool_out_fail(out, 7, "negative item %d", in[0]);
  int *slot = wpool_out_reserve(out, len);
  if (!slot)
    return 1;
  for (size_t i = 0; i < n; i++)
    slot[i] = 2 * in[i];
  return 0;
}
WPOOL_REGISTER(shm_double)

/* The sum of one 64-bit word per 4 KiB: touches every page of a large
   item without a full pass. */
static int shm_stride_sum(const void *arg, size_t len, wpool_out_t *out) {
  const uint64_t *w = arg;
  uint64_t sum = 0;
  for (size_t i = 0; i < len / sizeof *w; i += 512)
    sum += w[i];
  return wpool_out_set(out, &sum, sizeof sum);
}
WPOOL_REGISTER(shm_stride_sum)

#ifdef __linux__
/* A line of /proc/self/maps that maps a buffer of wpool's: a memfd, or an
   unlinked shm_open object where memfd is missing. Not a process worker's
   progress line, mapped for the worker's life. */
static int wpool_mapping(const char *line) {
  if (strstr(line, "/memfd:wpool-progress") != NULL)
    return 0;
  return strstr(line, "/memfd:wpool") != NULL ||
         strstr(line, "/dev/shm/wpool.") != NULL;
}
#endif

/* How many mappings of wpool's shared memory this process has. */
static int shm_count_maps(const void *arg, size_t len, wpool_out_t *out) {
  (void)arg;
  (void)len;
  int n = -1;
#ifdef __linux__
  FILE *f = fopen("/proc/self/maps", "r");
  if (!f)
    return wpool_out_fail(out, 1, "no /proc/self/maps");
  char line[512];
  n = 0;
  while (fgets(line, sizeof line, f))
    n += wpool_mapping(line);
  fclose(f);
#endif
  return wpool_out_set(out, &n, sizeof n);
}
WPOOL_REGISTER(shm_count_maps)

/* ---------------------------------------------------------------------- */
/* Helpers                                                                */

/* A buffer, or a skip where there are none. */
#define NEED_SHM(shm, size)                                                    \
  do {                                                                         \
    int rc_ = wpool_shm_alloc((size), &(shm));                                 \
    if (rc_ == WPOOL_ENOTSUP)                                                  \
      WT_SKIP("no shared buffers on this platform yet");                       \
    CU_ASSERT_EQUAL_FATAL(rc_, 0);                                             \
  } while (0)

static size_t large_mb(void) {
  const char *e = getenv("WPOOL_TEST_SHM_MB");
  if (e && *e)
    return (size_t)strtoul(e, NULL, 10);
#ifdef WT_HEAVY_TOOLS
  return 64;
#else
  return WT_UNDER_VALGRIND() ? 64 : 1024;
#endif
}

/* ---------------------------------------------------------------------- */
/* Tests                                                                  */

/* A map over a large shared array: each 1 MiB item summed in a worker. */
static void map_large_array(void) {
  size_t mb = large_mb();
  if (mb == 0)
    WT_SKIP("WPOOL_TEST_SHM_MB=0");
  const size_t item = (size_t)1 << 20;
  size_t size = mb * item;
  size_t n = mb;
  wpool_shm_t *in, *out;
  NEED_SHM(in, size);
  CU_ASSERT_EQUAL_FATAL(wpool_shm_alloc(n * sizeof(uint64_t), &out), 0);
  CU_ASSERT_EQUAL(wpool_shm_size(in), size);
  uint64_t *w = wpool_shm_ptr(in);
  for (size_t i = 0; i < size / sizeof *w; i++)
    w[i] = i;
  wpool_t *pool = wt_pool(2);
  CU_ASSERT_PTR_NOT_NULL_FATAL(pool);
  wpool_slice_t sin = wpool_slice(in, 0, size);
  wpool_slice_t sout = wpool_slice(out, 0, n * sizeof(uint64_t));
  char *msg = NULL;
  int rc = wpool_map_shm(pool, shm_sum, &sin, item, &sout, sizeof(uint64_t), 0,
                         &msg);
  CU_ASSERT_EQUAL(rc, 0);
  if (rc)
    fprintf(stderr, "map_shm: %s\n", msg ? msg : "(no message)");
  wpool_free(msg);
  const uint64_t *sums = wpool_shm_ptr(out);
  uint64_t words = item / sizeof(uint64_t);
  int bad = 0;
  for (size_t k = 0; k < n; k++) {
    uint64_t first = k * words, last = first + words - 1;
    bad += sums[k] != (first + last) * words / 2;
  }
  CU_ASSERT_EQUAL(bad, 0);
  wpool_destroy(pool);
  wpool_shm_free(in);
  wpool_shm_free(out);
}

/* apply over slices, blocking and asynchronous; the output comes back
   through the channel. */
static void apply_slices(void) {
  wpool_shm_t *shm;
  NEED_SHM(shm, 4096 * 3);
  uint64_t *w = wpool_shm_ptr(shm);
  for (size_t i = 0; i < 4096 * 3 / sizeof *w; i++)
    w[i] = i + 1;
  wpool_t *pool = wt_pool(2);
  CU_ASSERT_PTR_NOT_NULL_FATAL(pool);
  /* An unaligned, page-crossing slice: words 500 .. 599. */
  wpool_slice_t sl = wpool_slice(shm, 500 * 8, 100 * 8);
  void *out = NULL;
  size_t len = 0;
  CU_ASSERT_EQUAL(wpool_apply_shm(pool, shm_sum, &sl, &out, &len, NULL), 0);
  uint64_t sum = 0;
  CU_ASSERT_EQUAL(len, sizeof sum);
  if (out && len == sizeof sum)
    memcpy(&sum, out, sizeof sum);
  CU_ASSERT_EQUAL(sum, (501 + 600) * 100 / 2);
  wpool_free(out);
  /* An empty slice is an empty argument. */
  wpool_slice_t empty = wpool_slice(shm, 4096, 0);
  CU_ASSERT_EQUAL(wpool_apply_shm(pool, shm_sum, &empty, &out, &len, NULL), 0);
  CU_ASSERT_EQUAL(len, sizeof sum);
  wpool_free(out);
  wpool_result_t *r[8];
  for (int k = 0; k < 8; k++) {
    wpool_slice_t one = wpool_slice(shm, (size_t)k * 8, 8);
    CU_ASSERT_EQUAL_FATAL(
        wpool_apply_shm_async(pool, shm_sum, &one, NULL, &r[k]), 0);
  }
  for (int k = 0; k < 8; k++) {
    const void *data;
    CU_ASSERT_EQUAL(wpool_result_get(r[k], WT_LONG_MS, &data, &len), 0);
    CU_ASSERT_EQUAL(len, sizeof sum);
    if (len == sizeof sum) {
      memcpy(&sum, data, sizeof sum);
      CU_ASSERT_EQUAL(sum, (uint64_t)k + 1);
    }
    wpool_result_free(r[k]);
  }
  wpool_destroy(pool);
  wpool_shm_free(shm);
}

/* Outputs go straight into the output slots; a failed item's slot reads
   zero and the others are whole. Items are 3 ints, outputs 3 ints. */
static void outputs_in_slots(void) {
  enum { N = 100, K = 3 };
  wpool_shm_t *shm;
  NEED_SHM(shm, 2 * N * K * sizeof(int));
  int *in = wpool_shm_ptr(shm), *out = in + N * K;
  for (int i = 0; i < N * K; i++)
    in[i] = i;
  in[42 * K] = -1; /* item 42 fails */
  for (int i = 0; i < N * K; i++)
    out[i] = 12345;
  wpool_t *pool = wt_pool(3);
  CU_ASSERT_PTR_NOT_NULL_FATAL(pool);
  wpool_slice_t sin = wpool_slice(shm, 0, N * K * sizeof(int));
  wpool_slice_t sout =
      wpool_slice(shm, N * K * sizeof(int), N * K * sizeof(int));
  wpool_result_t *r = NULL;
  CU_ASSERT_EQUAL_FATAL(wpool_map_shm_async(pool, shm_double, &sin,
                                            K * sizeof(int), &sout,
                                            K * sizeof(int), 7, NULL, &r),
                        0);
  const void *data;
  size_t len;
  CU_ASSERT_EQUAL(wpool_result_get(r, WT_LONG_MS, &data, &len), WPOOL_ETASK);
  CU_ASSERT_TRUE(wt_contains(wpool_result_message(r), "item 42"));
  CU_ASSERT_EQUAL(wpool_result_failed_count(r), 1);
  CU_ASSERT_EQUAL(wpool_result_item_code(r, 42), WPOOL_ETASK);
  int bad = 0;
  for (int i = 0; i < N; i++)
    for (int k = 0; k < K; k++)
      bad += out[i * K + k] != (i == 42 ? 0 : 2 * (i * K + k));
  CU_ASSERT_EQUAL(bad, 0);
  wpool_result_free(r);
  /* The blocking call, on the same slices: every item succeeds now. */
  in[42 * K] = 42 * K;
  CU_ASSERT_EQUAL(wpool_map_shm(pool, shm_double, &sin, K * sizeof(int), &sout,
                                K * sizeof(int), 0, NULL),
                  0);
  CU_ASSERT_EQUAL(out[42 * K + 1], 2 * (42 * K + 1));
  wpool_destroy(pool);
  wpool_shm_free(shm);
}

#ifndef WT_HEAVY_TOOLS
/* MiB of memory available, from /proc/meminfo; 0 when unknown. */
static size_t available_mb(void) {
  size_t kb = 0;
#ifdef __linux__
  FILE *f = fopen("/proc/meminfo", "r");
  char line[128];
  while (f && fgets(line, sizeof line, f))
    if (sscanf(line, "MemAvailable: %zu kB", &kb) == 1)
      break;
  if (f)
    fclose(f);
#endif
  return kb / 1024;
}
#endif

/* An apply whose argument is 5 GiB: past 32-bit sizes and any frame. */
static void apply_over_4gib(void) {
#ifdef WT_HEAVY_TOOLS
  WT_SKIP("5 GiB under a sanitizer's shadow memory");
#else
  if (WT_UNDER_VALGRIND())
    WT_SKIP("5 GiB under valgrind");
  if (sizeof(size_t) < 8)
    WT_SKIP("needs a 64-bit address space");
  if (available_mb() < 12 * 1024)
    WT_SKIP("needs 12 GiB of available memory (MemAvailable, Linux)");
  const uint64_t size = (uint64_t)5 << 30;
  wpool_shm_t *shm;
  NEED_SHM(shm, (size_t)size);
  uint64_t *w = wpool_shm_ptr(shm);
  uint64_t pages = size / 4096;
  for (uint64_t i = 0; i < pages; i++)
    w[i * 512] = i;
  wpool_t *pool = wt_pool(1);
  CU_ASSERT_PTR_NOT_NULL_FATAL(pool);
  wpool_slice_t all = wpool_slice(shm, 0, (size_t)size);
  void *out = NULL;
  size_t len = 0;
  char *msg = NULL;
  int rc = wpool_apply_shm(pool, shm_stride_sum, &all, &out, &len, &msg);
  CU_ASSERT_EQUAL(rc, 0);
  if (rc)
    fprintf(stderr, "apply_shm: %s\n", msg ? msg : "(no message)");
  wpool_free(msg);
  uint64_t sum = 0;
  CU_ASSERT_EQUAL(len, sizeof sum);
  if (out && len == sizeof sum)
    memcpy(&sum, out, sizeof sum);
  CU_ASSERT_EQUAL(sum, pages * (pages - 1) / 2);
  wpool_free(out);
  wpool_destroy(pool);
  wpool_shm_free(shm);
#endif
}

/* Arguments and map inputs at the pool's threshold go through shared
   buffers of their own: past the frame limit, with nothing to free. */
static void transparent_arguments(void) {
  wpool_shm_t *probe;
  NEED_SHM(probe, 1);
  wpool_shm_free(probe);
  wpool_options_t o;
  wt_options(&o, 2);
  o.max_frame = 64 << 10;
  o.shm_threshold = 16 << 10;
  wpool_t *pool = NULL;
  CU_ASSERT_EQUAL_FATAL(wt_create(&pool, &o), 0);
  enum { BIG = 1 << 20, ITEM = 128 << 10, N = 24 };
  uint64_t *arg = malloc(BIG);
  uint64_t *items = malloc((size_t)N * ITEM);
  CU_ASSERT_PTR_NOT_NULL_FATAL(arg);
  CU_ASSERT_PTR_NOT_NULL_FATAL(items);
  for (size_t i = 0; i < BIG / 8; i++)
    arg[i] = i;
  for (size_t i = 0; i < (size_t)N * ITEM / 8; i++)
    items[i] = 1;
  void *out = NULL;
  size_t len = 0;
  char *msg = NULL;
  /* 1 MiB, sixteen times the frame limit. */
  CU_ASSERT_EQUAL(wpool_apply(pool, shm_sum, arg, BIG, &out, &len, &msg), 0);
  uint64_t sum = 0;
  if (out && len == sizeof sum)
    memcpy(&sum, out, sizeof sum);
  CU_ASSERT_EQUAL(sum, (uint64_t)(BIG / 8) * (BIG / 8 - 1) / 2);
  wpool_free(out);
  wpool_free(msg);
  /* The caller's argument may change at once: the task has its copy. */
  wpool_result_t *r = NULL;
  CU_ASSERT_EQUAL_FATAL(
      wpool_apply_async(pool, shm_sum, arg, BIG, NULL, NULL, NULL, &r), 0);
  memset(arg, 0, BIG);
  const void *data;
  CU_ASSERT_EQUAL(wpool_result_get(r, WT_LONG_MS, &data, &len), 0);
  if (len == sizeof sum)
    memcpy(&sum, data, sizeof sum);
  CU_ASSERT_EQUAL(sum, (uint64_t)(BIG / 8) * (BIG / 8 - 1) / 2);
  wpool_result_free(r);
  /* A map of 128 KiB items; outputs through the channel as ever. */
  uint64_t sums[N];
  CU_ASSERT_EQUAL(
      wpool_map(pool, shm_sum, items, N, ITEM, sums, sizeof sums[0], 0, &msg),
      0);
  wpool_free(msg);
  int bad = 0;
  for (int i = 0; i < N; i++)
    bad += sums[i] != ITEM / 8;
  CU_ASSERT_EQUAL(bad, 0);
  /* Below the threshold the frame limit still holds. */
  CU_ASSERT_EQUAL(wpool_apply(pool, shm_sum, arg, 15 << 10, &out, &len, NULL),
                  0);
  wpool_free(out);
  wpool_destroy(pool);
  o.shm_threshold = SIZE_MAX;
  CU_ASSERT_EQUAL_FATAL(wt_create(&pool, &o), 0);
  CU_ASSERT_EQUAL(wpool_apply(pool, shm_sum, arg, BIG, &out, &len, NULL),
                  WPOOL_E2BIG);
  wpool_destroy(pool);
  free(arg);
  free(items);
}

/* An ordinary wpool_apply of 5 GiB (WPOOL_TEST_HUGE=1: it takes the
   caller's 5 GiB and the buffer's 5 GiB at once). */
static void transparent_over_4gib(void) {
  const char *e = getenv("WPOOL_TEST_HUGE");
  if (!e || strcmp(e, "1") != 0)
    WT_SKIP("set WPOOL_TEST_HUGE=1 to apply 5 GiB (10 GiB of memory)");
  if (sizeof(size_t) < 8)
    WT_SKIP("needs a 64-bit address space");
  const uint64_t size = (uint64_t)5 << 30;
  uint64_t *w = malloc((size_t)size);
  if (!w)
    WT_SKIP("cannot allocate 5 GiB here");
  uint64_t pages = size / 4096;
  for (uint64_t i = 0; i < pages; i++)
    w[i * 512] = i;
  wpool_t *pool = wt_pool(1);
  CU_ASSERT_PTR_NOT_NULL_FATAL(pool);
  void *out = NULL;
  size_t len = 0;
  char *msg = NULL;
  int rc = wpool_apply(pool, shm_stride_sum, w, (size_t)size, &out, &len, &msg);
  CU_ASSERT_EQUAL(rc, 0);
  if (rc)
    fprintf(stderr, "apply: %s\n", msg ? msg : "(no message)");
  wpool_free(msg);
  uint64_t sum = 0;
  if (out && len == sizeof sum)
    memcpy(&sum, out, sizeof sum);
  CU_ASSERT_EQUAL(sum, pages * (pages - 1) / 2);
  wpool_free(out);
  wpool_destroy(pool);
  free(w);
}

/* Many small items, one per chunk: the pool sends tasks ahead of a
   worker, and a worker holds only a few buffers' handles at a time; every
   output lands in its slot. */
static void many_small_items(void) {
  enum { N = 5000 };
  wpool_shm_t *in, *out;
  NEED_SHM(in, N * 8);
  CU_ASSERT_EQUAL_FATAL(wpool_shm_alloc(N * 8, &out), 0);
  uint64_t *w = wpool_shm_ptr(in);
  for (int i = 0; i < N; i++)
    w[i] = (uint64_t)i * 7 + 1;
  wpool_t *pool = wt_pool(2);
  CU_ASSERT_PTR_NOT_NULL_FATAL(pool);
  wpool_slice_t sin = wpool_slice(in, 0, N * 8);
  wpool_slice_t sout = wpool_slice(out, 0, N * 8);
  CU_ASSERT_EQUAL(wpool_map_shm(pool, shm_sum, &sin, 8, &sout, 8, 1, NULL), 0);
  const uint64_t *o = wpool_shm_ptr(out);
  int bad = 0;
  for (int i = 0; i < N; i++)
    bad += o[i] != (uint64_t)i * 7 + 1;
  CU_ASSERT_EQUAL(bad, 0);
  /* Ordinary work in between and after goes as before. */
  wt_assert_squares(pool, 50);
  wpool_destroy(pool);
  wpool_shm_free(in);
  wpool_shm_free(out);
}

/* imap and imap_unordered over a shared buffer's items; a bad slice is
   refused. */
static void imap_items(void) {
  enum { N = 300 };
  wpool_shm_t *shm;
  NEED_SHM(shm, N * 16);
  uint64_t *w = wpool_shm_ptr(shm);
  for (int i = 0; i < 2 * N; i++)
    w[i] = (uint64_t)i;
  wpool_t *pool = wt_pool(2);
  CU_ASSERT_PTR_NOT_NULL_FATAL(pool);
  wpool_slice_t sl = wpool_slice(shm, 0, N * 16);
  wpool_source_t src = wpool_source_shm(&sl, 16);
  for (int ordered = 0; ordered < 2; ordered++) {
    wpool_iter_t *it = NULL;
    int rc = ordered ? wpool_imap(pool, shm_sum, &src, 7, &it)
                     : wpool_imap_unordered(pool, shm_sum, &src, 7, &it);
    CU_ASSERT_EQUAL_FATAL(rc, 0);
    const void *data;
    size_t len;
    int seen = 0, bad = 0;
    while ((rc = wpool_iter_next(it, WT_LONG_MS, &data, &len)) != WPOOL_EDONE) {
      CU_ASSERT_EQUAL_FATAL(rc, 0);
      size_t i = wpool_iter_index(it);
      uint64_t sum = 0;
      if (len == sizeof sum)
        memcpy(&sum, data, sizeof sum);
      bad += sum != 4 * (uint64_t)i + 1 || (ordered && i != (size_t)seen);
      seen++;
    }
    CU_ASSERT_EQUAL(seen, N);
    CU_ASSERT_EQUAL(bad, 0);
    wpool_iter_free(it);
  }
  wpool_iter_t *it = NULL;
  wpool_source_t ragged = wpool_source_shm(&sl, 17);
  CU_ASSERT_EQUAL(wpool_imap(pool, shm_sum, &ragged, 1, &it), WPOOL_EINVAL);
  wpool_slice_t past = wpool_slice(shm, 16, N * 16);
  wpool_source_t outside = wpool_source_shm(&past, 16);
  CU_ASSERT_EQUAL(wpool_imap(pool, shm_sum, &outside, 1, &it), WPOOL_EINVAL);
  /* The iterator holds the buffer: freeing it first is safe. */
  CU_ASSERT_EQUAL_FATAL(wpool_imap(pool, shm_sum, &src, 50, &it), 0);
  wpool_shm_free(shm);
  wpool_iter_t *refused = NULL;
  CU_ASSERT_EQUAL(wpool_imap(pool, shm_sum, &src, 1, &refused), WPOOL_EINVAL);
  int n = 0;
  const void *data;
  size_t len;
  while (wpool_iter_next(it, WT_LONG_MS, &data, &len) == 0)
    n++;
  CU_ASSERT_EQUAL(n, N);
  wpool_iter_free(it);
  wpool_destroy(pool);
}

/* A task that writes into its input dies alone (process workers map inputs
   read-only): its item fails with WPOOL_EWORKER, the others succeed, and
   the caller's data is unchanged. */
static void readonly_input(void) {
  if (!wt_is_process())
    WT_SKIP("thread workers share the caller's mapping: nothing to protect");
  enum { N = 16, ITEM = 64 };
  wpool_shm_t *in, *out;
  NEED_SHM(in, N * ITEM);
  CU_ASSERT_EQUAL_FATAL(wpool_shm_alloc(N * sizeof(int), &out), 0);
  uint8_t *b = wpool_shm_ptr(in);
  for (int i = 0; i < N; i++)
    b[i * ITEM] = (uint8_t)i;
  b[5 * ITEM] = 0xEE;
  wpool_t *pool = wt_pool(2);
  CU_ASSERT_PTR_NOT_NULL_FATAL(pool);
  wpool_slice_t sin = wpool_slice(in, 0, N * ITEM);
  wpool_slice_t sout = wpool_slice(out, 0, N * sizeof(int));
  wpool_result_t *r = NULL;
  CU_ASSERT_EQUAL_FATAL(wpool_map_shm_async(pool, shm_scribble, &sin, ITEM,
                                            &sout, sizeof(int), 4, NULL, &r),
                        0);
  CU_ASSERT_EQUAL(wpool_result_wait(r, WT_LONG_MS), 0);
  CU_ASSERT_EQUAL(wpool_result_failed_count(r), 1);
  CU_ASSERT_EQUAL(wpool_result_item_code(r, 5), WPOOL_EWORKER);
  const int *o = wpool_shm_ptr(out);
  for (int i = 0; i < N; i++)
    if (i != 5)
      CU_ASSERT_EQUAL(o[i], i);
  CU_ASSERT_EQUAL(b[5 * ITEM], 0xEE);
  wpool_result_free(r);
  /* An apply too. */
  wpool_slice_t five = wpool_slice(in, 5 * ITEM, ITEM);
  char *msg = NULL;
  CU_ASSERT_EQUAL(wpool_apply_shm(pool, shm_scribble, &five, NULL, NULL, &msg),
                  WPOOL_EWORKER);
  CU_ASSERT_TRUE(wt_contains(msg, "SIGSEGV") || wt_contains(msg, "SIGBUS") ||
                 wt_contains(msg, "access violation"));
  wpool_free(msg);
  wt_assert_squares(pool, 8);
  wpool_destroy(pool);
  wpool_shm_free(in);
  wpool_shm_free(out);
}

/* NULL, freed buffers and slices out of bounds: WPOOL_EINVAL with a message
   that says which, and nothing submitted. */
static void bad_slices(void) {
  wpool_shm_t *shm = (wpool_shm_t *)1;
  CU_ASSERT_EQUAL(wpool_shm_alloc(0, &shm), WPOOL_EINVAL);
  CU_ASSERT_PTR_NULL(shm);
  CU_ASSERT_EQUAL(wpool_shm_alloc(16, NULL), WPOOL_EINVAL);
  CU_ASSERT_PTR_NULL(wpool_shm_ptr(NULL));
  CU_ASSERT_EQUAL(wpool_shm_size(NULL), 0);
  wpool_shm_free(NULL);
  NEED_SHM(shm, 4096);
  wpool_t *pool = wt_pool(1);
  CU_ASSERT_PTR_NOT_NULL_FATAL(pool);
  char *msg = NULL;
  void *out = NULL;
  size_t len;
  CU_ASSERT_EQUAL(wpool_apply_shm(pool, shm_sum, NULL, &out, &len, &msg),
                  WPOOL_EINVAL);
  CU_ASSERT_TRUE(wt_contains(msg, "no shared buffer"));
  wpool_free(msg);
  wpool_slice_t none = wpool_slice(NULL, 0, 0);
  CU_ASSERT_EQUAL(wpool_apply_shm(pool, shm_sum, &none, NULL, NULL, NULL),
                  WPOOL_EINVAL);
  wpool_slice_t past = wpool_slice(shm, 4000, 97);
  CU_ASSERT_EQUAL(wpool_apply_shm(pool, shm_sum, &past, NULL, NULL, &msg),
                  WPOOL_EINVAL);
  CU_ASSERT_TRUE(wt_contains(msg, "outside"));
  wpool_free(msg);
  wpool_slice_t wrap = wpool_slice(shm, 8, SIZE_MAX);
  CU_ASSERT_EQUAL(wpool_apply_shm(pool, shm_sum, &wrap, NULL, NULL, NULL),
                  WPOOL_EINVAL);
  wpool_slice_t in = wpool_slice(shm, 0, 1024);
  wpool_slice_t small = wpool_slice(shm, 2048, 8 * 15);
  CU_ASSERT_EQUAL(wpool_map_shm(pool, shm_sum, &in, 64, &small, 8, 0, &msg),
                  WPOOL_EINVAL); /* 16 outputs do not fit 15 slots */
  CU_ASSERT_TRUE(wt_contains(msg, "cannot hold"));
  wpool_free(msg);
  wpool_slice_t ragged = wpool_slice(shm, 0, 1000);
  wpool_slice_t outs = wpool_slice(shm, 2048, 2048);
  CU_ASSERT_EQUAL(wpool_map_shm(pool, shm_sum, &ragged, 64, &outs, 8, 0, &msg),
                  WPOOL_EINVAL);
  CU_ASSERT_TRUE(wt_contains(msg, "whole number"));
  wpool_free(msg);
  wpool_slice_t over = wpool_slice(shm, 512, 1024);
  CU_ASSERT_EQUAL(wpool_map_shm(pool, shm_sum, &in, 64, &over, 8, 0, &msg),
                  WPOOL_EINVAL);
  CU_ASSERT_TRUE(wt_contains(msg, "overlap"));
  wpool_free(msg);
  CU_ASSERT_EQUAL(wpool_map_shm(pool, shm_sum, &in, 0, &outs, 8, 0, NULL),
                  WPOOL_EINVAL);
  CU_ASSERT_EQUAL(wpool_map_shm(pool, shm_sum, &in, 64, NULL, 8, 0, NULL),
                  WPOOL_EINVAL);
  /* A buffer the caller freed while a result still holds it. */
  wpool_result_t *r = NULL;
  CU_ASSERT_EQUAL_FATAL(wpool_apply_shm_async(pool, shm_sum, &in, NULL, &r), 0);
  wpool_shm_free(shm);
  wpool_shm_free(shm); /* ignored: the result still holds it */
  CU_ASSERT_PTR_NULL(wpool_shm_ptr(shm));
  CU_ASSERT_EQUAL(wpool_shm_size(shm), 0);
  CU_ASSERT_EQUAL(wpool_apply_shm(pool, shm_sum, &in, NULL, NULL, &msg),
                  WPOOL_EINVAL);
  CU_ASSERT_TRUE(wt_contains(msg, "freed"));
  wpool_free(msg);
  CU_ASSERT_EQUAL(wpool_result_get(r, WT_LONG_MS, NULL, NULL), 0);
  wpool_result_free(r);
  /* Nothing of the refused calls reached the pool. */
  wt_assert_squares(pool, 4);
  wpool_destroy(pool);
}

/* Freeing a buffer right after submitting is safe: the result keeps it
   alive, and the map's outputs are read through the result. */
static void free_while_running(void) {
  enum { N = 64 };
  wpool_shm_t *in, *out;
  NEED_SHM(in, N * 8);
  CU_ASSERT_EQUAL_FATAL(wpool_shm_alloc(N * 8, &out), 0);
  uint64_t *w = wpool_shm_ptr(in);
  for (int i = 0; i < N; i++)
    w[i] = (uint64_t)i * 3;
  wpool_t *pool = wt_pool(2);
  CU_ASSERT_PTR_NOT_NULL_FATAL(pool);
  wpool_slice_t sin = wpool_slice(in, 0, N * 8);
  wpool_slice_t sout = wpool_slice(out, 0, N * 8);
  wpool_result_t *r = NULL;
  CU_ASSERT_EQUAL_FATAL(
      wpool_map_shm_async(pool, shm_sum, &sin, 8, &sout, 8, 1, NULL, &r), 0);
  wpool_shm_free(in);
  wpool_shm_free(out);
  const void *data;
  size_t len;
  CU_ASSERT_EQUAL(wpool_result_get(r, WT_LONG_MS, &data, &len), 0);
  CU_ASSERT_EQUAL(len, N * 8);
  const uint64_t *o = data;
  int bad = 0;
  for (int i = 0; i < N && len == N * 8; i++)
    bad += o[i] != (uint64_t)i * 3;
  CU_ASSERT_EQUAL(bad, 0);
  wpool_result_free(r);
  wpool_destroy(pool);
}

/* A process worker keeps a buffer mapped only while a task of its runs. */
static void worker_unmaps_after_task(void) {
  if (!wt_is_process())
    WT_SKIP("thread workers map nothing of their own");
#ifndef __linux__
  WT_SKIP("counts mappings through /proc");
#else
  wpool_shm_t *shm;
  NEED_SHM(shm, 1 << 16);
  wpool_t *pool = wt_pool(1);
  CU_ASSERT_PTR_NOT_NULL_FATAL(pool);
  wpool_slice_t sl = wpool_slice(shm, 0, 1 << 16);
  for (int round = 0; round < 3; round++) {
    void *out = NULL;
    size_t len = 0;
    CU_ASSERT_EQUAL(
        wpool_apply_shm(pool, shm_count_maps, &sl, &out, &len, NULL), 0);
    int n = -1;
    if (out && len == sizeof n)
      memcpy(&n, out, sizeof n);
    CU_ASSERT_EQUAL(n, 1); /* its own input, nothing from before */
    wpool_free(out);
  }
  int n = -1;
  CU_ASSERT_EQUAL(wt_apply_int(pool, shm_count_maps, 0, &n, NULL), 0);
  CU_ASSERT_EQUAL(n, 0);
  wpool_destroy(pool);
  wpool_shm_free(shm);
#endif
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

static int count_wpool_maps(void) {
  FILE *f = fopen("/proc/self/maps", "r");
  if (!f)
    return -1;
  char line[512];
  int n = 0;
  while (fgets(line, sizeof line, f))
    n += wpool_mapping(line);
  fclose(f);
  return n;
}
#endif

/* Workers killed while they hold buffers (a crash in a task, then
   wpool_terminate with tasks running) leave nothing behind: no descriptor,
   no mapping in this process, nothing under /dev/shm. */
static void killed_worker_leaks_nothing(void) {
  if (!wt_is_process())
    WT_SKIP("a thread cannot be killed");
#ifndef __linux__
  WT_SKIP("counts descriptors and mappings through /proc");
#else
  int fds0 = count_dir("/proc/self/fd", "");
  int maps0 = count_wpool_maps();
  /* Only this process's names: /dev/shm is the whole machine's. */
  char mine[32];
  snprintf(mine, sizeof mine, "wpool.%ld.", wt_getpid());
  int shm0 = count_dir("/dev/shm", mine);
  for (int round = 0; round < 2; round++) {
    wpool_t *pool = wt_pool(2);
    CU_ASSERT_PTR_NOT_NULL_FATAL(pool);
    enum { N = 8, ITEM = 4096 };
    wpool_shm_t *in, *out;
    NEED_SHM(in, N * ITEM);
    CU_ASSERT_EQUAL_FATAL(wpool_shm_alloc(N * sizeof(int), &out), 0);
    uint8_t *b = wpool_shm_ptr(in);
    for (int i = 0; i < N; i++)
      b[i * ITEM] = (uint8_t)(i == 3 ? 0xEE : i);
    wpool_slice_t sin = wpool_slice(in, 0, N * ITEM);
    wpool_slice_t sout = wpool_slice(out, 0, N * sizeof(int));
    wpool_result_t *r = NULL;
    CU_ASSERT_EQUAL_FATAL(wpool_map_shm_async(pool, shm_scribble, &sin, ITEM,
                                              &sout, sizeof(int), 2, NULL, &r),
                          0);
    /* The crash of item 3 kills a worker mid-task. */
    CU_ASSERT_EQUAL(wpool_result_wait(r, WT_LONG_MS), 0);
    CU_ASSERT_EQUAL(wpool_result_item_code(r, 3), WPOOL_EWORKER);
    wpool_result_free(r);
    if (round == 1) {
      /* Killed with work in flight, buffers freed first. */
      CU_ASSERT_EQUAL_FATAL(wpool_map_shm_async(pool, shm_scribble, &sin, ITEM,
                                                &sout, sizeof(int), 1, NULL,
                                                &r),
                            0);
      wpool_shm_free(in);
      wpool_shm_free(out);
      wpool_terminate(pool);
      CU_ASSERT_EQUAL(wpool_result_wait(r, WT_LONG_MS), 0);
      wpool_result_free(r);
    } else {
      wpool_shm_free(in);
      wpool_shm_free(out);
    }
    wpool_destroy(pool);
  }
  CU_ASSERT_EQUAL(count_dir("/proc/self/fd", ""), fds0);
  CU_ASSERT_EQUAL(count_wpool_maps(), maps0);
  CU_ASSERT_EQUAL(count_dir("/dev/shm", mine), shm0);
#endif
}

/* The copy into the pool's buffer stopped half way (test_shm_copy.c). */
void shm_copy_overlaps(void);
void shm_copy_cancel(void);
void shm_copy_terminate(void);
void shm_copy_destroy(void);
void shm_copy_interrupt(void);
void shm_copy_worker_death(void);
void shm_copy_callback(void);

static const wt_test_t tests[] = {
    {"map_large_array", map_large_array},
    {"apply_slices", apply_slices},
    {"apply_over_4gib", apply_over_4gib},
    {"transparent_arguments", transparent_arguments},
    {"transparent_over_4gib", transparent_over_4gib},
    {"outputs_in_slots", outputs_in_slots},
    {"many_small_items", many_small_items},
    {"imap_items", imap_items},
    {"readonly_input", readonly_input},
    {"bad_slices", bad_slices},
    {"free_while_running", free_while_running},
    {"worker_unmaps_after_task", worker_unmaps_after_task},
    {"killed_worker_leaks_nothing", killed_worker_leaks_nothing},
    {"copy_overlaps", shm_copy_overlaps},
    {"copy_cancel", shm_copy_cancel},
    {"copy_terminate", shm_copy_terminate},
    {"copy_destroy", shm_copy_destroy},
    {"copy_interrupt", shm_copy_interrupt},
    {"copy_worker_death", shm_copy_worker_death},
    {"copy_callback", shm_copy_callback},
    {NULL, NULL}};

const wt_suite_t wt_suite_shm = {"shm", 1, 0, tests};
