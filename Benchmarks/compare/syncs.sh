#!/usr/bin/env bash
# Which syncs Letterbox and Dovecot's LMTP make per delivery, counted from strace on the same
# run, on each file system: every fsync, fdatasync and sync_file_range the servers' processes
# return from, and every fsync submitted through Linux AIO (io_submit, IOCB_CMD_FSYNC; what
# Letterbox's new/ syncs use), sorted by what was synced.
#
#   Benchmarks/compare/syncs.sh [--messages N] [--fs "ext4 xfs btrfs"]
#
# For each file system (made new on a loop device, as run.sh does, mail-fs.sh) and each case
# (1 recipient over 1 session; 5 recipients over 1 session; 1 recipient over 8 sessions) it
# sends N messages of 4 KiB with smtp-source to each server in turn and prints, per message:
#   file     syncs of a message file (the spool in tmp/, or the file itself)
#   dir      syncs of a Maildir directory (new/, cur/, tmp/, or a mailbox directory)
#   log      syncs of the server's own records (Letterbox's SQLite log and its WAL;
#            Dovecot's dovecot-uidlist, the only index file it syncs under `optimized`)
#   wb       sync_file_range calls: data written back to the device, nothing made durable
#
# Dovecot runs with mail_fsync = optimized, as in run.sh. Needs root, strace, postfix
# (smtp-source), dovecot-core, dovecot-lmtpd, and the file systems' mkfs.
set -euo pipefail
cd "$(dirname "$0")/../.."
messages=200
filesystems="ext4 xfs btrfs"
while [ $# -gt 0 ]; do
    case "$1" in
        --messages) messages=$2; shift 2 ;;
        --fs) filesystems=$2; shift 2 ;;
        *) echo "usage: $0 [--messages N] [--fs \"ext4 xfs btrfs\"]" >&2; exit 64 ;;
    esac
done
source Benchmarks/compare/mail-fs.sh
for tool in strace smtp-source dovecot losetup; do
    command -v "$tool" >/dev/null || { echo "$tool not found" >&2; exit 1; }
done
agent=${LETTERBOX_BIN:-.build/release/letterbox}
[ -n "${LETTERBOX_BIN:-}" ] || swift build -c release --static-swift-stdlib --product letterbox >/dev/null

work=$(mktemp -d /var/tmp/letterbox-syncs.XXXXXX)
chmod 755 "$work"
loop=""
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    mountpoint -q "$work/fs" && umount "$work/fs"
    [ -n "$loop" ] && losetup --detach "$loop"
    rm -rf "$work"
}
trap cleanup EXIT

accepts() { python3 -c 'import socket, sys; socket.socket(socket.AF_UNIX).connect(sys.argv[1])' "$1" 2>/dev/null; }
wait_for() { for _ in $(seq 300); do accepts "$1" && return 0; sleep 0.1; done; echo "$1 never listened" >&2; exit 1; }

# Counts, per message, from one strace output: "file dir log wb".
count() { # trace messages
    python3 - "$1" "$2" <<'PY'
import re, sys
trace, messages = sys.argv[1], int(sys.argv[2])
counts = {"file": 0, "dir": 0, "log": 0, "wb": 0}
def kind(path):
    parts = path.rstrip("/").split("/")
    name = parts[-1]
    if name in ("new", "cur", "tmp") or re.search(r"/(mail|dovecot-mail)/[^/]+/[^/]+$", path):
        return "dir"
    if len(parts) > 1 and parts[-2] in ("new", "cur", "tmp"):
        return "file"
    return "log"
pending = {}   # "pid data": path of an AIO fsync in flight
for line in open(trace, errors="replace"):
    pid = line.split(" ", 1)[0]
    if "io_submit(" in line:
        if ") = -1 " in line:
            continue
        for block in line.split("{")[1:]:
            if "IOCB_CMD_FSYNC" in block or "IOCB_CMD_FDSYNC" in block:
                match = re.search(r"aio_fildes=\d+<([^>]*)>", block)
                if match:
                    counts[kind(match.group(1))] += 1
        continue
    match = re.search(r"\b(fsync|fdatasync|sync_file_range)\(\d+<([^>]*)>", line)
    if not match or re.search(r"\) = -1 ", line) or "unfinished" in line:
        # a call split in two is counted where strace printed its start with the path
        if match and "unfinished" in line:
            counts["wb" if match.group(1) == "sync_file_range" else kind(match.group(2))] += 1
        continue
    counts["wb" if match.group(1) == "sync_file_range" else kind(match.group(2))] += 1
print(" ".join(f"{counts[k] / messages:.2f}" for k in ("file", "dir", "log", "wb")))
PY
}

echo "Syncs per message, $messages messages of 4 KiB per case, counted by strace -f (file, dir, log: fsync/fdatasync/AIO fsync; wb: sync_file_range)"
echo
echo "| File system | Case | Server | file | dir | log | wb (write-back) |"
echo "|---|---|---|---|---|---|---|"
for fs in $filesystems; do
    make_mail_fs "$fs" "$work/fs.img" "$work/fs"
    chmod 755 "$work/fs"
    mail="$work/fs"
    for case in "1 1" "5 1" "1 8"; do
        read -r recipients sessions <<< "$case"
        for server in letterbox dovecot; do
            run="$work/run.$server"
            rm -rf "$run" "$mail/$server"
            mkdir -p "$run" "$mail/$server"
            trace="$run/trace"
            if [ "$server" = letterbox ]; then
                strace -f -y -qq -e trace=fsync,fdatasync,sync_file_range,io_submit -o "$trace" \
                    "$agent" serve --data-dir "$mail/letterbox" --socket "$run/lmtp.sock" --socket-mode 0666 \
                    --hostname bench.test --fsync always --log-level error > "$run/out" 2>&1 &
            else
                chown nobody:nogroup "$mail/dovecot"
                cat > "$run/dovecot.conf" <<CONF
base_dir = $run/base
state_dir = $run/state
protocols = lmtp
ssl = no
log_path = $run/dovecot.log
mail_location = maildir:$mail/dovecot/%d/%n
mail_fsync = optimized
passdb {
  driver = static
  args = nopassword=y
}
userdb {
  driver = static
  args = uid=nobody gid=nogroup home=$mail/dovecot/%d/%n allow_all_users=yes
}
service lmtp {
  unix_listener $run/lmtp.sock {
    mode = 0666
  }
}
CONF
                strace -f -y -qq -e trace=fsync,fdatasync,sync_file_range,io_submit -o "$trace" \
                    dovecot -F -c "$run/dovecot.conf" > "$run/out" 2>&1 &
            fi
            tracer=$!
            pids+=("$tracer")
            wait_for "$run/lmtp.sock"
            : > "$trace.start"
            smtp-source -L -d -s "$sessions" -m "$messages" -l 4096 -r "$recipients" -f sender@bench.test \
                -t "user@bench.test" "unix:$run/lmtp.sock" > /dev/null
            # Stop the server (strace's child) so that strace writes everything out.
            if [ "$server" = letterbox ]; then
                pkill -TERM -P "$tracer" || true
            else
                doveadm -c "$run/dovecot.conf" stop 2>/dev/null || pkill -TERM -P "$tracer" || true
            fi
            wait "$tracer" 2>/dev/null || true
            echo "| $fs | $recipients rcpt, $sessions sess | $server | $(count "$trace" "$messages" | sed 's/ / | /g') |"
        done
    done
    umount "$work/fs"
    losetup --detach "$loop"
    loop=""
    rm -f "$work/fs.img"
done
