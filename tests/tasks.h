/*
 * Task and initializer functions shared by the suites. All are registered in
 * tasks.c with WPOOL_REGISTER, so every process of the test program (fork
 * and spawn workers alike) has the same table.
 */
#ifndef WT_TASKS_H
#define WT_TASKS_H

#include "wpool.h"

/* Argument of task_gate(): a value to return and the gate's name (port.h). */
typedef struct wt_gate_arg {
  int value;
  char dir[124];
} wt_gate_arg_t;

/* A two-argument item for starmap-style calls. */
typedef struct wt_pair {
  int a, b;
} wt_pair_t;

/* Who ran a task: see task_ident(). */
typedef struct wt_ident {
  long pid;
  long worker_id;  /* distinct for every worker the initializer ran in */
  int init_count;  /* how often the initializer ran in this worker */
  int reserved;
} wt_ident_t;

/* Values of task_crash()'s argument that make it crash. */
enum { WT_CRASH_SEGV = -1, WT_CRASH_ABORT = -2, WT_CRASH_EXIT3 = -3 };

/* int x -> int x * x; a negative x fails with code 7 and "bad <x>". */
int task_square(const void *arg, size_t len, wpool_out_t *out);
/* Returns its argument unchanged. */
int task_echo(const void *arg, size_t len, wpool_out_t *out);
/* wt_pair_t -> int a * b. */
int task_mul(const void *arg, size_t len, wpool_out_t *out);
/* int c -> fails through wpool_out_fail(out, c, "bad <c>"). */
int task_fail(const void *arg, size_t len, wpool_out_t *out);
/* int c -> returns c without a message. */
int task_return(const void *arg, size_t len, wpool_out_t *out);
/* int n -> n bytes, each (n & 0xff), written with wpool_out_set(). */
int task_bytes(const void *arg, size_t len, wpool_out_t *out);
/* int n -> n bytes of 0xAB written through wpool_out_reserve(). */
int task_reserve(const void *arg, size_t len, wpool_out_t *out);
/* wt_gate_arg_t -> int value, after the gate lets it through. */
int task_gate(const void *arg, size_t len, wpool_out_t *out);
/* int ms -> ms, after sleeping at least ms milliseconds. */
int task_nap(const void *arg, size_t len, wpool_out_t *out);
/* Anything -> wt_ident_t of the worker running it. */
int task_ident(const void *arg, size_t len, wpool_out_t *out);
/* Anything -> the initializer argument this worker received. */
int task_initargs(const void *arg, size_t len, wpool_out_t *out);
/* int x -> x * x, or a crash for the WT_CRASH_* values. */
int task_crash(const void *arg, size_t len, wpool_out_t *out);
/* int x -> x, except that 2 never returns (it waits to be killed). */
int task_hang_on_two(const void *arg, size_t len, wpool_out_t *out);
/* Writes 1 MiB to stdout, then returns int 42. */
int task_print_mb(const void *arg, size_t len, wpool_out_t *out);

/* Initializer: counts its runs and keeps a copy of its argument. */
int init_record(const void *arg, size_t len, wpool_out_t *out);
/*
 * Initializer with a wt_gate_arg_t argument: announces the new worker on the
 * gate's "started" channel, so that a test can wait for a replacement worker.
 */
int init_announce(const void *arg, size_t len, wpool_out_t *out);
/* Initializer that always fails with code 5 and "init refused". */
int init_refuse(const void *arg, size_t len, wpool_out_t *out);

/* Largest initializer argument init_record() keeps. */
#define WT_INITARGS_MAX 64

#endif
