/*
 * The OS half of process workers on Windows (see procpool.h).
 *
 * Anonymous pipes cannot be waited on in numbers (WaitForMultipleObjects
 * stops at 64 handles) and have no non-blocking mode, so the parent's pipe
 * ends are overlapped named-pipe ends, all tied to one I/O completion port
 * per pool. The loop thread is the only thread that starts I/O or takes
 * completions: one read is always in flight per worker, into a private
 * buffer whose bytes are handed to wpool__pp_read_target() once the lock is
 * held again; writes copy wpool__pp_segments() into a private buffer first
 * (the pieces are valid only under the lock) and report them as written as
 * soon as the write starts (see start_write). The loop blocks in
 * GetQueuedCompletionStatusEx without the lock, on one handle, whatever the
 * number of workers; wpool__pos_wake() posts a packet of its own to it.
 *
 * A worker's death shows as a broken pipe. Its process handle is watched
 * too (RegisterWaitForSingleObject posts a packet when it ends), for the case
 * where another process holds a copy of the worker's pipe end and the break
 * never comes: a program that starts processes with bInheritHandles in
 * another thread may catch the ends while a worker is being started.
 *
 * Overlapped I/O writes into memory until its completion is dequeued, so a
 * reaped worker's buffers live on ("orphans") until the completions of its
 * cancelled operations have arrived.
 */
/* APR's headers first: when <windows.h> is in already, apr.h leaves out
   the winsock headers its own declarations need. */
#include "../procpool.h"

#include "../os.h"
#include "win32.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define READ_SIZE 65536u
/* Largest single write: big frames go out in several. */
#define WRITE_MAX ((size_t)1 << 20)
#define SEG_BATCH 64
#define EVENTS 64
/* A worker whose process ended but whose pipe did not break: how long its
   last bytes get to arrive before it counts as gone. Only for the case
   above; a normal death is seen by the pipe at once. */
#define EXIT_GRACE_MS 1000u
/* A worker whose pipe broke is ending on its own: how long it gets to do so
   before it is killed, so that its own exit code is the one reported. */
#define EXIT_WAIT_MS 5000u
/* How long reaping waits for a killed worker to be gone: a kill that did
   not work must not hang the pool. */
#define REAP_WAIT_MS 30000u
/* How long pos_free waits for cancelled operations to complete. */
#define DRAIN_MS 10000u

typedef struct wio {
  wpool__wproc_t w;
  OVERLAPPED rov, wov, xov; /* the read, the write, the exit packet */
  int slot;                 /* -1 once reaped */
  int inflight;             /* completions not yet dequeued */
  int reading, writing;
  int eof; /* end of input reported to procpool.c */
  HANDLE exit_wait;
  volatile LONG exit_posted; /* set by the wait callback */
  int exit_seen;             /* its packet was dequeued */
  ULONGLONG exited_at;       /* when, for a live worker (0: not yet) */
  HANDLE port;
  uint8_t *wbuf;
  size_t wcap, wlen; /* the buffer, and the bytes in flight */
  struct wio *next;  /* in the orphan list */
  uint8_t rbuf[READ_SIZE];
} wio_t;

typedef struct pos {
  HANDLE port;
  int wake_pending;
  wio_t **io; /* by slot */
  wio_t *orphans;
  OVERLAPPED_ENTRY ev[EVENTS];
} pos_t;

int wpool__pos_init(wpool_t *p, char **errmsg) {
  if (p->method == WPOOL_FORK) {
    wpool__set_msg(errmsg, "fork is not available on Windows; use "
                           "WPOOL_SPAWN or WPOOL_THREAD");
    return WPOOL_ENOTSUP;
  }
  pos_t *os = calloc(1, sizeof *os);
  if (!os)
    return WPOOL_ENOMEM;
  p->be_state = os;
  os->io = calloc((size_t)p->nworkers, sizeof *os->io);
  if (!os->io)
    return WPOOL_ENOMEM;
  os->port = CreateIoCompletionPort(INVALID_HANDLE_VALUE, NULL, 0, 1);
  if (!os->port)
    return wpool__win_fail(errmsg, WPOOL_ESYS, GetLastError(),
                           "cannot create an I/O completion port");
  return 0;
}

static void free_io(pos_t *os, wio_t *io) {
  for (wio_t **q = &os->orphans; *q; q = &(*q)->next)
    if (*q == io) {
      *q = io->next;
      break;
    }
  free(io->wbuf);
  free(io);
}

/* A completion for a reaped worker: free it after its last one. */
static void orphan_done(pos_t *os, wio_t *io) {
  if (--io->inflight == 0)
    free_io(os, io);
}

/* Runs on a thread of the system's pool when the worker's process ends. */
static VOID CALLBACK on_process_end(PVOID ctx, BOOLEAN timed_out) {
  wio_t *io = ctx;
  (void)timed_out;
  if (PostQueuedCompletionStatus(io->port, 0, (ULONG_PTR)io, &io->xov))
    InterlockedExchange(&io->exit_posted, 1);
}

/*
 * Take io out of its slot: stop the exit watch, cancel its I/O and close
 * its handles. It is freed now, or when the completions still owed arrive.
 */
static void retire(pos_t *os, wio_t *io) {
  if (io->exit_wait) {
    /* INVALID_HANDLE_VALUE: return only once a running callback is done,
       so that exit_posted is final. */
    UnregisterWaitEx(io->exit_wait, INVALID_HANDLE_VALUE);
    io->exit_wait = NULL;
  }
  if (io->exit_posted && !io->exit_seen)
    io->inflight++;
  if (io->reading)
    CancelIoEx(io->w.result_r, &io->rov);
  if (io->writing)
    CancelIoEx(io->w.task_w, &io->wov);
  CloseHandle(io->w.task_w);
  CloseHandle(io->w.result_r);
  CloseHandle(io->w.proc);
  if (io->w.job) {
    /* Nothing a task started outlives its worker. */
    TerminateJobObject(io->w.job, WPOOL__KILL_STATUS);
    CloseHandle(io->w.job);
  }
  io->slot = -1;
  if (io->inflight == 0) {
    free_io(os, io);
  } else {
    io->next = os->orphans;
    os->orphans = io;
  }
}

/* The orphans' completions: wait for them (bounded) before freeing. */
static void drain(pos_t *os) {
  ULONGLONG until = GetTickCount64() + DRAIN_MS;
  while (os->orphans) {
    ULONGLONG now = GetTickCount64();
    ULONG got = 0;
    if (now >= until ||
        !GetQueuedCompletionStatusEx(os->port, os->ev, EVENTS, &got,
                                     (DWORD)(until - now), FALSE)) {
      /* The system still owes completions: their memory must stay. */
      os->orphans = NULL;
      return;
    }
    for (ULONG k = 0; k < got; k++) {
      wio_t *io = (wio_t *)os->ev[k].lpCompletionKey;
      if (io == NULL || io->slot >= 0)
        continue;
      if (os->ev[k].lpOverlapped == &io->xov)
        io->exit_seen = 1;
      orphan_done(os, io);
    }
  }
}

void wpool__pos_free(wpool_t *p) {
  pos_t *os = p->be_state;
  if (!os)
    return;
  /* Workers are all reaped by now, unless the start-up failed half way. */
  for (int i = 0; os->io && i < p->nworkers; i++)
    if (os->io[i]) {
      wpool__win_kill(&os->io[i]->w);
      WaitForSingleObject(os->io[i]->w.proc, EXIT_WAIT_MS);
      retire(os, os->io[i]);
      os->io[i] = NULL;
    }
  if (os->port) {
    drain(os);
    CloseHandle(os->port);
  }
  free(os->io);
  free(os);
  p->be_state = NULL;
}

void wpool__pos_wake(wpool_t *p) {
  pos_t *os = p->be_state;
  if (!os || !os->port || os->wake_pending)
    return;
  os->wake_pending = PostQueuedCompletionStatus(os->port, 0, 0, NULL) != 0;
}

int wpool__pos_start(wpool_t *p, int i, long *pid, char **errmsg) {
  pos_t *os = p->be_state;
  wio_t *io = calloc(1, sizeof *io);
  if (!io)
    return WPOOL_ENOMEM;
  int rc = wpool__win_spawn(&io->w, p->token, errmsg);
  if (rc) {
    free(io);
    return rc;
  }
  io->slot = i;
  io->port = os->port;
  if (!CreateIoCompletionPort(io->w.task_w, os->port, (ULONG_PTR)io, 0) ||
      !CreateIoCompletionPort(io->w.result_r, os->port, (ULONG_PTR)io, 0)) {
    rc = wpool__win_fail(errmsg, WPOOL_ESYS, GetLastError(),
                         "cannot watch a worker's pipes");
    wpool__win_kill(&io->w);
    WaitForSingleObject(io->w.proc, EXIT_WAIT_MS);
    retire(os, io);
    return rc;
  }
  /* Only a fallback (see above): without it a death is still seen. */
  if (!RegisterWaitForSingleObject(&io->exit_wait, io->w.proc, on_process_end,
                                   io, INFINITE, WT_EXECUTEONLYONCE))
    io->exit_wait = NULL;
  /* Only the loop thread touches the slots. Its first read is started by
     wpool__pos_wait, under the lock. */
  os->io[i] = io;
  *pid = (long)io->w.pid;
  return 0;
}

void wpool__pos_reap(wpool_t *p, int i, char *why, size_t cap) {
  pos_t *os = p->be_state;
  wio_t *io = os->io[i];
  DWORD code = 0;
  if (!io) {
    snprintf(why, cap, "could not be reaped");
    return;
  }
  os->io[i] = NULL;
  /* A worker whose pipe broke is already on its way out: let it finish,
     so that its own exit code is reported, not the kill's. */
  if (!io->eof ||
      WaitForSingleObject(io->w.proc, EXIT_WAIT_MS) != WAIT_OBJECT_0)
    wpool__win_kill(&io->w);
  if (WaitForSingleObject(io->w.proc, REAP_WAIT_MS) != WAIT_OBJECT_0 ||
      !GetExitCodeProcess(io->w.proc, &code))
    snprintf(why, cap, "could not be reaped");
  else
    wpool__win_status_describe(code, why, cap);
  retire(os, io);
}

void wpool__pos_kill(wpool_t *p, int i) {
  pos_t *os = p->be_state;
  if (os->io[i])
    wpool__win_kill(&os->io[i]->w);
}

/* No more bytes from slot i: the worker is gone. */
static void end_of_input(wpool_t *p, int i, wio_t *io) {
  io->eof = 1;
  wpool__pp_read_done(p, i, 0);
}

/* Start slot i's next read; 0, or -1 when the pipe failed at once. */
static int start_read(wpool_t *p, int i, wio_t *io) {
  memset(&io->rov, 0, sizeof io->rov);
  if (ReadFile(io->w.result_r, io->rbuf, READ_SIZE, NULL, &io->rov) ||
      GetLastError() == ERROR_IO_PENDING) {
    /* Even a read that completes at once posts its completion. */
    io->reading = 1;
    io->inflight++;
    return 0;
  }
  end_of_input(p, i, io);
  return -1;
}

/* Copy what waits to be written to slot i and start writing it; 0, or -1
   when the pipe failed at once. */
static int start_write(wpool_t *p, int i, wio_t *io) {
  wpool__seg_t seg[SEG_BATCH];
  size_t n = wpool__pp_segments(p, i, seg, SEG_BATCH), len = 0;
  for (size_t k = 0; k < n && len < WRITE_MAX; k++)
    len += seg[k].len < WRITE_MAX - len ? seg[k].len : WRITE_MAX - len;
  if (len == 0)
    return 0;
  if (io->wcap < len) {
    size_t cap = len < READ_SIZE ? READ_SIZE : WRITE_MAX;
    uint8_t *b = malloc(cap);
    if (!b)
      return 0; /* tried again at the next wait */
    free(io->wbuf);
    io->wbuf = b;
    io->wcap = cap;
  }
  size_t off = 0;
  for (size_t k = 0; k < n && off < len; k++) {
    size_t c = seg[k].len < len - off ? seg[k].len : len - off;
    memcpy(io->wbuf + off, seg[k].base, c);
    off += c;
  }
  memset(&io->wov, 0, sizeof io->wov);
  if (WriteFile(io->w.task_w, io->wbuf, (DWORD)len, NULL, &io->wov) ||
      GetLastError() == ERROR_IO_PENDING) {
    io->writing = 1;
    io->wlen = len;
    io->inflight++;
    /* Written, as far as procpool.c is concerned: the bytes are ours now,
       and the worker may answer the first task in them before the write
       completes as a whole. A failure is reported when it completes. */
    wpool__pp_wrote(p, i, len);
    return 0;
  }
  wpool__pp_broken(p, i);
  return -1;
}

/* Hand n bytes read from slot i to procpool.c, piece by piece. */
static void feed(wpool_t *p, int i, const uint8_t *src, size_t n) {
  uint8_t *dst;
  size_t room;
  while (n > 0 && wpool__pp_read_target(p, i, &dst, &room) == 0) {
    size_t c = n < room ? n : room;
    memcpy(dst, src, c);
    wpool__pp_read_done(p, i, c);
    src += c;
    n -= c;
  }
}

/*
 * The process ended EXIT_GRACE_MS ago and the pipe has not broken: when no
 * read has completed and nothing is left in the pipe, every byte the worker
 * wrote has been taken, and the worker counts as gone.
 */
static int drained(wio_t *io) {
  DWORD avail = 0;
  if (io->reading && HasOverlappedIoCompleted(&io->rov))
    return 0;
  if (!PeekNamedPipe(io->w.result_r, NULL, 0, NULL, &avail, NULL))
    return 1;
  return avail == 0;
}

static void dispatch(wpool_t *p, pos_t *os, const OVERLAPPED_ENTRY *e) {
  wio_t *io = (wio_t *)e->lpCompletionKey;
  if (io == NULL) {
    os->wake_pending = 0;
    return;
  }
  if (e->lpOverlapped == &io->xov) {
    io->exit_seen = 1;
    if (io->slot < 0)
      orphan_done(os, io);
    else
      io->exited_at = GetTickCount64();
    return;
  }
  int is_read = e->lpOverlapped == &io->rov;
  if (is_read)
    io->reading = 0;
  else
    io->writing = 0;
  if (io->slot < 0) {
    orphan_done(os, io);
    return;
  }
  io->inflight--;
  DWORD n = 0;
  BOOL ok = GetOverlappedResult(is_read ? io->w.result_r : io->w.task_w,
                                e->lpOverlapped, &n, FALSE);
  if (is_read) {
    /* A pipe reports its end as ERROR_BROKEN_PIPE; a successful read of
       no bytes is only a zero-length write and is read again. */
    if (!ok)
      end_of_input(p, io->slot, io);
    else
      feed(p, io->slot, io->rbuf, n);
  } else if (!ok || n != io->wlen) {
    wpool__pp_broken(p, io->slot);
  }
}

void wpool__pos_wait(wpool_t *p, int timeout_ms) {
  pos_t *os = p->be_state;
  DWORD timeout = timeout_ms < 0 ? INFINITE : (DWORD)timeout_ms;
  ULONGLONG now = GetTickCount64();
  for (int i = 0; i < p->nworkers; i++) {
    wio_t *io = os->io[i];
    if (!io || !wpool__pp_live(p, i))
      continue;
    /* A failure here is news for the loop: it must not block. */
    if ((!io->reading && start_read(p, i, io)) ||
        (!io->writing && start_write(p, i, io))) {
      timeout = 0;
      continue;
    }
    if (io->exited_at && !io->eof) {
      ULONGLONG since = now - io->exited_at;
      if (since < EXIT_GRACE_MS) {
        DWORD left = (DWORD)(EXIT_GRACE_MS - since);
        timeout = left < timeout ? left : timeout;
      } else if (drained(io)) {
        end_of_input(p, i, io);
        timeout = 0;
      }
    }
  }
  ULONG got = 0;
  wpool__mutex_unlock(p->lock);
  BOOL ok = GetQueuedCompletionStatusEx(os->port, os->ev, EVENTS, &got, timeout,
                                        FALSE);
  wpool__mutex_lock(p->lock);
  if (!ok)
    return; /* timed out */
  for (ULONG k = 0; k < got; k++)
    dispatch(p, os, &os->ev[k]);
}
