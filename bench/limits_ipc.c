/*
 * Pipe limits: ping-pong round trips, pipe and vmsplice bandwidth, memcpy
 * bandwidth, and the dispatch ceilings of W3 and W4 (a parent feeding two
 * worker processes through pipes with poll, as a pool must).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common.h"
#include "limits.h"

static void make_pipe(int fds[2]) {
  if (pipe(fds) != 0)
    bench_die("limits: pipe: %s", strerror(errno));
}

static void reap(pid_t pid) {
  int st;
  while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
    ;
  if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
    bench_die("limits: child %d failed (status %d)", (int)pid, st);
}

/*
 * Ping-pong: a parent and a child process bounce a 64-byte message over two
 * pipes. --where cross pins them to CPUs 0 and 1 (each hop wakes the other
 * CPU, as wpool's round trip to a worker does), one pins both to CPU 0,
 * free leaves placement to the scheduler.
 */
void lim_pingpong(int argc, char **argv) {
  long n = bench_arg_long(argc, argv, "--n", 20000);
  const char *where = bench_arg_str(argc, argv, "--where", "cross");
  int pcpu = -1, ccpu = -1;
  if (strcmp(where, "cross") == 0) {
    pcpu = 0;
    ccpu = 1;
  } else if (strcmp(where, "one") == 0) {
    pcpu = ccpu = 0;
  }
  if (ccpu >= bench_ncpus())
    bench_die("limits: pingpong --where %s needs %d CPUs", where, ccpu + 1);
  int a[2], b[2];
  make_pipe(a);
  make_pipe(b);
  char msg[64] = {0};
  pid_t pid = fork();
  if (pid == 0) {
    if (ccpu >= 0)
      bench_pin(ccpu);
    close(a[1]);
    close(b[0]);
    for (;;) {
      ssize_t r = read(a[0], msg, sizeof msg);
      if (r <= 0)
        _exit(r == 0 ? 0 : 1);
      lim_write_all(b[1], msg, (size_t)r);
    }
  }
  close(a[0]);
  close(b[1]);
  if (pcpu >= 0)
    bench_pin(pcpu);
  uint64_t t0 = 0;
  for (long i = -200; i < n; i++) { /* the first 200: warm-up */
    if (i == 0)
      t0 = bench_now_ns();
    lim_write_all(a[1], msg, sizeof msg);
    lim_read_all(b[0], msg, sizeof msg);
  }
  double us = bench_secs(t0, bench_now_ns()) * 1e6 / (double)n;
  close(a[1]);
  reap(pid);
  lim_emit("round_trip", "us", us);
}

/*
 * Bandwidth from a parent to a child over one pipe: --mb MiB in --write-byte
 * writes, the pipe grown to --pipe-size bytes when given (F_SETPIPE_SZ).
 * The child answers one byte when it has read everything.
 */
static void pipe_bw(int argc, char **argv, int use_vmsplice) {
  size_t total = (size_t)bench_arg_long(argc, argv, "--mb", 512) << 20;
  size_t wsize = (size_t)bench_arg_long(argc, argv, "--write", 65536);
  long pipe_size = bench_arg_long(argc, argv, "--pipe-size", 0);
  int d[2], ack[2];
  make_pipe(d);
  make_pipe(ack);
  if (pipe_size > 0 && fcntl(d[1], F_SETPIPE_SZ, (int)pipe_size) < 0)
    bench_die("limits: F_SETPIPE_SZ %ld: %s", pipe_size, strerror(errno));
  char *buf = malloc(wsize);
  if (!buf)
    bench_die("limits: out of memory");
  memset(buf, 0x5a, wsize);
  pid_t pid = fork();
  if (pid == 0) {
    close(d[1]);
    size_t got = 0;
    while (got < total) {
      ssize_t r = read(d[0], buf, wsize);
      if (r <= 0)
        _exit(1);
      got += (size_t)r;
    }
    lim_write_all(ack[1], "k", 1);
    _exit(0);
  }
  close(d[0]);
  close(ack[1]);
  uint64_t t0 = bench_now_ns();
  for (size_t sent = 0; sent < total;) {
    size_t len = total - sent < wsize ? total - sent : wsize;
    if (use_vmsplice) {
      struct iovec iov = {buf, len};
      ssize_t r = vmsplice(d[1], &iov, 1, 0);
      if (r <= 0)
        bench_die("limits: vmsplice: %s", strerror(errno));
      sent += (size_t)r;
    } else {
      lim_write_all(d[1], buf, len);
      sent += len;
    }
  }
  char k;
  lim_read_all(ack[0], &k, 1);
  double s = bench_secs(t0, bench_now_ns());
  close(d[1]);
  reap(pid);
  free(buf);
  lim_emit("bandwidth", "MB/s", (double)total / s / 1e6);
}

void lim_pipe_bw(int argc, char **argv) { pipe_bw(argc, argv, 0); }

/* As pipe-bw, the writer handing its pages to the pipe (vmsplice(2)). */
void lim_vmsplice_bw(int argc, char **argv) { pipe_bw(argc, argv, 1); }

/* memcpy between two touched buffers of --mb MiB, --copies times. */
void lim_memcpy_bw(int argc, char **argv) {
  size_t size = (size_t)bench_arg_long(argc, argv, "--mb", 64) << 20;
  long copies = bench_arg_long(argc, argv, "--copies", 8);
  char *src = malloc(size), *dst = malloc(size);
  if (!src || !dst)
    bench_die("limits: out of memory");
  memset(src, 1, size);
  memset(dst, 2, size);
  uint64_t t0 = bench_now_ns();
  for (long i = 0; i < copies; i++) {
    src[i] = (char)i; /* so that no copy can be skipped */
    memcpy(dst, src, size);
  }
  double s = bench_secs(t0, bench_now_ns());
  if (dst[copies - 1] != (char)(copies - 1))
    bench_die("limits: memcpy check failed");
  free(src);
  free(dst);
  lim_emit("bandwidth", "MB/s", (double)size * (double)copies / s / 1e6);
}

/*
 * Dispatch: the parent maps "square" over n ints on two worker processes,
 * chunk ints per message, at most depth messages in flight per worker,
 * through one pipe each way per worker, with poll as a pool's I/O loop
 * does. Messages have a fixed size: an 8-byte header {first, count} and
 * chunk ints. With --coalesce 0 every message is one write and one read on
 * both sides; with --coalesce 1 each side moves as many messages as it can
 * per system call.
 */
typedef struct msg_hdr {
  uint32_t first, count;
} msg_hdr_t;

enum { COALESCE_BUF = 256 * 1024 };

static void dispatch_worker(int rfd, int wfd, size_t msize, int coalesce) {
  size_t cap = coalesce ? (COALESCE_BUF / msize + 1) * msize : msize;
  unsigned char *in = malloc(cap), *out = malloc(cap);
  size_t have = 0;
  if (!in || !out)
    _exit(1);
  for (;;) {
    ssize_t r = read(rfd, in + have, coalesce ? cap - have : msize - have);
    if (r < 0 && errno == EINTR)
      continue;
    if (r <= 0)
      _exit(r == 0 && have == 0 ? 0 : 1);
    have += (size_t)r;
    size_t k = have / msize;
    for (size_t m = 0; m < k; m++) {
      const msg_hdr_t *h = (const msg_hdr_t *)(in + m * msize);
      const int32_t *x = (const int32_t *)(h + 1);
      int32_t *y = (int32_t *)(out + m * msize + sizeof *h);
      memcpy(out + m * msize, h, sizeof *h);
      for (uint32_t i = 0; i < h->count; i++)
        y[i] = x[i] * x[i];
    }
    if (k > 0) {
      lim_write_all(wfd, out, k * msize);
      memmove(in, in + k * msize, have - k * msize);
      have -= k * msize;
    }
  }
}

typedef struct dworker {
  pid_t pid;
  int to, from;        /* parent's ends, non-blocking */
  size_t inflight;     /* messages sent whose results are not all read */
  unsigned char *obuf; /* messages being written */
  size_t olen, ooff;
  unsigned char *rbuf; /* results being read */
  size_t rlen;
} dworker_t;

void lim_dispatch(int argc, char **argv) {
  long n = bench_arg_long(argc, argv, "--n", 100000);
  size_t chunk = (size_t)bench_arg_long(argc, argv, "--chunk", 1);
  size_t depth = (size_t)bench_arg_long(argc, argv, "--depth", 256);
  int coalesce = (int)bench_arg_long(argc, argv, "--coalesce", 0);
  int nw = (int)bench_arg_long(argc, argv, "--workers", 2);
  size_t msize = sizeof(msg_hdr_t) + chunk * sizeof(int32_t);
  size_t bufcap = coalesce ? (COALESCE_BUF / msize + 1) * msize : msize;
  dworker_t w[8];
  if (nw < 1 || nw > 8)
    bench_die("limits: dispatch: 1 to 8 workers");
  for (int i = 0; i < nw; i++) {
    int t[2], f[2];
    make_pipe(t);
    make_pipe(f);
    w[i].pid = fork();
    if (w[i].pid == 0) {
      for (int j = 0; j < i; j++) {
        close(w[j].to);
        close(w[j].from);
      }
      close(t[1]);
      close(f[0]);
      dispatch_worker(t[0], f[1], msize, coalesce);
    }
    close(t[0]);
    close(f[1]);
    w[i].to = t[1];
    w[i].from = f[0];
    fcntl(w[i].to, F_SETFL, O_NONBLOCK);
    fcntl(w[i].from, F_SETFL, O_NONBLOCK);
    w[i].obuf = malloc(bufcap);
    w[i].rbuf = malloc(bufcap);
    if (!w[i].obuf || !w[i].rbuf)
      bench_die("limits: out of memory");
  }
  int32_t *in = malloc((size_t)n * sizeof *in),
          *out = malloc((size_t)n * sizeof *out);
  if (!in || !out)
    bench_die("limits: out of memory");
  for (long i = 0; i < n; i++) {
    in[i] = (int32_t)(i % 40000);
    out[i] = -1;
  }

  uint64_t t0 = bench_now_ns();
  long next = 0, done = 0;
  while (done < n) {
    struct pollfd pf[16];
    int np = 0;
    for (int i = 0; i < nw; i++) {
      int want_out =
          w[i].ooff < w[i].olen || (next < n && w[i].inflight < depth);
      pf[np++] = (struct pollfd){w[i].to, want_out ? POLLOUT : 0, 0};
      pf[np++] = (struct pollfd){w[i].from, w[i].inflight ? POLLIN : 0, 0};
    }
    if (poll(pf, (nfds_t)np, -1) < 0) {
      if (errno == EINTR)
        continue;
      bench_die("limits: poll: %s", strerror(errno));
    }
    for (int i = 0; i < nw; i++) {
      dworker_t *x = &w[i];
      /* Write and read until the pipe says EAGAIN: one system call per
         message (or per buffer of messages), not one poll per message. */
      while (pf[2 * i].revents & (POLLOUT | POLLERR)) {
        if (x->ooff == x->olen) { /* the buffer is empty: fill it */
          x->ooff = x->olen = 0;
          while (next < n && x->inflight < depth && x->olen + msize <= bufcap) {
            msg_hdr_t h = {(uint32_t)next, 0};
            h.count = (uint32_t)((size_t)(n - next) < chunk ? (size_t)(n - next)
                                                            : chunk);
            memcpy(x->obuf + x->olen, &h, sizeof h);
            memcpy(x->obuf + x->olen + sizeof h, in + next,
                   h.count * sizeof *in);
            x->olen += msize;
            next += h.count;
            x->inflight++;
          }
          if (x->olen == 0)
            break;
        }
        ssize_t r = write(x->to, x->obuf + x->ooff, x->olen - x->ooff);
        if (r < 0 && errno == EINTR)
          continue;
        if (r < 0 && errno == EAGAIN)
          break;
        if (r < 0)
          bench_die("limits: dispatch write: %s", strerror(errno));
        x->ooff += (size_t)r;
        if (x->ooff < x->olen)
          break; /* the pipe is full */
      }
      while (x->inflight &&
             (pf[2 * i + 1].revents & (POLLIN | POLLHUP | POLLERR))) {
        ssize_t r = read(x->from, x->rbuf + x->rlen,
                         coalesce ? bufcap - x->rlen : msize - x->rlen);
        if (r == 0)
          bench_die("limits: dispatch worker %d exited", i);
        if (r < 0 && errno == EINTR)
          continue;
        if (r < 0 && errno == EAGAIN)
          break;
        if (r < 0)
          bench_die("limits: dispatch read: %s", strerror(errno));
        x->rlen += (size_t)r;
        size_t k = x->rlen / msize;
        for (size_t m = 0; m < k; m++) {
          msg_hdr_t h;
          memcpy(&h, x->rbuf + m * msize, sizeof h);
          memcpy(out + h.first, x->rbuf + m * msize + sizeof h,
                 h.count * sizeof *out);
          done += h.count;
        }
        x->inflight -= k;
        memmove(x->rbuf, x->rbuf + k * msize, x->rlen - k * msize);
        x->rlen -= k * msize;
      }
    }
  }
  double s = bench_secs(t0, bench_now_ns());
  for (long i = 0; i < n; i++)
    if (out[i] != in[i] * in[i])
      bench_die("limits: dispatch: wrong result at %ld", i);
  for (int i = 0; i < nw; i++) {
    close(w[i].to);
    close(w[i].from);
    reap(w[i].pid);
    free(w[i].obuf);
    free(w[i].rbuf);
  }
  free(in);
  free(out);
  lim_emit("map_rate", "tasks/s", (double)n / s);
}
