/*
 * The frame assembler (see framer.h). A frame is complete when its header,
 * its fixed part and its tail have all arrived; the owner's callbacks see
 * each header before any of its payload is placed, so that an untrusted
 * length never decides where bytes go.
 */
#include "framer.h"
#include "wpool.h"

#include <stdlib.h>
#include <string.h>

void wpool__framer_init(wpool__framer_t *fr, const wpool__framer_cb_t *cb,
                        uint64_t max_frame) {
  memset(fr, 0, sizeof *fr);
  fr->cb = *cb;
  fr->max_frame = max_frame;
}

void wpool__framer_reset(wpool__framer_t *fr) {
  fr->failed = 0;
  fr->error = NULL;
  fr->hdr_got = 0;
  fr->fixed = NULL;
  fr->fixed_len = fr->fixed_got = 0;
  fr->tail.len = 0;
  fr->tail_len = 0;
  fr->direct = 0;
}

void wpool__framer_free(wpool__framer_t *fr) {
  wpool__buf_free(&fr->tail);
  free(fr->stage);
  fr->stage = NULL;
}

static int fail(wpool__framer_t *fr, const char *why) {
  fr->failed = 1;
  if (why && !fr->error)
    fr->error = why;
  return -1;
}

static int payload_done(const wpool__framer_t *fr) {
  return fr->fixed_got == fr->fixed_len && fr->tail.len == fr->tail_len;
}

/* A whole header arrived: check it and let the owner place its payload. */
static int header_done(wpool__framer_t *fr) {
  const wpool__frame_t *f = &fr->hdr;
  int rc = wpool__frame_check(f, fr->max_frame);
  if (rc)
    return fail(fr, rc == WPOOL_E2BIG ? "length over the limit"
                                      : "bad magic or type");
  fr->fixed = NULL;
  fr->fixed_len = fr->fixed_got = 0;
  fr->tail.len = 0;
  if (fr->cb.on_header(fr->cb.ctx, f, &fr->fixed, &fr->fixed_len))
    return fail(fr, NULL);
  if (fr->fixed_len > f->len || (fr->fixed_len && !fr->fixed))
    return fail(fr, "payload placed out of bounds");
  fr->tail_len = f->len - fr->fixed_len;
  if (wpool__buf_reserve(&fr->tail, fr->tail_len))
    return fail(fr, "out of memory for a result");
  return 0;
}

/* The frame is whole: hand it over and start the next one. */
static int frame_done(wpool__framer_t *fr) {
  fr->hdr_got = 0;
  fr->direct = 0;
  if (fr->cb.on_frame(fr->cb.ctx, &fr->hdr, &fr->tail))
    return fail(fr, NULL);
  fr->tail.len = 0;
  return 0;
}

int wpool__framer_feed(wpool__framer_t *fr, const uint8_t *src, size_t n) {
  while (n && !fr->failed) {
    size_t c;
    if (fr->hdr_got < WPOOL__FRAME_SIZE) {
      c = WPOOL__FRAME_SIZE - fr->hdr_got;
      c = c < n ? c : n;
      memcpy((uint8_t *)&fr->hdr + fr->hdr_got, src, c);
      fr->hdr_got += c;
      if (fr->hdr_got == WPOOL__FRAME_SIZE && header_done(fr))
        return -1;
    } else if (fr->fixed_got < fr->fixed_len) {
      c = fr->fixed_len - fr->fixed_got;
      c = c < n ? c : n;
      memcpy(fr->fixed + fr->fixed_got, src, c);
      fr->fixed_got += c;
    } else {
      c = fr->tail_len - fr->tail.len;
      c = c < n ? c : n;
      memcpy(fr->tail.data + fr->tail.len, src, c);
      fr->tail.len += c;
    }
    src += c;
    n -= c;
    if (fr->hdr_got == WPOOL__FRAME_SIZE && payload_done(fr) && frame_done(fr))
      return -1;
  }
  return fr->failed ? -1 : 0;
}

int wpool__framer_target(wpool__framer_t *fr, uint8_t **dst, size_t *room) {
  if (fr->failed)
    return -1;
  if (!fr->stage && !(fr->stage = malloc(WPOOL__STAGE_SIZE)))
    return fail(fr, "out of memory for a read buffer");
  fr->direct = 0;
  *dst = fr->stage;
  *room = WPOOL__STAGE_SIZE;
  if (fr->hdr_got < WPOOL__FRAME_SIZE)
    return 0;
  if (fr->fixed_len - fr->fixed_got >= WPOOL__STAGE_SIZE / 2) {
    fr->direct = 1;
    *dst = fr->fixed + fr->fixed_got;
    *room = fr->fixed_len - fr->fixed_got;
  } else if (fr->fixed_got == fr->fixed_len &&
             fr->tail_len - fr->tail.len >= WPOOL__STAGE_SIZE / 2) {
    fr->direct = 2;
    *dst = fr->tail.data + fr->tail.len;
    *room = fr->tail_len - fr->tail.len;
  }
  return 0;
}

int wpool__framer_done(wpool__framer_t *fr, size_t n) {
  if (fr->failed)
    return -1;
  if (fr->direct == 0)
    return wpool__framer_feed(fr, fr->stage, n);
  /* Read in place: the target was exactly the rest of one part, so n
     cannot run past it. */
  if (fr->direct == 1)
    fr->fixed_got += n;
  else
    fr->tail.len += n;
  fr->direct = 0;
  if (payload_done(fr))
    return frame_done(fr);
  return 0;
}
