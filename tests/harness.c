#include "harness.h"

#include <stdio.h>
#include <string.h>

wpool_method_t wt_method = WPOOL_THREAD;
const char *wt_transport;
int (*wt_create_fn)(wpool_t **pool, const wpool_options_t *opts,
                    char **errmsg) = wpool_create;

/* Tests run one at a time, on the main thread: no lock needed. */
static const char *skip_reason;

void wt_skip(const char *why) { skip_reason = why ? why : "(no reason)"; }
const char *wt_skip_reason(void) { return skip_reason; }
void wt_skip_reset(void) { skip_reason = NULL; }

int wt_parse_method(const char *s, wpool_method_t *m) {
  if (strcmp(s, "fork") == 0)
    *m = WPOOL_FORK;
  else if (strcmp(s, "spawn") == 0)
    *m = WPOOL_SPAWN;
  else if (strcmp(s, "thread") == 0)
    *m = WPOOL_THREAD;
  else
    return -1;
  return 0;
}

const char *wt_method_name(wpool_method_t m) {
  switch (m) {
  case WPOOL_FORK:
    return "fork";
  case WPOOL_SPAWN:
    return "spawn";
  case WPOOL_THREAD:
    return "thread";
  default:
    return "default";
  }
}

int wt_is_process(void) { return wt_method != WPOOL_THREAD; }

void wt_options(wpool_options_t *o, int processes) {
  wpool_options_init(o);
  o->processes = processes;
  o->method = wt_method;
}

int wt_create(wpool_t **pool, const wpool_options_t *o) {
  char *msg = NULL;
  int rc = wt_create_fn(pool, o, &msg);
  if (rc != 0)
    fprintf(stderr, "\n  wpool_create(%s): %s: %s\n",
            wt_method_name(o ? o->method : WPOOL_DEFAULT), wpool_err_name(rc),
            msg ? msg : "(no message)");
  wpool_free(msg);
  return rc;
}

wpool_t *wt_pool(int processes) {
  wpool_options_t o;
  wpool_t *pool = NULL;
  wt_options(&o, processes);
  int rc = wt_create(&pool, &o);
  CU_ASSERT_EQUAL(rc, 0);
  return rc == 0 ? pool : NULL;
}

int wt_apply_int(wpool_t *pool, wpool_fn fn, int x, int *y, char **errmsg) {
  void *out = NULL;
  size_t len = 0;
  int rc = wpool_apply(pool, fn, &x, sizeof x, &out, &len, errmsg);
  if (rc == 0) {
    if (out != NULL && len == sizeof *y)
      memcpy(y, out, sizeof *y);
    else
      rc = 1;
  }
  wpool_free(out);
  return rc;
}

int wt_result_int(wpool_result_t *r, long timeout_ms, int *y) {
  const void *data = NULL;
  size_t len = 0;
  int rc = wpool_result_get(r, timeout_ms, &data, &len);
  if (rc == 0) {
    if (data != NULL && len == sizeof *y)
      memcpy(y, data, sizeof *y);
    else
      rc = 1;
  }
  return rc;
}

int wt_contains(const char *s, const char *needle) {
  return s != NULL && strstr(s, needle) != NULL;
}

wt_gate_arg_t wt_gate_arg(const wt_gate_t *g, int value) {
  wt_gate_arg_t a;
  memset(&a, 0, sizeof a);
  a.value = value;
  snprintf(a.dir, sizeof a.dir, "%s", g->dir);
  return a;
}

int wt_gate_wait_started(wt_gate_t *g, int n) {
  return wt_gate_wait_started_ms(g, n, WT_LONG_MS);
}

void wt_assert_squares(wpool_t *pool, int n) {
  for (int i = 0; i < n; i++) {
    int y = 0;
    CU_ASSERT_EQUAL(wt_apply_int(pool, task_square, i, &y, NULL), 0);
    CU_ASSERT_EQUAL(y, i * i);
  }
}

/* See harness.h. Looks every millisecond: nothing signals a start. */
size_t wt_wait_replaced(wpool_t *pool, size_t least) {
  long until = wt_now_ms() + WT_LONG_MS;
  wpool_stats_t st = {0};
  wt_mutex_t m;
  wt_cond_t c; /* never signalled: a bounded pause between looks */
  wt_mutex_init(&m);
  wt_cond_init(&c);
  wt_mutex_lock(&m);
  while (wpool_stats(pool, &st, NULL, 0) == 0 && st.workers_replaced < least &&
         wt_now_ms() < until)
    wt_cond_wait_ms(&c, &m, 1);
  wt_mutex_unlock(&m);
  wt_cond_destroy(&c);
  wt_mutex_destroy(&m);
  return st.workers_replaced;
}
