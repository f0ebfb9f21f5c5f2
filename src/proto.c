#include "proto.h"
#include "buf.h"
#include "wpool.h"

#include <string.h>

void wpool__frame_init(wpool__frame_t *f, uint16_t type) {
  memset(f, 0, sizeof *f);
  f->magic = WPOOL__MAGIC;
  f->type = type;
}

void wpool__task_frame(wpool__frame_t *f, uint64_t job, uint32_t fn,
                       uint32_t count, uint32_t isize, uint32_t osize,
                       size_t plen) {
  wpool__frame_init(f, WPOOL__F_TASK);
  f->job = job;
  f->fn = fn;
  f->count = count;
  f->isize = isize;
  f->osize = osize;
  f->len = (uint32_t)plen;
}

void wpool__result_frame(wpool__frame_t *f, const wpool__frame_t *t,
                         uint32_t nfail, uint64_t nanos) {
  wpool__frame_init(f, WPOOL__F_RESULT);
  f->job = t->job;
  f->count = t->count;
  f->osize = t->osize;
  f->nfail = nfail;
  f->nanos = nanos;
}

void wpool__put_var_rec_hdr(uint8_t *p, int32_t code, int32_t task_code,
                            uint64_t len) {
  memset(p, 0, WPOOL__VAR_REC_HDR);
  wpool__put_u32(p, (uint32_t)code);
  wpool__put_u32(p + 4, (uint32_t)task_code);
  wpool__put_u32(p + 8, (uint32_t)len);
  wpool__put_u32(p + 12, (uint32_t)(len >> 32));
}

void wpool__put_fail_rec_hdr(uint8_t *p, uint32_t index, int32_t code,
                             int32_t task_code, uint32_t len) {
  wpool__put_u32(p, index);
  wpool__put_u32(p + 4, (uint32_t)code);
  wpool__put_u32(p + 8, (uint32_t)task_code);
  wpool__put_u32(p + 12, len);
}

int wpool__append_var_rec(wpool__buf_t *b, int32_t code, int32_t task_code,
                          const void *data, size_t len) {
  size_t padded = (size_t)wpool__pad(len);
  if (wpool__buf_reserve(b, WPOOL__VAR_REC_HDR + padded))
    return WPOOL_ENOMEM;
  uint8_t *p = b->data + b->len;
  wpool__put_var_rec_hdr(p, code, task_code, len);
  if (len)
    memcpy(p + WPOOL__VAR_REC_HDR, data, len);
  memset(p + WPOOL__VAR_REC_HDR + len, 0, padded - len);
  b->len += WPOOL__VAR_REC_HDR + padded;
  return 0;
}

int wpool__append_in_rec(wpool__buf_t *b, const void *data, uint32_t len) {
  size_t padded = (size_t)wpool__pad(len);
  if (wpool__buf_reserve(b, WPOOL__IN_REC_HDR + padded))
    return WPOOL_ENOMEM;
  uint8_t *p = b->data + b->len;
  wpool__put_in_hdr(p, len);
  if (len)
    memcpy(p + WPOOL__IN_REC_HDR, data, len);
  memset(p + WPOOL__IN_REC_HDR + len, 0, padded - len);
  b->len += WPOOL__IN_REC_HDR + padded;
  return 0;
}

int wpool__append_fail_rec(wpool__buf_t *b, uint32_t index, int32_t code,
                           int32_t task_code, const char *msg, uint32_t len) {
  if (wpool__buf_reserve(b, WPOOL__FAIL_REC_HDR + (size_t)len))
    return WPOOL_ENOMEM;
  uint8_t *p = b->data + b->len;
  wpool__put_fail_rec_hdr(p, index, code, task_code, len);
  if (len)
    memcpy(p + WPOOL__FAIL_REC_HDR, msg, len);
  b->len += WPOOL__FAIL_REC_HDR + (size_t)len;
  return 0;
}

int wpool__frame_check(const wpool__frame_t *f, uint64_t max_payload) {
  if (f->magic != WPOOL__MAGIC || f->type < WPOOL__F_HELLO ||
      f->type > WPOOL__F_OUTPUT)
    return WPOOL_EPROTO;
  /* What a task printed has its own bound, whatever the frame limit. */
  if (f->type == WPOOL__F_OUTPUT)
    return f->len > WPOOL__CAPTURE_MAX ? WPOOL_E2BIG : 0;
  if (f->len > wpool__wire_limit(max_payload, f->count))
    return WPOOL_E2BIG;
  return 0;
}

void wpool__put_in_hdr(uint8_t *p, uint32_t len) {
  memset(p, 0, WPOOL__IN_REC_HDR);
  wpool__put_u32(p, len);
}

/* Record lengths come from the other process as u32: wpool__pad works in
   64 bits (proto.h), so one within 15 bytes of 4 GiB cannot pad to 0 in a
   32-bit size_t and pass the bounds checks below. */
int wpool__in_next(const uint8_t *buf, size_t len, size_t *off,
                   const uint8_t **item, uint32_t *item_len) {
  if (*off == len)
    return 0;
  if (len - *off < WPOOL__IN_REC_HDR)
    return WPOOL_EPROTO;
  uint32_t n = wpool__get_u32(buf + *off);
  if (wpool__pad(n) > len - *off - WPOOL__IN_REC_HDR)
    return WPOOL_EPROTO;
  *item = buf + *off + WPOOL__IN_REC_HDR;
  *item_len = n;
  *off += WPOOL__IN_REC_HDR + (size_t)wpool__pad(n);
  return 1;
}

int wpool__rec_next(const uint8_t *buf, size_t len, size_t *off,
                    wpool__rec_t *rec) {
  if (*off == len)
    return 0;
  if (len - *off < WPOOL__VAR_REC_HDR)
    return WPOOL_EPROTO;
  const uint8_t *p = buf + *off;
  rec->code = (int32_t)wpool__get_u32(p);
  rec->task_code = (int32_t)wpool__get_u32(p + 4);
  rec->len = wpool__get_u32(p + 8) | (uint64_t)wpool__get_u32(p + 12) << 32;
  /* Checked before padding: a length near 2^64 must not round to 0. */
  if (rec->len > len - *off - WPOOL__VAR_REC_HDR ||
      wpool__pad(rec->len) > len - *off - WPOOL__VAR_REC_HDR)
    return WPOOL_EPROTO;
  rec->data = p + WPOOL__VAR_REC_HDR;
  *off += WPOOL__VAR_REC_HDR + (size_t)wpool__pad(rec->len);
  return 1;
}

int wpool__fail_next(const uint8_t *buf, size_t len, size_t *off,
                     wpool__fail_t *fail) {
  if (*off == len)
    return 0;
  if (len - *off < WPOOL__FAIL_REC_HDR)
    return WPOOL_EPROTO;
  const uint8_t *p = buf + *off;
  fail->index = wpool__get_u32(p);
  fail->code = (int32_t)wpool__get_u32(p + 4);
  fail->task_code = (int32_t)wpool__get_u32(p + 8);
  fail->len = wpool__get_u32(p + 12);
  if (fail->len > len - *off - WPOOL__FAIL_REC_HDR)
    return WPOOL_EPROTO;
  fail->msg = (const char *)p + WPOOL__FAIL_REC_HDR;
  *off += WPOOL__FAIL_REC_HDR + (size_t)fail->len;
  return 1;
}

/* A failure code from a worker must be one of ours (or the catch-all). */
static int known_failure(int32_t code) {
  return code < 0 && code > WPOOL__ERR_LAST;
}

int wpool__result_validate(const wpool__frame_t *f, uint32_t count,
                           uint32_t osize, const uint8_t *tail,
                           size_t tail_len) {
  if (f->type != WPOOL__F_RESULT || f->count != count || f->osize != osize ||
      f->nfail > count)
    return WPOOL_EPROTO;
  size_t off = 0;
  uint32_t seen = 0, failed = 0;
  int rc;
  if (osize) {
    wpool__fail_t fl;
    int64_t last = -1;
    while ((rc = wpool__fail_next(tail, tail_len, &off, &fl)) == 1) {
      if ((int64_t)fl.index <= last || fl.index >= count ||
          !known_failure(fl.code))
        return WPOOL_EPROTO;
      last = fl.index;
      failed++;
    }
  } else {
    wpool__rec_t rec;
    while ((rc = wpool__rec_next(tail, tail_len, &off, &rec)) == 1) {
      if (rec.code != 0 && !known_failure(rec.code))
        return WPOOL_EPROTO;
      failed += rec.code != 0;
      seen++;
    }
    if (seen != count)
      return WPOOL_EPROTO;
  }
  if (rc < 0 || failed != f->nfail)
    return WPOOL_EPROTO;
  return 0;
}
