/*
 * Process workers, split in two. procpool.c is portable: the I/O thread's
 * logic (handshake, frame assembly, attribution, deaths, respawn policy).
 * The operating-system half (src/posix/procos.c, src/win32/procos.c) only
 * starts, kills and reaps processes, and moves bytes between the channels
 * and the buffers procpool.c names.
 */
#ifndef WPOOL_PROCPOOL_H
#define WPOOL_PROCPOOL_H

#include "pool.h"

/* A piece of memory to write; a frame goes out as one or more of them. */
typedef struct wpool__seg {
  const void *base;
  size_t len;
} wpool__seg_t;

/* --- Called by the OS half, with the pool's lock held. ------------------ */

/* Slot i has a live process with open channels. */
int wpool__pp_live(wpool_t *p, int i);
/* Up to max pieces of what is waiting to be written to slot i; 0: nothing.
   The pieces stay valid only while the lock is held: an OS half that writes
   without it must copy them first. */
size_t wpool__pp_segments(wpool_t *p, int i, wpool__seg_t *seg, size_t max);
/* Something is waiting to be written to slot i. */
int wpool__pp_wants_write(wpool_t *p, int i);
/* n bytes of those pieces were written. */
void wpool__pp_wrote(wpool_t *p, int i, size_t n);
/* Where the next bytes read from slot i go (a staging buffer, or straight
   into a large payload's destination). 0, or -1 when slot i is dead. */
int wpool__pp_read_target(wpool_t *p, int i, uint8_t **dst, size_t *room);
/* n bytes arrived at the read target; n == 0 is end of input. */
void wpool__pp_read_done(wpool_t *p, int i, size_t n);
/* Writing to slot i failed (broken pipe): nothing more is written; the
   worker is declared dead at the end of its output, once every result it
   sent has been read. */
void wpool__pp_broken(wpool_t *p, int i);

/* --- Implemented by the OS half. ----------------------------------------- */

/* Backend-wide set-up and tear-down (wake-up channel, fork server). Called
   before the I/O thread exists, and after it has ended. */
int wpool__pos_init(wpool_t *p, char **errmsg);
void wpool__pos_free(wpool_t *p);
/* Make wpool__pos_wait return soon. Lock held. */
void wpool__pos_wake(wpool_t *p);
/* Start a worker process for slot i; lock not held. */
int wpool__pos_start(wpool_t *p, int i, long *pid, char **errmsg);
/* Kill slot i's process if it is still there, reap it, describe how it
   ended in why, close its channels. Lock not held. */
void wpool__pos_reap(wpool_t *p, int i, char *why, size_t cap);
/* Kill slot i's process now (terminate); it is reaped later. Lock held. */
void wpool__pos_kill(wpool_t *p, int i);
/*
 * Wait up to timeout_ms (-1: no limit) for channel events or a wake-up, and
 * move the bytes: read into wpool__pp_read_target and report with
 * wpool__pp_read_done, write wpool__pp_segments and report with
 * wpool__pp_wrote. Entered and left with the lock held; it is released while
 * blocked. It also writes pending output before blocking.
 */
void wpool__pos_wait(wpool_t *p, int timeout_ms);

#endif
