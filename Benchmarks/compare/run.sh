#!/usr/bin/env bash
# Letterbox against Dovecot's LMTP (both delivering into Maildir, fsync on) and Letterbox's
# null-backend server against Postfix's smtp-sink, in one run on one machine, driven by
# Postfix's smtp-source over Unix sockets; the same agent with its log on a tmpfs (what the
# log costs), and with its log on a private PostgreSQL server (alone, and two agents sharing
# that log and one mail root, each driven by an smtp-source of its own: their total); and end to end, smtp-source → a private Postfix on loopback → lmtp:unix: → the
# agent, smtp-sink, Dovecot, the null server or the agent with its log on a tmpfs. Prints one table (and, with --write, replaces the comparison
# section of docs/performance.md with it).
#
#   Benchmarks/compare/run.sh [--runs N] [--write] [--only REGEX] [--fs ext4|xfs|btrfs]
#
# --fs makes the mail's file system (and the spent-message directory's) of that type instead of
# ext4; the line before the table names it.
#
# With LETTERBOX_BIN set, that binary is measured as the agent instead of this tree's release
# build (to compare two builds in turn). With PROFILE_DIR set, every run is also recorded by `perf record -e cpu-clock -a -g` (Debian's
# linux-perf) into that directory, one file per server and run, for `perf report --sort comm`.
#
# PGLOG_OPTIONS, URL-encoded libpq options, are given to the agents of the pglog cases (e.g.
# `-c%20synchronous_commit%3Doff` measures what a commit that waits for no WAL flush would gain).
#
# --only runs just the cases whose label and servers match (e.g. '4 KiB, 1 rcpt, 8 sess', or
# 'postfix' for the end-to-end cases), for trying a change; it cannot be combined with --write.
#
# Needs (Debian): postfix (smtp-source, smtp-sink, the private instance), dovecot-core,
# dovecot-lmtpd, postgresql, bc; runs as root (Dovecot delivers as the user `nobody`, PostgreSQL
# runs as `postgres`).
set -euo pipefail
cd "$(dirname "$0")/../.."
runs=3
write=no
only=""
fs=ext4
while [ $# -gt 0 ]; do
    case "$1" in
        --runs) runs=$2; shift 2 ;;
        --write) write=yes; shift ;;
        --only) only=$2; shift 2 ;;
        --fs) fs=$2; shift 2 ;;
        *) echo "usage: $0 [--runs N] [--write] [--only REGEX] [--fs ext4|xfs|btrfs]" >&2; exit 64 ;;
    esac
done
source Benchmarks/compare/mail-fs.sh
mail_fs_tool "$fs" >/dev/null || exit 64
if [ "$write" = yes ] && [ "$fs" != ext4 ]; then echo "--write records the ext4 comparison; drop --fs" >&2; exit 64; fi
if [ "$write" = yes ] && [ -n "$only" ]; then echo "--write needs every case; drop --only" >&2; exit 64; fi
for tool in smtp-source smtp-sink dovecot postfix bc "$(mail_fs_tool "$fs")" losetup; do
    command -v "$tool" >/dev/null || { echo "$tool not found (apt-get install postfix dovecot-core dovecot-lmtpd bc)" >&2; exit 1; }
done
pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -x "$pg_bin/initdb" ] || { echo "PostgreSQL not found (apt-get install postgresql)" >&2; exit 1; }
ulimit -n 8192
agent=${LETTERBOX_BIN:-.build/release/letterbox}
[ -n "${LETTERBOX_BIN:-}" ] || swift build -c release --static-swift-stdlib --product letterbox >/dev/null
swift build --package-path Benchmarks --scratch-path .build/benchmarks -c release --static-swift-stdlib --product NullServer >/dev/null
# The binaries just written are in the page cache as the linker wrote them (large folios, so a
# fault maps far more than the page it needs): the agent's resident size was 31–33 MiB started
# from a fresh build and 28.8 MiB from the same file read back from disk, as an installed
# binary is after a boot. Both are dropped from the cache, so the servers start as deployed.
sync
for binary in "$agent" .build/benchmarks/release/NullServer; do
    dd if="$(readlink -f "$binary")" iflag=nocache count=0 status=none
done

work=$(mktemp -d /var/tmp/letterbox-compare.XXXXXX)
chmod 755 "$work"
pids=()
loop=""
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    [ -f "$work/dovecot.conf" ] && doveadm -c "$work/dovecot.conf" stop 2>/dev/null || true
    [ -f "$work/postfix/etc/main.cf" ] && postfix -c "$work/postfix/etc" stop 2>/dev/null || true
    [ -f "$mail/pgdata/postmaster.pid" ] && runuser -u postgres -- "$pg_bin/pg_ctl" -D "$mail/pgdata" -m fast -w stop >/dev/null 2>&1 || true
    wait 2>/dev/null || true
    mountpoint -q "$work/fs" && umount "$work/fs"
    [ -n "$loop" ] && losetup --detach "$loop"
    rm -rf "$work" "${memlog_dir:-}"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The mail of every server goes to a new file system of its own (ext4 by default, in its default
# format, with its journal, as on most mail hosts; --fs picks another), on a loop device over a
# file on the machine's disk with direct I/O, so every flush still reaches that disk
# (mail-fs.sh). Its own file system makes runs repeatable:
# on the machine's root file system (ext4 without a journal here) a run was slowed by whatever
# had been deleted in the minutes before — ext4 skips inodes freed less than 30 s ago (5 min
# while their table block is dirty) when it allocates, and after `rm -rf` of a few thousand
# files a third of the agent's CPU time went into that search.
make_mail_fs "$fs" "$work/fs.img" "$work/fs"
chmod 755 "$work/fs"
mail="$work/fs"
mkdir -p "$mail/spent"

# --- the servers -----------------------------------------------------------------------------
mkdir -p "$work/dovecot-run" "$mail/dovecot-mail"
chown nobody:nogroup "$mail/dovecot-mail"
cat > "$work/dovecot.conf" <<CONF
base_dir = $work/dovecot-run
state_dir = $work/dovecot-run/state
protocols = lmtp
ssl = no
log_path = $work/dovecot.log
mail_location = maildir:$mail/dovecot-mail/%d/%n
mail_fsync = optimized
passdb {
  driver = static
  args = nopassword=y
}
userdb {
  driver = static
  args = uid=nobody gid=nogroup home=$mail/dovecot-mail/%d/%n allow_all_users=yes
}
service lmtp {
  unix_listener $work/dovecot.sock {
    mode = 0666
  }
}
CONF
dovecot -c "$work/dovecot.conf"

# The agent as deployed (fsync on, log on disk), and the same with its log on a tmpfs: the same
# code, but the log's writes and syncs cost no disk work, which is what the log costs.
memlog_dir=$(mktemp -d /dev/shm/letterbox-compare-log.XXXXXX)
"$agent" serve --data-dir "$mail/letterbox" --socket "$work/letterbox.sock" --socket-mode 0666 \
    --hostname bench.test --fsync always --log-level error > "$work/letterbox.out" 2>&1 &
pids+=($!); letterbox_pid=$!
"$agent" serve --data-dir "$mail/memlog" --database "$memlog_dir/deliveries.sqlite" --socket "$work/memlog.sock" \
    --socket-mode 0666 --hostname bench.test --fsync always --log-level error > "$work/memlog.out" 2>&1 &
pids+=($!); memlog_pid=$!
# The agent with its log on PostgreSQL: a private cluster whose data is on the mail's file
# system (its WAL flushes go to the same disk as the mail's), with the server's defaults —
# fsync on, synchronous_commit on: a commit is on disk before a 250 — and its socket in $work.
# Then a second agent on the same log and mail root, with a host name of its own.
mkdir -p "$work/pg" "$mail/pgdata"
chown postgres "$work/pg" "$mail/pgdata"
(cd "$work/pg" && runuser -u postgres -- "$pg_bin/initdb" -D "$mail/pgdata" -A trust -U postgres > "$work/pg/initdb.out" 2>&1)
(cd "$work/pg" && runuser -u postgres -- "$pg_bin/pg_ctl" -D "$mail/pgdata" -o "-k $work/pg -c listen_addresses=''" \
    -l "$work/pg/log" -w start > /dev/null)
(cd "$work/pg" && runuser -u postgres -- "$pg_bin/createdb" -h "$work/pg" -U postgres letterbox)
pg_master=$(head -1 "$mail/pgdata/postmaster.pid")
pg_url="postgresql://postgres@/letterbox?host=$work/pg${PGLOG_OPTIONS:+&options=$PGLOG_OPTIONS}"
"$agent" serve --data-dir "$mail/pglog" --database "$pg_url" --socket "$work/pglog.sock" --socket-mode 0666 \
    --hostname bench.test --fsync always --log-level error > "$work/pglog.out" 2>&1 &
pids+=($!); pglog_pid=$!
"$agent" serve --data-dir "$mail/pglogb" --mail-root "$mail/pglog/mail" --database "$pg_url" --socket "$work/pglogb.sock" \
    --socket-mode 0666 --hostname bench-b.test --fsync always --log-level error > "$work/pglogb.out" 2>&1 &
pids+=($!); pglogb_pid=$!
.build/benchmarks/release/NullServer --unix "$work/null.sock" --lmtp > "$work/null.out" &
pids+=($!); null_pid=$!
smtp-sink -L -u nobody "unix:$work/sink.sock" 1024 &
pids+=($!); sink_pid=$!

# A private Postfix on loopback relaying each test domain over LMTP to one of the servers:
# its own queue and configuration, the packaged master.cf without chroot, defaults otherwise.
# Its queue is on the mail's file system, as on a host with one journaled file system: on the
# root file system here (ext4 without a journal) every queue file Postfix's cleanup created
# searched past the inodes freed in the last seconds, 19–29 % of the machine's CPU in these
# runs, which no mail host with a journal pays (and which slowed Postfix → smtp-sink most).
postfix_port=20025
postfix_queue="$mail/postfix-queue"
mkdir -p "$work/postfix/etc" "$postfix_queue" "$work/postfix/data"
chown postfix "$work/postfix/data"
cp Tests/Fixtures/postfix-private-instance.cf "$work/postfix/etc/main.cf"
cat >> "$work/postfix/etc/main.cf" <<CONF
queue_directory = $postfix_queue
data_directory = $work/postfix/data
myhostname = mx.bench.test
mydestination =
maillog_file = $work/postfix/maillog
relay_domains = letterbox.test, sink.test, dovecot.test, null.test, memlog.test
transport_maps = inline:{ letterbox.test=lmtp:unix:$work/letterbox.sock, sink.test=lmtp:unix:$work/sink.sock, dovecot.test=lmtp:unix:$work/dovecot.sock, null.test=lmtp:unix:$work/null.sock, memlog.test=lmtp:unix:$work/memlog.sock }
CONF
awk -v port="$postfix_port" '
    /^[^#[:space:]]/ && NF >= 8 { if ($1 == "smtp" && $2 == "inet") $1 = "127.0.0.1:" port; $5 = "n" }
    { print }' /etc/postfix/master.cf > "$work/postfix/etc/master.cf"
postfix -c "$work/postfix/etc" start 2>"$work/postfix.out" || { cat "$work/postfix.out" >&2; exit 1; }

# Whether a Unix socket takes a connection (a socket file appears at bind(2), before listen(2)).
accepts() { python3 -c 'import socket, sys; socket.socket(socket.AF_UNIX).connect(sys.argv[1])' "$1" 2>/dev/null; }
for _ in $(seq 200); do
    accepts "$work/letterbox.sock" && accepts "$work/memlog.sock" && accepts "$work/null.sock" && accepts "$work/sink.sock" \
        && accepts "$work/pglog.sock" && accepts "$work/pglogb.sock" && accepts "$work/dovecot.sock" && (exec 3<>"/dev/tcp/127.0.0.1/$postfix_port") 2>/dev/null && break
    sleep 0.1
done
dovecot_master=$(cat "$work/dovecot-run/master.pid")

# --- measuring -------------------------------------------------------------------------------
# The processes of a server: Dovecot is its master and every child; Postfix every process of
# the instance (its master's children); the others are one process.
postfix_master() { head -1 "$postfix_queue/pid/master.pid" 2>/dev/null | tr -d ' '; }
procs() {
    case "$1" in
        dovecot) echo "$dovecot_master" $(pgrep -P "$dovecot_master" || true) ;;
        letterbox) echo "$letterbox_pid" ;;
        memlog) echo "$memlog_pid" ;;
        # The agent and the PostgreSQL server it writes to (its log is part of its cost).
        pglog) echo "$pglog_pid" "$pg_master" $(pgrep -P "$pg_master" || true) ;;
        pglog-pair) echo "$pglog_pid" "$pglogb_pid" "$pg_master" $(pgrep -P "$pg_master" || true) ;;
        null) echo "$null_pid" ;;
        sink) echo "$sink_pid" $(pgrep -P "$sink_pid" || true) ;;
        postfix-*) local m; m=$(postfix_master); echo "$m" $(pgrep -P "$m" || true) ;;
    esac
}
# Sums a field over the server's processes; one that exits while being read counts 0.
sum_over() { # server file awk-program
    local total=0 value
    for p in $(procs "$1"); do
        value=$(awk "$3" "/proc/$p/$2" 2>/dev/null || true)
        [ -n "$value" ] && total=$((total + value))
    done
    echo $total
}
# User and system time, with that of the children each process has reaped (fields 16 and 17):
# Postfix's and Dovecot's workers come and go, and a worker that exited during the run would
# otherwise take its time with it (the sum could even fall).
cpu_ticks() { sum_over "$1" stat '{print $14 + $15 + $16 + $17}'; }
# What the memory sampler watches: the process, or for the servers of several processes the
# parent whose children come and go.
roots() {
    case "$1" in
        dovecot) echo --children "$dovecot_master" ;;
        pglog|pglog-pair) echo --children "$pg_master" ;;
        sink) echo --children "$sink_pid" ;;
        postfix-*) echo --children "$(postfix_master)" ;;
        *) procs "$1" ;;
    esac
}
files() { find "$1" -type f \( -path '*/new/*' -o -path '*/cur/*' \) 2>/dev/null | wc -l; }
maildirs_of() {
    case "$1" in
        dovecot|postfix-dovecot) echo "$mail/dovecot-mail" ;;
        letterbox|postfix-letterbox) echo "$mail/letterbox/mail" ;;
        memlog|postfix-memlog) echo "$mail/memlog/mail" ;;
        pglog|pglog-pair) echo "$mail/pglog/mail" ;;
        *) echo "" ;;
    esac
}
# The recipients delivered since the maillog had OFFSET octets: only this run's lines are read
# (the whole log, grown to tens of megabytes by the later runs, was read ten times a second).
sent_since() { tail -c +$(($1 + 1)) "$work/postfix/maillog" 2>/dev/null | grep -c "status=sent" || true; }
log_size() { stat -c %s "$work/postfix/maillog" 2>/dev/null || echo 0; }
# Cache flushes the mail's file system has issued (/proc/diskstats, field 16 of the loop
# device's statistics): every fsync of a file or directory and every SQLite commit ends in one
# (or in a journal commit that does), the dearest part of a durable delivery.
disk=$(basename "$loop")
flushes() { awk -v d="$disk" '$3 == d {print $19}' /proc/diskstats; }
# The machine's idle ticks (idle + iowait) and all its ticks, "idle total": whether a run was
# bound by CPU (little idle) or by waiting for the disk.
idle_ticks() { awk '/^cpu / {print $5 + $6, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9}' /proc/stat; }

# Where the mail of earlier runs goes: moved aside on the same file system, deleted with it at
# the end (deleting it between runs would make the next run pay for the freed inodes, above).
set_aside() { # directory
    local dir=$1
    [ -n "$dir" ] && [ -d "$dir" ] || return 0
    local spent; spent=$(mktemp -d "$mail/spent/run.XXXXXX")
    find "$dir" -mindepth 1 -maxdepth 1 -exec mv -t "$spent" {} +
}

# One run: "msg/s cpu_ms_per_msg rss_kib pss_kib valid flushes_per_msg"
run_case() { # server sessions messages size recipients
    local server=$1 sessions=$2 messages=$3 size=$4 recipients=$5
    local dir before_files=0 after_files=0 start end ticks_before ticks_after peak_rss=0 peak_pss=0
    local target="unix:$work/$server.sock" domain=bench.test log_before
    dir=$(maildirs_of "$server")
    set_aside "$dir"
    [ -n "$dir" ] && before_files=$(files "$dir")
    case "$server" in postfix-*) target="127.0.0.1:$postfix_port"; domain=${server#postfix-}.test ;; esac
    log_before=$(log_size)
    # The memory sampler runs from before the clock and the counters start: its interpreter's
    # start-up is not part of any server's run (it took tens of milliseconds of CPU from the
    # first part of a run, a larger share of a fast server's 2,000 messages than a slow one's).
    local sampler_pid
    rm -f "$work/sampler.ready"
    # shellcheck disable=SC2046
    python3 Benchmarks/compare/sample_memory.py 0.05 --ready "$work/sampler.ready" $(roots "$server") > "$work/memory.peaks" &
    sampler_pid=$!
    for _ in $(seq 500); do [ -e "$work/sampler.ready" ] && break; sleep 0.01; done
    local flushes_before; flushes_before=$(flushes)
    ticks_before=$(cpu_ticks "$server")
    local idle_before; idle_before=$(idle_ticks)
    local profiler_pid=""
    if [ -n "${PROFILE_DIR:-}" ]; then
        # The whole machine sampled by the CPU clock (no hardware counters needed): what each
        # process and the kernel's threads spent on this run.
        perf record -e cpu-clock -F 2000 -a -g -o "$PROFILE_DIR/$server.$(date +%s%N).data" > /dev/null 2>&1 &
        profiler_pid=$!
        sleep 0.5
    fi
    start=$(date +%s.%N)
    if [ "$server" = pglog-pair ]; then
        # Two agents, each driven by its own smtp-source with the case's sessions and half the
        # messages, as two MTAs (or one spreading its connections) would: the rate is their total.
        smtp-source -L -d -s "$sessions" -m $((messages / 2)) -l "$size" -r "$recipients" -f sender@bench.test \
            -t "user@$domain" "unix:$work/pglog.sock" > /dev/null &
        local pair_pid=$!
        smtp-source -L -d -s "$sessions" -m $((messages - messages / 2)) -l "$size" -r "$recipients" -f sender@bench.test \
            -t "user@$domain" "unix:$work/pglogb.sock" > /dev/null
        wait "$pair_pid"
    else
        smtp-source $([ "${server%%-*}" = postfix ] || echo -L) -d -s "$sessions" -m "$messages" -l "$size" -r "$recipients" \
            -f sender@bench.test -t "user@$domain" "$target" > /dev/null &
        wait $!
    fi
    local waited=0
    # Through Postfix, the run ends when the last recipient is delivered (the maillog's
    # status=sent lines), not when smtp-source has handed the messages over. 10 minutes at most.
    case "$server" in
        postfix-*) while [ "$(sent_since "$log_before")" -lt $((messages * recipients)) ] && [ $waited -lt 6000 ]; do
                       sleep 0.1; waited=$((waited + 1)); done ;;
    esac
    end=$(date +%s.%N)
    [ -n "$profiler_pid" ] && { kill -INT "$profiler_pid"; wait "$profiler_pid" || true; }
    ticks_after=$(cpu_ticks "$server")
    local idle_after; idle_after=$(idle_ticks)
    kill -TERM "$sampler_pid"
    wait "$sampler_pid" || true
    read -r peak_rss peak_pss < "$work/memory.peaks"
    local valid=yes
    case "$server" in
        postfix-*) [ "$(sent_since "$log_before")" -eq $((messages * recipients)) ] || valid="no(sent $(sent_since "$log_before"))"
                   # Where each message's time went, by Postfix's own account (delays=a/b/c/d:
                   # before the queue manager, waiting in it, connection set-up, transmission).
                   tail -c +$((log_before + 1)) "$work/postfix/maillog" | grep "status=sent" \
                       | grep -o "delays=[0-9./]*" | cut -d= -f2 >> "$work/$server.delays" ;;
    esac
    if [ -n "$dir" ]; then
        sleep 0.2
        after_files=$(files "$dir")
        [ $((after_files - before_files)) -eq $((messages * recipients)) ] || valid="no($((after_files - before_files)) files)"
    fi
    echo "$(echo "$messages / ($end - $start)" | bc -l) $(echo "($ticks_after - $ticks_before) * 10 / $messages" | bc -l) $peak_rss $peak_pss $valid" \
        "$(echo "($(flushes) - $flushes_before) / $messages" | bc -l)" \
        "$(echo "${idle_after#* } - ${idle_before#* }" | bc -l) $(echo "${idle_after% *} - ${idle_before% *}" | bc -l)"
}

median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

# Each case: messages size recipients sessions, then the servers measured in turn every round
# (ABAB…); the first server's row gets the ratio to the second's, a third's row (the agent with
# its log in memory, or Dovecot behind Postfix) the first's ratio to it, and a fourth's (the
# null server behind Postfix: the protocol alone, what the agent would reach if its deliveries
# cost nothing) its own ratio to the second, and a fifth's (the agent with its log in memory
# behind Postfix: what the log costs end to end) the first's ratio to it.
# The protocol-only servers get ten times the messages: at 15,000–30,000 messages a second,
# 2,000 were over in 60–130 ms, too short for a rate (smtp-source's start and its sessions'
# connections were a large part of it).
cases=(
    "2000 4096 1 1|letterbox dovecot memlog"   "20000 4096 1 1|null sink"
    "2000 4096 1 8|letterbox dovecot memlog"   "20000 4096 1 8|null sink"
    "1000 4096 5 8|letterbox dovecot memlog"   "10000 4096 5 8|null sink"
    "200 1048576 1 8|letterbox dovecot"        "1000 1048576 1 8|null sink"
    "2000 4096 1 8|pglog letterbox"            "2000 4096 1 8|pglog-pair letterbox"
    "2000 4096 1 8|postfix-letterbox postfix-sink postfix-dovecot postfix-null postfix-memlog"
    "2000 4096 5 8|postfix-letterbox postfix-sink postfix-dovecot postfix-null postfix-memlog"
)
# The lowest and highest of the runs' own ratios, run by run (the servers take turns, so run N
# of one server ran next to run N of the other): how far one run's ratio can be from the median's.
spread() { # numerator-results denominator-results
    paste <(awk '{print $1}' "$1") <(awk '{print $1}' "$2") |
        awk 'NR == 1 {low = high = $1 / $2} {r = $1 / $2; if (r < low) low = r; if (r > high) high = r}
             END {printf "%.2f–%.2f", low, high}'
}
label() { # messages size recipients sessions
    printf '%s × %s, %s rcpt, %s sess' "$1" "$([ "$2" -ge 1048576 ] && echo "1 MiB" || echo "4 KiB")" "$3" "$4"
}
table="| Case | Server | msg/s | deliveries/s | CPU ms/msg | machine idle | disk flushes/msg | peak RSS | peak PSS | ratio of medians (runs' own) |
|---|---|---|---|---|---|---|---|---|---|"
for entry in "${cases[@]}"; do
    read -r messages size recipients sessions <<< "${entry%%|*}"
    read -r -a servers <<< "${entry#*|}"
    name=$(label "$messages" "$size" "$recipients" "$sessions")
    [ -n "$only" ] && ! [[ "$name: ${servers[*]}" =~ $only ]] && continue
    for server in "${servers[@]}"; do : > "$work/$server.results"; done
    for _ in $(seq "$runs"); do
        for server in "${servers[@]}"; do
            run_case "$server" "$sessions" "$messages" "$size" "$recipients" >> "$work/$server.results"
        done
    done
    for server in "${servers[@]}"; do
        if grep -q "no(" "$work/$server.results"; then
            echo "INVALID: $server, $name: $(cat "$work/$server.results")" >&2
            exit 1
        fi
    done
    first=$(awk '{print $1}' "$work/${servers[0]}.results" | median)
    for index in "${!servers[@]}"; do
        server=${servers[$index]}
        rate=$(awk '{print $1}' "$work/$server.results" | median)
        cpu=$(awk '{print $2}' "$work/$server.results" | median)
        rss=$(awk '{print $3}' "$work/$server.results" | sort -n | tail -1)
        pss=$(awk '{print $4}' "$work/$server.results" | sort -n | tail -1)
        flush=$(awk '{print $6}' "$work/$server.results" | median)
        idle=$(awk '{print 100 * $8 / $7}' "$work/$server.results" | median)
        ratio=""
        if [ "$index" = 0 ]; then
            second=$(awk '{print $1}' "$work/${servers[1]}.results" | median)
            ratio=$(printf '%.2f× %s (%s)' "$(echo "$first / $second" | bc -l)" "${servers[1]}" \
                "$(spread "$work/${servers[0]}.results" "$work/${servers[1]}.results")")
        elif [ "$index" = 2 ] || [ "$index" = 4 ]; then
            ratio=$(printf '%s ÷ this: %.2f× (%s)' "${servers[0]}" "$(echo "$first / $rate" | bc -l)" \
                "$(spread "$work/${servers[0]}.results" "$work/$server.results")")
        elif [ "$index" = 3 ]; then
            second=$(awk '{print $1}' "$work/${servers[1]}.results" | median)
            ratio=$(printf '%.2f× %s (%s)' "$(echo "$rate / $second" | bc -l)" "${servers[1]}" \
                "$(spread "$work/$server.results" "$work/${servers[1]}.results")")
        fi
        table+=$'\n'"$(printf '| %s | %s | %.0f | %.0f | %.3f | %.0f %% | %.2f | %d MiB | %d MiB | %s |' \
            "$name" "$server" "$rate" "$(echo "$rate * $recipients" | bc -l)" \
            "$cpu" "$idle" "$flush" $((rss / 1024)) $((pss / 1024)) "$ratio")"
    done
    echo "$table" | tail -n "${#servers[@]}"
    for server in "${servers[@]}"; do
        [ -s "$work/$server.delays" ] || continue
        # Medians of Postfix's four delays over every recipient of every run.
        printf '%s, %s: Postfix delays a/b/c/d (s, median):' "$name" "$server"
        for field in 1 2 3 4; do printf ' %s' "$(cut -d/ -f$field "$work/$server.delays" | median)"; done
        echo
        rm -f "$work/$server.delays"
    done
done

machine="$(nproc) vCPUs ($(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)), $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo) RAM, $(uname -sr), $(dovecot --version | cut -d' ' -f1) Dovecot, Postfix $(postconf -d mail_version 2>/dev/null | cut -d' ' -f3)"
echo
echo "Machine: $machine; $runs runs per case, servers in turn, medians (peaks for memory)."
echo "The mail on $fs:"
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
