/* See faillog.h. */
#include "faillog.h"
#include "wpool.h"

#include <stdlib.h>
#include <string.h>

int wpool__faillog_add(wpool__faillog_t *log, size_t first, size_t count,
                       int code, int task_code, const char *msg,
                       size_t msg_len) {
  if (!count)
    return 0;
  if (log->len == log->cap) {
    size_t cap = log->cap ? log->cap * 2 : 8;
    wpool__fail_range_t *r = realloc(log->r, cap * sizeof *r);
    if (!r)
      return WPOOL_ENOMEM;
    log->r = r;
    log->cap = cap;
  }
  char *text = malloc(msg_len + 1);
  if (!text)
    return WPOOL_ENOMEM;
  if (msg_len)
    memcpy(text, msg, msg_len);
  text[msg_len] = '\0';
  log->r[log->len++] =
      (wpool__fail_range_t){first, count, 0, code, task_code, text};
  log->items += count;
  return 0;
}

static int by_first(const void *a, const void *b) {
  size_t x = ((const wpool__fail_range_t *)a)->first;
  size_t y = ((const wpool__fail_range_t *)b)->first;
  return x < y ? -1 : x > y;
}

void wpool__faillog_seal(wpool__faillog_t *log) {
  if (log->len > 1)
    qsort(log->r, log->len, sizeof *log->r, by_first);
  size_t before = 0;
  for (size_t i = 0; i < log->len; i++) {
    log->r[i].before = before;
    before += log->r[i].count;
  }
}

const wpool__fail_range_t *wpool__faillog_nth(const wpool__faillog_t *log,
                                              size_t k) {
  size_t lo = 0, hi = log->len;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    const wpool__fail_range_t *r = &log->r[mid];
    if (k < r->before)
      hi = mid;
    else if (k >= r->before + r->count)
      lo = mid + 1;
    else
      return r;
  }
  return NULL;
}

const wpool__fail_range_t *wpool__faillog_find(const wpool__faillog_t *log,
                                               size_t i) {
  size_t lo = 0, hi = log->len;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    const wpool__fail_range_t *r = &log->r[mid];
    if (i < r->first)
      hi = mid;
    else if (i >= r->first + r->count)
      lo = mid + 1;
    else
      return r;
  }
  return NULL;
}

void wpool__faillog_free(wpool__faillog_t *log) {
  for (size_t i = 0; i < log->len; i++)
    free((char *)log->r[i].msg);
  free(log->r);
  memset(log, 0, sizeof *log);
}
