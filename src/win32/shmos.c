/*
 * Shared buffers on Windows: not yet. An unnamed file mapping duplicated
 * into each worker (DuplicateHandle) is the plan; until then the buffer
 * calls say WPOOL_ENOTSUP, and a worker refuses a task that names one.
 */
#include "../shm.h"
#include "../worker.h"

int wpool__shm_os_create(size_t size, intptr_t *handle, uint8_t **base) {
  (void)size;
  (void)handle;
  (void)base;
  return WPOOL_ENOTSUP;
}

void wpool__shm_os_destroy(intptr_t handle, uint8_t *base, size_t size) {
  (void)handle;
  (void)base;
  (void)size;
}

int wpool__os_take_handle(intptr_t *h) {
  (void)h;
  return -1;
}

void wpool__os_close_handle(intptr_t h) { (void)h; }

int wpool__os_shm_map(intptr_t h, uint64_t off, uint64_t len, int writable,
                      wpool__shm_map_t *m) {
  (void)h;
  (void)off;
  (void)len;
  (void)writable;
  m->addr = NULL;
  m->len = 0;
  m->ptr = NULL;
  return -1;
}

void wpool__os_shm_unmap(wpool__shm_map_t *m) { (void)m; }
