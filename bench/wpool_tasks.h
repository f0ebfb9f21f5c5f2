/*
 * The task functions the wpool driver hands to its workers. They live in
 * their own file with WPOOL_REGISTER beside each, so that every process of
 * the program (the parent, forked and spawned workers) registers the same
 * table.
 */
#ifndef BENCH_WPOOL_TASKS_H
#define BENCH_WPOOL_TASKS_H

#include <stdint.h>
#include <wpool.h>

/* W7's argument: rounds of bench_crunch() and a seed. */
typedef struct crunch_arg {
  uint64_t iters;
  uint64_t seed;
} crunch_arg_t;

/* int -> its square (W1-W5, W8, W9): the trivial task of BENCH.md. */
int square(const void *arg, size_t len, wpool_out_t *out);
/* int64 -> its square (W11's lazily produced items). */
int square64(const void *arg, size_t len, wpool_out_t *out);
/* Any bytes -> their length and first byte as a uint64 (W6). */
int blob_len(const void *arg, size_t len, wpool_out_t *out);
/* Any bytes -> the sum of their 64-bit words (W6 over shared buffers). */
int blob_sum(const void *arg, size_t len, wpool_out_t *out);
/* int -> its square; a negative int ends the worker (W12). */
int square_or_die(const void *arg, size_t len, wpool_out_t *out);
/* crunch_arg_t -> bench_crunch()'s result (W7). */
int crunch(const void *arg, size_t len, wpool_out_t *out);
/* uint32 microseconds -> sleeps that long, returns the nanoseconds it took as
   a uint64 (W14: tasks whose length the scheduler cannot know). Sleeping
   rather than computing keeps another load on the machine out of the
   figure, which is about scheduling only. */
int sleeper(const void *arg, size_t len, wpool_out_t *out);

#endif /* BENCH_WPOOL_TASKS_H */
