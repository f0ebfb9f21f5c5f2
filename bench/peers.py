#!/usr/bin/env python3
"""The Python peers of the benchmark (standard library only).

One invocation runs one workload of BENCH.md with one peer and prints its
figures as RESULT lines, the same format as the C programs (common.h):

    python3 peers.py W2 --impl pool-fork [--n 20000] [--label NAME]

Peers (--impl): pool-fork, pool-spawn (multiprocessing.Pool with that
context), threadpool (multiprocessing.pool.ThreadPool), ppe-fork, ppe-spawn
(concurrent.futures.ProcessPoolExecutor). Every pool has two workers. The
runner (run.py) runs the spawn peer as installed and again with `python3 -S`
(no site-packages), as BENCH.md asks, under another --label.
"""
import argparse
import concurrent.futures
import math
import multiprocessing
import multiprocessing.pool
import os
import resource
import sys
import threading
import time

WORKERS = 2


def square(x):
    return x * x


def blob_len(b):
    return len(b)


def crunch(args):
    """W7's CPU-bound task: iters rounds of a 32-bit LCG."""
    iters, x = args
    for _ in range(iters):
        x = (x * 1103515245 + 12345) & 0xFFFFFFFF
    return x


def whoami(_):
    time.sleep(0.01)
    return os.getpid(), threading.get_ident()


def calibrate(ms):
    """Rounds of crunch() that take about ms milliseconds (best of 5)."""
    n = 20000
    best = min(timed(crunch, (n, 1)) for _ in range(5))
    return max(1, int(n * ms / 1e3 / best))


def timed(fn, *args):
    t0 = time.perf_counter()
    fn(*args)
    return time.perf_counter() - t0


def emit(workload, label, metric, unit, value):
    print(f"RESULT workload={workload} impl={label} metric={metric} "
          f"unit={unit} value={value:.6g}", flush=True)


def make_pool(impl, processes=WORKERS, maxtasks=None):
    if impl == "threadpool":
        return multiprocessing.pool.ThreadPool(processes)
    if impl in ("pool-fork", "pool-spawn"):
        ctx = multiprocessing.get_context(impl.split("-")[1])
        return ctx.Pool(processes, maxtasksperchild=maxtasks)
    if impl in ("ppe-fork", "ppe-spawn"):
        ctx = multiprocessing.get_context(impl.split("-")[1])
        return concurrent.futures.ProcessPoolExecutor(processes, mp_context=ctx)
    sys.exit(f"peers.py: unknown peer {impl}")


def ready(pool, workers=WORKERS):
    """Wait until every worker has started, as wpool_create does: a spawn
    context's Pool() returns before its interpreters have, and a
    ProcessPoolExecutor starts its processes on demand."""
    for _ in range(200):
        if len(set(pool.map(whoami, range(workers), chunksize=1))) == workers:
            return
    sys.exit("peers.py: the pool's workers did not all start")


def close(pool):
    if isinstance(pool, concurrent.futures.Executor):
        pool.shutdown(wait=True)
    else:
        pool.close()
        pool.join()


def apply_loop(pool, n):
    t0 = time.perf_counter()
    for i in range(n):
        if pool.apply(square, (i,)) != i * i:
            sys.exit("peers.py: wrong apply result")
    return (time.perf_counter() - t0) * 1e6 / n


def map_rate(pool, n, chunksize):
    data = list(range(n))
    t0 = time.perf_counter()
    out = pool.map(square, data, chunksize) if chunksize else pool.map(square, data)
    s = time.perf_counter() - t0
    if out[-1] != (n - 1) ** 2:
        sys.exit("peers.py: wrong map result")
    return n / s


def w1(a):
    for rep in range(-1, a.reps):  # rep -1: warm-up, not reported
        t0 = time.perf_counter()
        pool = make_pool(a.impl)
        pool.apply(square, (7,))
        close(pool)
        if rep >= 0:
            emit("W1", a.label, "start_to_join", "ms", (time.perf_counter() - t0) * 1e3)


def w2(a):
    pool = make_pool(a.impl)
    ready(pool)
    apply_loop(pool, 200)
    for _ in range(a.reps):
        emit("W2", a.label, "apply_latency", "us", apply_loop(pool, a.n or 20000))
    close(pool)


def w3w4(a, workload, n, chunksize):
    pool = make_pool(a.impl)
    ready(pool)
    map_rate(pool, 1000, chunksize)
    for _ in range(a.reps):
        emit(workload, a.label, "map_rate", "tasks/s", map_rate(pool, n, chunksize))
    close(pool)


def imap_rate(pool, n, ordered):
    f = pool.imap if ordered else pool.imap_unordered
    t0 = time.perf_counter()
    got = sum(1 for _ in f(square, range(n), 1))
    s = time.perf_counter() - t0
    if got != n:
        sys.exit("peers.py: imap lost results")
    return n / s


def w5(a):
    pool = make_pool(a.impl)
    ready(pool)
    imap_rate(pool, 1000, True)
    for _ in range(a.reps):
        emit("W5", a.label, "imap_rate", "tasks/s", imap_rate(pool, a.n or 100000, True))
        emit("W5", a.label, "imap_unordered_rate", "tasks/s",
             imap_rate(pool, a.n or 100000, False))
    close(pool)


def blob_rate(pool, blobs, chunksize):
    t0 = time.perf_counter()
    out = pool.map(blob_len, blobs, chunksize) if chunksize else pool.map(blob_len, blobs)
    s = time.perf_counter() - t0
    if out != [len(b) for b in blobs]:
        sys.exit("peers.py: wrong blob_len result")
    return sum(out) / s / 1e6


def w6(a):
    mib = 1 << 20
    small = [bytes([i % 251]) * mib for i in range(a.n or 64)]
    big = [bytes([i % 251]) * (16 * mib) for i in range(a.n2 or 8)]
    pool = make_pool(a.impl)
    ready(pool)
    blob_rate(pool, small[:2], 0)
    for _ in range(a.reps):
        emit("W6", a.label, "map_1MiB", "MB/s", blob_rate(pool, small, 0))
        emit("W6", a.label, "map_16MiB", "MB/s", blob_rate(pool, big, 1))
    close(pool)


def mix_sizes(n, seed=15):
    """W15's sizes, bit for bit as bench/mix.c makes them."""
    mask, s, out = (1 << 64) - 1, seed, []
    lo, hi = 16, 4 << 20
    span = math.log(hi / lo)
    for _ in range(n):
        s = (s + 0x9E3779B97F4A7C15) & mask
        z = s
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & mask
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & mask
        z ^= z >> 31
        u = (z >> 11) * 2.0 ** -53
        out.append(min(int(math.floor(lo * math.exp(u * span))), hi))
    return out


def digest(b):
    return len(b) + b[0] + b[-1]


def w15(a):
    blobs = [bytes([i % 251]) * n for i, n in enumerate(mix_sizes(a.n or 400))]
    total = sum(len(b) for b in blobs)
    pool = make_pool(a.impl)
    ready(pool)
    [r.get() for r in [pool.apply_async(digest, (b,)) for b in blobs[:8]]]
    for _ in range(a.reps):
        t0 = time.perf_counter()
        out = [r.get() for r in [pool.apply_async(digest, (b,)) for b in blobs]]
        s = time.perf_counter() - t0
        if out != [digest(b) for b in blobs]:
            sys.exit("peers.py: wrong W15 digest")
        emit("W15", a.label, "mixed", "MB/s", total / s / 1e6)
    close(pool)


def crunch_secs(a, workers, items):
    pool = make_pool(a.impl, workers)
    ready(pool, workers)
    t0 = time.perf_counter()
    pool.map(crunch, items, 1)
    s = time.perf_counter() - t0
    close(pool)
    return s


def w7(a):
    iters = calibrate(a.ms)
    items = [(iters, i + 1) for i in range(a.n or 200)]
    for _ in range(a.reps):
        t1, t2 = crunch_secs(a, 1, items), crunch_secs(a, WORKERS, items)
        emit("W7", a.label, "speedup", "x", t1 / t2)
        emit("W7", a.label, "secs_1_worker", "s", t1)
        emit("W7", a.label, "secs_2_workers", "s", t2)


def w8(a):
    for _ in range(a.reps):
        pool = make_pool(a.impl, maxtasks=1)
        ready(pool)
        emit("W8", a.label, "recycle_rate", "tasks/s", map_rate(pool, a.n or 2000, 1))
        close(pool)


def w9(a):
    pool = make_pool(a.impl)
    ready(pool)
    map_rate(pool, 1000, 0)
    apply_loop(pool, 200)
    for _ in range(a.reps):
        emit("W9", a.label, "map_default_rate", "tasks/s", map_rate(pool, a.n or 1000000, 0))
        emit("W9", a.label, "map_chunk1_rate", "tasks/s", map_rate(pool, a.n2 or 100000, 1))
        emit("W9", a.label, "apply_latency", "us", apply_loop(pool, a.n3 or 20000))
    close(pool)


def w10(a):
    pool = make_pool(a.impl)
    ready(pool)
    n, n2 = a.n or 5000, a.n2 or 20000
    for _ in range(a.reps):
        t0 = time.perf_counter()
        for i in range(n):
            if pool.submit(square, i).result() != i * i:
                sys.exit("peers.py: wrong submit result")
        emit("W10", a.label, "submit_latency", "us", (time.perf_counter() - t0) * 1e6 / n)
        t0 = time.perf_counter()
        got = sum(1 for _ in pool.map(square, range(n2), chunksize=1))
        s = time.perf_counter() - t0
        if got != n2:
            sys.exit("peers.py: executor map lost results")
        emit("W10", a.label, "map_rate", "tasks/s", n2 / s)
    close(pool)


def w11(a):
    n = a.n or 10000000
    pool = make_pool(a.impl)
    ready(pool)
    t0 = time.perf_counter()
    total = 0
    for i, y in enumerate(pool.imap(square, (i for i in range(n)), a.chunksize or 1000)):
        total += 1
    s = time.perf_counter() - t0
    close(pool)
    if total != n:
        sys.exit("peers.py: imap lost results")
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    emit("W11", a.label, f"peak_rss_{n}_items", "KiB", rss)
    emit("W11", a.label, f"rate_{n}_items", "tasks/s", n / s)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("workload")
    p.add_argument("--impl", required=True)
    p.add_argument("--label", help="name to file the figures under")
    p.add_argument("--reps", type=int, default=1)
    p.add_argument("--n", type=int, default=0)
    p.add_argument("--n2", type=int, default=0)
    p.add_argument("--n3", type=int, default=0)
    p.add_argument("--chunksize", type=int, default=0)
    p.add_argument("--ms", type=float, default=10.0, help="W7 task length")
    a = p.parse_args()
    a.label = a.label or "py-" + a.impl
    runs = {
        "W1": w1, "W2": w2,
        "W3": lambda a: w3w4(a, "W3", a.n or 1000000, 0),
        "W4": lambda a: w3w4(a, "W4", a.n or 100000, 1),
        "W5": w5, "W6": w6, "W7": w7, "W8": w8, "W9": w9, "W10": w10, "W11": w11,
        "W15": w15,
    }
    if a.workload not in runs:
        sys.exit(f"peers.py: unknown workload {a.workload}")
    runs[a.workload](a)


if __name__ == "__main__":
    main()
