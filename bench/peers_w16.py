#!/usr/bin/env python3
"""W16's Python peers: large items through Python's Pool, and through
multiprocessing.shared_memory (standard library only: numpy is not needed).

    python3 peers_w16.py map --impl pool-fork|pool-spawn|shm-fork|shm-spawn
                         [--n 64] [--n2 8] [--reps 1] [--label NAME]
    python3 peers_w16.py pss --impl shm-fork|shm-spawn [--mib 1024]

map: the items of wpool's W16 (n x 1 MiB with the default chunksize, n2 x
16 MiB with chunksize 1), and the same task: the sum of each item's 64-bit
words, computed as sum(memoryview(item).cast('Q')) mod 2**64, the fastest
pass the standard library has. pool-*: the items are bytes objects, pickled
through the pool's pipes. shm-*: the items sit in one SharedMemory block
filled once; a task gets (name, offset, length), attaches by name, sums its
slice and detaches, as wpool's process workers map a chunk for each task.
That pass costs Python about 100 times what it costs C, so it dominates the
figure: the transfer alone is reported too, as *_len_* (pool: the bytes
cross, the task returns their length, as in W6) and *_touch_* (shm: attach
and read one byte of every 4 KiB page of the slice).

pss: a map over one SharedMemory array of mib MiB, one slice per worker;
each task touches every page of its slice and waits on a Barrier shared
with the parent, which meanwhile sums the Pss (/proc/PID/smaps_rollup) of
itself and of the workers. Reports the Pss added over the same sum before
the map (the array already filled), as wpool's W16-pss does.

Figures print as RESULT lines under workload W16 (see common.h).
"""
import argparse
import multiprocessing
import os
import sys
import time
from multiprocessing import resource_tracker, shared_memory

WORKERS = 2
MIB = 1 << 20
MASK = (1 << 64) - 1
PAGE = 4096


def emit(label, metric, unit, value):
    print(f"RESULT workload=W16 impl={label} metric={metric} unit={unit} "
          f"value={value:.6g}", flush=True)


def words_sum(b):
    with memoryview(b) as mv, mv.cast("Q") as q:
        return sum(q) & MASK


def bytes_sum(b):
    return words_sum(b)


def bytes_len(b):
    return len(b)


def shm_sum(task):
    name, off, n = task
    shm = shared_memory.SharedMemory(name=name)
    try:
        with shm.buf[off:off + n] as mv:
            return words_sum(mv)
    finally:
        shm.close()


def shm_touch(task):
    name, off, n = task
    shm = shared_memory.SharedMemory(name=name)
    try:
        with shm.buf[off:off + n] as mv, mv[::PAGE] as pages:
            return sum(pages)
    finally:
        shm.close()


def pid(_):
    time.sleep(0.01)
    return os.getpid()


def worker_pids(pool):
    """Wait until every worker has started (a spawn Pool() returns before
    its interpreters are up); returns their pids."""
    for _ in range(200):
        pids = set(pool.map(pid, range(WORKERS), chunksize=1))
        if len(pids) == WORKERS:
            return pids
    sys.exit("peers_w16.py: the pool's workers did not all start")


def items(count, size):
    """count items of size bytes, each a different pattern."""
    base = bytes(range(256)) * (size // 256)
    return [base[i % 251:] + base[:i % 251] for i in range(count)]


def rate(pool, fn, tasks, chunksize, want, nbytes):
    t0 = time.perf_counter()
    out = pool.map(fn, tasks, chunksize) if chunksize else pool.map(fn, tasks)
    s = time.perf_counter() - t0
    if want is not None and out != want:
        sys.exit("peers_w16.py: wrong result from %s" % fn.__name__)
    return nbytes / s / 1e6


def context(a):
    """The pool's context, with the resource tracker started first: the
    workers then share the parent's, instead of each starting one that
    takes the segments they attach for leaks (and unlinks them)."""
    resource_tracker.ensure_running()
    return multiprocessing.get_context(a.impl.split("-")[1])


def run_map(a):
    ctx = context(a)
    sets = (("1MiB", items(a.n, MIB), 0), ("16MiB", items(a.n2, 16 * MIB), 1))
    sums = {k: [words_sum(b) for b in v] for k, v, _ in sets}
    with ctx.Pool(WORKERS) as pool:
        worker_pids(pool)
        if a.impl.startswith("pool-"):
            rate(pool, bytes_sum, sets[0][1][:2], 0, None, 1)  # warm-up
            for _ in range(a.reps):
                for k, v, cs in sets:
                    n = len(v) * len(v[0])
                    emit(a.label, "pool_sum_" + k, "MB/s", rate(pool, bytes_sum, v, cs, sums[k], n))
                    emit(a.label, "pool_len_" + k, "MB/s",
                         rate(pool, bytes_len, v, cs, [len(b) for b in v], n))
            return
        total = max(len(v) * len(v[0]) for _, v, _ in sets)
        shm = shared_memory.SharedMemory(create=True, size=total)
        try:
            tasks = {}
            for k, v, cs in sets:
                size = len(v[0])
                for i, b in enumerate(v):
                    shm.buf[i * size:(i + 1) * size] = b
                tasks[k] = [(shm.name, i * size, size) for i in range(len(v))]
                # the 1 MiB items are overwritten by the 16 MiB ones, so
                # each set is measured right after it is written
                rate(pool, shm_sum, tasks[k][:2], 0, None, 1)  # warm-up
                for _ in range(a.reps):
                    n = len(v) * size
                    emit(a.label, "shm_sum_" + k, "MB/s", rate(pool, shm_sum, tasks[k], cs, sums[k], n))
                    emit(a.label, "shm_touch_" + k, "MB/s", rate(pool, shm_touch, tasks[k], cs, None, n))
        finally:
            shm.close()
            shm.unlink()


def pss_kib(p):
    with open("/proc/%d/smaps_rollup" % p) as f:
        for line in f:
            if line.startswith("Pss:"):
                return int(line.split()[1])
    sys.exit("peers_w16.py: no Pss for %d" % p)


_barrier = None


def set_barrier(b):
    global _barrier
    _barrier = b


def hold(task):
    """Touch every page of the slice, then wait while the parent measures."""
    name, off, n = task
    shm = shared_memory.SharedMemory(name=name)
    try:
        with shm.buf[off:off + n] as mv, mv[::PAGE] as pages:
            total = sum(pages)
            _barrier.wait(timeout=60)  # every task is inside
            _barrier.wait(timeout=60)  # the parent has measured
            return total
    finally:
        shm.close()


def run_pss(a):
    if not os.path.exists("/proc/self/smaps_rollup"):
        print("UNAVAILABLE %s: Pss needs Linux's /proc/PID/smaps_rollup" % a.label)
        return
    ctx = context(a)
    size = a.mib * MIB
    barrier = ctx.Barrier(WORKERS + 1)
    with ctx.Pool(WORKERS, initializer=set_barrier, initargs=(barrier,)) as pool:
        pids = worker_pids(pool) | {os.getpid()}
        shm = shared_memory.SharedMemory(create=True, size=size)
        try:
            block = b"\x01" * (64 * MIB)
            for off in range(0, size, len(block)):
                shm.buf[off:off + min(len(block), size - off)] = block[:size - off]
            before = sum(pss_kib(p) for p in pids)
            part = size // WORKERS
            res = pool.map_async(hold, [(shm.name, i * part, part) for i in range(WORKERS)], 1)
            barrier.wait(timeout=60)
            during = sum(pss_kib(p) for p in pids)
            barrier.wait(timeout=60)
            if res.get(60) != [part // PAGE] * WORKERS:
                sys.exit("peers_w16.py: wrong touch result")
        finally:
            shm.close()
            shm.unlink()
    emit(a.label, "pss_added_%dMiB" % a.mib, "MiB", (during - before) / 1024)
    emit(a.label, "array_%dMiB" % a.mib, "MiB", a.mib)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("mode", choices=("map", "pss"))
    p.add_argument("--impl", required=True,
                   choices=("pool-fork", "pool-spawn", "shm-fork", "shm-spawn"))
    p.add_argument("--label")
    p.add_argument("--reps", type=int, default=1)
    p.add_argument("--n", type=int, default=64)
    p.add_argument("--n2", type=int, default=8)
    p.add_argument("--mib", type=int, default=1024)
    a = p.parse_args()
    a.label = a.label or "py-" + a.impl
    if a.mode == "pss" and not a.impl.startswith("shm-"):
        sys.exit("peers_w16.py: pss runs with shared_memory only")
    (run_map if a.mode == "map" else run_pss)(a)


if __name__ == "__main__":
    main()
