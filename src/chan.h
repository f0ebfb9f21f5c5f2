/*
 * The channel contract: how the process backend (procpool.c) talks to its
 * workers, whatever carries the bytes. A channel kind is a const table of
 * operations (wpool__chan_ops_t): pipes and processes on POSIX
 * (src/posix/procos.c), overlapped pipes and process handles on Windows
 * (src/win32/procos.c); another kind (the MPI component's) comes from
 * outside through wpool_create_with(). The operations are documented in
 * include/wpool_transport.h.
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

#include "wpool_transport.h"

/* The contract is public (wpool_transport.h) so that a transport can live
   outside the library; inside it keeps its internal names. */
typedef wpool_seg_t wpool__seg_t;
typedef wpool_xport_t wpool__xport_t;
typedef wpool_chan_t wpool__chan_t;
typedef wpool_chan_ev_t wpool__chan_ev_t;
typedef wpool_xport_cfg_t wpool__xport_cfg_t;
typedef wpool_chan_ops_t wpool__chan_ops_t;

enum {
  WPOOL__CH_READ = WPOOL_CH_READ,
  WPOOL__CH_WRITE = WPOOL_CH_WRITE,
  WPOOL__CH_GONE = WPOOL_CH_GONE
};

/* The platform's process channel (src/posix/procos.c, src/win32/procos.c). */
extern const wpool__chan_ops_t wpool__proc_chan;
/* Non-zero: its send() may be called from any thread, with the pool's lock
   held, while the loop waits in wait() (a plain system call on the task
   descriptor that never raises SIGPIPE); procpool.c then lets a caller write
   an apply's frame itself. */
extern const int wpool__proc_chan_any_thread;

#endif
