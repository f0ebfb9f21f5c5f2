/*
 * The process transport: deaths learnt from the worker process itself (not
 * from the end of a channel that a process started by a task may hold), a
 * program that ignores SIGCHLD, and a worker's handshake that is not to be
 * believed. POSIX only; process methods.
 */
#include "harness.h"

#ifndef _WIN32
#include "../src/proto.h" /* to forge a frame as a broken worker would */

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#ifdef __linux__
#include <poll.h>
#include <sys/syscall.h>
#endif

/* Start a child that lives on (a daemon, a helper) holding every
   descriptor of the worker, its result channel among them; return its
   pid. */
static int task_daemon(const void *arg, size_t len, wpool_out_t *out) {
  (void)arg;
  (void)len;
  pid_t child = fork();
  if (child == 0)
    for (;;)
      pause();
  long pid = (long)child;
  return wpool_out_set(out, &pid, sizeof pid);
}
WPOOL_REGISTER(task_daemon)

/* Initializer: forge a READY frame that reports a failure code outside the
   error table, on every pipe this worker may write to except stdout and
   stderr (its result channel among them), then succeed. */
static int init_forge_ready(const void *arg, size_t len, wpool_out_t *out) {
  (void)arg;
  (void)len;
  (void)out;
  static const char msg[] = "forged";
  uint8_t frame[WPOOL__FRAME_SIZE + WPOOL__FAIL_REC_HDR + sizeof msg];
  /* By hand, not with wpool__frame_init: the test links against the
     shared library too, which exports no internal function. */
  wpool__frame_t f;
  memset(&f, 0, sizeof f);
  f.magic = WPOOL__MAGIC;
  f.type = WPOOL__F_READY;
  f.nfail = 1;
  f.len = WPOOL__FAIL_REC_HDR + (uint32_t)(sizeof msg - 1);
  memcpy(frame, &f, WPOOL__FRAME_SIZE);
  uint8_t *rec = frame + WPOOL__FRAME_SIZE;
  wpool__put_u32(rec, 0);
  wpool__put_u32(rec + 4, 12345u); /* no WPOOL_E* code */
  wpool__put_u32(rec + 8, 0);
  wpool__put_u32(rec + 12, (uint32_t)(sizeof msg - 1));
  memcpy(rec + WPOOL__FAIL_REC_HDR, msg, sizeof msg - 1);
  size_t n = WPOOL__FRAME_SIZE + f.len;
  for (int fd = 3; fd < 256; fd++) {
    struct stat st;
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fstat(fd, &st) || !S_ISFIFO(st.st_mode) ||
        (fl & O_ACCMODE) == O_RDONLY)
      continue;
    if (write(fd, frame, n) < 0) {
      /* a pipe without a reader: nothing to forge there */
    }
  }
  return 0;
}
WPOOL_REGISTER(init_forge_ready)

/* Wait (bounded) for process pid to be gone; 1 when it is, or when this
   kernel cannot tell (no pidfd_open). */
static int ends(long pid) {
#ifdef __linux__
  int fd = (int)syscall(SYS_pidfd_open, (pid_t)pid, 0);
  if (fd < 0)
    return errno == ESRCH || errno == ENOSYS;
  struct pollfd pf = {fd, POLLIN, 0};
  int rc = poll(&pf, 1, (int)WT_LONG_MS);
  close(fd);
  return rc == 1;
#else
  (void)pid;
  return 1;
#endif
}

/*
 * A task starts a daemon, which holds the worker's result channel open, and
 * a later task on that worker crashes or exits: the crash must be seen
 * (from the process, not from an end of input that never comes), the task
 * that finished before must be delivered, and the worker replaced. The
 * daemon goes with its worker's process group.
 */
static void test_daemon_holds_channel(void) {
  static const int fates[] = {WT_CRASH_SEGV, WT_CRASH_EXIT3};
  wpool_t *pool = wt_pool(1);
  CU_ASSERT_PTR_NOT_NULL_FATAL(pool);
  for (size_t k = 0; k < sizeof fates / sizeof fates[0]; k++) {
    long daemon = 0;
    void *o = NULL;
    size_t olen = 0;
    CU_ASSERT_EQUAL_FATAL(
        wpool_apply(pool, task_daemon, NULL, 0, &o, &olen, NULL), 0);
    CU_ASSERT_EQUAL(olen, sizeof daemon);
    if (o && olen == sizeof daemon)
      memcpy(&daemon, o, sizeof daemon);
    wpool_free(o);
    CU_ASSERT_TRUE(daemon > 0);

    wpool_result_t *r = NULL;
    int x = fates[k];
    CU_ASSERT_EQUAL_FATAL(
        wpool_apply_async(pool, task_crash, &x, sizeof x, NULL, NULL, NULL, &r),
        0);
    CU_ASSERT_EQUAL(wpool_result_get(r, WT_LONG_MS, NULL, NULL), WPOOL_EWORKER);
    CU_ASSERT_TRUE(wt_contains(wpool_result_message(r),
                               x == WT_CRASH_SEGV ? "SIGSEGV" : "status 3"));
    wpool_result_free(r);

    int y = 0;
    CU_ASSERT_EQUAL(wt_apply_int(pool, task_square, 9, &y, NULL), 0);
    CU_ASSERT_EQUAL(y, 81);
    if (daemon > 0)
      CU_ASSERT_TRUE(ends(daemon));
  }
  wpool_destroy(pool);
}

/*
 * A program that ignores SIGCHLD: the system reaps spawn workers itself,
 * so their status is lost, and their pids may be reused at once. A crash
 * must still fail its task with a message, the worker must be replaced,
 * and the pool must go on (and must not hang in a wait for a child it no
 * longer has). The fork server sets SIGCHLD back to the default for itself.
 */
static void test_sigchld_ignored(void) {
  WT_SKIP_REMOTE("workers are the serving ranks' children: this process's "
                 "SIGCHLD does not reach them");
  struct sigaction ign, old;
  memset(&ign, 0, sizeof ign);
  ign.sa_handler = SIG_IGN;
  CU_ASSERT_EQUAL_FATAL(sigaction(SIGCHLD, &ign, &old), 0);
  wpool_t *pool = wt_pool(2);
  if (pool) {
    int x = WT_CRASH_SEGV;
    wpool_result_t *r = NULL;
    CU_ASSERT_EQUAL(
        wpool_apply_async(pool, task_crash, &x, sizeof x, NULL, NULL, NULL, &r),
        0);
    CU_ASSERT_EQUAL(wpool_result_get(r, WT_LONG_MS, NULL, NULL), WPOOL_EWORKER);
    /* Spawn workers' status is the system's now; the fork server's own
       SIGCHLD is the default, so a fork worker's crash is still named. */
    const char *msg = wpool_result_message(r);
    CU_ASSERT_TRUE(wt_contains(
        msg, wt_method == WPOOL_SPAWN ? "exit status was lost" : "SIGSEGV"));
    CU_ASSERT_FALSE(wt_contains(msg, "could not be reaped"));
    wpool_result_free(r);
    wt_assert_squares(pool, 10);
    wpool_stats_t st;
    CU_ASSERT_EQUAL(wpool_stats(pool, &st, NULL, 0), 0);
    CU_ASSERT_EQUAL(st.workers, 2);
    CU_ASSERT_TRUE(wt_wait_replaced(pool, 1) >= 1);
    wpool_destroy(pool);
  }
  sigaction(SIGCHLD, &old, NULL);
  CU_ASSERT_PTR_NOT_NULL(pool);
}

/* A READY whose failure code is not a WPOOL_E* code is a protocol error,
   not a code for wpool_create to return. */
static void test_ready_with_unknown_code(void) {
  wpool_options_t o;
  wt_options(&o, 1);
  o.initializer = init_forge_ready;
  wpool_t *pool = NULL;
  char *err = NULL;
  int rc = wt_create_fn(&pool, &o, &err);
  CU_ASSERT_EQUAL(rc, WPOOL_EPROTO);
  CU_ASSERT_TRUE(wt_contains(err, "unknown error code"));
  wpool_free(err);
  if (rc == 0)
    wpool_destroy(pool);
}

static const wt_test_t tests[] = {
    {"daemon_holds_channel", test_daemon_holds_channel},
    {"sigchld_ignored", test_sigchld_ignored},
    {"ready_with_unknown_code", test_ready_with_unknown_code},
    {NULL, NULL},
};
#else
static const wt_test_t tests[] = {{NULL, NULL}};
#endif

const wt_suite_t wt_suite_transport = {"transport", 1, 1, tests};
