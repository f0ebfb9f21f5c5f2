/*
 * A serving rank: it runs the workers of rank 0's pool as local processes
 * (the library's process channel, wpool_process_channel()) and relays the
 * bytes of each between MPI and the worker's pipes. A task that crashes,
 * hangs or leaks kills its local worker, never this rank: the worker's end
 * goes back to rank 0 as GONE, with how it ended, this host and this rank.
 *
 * The loop polls: it takes rank 0's messages, then waits on the local
 * channels for 0 ms while MPI was busy in the last SPIN_NS (a message came
 * from rank 0, or one went to it, which rank 0 may answer at once), for
 * 1 ms after that: the local channels can wake it, MPI cannot. Spinning
 * longer would take the CPU from the workers. With no pool it sleeps
 * between polls, up to 1 ms.
 */
#include "wire.h"
#include "wpool_transport.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SPIN_NS 500000
#define EVENTS 64

typedef struct lslot {
  wpool_chan_t *ch;
  uint32_t g;                  /* the slot's number in rank 0's pool */
  int gone;                    /* the local worker has ended */
  int eof;                     /* its channel has nothing more to give */
  wpm_msg_t *outq, *outq_tail; /* rank 0's bytes, to write to the worker */
  size_t credit;               /* bytes we may still send to rank 0 */
  size_t written; /* bytes written to the worker, not yet credited */
  size_t late;    /* bytes relayed after the worker ended */
} lslot_t;

/* One pool of rank 0 (a session), as this rank serves it. */
typedef struct session {
  struct session *next;
  uint32_t sid;
  int tag; /* on which rank 0 hears this session */
  wpool_xport_t *x;
  lslot_t *slots;
  int nlocal, nserv;
  char token[WPM_TOKEN_MAX]; /* the local transport keeps a pointer to it */
} session_t;

typedef struct serve {
  const wpool_chan_ops_t *ops;
  session_t *sessions;
  wpm_outbox_t out;
  wpm_delay_t held;
  int64_t last_active;
  uint8_t buf[WPM_MSG_MAX];
} serve_t;

static void free_msgs(wpm_msg_t *m) {
  while (m) {
    wpm_msg_t *n = m->next;
    free(m);
    m = n;
  }
}

static int to0(serve_t *sv, int tag, uint32_t type, uint32_t sid, uint32_t slot,
               uint64_t arg, const void *p, size_t n) {
  wpm_hdr_t h = {type, slot, sid, 0, arg};
  return wpm_send(&sv->out, 0, tag, &h, p, n, NULL, 0);
}

static session_t *find(serve_t *sv, uint32_t sid) {
  for (session_t *ss = sv->sessions; ss; ss = ss->next)
    if (ss->sid == sid)
      return ss;
  return NULL;
}

static lslot_t *slot_of(session_t *ss, uint32_t g) {
  if (!ss || !ss->x || ss->nserv < 1)
    return NULL;
  uint32_t l = g / (uint32_t)ss->nserv;
  if (g % (uint32_t)ss->nserv != (uint32_t)(wpm_w.rank - 1) ||
      l >= (uint32_t)ss->nlocal)
    return NULL;
  return &ss->slots[l];
}

static void fail_reply(serve_t *sv, int tag, uint32_t type, uint32_t sid,
                       uint32_t g, int code, const char *what,
                       const char *detail) {
  char msg[600];
  snprintf(msg, sizeof msg, "%s on host %s (rank %d)%s%s", what, wpm_w.host,
           wpm_w.rank, detail ? ": " : "", detail ? detail : "");
  to0(sv, tag, type, sid, g, (uint64_t)(int64_t)code, msg, strlen(msg));
}

typedef struct init_args {
  serve_t *sv;
  session_t *ss;
  wpool_xport_cfg_t cfg;
  char *err;
} init_args_t;

static int init_local(void *a) {
  init_args_t *ia = a;
  return ia->sv->ops->init(&ia->ss->x, &ia->cfg, &ia->err);
}

static void end_session(serve_t *sv, session_t *ss) {
  for (session_t **q = &sv->sessions; *q; q = &(*q)->next)
    if (*q == ss) {
      *q = ss->next;
      break;
    }
  if (ss->x)
    sv->ops->fini(ss->x); /* kills and reaps every worker still there */
  for (int i = 0; ss->slots && i < ss->nlocal; i++)
    free_msgs(ss->slots[i].outq);
  free(ss->slots);
  free(ss);
}

static void on_session(serve_t *sv, const wpm_msg_t *m) {
  uint32_t sid = m->hdr.sid;
  int tag = WPM_TAG_SESSION0 + (int)(sid % WPM_SESSIONS);
  wpm_session_t s;
  if (m->len != sizeof s || find(sv, sid)) {
    fail_reply(sv, tag, M_SESSION_FAIL, sid, 0, WPOOL_EPROTO,
               "a malformed session", NULL);
    return;
  }
  memcpy(&s, m->payload, sizeof s);
  s.token[WPM_TOKEN_MAX - 1] = '\0';
  uint32_t nfn;
  uint64_t hash = wpool_registry_fingerprint(&nfn);
  if (hash != s.fnhash || nfn != s.nfn) {
    char d[300];
    snprintf(d, sizeof d,
             "its table of registered functions differs from rank 0's "
             "(%u functions here, %u there): every rank must run the same "
             "program, built the same way",
             nfn, s.nfn);
    fail_reply(sv, tag, M_SESSION_FAIL, sid, 0, WPOOL_ESPAWN,
               "a different program", d);
    return;
  }
  int r = wpm_w.rank - 1;
  session_t *ss = calloc(1, sizeof *ss);
  int nlocal =
      s.nserv > 0 && s.nslots > r ? (s.nslots - r + s.nserv - 1) / s.nserv : 0;
  if (ss)
    ss->slots = calloc((size_t)(nlocal ? nlocal : 1), sizeof *ss->slots);
  if (!ss || !ss->slots) {
    free(ss);
    fail_reply(sv, tag, M_SESSION_FAIL, sid, 0, WPOOL_ENOMEM, "out of memory",
               NULL);
    return;
  }
  ss->sid = sid;
  ss->tag = tag;
  ss->nserv = s.nserv;
  ss->nlocal = nlocal;
  memcpy(ss->token, s.token, sizeof ss->token);
  ss->next = sv->sessions;
  sv->sessions = ss;
  init_args_t ia = {sv, ss, {s.method, nlocal, ss->token}, NULL};
  int rc = wpm_without_crash_handlers(init_local, &ia);
  if (rc) {
    fail_reply(sv, tag, M_SESSION_FAIL, sid, 0, rc,
               "cannot start local workers", ia.err);
    wpool_free(ia.err);
    /* The local transport cleans up after a failed init on its own
       fini(), which end_session() calls. */
    end_session(sv, ss);
    return;
  }
  to0(sv, tag, M_SESSION_OK, sid, 0, 0, NULL, 0);
}

static void on_open(serve_t *sv, session_t *ss, uint32_t g) {
  lslot_t *s = slot_of(ss, g);
  if (!s || s->ch) {
    fail_reply(sv, ss->tag, M_OPENFAIL, ss->sid, g, WPOOL_EPROTO,
               "no such free slot", NULL);
    return;
  }
  memset(s, 0, sizeof *s);
  s->g = g;
  s->credit = WPM_WINDOW;
  char *err = NULL;
  long pid = 0;
  int rc = sv->ops->open(ss->x, s, &s->ch, &pid, &err);
  if (rc) {
    s->ch = NULL;
    fail_reply(sv, ss->tag, M_OPENFAIL, ss->sid, g, rc,
               "could not start a worker", err);
    wpool_free(err);
    return;
  }
  to0(sv, ss->tag, M_OPENED, ss->sid, g, (uint64_t)pid, NULL, 0);
}

/* A message from rank 0; 1 when it says SHUTDOWN. */
static int on_message(serve_t *sv, wpm_msg_t *m) {
  session_t *ss = find(sv, m->hdr.sid);
  lslot_t *s = slot_of(ss, m->hdr.slot);
  int live = s && s->ch && !s->gone;
  switch (m->hdr.type) {
  case M_SESSION:
    on_session(sv, m);
    break;
  case M_OPEN:
    if (ss)
      on_open(sv, ss, m->hdr.slot);
    break;
  case M_DATA:
    if (live && m->len) {
      m->next = NULL;
      if (s->outq_tail)
        s->outq_tail->next = m;
      else
        s->outq = m;
      s->outq_tail = m;
      return 0;
    }
    break;
  case M_CREDIT:
    if (s && s->ch)
      s->credit += (size_t)m->hdr.arg;
    break;
  case M_STOP:
    if (live)
      sv->ops->stop(s->ch);
    break;
  case M_END: {
    /* Also for a session that failed to start here: rank 0 counts every
       rank it asked. */
    int tag = WPM_TAG_SESSION0 + (int)(m->hdr.sid % WPM_SESSIONS);
    if (ss)
      end_session(sv, ss);
    to0(sv, tag, M_END_ACK, m->hdr.sid, 0, 0, NULL, 0);
    break;
  }
  case M_SHUTDOWN:
    free(m);
    return 1;
  default:
    break;
  }
  free(m);
  return 0;
}

/* Write what rank 0 sent to the worker, as far as its pipe takes it. */
static void flush(serve_t *sv, session_t *ss, lslot_t *s) {
  while (s->outq && !s->gone) {
    wpool_seg_t seg[16];
    size_t n = 0;
    for (wpm_msg_t *m = s->outq; m && n < 16; m = m->next)
      seg[n++] = (wpool_seg_t){m->payload + m->off, m->len - m->off};
    long wr = sv->ops->send(s->ch, seg, n, NULL, 0);
    if (wr < 0) { /* the worker is going: what it was sent goes with it */
      free_msgs(s->outq);
      s->outq = s->outq_tail = NULL;
      return;
    }
    if (wr == 0)
      break;
    s->written += (size_t)wr;
    for (size_t left = (size_t)wr; left > 0;) {
      wpm_msg_t *m = s->outq;
      size_t k = m->len - m->off < left ? m->len - m->off : left;
      m->off += k;
      left -= k;
      if (m->off == m->len) {
        s->outq = m->next;
        if (!s->outq)
          s->outq_tail = NULL;
        free(m);
      }
    }
  }
  if (s->written >= WPM_CREDIT_BATCH &&
      !to0(sv, ss->tag, M_CREDIT, ss->sid, s->g, s->written, NULL, 0))
    s->written = 0;
}

/* What a worker can have left in its pipe when it ends is what a pipe
   holds: past this, the bytes come from a process its task started, which
   may write for ever (as procpool.c's DRAIN_MAX). */
#define LATE_MAX ((size_t)4 << 20)

/* Read what the worker wrote and send it on, as far as the credit goes. */
static void relay(serve_t *sv, session_t *ss, lslot_t *s) {
  while (s->credit > 0 && !s->eof) {
    if (s->gone && s->late >= LATE_MAX) {
      s->eof = 1;
      return;
    }
    size_t room = s->credit < sizeof sv->buf ? s->credit : sizeof sv->buf;
    long n = sv->ops->recv(s->ch, sv->buf, room);
    if (n < 0 || (n == 0 && s->gone)) {
      s->eof = 1; /* after its end, "nothing now" is nothing ever */
      return;
    }
    if (n == 0)
      return;
    if (to0(sv, ss->tag, M_DATA, ss->sid, s->g, 0, sv->buf, (size_t)n)) {
      /* Out of memory: those bytes are lost, and so is the stream. */
      sv->ops->stop(s->ch);
      s->eof = 1;
      return;
    }
    s->credit -= (size_t)n;
    if (s->gone)
      s->late += (size_t)n;
    sv->last_active = wpm_now_ns();
  }
}

/* The worker has ended and everything it wrote is on its way: say how it
   ended, and free the slot for rank 0's next OPEN. */
static void finish(serve_t *sv, session_t *ss, lslot_t *s) {
  char why[160], msg[300];
  sv->ops->close(s->ch, why, sizeof why);
  s->ch = NULL;
  snprintf(msg, sizeof msg, "%s on host %s (rank %d)", why, wpm_w.host,
           wpm_w.rank);
  to0(sv, ss->tag, M_GONE, ss->sid, s->g, 0, msg, strlen(msg));
  free_msgs(s->outq);
  s->outq = s->outq_tail = NULL;
}

/* One round over one session's local workers; timeout_ms for its wait. */
static void step_local(serve_t *sv, session_t *ss, int timeout_ms) {
  wpool_chan_ev_t ev[EVENTS];
  for (int i = 0; i < ss->nlocal; i++) {
    lslot_t *s = &ss->slots[i];
    if (!s->ch)
      continue;
    flush(sv, ss, s);
    sv->ops->want(s->ch, (s->credit > 0 && !s->eof ? WPOOL_CH_READ : 0) |
                             (s->outq && !s->gone ? WPOOL_CH_WRITE : 0));
  }
  int n = sv->ops->wait(ss->x, timeout_ms, ev, EVENTS);
  for (int k = 0; k < n; k++) {
    lslot_t *s = ev[k].data;
    if (ev[k].what & WPOOL_CH_GONE)
      s->gone = 1;
    if (ev[k].what & WPOOL_CH_READ)
      relay(sv, ss, s);
    if (ev[k].what & WPOOL_CH_WRITE)
      flush(sv, ss, s);
  }
  for (int i = 0; i < ss->nlocal; i++) {
    lslot_t *s = &ss->slots[i];
    if (s->ch && s->gone) {
      relay(sv, ss, s);
      if (s->eof)
        finish(sv, ss, s);
    }
  }
}

int wpm_serve(void) {
  serve_t *sv = calloc(1, sizeof *sv);
  if (!sv)
    return WPOOL_ENOMEM;
  sv->ops = wpool_process_channel();
  wpm_block_sigpipe();
  int64_t nap = 1000;
  for (;;) {
    wpm_msg_t *m;
    int shutdown = 0, got = 0;
    wpm_outbox_progress(&sv->out);
    while (!shutdown && (m = wpm_next(&sv->held, 0, WPM_TAG)) != NULL) {
      shutdown = on_message(sv, m);
      got = 1;
    }
    if (shutdown)
      break;
    int64_t now = wpm_now_ns();
    if (got)
      sv->last_active = now;
    if (sv->sessions) {
      /* Only the first session's wait may sleep (1 ms): the local channels
         can wake it, MPI cannot. */
      int busy = now - sv->last_active < SPIN_NS;
      int first = 1;
      for (session_t *ss = sv->sessions; ss; ss = ss->next) {
        step_local(sv, ss, busy || !first ? 0 : 1);
        first = 0;
      }
      if (busy)
        wpm_yield();
      nap = 1000;
    } else if (!got && !sv->held.head) {
      wpm_sleep_ns(nap);
      if (nap < 1000000)
        nap *= 2;
    } else {
      nap = 1000;
    }
  }
  while (sv->sessions)
    end_session(sv, sv->sessions);
  wpm_outbox_drain(&sv->out, 10000);
  wpm_delay_clear(&sv->held);
  free(sv);
  return 0;
}
