#!/usr/bin/env python3
"""Samples the resident (Rss) and proportional (Pss) memory of a server's processes until it is
sent SIGTERM, then prints the peaks of their sums, in KiB: "rss pss".

    sample_memory.py INTERVAL_SECONDS [--ready PATH] [--children] PID...

With --children, the children of the given processes are counted too (Dovecot's and Postfix's
workers come and go; they are looked up again every quarter second). One long-lived sampler
per run instead of a shell loop: that loop forked awk and pgrep several times per sample, and
on a two-core machine the forks took CPU from the servers being measured (most from Dovecot,
which has the most processes).

With --ready, PATH is created once the first sample is taken: the harness starts its clock after
that, so that the interpreter's start-up (tens of milliseconds of CPU on a two-core machine)
falls outside the measured run instead of into the first part of it, where it cost a short run
(the fastest server's) a larger share of its time than a long one."""
import os
import signal
import sys
import time

stopping = False


def stop(*_):
    global stopping
    stopping = True


def children_of(parents):
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                # The command may hold spaces and parentheses: the fields follow the last ")".
                fields = stat.read().rsplit(")", 1)[1].split()
            if int(fields[1]) in parents:
                found.append(int(entry))
        except (OSError, IndexError, ValueError):
            pass
    return found


def memory(pid):
    rss = pss = 0
    try:
        with open(f"/proc/{pid}/smaps_rollup") as rollup:
            for line in rollup:
                if line.startswith("Rss:"):
                    rss = int(line.split()[1])
                elif line.startswith("Pss:"):
                    pss = int(line.split()[1])
    except OSError:
        pass   # exited while being read: counts 0
    return rss, pss


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
    while not stopping:
        now = time.monotonic()
        if with_children and now - looked_up >= 0.25:
            pids, looked_up = roots + children_of(set(roots)), now
        total_rss = total_pss = 0
        for pid in pids:
            rss, pss = memory(pid)
            total_rss += rss
            total_pss += pss
        peak_rss, peak_pss = max(peak_rss, total_rss), max(peak_pss, total_pss)
        if ready:
            open(ready, "w").close()
            ready = None
        time.sleep(interval)
    print(peak_rss, peak_pss)


main()
