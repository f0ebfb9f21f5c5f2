/*
 * Fault isolation under stress: a crash storm, protocol garbage from a task,
 * respawns while another thread holds a lock, the death of the parent, and
 * many create/destroy cycles that must leave no descriptor or process behind.
 * POSIX-only (process counting and signals); process methods unless noted.
 */
#include "harness.h"
#include "../src/proto.h" /* to speak the protocol as an impostor would */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#ifdef __linux__
#include <poll.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#endif

/* ---------------------------------------------------------------------- */
/* Tasks                                                                   */

/* How storm item x ends: 0 normally, else 1 SIGSEGV, 2 abort, 3 _exit(3).
   About 1% of items crash, spread by a multiplicative hash. */
static int storm_fate(int x) {
  unsigned h = (unsigned)x * 2654435761u;
  return h % 100 == 7 ? 1 + (int)((h >> 8) % 3) : 0;
}

static int task_storm(const void *arg, size_t len, wpool_out_t *out) {
  int x;
  if (len != sizeof x)
    return wpool_out_fail(out, 1, "bad argument");
  memcpy(&x, arg, sizeof x);
  switch (storm_fate(x)) {
  case 1: {
    volatile int *null = NULL;
    *null = 1;
    break;
  }
  case 2:
    abort();
  case 3:
    _exit(3);
  }
  int y = x + 1;
  return wpool_out_set(out, &y, sizeof y);
}
WPOOL_REGISTER(task_storm)

/* Write frame-shaped garbage on every pipe this process may write to except
   stdout and stderr: the result channel among them. Then succeed. */
static int task_garbage(const void *arg, size_t len, wpool_out_t *out) {
  (void)arg;
  (void)len;
  unsigned char junk[64];
  memset(junk, 0xA5, sizeof junk);
  for (int fd = 3; fd < 256; fd++) {
    struct stat st;
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fstat(fd, &st) || !S_ISFIFO(st.st_mode) ||
        (fl & O_ACCMODE) == O_RDONLY)
      continue;
    if (write(fd, junk, sizeof junk) < 0) {
      /* a pipe without a reader: nothing to corrupt there */
    }
  }
  return wpool_out_set(out, "ok", 2);
}
WPOOL_REGISTER(task_garbage)

/* Print through stdio (whose lock another parent thread may hold), then
   return this worker's pid. */
static int task_printing_pid(const void *arg, size_t len, wpool_out_t *out) {
  (void)arg;
  (void)len;
  fprintf(stdout, "%s", "");
  fflush(stdout);
  long pid = (long)getpid();
  return wpool_out_set(out, &pid, sizeof pid);
}
WPOOL_REGISTER(task_printing_pid)

/* The number of open descriptors in this worker. */
static int task_count_fds(const void *arg, size_t len, wpool_out_t *out) {
  (void)arg;
  (void)len;
  int n = 0;
  DIR *d = opendir("/proc/self/fd");
  if (!d)
    return wpool_out_fail(out, 1, "no /proc/self/fd");
  for (struct dirent *e; (e = readdir(d));)
    n += e->d_name[0] != '.';
  closedir(d);
  n--; /* the directory stream's own descriptor */
  return wpool_out_set(out, &n, sizeof n);
}
WPOOL_REGISTER(task_count_fds)

/* Start a child that waits forever, tell its pid through the FIFO named by
   the argument, then hang until killed. */
static int task_child_then_hang(const void *arg, size_t len, wpool_out_t *out) {
  char path[256];
  if (len == 0 || len >= sizeof path)
    return wpool_out_fail(out, 1, "bad argument");
  memcpy(path, arg, len);
  path[len] = '\0';
  pid_t child = fork();
  if (child == 0)
    for (;;)
      pause();
  long pid = (long)child;
  int fd = open(path, O_WRONLY);
  if (child < 0 || fd < 0 || write(fd, &pid, sizeof pid) != sizeof pid)
    return wpool_out_fail(out, 2, "could not start or report a child");
  close(fd);
  for (;;)
    pause();
}
WPOOL_REGISTER(task_child_then_hang)

/* ---------------------------------------------------------------------- */
/* Counting what a pool leaves behind                                      */

static int count_fds(void) {
  int n = 0;
  DIR *d = opendir("/proc/self/fd");
  if (!d)
    return -1;
  for (struct dirent *e; (e = readdir(d));)
    n += e->d_name[0] != '.';
  closedir(d);
  return n - 1;
}

/* Processes (zombies included) whose parent is this process. */
static int count_children(void) {
  int n = 0;
  long me = (long)getpid();
  DIR *d = opendir("/proc");
  if (!d)
    return -1;
  for (struct dirent *e; (e = readdir(d));) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9')
      continue;
    char path[300], buf[512];
    snprintf(path, sizeof path, "/proc/%s/stat", e->d_name);
    FILE *f = fopen(path, "r");
    if (!f)
      continue;
    size_t got = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[got] = '\0';
    /* "pid (comm) state ppid ...": comm may hold spaces, so start after
       its last ')'. */
    char *rp = strrchr(buf, ')');
    char state;
    long ppid;
    if (rp && sscanf(rp + 1, " %c %ld", &state, &ppid) == 2 && ppid == me)
      n++;
  }
  closedir(d);
  return n;
}

/* ---------------------------------------------------------------------- */
/* Tests                                                                   */

/*
 * 10,000 items, about 1% crashing by SIGSEGV, abort or _exit(3), with the
 * default chunksize: every other output is right, each crashed item reads as
 * zero, the first failure names its cause, the pool is whole again, and an
 * unordered imap reports every crash with its own cause.
 */
static void test_crash_storm(void) {
  enum { N = 10000 };
  static int in[N], out[N];
  int crashes = 0, first = -1;
  for (int i = 0; i < N; i++) {
    in[i] = i;
    if (storm_fate(i)) {
      crashes++;
      if (first < 0)
        first = i;
    }
  }
  CU_ASSERT_TRUE_FATAL(crashes > 50 && crashes < 200);
  wpool_t *pool = wt_pool(2);
  CU_ASSERT_PTR_NOT_NULL_FATAL(pool);
  char *err = NULL;
  CU_ASSERT_EQUAL(wpool_map(pool, task_storm, in, N, sizeof *in, out,
                            sizeof *out, 0, &err),
                  WPOOL_EWORKER);
  static const char *const cause[] = {"", "SIGSEGV", "SIGABRT", "status 3"};
  char item[32];
  snprintf(item, sizeof item, "item %d:", first);
  CU_ASSERT_TRUE(wt_contains(err, item));
  CU_ASSERT_TRUE(wt_contains(err, cause[storm_fate(first)]));
  /* It names the dead worker by its pid. */
  CU_ASSERT_TRUE(wt_contains(err, ": worker "));
  CU_ASSERT_FALSE(wt_contains(err, ": worker 0 "));
  wpool_free(err);
  int wrong = 0;
  for (int i = 0; i < N; i++)
    wrong += out[i] != (storm_fate(i) ? 0 : i + 1);
  CU_ASSERT_EQUAL(wrong, 0);

  wpool_source_t src = wpool_source_array(in, N, sizeof *in);
  wpool_iter_t *it = NULL;
  CU_ASSERT_EQUAL_FATAL(wpool_imap_unordered(pool, task_storm, &src, 1, &it),
                        0);
  int ok = 0, reported = 0, misreported = 0, rc;
  const void *data;
  size_t len;
  while ((rc = wpool_iter_next(it, WT_LONG_MS, &data, &len)) != WPOOL_EDONE) {
    size_t i = wpool_iter_index(it);
    int fate = i < N ? storm_fate((int)i) : -1;
    if (rc == 0 && fate == 0 && len == sizeof(int) &&
        *(const int *)data == (int)i + 1) {
      ok++;
    } else if (rc == WPOOL_EWORKER && fate > 0 &&
               wt_contains(wpool_iter_message(it), cause[fate])) {
      reported++;
    } else {
      misreported++;
      if (rc == WPOOL_ETIMEDOUT)
        break;
    }
  }
  wpool_iter_free(it);
  CU_ASSERT_EQUAL(ok, N - crashes);
  CU_ASSERT_EQUAL(reported, crashes);
  CU_ASSERT_EQUAL(misreported, 0);

  wpool_stats_t st;
  CU_ASSERT_EQUAL(wpool_stats(pool, &st, NULL, 0), 0);
  CU_ASSERT_EQUAL(st.workers, 2);
  CU_ASSERT_TRUE(wt_wait_replaced(pool, (size_t)(2 * crashes)) >=
                 (size_t)(2 * crashes));
  int y = 0;
  CU_ASSERT_EQUAL(wt_apply_int(pool, task_square, 12, &y, NULL), 0);
  CU_ASSERT_EQUAL(y, 144);
  wpool_destroy(pool);
}

/* A task writes garbage onto its result channel: that task fails with a
   protocol error, its worker is replaced, and the pool goes on. */
static void test_corrupt_frames(void) {
  wpool_t *pool = wt_pool(2);
  CU_ASSERT_PTR_NOT_NULL_FATAL(pool);
  char *err = NULL;
  void *out = NULL;
  size_t len = 0;
  CU_ASSERT_EQUAL(wpool_apply(pool, task_garbage, NULL, 0, &out, &len, &err),
                  WPOOL_EPROTO);
  CU_ASSERT_TRUE(wt_contains(err, "malformed"));
  wpool_free(err);
  wpool_free(out);
  wt_assert_squares(pool, 20);
  wpool_stats_t st;
  CU_ASSERT_EQUAL(wpool_stats(pool, &st, NULL, 0), 0);
  CU_ASSERT_EQUAL(st.workers, 2);
  CU_ASSERT_TRUE(wt_wait_replaced(pool, 1) >= 1);
  wpool_destroy(pool);
}

static pthread_mutex_t held_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t holder_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t holder_cv = PTHREAD_COND_INITIALIZER;
static int holder_state; /* 1: holding, 2: told to let go */

/* Hold an application lock and stdout's lock until told to let go. */
static void *holder(void *arg) {
  (void)arg;
  pthread_mutex_lock(&held_lock);
  flockfile(stdout);
  pthread_mutex_lock(&holder_mu);
  holder_state = 1;
  pthread_cond_broadcast(&holder_cv);
  while (holder_state != 2)
    pthread_cond_wait(&holder_cv, &holder_mu);
  pthread_mutex_unlock(&holder_mu);
  funlockfile(stdout);
  pthread_mutex_unlock(&held_lock);
  return NULL;
}

/*
 * 200 worker replacements (maxtasksperchild = 1) while another thread of the
 * parent holds a lock and stdout's lock, with tasks that print: a worker
 * forked from the parent at that moment would inherit the held stdout lock
 * and hang in its first printf.
 */
static void test_respawn_under_lock(void) {
  wpool_options_t o;
  wt_options(&o, 2);
  o.maxtasksperchild = 1;
  wpool_t *pool = NULL;
  CU_ASSERT_EQUAL_FATAL(wt_create(&pool, &o), 0);
  pthread_t t;
  CU_ASSERT_EQUAL_FATAL(pthread_create(&t, NULL, holder, NULL), 0);
  pthread_mutex_lock(&holder_mu);
  while (holder_state != 1)
    pthread_cond_wait(&holder_cv, &holder_mu);
  pthread_mutex_unlock(&holder_mu);
  enum { N = 200 };
  static char none[N];
  static long pids[N];
  char *err = NULL;
  CU_ASSERT_EQUAL(wpool_map(pool, task_printing_pid, none, N, 1, pids,
                            sizeof *pids, 1, &err),
                  0);
  wpool_free(err);
  int distinct = 1;
  for (int i = 1; i < N; i++)
    distinct &= pids[i] != pids[i - 1];
  CU_ASSERT_TRUE(distinct);
  pthread_mutex_lock(&holder_mu);
  holder_state = 2;
  pthread_cond_broadcast(&holder_cv);
  pthread_mutex_unlock(&holder_mu);
  pthread_join(t, NULL);
  holder_state = 0;
  wpool_stats_t st;
  CU_ASSERT_EQUAL(wpool_stats(pool, &st, NULL, 0), 0);
  CU_ASSERT_TRUE(wt_wait_replaced(pool, N - 2) >= N - 2);
  wpool_destroy(pool);
}

/* 1,000 create/destroy cycles (with one task each, so every worker really
   starts): no descriptor and no process is left behind. */
static void test_create_destroy_cycles(void) {
  int fds = count_fds(), kids = count_children();
  CU_ASSERT_TRUE_FATAL(fds > 0 && kids >= 0);
  int failures = 0;
  /* Over MPI a cycle is a session with every serving rank (tens of ms):
     100 of them show a leak as well as 1000 local ones do. */
  int cycles = wt_transport ? 100 : 1000;
  for (int i = 0; i < cycles && failures < 5; i++) {
    wpool_t *pool = wt_pool(2);
    int y = 0;
    if (!pool || wt_apply_int(pool, task_square, i % 100, &y, NULL) ||
        y != (i % 100) * (i % 100))
      failures++;
    if (i % 2)
      wpool_close(pool), wpool_join(pool);
    wpool_destroy(pool);
  }
  CU_ASSERT_EQUAL(failures, 0);
  CU_ASSERT_EQUAL(count_fds(), fds);
  CU_ASSERT_EQUAL(count_children(), kids);
}

/* A spawned worker holds its two channels and stdio, nothing else. */
static void test_spawn_inherits_nothing(void) {
  if (wt_method != WPOOL_SPAWN)
    WT_SKIP("a forked worker is a copy of the parent: only a spawned one "
            "starts with nothing inherited");
  /* A descriptor the parent opened without close-on-exec. */
  int leak = open("/dev/null", O_RDONLY);
  wpool_t *pool = wt_pool(1);
  CU_ASSERT_PTR_NOT_NULL_FATAL(pool);
  int n = 0;
  CU_ASSERT_EQUAL(wt_apply_int(pool, task_count_fds, 0, &n, NULL), 0);
  CU_ASSERT_EQUAL(n, 5);
  wpool_destroy(pool);
  close(leak);
}

#ifdef __linux__
/*
 * The parent dies without a word (SIGKILL): its workers, and the fork
 * server, go too. A child of the test creates the pool, reports its worker
 * pids and blocks; the test, a subreaper, adopts every orphan and reaps until
 * none is left. A survivor would hang the test until CTest's timeout.
 */
static void test_parent_death(void) {
  WT_SKIP_REMOTE("over MPI the pool's owner is rank 0: its death ends the "
                 "job (mpiexec), and a forked copy of it cannot own a pool");
  CU_ASSERT_EQUAL_FATAL(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
  int report[2];
  CU_ASSERT_EQUAL_FATAL(pipe(report), 0);
  fflush(NULL);
  pid_t child = fork();
  CU_ASSERT_TRUE_FATAL(child >= 0);
  if (child == 0) {
    close(report[0]);
    wpool_t *pool = wt_pool(2);
    long pids[2] = {0, 0};
    wpool_stats_t st;
    if (pool)
      wpool_stats(pool, &st, pids, 2);
    if (write(report[1], pids, sizeof pids) != (ssize_t)sizeof pids)
      _exit(1);
    for (;;)
      pause();
  }
  close(report[1]);
  long pids[2] = {0, 0};
  CU_ASSERT_EQUAL(read(report[0], pids, sizeof pids), (ssize_t)sizeof pids);
  close(report[0]);
  CU_ASSERT_TRUE(pids[0] > 0 && pids[1] > 0);
  kill(child, SIGKILL);
  int reaped = 0, st;
  while (waitpid(-1, &st, 0) > 0)
    reaped++;
  CU_ASSERT_EQUAL(errno, ECHILD);
  CU_ASSERT_TRUE(reaped >= 1);
  for (int i = 0; i < 2; i++)
    CU_ASSERT_TRUE(pids[i] > 0 && kill((pid_t)pids[i], 0) != 0);
  prctl(PR_SET_CHILD_SUBREAPER, 0);
}
#endif

extern char **environ;

/*
 * Start this test program with the worker marker and pipes on fds 3 and 4,
 * with env as its whole environment; write `send` to its task pipe, then
 * return how many bytes it wrote back before its end of output.
 */
/* A close-on-exec pipe above fd 10, clear of the fds 3 and 4 that the child
   gets: only the two dup'ed ends may reach it. */
static int high_pipe(int fds[2]) {
  int raw[2];
  if (pipe(raw))
    return -1;
  for (int k = 0; k < 2; k++) {
    fds[k] = fcntl(raw[k], F_DUPFD_CLOEXEC, 10);
    close(raw[k]);
  }
  return fds[0] < 0 || fds[1] < 0 ? -1 : 0;
}

static long impostor(char **env, const void *send, size_t send_len) {
  int task[2], result[2];
  if (high_pipe(task) || high_pipe(result))
    return -1;
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, task[0], 3);
  posix_spawn_file_actions_adddup2(&fa, result[1], 4);
  /* The resolved path: under valgrind, /proc/self/exe itself is valgrind. */
  char exe[4096];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  exe[n > 0 ? n : 0] = '\0';
  char *argv[] = {exe, "--wpool-worker=3,4", NULL};
  pid_t pid;
  int rc = posix_spawn(&pid, exe, &fa, NULL, argv, env);
  posix_spawn_file_actions_destroy(&fa);
  close(task[0]);
  close(result[1]);
  if (rc) {
    close(task[1]);
    close(result[0]);
    return -1;
  }
  if (send_len && write(task[1], send, send_len) != (ssize_t)send_len)
    send_len = 0;
  close(task[1]); /* end of input: a worker that got nothing exits */
  long got = 0;
  char buf[4096];
  while ((n = read(result[0], buf, sizeof buf)) > 0)
    got += n;
  close(result[0]);
  int st;
  waitpid(pid, &st, 0);
  return got;
}

/*
 * Worker mode cannot be entered from a command line: without the marker
 * with its token the program just runs its main() (and writes nothing on the
 * channel); with a marker but an INIT carrying another token it says HELLO
 * and then nothing, and runs no initializer and no task.
 */
static void test_worker_mode_needs_token(void) {
  if (wt_method != WPOOL_SPAWN)
    WT_SKIP("starts the program by hand, without a pool: it runs once, "
            "with the spawn method");
  char *bare[] = {NULL};
  CU_ASSERT_EQUAL(impostor(bare, NULL, 0), 0);
  char marker[64];
  snprintf(marker, sizeof marker, "WPOOL_SPAWNED=1:%032d", 7);
  char *env[] = {marker, NULL};
  wpool__frame_t init; /* by hand: the library's helpers are hidden */
  memset(&init, 0, sizeof init);
  init.magic = WPOOL__MAGIC;
  init.type = WPOOL__F_INIT;
  init.fn = WPOOL__NO_FN;
  init.nanos = 1 << 20;
  init.len = WPOOL__TOKEN_LEN;
  unsigned char msg[WPOOL__FRAME_SIZE + WPOOL__TOKEN_LEN];
  memcpy(msg, &init, WPOOL__FRAME_SIZE);
  memset(msg + WPOOL__FRAME_SIZE, '9', WPOOL__TOKEN_LEN); /* the wrong one */
  CU_ASSERT_EQUAL(impostor(env, msg, sizeof msg), (long)WPOOL__FRAME_SIZE);
  /* The right token gets a READY: the check above is not just a crash. */
  memset(msg + WPOOL__FRAME_SIZE, '0', WPOOL__TOKEN_LEN);
  msg[WPOOL__FRAME_SIZE + WPOOL__TOKEN_LEN - 1] = '7';
  CU_ASSERT_EQUAL(impostor(env, msg, sizeof msg),
                  (long)(2 * WPOOL__FRAME_SIZE));
}

#ifdef __linux__
/*
 * A worker killed for its time limit takes the process its task started with
 * it. The test learns the grandchild's pid through a FIFO, then waits (with a
 * pidfd, bounded) for it to end.
 */
static void test_killed_worker_takes_its_children(void) {
  char path[64];
  snprintf(path, sizeof path, "/tmp/wpool-tree-%ld", (long)getpid());
  unlink(path);
  CU_ASSERT_EQUAL_FATAL(mkfifo(path, 0600), 0);
  wpool_options_t o;
  wt_options(&o, 1);
  o.task_timeout_ms = 300;
  wpool_t *pool = NULL;
  CU_ASSERT_EQUAL_FATAL(wt_create(&pool, &o), 0);
  wpool_result_t *r = NULL;
  CU_ASSERT_EQUAL_FATAL(wpool_apply_async(pool, task_child_then_hang, path,
                                          strlen(path), NULL, NULL, NULL, &r),
                        0);
  int fd = open(path, O_RDONLY); /* until the task opens it to write */
  long grandchild = 0;
  CU_ASSERT_EQUAL(read(fd, &grandchild, sizeof grandchild),
                  (ssize_t)sizeof grandchild);
  close(fd);
  unlink(path);
  CU_ASSERT_TRUE_FATAL(grandchild > 0);
  int pidfd = (int)syscall(SYS_pidfd_open, (pid_t)grandchild, 0);
  int pidfd_errno = errno;
  CU_ASSERT_EQUAL(wpool_result_get(r, WT_LONG_MS, NULL, NULL),
                  WPOOL_ETIMELIMIT);
  if (pidfd >= 0) {
    struct pollfd pf = {pidfd, POLLIN, 0};
    CU_ASSERT_EQUAL(poll(&pf, 1, (int)WT_LONG_MS), 1);
    close(pidfd);
  } else if (pidfd_errno != ENOSYS) { /* valgrind has no pidfd_open */
    CU_ASSERT_EQUAL(pidfd_errno, ESRCH); /* gone already */
  }
  wpool_result_free(r);
  wpool_destroy(pool);
}
#endif

/*
 * A replacement worker that cannot be started is tried again, not given up
 * on in silence: with no descriptor left for its pipes every attempt fails,
 * and after the pool's few attempts the pool breaks and the task queued for
 * the replacement fails. It must not wait for a worker nobody starts (the
 * loop used to sleep with an empty slot and no timeout: issue 10.14).
 */
/* 1 when a descriptor sent in a message arrives although no descriptor can
   be made (under valgrind, which applies RLIMIT_NOFILE itself, to the calls
   that make descriptors only); the fork server's pipe ends would too. */
static int passed_fds_ignore_limit(int sv[2]) {
  char byte = 0, space[CMSG_SPACE(sizeof(int))];
  struct iovec iov = {&byte, 1};
  struct msghdr m;
  memset(&m, 0, sizeof m);
  memset(space, 0, sizeof space);
  m.msg_iov = &iov;
  m.msg_iovlen = 1;
  m.msg_control = space;
  m.msg_controllen = sizeof space;
  struct cmsghdr *c = CMSG_FIRSTHDR(&m);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(c), &sv[0], sizeof(int));
  if (sendmsg(sv[0], &m, 0) != 1)
    return 0;
  memset(space, 0, sizeof space);
  m.msg_controllen = sizeof space;
  if (recvmsg(sv[1], &m, 0) != 1 || (m.msg_flags & MSG_CTRUNC))
    return 0;
  c = CMSG_FIRSTHDR(&m);
  if (c == NULL || c->cmsg_type != SCM_RIGHTS)
    return 0;
  int got;
  memcpy(&got, CMSG_DATA(c), sizeof got);
  close(got);
  return 1;
}

static void test_replacement_start_fails(void) {
  WT_SKIP_REMOTE("workers start on the serving ranks: this process's "
                 "limits do not reach them");
  wpool_options_t o;
  wt_options(&o, 1);
  o.maxtasksperchild = 1; /* the one worker goes after its first task */
  wpool_t *pool = NULL;
  CU_ASSERT_EQUAL_FATAL(wt_create(&pool, &o), 0);
  int x[2] = {3, 4};
  wpool_result_t *r[2] = {NULL, NULL};
  struct rlimit saved, none;
  int sv[2];
  CU_ASSERT_EQUAL_FATAL(getrlimit(RLIMIT_NOFILE, &saved), 0);
  CU_ASSERT_EQUAL_FATAL(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
  none = saved;
  none.rlim_cur = 3; /* stdio only: no pipe for a new worker */
  CU_ASSERT_EQUAL_FATAL(setrlimit(RLIMIT_NOFILE, &none), 0);
  if (wt_method == WPOOL_FORK && passed_fds_ignore_limit(sv)) {
    setrlimit(RLIMIT_NOFILE, &saved);
    close(sv[0]);
    close(sv[1]);
    wpool_destroy(pool);
    WT_SKIP("descriptors passed in a message arrive past RLIMIT_NOFILE here "
            "(valgrind): the fork server's start cannot be made to fail");
  }
  close(sv[0]);
  close(sv[1]);
  /* Both queued before the worker goes: the second needs its replacement. */
  int rc[2], ready[2];
  for (int i = 0; i < 2; i++)
    rc[i] = wpool_apply_async(pool, task_square, &x[i], sizeof x[i], NULL,
                              NULL, NULL, &r[i]);
  for (int i = 0; i < 2; i++)
    ready[i] = rc[i] == 0 ? wpool_result_wait(r[i], WT_LONG_MS) : rc[i];
  setrlimit(RLIMIT_NOFILE, &saved);
  CU_ASSERT_EQUAL(rc[0], 0);
  CU_ASSERT_EQUAL(rc[1], 0);
  CU_ASSERT_EQUAL(ready[0], 0);
  CU_ASSERT_EQUAL(ready[1], 0); /* not WPOOL_ETIMEDOUT */
  int y = 0;
  CU_ASSERT_EQUAL(wt_result_int(r[0], 0, &y), 0);
  CU_ASSERT_EQUAL(y, 9);
  /* The start's own error: no pipe (spawn), or no descriptor for the pipe
     ends the fork server sends (fork). */
  int code = wpool_result_get(r[1], 0, NULL, NULL);
  CU_ASSERT_EQUAL(code, WPOOL_ESYS);
  if (code != WPOOL_ESYS)
    fprintf(stderr, "\n  second task: %s: %s\n", wpool_err_name(code),
            wpool_result_message(r[1]) ? wpool_result_message(r[1]) : "");
  for (int i = 0; i < 2; i++)
    wpool_result_free(r[i]);
  wpool_destroy(pool);
}

static const wt_test_t tests[] = {
    {"crash_storm", test_crash_storm},
    {"corrupt_frames", test_corrupt_frames},
    {"respawn_under_lock", test_respawn_under_lock},
    {"create_destroy_cycles", test_create_destroy_cycles},
    {"spawn_inherits_nothing", test_spawn_inherits_nothing},
    {"worker_mode_needs_token", test_worker_mode_needs_token},
    {"replacement_start_fails", test_replacement_start_fails},
#ifdef __linux__
    {"parent_death", test_parent_death},
    {"killed_worker_takes_its_children", test_killed_worker_takes_its_children},
#endif
    {NULL, NULL},
};

const wt_suite_t wt_suite_hardening = {"hardening", 1, 1, tests};
