import Foundation
import Testing
import TestSupport

/// Several agents behind one Postfix, sharing one PostgreSQL log and one mail root
/// (docs/scale-out.md): Postfix's list of LMTP next hops reaching both, one killed mid-run.
@Suite("Two agents behind Postfix", .serialized, .timeLimit(.minutes(4)))
struct ScaleOutTests {
    @Test("one agent killed with -9 mid-run: Postfix goes on through the other, its queue ends empty, every message is in the Maildir, and a second copy exists only where the log names at most one")
    func killOneOfTwo() async throws {
        try await PostgresServer.with { server, directory in
            let mail = directory + "/mail"
            let (portA, portB, smtpPort) = (try await freeTCPPort(), try await freeTCPPort(), try await freeTCPPort())
            let a = try await AgentProcess.start(in: directory + "/a", [
                "--database", server.url, "--mail-root", mail, "--hostname", "a.test", "--tcp", "127.0.0.1:\(portA)",
            ])
            defer { a.stop() }
            let b = try await AgentProcess.start(in: directory + "/b", [
                "--database", server.url, "--mail-root", mail, "--hostname", "b.test", "--tcp", "127.0.0.1:\(portB)",
            ])
            defer { b.stop() }
            let postfix = try await PostfixInstance.start(in: directory + "/postfix", socket: a.socket, domains: ["x.test"],
                                                          port: smtpPort, extraSettings: [
                "virtual_transport = lmtp:[127.0.0.1]:\(portA), [127.0.0.1]:\(portB)",
            ])
            do {
                let count = 60
                for index in 0..<count {
                    try await postfix.send(from: "s@y.test", to: ["bob@x.test"], message: """
                        Message-ID: <m\(index)@scale.test>
                        Subject: \(index)

                        body \(index)

                        """)
                    if index == count / 3 {
                        // Kill the first next hop once some of them are delivered, while more come.
                        _ = try await PostfixTests.eventually { Self.files(mail).count >= 5 }
                        a.process.signal(SIGKILL)
                    }
                }
                let drained = try await PostfixTests.eventually {
                    if try await postfix.queue().isEmpty { return true }
                    try await postfix.flush()
                    return false
                }
                #expect(drained, "\(postfix.log)")
                let files = Self.files(mail)
                var copies: [String: [String]] = [:]
                for file in files {
                    let text = (try? String(contentsOfFile: mail + "/x.test/bob/new/" + file, encoding: .utf8)) ?? ""
                    if let id = text.split(separator: "\n").first(where: { $0.hasPrefix("Message-ID: ") }) {
                        copies[String(id.dropFirst("Message-ID: ".count)), default: []].append(file)
                    }
                }
                #expect(copies.count == count, "\(copies.count) of \(count) messages arrived: \(postfix.log)")
                let listed = try await runProcess(letterboxExecutable(), ["deliveries", "list", "--database", server.url, "--json",
                                                                          "--limit", "1000"])
                let rows = (try? JSONSerialization.jsonObject(with: Data(listed.output.utf8)) as? [[String: Any]]) ?? []
                let logged = Set(rows.filter { ($0["status"] as? String) == "delivered" }.compactMap { $0["file"] as? String })
                for (id, names) in copies where names.count > 1 {
                    // A copy linked by the killed agent before its row was committed: unlogged, and
                    // the retry through the other agent made the one the log names.
                    #expect(names.filter(logged.contains).count <= 1, "\(id): \(names)")
                }
                let hosts = Set(rows.compactMap { $0["host"] as? String })
                #expect(hosts == ["a.test", "b.test"], "\(hosts)")
                let byHost = Dictionary(grouping: rows.compactMap { $0["host"] as? String }, by: { $0 }).mapValues(\.count)
                print("""
                    two agents behind Postfix: messages=\(count) files=\(files.count) \
                    second-copies=\(copies.values.filter { $0.count > 1 }.count) rows-by-host=\(byHost.sorted { $0.key < $1.key })
                    """)
            } catch {
                await postfix.stop()
                throw error
            }
            await postfix.stop()
        }
    }

    /// The files in bob's `new/` under `mail`.
    static func files(_ mail: String) -> [String] {
        (try? FileManager.default.contentsOfDirectory(atPath: mail + "/x.test/bob/new")) ?? []
    }
}
