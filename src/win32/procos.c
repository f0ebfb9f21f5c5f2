/*
 * The process channel on Windows (chan.h).
 *
 * Anonymous pipes cannot be waited on in numbers (WaitForMultipleObjects
 * stops at 64 handles) and have no non-blocking mode, so the parent's pipe
 * ends are overlapped named-pipe ends, all tied to one I/O completion port
 * per pool. Only the loop thread starts I/O or takes completions, and it
 * blocks on that one port whatever the number of workers.
 *
 * One read is always in flight per worker, into a buffer of the channel's;
 * recv() hands out what a completed read brought and starts the next. A
 * send copies its pieces into a buffer of the channel's (the caller's
 * pieces are valid only during the call) and counts them as sent when the
 * write starts, since the worker may answer the first task in them before
 * the write completes; a failure shows at the next send.
 *
 * A worker's end is learnt from its process handle (RegisterWaitForSingle
 * Object posts a packet to the port), never only from its pipe: a process
 * the task started may hold the pipe open. GONE is reported once the
 * process has ended and nothing it wrote is left: no read completion owed
 * and the pipe empty. Nothing here waits for a process: a worker whose pipe
 * broke gets EXIT_WAIT_MS to end by itself (so that its own exit code is
 * reported) before it is killed, counted by the loop's timeout.
 *
 * Overlapped I/O writes into memory until its completion is dequeued, so a
 * closed channel's buffers live on ("orphans") until the completions of its
 * cancelled operations have arrived.
 */
/* No APR here: the channel kind needs none, so the order of <windows.h>
   and apr.h does not arise. */
#include "../chan.h"
#include "win32.h"
#include "wpool.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define READ_SIZE 65536u
/* Largest single write: big frames go out in several. */
#define WRITE_MAX ((size_t)1 << 20)
#define EVENTS 64
/* A worker whose pipe broke is ending on its own: how long it gets to do so
   before it is killed, so that its own exit code is the one reported. */
#define EXIT_WAIT_MS 5000u
/* Without an exit watch (RegisterWaitForSingleObject failed), how often a
   worker's process handle is looked at. */
#define FALLBACK_MS 100u
/* How long closing the set waits for a worker still there, and for the
   cancelled operations' completions. */
#define CLOSE_WAIT_MS 5000u
#define DRAIN_MS 10000u

struct wpool_chan {
  wpool__xport_t *x;
  void *data;
  wpool__wproc_t w;
  OVERLAPPED rov, wov, xov; /* the read, the write, the exit packet */
  int open;                 /* 0 once closed: an orphan */
  int inflight;             /* completions not yet dequeued */
  int reading, writing;
  int rdone; /* rbuf[roff, rlen) came and is not taken */
  DWORD rlen, roff;
  int rerr, werr; /* the pipe failed that way: no more */
  int want, pending;
  HANDLE exit_wait;
  volatile LONG exit_posted; /* set by the wait callback */
  int exit_seen;             /* its packet was dequeued */
  int ended;                 /* the process has ended */
  int gone;                  /* GONE was reported */
  ULONGLONG kill_at;         /* stop() after a broken pipe: kill then */
  uint8_t *wbuf;
  size_t wcap;
  struct wpool_chan *next; /* in the open or the orphan list */
  uint8_t rbuf[READ_SIZE];
};

struct wpool_xport {
  HANDLE port;
  const char *token;
  volatile LONG wake_pending;
  wpool__chan_t *chans, *orphans;
  OVERLAPPED_ENTRY ev[EVENTS];
};

static void unlink_from(wpool__chan_t **list, wpool__chan_t *ch) {
  for (wpool__chan_t **q = list; *q; q = &(*q)->next)
    if (*q == ch) {
      *q = ch->next;
      return;
    }
}

static int x_init(wpool__xport_t **out, const wpool__xport_cfg_t *cfg,
                  char **errmsg) {
  if (cfg->method == WPOOL_FORK) {
    return wpool__win_fail(errmsg, WPOOL_ENOTSUP, 0,
                           "fork is not available on Windows; use "
                           "WPOOL_SPAWN or WPOOL_THREAD");
  }
  wpool__xport_t *x = calloc(1, sizeof *x);
  if (!x)
    return WPOOL_ENOMEM;
  *out = x;
  x->token = cfg->token;
  x->port = CreateIoCompletionPort(INVALID_HANDLE_VALUE, NULL, 0, 1);
  if (!x->port)
    return wpool__win_fail(errmsg, WPOOL_ESYS, GetLastError(),
                           "cannot create an I/O completion port");
  return 0;
}

static void free_chan(wpool__chan_t *ch) {
  free(ch->wbuf);
  free(ch);
}

/* A completion for a closed channel: free it after its last one. */
static void orphan_done(wpool__xport_t *x, wpool__chan_t *ch) {
  if (--ch->inflight == 0) {
    unlink_from(&x->orphans, ch);
    free_chan(ch);
  }
}

/* Runs on a thread of the system's pool when the worker's process ends. */
static VOID CALLBACK on_process_end(PVOID ctx, BOOLEAN timed_out) {
  wpool__chan_t *ch = ctx;
  (void)timed_out;
  if (PostQueuedCompletionStatus(ch->x->port, 0, (ULONG_PTR)ch, &ch->xov))
    InterlockedExchange(&ch->exit_posted, 1);
}

/*
 * Take ch out of the set: stop the exit watch, cancel its I/O and close its
 * handles. It is freed now, or when the completions still owed arrive.
 */
static void retire(wpool__xport_t *x, wpool__chan_t *ch) {
  if (ch->exit_wait) {
    /* INVALID_HANDLE_VALUE: return only once a running callback is done,
       so that exit_posted is final. */
    UnregisterWaitEx(ch->exit_wait, INVALID_HANDLE_VALUE);
    ch->exit_wait = NULL;
  }
  if (ch->exit_posted && !ch->exit_seen)
    ch->inflight++;
  if (ch->reading)
    CancelIoEx(ch->w.result_r, &ch->rov);
  if (ch->writing)
    CancelIoEx(ch->w.task_w, &ch->wov);
  CloseHandle(ch->w.task_w);
  CloseHandle(ch->w.result_r);
  CloseHandle(ch->w.proc);
  if (ch->w.job) {
    /* Nothing a task started outlives its worker. */
    TerminateJobObject(ch->w.job, WPOOL__KILL_STATUS);
    CloseHandle(ch->w.job);
  }
  unlink_from(&x->chans, ch);
  ch->open = 0;
  if (ch->inflight == 0) {
    free_chan(ch);
  } else {
    ch->next = x->orphans;
    x->orphans = ch;
  }
}

/* The orphans' completions: wait for them (bounded) before freeing. */
static void drain_orphans(wpool__xport_t *x) {
  ULONGLONG until = GetTickCount64() + DRAIN_MS;
  while (x->orphans) {
    ULONGLONG now = GetTickCount64();
    ULONG got = 0;
    if (now >= until ||
        !GetQueuedCompletionStatusEx(x->port, x->ev, EVENTS, &got,
                                     (DWORD)(until - now), FALSE)) {
      /* The system still owes completions: their memory must stay. */
      x->orphans = NULL;
      return;
    }
    for (ULONG k = 0; k < got; k++) {
      wpool__chan_t *ch = (wpool__chan_t *)x->ev[k].lpCompletionKey;
      if (ch == NULL || ch->open)
        continue;
      if (x->ev[k].lpOverlapped == &ch->xov)
        ch->exit_seen = 1;
      orphan_done(x, ch);
    }
  }
}

static void x_fini(wpool__xport_t *x) {
  if (!x)
    return;
  /* Channels are all closed by now, unless the start-up failed half way. */
  while (x->chans) {
    wpool__win_kill(&x->chans->w);
    WaitForSingleObject(x->chans->w.proc, CLOSE_WAIT_MS);
    retire(x, x->chans);
  }
  if (x->port) {
    drain_orphans(x);
    CloseHandle(x->port);
  }
  free(x);
}

static void x_wake(wpool__xport_t *x) {
  if (!x || !x->port || InterlockedExchange(&x->wake_pending, 1) != 0)
    return;
  if (!PostQueuedCompletionStatus(x->port, 0, 0, NULL))
    InterlockedExchange(&x->wake_pending, 0);
}

static int x_open(wpool__xport_t *x, void *data, wpool__chan_t **out,
                  long *peer, char **errmsg) {
  wpool__chan_t *ch = calloc(1, sizeof *ch);
  if (!ch)
    return WPOOL_ENOMEM;
  int rc = wpool__win_spawn(&ch->w, x->token, errmsg);
  if (rc) {
    free(ch);
    return rc;
  }
  ch->x = x;
  ch->data = data;
  ch->open = 1;
  ch->next = x->chans;
  x->chans = ch;
  if (!CreateIoCompletionPort(ch->w.task_w, x->port, (ULONG_PTR)ch, 0) ||
      !CreateIoCompletionPort(ch->w.result_r, x->port, (ULONG_PTR)ch, 0)) {
    rc = wpool__win_fail(errmsg, WPOOL_ESYS, GetLastError(),
                         "cannot watch a worker's pipes");
    wpool__win_kill(&ch->w);
    WaitForSingleObject(ch->w.proc, CLOSE_WAIT_MS);
    retire(x, ch);
    return rc;
  }
  /* Without the watch, wait() looks at the process handle now and then. */
  if (!RegisterWaitForSingleObject(&ch->exit_wait, ch->w.proc, on_process_end,
                                   ch, INFINITE, WT_EXECUTEONLYONCE))
    ch->exit_wait = NULL;
  *out = ch;
  *peer = (long)ch->w.pid;
  return 0;
}

/* Start ch's next read; a failure is the end of its input. */
static void start_read(wpool__chan_t *ch) {
  memset(&ch->rov, 0, sizeof ch->rov);
  if (ReadFile(ch->w.result_r, ch->rbuf, READ_SIZE, NULL, &ch->rov) ||
      GetLastError() == ERROR_IO_PENDING) {
    /* Even a read that completes at once posts its completion. */
    ch->reading = 1;
    ch->inflight++;
  } else {
    ch->rerr = 1;
  }
}

/* A shared buffer's handle is duplicated straight into the worker, with
   no more access than it needs: an input cannot even be mapped writable
   there. It lives in the worker until the worker closes it after the task,
   or ends. */
static int c_lend(wpool__chan_t *ch, intptr_t h, int writable,
                  uint64_t *peer_h) {
  HANDLE mine;
  memcpy(&mine, &h, sizeof mine);
  HANDLE theirs = NULL;
  DWORD access = writable ? FILE_MAP_READ | FILE_MAP_WRITE : FILE_MAP_READ;
  if (!DuplicateHandle(GetCurrentProcess(), mine, ch->w.proc, &theirs, access,
                       FALSE, 0))
    return -1;
  *peer_h = (uint64_t)(uintptr_t)theirs;
  return 0;
}

/* A large result's mapping, made by the worker: taken out of it, and
   closed there at once, so that the worker never has to know when. A value
   that names nothing (or a worker already gone) fails here; one that names
   an object that is not a mapping fails the view (os.h). */
static int c_take(wpool__chan_t *ch, uint64_t value, intptr_t *h) {
  HANDLE theirs = (HANDLE)(uintptr_t)value, mine = NULL;
  if (value == 0 ||
      !DuplicateHandle(ch->w.proc, theirs, GetCurrentProcess(), &mine, 0,
                       FALSE, DUPLICATE_SAME_ACCESS | DUPLICATE_CLOSE_SOURCE))
    return -1;
  memcpy(h, &mine, sizeof mine);
  return 0;
}

static long c_send(wpool__chan_t *ch, const wpool__seg_t *seg, size_t n,
                   const intptr_t *handles, size_t nh) {
  /* Handles are lent (c_lend), never sent. */
  (void)handles;
  if (ch->werr || nh)
    return -1;
  if (ch->writing)
    return 0;
  size_t len = 0;
  for (size_t k = 0; k < n && len < WRITE_MAX; k++)
    len += seg[k].len < WRITE_MAX - len ? seg[k].len : WRITE_MAX - len;
  if (len == 0)
    return 0;
  if (ch->wcap < len) {
    size_t cap = len < READ_SIZE ? READ_SIZE : WRITE_MAX;
    uint8_t *b = malloc(cap);
    if (!b)
      return 0; /* tried again at the next round */
    free(ch->wbuf);
    ch->wbuf = b;
    ch->wcap = cap;
  }
  size_t off = 0;
  for (size_t k = 0; k < n && off < len; k++) {
    size_t c = seg[k].len < len - off ? seg[k].len : len - off;
    memcpy(ch->wbuf + off, seg[k].base, c);
    off += c;
  }
  memset(&ch->wov, 0, sizeof ch->wov);
  if (WriteFile(ch->w.task_w, ch->wbuf, (DWORD)len, NULL, &ch->wov) ||
      GetLastError() == ERROR_IO_PENDING) {
    ch->writing = 1;
    ch->inflight++;
    return (long)len;
  }
  ch->werr = 1;
  return -1;
}

static long c_recv(wpool__chan_t *ch, void *dst, size_t room) {
  if (ch->rdone) {
    DWORD left = ch->rlen - ch->roff;
    size_t c = left < room ? left : room;
    memcpy(dst, ch->rbuf + ch->roff, c);
    ch->roff += (DWORD)c;
    if (ch->roff == ch->rlen) {
      ch->rdone = 0;
      start_read(ch);
    }
    return (long)c;
  }
  if (ch->rerr)
    return -1;
  if (!ch->reading)
    start_read(ch);
  return ch->rerr ? -1 : 0;
}

static void c_want(wpool__chan_t *ch, int what) { ch->want = what; }

static void c_stop(wpool__chan_t *ch) {
  if (ch->ended)
    return;
  /* A broken pipe: the worker is probably ending by itself; let it, so
     that its own exit code is reported, but not for ever. */
  if (ch->rerr && !ch->kill_at)
    ch->kill_at = GetTickCount64() + EXIT_WAIT_MS;
  else
    wpool__win_kill(&ch->w);
}

static void c_close(wpool__chan_t *ch, char *why, size_t cap) {
  DWORD code = 0;
  if (!ch->ended) {
    /* Only when GONE never came (a failed start-up): bounded. */
    wpool__win_kill(&ch->w);
    WaitForSingleObject(ch->w.proc, CLOSE_WAIT_MS);
  }
  if (!GetExitCodeProcess(ch->w.proc, &code) || code == STILL_ACTIVE)
    snprintf(why, cap, "could not be reaped");
  else
    wpool__win_status_describe(code, why, cap);
  retire(ch->x, ch);
}

/* The process ended: is everything it wrote taken? */
static int drained(wpool__chan_t *ch) {
  DWORD avail = 0;
  if (!(ch->want & WPOOL__CH_READ))
    return 1; /* the owner reads no more */
  if (ch->rdone || (ch->reading && HasOverlappedIoCompleted(&ch->rov)))
    return 0;
  if (!PeekNamedPipe(ch->w.result_r, NULL, 0, NULL, &avail, NULL))
    return 1;
  return avail == 0;
}

static void dispatch(wpool__xport_t *x, const OVERLAPPED_ENTRY *e) {
  wpool__chan_t *ch = (wpool__chan_t *)e->lpCompletionKey;
  if (ch == NULL) {
    InterlockedExchange(&x->wake_pending, 0);
    return;
  }
  if (e->lpOverlapped == &ch->xov) {
    ch->exit_seen = 1;
    if (!ch->open)
      orphan_done(x, ch);
    else
      ch->ended = 1;
    return;
  }
  int is_read = e->lpOverlapped == &ch->rov;
  if (is_read)
    ch->reading = 0;
  else
    ch->writing = 0;
  if (!ch->open) {
    orphan_done(x, ch);
    return;
  }
  ch->inflight--;
  DWORD n = 0;
  BOOL ok = GetOverlappedResult(is_read ? ch->w.result_r : ch->w.task_w,
                                e->lpOverlapped, &n, FALSE);
  if (is_read) {
    /* A pipe reports its end as ERROR_BROKEN_PIPE; a successful read of
       no bytes is only a zero-length write and is read again. */
    if (!ok) {
      ch->rerr = 1;
    } else if (n) {
      ch->rdone = 1;
      ch->rlen = n;
      ch->roff = 0;
    }
    ch->pending |= WPOOL__CH_READ;
  } else {
    if (!ok)
      ch->werr = 1;
    ch->pending |= WPOOL__CH_WRITE;
  }
}

/* Before blocking: start reads, note what is ready already, and shorten
   the wait to the nearest thing to look at. */
static DWORD prepare(wpool__xport_t *x, DWORD timeout) {
  ULONGLONG now = GetTickCount64();
  for (wpool__chan_t *ch = x->chans; ch; ch = ch->next) {
    if ((ch->want & WPOOL__CH_READ) && !ch->reading && !ch->rdone && !ch->rerr)
      start_read(ch);
    if ((ch->want & WPOOL__CH_READ) && (ch->rdone || ch->rerr))
      ch->pending |= WPOOL__CH_READ;
    if ((ch->want & WPOOL__CH_WRITE) && !ch->writing)
      ch->pending |= WPOOL__CH_WRITE;
    if (ch->kill_at && !ch->ended) {
      if (now >= ch->kill_at) {
        ch->kill_at = 0;
        wpool__win_kill(&ch->w);
      } else if (ch->kill_at - now < timeout) {
        timeout = (DWORD)(ch->kill_at - now);
      }
    }
    if (!ch->exit_wait && !ch->ended) {
      if (WaitForSingleObject(ch->w.proc, 0) == WAIT_OBJECT_0)
        ch->ended = 1;
      else if (timeout > FALLBACK_MS)
        timeout = FALLBACK_MS;
    }
    if (ch->ended && !ch->gone && drained(ch)) {
      ch->gone = 1;
      ch->pending |= WPOOL__CH_GONE;
    }
    if (ch->pending)
      timeout = 0;
  }
  return timeout;
}

static int x_wait(wpool__xport_t *x, int timeout_ms, wpool__chan_ev_t *ev,
                  int max) {
  DWORD timeout = prepare(x, timeout_ms < 0 ? INFINITE : (DWORD)timeout_ms);
  ULONG got = 0;
  if (GetQueuedCompletionStatusEx(x->port, x->ev, EVENTS, &got, timeout, FALSE))
    for (ULONG k = 0; k < got; k++)
      dispatch(x, &x->ev[k]);
  int m = 0;
  for (wpool__chan_t *ch = x->chans; ch && m < max; ch = ch->next) {
    int what = ch->pending & (ch->want | WPOOL__CH_GONE);
    if (!what)
      continue;
    ev[m].data = ch->data;
    ev[m++].what = what;
    ch->pending = 0;
  }
  return m;
}

/* send() copies into the worker's buffer and starts an overlapped write
   whose completion the loop's port reports: only the loop sends. */
const int wpool__proc_chan_any_thread = 0;

const wpool__chan_ops_t wpool__proc_chan = {
    "win32-process", x_init, x_fini, x_wake,  x_open, c_send, c_lend,
    c_recv,          c_want, c_stop, c_close, x_wait, 0,      1, 1,
    c_take};
