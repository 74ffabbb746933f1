#!/usr/bin/env bash
# Regenerates docs/man: swift-argument-parser's generate-manual plugin, then
# Scripts/man-pages.py (defaults and the pages' own sections). Run after changing an option.
set -euo pipefail
cd "$(dirname "$0")/.."
generated=$(mktemp -d)
trap 'rm -rf "$generated"' EXIT
swift package plugin --allow-writing-to-directory "$generated" generate-manual --multi-page \
    --date "$(date +%Y-%m-%d)" --output-directory "$generated" >/dev/null
swift build --product letterbox >/dev/null
python3 Scripts/man-pages.py "$generated" "$(swift build --show-bin-path)/letterbox" docs/man
