/*
 * libFuzzer target for the wire decoders: everything a worker can send the
 * parent (frame headers, RESULT payloads with their records) and everything
 * the parent sends a worker (TASK payloads, run through the task runner).
 *
 * Input layout: byte 0 picks what to decode, bytes 1-4 the count and output
 * size the parent "expects", the rest is the frame (header and payload).
 */
#include "buf.h"
#include "proto.h"
#include "run.h"
#include "wpool.h"

#include <stdint.h>
#include <string.h>

static int echo(const void *arg, size_t len, wpool_out_t *out) {
  return len && ((const uint8_t *)arg)[0] == 0xEE
             ? wpool_out_fail(out, 5, "item says no")
             : wpool_out_set(out, arg, len);
}

/* The parent's side: a header, then a RESULT checked against what was sent;
   when it passes, every record is walked as result.c and iter.c do. */
static void parent_side(uint32_t count, uint32_t osize, const uint8_t *d,
                        size_t n) {
  wpool__frame_t f;
  if (n < WPOOL__FRAME_SIZE)
    return;
  memcpy(&f, d, WPOOL__FRAME_SIZE);
  d += WPOOL__FRAME_SIZE;
  n -= WPOOL__FRAME_SIZE;
  if (wpool__frame_check(&f, 1 << 20) || f.len > n)
    return;
  size_t fixed = (size_t)count * osize;
  if (f.len < fixed)
    return;
  const uint8_t *tail = d + fixed;
  size_t tail_len = f.len - fixed;
  if (wpool__result_validate(&f, count, osize, tail, tail_len))
    return;
  size_t off = 0;
  if (osize) {
    wpool__fail_t fl;
    while (wpool__fail_next(tail, tail_len, &off, &fl) == 1)
      if (fl.index >= count || fl.len > tail_len)
        __builtin_trap(); /* validate let an impossible record through */
  } else {
    wpool__rec_t rec;
    uint32_t seen = 0;
    while (wpool__rec_next(tail, tail_len, &off, &rec) == 1) {
      volatile uint8_t sink = rec.len ? rec.data[rec.len - 1] : 0;
      (void)sink;
      seen++;
    }
    if (seen != count)
      __builtin_trap();
  }
}

/* The worker's side: a TASK payload of count items run through the runner,
   which builds a RESULT payload that the parent side must then accept. */
static void worker_side(uint32_t count, uint32_t isize, uint32_t osize,
                        const uint8_t *d, size_t n) {
  if (count > 64 || osize > 64 || (isize && (uint64_t)count * isize != n))
    return;
  uint8_t fixed[64 * 64];
  wpool__buf_t tail = {0};
  wpool__chunk_in_t in = {echo, count, isize, osize, d, n, 4096};
  wpool__chunk_out_t out = {fixed, &tail, 0, 0, 0};
  if (wpool__run_chunk(&in, &out) == 0) {
    wpool__frame_t f;
    wpool__frame_init(&f, WPOOL__F_RESULT);
    f.count = count;
    f.osize = osize;
    f.nfail = out.nfail;
    f.len = (uint32_t)tail.len;
    if (wpool__result_validate(&f, count, osize, tail.data, tail.len))
      __builtin_trap(); /* the runner wrote what the parent refuses */
  }
  wpool__buf_free(&tail);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 5)
    return 0;
  uint32_t count = data[1] | (uint32_t)data[2] << 8;
  uint32_t osize = data[3];
  uint32_t isize = data[4] & 0x0f;
  if (data[0] & 1)
    worker_side(count, isize, osize, data + 5, size - 5);
  else
    parent_side(count, osize, data + 5, size - 5);
  return 0;
}
