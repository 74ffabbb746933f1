import Foundation
import Testing
import TestSupport

/// A Python program run for the length of a test: it writes the port it listens on to a file,
/// which `start` waits for; `stop` terminates it.
final class PythonPeer: Sendable {
    let process: ChildProcess
    let port: Int

    private init(process: ChildProcess, port: Int) {
        self.process = process
        self.port = port
    }

    /// Runs `script` with `arguments` after the port file's path; the test is skipped (a
    /// failure in CI) when python3 or a module it needs is missing.
    static func start(_ script: String, arguments: [String] = [], in directory: String) async throws -> PythonPeer {
        let python = try External.require("python3")
        let scriptPath = directory + "/peer-\(UUID().uuidString.prefix(6)).py"
        let portPath = scriptPath + ".port"
        try script.write(toFile: scriptPath, atomically: true, encoding: .utf8)
        let process = try ChildProcess(python, [scriptPath, portPath] + arguments, standardOutput: .null, standardError: .collect)
        for _ in 0..<200 {
            if let text = try? String(contentsOfFile: portPath, encoding: .utf8), let port = Int(text.trimmingCharacters(in: .whitespacesAndNewlines)) {
                return PythonPeer(process: process, port: port)
            }
            if !process.isRunning { break }
            try await Task.sleep(for: .milliseconds(25))
        }
        process.signal(SIGKILL)
        let message = await process.outputToEnd()
        if message.contains("ModuleNotFoundError") {
            try External.unavailable("the python peer's module is missing: \(message)")
        }
        throw SetupFailure("python peer did not start: \(message)")
    }

    /// Kills the program.
    func stop() {
        process.signal(SIGKILL)
    }
}

/// A SOCKS5 proxy (RFC 1928) requiring RFC 1929 username/password, for the SOCKS5 tests.
let socks5ProxyScript = #"""
import socket, struct, sys, threading

# A user name of "-" means no authentication (method 0x00) instead of RFC 1929.
port_file, user, password = sys.argv[1], sys.argv[2].encode(), sys.argv[3].encode()
anonymous = user == b"-"

def exact(s, n):
    data = b""
    while len(data) < n:
        chunk = s.recv(n - len(data))
        if not chunk:
            raise EOFError
        data += chunk
    return data

def pump(a, b):
    try:
        while True:
            data = a.recv(65536)
            if not data:
                break
            b.sendall(data)
    except OSError:
        pass
    finally:
        for s in (a, b):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

def serve(client):
    try:
        version, count = exact(client, 2)
        methods = exact(client, count)
        wanted = 0 if anonymous else 2
        if version != 5 or wanted not in methods:
            client.sendall(b"\x05\xff")
            return
        client.sendall(bytes([5, wanted]))
        if not anonymous:
            _, ulen = exact(client, 2)
            name = exact(client, ulen)
            plen = exact(client, 1)[0]
            secret = exact(client, plen)
            if name != user or secret != password:
                client.sendall(b"\x01\x01")
                return
            client.sendall(b"\x01\x00")
        _, command, _, kind = exact(client, 4)
        if kind == 1:
            host = socket.inet_ntoa(exact(client, 4))
        elif kind == 3:
            host = exact(client, exact(client, 1)[0]).decode()
        else:
            host = socket.inet_ntop(socket.AF_INET6, exact(client, 16))
        port = struct.unpack("!H", exact(client, 2))[0]
        try:
            upstream = socket.create_connection((host, port))
        except OSError:
            client.sendall(b"\x05\x05\x00\x01\x00\x00\x00\x00\x00\x00")
            return
        client.sendall(b"\x05\x00\x00\x01\x7f\x00\x00\x01" + struct.pack("!H", 1080))
        threading.Thread(target=pump, args=(upstream, client), daemon=True).start()
        pump(client, upstream)
    except (EOFError, OSError):
        pass

listener = socket.socket()
listener.bind(("127.0.0.1", 0))
listener.listen(16)
with open(port_file + ".tmp", "w") as f:
    f.write(str(listener.getsockname()[1]))
import os
os.rename(port_file + ".tmp", port_file)
while True:
    connection, _ = listener.accept()
    threading.Thread(target=serve, args=(connection,), daemon=True).start()
"""#
