/*
 * Process workers: the state the loop (procpool.c) owns, and the protocol
 * on one worker's slot (procframes.c), which procpool.c calls.
 *
 * procpool.c is the pool's I/O thread ("the loop"): handshake, sending
 * TASK frames, assembling RESULT frames (framer.h), attribution, deaths and
 * the respawn policy. It drives the workers' channels through a channel
 * kind (chan.h), which never calls back into it: the loop calls down and
 * reads the events a wait returns.
 *
 * Everything about one worker that is not the scheduler's lives in one
 * slot, owned by the loop; the slot points to the scheduler's side
 * (wpool__worker_t) and to its channel, so that no parallel array is tied
 * to it by index.
 */
#ifndef WPOOL_PROCFRAMES_H
#define WPOOL_PROCFRAMES_H

#include "chan.h"
#include "framer.h"
#include "pool.h"

typedef struct wpool__pslot {
  wpool_t *pool;
  wpool__worker_t *w;    /* the scheduler's side of this slot */
  wpool__chan_t *ch;     /* NULL: no worker in the slot */
  long peer;             /* its pid, for messages */
  int hs;                /* handshake: 0 awaiting HELLO, 1 READY, 2 done, 3
                            failed and already reported */
  int64_t deadline;   /* for the handshake */
  int64_t head_since; /* when the head job (probably) started running */
  int dead;      /* decided: a protocol error, end of input, a time limit,
                    a cancellation or a late handshake; its peer is stopped */
  int stopped;   /* the channel was told to stop its peer */
  int gone;      /* the channel reported that its peer has ended */
  int timed_out; /* the handshake did not complete in time */
  int wbroken;   /* sending failed: the worker is going; its results still
                    in the channel are read before it is declared dead, so
                    that a finished task is never blamed */
  int err_code;  /* why its held chunk fails, when not a plain death */
  char err_msg[160];
  /* Sending: FIFO entries [0, sent) from its head are written, and off
     bytes of entry `sent`. ctl holds INIT, written before any task. */
  size_t sent, off;
  wpool__buf_t ctl;
  size_t ctl_off;
  int exit_pending;
  int fresh; /* its next start is the pool growing, not a replacement */
  size_t exit_off;
  wpool__framer_t rx; /* receiving */
  size_t skip; /* the RESULT being read: leading tail bytes that are a
                  cancelled job's outputs, not records */
  /* The TASK of a shared-memory job as it goes on the wire: its header
     and a descriptor in place of the items (proto.h). */
  struct {
    wpool__frame_t hdr;
    wpool__shm_desc_t desc;
  } shm_wire;
  /* Where the channel lends handles (chan.h): the job (its seq) whose
     handles the worker was given, and their values there, so that a frame
     sent in several pieces lends them once. */
  uint64_t lent_seq;
  uint64_t lent[2];
  /* The progress page's handle must go with INIT's first byte (where the
     channel passes handles with bytes rather than lending them). */
  int page_pending;
} wpool__pslot_t;

/* The backend's state (p->pp). */
struct wpool__pp {
  const wpool__chan_ops_t *ops;
  wpool__xport_t *x;
  apr_thread_t *thread;
  int loop_done, thread_joined;
  int started;        /* every first worker reported ready */
  int start_failures; /* in a row, after start-up */
  int killed;         /* terminate: every worker was told to stop */
  int nslots_init;    /* the channel set's size at init (ops->grows) */
  int64_t last_event; /* spin_us: when a wait last returned events */
  wpool__pslot_t **slots; /* nslots of them, each allocated on its own */
  int nslots;
  /* The progress page (proto.h): a line for each of the first
     WPOOL__PROGRESS_LINES slots, where a worker says which item it runs.
     NULL where the channel kind shares no memory, or it could not be
     made: deaths are then attributed as without it. */
  uint8_t *page;
  intptr_t page_h;
};

/* The index of the item of job j that slot s's worker was running when it
   ended, as its progress line says, or -1 when the line says nothing
   trustworthy: no line, another job, an index outside j. Clears the line
   for the next worker of the slot. Only once the worker has ended. */
long wpool__pp_culprit(wpool_t *p, wpool__pslot_t *s, const wpool__job_t *j);

/* procframes.c: the protocol on one slot, lock held. */
/* Deadlines and time limits run on the monotonic clock, in nanoseconds: a
   step of the wall clock must neither kill a healthy worker nor stretch a
   limit. */
int64_t wpool__pp_now(void);
/* start + ms x times milliseconds (times 0 counts as 1), saturating: a
   huge limit means never. */
int64_t wpool__pp_after(int64_t start, int64_t ms, uint32_t times);
/* A worker could not start, or its handshake failed. */
void wpool__pp_start_failed(wpool_t *p, int code, const char *msg);


/* Reset slot s for a new worker (keeps its buffers). */
void wpool__pp_slot_reset(wpool_t *p, wpool__pslot_t *s);
/* Queue INIT (after HELLO). */
void wpool__pp_queue_init(wpool_t *p, wpool__pslot_t *s);
/* Up to max pieces of what waits to be sent to s, straight from the
   scheduler's jobs and the caller's arrays; 0: nothing. A shared-memory
   task is sent on its own from its first byte, with the *nh handles (at
   most 2) that must go with that byte; other sends have none. */
size_t wpool__pp_segments(wpool__pslot_t *s, wpool__seg_t *seg, size_t max,
                          intptr_t *handles, size_t *nh);
int wpool__pp_wants_write(const wpool__pslot_t *s);
/* n bytes of those pieces were sent. */
void wpool__pp_wrote(wpool__pslot_t *s, size_t n);
/* The worker broke the protocol: it is stopped and its chunk fails. */
void wpool__pp_protocol_error(wpool__pslot_t *s, const char *what);

#endif
