#!/usr/bin/env python3
"""Samples the resident (Rss) and proportional (Pss) memory of a server's processes until it is
sent SIGTERM, then prints the peaks of their sums, in KiB: "rss pss".

    sample_memory.py INTERVAL_SECONDS [--ready PATH] [--children] PID...

With --children, the children of the given processes are counted too (Dovecot's and Postfix's
workers come and go; they are looked up again every quarter second, from the parents' own
/proc/PID/task/TID/children lists rather than a walk over every process). One long-lived sampler
per run instead of a shell loop: that loop forked awk and pgrep several times per sample, and
on a two-core machine the forks took CPU from the servers being measured (most from Dovecot,
which has the most processes).

With --ready, PATH is created once the first sample is taken: the harness starts its clock after
that, so that the interpreter's start-up (tens of milliseconds of CPU on a two-core machine)
falls outside the measured run instead of into the first part of it, where it cost a short run
(the fastest server's) a larger share of its time than a long one.

Resident memory is read every interval from /proc/PID/statm (the kernel's counters: cheap);
proportional memory only every PSS_EVERY-th sample, from /proc/PID/smaps_rollup, which walks
every page table of the process. Behind Postfix (about twenty processes) reading smaps_rollup
every 50 ms took about 7 % of the two cores' samples (`perf record -a`, 2026-12-05),
half of it in the kernel's page walk, on a machine those runs keep 90-95 % busy."""
import os
import signal
import sys
import time

stopping = False


def stop(*_):
    global stopping
    stopping = True


PSS_EVERY = 10
PAGE_KIB = os.sysconf("SC_PAGE_SIZE") // 1024


def children_of(parents):
    found = []
    for parent in parents:
        try:
            tasks = os.listdir(f"/proc/{parent}/task")
        except OSError:
            continue   # exited
        for task in tasks:
            try:
                with open(f"/proc/{parent}/task/{task}/children") as children:
                    found.extend(int(child) for child in children.read().split())
            except (OSError, ValueError):
                pass
    return found


def resident(pid):
    try:
        with open(f"/proc/{pid}/statm") as statm:
            return int(statm.read().split()[1]) * PAGE_KIB
    except (OSError, IndexError, ValueError):
        return 0   # exited while being read: counts 0


def proportional(pid):
    try:
        with open(f"/proc/{pid}/smaps_rollup") as rollup:
            for line in rollup:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass   # exited while being read: counts 0
    return 0


def main():
    signal.signal(signal.SIGTERM, stop)
    interval = float(sys.argv[1])
    arguments = sys.argv[2:]
    ready = None
    if "--ready" in arguments:
        at = arguments.index("--ready")
        ready = arguments[at + 1]
        del arguments[at:at + 2]
    with_children = "--children" in arguments
    roots = [int(a) for a in arguments if a != "--children"]
    pids, looked_up = list(roots), 0.0
    peak_rss = peak_pss = 0
    sample = 0
    while not stopping:
        now = time.monotonic()
        if with_children and now - looked_up >= 0.25:
            pids, looked_up = roots + children_of(roots), now
        peak_rss = max(peak_rss, sum(resident(pid) for pid in pids))
        if sample % PSS_EVERY == 0:
            peak_pss = max(peak_pss, sum(proportional(pid) for pid in pids))
        sample += 1
        if ready:
            open(ready, "w").close()
            ready = None
        time.sleep(interval)
    print(peak_rss, peak_pss)


main()
