#!/usr/bin/env bash
# What a durable delivery costs at the least on this machine (floor.c: the file system calls
# of one 4 KiB delivery and, optionally, one WAL commit, with nothing else), 1, 2, 3 and 8 at a
# time, on an ext4 file system of its own on a loop device with direct I/O, as in run.sh and
# ab.sh. The machine's busy time per delivery includes the kernel's threads (jbd2, writeback,
# the loop device's workers), which is what the agent's deliveries cost the machine besides
# the agent's own CPU.
#
#   Benchmarks/compare/floor.sh [--rounds N] [--deliveries N] [--fs ext4|xfs|btrfs]
#
# --fs measures that file system instead of ext4 (mail-fs.sh), as run.sh --fs does.
#
# Needs root, a C compiler, mkfs for the file system and losetup.
set -euo pipefail
cd "$(dirname "$0")"
rounds=3 deliveries=3000 fs=ext4
while [ $# -gt 0 ]; do
    case "$1" in
        --rounds) rounds=$2; shift 2 ;;
        --deliveries) deliveries=$2; shift 2 ;;
        --fs) fs=$2; shift 2 ;;
        *) echo "usage: $0 [--rounds N] [--deliveries N] [--fs ext4|xfs|btrfs]" >&2; exit 64 ;;
    esac
done
source ./mail-fs.sh
mail_fs_tool "$fs" >/dev/null || exit 64
for tool in cc "$(mail_fs_tool "$fs")" losetup; do
    command -v "$tool" >/dev/null || { echo "$tool not found (apt-get install gcc e2fsprogs mount)" >&2; exit 1; }
done
work=$(mktemp -d /var/tmp/letterbox-floor.XXXXXX)
loop=""
cleanup() {
    mountpoint -q "$work/fs" && umount "$work/fs"
    [ -n "$loop" ] && losetup --detach "$loop"
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
cc -O2 -Wall -o "$work/floor" floor.c
make_mail_fs "$fs" "$work/fs.img" "$work/fs"
echo "the mail on $fs"
number=0
for round in $(seq "$rounds"); do
    echo "round $round:"
    for log in 0 1; do
        for processes in 1 2 3 8; do
            number=$((number + 1))
            "$work/floor" "$work/fs/run.$number" "$deliveries" "$log" "$processes"
        done
    done
done
