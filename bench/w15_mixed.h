/* W15 (large mixed payloads through wpool_apply_async), wpool's side; see
   w15_mixed.c. Kept out of wpool_bench.c so that its workloads stay apart. */
#ifndef BENCH_W15_MIXED_H
#define BENCH_W15_MIXED_H

#include <wpool.h>

/* Runs W15 for one method: n buffers of the mix (mix.h), reps times, on
   pools of `processes` workers; prints RESULT lines under impl. With
   rewrite, the caller writes its buffers again before each pass. */
void bench_w15(const char *impl, wpool_method_t method, int processes, long n,
               long reps, int rewrite);

#endif /* BENCH_W15_MIXED_H */
