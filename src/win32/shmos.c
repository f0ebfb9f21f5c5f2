/*
 * Shared buffers on Windows (see ../shm.h): an unnamed file mapping backed
 * by the paging file. It has no name anyone could open, and goes with its
 * last handle and view, however the processes that hold them end. The
 * parent lends a worker a duplicate of the handle for each task that needs
 * it (procos.c, c_lend), with read-only access for an input; the worker
 * maps the views of its chunk and closes the handle after the task.
 *
 * Unlike a memfd, the whole size is committed against the system's commit
 * limit when the mapping is made (pages still take memory only once they
 * are touched).
 */
#include "../os.h"
#include "../worker.h"
#include "win32.h"
#include "wpool.h"

#include <string.h>

static int code_of(DWORD e) {
  return e == ERROR_NOT_ENOUGH_MEMORY || e == ERROR_COMMITMENT_LIMIT ||
                 e == ERROR_OUTOFMEMORY || e == ERROR_DISK_FULL
             ? WPOOL_ENOMEM
             : WPOOL_ESYS;
}

int wpool__shm_os_create_named(const char *name, size_t size, intptr_t *handle,
                               uint8_t **base) {
  (void)name; /* an unnamed mapping: nothing shows it */
  return wpool__shm_os_create(size, handle, base);
}

int wpool__shm_os_create(size_t size, intptr_t *handle, uint8_t **base) {
  uint64_t n = (uint64_t)size;
  /* Not inheritable (no security attributes): only lent duplicates reach a
     worker, never a program a task starts. */
  HANDLE h = CreateFileMappingW(INVALID_HANDLE_VALUE, NULL, PAGE_READWRITE,
                                (DWORD)(n >> 32), (DWORD)n, NULL);
  if (h == NULL)
    return code_of(GetLastError());
  void *p = MapViewOfFile(h, FILE_MAP_ALL_ACCESS, 0, 0, size);
  if (p == NULL) {
    DWORD e = GetLastError();
    CloseHandle(h);
    return code_of(e);
  }
  memcpy(handle, &h, sizeof h);
  *base = p;
  return 0;
}

void wpool__shm_os_destroy(intptr_t handle, uint8_t *base, size_t size) {
  HANDLE h;
  (void)size;
  memcpy(&h, &handle, sizeof h);
  UnmapViewOfFile(base);
  CloseHandle(h);
}

/* ---------------------------------------------------------------------- */
/* The worker's side                                                        */

int wpool__os_take_handle(uint64_t sent, intptr_t *h) {
  /* The parent put the handle in this process before it sent the task. */
  if (sent == 0)
    return -1;
  *h = (intptr_t)sent;
  return 0;
}

void wpool__os_close_handle(intptr_t h) {
  HANDLE x;
  memcpy(&x, &h, sizeof x);
  CloseHandle(x);
}

int wpool__os_shm_map(intptr_t h, uint64_t off, uint64_t len, int writable,
                      wpool__shm_map_t *m) {
  SYSTEM_INFO si;
  GetSystemInfo(&si);
  /* A view starts on the allocation granularity (64 KiB), not a page. */
  uint64_t start = off - off % si.dwAllocationGranularity;
  uint64_t span = off - start + len;
  m->addr = NULL;
  m->len = 0;
  m->ptr = NULL;
  if (len == 0) {
    static const uint8_t nothing[16];
    m->ptr = (uint8_t *)nothing; /* an empty item still gets a pointer */
    return 0;
  }
  if (span > (uint64_t)(SIZE_MAX / 2))
    return -1;
  HANDLE x;
  memcpy(&x, &h, sizeof x);
  void *p = MapViewOfFile(x, writable ? FILE_MAP_WRITE : FILE_MAP_READ,
                          (DWORD)(start >> 32), (DWORD)start, (SIZE_T)span);
  if (p == NULL)
    return -1;
  m->addr = p;
  m->len = (size_t)span;
  m->ptr = (uint8_t *)p + (off - start);
  return 0;
}

void wpool__os_shm_unmap(wpool__shm_map_t *m) {
  if (m->addr)
    UnmapViewOfFile(m->addr);
  m->addr = NULL;
  m->len = 0;
}

/* ---------------------------------------------------------------------- */
/* Results that come back through a mapping                                 */

int wpool__os_give_handle(intptr_t chan, intptr_t h, uint64_t *value) {
  /* The parent takes it out of this process (DUPLICATE_CLOSE_SOURCE): the
     worker leaves it open and forgets it. */
  (void)chan;
  HANDLE x;
  memcpy(&x, &h, sizeof x);
  *value = (uint64_t)(uintptr_t)x;
  return 0;
}

void wpool__os_result_unmap(uint8_t *base, uint64_t size) {
  (void)size;
  UnmapViewOfFile(base);
}

int wpool__shm_os_view(intptr_t h, uint64_t len, const uint8_t **base) {
  HANDLE x;
  memcpy(&x, &h, sizeof x);
  *base = NULL;
  if (len == 0 || len > (uint64_t)(SIZE_MAX / 2))
    return WPOOL_EPROTO;
  /* A mapping's size is fixed when it is made: a view of len bytes
     succeeds only if it holds them, and no one can shrink it later. */
  void *p = MapViewOfFile(x, FILE_MAP_READ, 0, 0, (SIZE_T)len);
  if (p == NULL) {
    DWORD e = GetLastError();
    return e == ERROR_NOT_ENOUGH_MEMORY || e == ERROR_OUTOFMEMORY
               ? WPOOL_ENOMEM
               : WPOOL_EPROTO;
  }
  *base = p;
  return 0;
}

void wpool__shm_os_unview(const uint8_t *base, uint64_t len) {
  (void)len;
  UnmapViewOfFile(base);
}

void wpool__shm_os_close(intptr_t h) { wpool__os_close_handle(h); }
