/*
 * The life of worker processes on POSIX, seen from outside: pools created
 * with the standard streams closed, workers that must die with their parent
 * even in the middle of a task, pools nested in every combination, running
 * out of descriptors, and descendants of tasks that leave the worker's
 * process group. Scenarios that close stdio, lower limits or die run in a
 * child of the test, which the test waits for with a bound that only a hang
 * can exhaust.
 */
#include "harness.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

/* ---------------------------------------------------------------------- */
/* Tasks                                                                   */

/* int method -> the sum of squares of 0..9, computed by a pool of that
   method created, used and destroyed inside this task. */
static int task_nested(const void *arg, size_t len, wpool_out_t *out) {
  int m;
  if (len != sizeof m)
    return wpool_out_fail(out, 1, "bad argument");
  memcpy(&m, arg, sizeof m);
  wpool_options_t o;
  wpool_options_init(&o);
  o.processes = 2;
  o.method = (wpool_method_t)m;
  wpool_t *inner = NULL;
  char *err = NULL;
  int rc = wpool_create(&inner, &o, &err);
  if (rc != 0) {
    rc = wpool_out_fail(out, 2, "inner %s pool: %s: %s", wt_method_name(m),
                        wpool_err_name(rc), err ? err : "");
    wpool_free(err);
    return rc;
  }
  int in[10], sq[10], sum = 0;
  for (int i = 0; i < 10; i++)
    in[i] = i;
  rc = wpool_map(inner, task_square, in, 10, sizeof *in, sq, sizeof *sq, 1,
                 &err);
  wpool_destroy(inner);
  if (rc != 0) {
    rc = wpool_out_fail(out, 3, "inner map: %s", err ? err : "");
    wpool_free(err);
    return rc;
  }
  for (int i = 0; i < 10; i++)
    sum += sq[i];
  return wpool_out_set(out, &sum, sizeof sum);
}
WPOOL_REGISTER(task_nested)

typedef struct nested_arg {
  int method;
  wt_gate_arg_t gate;
} nested_arg_t;

/* task_nested, once the gate lets it through. */
static int task_nested_gated(const void *arg, size_t len, wpool_out_t *out) {
  nested_arg_t a;
  if (len != sizeof a)
    return wpool_out_fail(out, 1, "bad argument");
  memcpy(&a, arg, sizeof a);
  wt_gate_announce(&a.gate);
  wt_gate_pass(&a.gate);
  return task_nested(&a.method, sizeof a.method, out);
}
WPOOL_REGISTER(task_nested_gated)

/* Start a child that leaves the worker's process group and session
   (setsid) and waits forever; tell its pid through the FIFO named by the
   argument; return at once. */
static int task_escape(const void *arg, size_t len, wpool_out_t *out) {
  char path[256];
  if (len == 0 || len >= sizeof path)
    return wpool_out_fail(out, 1, "bad argument");
  memcpy(path, arg, len);
  path[len] = '\0';
  pid_t child = fork();
  if (child == 0) {
    /* Holding the test's output pipes would keep a runner waiting for as
       long as this lives. */
    int null = open("/dev/null", O_RDWR);
    for (int fd = 0; fd < 3; fd++)
      dup2(null, fd);
    for (int fd = 3; fd < 1024; fd++)
      close(fd);
    setsid();
    for (;;)
      pause();
  }
  long pid = (long)child;
  int fd = open(path, O_WRONLY);
  int ok = child > 0 && fd >= 0 && write(fd, &pid, sizeof pid) == sizeof pid;
  if (fd >= 0)
    close(fd);
  return ok ? wpool_out_set(out, &pid, sizeof pid)
            : wpool_out_fail(out, 2, "could not start or report a child");
}
WPOOL_REGISTER(task_escape)

/* Anything -> a bit mask of the standard descriptors open in the worker. */
static int task_std_open(const void *arg, size_t len, wpool_out_t *out) {
  (void)arg;
  (void)len;
  int mask = 0;
  for (int fd = 0; fd < 3; fd++)
    if (fcntl(fd, F_GETFD) >= 0)
      mask |= 1 << fd;
  return wpool_out_set(out, &mask, sizeof mask);
}
WPOOL_REGISTER(task_std_open)

/* ---------------------------------------------------------------------- */
/* Helpers                                                                 */

static void nap_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
    ;
}

/* Fork a child that runs fn and exits with its return value. */
static pid_t run_child(int (*fn)(void *), void *arg) {
  fflush(NULL);
  pid_t pid = fork();
  if (pid == 0)
    _exit(fn(arg));
  return pid;
}

/* Wait for child pid for at most WT_LONG_MS (only a hang takes that long;
   it is then killed): its exit status, or -1. */
static int wait_child(pid_t pid) {
  long deadline = wt_now_ms() + WT_LONG_MS;
  int st;
  for (;;) {
    pid_t r = waitpid(pid, &st, WNOHANG);
    if (r == pid)
      return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    if (r < 0 && errno != EINTR)
      return -1;
    if (wt_now_ms() > deadline) {
      kill(pid, SIGKILL);
      waitpid(pid, &st, 0);
      return -1;
    }
    nap_ms(5);
  }
}

/* Ended: no such process, or a zombie (whoever its parent is now). */
static int process_gone(long pid) {
  char path[64], buf[512];
  snprintf(path, sizeof path, "/proc/%ld/stat", pid);
  FILE *f = fopen(path, "r");
  if (f == NULL)
    return kill((pid_t)pid, 0) != 0 && errno == ESRCH;
  size_t got = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[got] = '\0';
  char *rp = strrchr(buf, ')');
  return rp != NULL && (rp[2] == 'Z' || rp[2] == 'X');
}

/* Poll (bounded) until every pid in pids has ended, reaping whatever ends
   among our own children meanwhile. 1 when all did. */
static int all_gone(const long *pids, int n) {
  long deadline = wt_now_ms() + WT_LONG_MS;
  for (;;) {
    while (waitpid(-1, NULL, WNOHANG) > 0)
      ;
    int left = 0;
    for (int i = 0; i < n; i++)
      left += pids[i] > 0 && !process_gone(pids[i]);
    if (left == 0)
      return 1;
    if (wt_now_ms() > deadline)
      return 0;
    nap_ms(5);
  }
}

/* ---------------------------------------------------------------------- */
/* Issue 10.4: standard streams closed at wpool_create                     */

/* Returns a bit mask of what went wrong (0: nothing). */
static int stdio_closed_scenario(void *unused) {
  (void)unused;
  int saved[3], bad = 0;
  for (int i = 0; i < 3; i++)
    saved[i] = fcntl(i, F_DUPFD_CLOEXEC, 100);
  for (int i = 0; i < 3; i++)
    close(i);
  wpool_options_t o;
  wt_options(&o, 2);
  wpool_t *pool = NULL;
  if (wpool_create(&pool, &o, NULL) != 0)
    bad |= 1;
  /* The pool must have taken none of them. */
  for (int i = 0; i < 3; i++)
    if (fcntl(i, F_GETFD) >= 0)
      bad |= 2;
  /* The program restores its streams over whatever sits there now. */
  for (int i = 0; i < 3; i++)
    dup2(saved[i], i);
  if (pool != NULL) {
    int in[40], out[40];
    for (int i = 0; i < 40; i++)
      in[i] = i;
    if (wpool_map(pool, task_square, in, 40, sizeof *in, out, sizeof *out, 1,
                  NULL) != 0)
      bad |= 4;
    for (int i = 0; i < 40; i++)
      if (out[i] != i * i)
        bad |= 8;
    /* Process workers get the null device for the closed streams. */
    int mask = 0;
    if (wt_is_process() &&
        (wt_apply_int(pool, task_std_open, 0, &mask, NULL) != 0 || mask != 7))
      bad |= 16;
    wpool_destroy(pool);
  }
  for (int i = 0; i < 3; i++)
    close(saved[i]);
  return bad;
}

/*
 * A pool created while descriptors 0-2 are closed keeps its channels off
 * them, so that the program can restore its streams with dup2() later; the
 * pool then works and is destroyed without a hang.
 */
static void test_stdio_closed(void) {
  pid_t pid = run_child(stdio_closed_scenario, NULL);
  CU_ASSERT_TRUE_FATAL(pid > 0);
  int st = wait_child(pid);
  if (st != 0)
    fprintf(stderr,
            "\n  scenario: %d (-1 hung; bits: 1 create failed, 2 a channel on "
            "0-2, 4 and 8 tasks failed, 16 workers without stdio)\n",
            st);
  CU_ASSERT_EQUAL(st, 0);
}

/* ---------------------------------------------------------------------- */
/* A pool outlives the thread that created it                              */

static void *create_in_thread(void *arg) {
  *(wpool_t **)arg = wt_pool(2);
  return NULL;
}

/*
 * Linux sends a child's parent-death signal when the *thread* that started
 * it ends: a pool created by a thread that has ended since must still work
 * (its fork server must not take that for its parent's death).
 */
static void test_creator_thread_ends(void) {
  wpool_t *pool = NULL;
  wt_thread_t t;
  CU_ASSERT_EQUAL_FATAL(wt_thread_start(&t, create_in_thread, &pool), 0);
  wt_thread_join(t);
  CU_ASSERT_PTR_NOT_NULL_FATAL(pool);
  wt_assert_squares(pool, 20);
  wpool_stats_t st;
  CU_ASSERT_EQUAL(wpool_stats(pool, &st, NULL, 0), 0);
  CU_ASSERT_EQUAL(st.workers_replaced, 0);
  wpool_destroy(pool);
}

/* ---------------------------------------------------------------------- */
/* Issue 10.6: pools nested in tasks, every combination                    */

/*
 * Each of the pool's 2 workers runs a task that creates, uses and destroys
 * a pool of each method, both at once (held at a gate until both have
 * started, so that each worker has one): every task succeeds, and no outer
 * worker is harmed by the inner pools (none replaced).
 */
static void test_nested_pools(void) {
  wpool_t *pool = wt_pool(2);
  CU_ASSERT_PTR_NOT_NULL_FATAL(pool);
  wt_gate_t g;
  CU_ASSERT_EQUAL_FATAL(wt_gate_open(&g), 0);
  static const wpool_method_t inner[] = {WPOOL_FORK, WPOOL_SPAWN, WPOOL_THREAD};
  for (size_t i = 0; i < sizeof inner / sizeof inner[0]; i++) {
    nested_arg_t a = {(int)inner[i], wt_gate_arg(&g, 0)};
    wpool_result_t *r[2] = {NULL, NULL};
    for (int k = 0; k < 2; k++)
      CU_ASSERT_EQUAL(wpool_apply_async(pool, task_nested_gated, &a, sizeof a,
                                        NULL, NULL, NULL, &r[k]),
                      0);
    CU_ASSERT_EQUAL(wt_gate_wait_started(&g, 2), 0);
    CU_ASSERT_EQUAL(wt_gate_release(&g, 2), 0);
    for (int k = 0; k < 2; k++) {
      int sum = 0;
      int rc = r[k] ? wt_result_int(r[k], WT_LONG_MS, &sum) : -1;
      if (rc != 0)
        fprintf(stderr, "\n  %s in %s: %s\n", wt_method_name(inner[i]),
                wt_method_name(wt_method),
                r[k] ? wpool_result_message(r[k]) : "");
      CU_ASSERT_EQUAL(rc, 0);
      CU_ASSERT_EQUAL(sum, 285);
      wpool_result_free(r[k]);
    }
  }
  wpool_stats_t st;
  CU_ASSERT_EQUAL(wpool_stats(pool, &st, NULL, 0), 0);
  CU_ASSERT_EQUAL(st.workers_replaced, 0);
  wt_gate_close(&g);
  wpool_destroy(pool);
}

/* ---------------------------------------------------------------------- */
/* Issue 10.9: too few descriptors                                         */

static int highest_fd(void) {
  int hi = -1;
  DIR *d = opendir("/proc/self/fd");
  if (d == NULL)
    return (int)sysconf(_SC_OPEN_MAX) - 1;
  int own = dirfd(d);
  for (struct dirent *e; (e = readdir(d));) {
    int fd = atoi(e->d_name);
    if (e->d_name[0] != '.' && fd != own && fd > hi)
      hi = fd;
  }
  closedir(d);
  return hi;
}

typedef struct fdlimit_report {
  int rc;
  char msg[400];
} fdlimit_report_t;

/* A pool of 8 workers with room for 5 more descriptors: the error. */
static int fd_limit_scenario(void *arg) {
  /* Only 0-2 and the report pipe (as 3) stay open, so that the limit is
     the number of descriptors left. */
  int wr = fcntl(*(int *)arg, F_DUPFD_CLOEXEC, 200);
  if (wr < 0 || dup2(wr, 3) != 3)
    return 2;
  for (int fd = highest_fd(); fd > 3; fd--)
    close(fd);
  wr = 3;
  fdlimit_report_t rep;
  memset(&rep, 0, sizeof rep);
  struct rlimit rl;
  getrlimit(RLIMIT_NOFILE, &rl);
  rl.rlim_cur = 4 + 5;
  if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
    return 3;
  wpool_options_t o;
  wt_options(&o, 8);
  wpool_t *pool = NULL;
  char *err = NULL;
  rep.rc = wpool_create(&pool, &o, &err);
  snprintf(rep.msg, sizeof rep.msg, "%s", err ? err : "");
  wpool_free(err);
  wpool_destroy(pool);
  return write(wr, &rep, sizeof rep) == (ssize_t)sizeof rep ? 0 : 4;
}

/*
 * RLIMIT_NOFILE too low for the worker count: wpool_create fails and says
 * that descriptors ran out (EMFILE) and how many the pool needs.
 */
static void test_fd_limit(void) {
  if (!wt_is_process())
    WT_SKIP("thread workers use no descriptors");
  int rep_pipe[2];
  CU_ASSERT_EQUAL_FATAL(pipe(rep_pipe), 0);
  pid_t pid = run_child(fd_limit_scenario, &rep_pipe[1]);
  close(rep_pipe[1]);
  fdlimit_report_t rep;
  memset(&rep, 0, sizeof rep);
  struct pollfd p = {rep_pipe[0], POLLIN, 0};
  if (poll(&p, 1, (int)WT_LONG_MS) == 1 &&
      read(rep_pipe[0], &rep, sizeof rep) != (ssize_t)sizeof rep)
    rep.rc = 1;
  close(rep_pipe[0]);
  CU_ASSERT_EQUAL(wait_child(pid), 0);
  CU_ASSERT_TRUE(rep.rc == WPOOL_ESYS || rep.rc == WPOOL_ESPAWN);
  if (rep.rc != WPOOL_ESYS || !wt_contains(rep.msg, "per worker"))
    fprintf(stderr, "\n  %s: %s\n", wpool_err_name(rep.rc), rep.msg);
  CU_ASSERT_TRUE(wt_contains(rep.msg, "EMFILE"));
  CU_ASSERT_TRUE(wt_contains(rep.msg, "RLIMIT_NOFILE"));
  CU_ASSERT_TRUE(wt_contains(rep.msg, "2 per worker"));
}

#ifdef __linux__
/* ---------------------------------------------------------------------- */
/* Issue 10.2: workers die with their parent, mid-task                     */

enum { DIE_KILLED, DIE_EXIT };

typedef struct death_arg {
  wt_gate_t *gate;
  int report; /* write end: two worker pids */
  int how;
} death_arg_t;

/* The intermediate process: a pool of 2 workers, both held at the gate,
   their pids reported; then it is killed, or exits without destroying. */
static int death_scenario(void *arg) {
  death_arg_t *a = arg;
  long pids[2] = {0, 0};
  wpool_options_t o;
  wt_options(&o, 2);
  wpool_t *pool = NULL;
  wpool_result_t *r[2] = {NULL, NULL};
  if (wpool_create(&pool, &o, NULL) == 0) {
    for (int i = 0; i < 2; i++) {
      wt_gate_arg_t ga = wt_gate_arg(a->gate, i);
      wpool_apply_async(pool, task_gate, &ga, sizeof ga, NULL, NULL, NULL,
                        &r[i]);
    }
    wpool_stats_t st;
    if (wt_gate_wait_started(a->gate, 2) == 0)
      wpool_stats(pool, &st, pids, 2);
  }
  if (write(a->report, pids, sizeof pids) != (ssize_t)sizeof pids)
    return 1;
  if (a->how == DIE_EXIT)
    exit(0); /* atexit handlers and all, the pool never destroyed */
  for (;;)
    pause();
}

/*
 * The parent of a fork or spawn pool dies while both workers are busy in a
 * task: every worker ends without waiting for its task to finish (the
 * tasks are held at a gate that this test never opens). The test is a
 * subreaper, so orphans come to it and nothing escapes its count.
 */
static void parent_dies_mid_task(int how) {
  if (!wt_is_process())
    WT_SKIP("thread workers are the parent's own threads");
  CU_ASSERT_EQUAL_FATAL(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
  /* Opened before the intermediate exists: the test keeps its own writer on
     "go", so the intermediate's death does not release the tasks. */
  wt_gate_t g;
  CU_ASSERT_EQUAL_FATAL(wt_gate_open(&g), 0);
  int rep[2];
  CU_ASSERT_EQUAL_FATAL(pipe(rep), 0);
  death_arg_t a = {&g, rep[1], how};
  pid_t mid = run_child(death_scenario, &a);
  close(rep[1]);
  CU_ASSERT_TRUE_FATAL(mid > 0);
  long pids[2] = {0, 0};
  struct pollfd p = {rep[0], POLLIN, 0};
  if (poll(&p, 1, (int)WT_LONG_MS) != 1 ||
      read(rep[0], pids, sizeof pids) != (ssize_t)sizeof pids)
    pids[0] = pids[1] = 0;
  close(rep[0]);
  CU_ASSERT_TRUE(pids[0] > 0 && pids[1] > 0);
  if (how == DIE_KILLED)
    kill(mid, SIGKILL);
  int gone = all_gone(pids, 2);
  CU_ASSERT_TRUE(gone);
  for (int i = 0; !gone && i < 2; i++)
    if (pids[i] > 0)
      kill((pid_t)pids[i], SIGKILL); /* clean up after the failure */
  /* Everything else the intermediate left (its fork server) ends too. */
  long deadline = wt_now_ms() + WT_LONG_MS;
  while (waitpid(-1, NULL, WNOHANG) >= 0 && wt_now_ms() < deadline)
    nap_ms(5);
  CU_ASSERT_EQUAL(waitpid(-1, NULL, WNOHANG), -1);
  CU_ASSERT_EQUAL(errno, ECHILD);
  wt_gate_close(&g);
  prctl(PR_SET_CHILD_SUBREAPER, 0);
}

static void test_parent_killed_mid_task(void) {
  parent_dies_mid_task(DIE_KILLED);
}

static void test_parent_exits_mid_task(void) { parent_dies_mid_task(DIE_EXIT); }

/* ---------------------------------------------------------------------- */
/* Issue 10.11: descendants that leave the process group                   */

/* Run task_escape in pool, return the escaped child's pid (0 on failure). */
static long start_escapee(wpool_t *pool, const char *fifo) {
  wpool_result_t *r = NULL;
  if (wpool_apply_async(pool, task_escape, fifo, strlen(fifo), NULL, NULL, NULL,
                        &r) != 0)
    return 0;
  int fd = open(fifo, O_RDONLY); /* until the task opens it to write */
  long pid = 0;
  if (fd < 0 || read(fd, &pid, sizeof pid) != (ssize_t)sizeof pid)
    pid = 0;
  if (fd >= 0)
    close(fd);
  CU_ASSERT_EQUAL(wpool_result_get(r, WT_LONG_MS, NULL, NULL), 0);
  wpool_result_free(r);
  return pid;
}

/*
 * A task's child calls setsid() and so leaves the worker's process group:
 * it still ends with its worker. With close and join (the worker ends by
 * itself) for both process methods; with a plain destroy (workers killed)
 * for fork workers, whose fork server adopts what a killed worker leaves.
 * Spawn workers killed by the pool leave such a process behind: the
 * documented limit (wpool.h).
 */
static void test_setsid_escapee(void) {
  if (!wt_is_process())
    WT_SKIP("thread workers have no process group to leave");
  char fifo[64];
  snprintf(fifo, sizeof fifo, "/tmp/wpool-escape-%ld", (long)getpid());
  unlink(fifo);
  CU_ASSERT_EQUAL_FATAL(mkfifo(fifo, 0600), 0);
  for (int killed = 0; killed < 2; killed++) {
    if (killed && wt_method != WPOOL_FORK)
      break;
    wpool_t *pool = wt_pool(1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(pool);
    long esc = start_escapee(pool, fifo);
    CU_ASSERT_TRUE(esc > 0);
    if (!killed) {
      wpool_close(pool);
      CU_ASSERT_EQUAL(wpool_join(pool), 0);
    }
    wpool_destroy(pool);
    int gone = all_gone(&esc, 1);
    CU_ASSERT_TRUE(gone);
    if (!gone && esc > 0)
      kill((pid_t)esc, SIGKILL);
  }
  unlink(fifo);
}
#endif

#ifdef __linux__
/*
 * A fork pool's server leaves the teardown of its copy of the program to
 * an orphan, so that wpool_destroy need not wait for it, but only where
 * that orphan cannot become the program's own child: a program that adopts
 * orphans (a child subreaper, as this test makes itself the second time)
 * is left with no child by wpool_destroy, nor is one that does not.
 */
static void test_destroy_leaves_no_child(void) {
  if (wt_method != WPOOL_FORK)
    WT_SKIP("only fork pools have a fork server");
  for (int adopts = 0; adopts < 2; adopts++) {
    CU_ASSERT_EQUAL_FATAL(prctl(PR_SET_CHILD_SUBREAPER, adopts), 0);
    wpool_t *pool = wt_pool(2);
    CU_ASSERT_PTR_NOT_NULL_FATAL(pool);
    int y = 0;
    CU_ASSERT_EQUAL(wt_apply_int(pool, task_square, 3, &y, NULL), 0);
    CU_ASSERT_EQUAL(y, 9);
    wpool_destroy(pool);
    CU_ASSERT_EQUAL(wt_children_left(), 0);
  }
  prctl(PR_SET_CHILD_SUBREAPER, 0);
}
#endif

static const wt_test_t tests[] = {
    {"stdio_closed", test_stdio_closed},
    {"creator_thread_ends", test_creator_thread_ends},
    {"nested_pools", test_nested_pools},
    {"fd_limit", test_fd_limit},
#ifdef __linux__
    {"parent_killed_mid_task", test_parent_killed_mid_task},
    {"parent_exits_mid_task", test_parent_exits_mid_task},
    {"setsid_escapee", test_setsid_escapee},
    {"destroy_leaves_no_child", test_destroy_leaves_no_child},
#endif
    {NULL, NULL},
};

const wt_suite_t wt_suite_posix_lifecycle = {"posix_lifecycle", 1, 0, tests};
