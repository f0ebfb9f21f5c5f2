/*
 * The loop a process worker runs. Tasks arrive back to back on the task
 * channel (the parent pipelines several per worker); the worker reads as many
 * as one read() gives, runs them in order and writes each RESULT before it
 * starts the next task. That write per task is what lets the parent know, at
 * any moment, which task a dead worker held: the first one it sent whose
 * result has not arrived.
 */
#include "worker.h"
#include "argv.h"
#include "buf.h"
#include "proto.h"
#include "registry.h"
#include "run.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct reader {
  const wpool__worker_os_t *os;
  intptr_t h;
  wpool__buf_t buf;
  size_t pos; /* start of unconsumed bytes in buf */
  wpool__buf_t aligned; /* a misaligned payload is copied here */
  uint64_t spin_ns; /* spin_us: look this long before a read may block */
} reader_t;

/*
 * Make at least need bytes available at r->buf.data + r->pos; 0, or -1 at
 * end of input or on error.
 */
static int fill(reader_t *r, size_t need) {
  if (r->buf.len - r->pos >= need)
    return 0;
  if (r->pos) {
    memmove(r->buf.data, r->buf.data + r->pos, r->buf.len - r->pos);
    r->buf.len -= r->pos;
    r->pos = 0;
  }
  size_t want = need > 65536 ? need : 65536;
  if (wpool__buf_reserve(&r->buf, want - r->buf.len + 1))
    return -1;
  while (r->buf.len < need) {
    if (r->spin_ns)
      r->os->spin_readable(r->h, r->spin_ns);
    long n = r->os->read(r->h, r->buf.data + r->buf.len,
                            r->buf.cap - r->buf.len);
    if (n <= 0)
      return -1;
    r->buf.len += (size_t)n;
  }
  return 0;
}

/* The next frame and its payload (valid until the next call), or -1. */
static int next_frame(reader_t *r, wpool__frame_t *f, const uint8_t **payload,
                      uint64_t max_payload) {
  if (fill(r, WPOOL__FRAME_SIZE))
    return -1;
  memcpy(f, r->buf.data + r->pos, WPOOL__FRAME_SIZE);
  /* The parent is trusted more than a worker, but a garbled channel must
     still end in a clean exit, not a giant allocation. */
  if (wpool__frame_check(f, max_payload))
    return -1;
  if (fill(r, WPOOL__FRAME_SIZE + (size_t)f->len))
    return -1;
  *payload = r->buf.data + r->pos + WPOOL__FRAME_SIZE;
  r->pos += WPOOL__FRAME_SIZE + (size_t)f->len;
  /* Frames follow each other unpadded; tasks need their items aligned. */
  if ((uintptr_t)*payload % WPOOL__ALIGN) {
    r->aligned.len = 0;
    if (wpool__buf_append(&r->aligned, *payload, f->len))
      return -1;
    *payload = r->aligned.data;
  }
  return 0;
}

/* Out of line, so that a 32-bit build (where size_t always fits) does not
   see a comparison that is always false. */
static int fits_u32(uint64_t n) { return n <= UINT32_MAX; }
static int fits_size(uint64_t n) { return n <= SIZE_MAX; }

/* The shared buffers of one task, mapped for as long as it runs: only the
   pages of its own items and slots, so that a task sees no other part of
   the buffers, and a mapping never outlives its task (a freed buffer's
   memory goes as soon as no task runs on it). */
typedef struct shm_task {
  intptr_t hin, hout;
  int has_in, has_out;
  wpool__shm_map_t in, out;
} shm_task_t;

static void shm_close_task(const wpool__worker_os_t *os, shm_task_t *s) {
  if (s->has_in) {
    os->shm_unmap(&s->in);
    os->close_handle(s->hin);
  }
  if (s->has_out) {
    os->shm_unmap(&s->out);
    os->close_handle(s->hout);
  }
  s->has_in = s->has_out = 0;
}

/* Take the handles of TASK t, map what it names and point in at its items;
   0, or -1 when the frame or the mapping is wrong (nothing stays open). */
static int shm_open_task(const wpool__worker_os_t *os, const wpool__frame_t *t,
                         const uint8_t *payload, wpool__chunk_in_t *in,
                         shm_task_t *s) {
  memset(s, 0, sizeof *s);
  if (!(t->flags & (WPOOL__FL_SHM_IN | WPOOL__FL_SHM_OUT)))
    return 0;
  wpool__shm_desc_t d;
  if (t->len != WPOOL__SHM_DESC_SIZE)
    return -1;
  memcpy(&d, payload, sizeof d);
  if ((t->flags & WPOOL__FL_SHM_IN) && os->take_handle(d.in_h, &s->hin) == 0)
    s->has_in = 1;
  if ((t->flags & WPOOL__FL_SHM_OUT) &&
      os->take_handle(d.out_h, &s->hout) == 0)
    s->has_out = 1;
  int bad = ((t->flags & WPOOL__FL_SHM_IN) && !s->has_in) ||
            ((t->flags & WPOOL__FL_SHM_OUT) && !s->has_out);
  if (!bad && s->has_in) {
    /* Inputs are read-only here: a task that writes into one dies, not
       the caller's data. */
    bad = (t->isize && d.in_len != (uint64_t)t->count * t->isize) ||
          !fits_size(d.in_len) ||
          os->shm_map(s->hin, d.in_off, d.in_len, 0, &s->in);
    in->items = s->in.ptr;
    in->items_len = (size_t)d.in_len;
  }
  if (!bad && s->has_out)
    bad = !t->osize || d.out_len != (uint64_t)t->count * t->osize ||
          os->shm_map(s->hout, d.out_off, d.out_len, 1, &s->out);
  if (bad) {
    shm_close_task(os, s);
    return -1;
  }
  return 0;
}


static char expected_token[WPOOL__TOKEN_LEN + 1];

void wpool__worker_expect_token(const char *token) {
  expected_token[0] = '\0';
  if (token && strlen(token) == WPOOL__TOKEN_LEN)
    memcpy(expected_token, token, WPOOL__TOKEN_LEN + 1);
}

static int send_ready(const wpool__worker_os_t *os, intptr_t out, int code,
                      int task_code, const char *msg) {
  wpool__frame_t f;
  wpool__frame_init(&f, WPOOL__F_READY);
  wpool__buf_t rec = {0};
  if (code) {
    size_t n = strlen(msg);
    if (n > WPOOL__MSG_MAX)
      n = WPOOL__MSG_MAX;
    if (wpool__append_fail_rec(&rec, 0, code, task_code, msg, (uint32_t)n))
      return -1;
    f.nfail = 1;
  }
  f.len = (uint32_t)rec.len;
  int rc = os->write_all(out, &f, sizeof f);
  if (rc == 0 && rec.len)
    rc = os->write_all(out, rec.data, rec.len);
  wpool__buf_free(&rec);
  return rc;
}

/* Map this worker's line of the progress page INIT names. The handle is
   taken even when the line is refused: on POSIX it is queued ahead of any
   task's. Without a line the worker runs as before, and the parent learns
   nothing from it. */
static void map_progress(const wpool__worker_os_t *os, const uint8_t *at,
                         wpool__shm_map_t *page) {
  wpool__progress_desc_t d;
  intptr_t h;
  memcpy(&d, at, sizeof d);
  if (os->take_handle(d.handle, &h))
    return;
  if (d.line >= WPOOL__PROGRESS_LINES ||
      os->shm_map(h, d.line * WPOOL__PROGRESS_LINE, WPOOL__PROGRESS_LINE, 1,
                  page))
    page->ptr = NULL;
  os->close_handle(h);
}

static int handshake(reader_t *r, intptr_t out, uint64_t *max_frame,
                     uint32_t *flags, int *big_results, uint64_t *spin_ns,
                     wpool__shm_map_t *page) {
  wpool__frame_t f;
  wpool__frame_init(&f, WPOOL__F_HELLO);
  f.job = (uint64_t)r->os->getpid();
  f.fn = wpool__registry_count();
  f.count = WPOOL__PROTO_VERSION;
  f.nanos = wpool__registry_hash();
  if (r->os->write_all(out, &f, sizeof f))
    return -1;
  const uint8_t *arg;
  /* INIT may carry initializer arguments up to the pool's own limit, which
     we learn from INIT itself: accept any size the header states. */
  if (next_frame(r, &f, &arg, UINT32_MAX) || f.type != WPOOL__F_INIT ||
      f.len < WPOOL__TOKEN_LEN)
    return -1;
  /* Not the pool that started us, or no pool at all: serve nothing. */
  if (expected_token[0] && memcmp(arg, expected_token, WPOOL__TOKEN_LEN))
    return -1;
  arg += WPOOL__TOKEN_LEN;
  f.len -= WPOOL__TOKEN_LEN;
  if (f.count & WPOOL__INIT_PROGRESS) {
    if (f.len < WPOOL__PROGRESS_DESC_SIZE)
      return -1;
    f.len -= WPOOL__PROGRESS_DESC_SIZE;
    map_progress(r->os, arg + f.len, page);
  }
  /* The parent's command line ends the payload: adopted before the
     initializer runs, so that it may parse options too. */
  if (f.osize > f.len ||
      wpool__argv_adopt(arg + (f.len - f.osize), f.osize, f.nfail))
    return -1;
  f.len -= f.osize;
  *max_frame = f.nanos;
  *flags = f.count;
  *big_results = r->os->give_handle && (f.count & WPOOL__INIT_BIG_RESULTS);
  *spin_ns = (uint64_t)f.isize * 1000;
  if (f.job && r->os->limit_memory(f.job)) {
    send_ready(r->os, out, WPOOL_ESYS, 0,
               "could not limit the worker's memory");
    return -1;
  }
  if (f.fn == WPOOL__NO_FN)
    return send_ready(r->os, out, 0, 0, "");
  wpool_fn init = wpool__registry_at(f.fn);
  char msg[WPOOL__MSG_MAX];
  int task_code = 0;
  int code = init ? wpool__run_init(init, arg, f.len, &task_code, msg,
                                    sizeof msg)
                  : WPOOL_ENOFUNC;
  if (!init)
    strcpy(msg, "initializer index out of range");
  if (send_ready(r->os, out, code, task_code, msg))
    return -1;
  return code ? -1 : 0;
}

/* Capturing what each task prints (INIT's flag 2): the hooks around each
   item of a chunk. */
typedef struct capture {
  const wpool__worker_os_t *os;
  intptr_t out;
  uint64_t job;
  int on;  /* this item's output is being captured */
  int bad; /* writing an OUTPUT failed: the parent is gone */
  uint8_t *buf;
} capture_t;

static void capture_begin(void *ctx) {
  capture_t *c = ctx;
  c->on = c->os->capture_start() == 0;
}

/* Send what item index printed, ahead of its chunk's RESULT. */
static void capture_end(void *ctx, uint32_t index) {
  capture_t *c = ctx;
  if (!c->on)
    return;
  c->on = 0;
  uint64_t total = 0;
  /* Room at the end to say how much was dropped. */
  const size_t note_room = 80;
  size_t n = c->os->capture_stop(c->buf, WPOOL__CAPTURE_MAX - note_room,
                                 &total);
  if (total > n)
    n += (size_t)snprintf((char *)c->buf + n, note_room,
                          "\n[wpool: %llu more bytes of output dropped]\n",
                          (unsigned long long)(total - n));
  if (n == 0 || c->bad)
    return;
  wpool__frame_t f;
  wpool__frame_init(&f, WPOOL__F_OUTPUT);
  f.job = c->job;
  f.count = index;
  f.len = (uint32_t)n;
  if (c->os->write_all(c->out, &f, sizeof f) ||
      c->os->write_all(c->out, c->buf, n))
    c->bad = 1;
}

/*
 * Send RESULT f, whose payload is the fixed outputs at fixed (fixed_len
 * bytes) and then the records in tail, through a buffer of its own (see
 * WPOOL__FL_SHM_RES): 0 sent, 1 no buffer could be had (nothing was sent:
 * the caller may still use the channel), -1 the parent is gone. Frees
 * tail once it is copied, so that the worker holds the payload twice at
 * most for the copy's length.
 */
static int send_by_buffer(const wpool__worker_os_t *os, intptr_t task_in,
                          intptr_t result_out, wpool__frame_t *f,
                          const uint8_t *fixed, size_t fixed_len,
                          wpool__buf_t *tail) {
  size_t total = fixed_len + tail->len;
  intptr_t h;
  uint8_t *base;
  if (total < fixed_len || os->result_buffer(total, &h, &base))
    return 1;
  memcpy(base, fixed, fixed_len);
  memcpy(base + fixed_len, tail->data, tail->len);
  wpool__buf_free(tail);
  os->result_unmap(base, total);
  struct {
    wpool__frame_t f;
    wpool__res_desc_t d;
  } wire;
  wire.d.len = total;
  if (os->give_handle(task_in, h, &wire.d.h))
    return -1;
  f->flags |= WPOOL__FL_SHM_RES;
  f->len = WPOOL__RES_DESC_SIZE;
  wire.f = *f;
  return os->write_all(result_out, &wire, sizeof wire) ? -1 : 0;
}

int wpool__worker_serve(intptr_t task_in, intptr_t result_out,
                        const wpool__worker_os_t *os) {
  reader_t r = {os, task_in, {0}, 0, {0}, 0};
  wpool__buf_t res = {0};
  uint64_t max_frame;
  uint32_t flags = 0;
  int big_results = 0;
  int rc = 1;
  capture_t cap = {os, result_out, 0, 0, 0, NULL};
  uint64_t spin_ns = 0;
  wpool__shm_map_t page = {NULL, 0, NULL};
  if (handshake(&r, result_out, &max_frame, &flags, &big_results, &spin_ns,
                &page))
    goto out;
  r.spin_ns = spin_ns; /* tasks only: the handshake may wait long */
  wpool__progress_line_t *line = (wpool__progress_line_t *)page.ptr;
  /* With results that can go around the channel, neither the frame limit
     nor 4 GiB bound an output. */
  uint64_t out_limit = big_results ? UINT64_MAX : max_frame;
  int report_rss = flags & 1;
  if ((flags & 2) && !(cap.buf = malloc(WPOOL__CAPTURE_MAX)))
    goto out;
  for (;;) {
    wpool__frame_t t;
    const uint8_t *payload;
    if (next_frame(&r, &t, &payload, max_frame)) {
      rc = 0; /* the parent closed the channel: nothing left to do */
      break;
    }
    if (t.type == WPOOL__F_EXIT) {
      rc = 0;
      break;
    }
    if (t.type != WPOOL__F_TASK)
      break;
    wpool__chunk_in_t in = {wpool__registry_at(t.fn), t.count, t.isize,
                            t.osize, payload, t.len, out_limit,
                            NULL, NULL, NULL,
                            (t.flags & WPOOL__FL_WHOLE) != 0, NULL};
    if (cap.buf) {
      cap.job = t.job;
      in.item_begin = capture_begin;
      in.item_end = capture_end;
      in.hook_ctx = &cap;
    }
    if (!in.fn)
      break;
    if (line) {
      /* No item of this job runs yet: a death from here to the first item
         names none. */
      line->index = WPOOL__PROGRESS_NONE;
      line->seq = t.job;
      in.at = &line->index;
    }
    shm_task_t shm;
    if (shm_open_task(os, &t, payload, &in, &shm))
      break; /* the parent sees a death, and fails this chunk */
    /* The RESULT header, the fixed outputs and the records share one buffer
       so that one write carries the whole frame; outputs that go to a
       shared buffer are not sent. */
    size_t fixed_len = shm.out.ptr ? 0 : (size_t)t.count * t.osize;
    res.len = 0;
    if (wpool__buf_reserve(&res, WPOOL__FRAME_SIZE + fixed_len)) {
      shm_close_task(os, &shm);
      break;
    }
    res.len = WPOOL__FRAME_SIZE + fixed_len;
    wpool__buf_t tail = {0};
    wpool__chunk_out_t out = {NULL, &tail, 0, 0, 0};
    /* Fixed outputs land in res (or the shared slots); failure or var
       records go to tail. */
    out.fixed = shm.out.ptr ? shm.out.ptr : res.data + WPOOL__FRAME_SIZE;
    uint64_t start = os->now_ns();
    int err = wpool__run_chunk(&in, &out);
    shm_close_task(os, &shm);
    out.nanos = os->now_ns() - start;
    wpool__frame_t f;
    /* Too large for a frame: through a buffer. Only then: a result needs
       a fresh buffer each time, whose pages cost more than the pipe's
       copies (docs/design.md, "Shared buffers"). */
    uint64_t plen64 = (uint64_t)fixed_len + tail.len;
    if (err == 0 && big_results &&
        (out.bytes > max_frame ||
         plen64 > wpool__wire_limit(max_frame, t.count))) {
      wpool__result_frame(&f, &t, out.nfail, out.nanos);
      f.isize = report_rss ? os->rss_kib() : 0;
      int sent = send_by_buffer(os, task_in, result_out, &f,
                                res.data + WPOOL__FRAME_SIZE, fixed_len, &tail);
      if (sent < 0) {
        wpool__buf_free(&tail);
        break;
      }
      if (sent == 0)
        continue;
    }
    /* The limit is on the user's bytes; the parent cut the chunk so that
       fixed outputs always fit, and var outputs are checked here. */
    if (err == 0 && out.bytes > max_frame)
      err = wpool__chunk_too_big(&out, t.count, max_frame);
    if (err == 0 && fixed_len + tail.len > wpool__wire_limit(max_frame,
                                                             t.count))
      err = wpool__chunk_strip_messages(&out, t.osize);
    if (err == 0 && wpool__buf_append(&res, tail.data, tail.len))
      err = WPOOL_ENOMEM;
    wpool__buf_free(&tail);
    if (err)
      break;
    wpool__result_frame(&f, &t, out.nfail, out.nanos);
    f.isize = report_rss ? os->rss_kib() : 0;
    size_t plen = res.len - WPOOL__FRAME_SIZE;
    if (!fits_u32(plen))
      break; /* cannot be framed: the parent sees a death, not garbage */
    f.len = (uint32_t)plen;
    memcpy(res.data, &f, sizeof f);
    if (os->write_all(result_out, res.data, res.len))
      break;
  }
out:
  os->shm_unmap(&page);
  free(cap.buf);
  wpool__buf_free(&r.buf);
  wpool__buf_free(&r.aligned);
  wpool__buf_free(&res);
  return rc;
}
