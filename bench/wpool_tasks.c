/* The driver's task functions; see wpool_tasks.h. */
#include "wpool_tasks.h"

#include "common.h"

#ifdef _WIN32
#include <stdlib.h>
#include <windows.h>
#else
#include <time.h>
#include <unistd.h>
#endif

int square(const void *arg, size_t len, wpool_out_t *out) {
  if (len != sizeof(int))
    return wpool_out_fail(out, 1, "square: %zu bytes", len);
  int x = *(const int *)arg, y = x * x;
  return wpool_out_set(out, &y, sizeof y);
}
WPOOL_REGISTER(square)

int square64(const void *arg, size_t len, wpool_out_t *out) {
  if (len != sizeof(int64_t))
    return wpool_out_fail(out, 1, "square64: %zu bytes", len);
  int64_t x = *(const int64_t *)arg, y = x * x;
  return wpool_out_set(out, &y, sizeof y);
}
WPOOL_REGISTER(square64)

int blob_len(const void *arg, size_t len, wpool_out_t *out) {
  /* The bytes have crossed to the worker: that is what W6 measures. Read
     the first and last byte only, as Python's len(b) peer does not touch
     them either. */
  uint64_t v = (uint64_t)len;
  if (len > 0)
    v +=
        ((const unsigned char *)arg)[0] + ((const unsigned char *)arg)[len - 1];
  return wpool_out_set(out, &v, sizeof v);
}
WPOOL_REGISTER(blob_len)

int blob_sum(const void *arg, size_t len, wpool_out_t *out) {
  /* A pass over every byte, as a task that uses its data makes: with
     shared buffers this pass is the only time the bytes are read. */
  const uint64_t *w = arg;
  uint64_t sum = 0;
  for (size_t i = 0; i < len / sizeof *w; i++)
    sum += w[i];
  return wpool_out_set(out, &sum, sizeof sum);
}
WPOOL_REGISTER(blob_sum)

int square_or_die(const void *arg, size_t len, wpool_out_t *out) {
  if (len != sizeof(int))
    return wpool_out_fail(out, 1, "square_or_die: %zu bytes", len);
  int x = *(const int *)arg;
  if (x < 0)
    _exit(3); /* W12: the worker dies in the middle of its chunk */
  int y = x * x;
  return wpool_out_set(out, &y, sizeof y);
}
WPOOL_REGISTER(square_or_die)

int crunch(const void *arg, size_t len, wpool_out_t *out) {
  if (len != sizeof(crunch_arg_t))
    return wpool_out_fail(out, 1, "crunch: %zu bytes", len);
  const crunch_arg_t *a = arg;
  uint64_t v = bench_crunch(a->iters, a->seed);
  return wpool_out_set(out, &v, sizeof v);
}
WPOOL_REGISTER(crunch)

int sleeper(const void *arg, size_t len, wpool_out_t *out) {
  if (len != sizeof(uint32_t))
    return wpool_out_fail(out, 1, "sleeper: %zu bytes", len);
  uint32_t us = *(const uint32_t *)arg;
  uint64_t t0 = bench_now_ns();
#ifdef _WIN32
  Sleep((DWORD)((us + 999) / 1000));
#else
  struct timespec ts = {(time_t)(us / 1000000), (long)(us % 1000000) * 1000};
  while (nanosleep(&ts, &ts) != 0)
    ; /* a signal cut it short: sleep the rest */
#endif
  uint64_t ns = bench_now_ns() - t0;
  return wpool_out_set(out, &ns, sizeof ns);
}
WPOOL_REGISTER(sleeper)
