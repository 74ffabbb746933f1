#!/usr/bin/env bash
# Letterbox against Dovecot's LMTP (both delivering into Maildir, fsync on) and Letterbox's
# null-backend server against Postfix's smtp-sink, in one run on one machine, driven by
# Postfix's smtp-source over Unix sockets, each run into empty mailboxes. Prints one table (and, with --write, replaces the
# comparison section of docs/performance.md with it).
#
#   Benchmarks/compare/run.sh [--runs N] [--write]
#
# Needs (Debian): postfix (smtp-source, smtp-sink), dovecot-core, dovecot-lmtpd, bc; runs as root
# (Dovecot delivers as the user `nobody`).
set -euo pipefail
cd "$(dirname "$0")/../.."
runs=3
write=no
while [ $# -gt 0 ]; do
    case "$1" in
        --runs) runs=$2; shift 2 ;;
        --write) write=yes; shift ;;
        *) echo "usage: $0 [--runs N] [--write]" >&2; exit 64 ;;
    esac
done
for tool in smtp-source smtp-sink dovecot bc; do
    command -v "$tool" >/dev/null || { echo "$tool not found (apt-get install postfix dovecot-core dovecot-lmtpd bc)" >&2; exit 1; }
done
ulimit -n 8192
swift build -c release --product letterbox >/dev/null
swift build -c release --product NullServer >/dev/null

work=$(mktemp -d /var/tmp/letterbox-compare.XXXXXX)
chmod 755 "$work"
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    [ -f "$work/dovecot.conf" ] && doveadm -c "$work/dovecot.conf" stop 2>/dev/null || true
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

# --- the servers -----------------------------------------------------------------------------
mkdir -p "$work/dovecot-run" "$work/dovecot-mail"
chown nobody:nogroup "$work/dovecot-mail"
cat > "$work/dovecot.conf" <<CONF
base_dir = $work/dovecot-run
state_dir = $work/dovecot-run/state
protocols = lmtp
ssl = no
log_path = $work/dovecot.log
mail_location = maildir:$work/dovecot-mail/%d/%n
mail_fsync = optimized
passdb {
  driver = static
  args = nopassword=y
}
userdb {
  driver = static
  args = uid=nobody gid=nogroup home=$work/dovecot-mail/%d/%n allow_all_users=yes
}
service lmtp {
  unix_listener $work/dovecot.sock {
    mode = 0666
  }
}
CONF
dovecot -c "$work/dovecot.conf"

.build/release/letterbox serve --data-dir "$work/letterbox" --socket "$work/letterbox.sock" --hostname bench.test \
    --fsync always --log-level error > "$work/letterbox.out" 2>&1 &
pids+=($!); letterbox_pid=$!
.build/release/NullServer --unix "$work/null.sock" --lmtp > "$work/null.out" &
pids+=($!); null_pid=$!
smtp-sink -L -u nobody "unix:$work/sink.sock" 1024 &
pids+=($!); sink_pid=$!
for _ in $(seq 200); do
    [ -S "$work/letterbox.sock" ] && [ -S "$work/null.sock" ] && [ -S "$work/sink.sock" ] && [ -S "$work/dovecot.sock" ] && break
    sleep 0.1
done
dovecot_master=$(cat "$work/dovecot-run/master.pid")

# --- measuring -------------------------------------------------------------------------------
# The processes of a server: Dovecot is its master and every child; the others are one process.
procs() {
    case "$1" in
        dovecot) echo "$dovecot_master" $(pgrep -P "$dovecot_master" || true) ;;
        letterbox) echo "$letterbox_pid" ;;
        null) echo "$null_pid" ;;
        sink) echo "$sink_pid" $(pgrep -P "$sink_pid" || true) ;;
    esac
}
cpu_ticks() { local total=0; for p in $(procs "$1"); do [ -r "/proc/$p/stat" ] && total=$((total + $(awk '{print $14 + $15}' "/proc/$p/stat"))); done; echo $total; }
rss_kib() { local total=0; for p in $(procs "$1"); do [ -r "/proc/$p/status" ] && total=$((total + $(awk '/^VmRSS/ {print $2}' "/proc/$p/status"))); done; echo $total; }
pss_kib() { local total=0; for p in $(procs "$1"); do [ -r "/proc/$p/smaps_rollup" ] && total=$((total + $(awk '/^Pss:/ {print $2}' "/proc/$p/smaps_rollup"))); done; echo $total; }
files() { find "$1" -type f \( -path '*/new/*' -o -path '*/cur/*' \) 2>/dev/null | wc -l; }
socket_of() { echo "$work/$1.sock"; }
maildirs_of() { case "$1" in dovecot) echo "$work/dovecot-mail" ;; letterbox) echo "$work/letterbox/mail" ;; *) echo "" ;; esac; }

# One run: "msg/s cpu_ms_per_msg rss_kib pss_kib valid"
run_case() { # server sessions messages size recipients
    local server=$1 sessions=$2 messages=$3 size=$4 recipients=$5
    local dir before_files=0 after_files=0 start end ticks_before ticks_after peak_rss=0 peak_pss=0
    dir=$(maildirs_of "$server")
    # Every run starts with empty mailboxes, so neither server pays for what earlier runs left
    # (Dovecot's index and uidlist grow with the folder; Letterbox keeps no index).
    [ -n "$dir" ] && find "$dir" -mindepth 1 -maxdepth 1 -exec rm -rf {} +
    [ -n "$dir" ] && before_files=$(files "$dir")
    ticks_before=$(cpu_ticks "$server")
    start=$(date +%s.%N)
    smtp-source -L -d -s "$sessions" -m "$messages" -l "$size" -r "$recipients" -f sender@bench.test -t user@bench.test \
        "unix:$(socket_of "$server")" > /dev/null &
    local source_pid=$!
    while kill -0 "$source_pid" 2>/dev/null; do
        local rss pss
        rss=$(rss_kib "$server"); pss=$(pss_kib "$server")
        [ "$rss" -gt "$peak_rss" ] && peak_rss=$rss
        [ "$pss" -gt "$peak_pss" ] && peak_pss=$pss
        sleep 0.05
    done
    wait "$source_pid"
    end=$(date +%s.%N)
    ticks_after=$(cpu_ticks "$server")
    local valid=yes
    if [ -n "$dir" ]; then
        sleep 0.2
        after_files=$(files "$dir")
        [ $((after_files - before_files)) -eq $((messages * recipients)) ] || valid="no($((after_files - before_files)))"
    fi
    echo "$(echo "$messages / ($end - $start)" | bc -l) $(echo "($ticks_after - $ticks_before) * 10 / $messages" | bc -l) $peak_rss $peak_pss $valid"
}

median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

cases=("2000 4096 1 1" "2000 4096 1 8" "1000 4096 5 8" "200 1048576 1 8")
table="| Case | Server | msg/s | deliveries/s | CPU ms/msg | peak RSS | peak PSS | ratio |
|---|---|---|---|---|---|---|---|"
for case in "${cases[@]}"; do
    read -r messages size recipients sessions <<< "$case"
    for pair in "letterbox dovecot" "null sink"; do
        read -r a b <<< "$pair"
        : > "$work/$a.results"; : > "$work/$b.results"
        for _ in $(seq "$runs"); do   # ABAB: both measured in every round
            run_case "$a" "$sessions" "$messages" "$size" "$recipients" >> "$work/$a.results"
            run_case "$b" "$sessions" "$messages" "$size" "$recipients" >> "$work/$b.results"
        done
        for server in "$a" "$b"; do
            if grep -q "no(" "$work/$server.results"; then
                echo "INVALID: $server delivered the wrong number of files: $(cat "$work/$server.results")" >&2
                exit 1
            fi
        done
        ra=$(awk '{print $1}' "$work/$a.results" | median); rb=$(awk '{print $1}' "$work/$b.results" | median)
        for server in "$a" "$b"; do
            rate=$(awk '{print $1}' "$work/$server.results" | median)
            cpu=$(awk '{print $2}' "$work/$server.results" | median)
            rss=$(awk '{print $3}' "$work/$server.results" | sort -n | tail -1)
            pss=$(awk '{print $4}' "$work/$server.results" | sort -n | tail -1)
            ratio=""
            [ "$server" = "$a" ] && ratio=$(printf '%.2f×' "$(echo "$ra / $rb" | bc -l)")
            size_label=$([ "$size" -ge 1048576 ] && echo "1 MiB" || echo "4 KiB")
            table+=$'\n'"$(printf '| %s × %s, %s rcpt, %s sess | %s | %.0f | %.0f | %.3f | %d MiB | %d MiB | %s |' \
                "$messages" "$size_label" "$recipients" "$sessions" "$server" "$rate" "$(echo "$rate * $recipients" | bc -l)" \
                "$cpu" $((rss / 1024)) $((pss / 1024)) "$ratio")"
        done
    done
done

machine="$(nproc) vCPUs ($(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)), $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo) RAM, $(uname -sr), $(dovecot --version | cut -d' ' -f1) Dovecot, Postfix $(postconf -d mail_version 2>/dev/null | cut -d' ' -f3)"
echo "Machine: $machine; $runs runs per case, ABAB, medians (peaks for memory); ratio = Letterbox / Dovecot and Letterbox null / smtp-sink by msg/s."
echo "$table"
if [ "$write" = yes ]; then
    python3 - "$machine" "$runs" "$table" <<'PY'
import re, sys, datetime
machine, runs, table = sys.argv[1], sys.argv[2], sys.argv[3]
path = "docs/performance.md"
text = open(path).read()
start = "<!-- compare:start -->"
end = "<!-- compare:end -->"
section = f"{start}\nMeasured {datetime.date.today()} with `Benchmarks/compare/run.sh --runs {runs} --write` on {machine}.\n\n{table}\n{end}"
if start in text:
    text = re.sub(re.escape(start) + ".*?" + re.escape(end), lambda _: section, text, flags=re.S)
else:
    text = text.rstrip() + "\n\n## Letterbox vs Dovecot LMTP, null server vs smtp-sink (issue 7)\n\n" + section + "\n"
open(path, "w").write(text)
PY
fi
