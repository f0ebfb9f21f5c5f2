/*
 * The functions the test workers run. Every one checks its argument size, so
 * that a library bug that garbles arguments fails a task instead of reading
 * past a buffer.
 */
#include "tasks.h"
#include "port.h"

#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int get_int(const void *arg, size_t len, int *x, wpool_out_t *out) {
  *x = 0;
  if (len != sizeof(int) || arg == NULL)
    return wpool_out_fail(out, 2, "expected an int argument, got %zu bytes",
                          len);
  memcpy(x, arg, sizeof *x);
  return 0;
}

int task_square(const void *arg, size_t len, wpool_out_t *out) {
  int x, rc = get_int(arg, len, &x, out);
  if (rc != 0)
    return rc;
  if (x < 0)
    return wpool_out_fail(out, 7, "bad %d", x);
  int y = (int)((unsigned)x * (unsigned)x); /* wraps, as tests expect */
  return wpool_out_set(out, &y, sizeof y);
}
WPOOL_REGISTER(task_square)

int task_echo(const void *arg, size_t len, wpool_out_t *out) {
  return wpool_out_set(out, arg, len);
}
WPOOL_REGISTER(task_echo)

int task_mul(const void *arg, size_t len, wpool_out_t *out) {
  wt_pair_t p;
  if (len != sizeof p)
    return wpool_out_fail(out, 2, "expected a pair, got %zu bytes", len);
  memcpy(&p, arg, sizeof p);
  int y = p.a * p.b;
  return wpool_out_set(out, &y, sizeof y);
}
WPOOL_REGISTER(task_mul)

int task_fail(const void *arg, size_t len, wpool_out_t *out) {
  int c, rc = get_int(arg, len, &c, out);
  if (rc != 0)
    return rc;
  return wpool_out_fail(out, c, "bad %d", c);
}
WPOOL_REGISTER(task_fail)

int task_return(const void *arg, size_t len, wpool_out_t *out) {
  int c, rc = get_int(arg, len, &c, out);
  return rc != 0 ? rc : c;
}
WPOOL_REGISTER(task_return)

int task_bytes(const void *arg, size_t len, wpool_out_t *out) {
  int n, rc = get_int(arg, len, &n, out);
  if (rc != 0)
    return rc;
  if (n < 0)
    return wpool_out_fail(out, 7, "bad %d", n);
  unsigned char *buf = malloc(n > 0 ? (size_t)n : 1);
  if (buf == NULL)
    return wpool_out_fail(out, 3, "out of memory");
  memset(buf, n & 0xff, (size_t)n);
  rc = wpool_out_set(out, buf, (size_t)n);
  free(buf);
  return rc;
}
WPOOL_REGISTER(task_bytes)

int task_reserve(const void *arg, size_t len, wpool_out_t *out) {
  int n, rc = get_int(arg, len, &n, out);
  if (rc != 0)
    return rc;
  unsigned char *p = wpool_out_reserve(out, (size_t)n);
  if (p == NULL)
    return wpool_out_fail(out, 9, "reserve of %d bytes refused", n);
  memset(p, 0xAB, (size_t)n);
  return 0;
}
WPOOL_REGISTER(task_reserve)

static int get_gate(const void *arg, size_t len, wt_gate_arg_t *g,
                    wpool_out_t *out) {
  if (len != sizeof *g)
    return wpool_out_fail(out, 2, "expected a gate, got %zu bytes", len);
  memcpy(g, arg, sizeof *g);
  g->dir[sizeof g->dir - 1] = '\0';
  return 0;
}

int task_gate(const void *arg, size_t len, wpool_out_t *out) {
  wt_gate_arg_t g;
  int rc = get_gate(arg, len, &g, out);
  if (rc != 0)
    return rc;
  wt_gate_announce(&g);
  wt_gate_pass(&g);
  return wpool_out_set(out, &g.value, sizeof g.value);
}
WPOOL_REGISTER(task_gate)

/*
 * Per-worker state set by init_record(). Thread-local, so that thread
 * workers each have their own; a process worker is a single thread of a
 * fresh (spawn) or forked (fork) process whose copy starts at zero, because
 * the test process itself never runs the initializer on its main thread.
 */
static WT_THREAD_LOCAL int tl_init_count;
static WT_THREAD_LOCAL long tl_worker_id;
static WT_THREAD_LOCAL unsigned char tl_initargs[WT_INITARGS_MAX];
static WT_THREAD_LOCAL size_t tl_initargs_len;
static atomic_long next_worker_id;

int init_record(const void *arg, size_t len, wpool_out_t *out) {
  if (len > WT_INITARGS_MAX)
    return wpool_out_fail(out, 4, "initargs too long (%zu)", len);
  tl_init_count++;
  tl_worker_id = atomic_fetch_add(&next_worker_id, 1) + 1;
  if (len > 0)
    memcpy(tl_initargs, arg, len);
  tl_initargs_len = len;
  return 0;
}
WPOOL_REGISTER(init_record)

int init_announce(const void *arg, size_t len, wpool_out_t *out) {
  wt_gate_arg_t g;
  int rc = get_gate(arg, len, &g, out);
  if (rc == 0)
    wt_gate_announce(&g);
  return rc;
}
WPOOL_REGISTER(init_announce)

int init_refuse(const void *arg, size_t len, wpool_out_t *out) {
  (void)arg;
  (void)len;
  return wpool_out_fail(out, 5, "init refused in %ld", wt_getpid());
}
WPOOL_REGISTER(init_refuse)

int task_nap(const void *arg, size_t len, wpool_out_t *out) {
  int ms, rc = get_int(arg, len, &ms, out);
  if (rc != 0)
    return rc;
  wt_nap_ms(ms);
  return wpool_out_set(out, &ms, sizeof ms);
}
WPOOL_REGISTER(task_nap)

int task_ident(const void *arg, size_t len, wpool_out_t *out) {
  (void)arg;
  (void)len;
  wt_ident_t id;
  memset(&id, 0, sizeof id);
  id.pid = wt_getpid();
  id.worker_id = tl_worker_id;
  id.init_count = tl_init_count;
  return wpool_out_set(out, &id, sizeof id);
}
WPOOL_REGISTER(task_ident)

int task_initargs(const void *arg, size_t len, wpool_out_t *out) {
  (void)arg;
  (void)len;
  return wpool_out_set(out, tl_initargs, tl_initargs_len);
}
WPOOL_REGISTER(task_initargs)

int task_crash(const void *arg, size_t len, wpool_out_t *out) {
  int x, rc = get_int(arg, len, &x, out);
  if (rc != 0)
    return rc;
  if (x < 0)
    wt_no_core_dumps(); /* writing them would only slow the suite down */
  switch (x) {
  case WT_CRASH_SEGV: {
    volatile int *volatile p = NULL;
    *p = 1;
    raise(SIGSEGV); /* in case the store was somehow survived */
    break;
  }
  case WT_CRASH_ABORT:
    abort();
  case WT_CRASH_EXIT3:
    _Exit(3); /* C's _exit: no atexit handlers, no flushing */
  default:
    break;
  }
  int y = (int)((unsigned)x * (unsigned)x); /* wraps, as tests expect */
  return wpool_out_set(out, &y, sizeof y);
}
WPOOL_REGISTER(task_crash)

int task_print_mb(const void *arg, size_t len, wpool_out_t *out) {
  (void)arg;
  (void)len;
  char line[64];
  memset(line, '.', sizeof line - 1);
  line[sizeof line - 1] = '\n';
  for (int i = 0; i < (1 << 20) / (int)sizeof line; i++)
    fwrite(line, 1, sizeof line, stdout);
  fflush(stdout);
  int v = 42;
  return wpool_out_set(out, &v, sizeof v);
}
WPOOL_REGISTER(task_print_mb)

int task_hang_on_two(const void *arg, size_t len, wpool_out_t *out) {
  int x;
  if (len != sizeof x)
    return wpool_out_fail(out, 1, "bad argument");
  memcpy(&x, arg, sizeof x);
  while (x == 2)
    wt_pause();
  return wpool_out_set(out, &x, sizeof x);
}
WPOOL_REGISTER(task_hang_on_two)
