/*
 * The worker side of a process pool, portable: the loop that a forked or
 * spawned worker runs, and the operating-system calls it needs from the
 * backend.
 */
#ifndef WPOOL_WORKER_H
#define WPOOL_WORKER_H

#include <stddef.h>
#include <stdint.h>

/*
 * What the worker loop needs of the system, handed to it by the OS half that
 * starts it (src/posix, src/win32): the loop calls down through this table,
 * never into the OS half by name, so the OS half may start the loop without
 * a circle between the two. Each call blocks.
 */
/* Pages of a shared buffer mapped for one chunk: ptr is the requested
   offset's byte inside the mapping [addr, addr + len). */
typedef struct wpool__shm_map {
  void *addr;
  size_t len;
  uint8_t *ptr;
} wpool__shm_map_t;

typedef struct wpool__worker_os {
  /* Read up to len bytes: > 0 bytes read, 0 at end of input, < 0 on error.
     Handles that arrive with the bytes (a shared buffer's) are queued for
     take_handle, in the order they were sent. */
  long (*read)(intptr_t h, void *buf, size_t len);
  /* Write all len bytes: 0, or < 0 on error (the parent is gone). */
  int (*write_all)(intptr_t h, const void *buf, size_t len);
  long (*getpid)(void);
  /* Limit this process's memory to bytes: 0, or -1 when it cannot. */
  int (*limit_memory)(uint64_t bytes);
  /* This process's resident memory in KiB, 0 when unknown. */
  uint32_t (*rss_kib)(void);
  /* Nanoseconds of a clock that never steps, to time each chunk. */
  uint64_t (*now_ns)(void);
  /* Capturing what a task prints: send stdout and stderr to a place of the
     worker's own (0, or -1 when it cannot: the task then prints as usual),
     and after the task put them back and copy up to cap bytes of what was
     printed into buf: returns how many were copied, and *total how many
     were printed. */
  int (*capture_start)(void);
  size_t (*capture_stop)(uint8_t *buf, size_t cap, uint64_t *total);
  /* The handle of a shared buffer that the parent named sent: where
     handles arrive with the task channel's bytes (POSIX), the oldest one
     not taken yet, whatever sent says; where they are lent (Windows),
     sent itself. 0, or -1 when there is none. The caller closes it. */
  int (*take_handle)(uint64_t sent, intptr_t *h);
  void (*close_handle)(intptr_t h);
  /* Map the pages of shared buffer h that hold [off, off + len), read-only
     unless writable: 0 or -1. */
  int (*shm_map)(intptr_t h, uint64_t off, uint64_t len, int writable,
                 wpool__shm_map_t *m);
  void (*shm_unmap)(wpool__shm_map_t *m);
  /* A result too large for the channel: make a buffer of size bytes
     (anonymous, sealed against resizing where the system can), mapped
     read-write at *base (wpool__shm_os_create). give_handle hands it to
     the parent over channel chan before the frame that names it, and
     stores in *value the number the frame carries; the handle is then the
     parent's (the worker must not close it). result_unmap drops the
     worker's mapping. NULL give_handle: the OS half cannot hand back
     handles, and results always take the channel. */
  int (*result_buffer)(size_t size, intptr_t *h, uint8_t **base);
  int (*give_handle)(intptr_t chan, intptr_t h, uint64_t *value);
  void (*result_unmap)(uint8_t *base, uint64_t size);
  /* The low-latency mode (spin_us): look at h, yielding the CPU between
     looks, for at most ns nanoseconds or until it has bytes to read or has
     ended. Returns at once either way; the read that follows blocks. */
  void (*spin_readable)(intptr_t h, uint64_t ns);
} wpool__worker_os_t;

/*
 * Serve a pool over a pair of byte channels: send HELLO, run the initializer
 * on INIT, then run TASK frames in order and answer each with one RESULT
 * frame, written before the next task starts (so that the parent always
 * knows which task a dead worker held). Returns the exit code for the process
 * when the parent says EXIT or closes the task channel.
 */
int wpool__worker_serve(intptr_t task_in, intptr_t result_out,
                        const wpool__worker_os_t *os);

/* The platform's table (src/posix/os.c, src/win32/os.c). */
extern const wpool__worker_os_t wpool__worker_os;

/*
 * A spawned worker learns its pool's token from its environment and must
 * find the same token in INIT before it runs anything; NULL (forked workers,
 * which never went through a command line) checks nothing.
 */
void wpool__worker_expect_token(const char *token);

/* The same calls by name, for the rest of the library (a thread worker's
   pid is its process's). */
long wpool__os_read(intptr_t h, void *buf, size_t len);
int wpool__os_write_all(intptr_t h, const void *buf, size_t len);
long wpool__os_getpid(void);
int wpool__os_limit_memory(uint64_t bytes);
uint32_t wpool__os_rss_kib(void);
int wpool__os_capture_start(void);
size_t wpool__os_capture_stop(uint8_t *buf, size_t cap, uint64_t *total);
int wpool__os_take_handle(uint64_t sent, intptr_t *h);
void wpool__os_close_handle(intptr_t h);
int wpool__os_shm_map(intptr_t h, uint64_t off, uint64_t len, int writable,
                      wpool__shm_map_t *m);
void wpool__os_shm_unmap(wpool__shm_map_t *m);
int wpool__os_give_handle(intptr_t chan, intptr_t h, uint64_t *value);
void wpool__os_result_unmap(uint8_t *base, uint64_t size);
void wpool__os_spin_readable(intptr_t h, uint64_t ns);

#endif
