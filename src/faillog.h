/*
 * Which items of a batch failed, and why: a result's per-item outcomes.
 * Nothing is kept for items that succeed; a failure is a range of items
 * with one code and one message, so a chunk that fails as a whole (its
 * worker died, the pool was terminated) costs one entry, not one per item.
 */
#ifndef WPOOL_FAILLOG_H
#define WPOOL_FAILLOG_H

#include <stddef.h>
#include <stdint.h>

typedef struct wpool__fail_range {
  size_t first, count;
  size_t before; /* failed items in the ranges before this one (sealed) */
  int code, task_code;
  const char *msg; /* owned by the log */
} wpool__fail_range_t;

typedef struct wpool__faillog {
  wpool__fail_range_t *r;
  size_t len, cap;
  size_t items; /* failed items in all */
} wpool__faillog_t;

/* Items [first, first + count) failed: 0 or WPOOL_ENOMEM. */
int wpool__faillog_add(wpool__faillog_t *log, size_t first, size_t count,
                       int code, int task_code, const char *msg,
                       size_t msg_len);
/* No more failures come: order the ranges by item. */
void wpool__faillog_seal(wpool__faillog_t *log);
/* The range holding the k-th failed item (sealed log), or NULL. */
const wpool__fail_range_t *wpool__faillog_nth(const wpool__faillog_t *log,
                                              size_t k);
/* The range holding item i (sealed log), or NULL when i did not fail. */
const wpool__fail_range_t *wpool__faillog_find(const wpool__faillog_t *log,
                                               size_t i);
void wpool__faillog_free(wpool__faillog_t *log);

#endif
