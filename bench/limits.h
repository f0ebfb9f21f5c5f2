/*
 * limits: the physical limits and C peers that BENCH.md names, measured on
 * this machine in the same run as wpool. One mode per invocation:
 *
 *   limits MODE --workload W2 --impl c-pipe-pingpong-cross [options]
 *
 * Every mode prints its figures as RESULT lines under the workload and impl
 * names the runner gives, so that one C measurement can serve as the peer of
 * several workloads. The modes live in three files: limits_ipc.c (pipes),
 * limits_proc.c (processes), limits_thread.c (threads).
 */
#ifndef BENCH_LIMITS_H
#define BENCH_LIMITS_H

#include <stddef.h>

/* A mode: reads its options from argv, prints RESULT lines. */
typedef void (*lim_mode_fn)(int argc, char **argv);

/* Print one RESULT line under the workload and impl given on the command line.
 */
void lim_emit(const char *metric, const char *unit, double value);

/* Write or read exactly len bytes (blocking); die on an error or early EOF. */
void lim_write_all(int fd, const void *buf, size_t len);
void lim_read_all(int fd, void *buf, size_t len);

/* limits_ipc.c */
void lim_pingpong(int argc, char **argv);
void lim_pipe_bw(int argc, char **argv);
void lim_vmsplice_bw(int argc, char **argv);
void lim_memcpy_bw(int argc, char **argv);
void lim_dispatch(int argc, char **argv);

/* limits_mix.c */
void lim_pipe_mix(int argc, char **argv);

/* limits_proc.c */
void lim_fork_cycle(int argc, char **argv);
void lim_spawn_cycle(int argc, char **argv);
void lim_noipc(int argc, char **argv);

/* limits_thread.c */
void lim_spin(int argc, char **argv);
void lim_mutex_queue(int argc, char **argv);
void lim_mutex_rtt(int argc, char **argv);
void lim_gthreadpool(int argc, char **argv);
void lim_gthreadpool_rtt(int argc, char **argv);
void lim_noise(int argc, char **argv);

#endif /* BENCH_LIMITS_H */
