/*
 * W16 of the benchmark: wpool's shared buffers (wpool_map_shm). Its own
 * file, so that the workload grows apart from the others of wpool_bench.c.
 */
#ifndef BENCH_W16_SHM_H
#define BENCH_W16_SHM_H

#include <wpool.h>

/* wpool_map_shm of a pass over each item (blob_sum), n items of 1 MiB with
   the default chunksize and n2 items of 16 MiB with chunksize 1, reps
   times: RESULT shm_map_1MiB and shm_map_16MiB in MB/s of input. */
void w16_map(const char *impl, wpool_method_t method, int processes, long n,
             long n2, long reps);

/* A map over a shared array of mib MiB, one item per worker, measured
   while every task holds its whole item: RESULT pss_added_<mib>MiB (the
   Pss of the parent and the workers then, minus before the map, with the
   array already filled), array_<mib>MiB and pss_fill_<mib>MiB (what
   filling the array added: the array itself, as a check of the measure),
   pte_added_<mib>MiB (the page tables of the same processes, which Pss
   leaves out). */
void w16_pss(const char *impl, wpool_method_t method, int processes,
             long mib);

#endif /* BENCH_W16_SHM_H */
