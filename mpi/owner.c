/*
 * The MPI channel kind (wpool_transport.h), rank 0's side: a channel is one
 * worker slot on a serving rank, which runs the worker as a local process
 * and relays its bytes (serve.c).
 *
 * Waiting. The pool's I/O thread must notice both MPI messages and its
 * wake-ups, and nothing blocks on both: a blocking MPI call (which Open MPI
 * implements by spinning anyway) cannot be woken by another thread under
 * MPI_THREAD_SERIALIZED. So wait() polls: it takes every waiting message,
 * and while nothing happens it spins (yielding the CPU) for SPIN_NS after
 * the last message (longer would take the CPU from local work), then sleeps on
 * a condition variable that wake() signals, for an eighth of the time it has
 * been idle, between IDLE_MIN_NS and IDLE_MAX_NS. A busy pool thus answers a
 * message within microseconds; an idle one costs about 4000 polls a second and
 * sees a message from a serving rank at most IDLE_MAX_NS late; a wake-up (a
 * submission) is never late.
 */
#include "wire.h"
#include "wpool_mpi.h"
#include "wpool_transport.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SPIN_NS 200000
#define IDLE_MIN_NS 20000
#define IDLE_MAX_NS 250000
/* A serving rank answers OPEN at once; one that does not in this time is
   lost (an MPI without fault tolerance would have ended the job). */
#define ANSWER_MS 60000

struct wpool_chan {
  wpool_xport_t *x;
  void *data;
  uint32_t slot;
  int rank;
  long pid;
  int want;
  int opened; /* 0 waiting for OPENED, 1 open, -1 refused */
  int open_code;
  char *open_msg;
  int gone;      /* GONE arrived: nothing more will */
  int gone_told; /* and was reported */
  char why[200];
  wpm_msg_t *inq, *inq_tail; /* DATA received, in order */
  size_t credit;             /* bytes we may still send */
  size_t consumed; /* bytes taken by recv() and not yet credited back */
};

struct wpool_xport {
  uint32_t sid; /* this pool's session */
  int tag;      /* on which the serving ranks answer it */
  wpm_outbox_t out;
  wpm_delay_t held;
  int nslots, nserv;
  wpool_chan_t **by_slot;
  int *used;  /* per rank: 1 when it is in this pool's session */
  int *acked; /* per rank: its END_ACK arrived */
  wpm_idle_t *idle;
  int64_t last_active;
  int scan;   /* where collect() starts: no slot is always last */
  int broken; /* a rank stopped answering: do not wait for it again */
  int has_sid;
};

/* Session numbers in use (rank 0). */
static _Atomic unsigned char sid_used[WPM_SESSIONS];

static int take_sid(uint32_t *sid) {
  for (int tries = 0; tries < WPM_SESSIONS; tries++) {
    uint32_t k = atomic_fetch_add(&wpm_w.next_sid, 1) % WPM_SESSIONS;
    unsigned char free_ = 0;
    if (atomic_compare_exchange_strong(&sid_used[k], &free_, 1)) {
      *sid = k;
      return 0;
    }
  }
  return -1;
}

static int to(wpool_xport_t *x, int rank, uint32_t type, uint32_t slot,
              uint64_t arg, const void *p1, size_t n1, const void *p2,
              size_t n2) {
  wpm_hdr_t h = {type, slot, x->sid, 0, arg};
  return wpm_send(&x->out, rank, WPM_TAG, &h, p1, n1, p2, n2);
}

static int slot_rank(const wpool_xport_t *x, uint32_t g) {
  return 1 + (int)(g % (uint32_t)x->nserv);
}

static void free_msgs(wpm_msg_t *m) {
  while (m) {
    wpm_msg_t *n = m->next;
    free(m);
    m = n;
  }
}

/* One message from a serving rank: to its channel, or dropped when its
   channel is closed already; session replies go to *other. */
static void dispatch(wpool_xport_t *x, wpm_msg_t *m, wpm_msg_t **other) {
  uint32_t t = m->hdr.type;
  if (t == M_END_ACK) {
    if (m->src > 0 && m->src < wpm_w.size)
      x->acked[m->src] = 1;
    free(m);
    return;
  }
  if (t == M_SESSION_OK || t == M_SESSION_FAIL) {
    m->next = *other;
    *other = m;
    return;
  }
  wpool_chan_t *ch =
      m->hdr.slot < (uint32_t)x->nslots ? x->by_slot[m->hdr.slot] : NULL;
  if (!ch || ch->rank != m->src) {
    free(m);
    return;
  }
  switch (t) {
  case M_OPENED:
    ch->pid = (long)m->hdr.arg;
    ch->opened = 1;
    break;
  case M_OPENFAIL:
    ch->opened = -1;
    ch->open_code = (int)(int64_t)m->hdr.arg;
    free(ch->open_msg);
    ch->open_msg = malloc(m->len + 1);
    if (ch->open_msg) {
      memcpy(ch->open_msg, m->payload, m->len);
      ch->open_msg[m->len] = '\0';
    }
    break;
  case M_DATA:
    if (m->len && !ch->gone) {
      m->next = NULL;
      if (ch->inq_tail)
        ch->inq_tail->next = m;
      else
        ch->inq = m;
      ch->inq_tail = m;
      return;
    }
    break;
  case M_CREDIT:
    ch->credit += (size_t)m->hdr.arg;
    break;
  case M_GONE: {
    size_t n = m->len < sizeof ch->why - 1 ? m->len : sizeof ch->why - 1;
    memcpy(ch->why, m->payload, n);
    ch->why[n] = '\0';
    ch->gone = 1;
    break;
  }
  default:
    break;
  }
  free(m);
}

/* Take every waiting message; how many there were. Session replies go to
 *other when it is not NULL, else are dropped. */
static int pump(wpool_xport_t *x, wpm_msg_t **other) {
  int n = 0;
  wpm_msg_t *m, *sink = NULL;
  wpm_outbox_progress(&x->out);
  while ((m = wpm_next(&x->held, MPI_ANY_SOURCE, x->tag)) != NULL) {
    dispatch(x, m, other ? other : &sink);
    n++;
  }
  free_msgs(sink);
  if (n)
    x->last_active = wpm_now_ns();
  return n;
}

/* Nothing happened: spin or sleep, as the comment at the top says. Returns
   1 when woken. */
static int idle(wpool_xport_t *x, int64_t deadline) {
  int64_t now = wpm_now_ns(), gap = now - x->last_active;
  if (gap < SPIN_NS) {
    wpm_yield();
    return wpm_idle_take(x->idle);
  }
  int64_t ns = gap / 8;
  ns = ns < IDLE_MIN_NS ? IDLE_MIN_NS : ns > IDLE_MAX_NS ? IDLE_MAX_NS : ns;
  if (deadline >= 0 && deadline - now < ns)
    ns = deadline - now > 0 ? deadline - now : 0;
  return wpm_idle_sleep(x->idle, ns);
}

static int x_init(wpool_xport_t **out, const wpool_xport_cfg_t *cfg,
                  char **errmsg) {
  *out = NULL;
  if (!wpm_w.up || wpm_w.rank != 0 || wpm_w.size < 2)
    return WPOOL_ESTATE;
  if (!cfg->token || strlen(cfg->token) >= WPM_TOKEN_MAX)
    return WPOOL_EINVAL;
  /* Without MPI_THREAD_MULTIPLE two pools' I/O threads could call MPI at
     once: then one MPI pool at a time. */
  if (atomic_fetch_add(&wpm_w.sessions, 1) > 0 && !wpm_w.multiple) {
    atomic_fetch_sub(&wpm_w.sessions, 1);
    wpm_msg(errmsg, "this MPI has no MPI_THREAD_MULTIPLE: one MPI pool at a "
                    "time");
    return WPOOL_ESTATE;
  }
  wpool_xport_t *x = calloc(1, sizeof *x);
  if (!x) {
    atomic_fetch_sub(&wpm_w.sessions, 1);
    return WPOOL_ENOMEM;
  }
  *out = x;
  if (take_sid(&x->sid)) {
    x->broken = 1;
    wpm_msg(errmsg, "too many MPI pools at once");
    return WPOOL_ESTATE;
  }
  x->has_sid = 1;
  x->tag = WPM_TAG_SESSION0 + (int)x->sid;
  x->nslots = cfg->nslots;
  x->nserv = wpm_w.size - 1;
  x->by_slot = calloc((size_t)cfg->nslots, sizeof *x->by_slot);
  x->used = calloc((size_t)wpm_w.size, sizeof *x->used);
  x->acked = calloc((size_t)wpm_w.size, sizeof *x->acked);
  if (!x->by_slot || !x->used || !x->acked || wpm_idle_new(&x->idle))
    return WPOOL_ENOMEM;
  wpm_session_t s;
  memset(&s, 0, sizeof s);
  s.method = cfg->method;
  s.nslots = cfg->nslots;
  s.nserv = x->nserv;
  s.fnhash = wpool_registry_fingerprint(&s.nfn);
  strcpy(s.token, cfg->token);
  int waiting = 0;
  for (int g = 0; g < cfg->nslots && g < x->nserv; g++) {
    int r = slot_rank(x, (uint32_t)g);
    if (to(x, r, M_SESSION, 0, 0, &s, sizeof s, NULL, 0))
      return WPOOL_ENOMEM;
    x->used[r] = 1;
    waiting++;
  }
  /* Every serving rank compares its registered functions with ours and
     starts its local transport; the first refusal is the error. */
  int rc = 0;
  int64_t end = wpm_now_ns() + (int64_t)ANSWER_MS * 1000000;
  x->last_active = wpm_now_ns();
  while (waiting > 0) {
    wpm_msg_t *replies = NULL;
    pump(x, &replies);
    for (wpm_msg_t *m = replies; m; m = m->next) {
      waiting--;
      if (m->hdr.type == M_SESSION_FAIL && !rc) {
        rc = (int)(int64_t)m->hdr.arg;
        if (errmsg) {
          *errmsg = malloc(m->len + 1);
          if (*errmsg) {
            memcpy(*errmsg, m->payload, m->len);
            (*errmsg)[m->len] = '\0';
          }
        }
      }
    }
    free_msgs(replies);
    if (waiting > 0 && wpm_now_ns() > end) {
      x->broken = 1;
      wpm_msg(errmsg, "a serving rank did not answer within %d ms", ANSWER_MS);
      return WPOOL_ESPAWN;
    }
    if (waiting > 0)
      idle(x, end);
  }
  return rc;
}

static void x_fini(wpool_xport_t *x) {
  if (!x)
    return;
  /* Every serving rank closes what is left of this pool and says so; what
     it sent before comes first and is dropped here. */
  int waiting = 0;
  for (int r = 1; r < wpm_w.size && x->used; r++)
    if (x->used[r] && !x->broken && !to(x, r, M_END, 0, 0, 0, 0, 0, 0))
      waiting++;
  int64_t end = wpm_now_ns() + (int64_t)ANSWER_MS * 1000000;
  while (waiting > 0 && wpm_now_ns() < end) {
    pump(x, NULL);
    waiting = 0;
    for (int r = 1; r < wpm_w.size; r++)
      waiting += x->used[r] && !x->acked[r];
    if (waiting)
      idle(x, end);
  }
  wpm_outbox_drain(&x->out, ANSWER_MS);
  for (int g = 0; x->by_slot && g < x->nslots; g++) {
    wpool_chan_t *ch = x->by_slot[g];
    if (ch) {
      free_msgs(ch->inq);
      free(ch->open_msg);
      free(ch);
    }
  }
  wpm_delay_clear(&x->held);
  free(x->by_slot);
  free(x->used);
  free(x->acked);
  wpm_idle_free(x->idle);
  /* A session whose ranks did not all answer keeps its number: a late
     answer must find no one. */
  if (x->has_sid && waiting == 0)
    atomic_store(&sid_used[x->sid], 0);
  free(x);
  atomic_fetch_sub(&wpm_w.sessions, 1);
}

static void x_wake(wpool_xport_t *x) {
  if (x)
    wpm_idle_kick(x->idle);
}

static int x_open(wpool_xport_t *x, void *data, wpool_chan_t **out, long *peer,
                  char **errmsg) {
  uint32_t g = 0;
  while (g < (uint32_t)x->nslots && x->by_slot[g])
    g++;
  if (g == (uint32_t)x->nslots)
    return WPOOL_ESTATE;
  wpool_chan_t *ch = calloc(1, sizeof *ch);
  if (!ch)
    return WPOOL_ENOMEM;
  ch->x = x;
  ch->data = data;
  ch->slot = g;
  ch->rank = slot_rank(x, g);
  ch->credit = WPM_WINDOW;
  int rc = to(x, ch->rank, M_OPEN, g, 0, NULL, 0, NULL, 0);
  if (rc) {
    free(ch);
    return rc;
  }
  x->by_slot[g] = ch;
  int64_t end = wpm_now_ns() + (int64_t)ANSWER_MS * 1000000;
  x->last_active = wpm_now_ns();
  while (!ch->opened) {
    pump(x, NULL);
    if (ch->opened)
      break;
    if (wpm_now_ns() > end) {
      /* The slot stays taken: a late answer must find no one. */
      wpm_msg(errmsg,
              "rank %d (host %s) did not answer a request to start "
              "a worker",
              ch->rank, wpm_w.hosts[ch->rank]);
      return WPOOL_ESPAWN;
    }
    idle(x, end);
  }
  if (ch->opened < 0) {
    rc = ch->open_code < 0 ? ch->open_code : WPOOL_ESPAWN;
    if (errmsg) {
      *errmsg = ch->open_msg;
      ch->open_msg = NULL;
    }
    x->by_slot[g] = NULL;
    free(ch->open_msg);
    free(ch);
    return rc;
  }
  *out = ch;
  *peer = ch->pid;
  return 0;
}

static long c_send(wpool_chan_t *ch, const wpool_seg_t *seg, size_t n,
                   const intptr_t *handles, size_t nh) {
  (void)handles;
  if (nh) /* ranks share no memory (shares_memory is 0) */
    return -1;
  if (ch->gone)
    return -1;
  size_t taken = 0, k = 0, off = 0;
  while (ch->credit > 0 && k < n) {
    /* Up to one message's worth, gathered from the pieces (at most two
       pieces per message: a header and the data behind it, typically). */
    size_t room = ch->credit < WPM_MSG_MAX ? ch->credit : WPM_MSG_MAX;
    const void *p[2] = {NULL, NULL};
    size_t len[2] = {0, 0};
    int np = 0;
    while (np < 2 && room > 0 && k < n) {
      size_t left = seg[k].len - off;
      size_t take = left < room ? left : room;
      p[np] = (const uint8_t *)seg[k].base + off;
      len[np++] = take;
      room -= take;
      off += take;
      if (off == seg[k].len) {
        k++;
        off = 0;
      }
    }
    if (len[0] + len[1] == 0)
      continue;
    if (to(ch->x, ch->rank, M_DATA, ch->slot, 0, p[0], len[0], p[1], len[1]))
      return taken ? (long)taken : 0;
    taken += len[0] + len[1];
    ch->credit -= len[0] + len[1];
  }
  return (long)taken;
}

static long c_recv(wpool_chan_t *ch, void *dst, size_t room) {
  size_t got = 0;
  while (ch->inq && got < room) {
    wpm_msg_t *m = ch->inq;
    size_t n = m->len - m->off;
    if (n > room - got)
      n = room - got;
    memcpy((uint8_t *)dst + got, m->payload + m->off, n);
    m->off += n;
    got += n;
    if (m->off == m->len) {
      ch->inq = m->next;
      if (!ch->inq)
        ch->inq_tail = NULL;
      free(m);
    }
  }
  ch->consumed += got;
  if (ch->consumed >= WPM_CREDIT_BATCH && !ch->gone &&
      !to(ch->x, ch->rank, M_CREDIT, ch->slot, ch->consumed, 0, 0, 0, 0))
    ch->consumed = 0;
  if (got)
    return (long)got;
  return ch->gone ? -1 : 0;
}

static void c_want(wpool_chan_t *ch, int what) { ch->want = what; }

static void c_stop(wpool_chan_t *ch) {
  if (!ch->gone)
    to(ch->x, ch->rank, M_STOP, ch->slot, 0, 0, 0, 0, 0);
}

static void c_close(wpool_chan_t *ch, char *why, size_t cap) {
  snprintf(why, cap, "%s", ch->why[0] ? ch->why : "ended");
  ch->x->by_slot[ch->slot] = NULL;
  free_msgs(ch->inq);
  free(ch->open_msg);
  free(ch);
}

static int collect(wpool_xport_t *x, wpool_chan_ev_t *ev, int max) {
  int m = 0;
  /* Events are level-triggered: starting where the last round stopped
     keeps slots past the first max from waiting for ever. */
  for (int k = 0; k < x->nslots && m < max; k++) {
    int g = (x->scan + k) % x->nslots;
    wpool_chan_t *ch = x->by_slot[g];
    if (!ch || ch->opened != 1)
      continue;
    int what = 0;
    if ((ch->want & WPOOL_CH_READ) && (ch->inq || ch->gone))
      what |= WPOOL_CH_READ;
    if ((ch->want & WPOOL_CH_WRITE) && (ch->credit > 0 || ch->gone))
      what |= WPOOL_CH_WRITE;
    if (ch->gone && !ch->gone_told) {
      ch->gone_told = 1;
      what |= WPOOL_CH_GONE;
    }
    if (what) {
      ev[m].data = ch->data;
      ev[m++].what = what;
      if (m == max)
        x->scan = (g + 1) % x->nslots;
    }
  }
  return m;
}

static int x_wait(wpool_xport_t *x, int timeout_ms, wpool_chan_ev_t *ev,
                  int max) {
  int64_t deadline =
      timeout_ms < 0 ? -1 : wpm_now_ns() + (int64_t)timeout_ms * 1000000;
  for (;;) {
    pump(x, NULL);
    int m = collect(x, ev, max);
    if (m)
      return m;
    if (wpm_idle_take(x->idle))
      return 0;
    if (deadline >= 0 && wpm_now_ns() >= deadline)
      return 0;
    if (idle(x, deadline))
      return 0;
  }
}

/* 50 ms of work ahead per worker: a round trip here crosses MPI twice and
   may wait for a serving rank's poll (up to 1 ms) besides the link, which
   may be slow; a worker is then sent tasks up to 50 ms ahead (at most 256),
   which a skewed workload pays for in balance at its end. */
#define AHEAD_US 50000

const wpool_chan_ops_t wpm_chan = {"mpi",  x_init,  x_fini, x_wake,   x_open,
                                   c_send, NULL,    c_recv, c_want,   c_stop,
                                   c_close, x_wait, AHEAD_US, 0, 0,
                                   NULL};
