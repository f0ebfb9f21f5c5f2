/* A growable byte buffer: the one allocation pattern of the wire code. */
#ifndef WPOOL_BUF_H
#define WPOOL_BUF_H

#include <stddef.h>
#include <stdint.h>

typedef struct wpool__buf {
  uint8_t *data;
  size_t len;
  size_t cap;
} wpool__buf_t;

/* Make room for extra more bytes; 0 or WPOOL_ENOMEM. */
int wpool__buf_reserve(wpool__buf_t *b, size_t extra);
/* Append n bytes; 0 or WPOOL_ENOMEM. */
int wpool__buf_append(wpool__buf_t *b, const void *p, size_t n);
void wpool__buf_free(wpool__buf_t *b);

#endif
