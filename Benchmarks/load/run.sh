#!/usr/bin/env bash
# Load and soak test of the delivery agent (issue 8): `letterbox serve` (release build, fsync on)
# on a Unix socket under a temporary directory, driven by Benchmarks/LoadTest with many
# concurrent LMTP connections for a fixed time; then every 250 is checked against the files
# in the Maildirs and the delivery log, and `letterbox deliveries verify` must agree.
#
#   Benchmarks/load/run.sh [connections, default 1000] [seconds, default 60] [recipients, default 3]
#
# The soak of docs/reliability.md is `Benchmarks/load/run.sh 50 600`. Loopback only: the agent
# listens on a Unix socket in a temporary directory and stops by itself at the end.
set -euo pipefail
cd "$(dirname "$0")/../.."
connections=${1:-1000}
seconds=${2:-60}
recipients=${3:-3}
swift build -c release --static-swift-stdlib --product letterbox 2>&1 | tail -1
swift build --package-path Benchmarks --scratch-path .build/benchmarks -c release --static-swift-stdlib --product LoadTest 2>&1 | tail -1
bin=$(swift build -c release --static-swift-stdlib --show-bin-path)
benchmarks=$(swift build --package-path Benchmarks --scratch-path .build/benchmarks -c release --static-swift-stdlib --show-bin-path)
work=$(mktemp -d)
trap 'kill $agent 2>/dev/null || true; rm -rf "$work"' EXIT
"$bin/letterbox" serve --data-dir "$work/data" --log-level warning --max-recipients 1000 > "$work/agent.log" 2>&1 &
agent=$!
for _ in $(seq 100); do [ -S "$work/data/lmtp.sock" ] && break; sleep 0.1; done
status=0
"$benchmarks/LoadTest" --socket "$work/data/lmtp.sock" --pid "$agent" --connections "$connections" --seconds "$seconds" \
    --recipients "$recipients" --sample $(( seconds >= 60 ? seconds / 12 : 5 )) | tee "$work/load.log" || status=$?
kill -TERM "$agent"; wait "$agent" || true
accepted=$(sed -n 's/.* 250s=\([0-9]*\) .*/\1/p' "$work/load.log")
links=$(find "$work/data/mail" -path '*/new/*' -type f | wc -l)
rows=$("$bin/letterbox" deliveries stats --data-dir "$work/data" --json | sed -n 's/.*"delivered" : \([0-9]*\).*/\1/p')
verify=0
"$bin/letterbox" deliveries verify --data-dir "$work/data" > "$work/verify.log" || verify=$?
echo "check: 250s=$accepted files-in-new=$links delivered-rows=$rows verify-exit=$verify $(grep -E '^(missing|damaged|unlogged|mismatches)' "$work/verify.log" | tr '\n' ' ')"
grep -iE "error|critical" "$work/agent.log" | head -5 || true
[ "$status" = 0 ] && [ "$verify" = 0 ] && [ "$accepted" = "$links" ] && [ "$accepted" = "$rows" ]
