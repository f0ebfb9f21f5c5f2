#!/usr/bin/env python3
"""The measurements behind bench/README.md's scaling model (one I/O thread).

    python3 bench/scaling.py [--build-dir bench/out/build] [--method fork]

Runs W4 (map, chunksize 1, 100,000 items) and W3 (map, default chunksize,
1,000,000 items) under `perf record -e task-clock` and splits the CPU time
by thread: the caller, the pool's loop thread (the one I/O thread, which
holds the pool's lock whenever it is not waiting in poll), the other pool
threads, and the workers. Then runs W4 with 20,000 items under callgrind
for the user-space instruction counts of the loop thread and of one worker
per item (the kernel's part of a send or a read is in the perf figures
only). Prints per-item costs, and the worker count at which the loop thread
would be busy all the time. Needs perf and valgrind; Linux only.
"""
import argparse
import collections
import glob
import os
import re
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))

# Symbols only the loop thread runs: they name it among the parent's threads.
LOOP_SYMS = ("loop_main", "wpool__take", "wpool__framer_feed", "wpool__framer_done",
             "wpool__framer_target", "wpool__pp_segments", "x_wait", "c_send", "c_recv")
# Symbols of the kernel's poll, for the loop thread's idle wait.
POLL_SYMS = ("do_sys_poll", "do_poll", "__x64_sys_poll", "poll_freewait",
             "unix_poll", "pipe_poll", "__pollwait", "pidfd_poll", "x_wait",
             "__poll", "poll")
# The kernel's switch in and out of the loop thread when it sleeps in poll
# and is woken: counted apart (not under the lock).
SWITCH_SYMS = ("finish_task_switch.isra.0", "__schedule", "schedule")


def perf_split(wb, workload, method, n, chunksize, reps, tmp):
    """CPU seconds per thread class for `reps` maps of n items."""
    data = os.path.join(tmp, "%s.data" % workload)
    argv = [wb, workload, "--method", method, "--n", str(n), "--reps", str(reps)]
    if chunksize:
        argv += ["--chunksize", str(chunksize)]
    subprocess.run(["perf", "record", "-q", "-e", "task-clock", "-c", "100000",
                    "-o", data, "--"] + argv, check=True, stdout=subprocess.DEVNULL)
    out = subprocess.run(["perf", "script", "-i", data, "-F", "pid,tid,period,ip,sym"],
                         check=True, capture_output=True, text=True).stdout
    ns = collections.Counter()
    syms = collections.defaultdict(set)
    poll = collections.Counter()
    pid_of = {}
    for line in out.splitlines():
        m = re.match(r"\s*(\d+)/(\d+)\s+(\d+)\s+[0-9a-f]+\s+(\S+)", line)
        if not m:
            continue
        pid, tid, period, sym = int(m[1]), int(m[2]), int(m[3]), m[4]
        ns[tid] += period
        pid_of[tid] = pid
        syms[tid].add(sym)
        if sym in POLL_SYMS or sym in SWITCH_SYMS:
            poll[tid] += period
    parent = min(pid_of.values())  # the caller started first
    split = collections.Counter()
    for tid, v in ns.items():
        if pid_of[tid] != parent:
            split["workers"] += v
        elif tid == parent:
            split["caller"] += v
        elif syms[tid] & set(LOOP_SYMS):
            split["loop"] += v
            split["loop_poll"] += poll[tid]
        else:
            split["other pool threads"] += v
    return {k: v / 1e9 for k, v in split.items()}


def callgrind_loop_ir(wb, method, workload, n, chunksize, tmp):
    """User-space instructions of the pool's loop thread in one run."""
    out = os.path.join(tmp, "cg-%s-%d" % (workload, chunksize))
    argv = [wb, workload, "--method", method, "--n", str(n), "--reps", "1"]
    if chunksize:
        argv += ["--chunksize", str(chunksize)]
    subprocess.run(["valgrind", "-q", "--tool=callgrind", "--separate-threads=yes",
                    "--callgrind-out-file=" + out + ".%p"] + argv,
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    loop_ir = 0
    for f in glob.glob(out + ".*"):
        text = open(f, errors="replace").read()
        tot = re.search(r"^(?:totals|summary): (\d+)", text, re.M)
        if tot and re.search(r"^fn=.*\b(loop_main|wpool__take)\b", text, re.M):
            loop_ir += int(tot[1])
    return loop_ir


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build-dir", default=os.path.join(HERE, "out", "build"))
    ap.add_argument("--method", default="fork")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--no-callgrind", action="store_true")
    a = ap.parse_args()
    wb = os.path.join(a.build_dir, "wpool_bench")
    with tempfile.TemporaryDirectory() as tmp:
        for workload, n, cs, label in (("W4", 100000, 1, "chunksize 1"),
                                       ("W4", 1000000, 100, "chunksize 100"),
                                       ("W3", 1000000, 0, "default chunksize (n / 8)")):
            s = perf_split(wb, workload, a.method, n, cs, a.reps, tmp)
            items = n * a.reps + 1000  # and the warm-up map of 1,000
            busy = s.get("loop", 0) - s.get("loop_poll", 0)
            print("%s, %s, %s: CPU ns per item" % (workload, a.method, label))
            for k in ("caller", "loop", "loop_poll", "other pool threads", "workers"):
                print("  %-20s %8.1f" % (k, s.get(k, 0) * 1e9 / items))
            print("  %-20s %8.1f   (the loop outside poll: the lock is held)" %
                  ("loop, lock held", busy * 1e9 / items))
            w = s.get("workers", 0)
            if busy > 0:
                print("  workers one loop thread keeps busy with this task: %.1f" % (w / busy))
        if not a.no_callgrind:
            print("Under callgrind (user space only; the kernel's part of a send or a"
                  " read is in the figures above): loop thread instructions")
            for workload, n, cs in (("W4", 20000, 1), ("W4", 200000, 100),
                                    ("W3", 1000000, 0)):
                ir = callgrind_loop_ir(wb, a.method, workload, n, cs, tmp)
                items = n + 1000  # and the warm-up map of 1,000
                # Messages: chunks of cs (the default: n / 8, and 1000 / 8).
                msgs = (-(-n // cs) - (-1000 // cs)) if cs else 16
                print("  %s chunksize %-8s %8.1f per item %8.0f per message" %
                      (workload, cs or "default", ir / items, ir / msgs))

if __name__ == "__main__":
    sys.exit(main())
