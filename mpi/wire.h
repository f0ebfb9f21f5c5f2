/*
 * What the MPI component's ranks say to each other, and the state every
 * file of the component shares.
 *
 * Rank 0 owns the pool; every other rank serves. One worker slot of the pool
 * is one channel (wpool_transport.h) to a serving rank, which relays its
 * bytes to and from a local worker process. Slot g lives on rank
 * 1 + g % nserv, at index g / nserv there: both ends compute it, so a
 * message names the slot by g alone.
 *
 * Every message is one MPI message of MPI_BYTEs on the component's own
 * communicator: a 24-byte header and a payload of at most MSG_MAX
 * bytes, so no count comes near INT_MAX whatever the frames carry (a frame
 * is a byte stream: a payload of any size crosses as many messages). MPI
 * keeps messages between two ranks in order, which the protocol relies on:
 * a slot's data always arrives before its GONE, and nothing of a slot's
 * old worker arrives after an OPEN for its next one.
 *
 * Flow control: each direction of a slot may have at most WINDOW bytes
 * sent and not yet consumed (written to the local worker, or taken by the
 * pool); the consumer returns credit in CREDIT messages, so neither end
 * buffers without bound.
 */
#ifndef WPOOL_MPI_WIRE_H
#define WPOOL_MPI_WIRE_H

#include <mpi.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

/* Rank 0 -> serving ranks: one tag for every pool (the header names the
   pool's session). Serving ranks -> rank 0: a tag per session, so that each
   pool's I/O thread takes its own messages only (MPI_THREAD_MULTIPLE). */
#define WPM_TAG 7301
#define WPM_TAG_SESSION0 7400
#define WPM_SESSIONS 16384 /* tags up to 7400 + 16383, under MPI's 32767 */
#define WPM_MSG_MAX ((size_t)256 << 10)
#define WPM_WINDOW ((size_t)4 << 20)
/* Credit goes back once this much was consumed: fewer messages, and the
   sender still has 3/4 of its window while it travels. */
#define WPM_CREDIT_BATCH (WPM_WINDOW / 4)
#define WPM_HOST_MAX 64
#define WPM_TOKEN_MAX 72

enum {
  M_SESSION = 1,  /* 0 -> r: a pool starts (wpm_session_t) */
  M_SESSION_OK,   /* r -> 0 */
  M_SESSION_FAIL, /* r -> 0: arg = code, payload = message */
  M_OPEN,         /* 0 -> r: start a worker in slot */
  M_OPENED,       /* r -> 0: arg = its pid */
  M_OPENFAIL,     /* r -> 0: arg = code, payload = message */
  M_DATA,         /* both ways: bytes of the slot's stream */
  M_CREDIT,       /* both ways: arg = bytes consumed */
  M_STOP,         /* 0 -> r: kill the slot's worker */
  M_GONE,         /* r -> 0: the slot's worker ended; payload = how */
  M_END,          /* 0 -> r: the pool is gone, close every slot */
  M_END_ACK,      /* r -> 0: nothing more will come for that pool */
  M_SHUTDOWN      /* 0 -> r: finalize MPI and exit */
};

typedef struct wpm_hdr {
  uint32_t type;
  uint32_t slot;
  uint32_t sid; /* the pool's session */
  uint32_t pad;
  uint64_t arg;
} wpm_hdr_t;

typedef struct wpm_session {
  int32_t method, nslots, nserv, pad;
  uint64_t fnhash;
  uint32_t nfn, pad2;
  char token[WPM_TOKEN_MAX];
} wpm_session_t;

/* A received message: header and payload as they arrived. */
typedef struct wpm_msg {
  struct wpm_msg *next;
  int64_t due; /* when it may be acted on (the test delay, below) */
  int src;
  size_t len; /* payload bytes */
  size_t off; /* payload bytes already consumed */
  wpm_hdr_t hdr;
  uint8_t payload[];
} wpm_msg_t;

/* A message being sent: its request and its own copy of the bytes. */
typedef struct wpm_out {
  struct wpm_out *next;
  MPI_Request req;
  wpm_hdr_t hdr;
  uint8_t payload[];
} wpm_out_t;

/* What wpool_mpi_init() learnt; one per process. */
typedef struct wpm_world {
  int up;               /* wpool_mpi_init() succeeded */
  int we_init;          /* we called MPI_Init_thread (so we finalize) */
  int finished;         /* wpool_mpi_finalize() ran */
  int multiple;         /* MPI_THREAD_MULTIPLE: pools may coexist */
  int64_t delay_ns;     /* WPOOL_MPI_TEST_DELAY_US: every message is held this
                           long after it arrives (a slow link, for tests) */
  _Atomic int sessions; /* MPI pools alive (rank 0) */
  _Atomic unsigned next_sid; /* rank 0 */
  MPI_Comm comm;             /* our own duplicate of MPI_COMM_WORLD */
  int rank, size;
  long pid; /* the process that called wpool_mpi_init */
  char host[WPM_HOST_MAX];
  char (*hosts)[WPM_HOST_MAX]; /* rank 0: every rank's host */
  int *ncpu;                   /* rank 0: every rank's CPUs */
} wpm_world_t;

/* Sends not yet complete; each thread that sends has its own. */
typedef struct wpm_outbox {
  wpm_out_t *head;
  size_t len;
} wpm_outbox_t;

extern wpm_world_t wpm_w;

/* Queue a message (header and a copy of up to two pieces of payload);
   0 or a WPOOL_E* code. Never blocks. */
int wpm_send(wpm_outbox_t *ob, int dst, int tag, const wpm_hdr_t *h,
             const void *p1, size_t n1, const void *p2, size_t n2);
/* Complete what can be completed of the outbox; without blocking. */
void wpm_outbox_progress(wpm_outbox_t *ob);
/* Complete the whole outbox, for at most ms milliseconds; 0 when it is
   empty. */
int wpm_outbox_drain(wpm_outbox_t *ob, long ms);
/* A waiting message from src (MPI_ANY_SOURCE: anyone) with tag, or NULL. */
wpm_msg_t *wpm_poll(int src, int tag);

/* Messages received and held back by the test delay; one per receiver. */
typedef struct wpm_delay {
  wpm_msg_t *head, *tail;
} wpm_delay_t;
/* The next message to act on from src with tag, or NULL: wpm_poll(), or,
   with a test delay, the oldest message received at least that long ago
   (every waiting one is received first, so that MPI never holds them). */
wpm_msg_t *wpm_next(wpm_delay_t *d, int src, int tag);
/* Drop what d holds. */
void wpm_delay_clear(wpm_delay_t *d);

/* *errmsg = a malloc'ed message (when errmsg is not NULL). */
void wpm_msg(char **errmsg, const char *fmt, ...);

/* posix.c: the component's system calls. */
int64_t wpm_now_ns(void);
void wpm_sleep_ns(int64_t ns);
void wpm_yield(void);
/* Block SIGPIPE in the calling thread (a serving rank's relay loop). */
void wpm_block_sigpipe(void);
int wpm_ncpu(void);
long wpm_getpid(void);
/* Remove the launcher's variables (OMPI_*, PMIX_*, ...) from the
   environment, so that no local worker, nor anything its tasks start,
   takes itself for an MPI process of this job. */
void wpm_scrub_env(void);
/* MPI's crash handlers replaced by the defaults around fn(arg), so that
   what fn forks (a fork server) does not inherit them. */
int wpm_without_crash_handlers(int (*fn)(void *), void *arg);

/* A sleep that another thread can cut short. */
typedef struct wpm_idle wpm_idle_t;
int wpm_idle_new(wpm_idle_t **idle);
void wpm_idle_free(wpm_idle_t *idle);
/* Sleep up to ns, or until a kick; 1 when kicked since the last call. */
int wpm_idle_sleep(wpm_idle_t *idle, int64_t ns);
/* 1 (and clear it) when kicked since the last call, without sleeping. */
int wpm_idle_take(wpm_idle_t *idle);
void wpm_idle_kick(wpm_idle_t *idle);

/* serve.c: a serving rank's life; returns when rank 0 says SHUTDOWN. */
int wpm_serve(void);

#endif
