/*
 * Moving the component's messages: non-blocking sends that own a copy of
 * their bytes until MPI has them, and a poll for a waiting message. Every
 * call is made by one thread at a time (the pool's I/O thread on rank 0, the
 * relay loop on a serving rank), as MPI_THREAD_SERIALIZED allows.
 */
#include "wire.h"
#include "wpool.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

wpm_world_t wpm_w;

int wpm_send(wpm_outbox_t *ob, int dst, int tag, const wpm_hdr_t *h,
             const void *p1, size_t n1, const void *p2, size_t n2) {
  size_t len = n1 + n2;
  if (len > WPM_MSG_MAX)
    return WPOOL_EINVAL;
  wpm_out_t *o = malloc(sizeof *o + len);
  if (!o)
    return WPOOL_ENOMEM;
  o->hdr = *h;
  if (n1)
    memcpy(o->payload, p1, n1);
  if (n2)
    memcpy(o->payload + n1, p2, n2);
  /* The header and the payload are contiguous: one message. */
  int count = (int)(sizeof o->hdr + len);
  if (MPI_Isend(&o->hdr, count, MPI_BYTE, dst, tag, wpm_w.comm, &o->req) !=
      MPI_SUCCESS) {
    free(o);
    return WPOOL_ESYS;
  }
  o->next = ob->head;
  ob->head = o;
  ob->len++;
  return 0;
}

void wpm_outbox_progress(wpm_outbox_t *ob) {
  for (wpm_out_t **q = &ob->head; *q;) {
    int done = 0;
    if (MPI_Test(&(*q)->req, &done, MPI_STATUS_IGNORE) != MPI_SUCCESS)
      done = 1; /* a failed send will never complete: let it go */
    if (!done) {
      q = &(*q)->next;
      continue;
    }
    wpm_out_t *o = *q;
    *q = o->next;
    free(o);
    ob->len--;
  }
}

int wpm_outbox_drain(wpm_outbox_t *ob, long ms) {
  int64_t end = wpm_now_ns() + (int64_t)ms * 1000000;
  int64_t nap = 1000;
  for (;;) {
    wpm_outbox_progress(ob);
    if (!ob->head)
      return 0;
    if (wpm_now_ns() >= end)
      return -1;
    wpm_sleep_ns(nap);
    if (nap < 1000000)
      nap *= 2;
  }
}

wpm_msg_t *wpm_poll(int src, int tag) {
  int flag = 0, count = 0;
  MPI_Status st;
  if (MPI_Iprobe(src, tag, wpm_w.comm, &flag, &st) != MPI_SUCCESS || !flag)
    return NULL;
  MPI_Get_count(&st, MPI_BYTE, &count);
  if (count < (int)sizeof(wpm_hdr_t))
    count = (int)sizeof(wpm_hdr_t); /* received, then refused below */
  wpm_msg_t *m = malloc(sizeof *m + (size_t)count - sizeof m->hdr);
  if (!m)
    return NULL; /* stays queued in MPI: taken once memory is back */
  if (MPI_Recv(&m->hdr, count, MPI_BYTE, st.MPI_SOURCE, tag, wpm_w.comm, &st) !=
      MPI_SUCCESS) {
    free(m);
    return NULL;
  }
  MPI_Get_count(&st, MPI_BYTE, &count);
  m->next = NULL;
  m->src = st.MPI_SOURCE;
  m->off = 0;
  m->len = count >= (int)sizeof m->hdr ? (size_t)count - sizeof m->hdr : 0;
  if (count < (int)sizeof m->hdr)
    m->hdr.type = 0; /* not one of ours: ignored */
  return m;
}

void wpm_msg(char **errmsg, const char *fmt, ...) {
  if (!errmsg)
    return;
  va_list ap;
  va_start(ap, fmt);
  *errmsg = malloc(512);
  if (*errmsg)
    vsnprintf(*errmsg, 512, fmt, ap);
  va_end(ap);
}

wpm_msg_t *wpm_next(wpm_delay_t *d, int src, int tag) {
  if (wpm_w.delay_ns <= 0 && !d->head)
    return wpm_poll(src, tag);
  int64_t now = wpm_now_ns();
  wpm_msg_t *m;
  while ((m = wpm_poll(src, tag)) != NULL) {
    m->due = now + wpm_w.delay_ns;
    if (d->tail)
      d->tail->next = m;
    else
      d->head = m;
    d->tail = m;
  }
  m = d->head;
  if (!m || m->due > now)
    return NULL;
  d->head = m->next;
  if (!d->head)
    d->tail = NULL;
  m->next = NULL;
  return m;
}

void wpm_delay_clear(wpm_delay_t *d) {
  while (d->head) {
    wpm_msg_t *m = d->head;
    d->head = m->next;
    free(m);
  }
  d->tail = NULL;
}
