#!/usr/bin/env bash
# Protocol throughput of Letterbox's server (null backend: accepts and discards) against
# Postfix's smtp-sink, both over LMTP on a Unix socket, driven by Postfix's smtp-source, in one
# run on one machine. Also resident memory with 1,000 idle connections and while a 1 GiB
# message streams through.
#
#   Benchmarks/server-throughput.sh [runs]        (default 3 runs per case, median reported)
#
# Needs: postfix (smtp-source, smtp-sink), python3. Run as root or a user that may use
# `smtp-sink -u nobody`.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3}
ulimit -n 8192

command -v smtp-source >/dev/null || { echo "smtp-source not found (apt-get install postfix)"; exit 1; }
swift build --package-path Benchmarks --scratch-path .build/benchmarks -c release --static-swift-stdlib --product NullServer >/dev/null
work=$(mktemp -d)
null_pid=""; sink_pid=""
cleanup() {
    [ -n "$null_pid" ] && kill "$null_pid" 2>/dev/null || true
    [ -n "$sink_pid" ] && kill "$sink_pid" 2>/dev/null || true
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

.build/benchmarks/release/NullServer --unix "$work/null.sock" --lmtp ${NULL_SERVER_ARGS:-} > "$work/null.out" &
null_pid=$!
smtp-sink -L -u nobody "unix:$work/sink.sock" 1024 &
sink_pid=$!
for _ in $(seq 100); do
    [ -S "$work/null.sock" ] && [ -S "$work/sink.sock" ] && break
    sleep 0.1
done

rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
hwm_kib() { awk '/^VmHWM/ {print $2}' "/proc/$1/status"; }
cpu_ms() { awk '{print ($14 + $15) * 1000 / 100}' "/proc/$1/stat"; }   # utime+stime at 100 Hz

# One timed run: prints messages per second.
run_case() { # socket sessions messages size
    local start end
    start=$(date +%s.%N)
    smtp-source -L -d -s "$2" -m "$3" -l "$4" -f sender@example.org -t rcpt@example.net "unix:$1" >/dev/null
    end=$(date +%s.%N)
    echo "$3 / ($end - $start)" | bc -l
}

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

printf '%-40s %14s %14s %8s\n' "case (2,000 x 4 KiB, LMTP, unix socket)" "Letterbox null" "smtp-sink" "ratio"
for sessions in 1 8; do
    : > "$work/null.rates"; : > "$work/sink.rates"
    for _ in $(seq "$runs"); do   # ABAB: each run measures both, so drift hits both
        run_case "$work/null.sock" "$sessions" 2000 4096 >> "$work/null.rates"
        run_case "$work/sink.sock" "$sessions" 2000 4096 >> "$work/sink.rates"
    done
    null=$(median < "$work/null.rates"); sink=$(median < "$work/sink.rates")
    printf '%-40s %10.0f msg/s %10.0f msg/s %7.2fx\n' "$sessions session(s)" "$null" "$sink" "$(echo "$null / $sink" | bc -l)"
done
echo "Letterbox null server after the runs: RSS $(( $(rss_kib "$null_pid") / 1024 )) MiB, CPU $(cpu_ms "$null_pid") ms in total"

# 1,000 idle connections: open them, read each greeting, then sample the server's memory.
before=$(rss_kib "$null_pid")
python3 - "$work/null.sock" "$null_pid" <<'PY'
import socket, sys
path, pid = sys.argv[1], sys.argv[2]
conns = []
for _ in range(1000):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    conns.append(s)
for s in conns:
    assert s.recv(512).startswith(b"220 ")
for line in open(f"/proc/{pid}/status"):
    if line.startswith("VmRSS"):
        print(f"1,000 idle connections: server RSS {int(line.split()[1]) // 1024} MiB")
for s in conns:
    s.close()
PY
echo "(RSS before opening them: $(( before / 1024 )) MiB)"

# A 1 GiB message streamed through: peak resident memory must not follow the message size.
hwm_before=$(hwm_kib "$null_pid")
start=$(date +%s.%N)
smtp-source -L -s 1 -m 1 -l 1073741824 -f sender@example.org -t rcpt@example.net "unix:$work/null.sock" >/dev/null
end=$(date +%s.%N)
echo "1 GiB message: $(echo "1024 / ($end - $start)" | bc -l | xargs printf '%.0f') MiB/s, server peak RSS $(( hwm_before / 1024 )) MiB before, $(( $(hwm_kib "$null_pid") / 1024 )) MiB after"
