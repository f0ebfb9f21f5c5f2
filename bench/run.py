#!/usr/bin/env python3
"""Run the benchmark: W1-W11 of BENCH.md for wpool and its peers, same run.

Called by bench/run.sh (which builds the C programs first):

    bench/run.sh            full run, 5 repetitions (several minutes)
    bench/run.sh --quick    1 repetition of tiny sizes (a few seconds)

For every workload it checks the CPU for noise, then runs each
implementation (wpool with fork, spawn and thread workers, the Python peers,
the C limits) once per repetition, interleaved, so that drift on a shared
machine hits all of them alike; then it checks for noise again. From the
RESULT lines of the programs it computes median, min and max, the ratio
wpool / peer of the medians, and each row's BENCH.md target; it prints the
table and writes bench/out/results.csv (plus samples.csv, summary.csv,
noise.csv) and bench/out/chart.png.

Standard library only. Never fails on a missed target: the exit status is
1 only when a program of the benchmark failed or printed nothing.
"""
import argparse
import csv
import math
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import chart  # noqa: E402  (bench/chart.py)

# ---------------------------------------------------------------------------
# Sizes. Python peers run fewer items where they are slow (their figures are
# per call or per second, so the count only sets the run's length).

FULL = dict(
    w2=20000, w2_py=5000, w2_c=20000,
    w3=1000000,
    w4=100000, w4_py=50000, w4_c1=20000,
    w5=100000, w5_py=30000,
    w6=64, w6_big=8,
    w7=200, w7_ms=10,
    w8=2000, w8_py_fork=500, w8_py_spawn=40, w8_c_spawn=300,
    w9=1000000, w9_c1=100000, w9_apply=20000, w9_apply_py=5000,
    w10=5000, w10_map=10000,
    w11=10000000, w11_small=1000000, w11_chunk=1000,
    w13=80000, w14=400, w15=400,
    w16=64, w16_big=8, w16_py=16, w16_py_big=2, w16_pss_mib=1024, w16_pass_mb=128,
    w16_passes=4, w16_chunk_mb=8,
    w12_mb=200, w12_reps=3,  # W12: fork pools in a big program
    fork_cycles=1000, memcpy_mb=64, pipe_mb=512, noise=("--ms", 20, "--trials", 5),
    spawn_peers=True,
)
QUICK = dict(
    w2=200, w2_py=100, w2_c=500,
    w3=20000,
    w4=2000, w4_py=1000, w4_c1=500,
    w5=2000, w5_py=500,
    w6=4, w6_big=2,
    w7=6, w7_ms=2,
    w8=40, w8_py_fork=10, w8_py_spawn=2, w8_c_spawn=20,
    w9=20000, w9_c1=2000, w9_apply=200, w9_apply_py=100,
    w10=100, w10_map=200,
    w11=1000000, w11_small=300000, w11_chunk=1000,
    w13=8000, w14=80, w15=40,
    w16=4, w16_big=2, w16_py=2, w16_py_big=1, w16_pss_mib=64, w16_pass_mb=8,
    w16_passes=1, w16_chunk_mb=2,
    w12_mb=16, w12_reps=1,
    fork_cycles=50, memcpy_mb=8, pipe_mb=32, noise=("--ms", 2, "--trials", 3),
    # Python's spawn peers start interpreters (~0.3 s each): quick mode runs
    # them in W1 only.
    spawn_peers=False,
)

# How each metric reads: lower is better for times and memory.
LOWER_IS_BETTER = {"start_to_join", "apply_latency", "round_trip", "cycle_time", "crash_map", "refill",
                   "submit_latency", "create", "close_join", "destroy", "fork",
                   "exit_wait"}
# ... and so is every metric that starts with one of these.
LOWER_PREFIXES = ("peak_rss", "recovery_", "wall_", "pss_", "pte_")

# Display names of the implementations.
NAMES = {
    "wpool-fork": "wpool fork", "wpool-spawn": "wpool spawn",
    "wpool-thread": "wpool thread", "wpool-fork-1cpu": "wpool fork, 1 CPU",
    "wpool-fork-spin": "wpool fork, spin_us=100", "wpool-thread-spin": "wpool thread, spin_us=100",
    "wpool-fork-spin-1cpu": "wpool fork, spin_us=100, 1 CPU",
    "py-pool-fork": "Python Pool fork", "py-pool-spawn": "Python Pool spawn",
    "py-pool-spawn-S": "Python Pool spawn -S",
    "py-pool-fork-1cpu": "Python Pool fork, 1 CPU",
    "py-threadpool": "Python ThreadPool",
    "py-ppe-fork": "ProcessPoolExecutor fork",
    "py-ppe-spawn": "ProcessPoolExecutor spawn",
    "c-pipe-pingpong-cross": "C pipe ping-pong across CPUs",
    "c-pipe-pingpong-one": "C pipe ping-pong on one CPU",
    "c-pipe-pingpong-free": "C pipe ping-pong, unpinned",
    "c-spin-handoff": "C spin handoff across CPUs",
    "c-fork-cycle": "C fork+exit+wait",
    "c-fork-bigparent": "C fork+exit+wait, same big parent",
    "c-fork-bigparent-thp": "C fork+exit+wait, same big parent, THP", "c-spawn-cycle": "C posix_spawn+wait",
    "c-batched-dispatch": "C batched dispatch ceiling",
    "c-msg-per-task": "C one task per message",
    "c-msg-coalesced": "C one task per message, coalesced I/O",
    "c-msg-1-in-flight": "C one task per message, 1 in flight",
    "c-pipe-64KiB": "C pipe, 64 KiB writes",
    "c-pipe-1MiB": "C pipe grown to 1 MiB", "c-vmsplice": "C vmsplice",
    "c-memcpy": "C memcpy", "c-pipe-mix": "C pipe, W15's size mix", "c-noipc": "C processes, no IPC",
    "c-nopool": "the same program without a pool",
    "c-mutex-queue": "C mutex+condvar queue",
    "ideal": "ideal (task time / workers)",
    "c-mutex-rtt": "C mutex+condvar round trip",
    "c-gthreadpool": "GLib GThreadPool", "c-gthreadpool-rtt": "GLib GThreadPool round trip",
    "c-pass-1cpu": "C pass over the items, 1 CPU",
    "c-pass-2cpu": "C pass over the items, 2 CPUs",
    "c-pass-fresh-2cpu": "C pass, 2 processes, mapped afresh per chunk",
    "py-shm-fork": "Python shared_memory fork", "py-shm-spawn": "Python shared_memory spawn",
    "py-pool-fork-len": "Python Pool fork, transfer only",
    "py-pool-spawn-len": "Python Pool spawn, transfer only",
    "py-shm-fork-touch": "Python shared_memory fork, attach+touch only",
    "py-shm-spawn-touch": "Python shared_memory spawn, attach+touch only",
    "array": "the shared array's own size",
}


# W2's low-latency mode: wpool_options_t.spin_us.
SPIN_US = 100


class Job:
    """One program to run once per repetition (or only in the first, when
    once is set: a figure that barely moves and takes long); argv may hold
    {iters}."""

    def __init__(self, impl, argv, pin=False, once=False):
        self.impl, self.argv, self.pin, self.once = impl, argv, pin, once


def plan(s, bins, py):
    """The workloads in order, each a list of Jobs (sizes s, programs bins)."""
    wb, lim, w16p = bins["wpool_bench"], bins["limits"], bins["w16_peers"]
    peers = [py, os.path.join(HERE, "peers.py")]
    peers_S = [py, "-S", os.path.join(HERE, "peers.py")]
    M = ("fork", "spawn", "thread")

    def w(workload, method, *args, impl=None, pin=False):
        argv = [wb, workload, "--method", method] + [str(a) for a in args]
        impl = impl or "wpool-" + method
        return Job(impl, argv + ["--impl", impl], pin)

    def p(workload, impl, *args, label=None, no_site=False, pin=False):
        label = label or "py-" + impl
        argv = (peers_S if no_site else peers) + [workload, "--impl", impl, "--label", label]
        return Job(label, argv + [str(a) for a in args], pin)

    def p16(mode, impl, *args):
        label = "py-" + impl
        argv = [py, os.path.join(HERE, "peers_w16.py"), mode, "--impl", impl, "--label", label]
        return Job(label, argv + [str(a) for a in args], once=mode == "pss")

    def pss(method):  # a 1 GiB fill per run, for a figure that barely moves
        job = w("W16-pss", method, "--n", s["w16_pss_mib"])
        job.once = True
        return job

    def c16(impl, mode, *args):
        return Job(impl, [w16p, mode, "--impl", impl] + [str(a) for a in args])

    def c(workload, impl, mode, *args):
        return Job(impl, [lim, mode, "--workload", workload, "--impl", impl] +
                   [str(a) for a in args])

    pyprocs = ("pool-fork", "pool-spawn") if s["spawn_peers"] else ("pool-fork",)
    ppes = ("ppe-fork", "ppe-spawn") if s["spawn_peers"] else ("ppe-fork",)
    return [
        ("W1", "pool start, first result, close, join",
         [w("W1", m) for m in M] +
         [p("W1", i) for i in ("pool-fork", "pool-spawn", "threadpool")] +
         [p("W1", "pool-spawn", label="py-pool-spawn-S", no_site=True),
          c("W1", "c-fork-cycle", "fork-cycle", "--n", s["fork_cycles"]),
          c("W1", "c-spawn-cycle", "spawn-cycle", "--n", s["w8_c_spawn"])]),
        ("W2", "sequential apply(square, i)",
         [w("W2", m, "--n", s["w2"]) for m in M] +
         [w("W2", "fork", "--n", s["w2"], impl="wpool-fork-1cpu", pin=True)] +
         # The opt-in low-latency mode, and its trap: every spinner on one CPU.
         [w("W2", "fork", "--n", s["w2"], "--spin-us", SPIN_US, impl="wpool-fork-spin"),
          w("W2", "thread", "--n", s["w2"], "--spin-us", SPIN_US, impl="wpool-thread-spin"),
          w("W2", "fork", "--n", s["w2"], "--spin-us", SPIN_US, impl="wpool-fork-spin-1cpu",
            pin=True)] +
         [p("W2", i, "--n", s["w2_py"]) for i in pyprocs + ("threadpool",)] +
         [p("W2", "pool-fork", "--n", s["w2_py"], label="py-pool-fork-1cpu", pin=True),
          c("W2", "c-pipe-pingpong-cross", "pingpong", "--where", "cross", "--n", s["w2_c"]),
          c("W2", "c-pipe-pingpong-one", "pingpong", "--where", "one", "--n", s["w2_c"]),
          c("W2", "c-pipe-pingpong-free", "pingpong", "--where", "free", "--n", s["w2_c"]),
          c("W2", "c-spin-handoff", "spin", "--n", s["w2_c"] * 20)]),
        ("W3", "map(square, ints), default chunksize",
         [w("W3", m, "--n", s["w3"]) for m in M] +
         [p("W3", i, "--n", s["w3"]) for i in pyprocs + ("threadpool",)] +
         [c("W3", "c-batched-dispatch", "dispatch", "--n", s["w3"],
            "--chunk", -(-s["w3"] // 8), "--depth", 2)]),
        ("W4", "map(square, ints, chunksize=1)",
         [w("W4", m, "--n", s["w4"]) for m in M] +
         [p("W4", i, "--n", s["w4_py"]) for i in pyprocs + ("threadpool",)] +
         [c("W4", "c-msg-per-task", "dispatch", "--n", s["w4"]),
          c("W4", "c-msg-coalesced", "dispatch", "--n", s["w4"], "--coalesce", 1),
          c("W4", "c-msg-1-in-flight", "dispatch", "--n", s["w4_c1"], "--depth", 1)]),
        ("W5", "imap and imap_unordered, chunksize 1",
         [w("W5", m, "--n", s["w5"]) for m in M] +
         [p("W5", i, "--n", s["w5_py"]) for i in pyprocs + ("threadpool",)]),
        ("W6", "map over 1 MiB and 16 MiB byte buffers",
         [w("W6", m, "--n", s["w6"], "--n2", s["w6_big"]) for m in M] +
         [p("W6", i, "--n", s["w6"], "--n2", s["w6_big"]) for i in pyprocs] +
         [c("W6", "c-pipe-64KiB", "pipe-bw", "--mb", s["pipe_mb"], "--write", 65536),
          c("W6", "c-pipe-1MiB", "pipe-bw", "--mb", s["pipe_mb"], "--write", 1 << 20,
            "--pipe-size", 1 << 20),
          c("W6", "c-vmsplice", "vmsplice-bw", "--mb", s["pipe_mb"] * 4, "--write", 1 << 20,
            "--pipe-size", 1 << 20),
          c("W6", "c-memcpy", "memcpy-bw", "--mb", s["memcpy_mb"], "--copies", 8)]),
        ("W7", "CPU-bound map, 2 workers vs 1: speed-up",
         [w("W7", m, "--n", s["w7"], "--iters", "{iters}") for m in M] +
         [p("W7", i, "--n", s["w7"], "--ms", s["w7_ms"]) for i in pyprocs] +
         [c("W7", "c-noipc", "noipc", "--n", s["w7"], "--iters", "{iters}")]),
        ("W8", "maxtasksperchild=1, trivial tasks",
         [w("W8", m, "--n", s["w8"]) for m in ("fork", "spawn")] +
         [p("W8", "pool-fork", "--n", s["w8_py_fork"])] +
         ([p("W8", "pool-spawn", "--n", s["w8_py_spawn"]),
           p("W8", "pool-spawn", "--n", s["w8_py_spawn"], label="py-pool-spawn-S", no_site=True)]
          if s["spawn_peers"] else []) +
         [c("W8", "c-fork-cycle", "fork-cycle", "--n", s["fork_cycles"]),
          c("W8", "c-spawn-cycle", "spawn-cycle", "--n", s["w8_c_spawn"])]),
        ("W9", "thread pools: map (default chunk, chunksize 1), apply",
         [w("W9", "thread", "--n", s["w9"], "--n2", s["w9_c1"], "--n3", s["w9_apply"]),
          p("W9", "threadpool", "--n", s["w9"], "--n2", s["w9_c1"], "--n3", s["w9_apply_py"]),
          c("W9", "c-mutex-queue", "mutex-queue", "--n", s["w9"]),
          c("W9", "c-mutex-rtt", "mutex-rtt", "--n", s["w9_apply"]),
          c("W9", "c-gthreadpool", "gthreadpool", "--n", s["w9"]),
          c("W9", "c-gthreadpool-rtt", "gthreadpool-rtt", "--n", s["w9_apply"])]),
        # wpool's W2 apply and W4 map again, filed under W10, so that the
        # executor is held against figures of its own run.
        ("W10", "ProcessPoolExecutor vs wpool's W2 apply and W4 map",
         [w("W2", m, "--n", s["w2"], "--as", "W10") for m in ("fork", "spawn")] +
         [w("W4", m, "--n", s["w4"], "--as", "W10") for m in ("fork", "spawn")] +
         [p("W10", i, "--n", s["w10"], "--n2", s["w10_map"]) for i in ppes]),
        ("W11", "memory of imap over a lazily produced input",
         [w("W11", m, "--n", n, "--chunksize", s["w11_chunk"])
          for m in M for n in (s["w11"], s["w11_small"])] +
         [w("W11-nopool", "thread", "--n", s["w11"], "--as", "W11", impl="c-nopool")] +
         [p("W11", "pool-fork", "--n", n, "--chunksize", s["w11_chunk"])
          for n in (s["w11"], s["w11_small"])]),
        # One program runs the fork pool, the bare fork and the spawn pool
        # in the same big process, interleaved (wpool_bigfork.c).
        ("W12", "fork pools in a program with %d MiB of touched heap" % s["w12_mb"],
         [w("W12-bigfork", "fork", "--n", s["w12_mb"], "--reps", s["w12_reps"],
            "--thp", thp, impl="wpool-fork" + ("-thp" if thp else ""))
          for thp in (0, 1)]),
        ("W13", "crash recovery inside a large chunk vs the same map without the crash",
         [w("W13", m, "--n", s["w13"]) for m in ("fork", "spawn")]),
        ("W14", "skewed tasks: 1 ms, 1 in 40 20x longer",
         [w("W14", m, "--n", s["w14"]) for m in M]),
        ("W15", "apply_async of buffers 16 B - 4 MiB, log-uniform",
         [w("W15", m, "--n", s["w15"], "--n2", 1) for m in M] +
         [p("W15", i, "--n", s["w15"]) for i in pyprocs] +
         [c("W15", "c-pipe-mix", "pipe-mix", "--n", s["w15"], "--pipe-size", 1 << 20)]),
        ("W16", "shared buffers: map_shm of a pass over 1/16 MiB items",
         [w("W16", m, "--n", s["w16"], "--n2", s["w16_big"]) for m in M] +
         [pss(m) for m in M] +
         [c("W16", "c-memcpy", "memcpy-bw", "--mb", s["memcpy_mb"], "--copies", 8)] +
         ([c16("c-pass-1cpu", "pass", "--mb", s["w16_pass_mb"], "--threads", 1,
               "--passes", s["w16_passes"]),
           c16("c-pass-2cpu", "pass", "--mb", s["w16_pass_mb"], "--threads", 2,
               "--passes", s["w16_passes"]),
           c16("c-pass-fresh-2cpu", "fresh", "--mb", s["w16_pass_mb"], "--threads", 2,
               "--passes", s["w16_passes"], "--chunk-mb", s["w16_chunk_mb"])]
          if os.access(w16p, os.X_OK) else []) +
         [p16("map", i + "-" + m, "--n", s["w16_py"], "--n2", s["w16_py_big"])
          for m in (("fork", "spawn") if s["spawn_peers"] else ("fork",))
          for i in ("pool", "shm")] +
         [p16("pss", "shm-" + m, "--mib", s["w16_pss_mib"])
          for m in (("fork", "spawn") if s["spawn_peers"] else ("fork",))]),
    ]


# ---------------------------------------------------------------------------
# Targets: each row compares wpool's median with a peer's median; ratio is
# always wpool / peer in the metric's own unit.

class T:
    """A target: every condition must hold. kind is 'ratio', 'wpool' or
    'diff' (wpool - peer, in the metric's unit)."""

    def __init__(self, text, *conds):
        self.text, self.conds = text, conds

    def met(self, wpool, ratio, peer=None):
        for kind, op, x in self.conds:
            if kind == "diff":
                v = wpool - peer if wpool is not None and peer is not None else None
            else:
                v = ratio if kind == "ratio" else wpool
            if v is None or not (v <= x if op == "<=" else v >= x):
                return False
        return True


UNSUPPORTED = "unsupported"


class Row:
    def __init__(self, w, method, wkey, peer, pkey=None, target=None, note=""):
        self.w, self.method, self.wkey, self.peer = w, method, wkey, peer
        self.pkey, self.target, self.note = pkey, target, note


def rows(s):
    """The table: (workload, wpool method, wpool figure, peer, target)."""
    R = []
    for m, t in (("fork", T("wpool <= 1 ms", ("wpool", "<=", 1.0))),
                 ("spawn", T("wpool <= 3 ms", ("wpool", "<=", 3.0)))):
        k = ("W1", "wpool-" + m, "start_to_join")
        R.append(Row("W1", m, k, "py-pool-" + m, ("W1", "py-pool-" + m, "start_to_join"), t))
        if m == "spawn":
            R.append(Row("W1", m, k, "py-pool-spawn-S", ("W1", "py-pool-spawn-S", "start_to_join")))
        c = "c-%s-cycle" % m
        R.append(Row("W1", m, k, c, ("W1", c, "cycle_time")))
    R.append(Row("W1", "thread", ("W1", "wpool-thread", "start_to_join"), "py-threadpool",
                 ("W1", "py-threadpool", "start_to_join")))

    pp = T("ratio <= 1.25", ("ratio", "<=", 1.25))
    for m in ("fork", "spawn"):
        k = ("W2", "wpool-" + m, "apply_latency")
        R.append(Row("W2", m, k, "c-pipe-pingpong-cross", ("W2", "c-pipe-pingpong-cross", "round_trip"), pp))
        R.append(Row("W2", m, k, "py-pool-" + m, ("W2", "py-pool-" + m, "apply_latency")))
    R.append(Row("W2", "fork", ("W2", "wpool-fork", "apply_latency"), "c-pipe-pingpong-free",
                 ("W2", "c-pipe-pingpong-free", "round_trip")))
    k1 = ("W2", "wpool-fork-1cpu", "apply_latency")
    R.append(Row("W2", "fork, 1 CPU", k1, "c-pipe-pingpong-one", ("W2", "c-pipe-pingpong-one", "round_trip")))
    R.append(Row("W2", "fork, 1 CPU", k1, "py-pool-fork-1cpu", ("W2", "py-pool-fork-1cpu", "apply_latency")))
    R.append(Row("W2", "thread", ("W2", "wpool-thread", "apply_latency"), "py-threadpool",
                 ("W2", "py-threadpool", "apply_latency")))
    ks = ("W2", "wpool-fork-spin", "apply_latency")
    R.append(Row("W2", "fork, spin_us=100", ks, "c-pipe-pingpong-cross",
                 ("W2", "c-pipe-pingpong-cross", "round_trip"), pp))
    R.append(Row("W2", "fork, spin_us=100", ks, "c-spin-handoff",
                 ("W2", "c-spin-handoff", "round_trip"),
                 T("near the spin figure (opt-in mode)", ("ratio", "<=", 2.0))))
    R.append(Row("W2", "fork, spin_us=100", ks, "wpool-fork", ("W2", "wpool-fork", "apply_latency")))
    R.append(Row("W2", "fork, spin_us=100, 1 CPU", ("W2", "wpool-fork-spin-1cpu", "apply_latency"),
                 "wpool-fork-1cpu", k1, note="the trap: the spinners share one CPU"))
    kt = ("W2", "wpool-thread-spin", "apply_latency")
    R.append(Row("W2", "thread, spin_us=100", kt, "c-spin-handoff",
                 ("W2", "c-spin-handoff", "round_trip"),
                 T("near the spin figure (opt-in mode)", ("ratio", "<=", 2.0))))
    R.append(Row("W2", "thread, spin_us=100", kt, "wpool-thread", ("W2", "wpool-thread", "apply_latency")))

    for m in ("fork", "spawn"):
        k = ("W3", "wpool-" + m, "map_rate")
        R.append(Row("W3", m, k, "py-pool-" + m, ("W3", "py-pool-" + m, "map_rate"),
                     T("ratio >= 10", ("ratio", ">=", 10))))
        R.append(Row("W3", m, k, "c-batched-dispatch", ("W3", "c-batched-dispatch", "map_rate"),
                     T("ratio >= 0.8 (round 2)", ("ratio", ">=", 0.8))))
    R.append(Row("W3", "thread", ("W3", "wpool-thread", "map_rate"), "py-threadpool",
                 ("W3", "py-threadpool", "map_rate")))

    for m in ("fork", "spawn"):
        k = ("W4", "wpool-" + m, "map_rate")
        R.append(Row("W4", m, k, "py-pool-" + m, ("W4", "py-pool-" + m, "map_rate"),
                     T("wpool >= 1e6/s and ratio >= 15", ("wpool", ">=", 1e6), ("ratio", ">=", 15))))
        R.append(Row("W4", m, k, "c-msg-coalesced", ("W4", "c-msg-coalesced", "map_rate"),
                     T("ratio >= 0.3 (round 2)", ("ratio", ">=", 0.3))))
        for c in ("c-msg-per-task", "c-msg-1-in-flight"):
            if m == "fork":
                R.append(Row("W4", m, k, c, ("W4", c, "map_rate")))
    R.append(Row("W4", "thread", ("W4", "wpool-thread", "map_rate"), "py-threadpool",
                 ("W4", "py-threadpool", "map_rate")))

    for m in ("fork", "spawn", "thread"):
        for metric in ("imap_rate", "imap_unordered_rate"):
            peer = "py-threadpool" if m == "thread" else "py-pool-" + m
            t = None if m == "thread" else T("ratio >= 40 (round 2)", ("ratio", ">=", 40))
            R.append(Row("W5", m, ("W5", "wpool-" + m, metric), peer, ("W5", peer, metric), t))
        # Round 2: an imap costs at most 10% over a map of the same items at
        # chunksize 1, on the same pool (wpool_bench runs both per rep).
        for metric in ("imap_rate", "imap_unordered_rate"):
            R.append(Row("W5", m, ("W5", "wpool-" + m, metric), "wpool %s map, chunksize 1" % m,
                         ("W5", "wpool-" + m, "map_chunk1_rate"),
                         T("ratio >= 0.9 (round 2)", ("ratio", ">=", 0.9))
                         if metric == "imap_rate" else None))

    gb3 = T("wpool >= 3000 MB/s", ("wpool", ">=", 3000))
    for m in ("fork", "spawn"):
        for metric in ("map_1MiB", "map_16MiB"):
            R.append(Row("W6", m, ("W6", "wpool-" + m, metric), "py-pool-" + m,
                         ("W6", "py-pool-" + m, metric), gb3))
    for metric, c in (("map_1MiB", "c-pipe-64KiB"), ("map_1MiB", "c-pipe-1MiB"),
                      ("map_16MiB", "c-pipe-1MiB"), ("map_16MiB", "c-vmsplice")):
        R.append(Row("W6", "fork", ("W6", "wpool-fork", metric), c, ("W6", c, "bandwidth")))
    # The same map over the default shm_threshold: the items cross in a
    # shared buffer of their own (one copy), against the pipe figure.
    for m in ("fork", "spawn"):
        for metric in ("map_1MiB", "map_16MiB"):
            R.append(Row("W6", m + " auto", ("W6", "wpool-" + m, "auto_" + metric),
                         "wpool " + m + " over pipes", ("W6", "wpool-" + m, metric),
                         T("ratio >= 2", ("ratio", ">=", 2))))
    R.append(Row("W6", "thread", ("W6", "wpool-thread", "map_16MiB"), "c-memcpy",
                 ("W6", "c-memcpy", "bandwidth"), note="thread workers read the caller's buffer"))

    for m in ("fork", "spawn", "thread"):
        k = ("W7", "wpool-" + m, "speedup")
        R.append(Row("W7", m, k, "c-noipc", ("W7", "c-noipc", "speedup"),
                     T("ratio >= 0.97 (round 2: in 3 runs of 3)", ("ratio", ">=", 0.97))))
        if m != "thread":
            R.append(Row("W7", m, k, "py-pool-" + m, ("W7", "py-pool-" + m, "speedup")))

    for m, t in (("fork", T("wpool >= 3000/s", ("wpool", ">=", 3000))),
                 ("spawn", T("wpool >= 1000/s", ("wpool", ">=", 1000)))):
        k = ("W8", "wpool-" + m, "recycle_rate")
        R.append(Row("W8", m, k, "py-pool-" + m, ("W8", "py-pool-" + m, "recycle_rate"), t))
        if m == "spawn":
            R.append(Row("W8", m, k, "py-pool-spawn-S", ("W8", "py-pool-spawn-S", "recycle_rate")))
        c = "c-%s-cycle" % m
        R.append(Row("W8", m, k, c, ("W8", c, "cycle_rate")))

    k = ("W9", "wpool-thread", "map_default_rate")
    R.append(Row("W9", "thread", k, "py-threadpool", ("W9", "py-threadpool", "map_default_rate"),
                 T("wpool >= 1e8/s", ("wpool", ">=", 1e8))))
    R.append(Row("W9", "thread", k, "c-mutex-queue", ("W9", "c-mutex-queue", "queue_rate")))
    k = ("W9", "wpool-thread", "map_chunk1_rate")
    R.append(Row("W9", "thread", k, "c-gthreadpool", ("W9", "c-gthreadpool", "push_rate"),
                 T("ratio >= 2", ("ratio", ">=", 2))))
    R.append(Row("W9", "thread", k, "py-threadpool", ("W9", "py-threadpool", "map_chunk1_rate")))
    R.append(Row("W9", "thread", k, "c-mutex-queue", ("W9", "c-mutex-queue", "queue_rate")))
    k = ("W9", "wpool-thread", "apply_latency")
    R.append(Row("W9", "thread", k, "c-gthreadpool-rtt", ("W9", "c-gthreadpool-rtt", "round_trip"),
                 T("ratio <= 1", ("ratio", "<=", 1))))
    R.append(Row("W9", "thread", k, "py-threadpool", ("W9", "py-threadpool", "apply_latency")))
    R.append(Row("W9", "thread", k, "c-mutex-rtt", ("W9", "c-mutex-rtt", "round_trip")))

    # Round 2: the target stands (it follows W2 and W4): beat the executor.
    for m in ("fork", "spawn"):
        R.append(Row("W10", m + " (W2 apply)", ("W10", "wpool-" + m, "apply_latency"), "py-ppe-" + m,
                     ("W10", "py-ppe-" + m, "submit_latency"), T("ratio < 1 (beats it)", ("ratio", "<=", 1))))
        R.append(Row("W10", m + " (W4 map)", ("W10", "wpool-" + m, "map_rate"), "py-ppe-" + m,
                     ("W10", "py-ppe-" + m, "map_rate"),
                     T("ratio > 1 (beats it)", ("ratio", ">=", 1))))

    big, small = "peak_rss_%d_items" % s["w11"], "peak_rss_%d_items" % s["w11_small"]
    for m in ("fork", "spawn", "thread"):
        R.append(Row("W11", m + " %s items" % f"{s['w11']:,}", ("W11", "wpool-" + m, big),
                     "wpool-%s %s items" % (m, f"{s['w11_small']:,}"), ("W11", "wpool-" + m, small),
                     T("ratio <= 1.25 (flat)", ("ratio", "<=", 1.25))))
    # Round 2: within 2 MB (2048 KiB) of the same program without a pool.
    for m in ("fork", "spawn", "thread"):
        R.append(Row("W11", m + " %s items" % f"{s['w11']:,}", ("W11", "wpool-" + m, big),
                     "c-nopool", ("W11", "c-nopool", big),
                     T("wpool - peer <= 2048 KiB (round 2)", ("diff", "<=", 2048))))
    R.append(Row("W11", "fork %s items" % f"{s['w11']:,}", ("W11", "wpool-fork", big),
                 "py-pool-fork %s items" % f"{s['w11']:,}", ("W11", "py-pool-fork", big)))

    # Python's Pool hangs when a worker dies: wpool's map with a crash is
    # held against the same map without it, on the same pool.
    for m in ("fork", "spawn"):
        R.append(Row("W13", m, ("W13", "wpool-" + m, "crash_map"),
                     "the same map without the crash", ("W13", "wpool-" + m, "clean_map"),
                     T("ratio <= 1.5", ("ratio", "<=", 1.5))))

    R += w16_rows(s)

    # Fork pools in a big program: the whole life of a 2-worker pool against
    # one bare copy of the same process. Its parts against the copy's two
    # halves show what bounds it: three copies at create (the fork server,
    # then each worker from it), two teardowns at destroy (the workers', then
    # the server's).
    big = "c-fork-bigparent"
    R.append(Row("W12", "fork", ("W12", "wpool-fork", "start_to_join"), big,
                 ("W12", big, "cycle_time"), T("ratio <= 2", ("ratio", "<=", 2))))
    R.append(Row("W12", "fork: create", ("W12", "wpool-fork", "create"), "C fork() alone, same big parent",
                 ("W12", big, "fork")))
    R.append(Row("W12", "fork: close+join", ("W12", "wpool-fork", "close_join"),
                 "C _exit+waitpid alone, same big parent", ("W12", big, "exit_wait")))
    R.append(Row("W12", "fork: destroy", ("W12", "wpool-fork", "destroy"),
                 "C _exit+waitpid alone, same big parent", ("W12", big, "exit_wait")))
    R.append(Row("W12", "spawn", ("W12", "wpool-spawn", "start_to_join"), big,
                 ("W12", big, "cycle_time")))
    R.append(Row("W12", "fork, THP heap", ("W12", "wpool-fork-thp", "start_to_join"),
                 big + "-thp", ("W12", big + "-thp", "cycle_time")))
    R.append(Row("W12", "fork, THP heap", ("W12", "wpool-fork-thp", "start_to_join"),
                 "wpool fork, same heap without THP", ("W12", "wpool-fork", "start_to_join")))

    # Parallel efficiency is ideal / wall: wall / ideal <= 1 / 0.95. The
    # ideal is the tasks' own summed run time over the workers, measured in
    # the same map (there is no peer to beat: a scheduler can only lose).
    for m in ("fork", "spawn", "thread"):
        for cs, label in (("default", "default chunksize"), ("chunk1", "chunksize 1")):
            R.append(Row("W14", "%s, %s" % (m, label), ("W14", "wpool-" + m, "wall_" + cs),
                         "ideal", ("W14", "wpool-" + m, "ideal_" + cs),
                         T("efficiency >= 0.95 (ratio <= 1.053)", ("ratio", "<=", 1 / 0.95))))

    # W15: the target is about the channels (shm_threshold = SIZE_MAX); the
    # default threshold's figure (arguments of 1 MiB and more in a shared
    # buffer) is there beside it, and so is Python's Pool.
    pipe_t = T("ratio >= 0.8 to the pipe limit", ("ratio", ">=", 0.8))
    for m in ("fork", "spawn"):
        R.append(Row("W15", m + " over the channel", ("W15", "wpool-" + m, "mixed_pipe"),
                     "c-pipe-mix", ("W15", "c-pipe-mix", "bandwidth"), pipe_t))
        R.append(Row("W15", m + " default shm_threshold", ("W15", "wpool-" + m, "mixed_auto"),
                     "c-pipe-mix", ("W15", "c-pipe-mix", "bandwidth")))
        R.append(Row("W15", m + " over the channel", ("W15", "wpool-" + m, "mixed_pipe"),
                     "py-pool-" + m, ("W15", "py-pool-" + m, "mixed")))
    # What fork costs beyond spawn: the caller's first write to each page it
    # had when the pool started (the fork server shares them copy-on-write).
    R.append(Row("W15", "fork: caller rewrites its buffers", ("W15", "wpool-fork", "refill"),
                 "the same with spawn workers", ("W15", "wpool-spawn", "refill")))
    R.append(Row("W15", "thread", ("W15", "wpool-thread", "mixed_pipe"),
                 "c-pipe-mix", ("W15", "c-pipe-mix", "bandwidth"),
                 note="thread workers read the caller's buffer"))
    return R


def w16_rows(s):
    """W16: shared buffers. A pass over each item (wpool_map_shm of
    blob_sum), the only read of the bytes, against memcpy of as many bytes
    in the same run; the C pass itself on 1 and 2 CPUs, mapped once and
    mapped afresh per chunk (what a process worker pays), for context; the
    Python peers with the same task and with the transfer alone. Then the
    Pss that a map over one big shared array adds."""
    R = []
    # BENCH.md's one target in two rows, so that each half reads apart: the
    # ratio to memcpy, and the absolute figure beside the machine's own
    # ceiling for a pass on two CPUs (which a busy machine brings below it).
    pys = ("fork", "spawn") if s["spawn_peers"] else ("fork",)
    for m in ("fork", "spawn", "thread"):
        for size in ("1MiB", "16MiB"):
            k = ("W16", "wpool-" + m, "shm_map_" + size)
            R.append(Row("W16", m, k, "c-memcpy", ("W16", "c-memcpy", "bandwidth"),
                         T("ratio >= 0.9", ("ratio", ">=", 0.9))))
            R.append(Row("W16", m, k, "c-pass-2cpu", ("W16", "c-pass-2cpu", "bandwidth"),
                         T("wpool >= 10000 MB/s", ("wpool", ">=", 1e4))))
            if m != "thread":
                R.append(Row("W16", m, k, "c-pass-fresh-2cpu",
                             ("W16", "c-pass-fresh-2cpu", "bandwidth")))
            if m in pys:
                R.append(Row("W16", m, k, "py-pool-" + m, ("W16", "py-pool-" + m, "pool_sum_" + size)))
                R.append(Row("W16", m, k, "py-shm-" + m, ("W16", "py-shm-" + m, "shm_sum_" + size)))
                R.append(Row("W16", m, k, "py-pool-%s-len" % m,
                             ("W16", "py-pool-" + m, "pool_len_" + size)))
                R.append(Row("W16", m, k, "py-shm-%s-touch" % m,
                             ("W16", "py-shm-" + m, "shm_touch_" + size)))
    R.append(Row("W16", "fork", ("W16", "wpool-fork", "shm_map_16MiB"), "c-pass-1cpu",
                 ("W16", "c-pass-1cpu", "bandwidth")))
    mib = s["w16_pss_mib"]
    pss, arr = "pss_added_%dMiB" % mib, "array_%dMiB" % mib
    for m in ("fork", "spawn", "thread"):
        R.append(Row("W16", m + " map over %d MiB" % mib, ("W16", "wpool-" + m, pss), "array",
                     ("W16", "wpool-" + m, arr), T("ratio <= 0.1", ("ratio", "<=", 0.1))))
    for m in ("fork", "spawn"):  # the workers' page tables, which Pss leaves out
        R.append(Row("W16", m + " map over %d MiB" % mib,
                     ("W16", "wpool-" + m, "pte_added_%dMiB" % mib), "array",
                     ("W16", "wpool-" + m, arr)))
    for m in pys:
        R.append(Row("W16", m + " map over %d MiB" % mib, ("W16", "wpool-" + m, pss),
                     "py-shm-" + m, ("W16", "py-shm-" + m, pss)))
        R.append(Row("W16", "Python shared_memory " + m, ("W16", "py-shm-" + m, pss), "array",
                     ("W16", "py-shm-" + m, arr)))
    return R


# ---------------------------------------------------------------------------
# Running.

def parse_kv(line):
    return dict(kv.split("=", 1) for kv in line.split()[1:] if "=" in kv)


class Runner:
    def __init__(self, timeout, verbose):
        self.timeout, self.verbose = timeout, verbose
        self.samples = {}   # (workload, impl, metric) -> [values]
        self.units = {}     # (workload, impl, metric) -> unit
        self.failures = []  # (impl, message)
        self.unavailable = {}  # impl -> reason

    def run(self, argv, pin=False):
        """Run one program; return its stdout, or None after a failure."""
        def preexec():
            os.sched_setaffinity(0, {0})
        t0 = time.monotonic()
        try:
            cp = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, timeout=self.timeout,
                                preexec_fn=preexec if pin else None)
        except subprocess.TimeoutExpired:
            self.failures.append((" ".join(argv), "timed out after %d s" % self.timeout))
            return None
        if self.verbose:
            print("  %.2fs %s" % (time.monotonic() - t0, " ".join(argv)), file=sys.stderr)
        if cp.returncode != 0:
            msg = (cp.stderr.strip().splitlines() or ["exit status %d" % cp.returncode])[-1]
            self.failures.append((" ".join(argv), msg))
            return None
        return cp.stdout

    def job(self, job, iters):
        argv = [a.replace("{iters}", str(iters)) for a in job.argv]
        out = self.run(argv, job.pin)
        if out is None:
            return
        got = 0
        for line in out.splitlines():
            if line.startswith("RESULT "):
                kv = parse_kv(line)
                key = (kv["workload"], kv["impl"], kv["metric"])
                self.samples.setdefault(key, []).append(float(kv["value"]))
                self.units[key] = kv["unit"]
                got += 1
            elif line.startswith("UNAVAILABLE "):
                self.unavailable[job.impl] = line[len("UNAVAILABLE "):]
                got += 1
        if got == 0:
            self.failures.append((" ".join(argv), "printed no RESULT line"))


def stats(values):
    return statistics.median(values), min(values), max(values)


def fmt(v):
    """Three significant digits; exponents only for large or tiny values."""
    if v is None:
        return "n/a"
    a = abs(v)
    if a == 0 or 1e-2 <= a < 1e5:
        return "%.*f" % (max(0, 2 - int(math.floor(math.log10(a)))) if a else 0, v)
    m, e = ("%.2e" % v).split("e")
    return "%se%d" % (m, int(e))


def fmt_stat(st, unit):
    if st is None:
        return "n/a"
    med, lo, hi = st
    return "%s %s [%s-%s]" % (fmt(med), unit, fmt(lo), fmt(hi))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="1 repetition, tiny sizes")
    ap.add_argument("--reps", type=int, help="repetitions (default 5; quick 1)")
    ap.add_argument("--build-dir", default=os.path.join(HERE, "out", "build"))
    ap.add_argument("--out", default=os.path.join(HERE, "out"))
    ap.add_argument("--only", help="comma-separated workloads, e.g. W2,W4")
    ap.add_argument("--verbose", action="store_true", help="time every program")
    a = ap.parse_args()
    reps = a.reps or (1 if a.quick else 5)
    sizes = QUICK if a.quick else FULL
    bins = {b: os.path.join(a.build_dir, b) for b in ("wpool_bench", "limits", "w16_peers")}
    for n, b in bins.items():
        if n != "w16_peers" and not os.access(b, os.X_OK):  # W16's C peers: Linux only
            sys.exit("run.py: %s is missing: build with bench/run.sh" % b)
    os.makedirs(a.out, exist_ok=True)
    runner = Runner(60 if a.quick else 600, a.verbose)
    only = set(a.only.split(",")) if a.only else None

    started = time.monotonic()
    print("wpool benchmark: %s mode, %d repetition(s), %d CPUs, Python %s" %
          ("quick" if a.quick else "full", reps, os.cpu_count(), sys.version.split()[0]))
    noise = []  # (workload, when, fields)
    for workload, title, jobs in plan(sizes, bins, sys.executable):
        if only and workload not in only:
            continue
        t0 = time.monotonic()

        def check(when):
            out = runner.run([bins["limits"], "noise"] + [str(x) for x in sizes["noise"]])
            line = next((l for l in (out or "").splitlines() if l.startswith("NOISE ")), "")
            if line:
                noise.append((workload, when, parse_kv(line)))
            return parse_kv(line) if line else {}

        checks = [check("before")]
        iters = 0
        if workload == "W7":  # one task length for wpool and the C ceiling
            out = runner.run([bins["limits"], "calibrate", "--ms", str(sizes["w7_ms"])])
            iters = int(parse_kv(out.splitlines()[0])["iters"]) if out else 1000
        for rep in range(reps):
            if rep > 0:  # noise in the middle of a long workload counts too
                checks.append(check("rep%d" % (rep + 1)))
            for job in jobs:
                if rep == 0 or not job.once:
                    runner.job(job, iters)
        checks.append(check("after"))
        noisy = any(c.get("noisy") == "1" for c in checks)
        eff = "/".join(c.get("efficiency", "?") for c in checks)
        print("  %-4s %-52s %6.1f s  cpu check %s%s" % (
            workload, title, time.monotonic() - t0, eff, "  NOISY" if noisy else ""))
    elapsed = time.monotonic() - started

    summary = {k: stats(v) for k, v in runner.samples.items()}
    noisy_w = {w for w, _, f in noise if f.get("noisy") == "1"}
    table = []
    for r in rows(sizes):
        if only and r.w not in only:
            continue
        ws = summary.get(r.wkey)
        ps = summary.get(r.pkey)
        unit = runner.units.get(r.wkey) or runner.units.get(r.pkey, "")
        wmed = ws[0] if ws else None
        pmed = ps[0] if ps else None
        ratio = wmed / pmed if wmed is not None and pmed else None
        if r.target is None:
            met = "-"
        elif ws is None and r.note:
            met = "missed"  # a feature wpool lacks
        elif ws is None or (ratio is None and any(c[0] in ("ratio", "diff") for c in r.target.conds)):
            met = "n/a"
        else:
            met = "met" if r.target.met(wmed, ratio, pmed) else "missed"
        if ws and met in ("met", "missed") and {r.w, r.wkey[0], r.pkey[0]} & noisy_w:
            met += " (noisy)"
        peer_unit = runner.units.get(r.pkey, unit)
        table.append(dict(
            workload=r.w, method=r.method, metric=r.wkey[2], unit=unit,
            wpool=wmed, peer=NAMES.get(r.peer, r.peer), peer_value=pmed, ratio=ratio,
            target=r.target.text if r.target else "-", met=met, ws=ws, ps=ps,
            peer_unit=peer_unit, note=r.note or (runner.unavailable.get(r.peer, "")),
            lower=r.wkey[2] in LOWER_IS_BETTER or r.wkey[2].startswith(LOWER_PREFIXES)))

    print_table(table)
    write_csv(a.out, table, runner, summary, noise)
    print_summary(table, runner, noisy_w, elapsed, summary, sizes)
    png = os.path.join(a.out, "chart.png")
    chart.draw(table, png, "wpool vs peers, medians of %d repetition(s)%s" %
               (reps, ", QUICK MODE" if a.quick else ""))
    print("wrote %s/results.csv, samples.csv, summary.csv, noise.csv and chart.png" % a.out)
    return 1 if runner.failures else 0


def print_table(table):
    head = ["workload", "method", "metric", "wpool", "peer", "peer figure", "ratio",
            "target", "met"]
    lines = []
    for t in table:
        metric = "%s (%s)" % (t["metric"], "lower" if t["lower"] else "higher")
        wfig = fmt_stat(t["ws"], t["unit"]) if t["ws"] else "n/a"
        pfig = fmt_stat(t["ps"], t["peer_unit"]) if t["ps"] else "n/a"
        if t["note"] and not t["ws"]:
            wfig = "n/a (%s)" % t["note"]
        elif t["note"] and not t["ps"]:
            pfig = "n/a (%s)" % t["note"]
        lines.append([t["workload"], t["method"], metric, wfig, t["peer"], pfig,
                      fmt(t["ratio"]) if t["ratio"] is not None else "-", t["target"], t["met"]])
    widths = [max(len(str(r[i])) for r in lines + [head]) for i in range(len(head))]
    out = lambda r: "  ".join(str(v).ljust(w) for v, w in zip(r, widths)).rstrip()  # noqa: E731
    print("\n" + out(head) + "\n" + "-" * len(out(head)))
    last = None
    for r in lines:
        if last and last != r[0]:
            print()
        last = r[0]
        print(out(r))


def write_csv(out, table, runner, summary, noise):
    with open(os.path.join(out, "results.csv"), "w", newline="") as f:
        wr = csv.writer(f)
        wr.writerow(["workload", "method", "metric", "unit", "wpool", "peer",
                     "peer_value", "ratio", "target", "met"])
        for t in table:
            g = lambda v: "" if v is None else "%.6g" % v  # noqa: E731
            wr.writerow([t["workload"], t["method"], t["metric"], t["unit"], g(t["wpool"]),
                         t["peer"], g(t["peer_value"]), g(t["ratio"]), t["target"], t["met"]])
    with open(os.path.join(out, "samples.csv"), "w", newline="") as f:
        wr = csv.writer(f)
        wr.writerow(["workload", "impl", "metric", "unit", "rep", "value"])
        for (w, i, m), vals in runner.samples.items():
            for n, v in enumerate(vals):
                wr.writerow([w, i, m, runner.units[(w, i, m)], n + 1, "%.6g" % v])
    with open(os.path.join(out, "summary.csv"), "w", newline="") as f:
        wr = csv.writer(f)
        wr.writerow(["workload", "impl", "metric", "unit", "median", "min", "max", "n"])
        for k, (med, lo, hi) in summary.items():
            wr.writerow(list(k) + [runner.units[k], "%.6g" % med, "%.6g" % lo, "%.6g" % hi,
                                   len(runner.samples[k])])
    with open(os.path.join(out, "noise.csv"), "w", newline="") as f:
        wr = csv.writer(f)
        wr.writerow(["workload", "when", "efficiency", "steal_pct", "noisy"])
        for w, when, fl in noise:
            wr.writerow([w, when, fl.get("efficiency"), fl.get("steal_pct"), fl.get("noisy")])


def print_summary(table, runner, noisy_w, elapsed, summary, sizes):
    judged = [t for t in table if t["met"] != "-"]
    met = [t for t in judged if t["met"].startswith("met")]
    missed = [t for t in judged if t["met"].startswith("missed")]
    print("\nratio = wpool / peer (medians). Rows marked lower: a ratio below 1 means "
          "wpool is faster; higher: above 1.")
    print("targets: %d met, %d missed, %d n/a" % (len(met), len(missed),
                                                  len(judged) - len(met) - len(missed)))
    for t in missed:
        print("  missed: %s %s %s vs %s: ratio %s, target %s%s" % (
            t["workload"], t["method"], t["metric"], t["peer"],
            fmt(t["ratio"]) if t["ratio"] is not None else "-", t["target"],
            " (" + t["note"] + ")" if t["note"] else ""))
    big = summary.get(("W11", "py-pool-fork", "peak_rss_%d_items" % sizes["w11"]))
    small = summary.get(("W11", "py-pool-fork", "peak_rss_%d_items" % sizes["w11_small"]))
    if big and small:
        print("W11 peer: Python Pool fork imap peak RSS %s KiB over %s items, %s KiB over %s" % (
            fmt(big[0]), f"{sizes['w11']:,}", fmt(small[0]), f"{sizes['w11_small']:,}"))
    if noisy_w:
        print("NOISY: the CPU check found another load during %s: treat those figures "
              "with care" % ", ".join(sorted(noisy_w, key=lambda w: int(w[1:]))))
    for impl, why in runner.unavailable.items():
        print("unavailable: %s: %s" % (impl, why))
    for cmd, msg in runner.failures:
        print("FAILED: %s: %s" % (cmd, msg))
    print("elapsed %.0f s" % elapsed)


if __name__ == "__main__":
    sys.exit(main())
