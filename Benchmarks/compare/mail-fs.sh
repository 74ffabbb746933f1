# Sourced by run.sh, ab.sh and floor.sh: the file system the mail goes to, new for each run, on
# a loop device over a file on the machine's disk with direct I/O, so every flush still reaches
# that disk.
#
#   make_mail_fs TYPE IMAGE MOUNTPOINT    # TYPE: ext4 (default format, with its journal), xfs, btrfs
#
# Sets `loop` to the loop device (for the caller's cleanup and /proc/diskstats).

# The mkfs a type needs, for the callers' checks of what is installed.
mail_fs_tool() {
    case "$1" in
        ext4) echo mkfs.ext4 ;;
        xfs) echo mkfs.xfs ;;
        btrfs) echo mkfs.btrfs ;;
        *) echo "unknown file system $1 (ext4, xfs or btrfs)" >&2; return 64 ;;
    esac
}

make_mail_fs() {
    local type=$1 image=$2 directory=$3 tool
    tool=$(mail_fs_tool "$type") || return 64
    command -v "$tool" >/dev/null || { echo "$tool not found (apt-get install e2fsprogs xfsprogs btrfs-progs)" >&2; return 1; }
    truncate -s 8G "$image"
    "$tool" -q "$image" >/dev/null
    loop=$(losetup --find --show --direct-io=on "$image")
    mkdir -p "$directory"
    mount "$loop" "$directory"
}
