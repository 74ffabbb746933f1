#!/usr/bin/env python3
"""A FUSE file system holding one disk image whose writes and fsyncs are recorded in order.

    recorder.py MOUNTPOINT IMAGE LOG

MOUNTPOINT/disk is IMAGE (read and written through); every write is appended to LOG as
("W", offset, length, bytes) and every fsync as ("F", number); MOUNTPOINT/flushes reads the
number of fsyncs so far. Single-threaded, so the log's order is the order the requests were
served in.
"""
import errno
import os
import stat
import struct
import sys
import time

from fuse import FUSE, FuseOSError, Operations


class Recorder(Operations):
    def __init__(self, image, log):
        self.image = os.open(image, os.O_RDWR)
        self.size = os.fstat(self.image).st_size
        self.log = open(log, "wb", buffering=1 << 20)
        self.flushes = 0

    def getattr(self, path, fh=None):
        now = time.time()
        if path == "/":
            return dict(st_mode=stat.S_IFDIR | 0o755, st_nlink=2, st_ctime=now, st_mtime=now, st_atime=now)
        if path == "/disk":
            return dict(st_mode=stat.S_IFREG | 0o600, st_nlink=1, st_size=self.size, st_ctime=now, st_mtime=now,
                        st_atime=now)
        if path == "/flushes":
            return dict(st_mode=stat.S_IFREG | 0o444, st_nlink=1, st_size=32, st_ctime=now, st_mtime=now,
                        st_atime=now)
        raise FuseOSError(errno.ENOENT)

    def readdir(self, path, fh):
        return [".", "..", "disk", "flushes"]

    def open(self, path, flags):
        if path not in ("/disk", "/flushes"):
            raise FuseOSError(errno.ENOENT)
        return 0

    def read(self, path, size, offset, fh):
        if path == "/flushes":
            return ("%d\n" % self.flushes).encode().ljust(32)[offset:offset + size]
        return os.pread(self.image, size, offset)

    def write(self, path, data, offset, fh):
        if path != "/disk":
            raise FuseOSError(errno.EACCES)
        os.pwrite(self.image, data, offset)
        self.log.write(b"W" + struct.pack("<QI", offset, len(data)) + data)
        return len(data)

    def truncate(self, path, length, fh=None):
        raise FuseOSError(errno.EPERM)

    def fsync(self, path, datasync, fh):
        if path == "/disk":
            self.flushes += 1
            self.log.write(b"F" + struct.pack("<Q", self.flushes))
            self.log.flush()
        return 0

    def flush(self, path, fh):
        return 0

    def release(self, path, fh):
        return 0

    def destroy(self, path):
        self.log.flush()
        self.log.close()


if __name__ == "__main__":
    mountpoint, image, log = sys.argv[1:4]
    FUSE(Recorder(image, log), mountpoint, foreground=True, nothreads=True, direct_io=True)
