/*
 * Running a chunk of items, the same code for process and thread workers.
 * It produces exactly the RESULT payload layout of proto.h, so that the
 * parent decodes a thread's results with the code that decodes a process's.
 */
#ifndef WPOOL_RUN_H
#define WPOOL_RUN_H

#include "buf.h"
#include "proto.h"
#include "wpool.h"

typedef struct wpool__chunk_in {
  wpool_fn fn;
  uint32_t count;
  uint32_t isize; /* 0: var input records */
  uint32_t osize; /* 0: var output records */
  const uint8_t *items;
  size_t items_len;
  uint64_t max_frame;
  /* Optional: called around each item's task (a process worker captures
     what it prints), with hook_ctx and the item's index in the chunk. */
  void (*item_begin)(void *hook_ctx);
  void (*item_end)(void *hook_ctx, uint32_t index);
  void *hook_ctx;
  int whole; /* isize 0: items_len bytes are one item, not records */
  /* Optional: where a process worker says which item of the chunk runs,
     stored before each item (a word of its progress page, see
     docs/design.md "Attribution and deaths"). */
  volatile uint64_t *at;
} wpool__chunk_in_t;

typedef struct wpool__chunk_out {
  uint8_t *fixed;    /* count * osize bytes when osize > 0 */
  wpool__buf_t *tail; /* failure records, or the var output records */
  uint32_t nfail;
  uint64_t nanos; /* set by the caller, who owns the clock */
  uint64_t bytes; /* var outputs: their lengths added up */
} wpool__chunk_out_t;

/*
 * Run every item. Returns 0, or WPOOL_EPROTO when the input records are
 * malformed, or WPOOL_ENOMEM; per-item failures are records, not errors.
 */
int wpool__run_chunk(const wpool__chunk_in_t *in, wpool__chunk_out_t *out);

/*
 * The var outputs of a chunk of count items came to more than max_frame
 * bytes together: replace the records in tail by one E2BIG failure per item
 * that says so, and set nfail. 0 or WPOOL_ENOMEM.
 */
int wpool__chunk_too_big(wpool__chunk_out_t *out, uint32_t count,
                         uint64_t max_frame);

/*
 * Empty the failure messages in a chunk's records (fixed: failure records;
 * var: the records of failed items), keeping every code: for a RESULT that
 * would pass the wire limit only because of its messages. 0 or
 * WPOOL_ENOMEM / WPOOL_EPROTO.
 */
int wpool__chunk_strip_messages(wpool__chunk_out_t *out, uint32_t osize);

/* Run an initializer; on failure *code and msg (NUL-terminated) are set. */
int wpool__run_init(wpool_fn fn, const void *arg, size_t len, int *task_code,
                    char *msg, size_t msg_cap);

#endif
