/*
 * Incremental assembly of the frames a worker sends the parent, from bytes
 * that arrive in any split: one at a time, a header in pieces, a payload in
 * many reads. It knows nothing of pools, workers or channels, so that the
 * fuzzer can drive it alone (fuzz/fuzz_frames.c).
 *
 * A frame's payload is a "fixed" part, which the owner may place in memory
 * of its own (a map's output array), then a "tail" kept in a buffer that the
 * owner takes over with the finished frame. Large parts are read in place:
 * wpool__framer_target() names the memory the next read should fill, and
 * only small pieces go through the staging buffer.
 */
#ifndef WPOOL_FRAMER_H
#define WPOOL_FRAMER_H

#include "buf.h"
#include "proto.h"

#include <stddef.h>
#include <stdint.h>

/*
 * What the owner decides about frames. Both return 0 to go on, or -1 to
 * stop: the framer then takes no more bytes until it is reset (the owner
 * has recorded why, typically a protocol error).
 *
 * on_header: a header arrived and passed wpool__frame_check(). Set *fixed
 * and *fixed_len (<= f->len) to read the first bytes of the payload into
 * the owner's memory, or leave them NULL and 0.
 * on_frame: the whole frame arrived; the owner may take the tail (its
 * buffer: zero *tail to keep it).
 */
typedef struct wpool__framer_cb {
  int (*on_header)(void *ctx, const wpool__frame_t *f, uint8_t **fixed,
                   size_t *fixed_len);
  int (*on_frame)(void *ctx, const wpool__frame_t *f, wpool__buf_t *tail);
  void *ctx;
} wpool__framer_cb_t;

typedef struct wpool__framer {
  wpool__framer_cb_t cb;
  uint64_t max_frame; /* payload limit checked on every header */
  int failed;         /* stopped: see wpool__framer_cb_t */
  const char *error;  /* the framer's own reason when it failed, or NULL */
  wpool__frame_t hdr;
  size_t hdr_got;
  uint8_t *fixed;
  size_t fixed_len, fixed_got;
  wpool__buf_t tail;
  size_t tail_len;
  uint8_t *stage; /* allocated at the first read */
  int direct;     /* the last read target: 0 stage, 1 fixed, 2 tail */
} wpool__framer_t;

/* Size of the staging buffer; pieces of at least half this are read in
   place. */
#define WPOOL__STAGE_SIZE 65536u

void wpool__framer_init(wpool__framer_t *fr, const wpool__framer_cb_t *cb,
                        uint64_t max_frame);
/* Forget any partial frame and the failure; keep the staging buffer. */
void wpool__framer_reset(wpool__framer_t *fr);
void wpool__framer_free(wpool__framer_t *fr);

/*
 * Where the next bytes should be read: 0, or -1 when the framer has failed
 * (or cannot allocate its staging buffer: fr->error says so).
 */
int wpool__framer_target(wpool__framer_t *fr, uint8_t **dst, size_t *room);
/* n > 0 bytes were read into the last target. 0, or -1 once failed. */
int wpool__framer_done(wpool__framer_t *fr, size_t n);
/* Take n bytes from memory of the caller's (a copy). 0, or -1 once failed. */
int wpool__framer_feed(wpool__framer_t *fr, const uint8_t *src, size_t n);

#endif
