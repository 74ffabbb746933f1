#!/usr/bin/env bash
# Two (or more) builds of the agent against each other, in turn, many rounds: what a change to
# the agent gains, when one comparison of run.sh cannot tell (the same build's msg/s moves by
# 10–15 % from run to run on these machines, so a change needs many rounds side by side).
#
#   Benchmarks/compare/ab.sh [--rounds N] [--sessions S] [--recipients R] [--messages M] [--size OCTETS] [--warm-up W] VARIANT...
#
# A VARIANT is LABEL=BINARY, optionally followed by +memlog (the delivery log on a tmpfs, what
# the log costs) and by ,NAME=VALUE pairs set in the agent's environment, e.g.
#   Benchmarks/compare/ab.sh --rounds 8 old=/tmp/letterbox-old new=.build/release/letterbox
#   Benchmarks/compare/ab.sh disk=.build/release/letterbox mem=.build/release/letterbox+memlog
# Every round runs each variant once, in the order given (ABAB…), each on a fresh agent with
# an empty data directory: W messages to warm up (1,000 by default, 100 of 1 MiB or more; more
# of them measure the agent with a log that has grown), then M measured
# (4 KiB unless --size says otherwise; smtp-source -L over the agent's Unix socket). It prints one line per run, then per variant the median and
# the spread, and for every variant after the first how many rounds it was ahead of the first.
#
# Like run.sh, the mail goes to an ext4 file system of its own (default format, with its
# journal) on a loop device with direct I/O, made for this invocation and removed after it.
# --fs makes the mail's file system of that type instead of ext4 (mail-fs.sh).
#
# Needs root, smtp-source (Debian's postfix), mkfs for the file system and losetup.
set -euo pipefail
cd "$(dirname "$0")/../.."
rounds=8 sessions=8 recipients=1 messages=3000 size=4096 warm_up="" fs=ext4
while [ $# -gt 0 ]; do
    case "$1" in
        --rounds) rounds=$2; shift 2 ;;
        --sessions) sessions=$2; shift 2 ;;
        --recipients) recipients=$2; shift 2 ;;
        --messages) messages=$2; shift 2 ;;
        --size) size=$2; shift 2 ;;
        --warm-up) warm_up=$2; shift 2 ;;
        --fs) fs=$2; shift 2 ;;
        --*) echo "unknown option $1" >&2; exit 64 ;;
        *) break ;;
    esac
done
[ $# -ge 2 ] || { echo "usage: $0 [--rounds N] [--sessions S] [--recipients R] [--messages M] [--size OCTETS] [--warm-up W] [--fs ext4|xfs|btrfs] LABEL=BINARY[+memlog][,NAME=VALUE…] …" >&2; exit 64; }
source Benchmarks/compare/mail-fs.sh
mail_fs_tool "$fs" >/dev/null || exit 64
for tool in smtp-source "$(mail_fs_tool "$fs")" losetup; do
    command -v "$tool" >/dev/null || { echo "$tool not found (apt-get install postfix e2fsprogs mount)" >&2; exit 1; }
done
labels=() binaries=() memlogs=() environments=()
for variant in "$@"; do
    label=${variant%%=*} rest=${variant#*=}
    spec=${rest%%,*} environment=""
    [ "$spec" != "$rest" ] && environment=$(echo "${rest#*,}" | tr ',' ' ')
    binary=${spec%+memlog} memlog=no
    [ "$binary" != "$spec" ] && memlog=yes
    [ -x "$binary" ] || { echo "$label: $binary is not an executable" >&2; exit 1; }
    labels+=("$label") binaries+=("$(readlink -f "$binary")") memlogs+=("$memlog") environments+=("$environment")
done

if [ -z "$warm_up" ]; then
    warm_up=1000
    [ "$size" -ge 1048576 ] && warm_up=100
fi
work=$(mktemp -d /var/tmp/letterbox-ab.XXXXXX)
loop="" agent_pid=""
cleanup() {
    [ -n "$agent_pid" ] && kill "$agent_pid" 2>/dev/null && wait "$agent_pid" 2>/dev/null
    mountpoint -q "$work/fs" && umount "$work/fs"
    [ -n "$loop" ] && losetup --detach "$loop"
    rm -rf "$work" /dev/shm/letterbox-ab-log.*
}
trap cleanup EXIT
trap 'exit 130' INT TERM
make_mail_fs "$fs" "$work/fs.img" "$work/fs"
disk=$(basename "$loop")
# Whether a Unix socket takes a connection: the agent's socket file appears at bind(2), a moment
# before listen(2), so the file alone does not say smtp-source can connect.
accepts() { python3 -c 'import socket, sys; socket.socket(socket.AF_UNIX).connect(sys.argv[1])' "$1" 2>/dev/null; }
flushes() { awk -v d="$disk" '$3 == d {print $19}' /proc/diskstats; }

# One run: "msg/s flushes/msg cpu_ms/msg" of a fresh agent.
run() { # index run-number
    local index=$1 number=$2 data="$work/fs/run.$number" database="" log_dir=""
    if [ "${memlogs[$index]}" = yes ]; then
        log_dir=$(mktemp -d /dev/shm/letterbox-ab-log.XXXXXX)
        database="--database $log_dir/deliveries.sqlite"
    fi
    # shellcheck disable=SC2086
    env ${environments[$index]} "${binaries[$index]}" serve --data-dir "$data" $database --socket "$work/lmtp.sock" \
        --socket-mode 0666 --hostname bench.test --fsync always --log-level error > "$work/agent.out" 2>&1 &
    agent_pid=$!
    for _ in $(seq 200); do accepts "$work/lmtp.sock" && break; sleep 0.05; done
    smtp-source -L -d -s "$sessions" -m "$warm_up" -l "$size" -r "$recipients" -f s@bench.test -t user@bench.test \
        "unix:$work/lmtp.sock" > /dev/null
    local ticks_before flushes_before start end ticks_after
    ticks_before=$(awk '{print $14 + $15}' "/proc/$agent_pid/stat")
    flushes_before=$(flushes)
    start=$(date +%s.%N)
    smtp-source -L -d -s "$sessions" -m "$messages" -l "$size" -r "$recipients" -f s@bench.test -t user@bench.test \
        "unix:$work/lmtp.sock" > /dev/null
    end=$(date +%s.%N)
    ticks_after=$(awk '{print $14 + $15}' "/proc/$agent_pid/stat")
    local delivered; delivered=$(find "$data/mail" -path '*/new/*' -type f | wc -l)
    kill "$agent_pid"; wait "$agent_pid" 2>/dev/null || true; agent_pid=""
    rm -f "$work/lmtp.sock"
    [ -n "$log_dir" ] && rm -rf "$log_dir"
    if [ "$delivered" -ne $(((messages + warm_up) * recipients)) ]; then
        echo "INVALID: ${labels[$index]} delivered $delivered files, expected $(((messages + warm_up) * recipients))" >&2
        exit 1
    fi
    printf '%.0f %.2f %.3f\n' "$(echo "$messages / ($end - $start)" | bc -l)" \
        "$(echo "($(flushes) - $flushes_before) / $messages" | bc -l)" \
        "$(echo "($ticks_after - $ticks_before) * 10 / $messages" | bc -l)"
}

echo "$messages × $size octets, $recipients rcpt, $sessions sessions, $rounds rounds; msg/s, disk flushes/msg, agent CPU ms/msg"
number=0
for round in $(seq "$rounds"); do
    line="round $round:"
    for index in "${!labels[@]}"; do
        number=$((number + 1))
        result=$(run "$index" "$number")
        echo "$result" >> "$work/results.$index"
        line+="  ${labels[$index]} $result"
    done
    echo "$line"
done
python3 - "$work" "${labels[@]}" <<'PY'
import statistics, sys
work, labels = sys.argv[1], sys.argv[2:]
runs = [[list(map(float, line.split())) for line in open(f"{work}/results.{i}")] for i in range(len(labels))]
first = [r[0] for r in runs[0]]
for label, results in zip(labels, runs):
    rates = [r[0] for r in results]
    line = (f"{label}: median {statistics.median(rates):.0f} msg/s (min {min(rates):.0f}, max {max(rates):.0f}), "
            f"flushes/msg {statistics.median(r[1] for r in results):.2f}, CPU ms/msg {statistics.median(r[2] for r in results):.3f}")
    if results is not runs[0]:
        ahead = sum(a > b for a, b in zip(rates, first))
        line += f"; ahead of {labels[0]} in {ahead} of {len(rates)} rounds, median ratio {statistics.median(a / b for a, b in zip(rates, first)):.2f}"
    print(line)
PY
