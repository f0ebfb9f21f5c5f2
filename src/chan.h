/*
 * The channel contract: how the process backend (procpool.c) talks to its
 * workers, whatever carries the bytes. A channel kind is a const table of
 * operations (wpool__chan_ops_t): pipes and processes on POSIX
 * (src/posix/procos.c), overlapped pipes and process handles on Windows
 * (src/win32/procos.c); a socket or MPI kind would be one more table.
 *
 * Layers call down only. procpool.c calls these operations; a kind never
 * calls into procpool.c, never sees the pool or its lock, and reports what
 * happened by filling an array of events from wait(), as a poller does.
 * procpool.c calls everything from its one I/O thread, except wake().
 *
 * A channel's peer is whatever answers on it (a worker process). Its end is
 * an event of its own (GONE), learnt from the peer itself (a pidfd, a
 * process handle, a reap), never only from an end of input that another
 * holder of the channel may keep from coming. After GONE, recv() still
 * returns what the peer sent before it went; close() then says how it
 * ended.
 */
#ifndef WPOOL_CHAN_H
#define WPOOL_CHAN_H

#include <stddef.h>
#include <stdint.h>

/* A piece of memory to send; a frame goes out as one or more of them. */
typedef struct wpool__seg {
  const void *base;
  size_t len;
} wpool__seg_t;

/* The set of channels of one pool, and what waits on them. */
typedef struct wpool__xport wpool__xport_t;
/* One channel to one peer. */
typedef struct wpool__chan wpool__chan_t;

enum {
  WPOOL__CH_READ = 1,  /* recv() may have bytes (or the end of input) */
  WPOOL__CH_WRITE = 2, /* send() may take bytes (or report a failure) */
  WPOOL__CH_GONE = 4   /* the peer has ended: reported once */
};

typedef struct wpool__chan_ev {
  void *data; /* the channel's owner, as given to open() */
  int what;   /* WPOOL__CH_* bits */
} wpool__chan_ev_t;

typedef struct wpool__xport_cfg {
  int method;        /* WPOOL_FORK or WPOOL_SPAWN */
  int nslots;        /* at most this many channels open at once */
  const char *token; /* the pool's secret, for the peer's environment */
} wpool__xport_cfg_t;

typedef struct wpool__chan_ops {
  const char *name;
  /* Set up and tear down the set. init runs before the pool has a thread
     of its own (a fork server is forked there); fini after its I/O thread
     has ended, and also closes any channel still open. */
  int (*init)(wpool__xport_t **x, const wpool__xport_cfg_t *cfg, char **errmsg);
  void (*fini)(wpool__xport_t *x);
  /* Make a blocked or the next wait() return soon. Any thread. */
  void (*wake)(wpool__xport_t *x);
  /* Start a peer and open a channel to it. data comes back in its events;
   *peer names it in messages (a pid). May take a while. */
  int (*open)(wpool__xport_t *x, void *data, wpool__chan_t **ch, long *peer,
              char **errmsg);
  /* Send from the pieces without blocking: bytes taken (0: none now, wait
     for WRITE), or -1 when the channel cannot send any more. Bytes taken
     belong to the channel: the pieces need to stay valid only during the
     call. The nh handles (a shared buffer's descriptors) go with the first
     byte taken, so that the peer has them before it reads that byte; when
     no byte is taken they are not sent. A kind that cannot pass handles
     returns -1 when nh > 0. */
  long (*send)(wpool__chan_t *ch, const wpool__seg_t *seg, size_t n,
               const intptr_t *handles, size_t nh);
  /* Make handle h (a shared buffer's) usable by ch's peer, read-only
     unless writable, and give in *peer_h the value the peer knows it by;
     the peer closes it. 0, or -1. NULL in a kind whose send() carries
     handles instead (a kind has one way or the other). */
  int (*lend)(wpool__chan_t *ch, intptr_t h, int writable, uint64_t *peer_h);
  /* Receive without blocking: bytes stored (0: none now, wait for READ),
     or -1 at the end of input or when the channel broke. */
  long (*recv)(wpool__chan_t *ch, void *dst, size_t room);
  /* Which events the owner wants from the next wait(): WPOOL__CH_READ and
     WPOOL__CH_WRITE bits. GONE is always reported. */
  void (*want)(wpool__chan_t *ch, int what);
  /* Make the peer end now, without waiting for it: GONE follows. Only
     through a handle that cannot name another peer (no recycled pid). */
  void (*stop)(wpool__chan_t *ch);
  /* After GONE: describe how the peer ended in why ("killed by signal 9
     (SIGKILL)"), release the channel. Never blocks for long. */
  void (*close)(wpool__chan_t *ch, char *why, size_t cap);
  /* Wait up to timeout_ms (-1: no limit) for events or a wake-up; store up
     to max of them in ev and return how many. */
  int (*wait)(wpool__xport_t *x, int timeout_ms, wpool__chan_ev_t *ev, int max);
} wpool__chan_ops_t;

/* The platform's process channel (src/posix/procos.c, src/win32/procos.c). */
extern const wpool__chan_ops_t wpool__proc_chan;

#endif
