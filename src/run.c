#include "run.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

struct wpool_out {
  /* Fixed mode: the output slot itself. */
  uint8_t *slot;
  size_t osize;
  /* Var mode: the record being built starts at rec in buf. */
  wpool__buf_t *buf;
  size_t rec;
  size_t len;
  uint64_t max_frame;
  int failed;
  int fail_code; /* a wpool code of our own, e.g. ERANGE, else ETASK */
  char msg[WPOOL__MSG_MAX];
  size_t msg_len;
};

static int own_failure(wpool_out_t *o, int code, const char *fmt, ...) {
  if (!o->failed) {
    o->failed = 1;
    o->fail_code = code;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(o->msg, sizeof o->msg, fmt, ap);
    va_end(ap);
    o->msg_len = n < 0 ? 0 : (size_t)n >= sizeof o->msg ? sizeof o->msg - 1
                                                         : (size_t)n;
  }
  return code;
}

void *wpool_out_reserve(wpool_out_t *o, size_t len) {
  if (!o)
    return NULL;
  if (o->slot) {
    if (len > o->osize) {
      own_failure(o, WPOOL_ERANGE,
                  "output of %zu bytes does not fit the %zu-byte item", len,
                  o->osize);
      return NULL;
    }
    o->len = len;
    return o->slot;
  }
  if (len > o->max_frame) {
    own_failure(o, WPOOL_E2BIG,
                "output of %zu bytes exceeds the frame limit of %llu bytes",
                len, (unsigned long long)o->max_frame);
    return NULL;
  }
  /* Replacing an earlier output: drop it, keep the record header. */
  o->buf->len = o->rec + WPOOL__VAR_REC_HDR;
  if (wpool__buf_reserve(o->buf, len)) {
    own_failure(o, WPOOL_ENOMEM, "out of memory for a %zu-byte output", len);
    return NULL;
  }
  o->buf->len += len;
  o->len = len;
  return o->buf->data + o->rec + WPOOL__VAR_REC_HDR;
}

void *wpool_out_extend(wpool_out_t *o, size_t len) {
  if (!o)
    return NULL;
  size_t have = o->len;
  if (o->slot) {
    if (len > o->osize - have) {
      own_failure(o, WPOOL_ERANGE,
                  "output of %zu bytes and more does not fit the %zu-byte "
                  "item",
                  have + (len > o->osize ? o->osize : len), o->osize);
      return NULL;
    }
    o->len += len;
    return o->slot + have;
  }
  if (len > o->max_frame || have > o->max_frame - len) {
    own_failure(o, WPOOL_E2BIG,
                "output of more than %llu bytes exceeds the frame limit of "
                "%llu bytes",
                (unsigned long long)o->max_frame,
                (unsigned long long)o->max_frame);
    return NULL;
  }
  /* The buffer grows geometrically: appending n bytes in pieces costs O(n). */
  if (wpool__buf_reserve(o->buf, len)) {
    own_failure(o, WPOOL_ENOMEM, "out of memory for a %zu-byte output",
                have + len);
    return NULL;
  }
  o->buf->len += len;
  o->len += len;
  return o->buf->data + o->rec + WPOOL__VAR_REC_HDR + have;
}

int wpool_out_append(wpool_out_t *o, const void *data, size_t len) {
  if (!o || (!data && len))
    return WPOOL_EINVAL;
  void *dst = wpool_out_extend(o, len);
  if (!dst)
    return o->fail_code;
  if (len)
    memcpy(dst, data, len);
  return 0;
}

int wpool_out_set(wpool_out_t *o, const void *data, size_t len) {
  if (!o || (!data && len))
    return WPOOL_EINVAL;
  void *dst = wpool_out_reserve(o, len);
  if (!dst)
    return o->fail_code;
  if (len)
    memcpy(dst, data, len);
  return 0;
}

int wpool_out_fail(wpool_out_t *o, int code, const char *fmt, ...) {
  if (code == 0)
    code = 1;
  if (!o)
    return code;
  if (!o->failed) {
    o->failed = 1;
    o->fail_code = WPOOL_ETASK;
    o->msg_len = 0;
    if (fmt) {
      va_list ap;
      va_start(ap, fmt);
      int n = vsnprintf(o->msg, sizeof o->msg, fmt, ap);
      va_end(ap);
      o->msg_len = n < 0                        ? 0
                   : (size_t)n >= sizeof o->msg ? sizeof o->msg - 1
                                                : (size_t)n;
    }
  }
  return code;
}

/* Close the var record that starts at rec: header, then pad its bytes. */
static int end_record(wpool__buf_t *b, size_t rec, int32_t code,
                      int32_t task_code, size_t len) {
  size_t padded = (size_t)wpool__pad(len);
  if (wpool__buf_reserve(b, padded - len))
    return WPOOL_ENOMEM;
  memset(b->data + b->len, 0, padded - len);
  b->len += padded - len;
  wpool__put_var_rec_hdr(b->data + rec, code, task_code, len);
  return 0;
}

/* The code and message a finished call reports, if it failed. */
static int outcome(wpool_out_t *o, int rc, int *task_code) {
  *task_code = 0;
  if (o->failed && o->fail_code != WPOOL_ETASK)
    return o->fail_code; /* our own failure (ERANGE...) wins: it's exact */
  if (rc == 0 && !o->failed)
    return 0;
  *task_code = rc ? rc : 1;
  if (!o->failed || o->msg_len == 0)
    o->msg_len = (size_t)snprintf(o->msg, sizeof o->msg,
                                  "task returned %d", *task_code);
  return WPOOL_ETASK;
}

static int run_one(const wpool__chunk_in_t *in, wpool__chunk_out_t *out,
                   uint32_t index, const uint8_t *arg, size_t arg_len) {
  wpool_out_t o;
  o.failed = 0;
  o.msg_len = 0;
  o.len = 0;
  o.max_frame = in->max_frame;
  if (in->osize) {
    o.slot = out->fixed + (size_t)index * in->osize;
    o.osize = in->osize;
    o.buf = NULL;
    int rc = in->fn(arg, arg_len, &o);
    int task_code;
    int code = outcome(&o, rc, &task_code);
    if (code == 0) {
      if (o.len < in->osize)
        memset(o.slot + o.len, 0, in->osize - o.len);
      return 0;
    }
    memset(o.slot, 0, in->osize);
    if (wpool__append_fail_rec(out->tail, index, code, task_code, o.msg,
                               (uint32_t)o.msg_len))
      return WPOOL_ENOMEM;
    out->nfail++;
    return 0;
  }
  o.slot = NULL;
  o.buf = out->tail;
  o.rec = out->tail->len;
  if (wpool__buf_reserve(out->tail, WPOOL__VAR_REC_HDR))
    return WPOOL_ENOMEM;
  out->tail->len += WPOOL__VAR_REC_HDR;
  int rc = in->fn(arg, arg_len, &o);
  int task_code;
  int code = outcome(&o, rc, &task_code);
  if (code == 0) {
    out->bytes += o.len;
    return end_record(out->tail, o.rec, 0, 0, o.len);
  }
  /* The record now carries the message instead of any partial output. */
  out->tail->len = o.rec + WPOOL__VAR_REC_HDR;
  if (wpool__buf_append(out->tail, o.msg, o.msg_len))
    return WPOOL_ENOMEM;
  out->nfail++;
  return end_record(out->tail, o.rec, code, task_code, o.msg_len);
}

/* One item, with the hooks around it. */
static int run_hooked(const wpool__chunk_in_t *in, wpool__chunk_out_t *out,
                      uint32_t i, const uint8_t *arg, size_t len) {
  if (in->item_begin)
    in->item_begin(in->hook_ctx);
  int rc = run_one(in, out, i, arg, len);
  if (in->item_end)
    in->item_end(in->hook_ctx, i);
  return rc;
}

/* Item i through its hooks if the chunk has any. Tested once per chunk
   (hooked): read through in, the hooks would be loaded again around each
   item, since a task's writes might alias them, a cost a map of trivial
   items shows (~15% of its instructions per item). */
static int run_item(const wpool__chunk_in_t *in, wpool__chunk_out_t *out,
                    int hooked, uint32_t i, const uint8_t *arg, size_t len) {
  return hooked ? run_hooked(in, out, i, arg, len)
                : run_one(in, out, i, arg, len);
}

int wpool__run_chunk(const wpool__chunk_in_t *in, wpool__chunk_out_t *out) {
  out->nfail = 0;
  out->bytes = 0;
  int rc = 0;
  const int hooked = in->item_begin != NULL || in->item_end != NULL;
  /* A volatile store, no barrier: the parent reads it only once this
     process has ended, when every store it made is in the page. */
  volatile uint64_t *const at = in->at;
  if (in->whole) {
    if (in->count != 1 || in->isize)
      return WPOOL_EPROTO;
    rc = run_one(in, out, 0, in->items, in->items_len);
  } else if (in->isize) {
    if ((uint64_t)in->count * in->isize != in->items_len)
      return WPOOL_EPROTO;
    for (uint32_t i = 0; i < in->count && rc == 0; i++) {
      if (at)
        *at = i;
      rc = run_item(in, out, hooked, i, in->items + (size_t)i * in->isize,
                    in->isize);
    }
  } else {
    size_t off = 0;
    for (uint32_t i = 0; i < in->count && rc == 0; i++) {
      const uint8_t *item;
      uint32_t len;
      if (wpool__in_next(in->items, in->items_len, &off, &item, &len) != 1)
        return WPOOL_EPROTO;
      if (at)
        *at = i;
      rc = run_item(in, out, hooked, i, item, len);
    }
    if (rc == 0 && off != in->items_len)
      return WPOOL_EPROTO;
  }
  return rc;
}

int wpool__chunk_too_big(wpool__chunk_out_t *out, uint32_t count,
                         uint64_t max_frame) {
  char msg[160];
  int n = snprintf(msg, sizeof msg,
                   "the outputs of this chunk of %u items came to %llu bytes, "
                   "over the frame limit of %llu bytes",
                   (unsigned)count, (unsigned long long)out->bytes,
                   (unsigned long long)max_frame);
  uint32_t len = n < 0 ? 0 : (uint32_t)n;
  out->tail->len = 0;
  for (uint32_t i = 0; i < count; i++)
    if (wpool__append_var_rec(out->tail, WPOOL_E2BIG, 0, msg, len))
      return WPOOL_ENOMEM;
  out->nfail = count;
  return 0;
}

int wpool__chunk_strip_messages(wpool__chunk_out_t *out, uint32_t osize) {
  wpool__buf_t fresh = {0};
  size_t off = 0;
  int rc;
  if (osize) {
    wpool__fail_t fl;
    while ((rc = wpool__fail_next(out->tail->data, out->tail->len, &off,
                                  &fl)) == 1)
      if (wpool__append_fail_rec(&fresh, fl.index, fl.code, fl.task_code,
                                 NULL, 0)) {
        rc = WPOOL_ENOMEM;
        break;
      }
  } else {
    wpool__rec_t r;
    while ((rc = wpool__rec_next(out->tail->data, out->tail->len, &off,
                                 &r)) == 1)
      if (wpool__append_var_rec(&fresh, r.code, r.task_code,
                                r.code ? NULL : r.data,
                                r.code ? 0 : (size_t)r.len)) {
        rc = WPOOL_ENOMEM;
        break;
      }
  }
  if (rc != 0) {
    wpool__buf_free(&fresh);
    return rc < 0 ? rc : WPOOL_EPROTO;
  }
  wpool__buf_free(out->tail);
  *out->tail = fresh;
  return 0;
}

int wpool__run_init(wpool_fn fn, const void *arg, size_t len, int *task_code,
                    char *msg, size_t msg_cap) {
  wpool_out_t o;
  memset(&o, 0, sizeof o);
  /* An initializer has no output: a var record buffer absorbs any. */
  wpool__buf_t sink = {0};
  o.buf = &sink;
  o.max_frame = UINT64_MAX;
  if (wpool__buf_reserve(&sink, WPOOL__VAR_REC_HDR) == 0)
    sink.len = WPOOL__VAR_REC_HDR;
  int rc = fn(arg, len, &o);
  wpool__buf_free(&sink);
  int code = outcome(&o, rc, task_code);
  if (code && msg_cap) {
    size_t n = o.msg_len < msg_cap - 1 ? o.msg_len : msg_cap - 1;
    memcpy(msg, o.msg, n);
    msg[n] = '\0';
  }
  return code;
}
