/*
 * One intrusive, circular, doubly linked queue for every list of the core
 * (batches waiting for workers, results waiting for their callbacks): an
 * element embeds a node, so linking and unlinking allocate nothing and
 * removing any element is O(1). The queue's head is a node of its own that
 * points at itself when the queue is empty.
 */
#ifndef WPOOL_QUEUE_H
#define WPOOL_QUEUE_H

#include <stddef.h>

typedef struct wpool__qnode {
  struct wpool__qnode *next, *prev;
} wpool__qnode_t;

/* The structure of type `type` whose member `field` is the node n. */
#define WPOOL__QDATA(n, type, field)                                          \
  ((type *)(void *)((char *)(n) - offsetof(type, field)))

static inline void wpool__q_init(wpool__qnode_t *q) { q->next = q->prev = q; }

static inline int wpool__q_empty(const wpool__qnode_t *q) {
  return q->next == q;
}

/* The first element, or NULL. */
static inline wpool__qnode_t *wpool__q_head(const wpool__qnode_t *q) {
  return q->next == q ? NULL : q->next;
}

/* The element after n in q, or NULL at the end. */
static inline wpool__qnode_t *wpool__q_next(const wpool__qnode_t *q,
                                            const wpool__qnode_t *n) {
  return n->next == q ? NULL : n->next;
}

static inline void wpool__q_insert_tail(wpool__qnode_t *q, wpool__qnode_t *n) {
  n->next = q;
  n->prev = q->prev;
  n->prev->next = n;
  q->prev = n;
}

/* Unlink n; a removed node points at itself, so removing twice is harmless. */
static inline void wpool__q_remove(wpool__qnode_t *n) {
  n->prev->next = n->next;
  n->next->prev = n->prev;
  n->next = n->prev = n;
}

#endif
