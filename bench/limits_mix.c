/*
 * W15's pipe limit: the buffers of the size mix (mix.h), written one after
 * the other by a parent into one pipe and read by a child, each into a
 * buffer of its own size as a worker receives an argument. The child
 * answers one byte when it has read everything. The pipe is grown to
 * --pipe-size bytes (F_SETPIPE_SZ; wpool grows its channels to 1 MiB).
 * --socket 1 moves them over a Unix stream socket pair instead, with 1 MiB
 * buffers, as wpool's task channel (a socket, for SCM_RIGHTS) is made.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common.h"
#include "limits.h"
#include "mix.h"

void lim_pipe_mix(int argc, char **argv) {
  long n = bench_arg_long(argc, argv, "--n", 400);
  long pipe_size = bench_arg_long(argc, argv, "--pipe-size", 0);
  int sock = (int)bench_arg_long(argc, argv, "--socket", 0);
  size_t *sizes = calloc((size_t)n, sizeof *sizes);
  if (!sizes)
    bench_die("limits: out of memory");
  size_t total = bench_mix_sizes(sizes, n, BENCH_MIX_SEED);
  int d[2], ack[2];
  if ((sock ? socketpair(AF_UNIX, SOCK_STREAM, 0, d) : pipe(d)) || pipe(ack))
    bench_die("limits: pipe: %s", strerror(errno));
  if (sock) {
    int big = 1 << 20;
    setsockopt(d[1], SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
    setsockopt(d[0], SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
  } else if (pipe_size > 0 && fcntl(d[1], F_SETPIPE_SZ, (int)pipe_size) < 0)
    bench_die("limits: F_SETPIPE_SZ %ld: %s", pipe_size, strerror(errno));
  pid_t pid = fork();
  if (pid < 0)
    bench_die("limits: fork: %s", strerror(errno));
  if (pid == 0) {
    close(d[1]);
    unsigned char *in = malloc(BENCH_MIX_MAX);
    if (!in)
      _exit(1);
    uint64_t digest = 0;
    for (long i = 0; i < n; i++) {
      lim_read_all(d[0], in, sizes[i]);
      digest += in[0] + in[sizes[i] - 1];
    }
    lim_write_all(ack[1], &digest, 1);
    _exit(0);
  }
  close(d[0]);
  close(ack[1]);
  unsigned char *buf = malloc(total);
  if (!buf)
    bench_die("limits: out of memory");
  for (size_t i = 0; i < total; i++) /* every page touched, as in wpool's */
    buf[i] = (unsigned char)(i * 131 >> 12);
  uint64_t t0 = bench_now_ns();
  size_t off = 0;
  for (long i = 0; i < n; i++) {
    lim_write_all(d[1], buf + off, sizes[i]);
    off += sizes[i];
  }
  char k;
  lim_read_all(ack[0], &k, 1);
  double s = bench_secs(t0, bench_now_ns());
  close(d[1]);
  int st;
  while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
    ;
  free(buf);
  free(sizes);
  lim_emit("bandwidth", "MB/s", (double)total / s / 1e6);
}
