/*
 * Shared buffers: the public calls on a buffer, its reference count, and
 * the pool's own buffers for large arguments.
 * See shm.h.
 */
#include "shm.h"
#include "os.h"

#include "core.h"

#include <stdlib.h>
#include <string.h>

#define SHM_LIVE 0x4d485357u /* "WSHM" */
#define SHM_DEAD 0xdeadf00du

int wpool_shm_alloc(size_t size, wpool_shm_t **out) {
  if (!out)
    return WPOOL_EINVAL;
  *out = NULL;
  if (size == 0)
    return WPOOL_EINVAL;
  wpool_shm_t *s = calloc(1, sizeof *s);
  if (!s)
    return WPOOL_ENOMEM;
  int rc = wpool__shm_os_create(size, &s->handle, &s->base);
  if (rc) {
    free(s);
    return rc;
  }
  s->magic = SHM_LIVE;
  s->size = size;
  apr_atomic_set32(&s->refs, 1);
  *out = s;
  return 0;
}

/* A handle the caller may still use: not NULL, not freed by the caller. */
static int held(wpool_shm_t *s) {
  return s && s->magic == SHM_LIVE && !apr_atomic_read32(&s->user_freed);
}

void *wpool_shm_ptr(wpool_shm_t *s) { return held(s) ? s->base : NULL; }

size_t wpool_shm_size(wpool_shm_t *s) { return held(s) ? s->size : 0; }

wpool_slice_t wpool_slice(wpool_shm_t *s, size_t offset, size_t len) {
  wpool_slice_t sl = {s, offset, len};
  return sl;
}

void wpool__shm_ref(wpool_shm_t *s) { apr_atomic_inc32(&s->refs); }

void wpool__shm_unref(wpool_shm_t *s) {
  if (!s || apr_atomic_dec32(&s->refs) != 0)
    return;
  wpool__shm_os_destroy(s->handle, s->base, s->size);
  s->magic = SHM_DEAD;
  free(s);
}

void wpool_shm_free(wpool_shm_t *s) {
  /* Only the first free of a live handle drops the caller's reference. */
  if (!s || s->magic != SHM_LIVE || apr_atomic_xchg32(&s->user_freed, 1))
    return;
  wpool__shm_unref(s);
}

/* ---------------------------------------------------------------------- */
/* The pool's own buffers, for large arguments                              */

/* The largest buffer a pool keeps for the next large argument. */
#define SPARE_MAX ((size_t)256 << 20)

wpool_shm_t *wpool__shm_carrier(wpool_t *p, size_t len) {
  if (len == 0 || len < wpool__shm_threshold(p))
    return NULL;
  /* The spare, when it is large enough and not too large to waste. */
  wpool_shm_t *s = NULL;
  wpool__mutex_lock(p->lock);
  if (p->shm_spare && p->shm_spare->size >= len &&
      p->shm_spare->size / 4 <= len) {
    s = p->shm_spare;
    p->shm_spare = NULL;
  }
  wpool__mutex_unlock(p->lock);
  if (!s && wpool_shm_alloc(len, &s) != 0)
    return NULL;
  return s;
}

wpool_shm_t *wpool__shm_carry(wpool_t *p, const void *data, size_t len) {
  wpool_shm_t *s = wpool__shm_carrier(p, len);
  if (s)
    memcpy(s->base, data, len);
  return s;
}

wpool_shm_t *wpool__shm_keep_spare(wpool_t *p, wpool_shm_t *s) {
  if (s->size > SPARE_MAX)
    return s;
  /* The latest wins: calls tend to repeat their sizes. */
  wpool_shm_t *older = p->shm_spare;
  p->shm_spare = s;
  return older;
}

int wpool__slice_check(const wpool_slice_t *sl, const char *what,
                       char **errmsg) {
  if (!sl || !sl->shm) {
    wpool__set_msg(errmsg, "the %s slice names no shared buffer", what);
    return WPOOL_EINVAL;
  }
  if (!held(sl->shm)) {
    wpool__set_msg(errmsg, "the %s slice's shared buffer was freed", what);
    return WPOOL_EINVAL;
  }
  size_t size = sl->shm->size;
  if (sl->offset > size || sl->len > size - sl->offset) {
    wpool__set_msg(errmsg,
                   "the %s slice [%zu, %zu + %zu) is outside its %zu-byte "
                   "buffer",
                   what, sl->offset, sl->offset, sl->len, size);
    return WPOOL_EINVAL;
  }
  return 0;
}
