#!/usr/bin/env bash
# Builds the libFuzzer targets (SMTPCore with the fuzzer and address sanitizers) and runs each
# over its corpus in Corpus/<name>, adding what it finds there.
#   Fuzz/run.sh [seconds per target, default 30] [extra libFuzzer flags...]
# Exits non-zero on the first crash; the reproducer is written to Fuzz/crash-*.
set -euo pipefail
cd "$(dirname "$0")"
seconds=${1:-30}
shift || true
# The coverage kinds are spelled out: with --sanitize=fuzzer alone, SwiftPM builds here were
# seen to come out without any coverage instrumentation (446 counters, all libFuzzer's own,
# instead of about 34,000), which makes fuzzing blind; the check below refuses such a build.
swift build -c release --sanitize=fuzzer --sanitize=address \
    -Xswiftc -sanitize-coverage=edge,inline-8bit-counters,pc-table 2>&1 | tail -1
bin=.build/release
export SWIFT_BACKTRACE=enable=no
for target in command reply data text xclient proxy sieve; do
    name="Fuzz$(tr '[:lower:]' '[:upper:]' <<< "${target:0:1}")${target:1}"
    [ "$target" = xclient ] && name=FuzzXClient
    counters=$("$bin/$name" -runs=0 2>&1 | sed -n 's/.*Loaded 1 modules *(\([0-9]*\) inline.*/\1/p')
    if [ "${counters:-0}" -lt 10000 ]; then echo "$name: only ${counters:-0} coverage counters: not instrumented"; exit 1; fi
    status=0
    "$bin/$name" "Corpus/$target" -max_total_time="$seconds" -artifact_prefix=crash- -print_final_stats=1 "$@" \
        > ".build/$name.log" 2>&1 || status=$?
    grep -E "^stat::(number_of_executed_units|new_units_added)" ".build/$name.log" | sed "s/^/$name: /" || true
    if [ "$status" != 0 ]; then
        tail -40 ".build/$name.log"
        echo "$name: FAILED (status $status)"
        exit 1
    fi
done
