/*
 * The wire format between a pool and its process workers.
 *
 * Both ends are the same executable (fork or spawn of one program), so every
 * field is in host byte order and the header has no padding. Every frame is a
 * fixed header followed by `len` payload bytes. The parent never trusts a
 * length, a count or a job id that comes from a worker: proto.c checks each
 * against what the parent sent before anything is copied.
 */
#ifndef WPOOL_PROTO_H
#define WPOOL_PROTO_H

#include <stddef.h>
#include <stdint.h>

/* "WPL1": a stray write by a task onto the channel fails the magic check. */
#define WPOOL__MAGIC 0x314c5057u
#define WPOOL__PROTO_VERSION 1u
#define WPOOL__NO_FN UINT32_MAX
/* INIT's payload starts with the pool's token: this many hex digits. */
#define WPOOL__TOKEN_LEN 32u

enum wpool__frame_type {
  WPOOL__F_HELLO = 1,  /* worker -> parent: pid, table size and hash */
  WPOOL__F_INIT = 2,   /* parent -> worker: initializer and limits */
  WPOOL__F_READY = 3,  /* worker -> parent: initializer ran (or failed) */
  WPOOL__F_TASK = 4,   /* parent -> worker: a chunk of items to run */
  WPOOL__F_RESULT = 5, /* worker -> parent: the chunk's outputs */
  WPOOL__F_EXIT = 6,   /* parent -> worker: exit cleanly */
  WPOOL__F_OUTPUT = 7  /* worker -> parent: what one task printed */
};

/* At most this much of what one task prints comes back (capture_output);
   the rest is dropped, and the end of what comes back says how much. */
#define WPOOL__CAPTURE_MAX ((uint32_t)1 << 20)

/*
 * TASK flags: where the items and outputs of a chunk are, when they are not
 * in the frame. With WPOOL__FL_SHM_IN the payload is a shared-memory
 * descriptor (below) instead of the items, and the items are the bytes
 * [in_off, in_off + in_len) of the buffer whose handle came with the frame:
 * count items of isize bytes, or with WPOOL__FL_WHOLE (isize 0) one item of
 * in_len bytes. With WPOOL__FL_SHM_OUT (fixed outputs only) the outputs go
 * to [out_off, out_off + count * osize) of the buffer whose handle came
 * next, and the RESULT carries only the failure records. The handles travel
 * with the frame's first byte (chan.h), input first, or are lent to the
 * worker beforehand and named in the descriptor. A RESULT carries no
 * offset: the parent alone decides where a worker writes, so nothing a
 * worker returns needs checking against a buffer's bounds.
 */
enum {
  WPOOL__FL_SHM_IN = 1,
  WPOOL__FL_SHM_OUT = 2,
  WPOOL__FL_WHOLE = 4,
  /* RESULT: the payload is a result descriptor (below), and what it would
     have carried is in a buffer the worker made and handed over. */
  WPOOL__FL_SHM_RES = 8
};
#define WPOOL__SHM_DESC_SIZE 48u
typedef struct wpool__shm_desc {
  uint64_t in_off, in_len;
  uint64_t out_off, out_len;
  /* The buffers' handles as the worker knows them, where the channel lends
     them (Windows); where they travel with the frame (POSIX), the parent's
     own values, unused. */
  uint64_t in_h, out_h;
} wpool__shm_desc_t;

/*
 * A RESULT whose payload would pass the frame limit, where INIT allowed it
 * (bit 4 of its count), is written into anonymous shared memory that the
 * worker makes and hands over (chan.h's take(): on POSIX the descriptor goes back over
 * the task socket, ahead of the frame; on Windows the parent takes the
 * handle out of the worker).
 * The frame then carries this instead of its payload, and len is the
 * payload's real length, 64-bit: fixed outputs and records as ever. The
 * parent checks the buffer's size against it before it reads a byte.
 */
#define WPOOL__RES_DESC_SIZE 16u
typedef struct wpool__res_desc {
  uint64_t len;
  uint64_t h; /* the handle as the worker knows it (Windows), else unused */
} wpool__res_desc_t;

/*
 * The progress page: one line per worker slot, in shared memory the
 * parent made, written only by the slot's worker. Before a chunk the
 * worker stores its job id in seq, and before each item that item's index
 * in index (WPOOL__PROGRESS_NONE between the two). The parent reads a line
 * only after its worker has ended, and trusts it only for an id it sent
 * and an index inside that job.
 */
#define WPOOL__PROGRESS_LINE 64u
#define WPOOL__PROGRESS_LINES 64u
#define WPOOL__PROGRESS_NONE UINT64_MAX
/* INIT's count bits beyond 1 (report resident size) and 2 (capture). */
enum { WPOOL__INIT_BIG_RESULTS = 4, WPOOL__INIT_PROGRESS = 8 };
typedef struct wpool__progress_line {
  volatile uint64_t seq;
  volatile uint64_t index;
} wpool__progress_line_t;
/* INIT's trailer when it carries the page: the handle as the worker knows
   it (where the channel lends it; else unused: the descriptor travels
   with INIT's first byte) and the worker's line. */
#define WPOOL__PROGRESS_DESC_SIZE 16u
typedef struct wpool__progress_desc {
  uint64_t handle;
  uint64_t line;
} wpool__progress_desc_t;

/*
 * Field use per type:
 *   HELLO : job = pid, fn = number of registered functions,
 *           count = protocol version, nanos = hash of the table.
 *   INIT  : fn = initializer index or WPOOL__NO_FN, nanos = frame limit,
 *           job = memory limit, count = 1 to report resident size, | 2 to
 *           capture what each task prints (OUTPUT frames), | 4 to
 *           send results too large for a frame through a buffer, | 8
 *           when the payload ends with the progress page's trailer,
 *           isize = spin_us (the low-latency mode),
 *           osize = length of the command line, nfail = its argc,
 *           payload = the pool's token (WPOOL__TOKEN_LEN bytes), the
 *           initializer argument, then the command line (argc strings,
 *           each with its NUL); count | 8: a progress page follows
 *           (wpool__progress_desc_t, the payload's last bytes).
 *   READY : nfail = 0, or 1 with payload = one failure record.
 *   TASK  : job, fn, count, isize (0: variable input records), osize (0:
 *           variable output records), payload = the items.
 *   RESULT: job, count, osize, nfail, nanos = time spent running,
 *           payload = outputs (see below).
 *   EXIT  : nothing.
 *   OUTPUT: job (the chunk's, before its RESULT), count = the item's index
 *           in the chunk, payload = what it printed on stdout and stderr
 *           (at most WPOOL__CAPTURE_MAX bytes). Only when INIT asked.
 *
 * Payloads:
 *   fixed input  : count * isize bytes.
 *   var input    : count records { u32 len; u32 pad[3]; bytes }.
 *   fixed output : count * osize bytes, then nfail failure records.
 *   var output   : count records { i32 code; i32 task_code; u32 len;
 *                  u32 len_hi; bytes }, code 0 = success and bytes are the
 *                  output (len_hi: the high half of its length, non-zero
 *                  only for an output of 4 GiB or more, which only a
 *                  WPOOL__FL_SHM_RES result can carry), else bytes are the
 *                  failure message.
 *   failure rec  : { u32 index; i32 code; i32 task_code; u32 len; message }.
 *
 * Var records (header and bytes) are padded to WPOOL__ALIGN, so that every
 * item a task receives and every output a caller gets is aligned for any
 * type when the buffer holding them is; a worker copies a payload that
 * arrives misaligned in its read buffer before running it.
 */
typedef struct wpool__frame {
  uint32_t magic;
  uint16_t type;
  uint16_t flags;
  uint32_t len;
  uint32_t fn;
  uint64_t job;
  uint32_t count;
  uint32_t isize;
  uint32_t osize;
  uint32_t nfail;
  uint64_t nanos;
} wpool__frame_t;

#define WPOOL__FRAME_SIZE 48u
#define WPOOL__ALIGN 16u
#define WPOOL__IN_REC_HDR 16u
#define WPOOL__VAR_REC_HDR 16u
#define WPOOL__FAIL_REC_HDR 16u
/* Longest failure message carried; longer ones are cut. */
#define WPOOL__MSG_MAX 1024u

/* A failure as decoded from a record; msg is not NUL-terminated. */
typedef struct wpool__fail {
  uint32_t index;
  int32_t code;
  int32_t task_code;
  uint32_t len;
  const char *msg;
} wpool__fail_t;

/* An output as decoded from a var record. */
typedef struct wpool__rec {
  int32_t code;
  int32_t task_code;
  uint64_t len;
  const uint8_t *data;
} wpool__rec_t;

void wpool__frame_init(wpool__frame_t *f, uint16_t type);

/* A TASK header: job id, function, item count and sizes, payload length
   (the caller keeps plen within the frame limit, itself below 4 GiB). */
void wpool__task_frame(wpool__frame_t *f, uint64_t job, uint32_t fn,
                       uint32_t count, uint32_t isize, uint32_t osize,
                       size_t plen);
/* A RESULT header answering TASK t; len is set when the payload is known. */
void wpool__result_frame(wpool__frame_t *f, const wpool__frame_t *t,
                         uint32_t nfail, uint64_t nanos);

/* Record headers (see "Payloads" above). */
void wpool__put_var_rec_hdr(uint8_t *p, int32_t code, int32_t task_code,
                            uint64_t len);
void wpool__put_fail_rec_hdr(uint8_t *p, uint32_t index, int32_t code,
                             int32_t task_code, uint32_t len);
/* Append a whole var record (header, bytes, padding) to b: 0 or
   WPOOL_ENOMEM. */
struct wpool__buf;
int wpool__append_var_rec(struct wpool__buf *b, int32_t code,
                          int32_t task_code, const void *data, size_t len);
/* Append a whole input record (header, bytes, padding) to b: 0 or
   WPOOL_ENOMEM. */
int wpool__append_in_rec(struct wpool__buf *b, const void *data,
                         uint32_t len);
/* Append a whole failure record to b: 0 or WPOOL_ENOMEM. */
int wpool__append_fail_rec(struct wpool__buf *b, uint32_t index, int32_t code,
                           int32_t task_code, const char *msg, uint32_t len);

/*
 * The frame limit (max_frame) bounds what the user sends and gets back: an
 * argument, an output, a chunk's items or outputs together. A record's
 * header and padding come on top (at most this much per item), and so does
 * one failure message; a worker whose failure messages would pass that
 * sends them empty (the codes stay). The parent checks a RESULT's count
 * against what it sent before it makes room for the payload, so what a
 * worker can make it allocate is bounded by the work it was given.
 */
#define WPOOL__REC_OVERHEAD 32u

/* The longest frame payload that carries count items within max_payload
   bytes of user data. */
static inline uint64_t wpool__wire_limit(uint64_t max_payload,
                                         uint32_t count) {
  return max_payload + ((uint64_t)count + 1) * WPOOL__REC_OVERHEAD +
         WPOOL__FAIL_REC_HDR + WPOOL__MSG_MAX;
}

/*
 * Check a header that arrived from the other end: magic, type, and len
 * within wpool__wire_limit(max_payload, count). Returns 0 or WPOOL_EPROTO /
 * WPOOL_E2BIG.
 */
int wpool__frame_check(const wpool__frame_t *f, uint64_t max_payload);

/*
 * Walk var records (input or output). *off is the cursor into buf; returns 1
 * and fills the record, 0 at the exact end, WPOOL_EPROTO when a record runs
 * past the end. proto_var_input() reads { u32 len; bytes } records.
 */
int wpool__rec_next(const uint8_t *buf, size_t len, size_t *off,
                    wpool__rec_t *rec);
int wpool__in_next(const uint8_t *buf, size_t len, size_t *off,
                   const uint8_t **item, uint32_t *item_len);
int wpool__fail_next(const uint8_t *buf, size_t len, size_t *off,
                     wpool__fail_t *fail);

/*
 * Check a whole RESULT payload against what was sent (count, osize) before
 * any of it is used: every record must be well-formed, indices in range and
 * increasing, and nfail must match. Returns 0 or WPOOL_EPROTO.
 */
int wpool__result_validate(const wpool__frame_t *f, uint32_t count,
                           uint32_t osize, const uint8_t *tail,
                           size_t tail_len);

/* len rounded up to WPOOL__ALIGN. Lengths come from 32-bit fields, so the
   sum is done in 64 bits: on a 32-bit build a length near 4 GiB must not
   wrap to a small size (the callers then compare it with what is left of
   a buffer, and a too-large value fails that check). */
static inline uint64_t wpool__pad(uint64_t len) {
  return (len + WPOOL__ALIGN - 1) & ~(uint64_t)(WPOOL__ALIGN - 1);
}

/* Write an input record header for len bytes at p (WPOOL__IN_REC_HDR). */
void wpool__put_in_hdr(uint8_t *p, uint32_t len);

static inline void wpool__put_u32(uint8_t *p, uint32_t v) {
  for (int i = 0; i < 4; i++)
    p[i] = (uint8_t)(v >> (8 * i));
}
static inline uint32_t wpool__get_u32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
         (uint32_t)p[3] << 24;
}

#endif
