/*
 * libFuzzer target for the wire decoders: everything a worker can send the
 * parent (frame headers, RESULT payloads with their records), everything
 * the parent sends a worker (TASK payloads, run through the task runner),
 * and the parent's incremental frame assembly (framer.c) over a stream that
 * arrives in arbitrary splits.
 *
 * Input layout: byte 0 picks what to decode, bytes 1-4 the count and output
 * size the parent "expects" (or, for the assembler, the seed of the split
 * schedule), the rest is the frame (header and payload) or the stream.
 */
#include "buf.h"
#include "framer.h"
#include "proto.h"
#include "run.h"
#include "wpool.h"

#include <stdint.h>
#include <stdlib.h>
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

/* ---------------------------------------------------------------------- */
/* The assembler: one stream fed whole, and the same stream read in pieces
   through the read-in-place path, must give the same frames. */

#define FIXED_MAX 4096u

typedef struct owner {
  uint8_t fixed[FIXED_MAX]; /* plays a map's output array */
  uint64_t digest;          /* of every frame, in order */
  size_t frames;
} owner_t;

static uint64_t mix(uint64_t h, const void *p, size_t n) {
  const uint8_t *b = p;
  for (size_t i = 0; i < n; i++)
    h = (h ^ b[i]) * 0x100000001b3ull;
  return h;
}

static int fz_header(void *ctx, const wpool__frame_t *f, uint8_t **fixed,
                     size_t *fixed_len) {
  owner_t *o = ctx;
  if (f->flags & 1)
    return -1; /* the owner refuses the frame, as on a protocol error */
  /* The pool checks a RESULT's count against the job it answers before
     room is made for its payload; so does this owner, against what it
     "sent" (at most 64 items, as worker_side runs). */
  if (f->count > 64)
    return -1;
  size_t flen = (size_t)f->count * f->osize;
  if (f->type == WPOOL__F_RESULT && flen <= FIXED_MAX && flen <= f->len) {
    *fixed = o->fixed;
    *fixed_len = flen;
  }
  return 0;
}

static int fz_frame(void *ctx, const wpool__frame_t *f, wpool__buf_t *tail) {
  owner_t *o = ctx;
  size_t flen = (size_t)f->count * f->osize;
  if (f->type != WPOOL__F_RESULT || flen > FIXED_MAX || flen > f->len)
    flen = 0;
  if (tail->len + flen != f->len)
    __builtin_trap(); /* a frame handed over incomplete */
  o->digest = mix(o->digest, f, sizeof *f);
  o->digest = mix(o->digest, o->fixed, flen);
  o->digest = mix(o->digest, tail->data, tail->len);
  o->frames++;
  (void)wpool__result_validate(f, f->count, f->osize, tail->data, tail->len);
  if (f->job & 1) { /* the owner takes the buffer over, as the scheduler does */
    wpool__buf_free(tail);
    *tail = (wpool__buf_t){0};
  }
  return 0;
}

static void assembler(uint32_t seed, const uint8_t *d, size_t n) {
  owner_t *a = calloc(1, sizeof *a), *b = calloc(1, sizeof *b);
  if (!a || !b) {
    free(a);
    free(b);
    return;
  }
  wpool__framer_t fa, fb;
  const wpool__framer_cb_t ca = {fz_header, fz_frame, a};
  const wpool__framer_cb_t cb = {fz_header, fz_frame, b};
  wpool__framer_init(&fa, &ca, 1u << 16);
  wpool__framer_init(&fb, &cb, 1u << 16);
  int ra = wpool__framer_feed(&fa, d, n);

  /* The same bytes as reads of odd sizes: one byte, a header's worth and
     one either side, or whatever room the framer offers. */
  static const size_t sizes[] = {1, 2, 3, 7, WPOOL__FRAME_SIZE - 1,
                                 WPOOL__FRAME_SIZE, WPOOL__FRAME_SIZE + 1,
                                 SIZE_MAX};
  uint32_t x = seed | 1;
  size_t off = 0;
  int rb = 0;
  while (off < n && rb == 0) {
    uint8_t *dst;
    size_t room;
    if (wpool__framer_target(&fb, &dst, &room)) {
      rb = -1;
      break;
    }
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    size_t want = sizes[x % (sizeof sizes / sizeof sizes[0])];
    size_t c = want < room ? want : room;
    c = c < n - off ? c : n - off;
    memcpy(dst, d + off, c);
    off += c;
    rb = wpool__framer_done(&fb, c);
  }
  if (ra != rb || a->frames != b->frames || a->digest != b->digest ||
      fa.failed != fb.failed)
    __builtin_trap(); /* the split changed what was assembled */
  wpool__framer_free(&fa);
  wpool__framer_free(&fb);
  free(a);
  free(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 5)
    return 0;
  uint32_t count = data[1] | (uint32_t)data[2] << 8;
  uint32_t osize = data[3];
  uint32_t isize = data[4] & 0x0f;
  switch (data[0] % 3) {
  case 0:
    parent_side(count, osize, data + 5, size - 5);
    break;
  case 1:
    worker_side(count, isize, osize, data + 5, size - 5);
    break;
  default:
    assembler(count | (uint32_t)data[3] << 16 | (uint32_t)data[4] << 24,
              data + 5, size - 5);
  }
  return 0;
}
