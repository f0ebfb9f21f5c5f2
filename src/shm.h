/*
 * Shared buffers (wpool_shm_t): the portable half keeps the reference count
 * and checks slices; the platform half (src/posix/shmos.c,
 * src/win32/shmos.c) makes the anonymous memory and its handle.
 *
 * A buffer is alive while the caller holds it or a submitted call does
 * (a batch takes one reference per slice it names and drops it when its
 * result is freed): the memory goes with the last reference, so that a
 * worker never holds a handle to memory that is gone.
 */
#ifndef WPOOL_SHM_H
#define WPOOL_SHM_H

#include "wpool.h"

#include <apr_atomic.h>
#include <stdint.h>

struct wpool_shm {
  uint32_t magic;
  volatile apr_uint32_t refs;       /* the caller's and every batch's */
  volatile apr_uint32_t user_freed; /* the caller let it go */
  intptr_t handle; /* what a process worker is given: a descriptor */
  uint8_t *base;   /* this process's mapping, read-write */
  size_t size;
};

/* Take one more reference (the buffer is alive). */
void wpool__shm_ref(wpool_shm_t *s);
/* Drop one; the last one releases the memory. NULL is ignored. */
void wpool__shm_unref(wpool_shm_t *s);

/*
 * Check a slice that a caller submits: a live buffer the caller still
 * holds, and [offset, offset + len) inside it. 0, or WPOOL_EINVAL with a
 * message in *errmsg (when errmsg is not NULL).
 */
int wpool__slice_check(const wpool_slice_t *sl, const char *what,
                       char **errmsg);

/*
 * Arguments, map inputs and imap inputs at or above the pool's threshold
 * travel in a shared buffer of their own. wpool__shm_carrier gives one of
 * at least len bytes (the pool's spare when it fits), or NULL below the
 * threshold or when no buffer can be had (they then take the channel);
 * the caller gets its only reference and no handle to it ever reaches the
 * user. Takes the pool's lock. wpool__shm_carry also copies len bytes of
 * data into it, before anything is submitted (an apply's argument, an
 * imap's array; a map copies beside its first chunks, result.c).
 */
wpool_shm_t *wpool__shm_carrier(wpool_t *p, size_t len);
wpool_shm_t *wpool__shm_carry(wpool_t *p, const void *data, size_t len);
/* A carried buffer that no worker can map any more becomes the pool's
   spare for the next large argument, unless it is too large to keep;
   returns the buffer the caller now drops (s, or the older spare, or
   NULL). With the pool locked. */
wpool_shm_t *wpool__shm_keep_spare(wpool_t *p, wpool_shm_t *s);

/* The platform half (wpool__shm_os_create, _destroy) is declared in os.h. */

#endif
