import NIOCore
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension Server.Endpoint {
    /// Checks, without listening, that ``Server/listen(_:proxyProtocol:)`` could listen here now, so that a
    /// program can refuse to start before it creates anything: a Unix socket's path must be
    /// free (or a socket nobody listens on) and, when its directory exists, that directory
    /// writable; a TCP address must resolve and be bindable (probed with a socket bound and
    /// closed at once, `SO_REUSEADDR` set as the listener sets it). A directory that does not
    /// exist yet is left to the caller, which may be about to create it. Inherited sockets
    /// are always available.
    public func checkAvailable() throws(Server.ListenError) {
        switch self {
        case .unix(let path, _):
            var info = stat()
            if lstat(path, &info) == 0 {
                guard info.st_mode & S_IFMT == S_IFSOCK else { throw .notASocket(path) }
                if UnixSocket.isListening(path) { throw .socketInUse(path) }
            }
            let directory = path.lastIndex(of: "/").map { $0 == path.startIndex ? "/" : String(path[..<$0]) } ?? "."
            if access(directory, F_OK) == 0, access(directory, W_OK | X_OK) != 0 {
                throw .cannotBind(description, errno: errno)
            }
        case .tcp(let host, let port), .tls(let host, let port):
            let address: SocketAddress
            do {
                address = try SocketAddress.makeAddressResolvingHost(host, port: port)
            } catch {
                throw .cannotBind(description, errno: EADDRNOTAVAIL)
            }
            #if canImport(Glibc)
            let descriptor = socket(address.protocol.rawValue, Int32(SOCK_STREAM.rawValue), 0)
            #else
            let descriptor = socket(address.protocol.rawValue, SOCK_STREAM, 0)
            #endif
            guard descriptor >= 0 else { throw .cannotBind(description, errno: errno) }
            defer { close(descriptor) }
            var one: CInt = 1
            _ = setsockopt(descriptor, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<CInt>.size))
            let bound = address.withSockAddr { pointer, length in bind(descriptor, pointer, socklen_t(length)) }
            if bound != 0 { throw .cannotBind(description, errno: errno) }
        case .inherited:
            return
        }
    }
}
