#!/usr/bin/env bash
# Shrinks each corpus in Corpus/ to the inputs that still add coverage (libFuzzer -merge=1),
# so that what the repository keeps stays small. Run after run.sh, which builds the targets.
set -euo pipefail
cd "$(dirname "$0")"
export SWIFT_BACKTRACE=enable=no
for target in command reply data text xclient proxy sieve; do
    name="Fuzz$(tr '[:lower:]' '[:upper:]' <<< "${target:0:1}")${target:1}"
    [ "$target" = xclient ] && name=FuzzXClient
    rm -rf "Corpus/$target.min" && mkdir "Corpus/$target.min"
    .build/release/$name -merge=1 "Corpus/$target.min" "Corpus/$target" > ".build/$name.merge.log" 2>&1
    echo "$name: $(ls "Corpus/$target" | wc -l) inputs → $(ls "Corpus/$target.min" | wc -l)"
    rm -rf "Corpus/$target" && mv "Corpus/$target.min" "Corpus/$target"
done
