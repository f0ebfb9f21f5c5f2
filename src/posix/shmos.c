/*
 * Shared buffers on POSIX (see ../shm.h): anonymous memory behind a
 * descriptor, and the worker's side of using one (mapping the pages of a
 * chunk, and the descriptors that arrive with a task).
 *
 * Linux: memfd_create, sealed against shrinking and growing, so that no
 * process holding it can make the parent's mapping fault (SIGBUS) by
 * truncating it. Elsewhere, and on a kernel without memfd: shm_open with a
 * random name and O_EXCL, unlinked before the call returns, so that at most
 * the instant between the two knows a name and nothing is left behind if
 * the program is killed. The descriptor is tracked (fdtrack.h): a fork
 * server forked later closes it. The mapping is not inherited by fork()
 * (MADV_DONTFORK): a process forked later would keep the memory alive.
 */
#if defined(__linux__) && !defined(_GNU_SOURCE)
#define _GNU_SOURCE
#endif

#include "../os.h"
#include "../worker.h"
#include "fdtrack.h"
#include "posix.h"
#include "util.h"
#include "wpool.h"

#include <apr_atomic.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static int by_name(void) {
  static volatile apr_uint32_t counter;
  char name[64];
  for (int attempt = 0; attempt < 16; attempt++) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    snprintf(name, sizeof name, "/wpool.%ld.%u.%ld", (long)getpid(),
             (unsigned)apr_atomic_inc32(&counter), (long)ts.tv_nsec);
    int fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL, 0600);
    if (fd >= 0) {
      shm_unlink(name);
      return fd;
    }
    if (errno != EEXIST)
      return -1;
  }
  errno = EEXIST;
  return -1;
}

/* A new descriptor of anonymous shared memory, close-on-exec; -1 with
   errno. */
static int anon_fd(const char *name) {
#if defined(__linux__) && defined(MFD_CLOEXEC) && defined(MFD_ALLOW_SEALING)
  int fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (fd >= 0 || errno != ENOSYS)
    return fd;
#endif
  (void)name;
  int fd2 = by_name();
  if (fd2 >= 0 && wpool__fd_set_flags(fd2, 0) < 0) {
    int e = errno;
    close(fd2);
    errno = e;
    return -1;
  }
  return fd2;
}

/* Out of line, so that a build where a type is wide enough for any value
   does not see a comparison that is always false. */
static int fits_off(uint64_t n) {
  return n <= ((uint64_t)1 << (sizeof(off_t) * 8 - 1)) - 1;
}
static int fits_size(uint64_t n) { return n <= SIZE_MAX; }

static int code_of(int e) {
  return e == ENOMEM || e == ENOSPC || e == EFBIG ? WPOOL_ENOMEM : WPOOL_ESYS;
}

int wpool__shm_os_create(size_t size, intptr_t *handle, uint8_t **base) {
  return wpool__shm_os_create_named("wpool", size, handle, base);
}

int wpool__shm_os_create_named(const char *name, size_t size, intptr_t *handle,
                               uint8_t **base) {
  if (!fits_off(size))
    return WPOOL_ENOMEM;
  /* Created and tracked under the lock: no fork server is forked between
     the two with an untracked copy of it. */
  wpool__fd_lock();
  int fd = anon_fd(name);
  if (fd >= 0)
    fd = wpool__fd_above_stdio(fd);
  int e = fd < 0 ? errno : 0;
  if (fd >= 0 && wpool__fd_track_locked(fd) < 0) {
    close(fd);
    fd = -1;
    e = ENOMEM;
  }
  wpool__fd_unlock();
  if (fd < 0)
    return code_of(e);
  if (ftruncate(fd, (off_t)size) < 0) {
    e = errno;
    wpool__fd_close(fd);
    return code_of(e);
  }
#if defined(__linux__) && defined(F_ADD_SEALS)
  /* Best effort: shm_open objects cannot be sealed. */
  fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL);
#endif
  void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) {
    e = errno;
    wpool__fd_close(fd);
    return code_of(e);
  }
#if defined(__linux__) && defined(MADV_DONTFORK)
  madvise(p, size, MADV_DONTFORK);
#endif
  *handle = fd;
  *base = p;
  return 0;
}

void wpool__shm_os_destroy(intptr_t handle, uint8_t *base, size_t size) {
  munmap(base, size);
  wpool__fd_close((int)handle);
}

/* ---------------------------------------------------------------------- */
/* The worker's side                                                        */

int wpool__os_shm_map(intptr_t h, uint64_t off, uint64_t len, int writable,
                      wpool__shm_map_t *m) {
  long page = sysconf(_SC_PAGESIZE);
  uint64_t start = off - off % (uint64_t)page;
  uint64_t span = off - start + len;
  m->addr = NULL;
  m->len = 0;
  m->ptr = NULL;
  if (len == 0) {
    static const uint8_t nothing[16];
    m->ptr = (uint8_t *)nothing; /* an empty item still gets a pointer */
    return 0;
  }
  if (!fits_size(span) || !fits_off(start))
    return -1;
  int flags = MAP_SHARED;
#ifdef MAP_POPULATE
  /* The task is about to use every page: one call that fills the page
     table costs far less than a fault per page. */
  flags |= MAP_POPULATE;
#endif
  void *p =
      mmap(NULL, (size_t)span, writable ? PROT_READ | PROT_WRITE : PROT_READ,
           flags, (int)h, (off_t)start);
  if (p == MAP_FAILED)
    return -1;
  m->addr = p;
  m->len = (size_t)span;
  m->ptr = (uint8_t *)p + (off - start);
  return 0;
}

void wpool__os_shm_unmap(wpool__shm_map_t *m) {
  if (m->addr)
    munmap(m->addr, m->len);
  m->addr = NULL;
  m->len = 0;
}

/* ---------------------------------------------------------------------- */
/* Results that come back through a buffer                                  */

int wpool__os_give_handle(intptr_t chan, intptr_t h, uint64_t *value) {
  *value = (uint64_t)h;
  int rc = wpool__fd_give((int)chan, (int)h);
  /* In flight or not, the worker's copy is of no more use: the parent
     holds the buffer through the one in the socket. */
  wpool__fd_close((int)h);
  return rc;
}

void wpool__os_result_unmap(uint8_t *base, uint64_t size) {
  munmap(base, (size_t)size);
}

int wpool__shm_os_view(intptr_t h, uint64_t len, const uint8_t **base) {
  struct stat st;
  *base = NULL;
  if (len == 0 || !fits_size(len) || fstat((int)h, &st) < 0 ||
      st.st_size < 0 || (uint64_t)st.st_size < len)
    return WPOOL_EPROTO;
#if defined(__linux__) && defined(F_GET_SEALS)
  /* A buffer that its maker could still shrink would make our reads fault
     (SIGBUS) after the size check: a worker's must come sealed. */
  int seals = fcntl((int)h, F_GET_SEALS);
  if (seals < 0 || !(seals & F_SEAL_SHRINK))
    return WPOOL_EPROTO;
#endif
  int flags = MAP_SHARED;
#ifdef MAP_POPULATE
  flags |= MAP_POPULATE; /* read once, from start to end */
#endif
  void *p = mmap(NULL, (size_t)len, PROT_READ, flags, (int)h, 0);
  if (p == MAP_FAILED)
    return code_of(errno);
  *base = p;
  return 0;
}

void wpool__shm_os_unview(const uint8_t *base, uint64_t len) {
  munmap((void *)base, (size_t)len);
}

void wpool__shm_os_close(intptr_t h) { wpool__fd_close((int)h); }
