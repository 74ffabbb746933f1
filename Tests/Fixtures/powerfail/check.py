#!/usr/bin/env python3
"""Power-failure check: every 250 is durable at the disk flush that came after it.

    check.py LETTERBOX WORKDIR [MESSAGES] [SESSIONS] [log-elsewhere] [operator] [xfs]

Runs `LETTERBOX serve` on a fresh ext4 (the default format, with its journal) — or, with `xfs`,
a fresh XFS (its default format: an internal log) — over a loop
device whose backing file is served by recorder.py (FUSE), which records every write and every
cache flush the file system sends, in the order it serves them. A client delivers MESSAGES
(each to two recipients) over SESSIONS connections and, on every 250, reads how many flushes
the disk has had by then. Afterwards the disk is rebuilt from zeros, write by write, and at
every flush count a 250 was answered with, a copy of the disk as it was then — what a power
failure right after that flush would have left — is mounted (ext4 replays its journal, XFS its
log) and
checked: every delivery acknowledged by then is in its recipient's new/ and whole; no file in
any new/ is partial or damaged; the log has a delivered row for each (unless `log-elsewhere`:
the log then goes to a tmpfs, so that its syncs commit nothing on the recorded disk and what
makes the Maildirs durable is checked alone). With `operator`, an operator works beside the
agent while the clients run, as operators do: `letterbox deliver` of one message to two
recipients from a pipe (each exit 0 is an acknowledgement, like a 250, taken at the flush
count read after it), the `sqlite3` tool on the log read-write, `letterbox deliveries stats`
and `letterbox deliveries verify`, in a loop (8 rounds at least, the agent running until they
are done); a `deliver` exit other than 0 or 75 is a failure.

What a copy holds is every write the recorder served before that flush: the writes a flush
makes durable are those completed before it was issued, and the recorder, single-threaded,
serves each request only after the ones before it. Writes not yet flushed are left out (the
harshest case: a disk cache that lost them all), not reordered.

Prints a summary; exits 0 when every check passed, 1 when one failed, 2 when it could not run.
"""
import glob
import os
import random
import shutil
import signal
import socket
import sqlite3
import struct
import subprocess
import sys
import threading
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def run(*args):
    return subprocess.run(args, check=True, capture_output=True, text=True).stdout.strip()


def wait_for(predicate, seconds, what):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise SystemExit(f"timed out waiting for {what}")


def accepts(socket_path):
    """Whether the agent accepts a connection: its socket file appears at bind(2), a moment
    before listen(2)."""
    s = socket.socket(socket.AF_UNIX)
    try:
        s.connect(socket_path)
        return True
    except OSError:
        return False
    finally:
        s.close()


def body_for(index):
    rng = random.Random(index)
    lines = [f"Message-ID: <crash{index}@sender.test>", f"Subject: crash check {index}", ""]
    for line in range(rng.randint(20, 120)):
        lines.append("".join(rng.choice("abcdefghijklmnopqrstuvwxyz ") for _ in range(rng.randint(10, 70))))
    return "\r\n".join(lines) + "\r\n"


def client(socket_path, flushes_path, indices, acknowledged, lock):
    s = socket.socket(socket.AF_UNIX)
    s.connect(socket_path)
    f = s.makefile("rb")

    def reply():
        while True:
            line = f.readline().decode()
            if line[3:4] != "-":
                return line

    def send(line):
        s.sendall(line.encode() + b"\r\n")
        return reply()

    reply()
    send("LHLO client.test")
    for index in indices:
        recipients = [f"u{index % 7}@crash.test", f"v{index % 5}@crash.test"]
        send("MAIL FROM:<sender@sender.test>")
        for recipient in recipients:
            send(f"RCPT TO:<{recipient}>")
        send("DATA")
        s.sendall(body_for(index).replace("\r\n.", "\r\n..").encode() + b".\r\n")
        for recipient in recipients:
            line = reply()
            if line.startswith("250"):
                with open(flushes_path) as counter:
                    count = int(counter.read().strip())
                with lock:
                    acknowledged.append((index, recipient, count))
    send("QUIT")
    s.close()


def operator(letterbox, data, database, flushes_path, first_index, stop, acknowledged, sent, problems, lock, rounds=8):
    """Works beside the agent until `stop` is set, and for `rounds` rounds at least (see the
    module's description)."""
    index = first_index
    database_option = ["--database", database] if database else []
    database = database or os.path.join(data, "deliveries.sqlite")
    while not stop.is_set() or index - first_index < rounds:
        body = body_for(index)
        recipients = [f"u{index % 7}@crash.test", f"v{index % 5}@crash.test"]
        piped = subprocess.run([letterbox, "deliver", "--data-dir", data, "--hostname", "crash.test",
                                "--sender", "sender@sender.test", "--recipient", recipients[0], "--recipient", recipients[1]]
                               + database_option, input=body.encode(), capture_output=True)
        if piped.returncode == 0:
            with open(flushes_path) as counter:
                count = int(counter.read().strip())
            with lock:
                sent[index] = body
                acknowledged.extend((index, recipient, count) for recipient in recipients)
        elif piped.returncode != 75:
            problems.append(f"deliver exited {piped.returncode}: {piped.stderr.decode(errors='replace').strip()}")
        subprocess.run(["sqlite3", database, "SELECT COUNT(*) FROM deliveries;"], capture_output=True)
        for command in (["stats"], ["verify", "--json"]):
            subprocess.run([letterbox, "deliveries"] + command + ["--data-dir", data] + database_option, capture_output=True)
        index += 1


def copy_sparse(source, destination):
    """Copies `source` to `destination` extent by extent (SEEK_DATA/SEEK_HOLE): the disk is mostly
    holes, and copying its zeros for every snapshot made the check a load on the machine."""
    size = os.path.getsize(source)
    with open(source, "rb") as reader, open(destination, "wb") as writer:
        writer.truncate(size)
        offset = 0
        while offset < size:
            try:
                start = os.lseek(reader.fileno(), offset, os.SEEK_DATA)
            except OSError:
                break   # only a hole is left
            end = os.lseek(reader.fileno(), start, os.SEEK_HOLE)
            reader.seek(start)
            writer.seek(start)
            remaining = end - start
            while remaining > 0:
                chunk = reader.read(min(remaining, 1 << 20))
                writer.write(chunk)
                remaining -= len(chunk)
            offset = end


def check_snapshot(image, mountpoint, required, sent, check_log):
    """Mounts `image` and returns the failures found."""
    failures = []
    loop = run("losetup", "--find", "--show", image)
    try:
        os.makedirs(mountpoint, exist_ok=True)
        subprocess.run(["mount", loop, mountpoint], check=True, capture_output=True)
        try:
            present = {}
            for path in glob.glob(os.path.join(mountpoint, "data", "**", "new", "*"), recursive=True):
                user = path.split(os.sep)[-3]
                content = open(path, "rb").read().decode(errors="replace")
                marker = content.find("Message-ID: <crash")
                if marker < 0:
                    failures.append(f"partial file in new/: {path} ({len(content)} octets)")
                    continue
                index = int(content[marker + len("Message-ID: <crash"):].split("@", 1)[0])
                expected = sent[index].replace("\r\n", "\n")
                if not content.endswith(expected) or content.count("Message-ID: <crash") != 1:
                    failures.append(f"damaged file in new/: {path} ({len(content)} octets)")
                    continue
                present.setdefault((index, user), path)
            rows = set()
            database = os.path.join(mountpoint, "data", "deliveries.sqlite")
            if check_log:
                try:
                    connection = sqlite3.connect(database)
                    try:
                        for recipient, message_id in connection.execute(
                                "SELECT d.recipient, t.message_id FROM deliveries d JOIN transactions t ON t.id = d.transaction_id "
                                "WHERE d.status = 'delivered'"):
                            rows.add((recipient, message_id))
                    finally:
                        connection.close()
                except sqlite3.Error as error:
                    failures.append(f"the log could not be read: {error}")
            for index, recipient in required:
                user = recipient.split("@")[0]
                if (index, user) not in present:
                    failures.append(f"acknowledged but missing: message {index} for {recipient}")
                if check_log and (recipient, f"<crash{index}@sender.test>") not in rows and (recipient, f"crash{index}@sender.test") not in rows:
                    failures.append(f"acknowledged but not in the log: message {index} for {recipient}")
        finally:
            subprocess.run(["umount", mountpoint], check=True, capture_output=True)
    finally:
        subprocess.run(["losetup", "-d", loop], capture_output=True)
    return failures


def main():
    letterbox, work = sys.argv[1], sys.argv[2]
    messages = int(sys.argv[3]) if len(sys.argv) > 3 else 60
    sessions = int(sys.argv[4]) if len(sys.argv) > 4 else 4
    # With a fifth argument "log-elsewhere" the log goes to a tmpfs: its syncs then commit nothing
    # on the recorded disk, and what makes the Maildirs durable is checked alone.
    log_elsewhere = "log-elsewhere" in sys.argv[5:]
    with_operator = "operator" in sys.argv[5:]
    xfs = "xfs" in sys.argv[5:]
    # XFS takes nothing under 300 MB; the image is sparse, and only what is written is recorded.
    size = (320 if xfs else 64) << 20
    os.makedirs(work, exist_ok=True)
    image, log, fuse_mount, fs = (os.path.join(work, name) for name in ("backing.img", "writes.log", "fuse", "fs"))
    for directory in (fuse_mount, fs):
        os.makedirs(directory, exist_ok=True)
    with open(image, "wb") as handle:
        handle.truncate(size)
    recorder = subprocess.Popen([sys.executable, os.path.join(HERE, "recorder.py"), fuse_mount, image, log])
    agent = None
    loop = None
    shm = tempfile.mkdtemp(dir="/dev/shm")
    piped_acknowledged, piped_sent, operator_problems = [], {}, []
    try:
        wait_for(lambda: os.path.exists(os.path.join(fuse_mount, "disk")), 10, "the recording file system")
        loop = run("losetup", "--find", "--show", os.path.join(fuse_mount, "disk"))
        if xfs:
            run("mkfs.xfs", "-q", "-f", loop)
        else:
            run("mkfs.ext4", "-q", "-F", loop)
        run("mount", loop, fs)
        socket_path = os.path.join(work, "lmtp.sock")
        agent = subprocess.Popen([letterbox, "serve", "--data-dir", os.path.join(fs, "data"), "--socket", socket_path,
                                  "--socket-mode", "0666", "--hostname", "crash.test", "--fsync", "always",
                                  "--log-level", "error"]
                                 + (["--database", os.path.join(shm, "deliveries.sqlite")] if log_elsewhere else []),
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        wait_for(lambda: accepts(socket_path), 30, "the agent's socket")
        acknowledged, lock = [], threading.Lock()
        threads = [threading.Thread(target=client, args=(socket_path, os.path.join(fuse_mount, "flushes"),
                                                         range(session, messages, sessions), acknowledged, lock))
                   for session in range(sessions)]
        stop = threading.Event()
        if with_operator:
            helper = threading.Thread(target=operator, args=(
                letterbox, os.path.join(fs, "data"), os.path.join(shm, "deliveries.sqlite") if log_elsewhere else None,
                os.path.join(fuse_mount, "flushes"), messages, stop, piped_acknowledged, piped_sent, operator_problems, lock))
            helper.start()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        stop.set()
        if with_operator:
            helper.join()
        agent.send_signal(signal.SIGTERM)
        output = agent.communicate(timeout=60)[0]
        if agent.returncode != 0:
            print(f"the agent ended with {agent.returncode}:\n{output}")
        agent = None
        run("umount", fs)
        run("losetup", "-d", loop)
        loop = None
    finally:
        if agent is not None:
            agent.kill()
        if loop is not None:
            subprocess.run(["umount", fs], capture_output=True)
            subprocess.run(["losetup", "-d", loop], capture_output=True)
        subprocess.run(["umount", fuse_mount], capture_output=True)
        recorder.wait(timeout=30)
        shutil.rmtree(shm, ignore_errors=True)
    if len(acknowledged) != 2 * messages:
        print(f"only {len(acknowledged)} of {2 * messages} deliveries acknowledged")
        return 2
    if with_operator and not piped_acknowledged:
        print("the operator's letterbox deliver never exited 0")
        return 2
    sent = {index: body_for(index) for index in range(messages)}
    sent.update(piped_sent)
    acknowledged += piped_acknowledged
    points = sorted({count for _, _, count in acknowledged})
    # Rebuild the disk from zeros, write by write, and look at it at every flush a 250 followed.
    replay, snapshot = os.path.join(work, "replay.img"), os.path.join(work, "snapshot.img")
    with open(replay, "wb") as handle:
        handle.truncate(size)
    failures, checked, writes = [], 0, 0
    last_point = None   # (flush, acknowledged by then, failures found there)
    target = os.open(replay, os.O_RDWR)
    with open(log, "rb") as records:
        while points:
            kind = records.read(1)
            if not kind:
                break
            if kind == b"W":
                offset, length = struct.unpack("<QI", records.read(12))
                os.pwrite(target, records.read(length), offset)
                writes += 1
                continue
            (number,) = struct.unpack("<Q", records.read(8))
            if number != points[0]:
                continue
            points.pop(0)
            required = [(index, recipient) for index, recipient, count in acknowledged if count <= number]
            os.fsync(target)
            copy_sparse(replay, snapshot)
            found = check_snapshot(snapshot, os.path.join(work, "check"), required, sent, not log_elsewhere)
            checked += 1
            last_point = (number, len(required), len(found))
            failures += [f"at flush {number} ({len(required)} acknowledged): {failure}" for failure in found]
    os.close(target)
    failures += operator_problems
    print(f"{messages} messages, {len(acknowledged)} deliveries acknowledged; {checked} power-failure points "
          f"checked ({writes} writes replayed); {len(failures)} failures")
    if with_operator:
        print(f"the operator's letterbox deliver: {len(piped_sent)} messages, {len(piped_acknowledged)} deliveries acknowledged")
    if last_point:
        print(f"at the last point (flush {last_point[0]}): {last_point[2]} failures among {last_point[1]} deliveries acknowledged")
    for failure in failures[:20]:
        print("  " + failure)
    if points:
        print(f"flushes never found in the log: {points[:5]}")
        return 2
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
