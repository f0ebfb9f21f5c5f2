/**
 * @file wpool_transport.h
 * The extension point for transports (advanced).
 *
 * A process pool talks to its workers through a *channel kind*: a const
 * table of operations that starts a peer, moves bytes to and from it
 * without blocking, and says when it has ended. The library's own kind
 * runs local processes (pipes and pidfds on POSIX, overlapped pipes and
 * process handles on Windows). A plug-in (the MPI component, wpool::mpi)
 * supplies another table and creates its pools with wpool_create_with().
 *
 * Ordinary programs never need this header: include wpool.h.
 *
 * The contract, as the pool uses it:
 * - One I/O thread per pool calls every operation except wake(), which any
 *   thread may call. init() runs on the thread that calls
 *   wpool_create_with(), before the pool has a thread of its own; fini() on
 *   the thread that destroys the pool, after the I/O thread has ended.
 * - send(), recv(), want() and stop() never block: the pool calls them with
 *   its lock held. open(), close() and wait() may block; the lock is
 *   released around them.
 * - A kind never calls back into the pool: it reports what happened by
 *   filling an array of events from wait().
 * - The bytes are a stream (frames may be cut anywhere); a kind delivers
 *   them in order, neither lost nor duplicated, until its peer ends.
 * - A peer's end is an event of its own (WPOOL_CH_GONE), reported once and
 *   learnt from the peer itself, never only from an end of input. After it,
 *   recv() still returns what the peer sent before it ended, then -1, and
 *   close() says how it ended in a short text ("killed by signal 9
 *   (SIGKILL) on host n2 (rank 3)"), which the pool puts in the messages of
 *   the tasks that fail with it.
 */
#ifndef WPOOL_TRANSPORT_H
#define WPOOL_TRANSPORT_H

#include "wpool.h"

#ifdef __cplusplus
extern "C" {
#endif

/** A piece of memory to send; a frame goes out as one or more of them. */
typedef struct wpool_seg {
  const void *base; /**< first byte */
  size_t len;       /**< number of bytes */
} wpool_seg_t;

/** The set of channels of one pool, and what waits on them (the kind's). */
typedef struct wpool_xport wpool_xport_t;
/** One channel to one peer (the kind's). */
typedef struct wpool_chan wpool_chan_t;

/** Event bits (wpool_chan_ev_t.what) and wants (want()). */
enum {
  WPOOL_CH_READ = 1,  /**< recv() may have bytes (or the end of input) */
  WPOOL_CH_WRITE = 2, /**< send() may take bytes (or report a failure) */
  WPOOL_CH_GONE = 4   /**< the peer has ended: reported once */
};

/** One event from wait(). */
typedef struct wpool_chan_ev {
  void *data; /**< the channel's owner, as given to open() */
  int what;   /**< WPOOL_CH_* bits */
} wpool_chan_ev_t;

/** What init() is told about the pool. */
typedef struct wpool_xport_cfg {
  int method;        /**< WPOOL_FORK or WPOOL_SPAWN (never DEFAULT) */
  int nslots;        /**< at most this many channels open at once */
  const char *token; /**< the pool's secret, for a spawned peer */
} wpool_xport_cfg_t;

/**
 * A channel kind. Every operation must be set, except lend() and take().
 * Codes are WPOOL_E* values; an *errmsg set by init() or open() is
 * released by the pool with wpool_free(), so a kind allocates it with
 * malloc().
 */
typedef struct wpool_chan_ops {
  /** Short name, for messages. */
  const char *name;
  /** Set up the set for cfg->nslots channels. 0 or a WPOOL_E* code. */
  int (*init)(wpool_xport_t **x, const wpool_xport_cfg_t *cfg, char **errmsg);
  /** Tear the set down, closing any channel still open. */
  void (*fini)(wpool_xport_t *x);
  /** Make a blocked or the next wait() return soon. Any thread. */
  void (*wake)(wpool_xport_t *x);
  /** Start a peer and open a channel to it. data comes back in its events;
   *peer names it in messages and in wpool_stats() (a process id). */
  int (*open)(wpool_xport_t *x, void *data, wpool_chan_t **ch, long *peer,
              char **errmsg);
  /** Send from the pieces without blocking: bytes taken (0: none now, wait
      for WPOOL_CH_WRITE), or -1 when the channel cannot send any more.
      Bytes taken belong to the channel: the pieces need to stay valid only
      during the call. The nh handles (a shared buffer's descriptors, see
      wpool_shm_alloc()) go with the first byte taken, so that the peer has
      them before it reads that byte; when no byte is taken they are not
      sent. Handles are given only to a kind that shares memory (below)
      and has no lend(); any other kind returns -1 when nh > 0. */
  long (*send)(wpool_chan_t *ch, const wpool_seg_t *seg, size_t n,
               const intptr_t *handles, size_t nh);
  /** Make handle h (a shared buffer's) usable by ch's peer, read-only
      unless writable, and store in *peer_h the value the peer knows it by;
      the peer closes it. 0, or -1. NULL in a kind whose send() carries
      handles instead, or that does not share memory. */
  int (*lend)(wpool_chan_t *ch, intptr_t h, int writable, uint64_t *peer_h);
  /** Receive without blocking: bytes stored (0: none now, wait for
      WPOOL_CH_READ), or -1 at the end of input or when the channel broke. */
  long (*recv)(wpool_chan_t *ch, void *dst, size_t room);
  /** Which events the owner wants from the next wait(): WPOOL_CH_READ and
      WPOOL_CH_WRITE bits. WPOOL_CH_GONE is always reported. */
  void (*want)(wpool_chan_t *ch, int what);
  /** Make the peer end now, without waiting for it: GONE follows. */
  void (*stop)(wpool_chan_t *ch);
  /** After GONE: write how the peer ended into why (cap bytes, always
      terminated) and release the channel. Never blocks for long. */
  void (*close)(wpool_chan_t *ch, char *why, size_t cap);
  /** Wait up to timeout_ms (-1: no limit) for events or a wake-up; store up
      to max of them in ev and return how many. */
  int (*wait)(wpool_xport_t *x, int timeout_ms, wpool_chan_ev_t *ev, int max);
  /** How much work, in microseconds of the pool's measured task time, to
      send ahead to each worker so that it never waits for a round trip
      between tasks; 0 for the default (2 ms). A kind whose round trip is
      long (another host, a relay) wants more, at the price of balance at
      the end of a skewed workload. */
  long ahead_us;
  /** Non-zero: open() may be called for more channels than cfg->nslots
      once the pool grows (wpool_resize). 0: the set is sized once, and
      wpool_resize() above cfg->nslots returns WPOOL_ENOTSUP. */
  int grows;
  /** Non-zero: the peers run on this machine and take shared buffers
      (through send()'s handles or lend()). 0: wpool_apply_shm() and the
      other shared-buffer calls return WPOOL_ENOTSUP on such a pool, and
      large arguments travel through the channel (shm_threshold is
      ignored). */
  int shares_memory;
  /** Take over the handle of a shared buffer that ch's peer made for a
      result it sends (a result too large for the channel), and store in
      *h this process's handle to it, which the caller closes. value is the
      handle as the peer named it (Windows: its value in the peer
      process); a kind whose handles travel with the bytes ignores it and
      takes the next one the peer sent, which must already have arrived
      when the frame naming it is read. 0, or -1 when there is none (a
      peer that names a handle it never sent breaks the protocol). May be
      NULL (a kind that does not share memory, or an older table):
      results then always travel through the channel, bounded by the frame
      limit. Never blocks. */
  int (*take)(wpool_chan_t *ch, uint64_t value, intptr_t *h);
} wpool_chan_ops_t;

/**
 * wpool_create() with process workers reached through the channel kind
 * `kind` instead of the platform's process channel. opts->method is passed
 * to the kind (WPOOL_DEFAULT becomes the platform's default);
 * WPOOL_THREAD is WPOOL_EINVAL. Everything else, errors included, is as
 * for wpool_create(). The table must outlive the pool. Thread-safe as
 * wpool_create() is.
 */
WPOOL_EXTERN int wpool_create_with(wpool_t **pool, const wpool_options_t *opts,
                                   const wpool_chan_ops_t *kind, char **errmsg);

/**
 * The platform's process channel: a kind that starts local worker
 * processes of this program (by the method in its init() configuration)
 * and speaks to them over pipes. A transport's serving end uses it to run
 * the tasks that reach it in local processes, so that a crash stays
 * there. Never NULL. Its init() with WPOOL_SPAWN needs cfg->token to be
 * the token of the pool whose INIT the workers will receive.
 */
WPOOL_EXTERN const wpool_chan_ops_t *wpool_process_channel(void);

/**
 * The table of registered functions as every process of the program must
 * have it: stores the number of functions in *count (when not NULL) and
 * returns a hash of their names. Freezes the table, as the first pool
 * does (later registrations fail with WPOOL_ESTATE). Thread-safe.
 */
WPOOL_EXTERN uint64_t wpool_registry_fingerprint(uint32_t *count);

#ifdef __cplusplus
}
#endif

#endif
