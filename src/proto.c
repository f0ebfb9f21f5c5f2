#include "proto.h"
#include "wpool.h"

#include <string.h>

void wpool__frame_init(wpool__frame_t *f, uint16_t type) {
  memset(f, 0, sizeof *f);
  f->magic = WPOOL__MAGIC;
  f->type = type;
}

int wpool__frame_check(const wpool__frame_t *f, uint64_t max_payload) {
  if (f->magic != WPOOL__MAGIC || f->type < WPOOL__F_HELLO ||
      f->type > WPOOL__F_EXIT)
    return WPOOL_EPROTO;
  if (f->len > max_payload)
    return WPOOL_E2BIG;
  return 0;
}

void wpool__put_in_hdr(uint8_t *p, uint32_t len) {
  memset(p, 0, WPOOL__IN_REC_HDR);
  wpool__put_u32(p, len);
}

/*
 * A record's length padded to WPOOL__ALIGN, in 64 bits. The length is a u32
 * from the other process: in a 32-bit size_t, one within 15 bytes of 4 GiB
 * would pad to 0 and pass every bounds check below.
 */
static uint64_t padded(uint32_t n) {
  return ((uint64_t)n + WPOOL__ALIGN - 1) & ~(uint64_t)(WPOOL__ALIGN - 1);
}

int wpool__in_next(const uint8_t *buf, size_t len, size_t *off,
                   const uint8_t **item, uint32_t *item_len) {
  if (*off == len)
    return 0;
  if (len - *off < WPOOL__IN_REC_HDR)
    return WPOOL_EPROTO;
  uint32_t n = wpool__get_u32(buf + *off);
  if (padded(n) > len - *off - WPOOL__IN_REC_HDR)
    return WPOOL_EPROTO;
  *item = buf + *off + WPOOL__IN_REC_HDR;
  *item_len = n;
  *off += WPOOL__IN_REC_HDR + (size_t)padded(n);
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
  rec->len = wpool__get_u32(p + 8);
  if (padded(rec->len) > len - *off - WPOOL__VAR_REC_HDR)
    return WPOOL_EPROTO;
  rec->data = p + WPOOL__VAR_REC_HDR;
  *off += WPOOL__VAR_REC_HDR + (size_t)padded(rec->len);
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
