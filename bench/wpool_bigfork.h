/*
 * W12 of BENCH.md's round 2: fork pools in a big program. Kept apart from
 * wpool_bench.c's other workloads (its own file, its own entry).
 */
#ifndef BENCH_WPOOL_BIGFORK_H
#define BENCH_WPOOL_BIGFORK_H

/*
 * Touch mb MiB of heap, then reps times, interleaved: a 2-worker fork pool's
 * create + one apply + close + join + destroy, a bare fork + _exit + waitpid
 * of the same process, and the spawn pool's cycle for reference. Prints
 * RESULT lines under workload W12 (impls wpool-fork, wpool-spawn,
 * c-fork-bigparent). huge: the heap is madvise(MADV_HUGEPAGE)d first, and
 * every impl's name ends in "-thp".
 */
void w12_bigfork(long mb, long reps, int huge);

#endif
