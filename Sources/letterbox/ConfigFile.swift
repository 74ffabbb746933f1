import ArgumentParser
import Foundation

/// `--config FILE` for `serve` and `deliver`: a file of `option = value` lines naming the
/// command's long options (`socket-mode = 0600`, `domain = example.org` repeated for several,
/// `quota-tempfail = true` for a flag; `#` starts a comment). Its options are placed before
/// those of the command line, so the command line wins.
enum ConfigFile {
    struct Problem: Error, CustomStringConvertible {
        var description: String
    }

    /// The arguments with `--config FILE` replaced by the file's options.
    static func expand(_ arguments: [String]) throws -> [String] {
        guard let command = arguments.first, command == "serve" || command == "deliver" else { return arguments }
        var rest = Array(arguments.dropFirst())
        var path: String?
        if let index = rest.firstIndex(of: "--config") {
            guard index + 1 < rest.count else { throw ValidationError("--config needs a file") }
            path = rest[index + 1]
            rest.removeSubrange(index...(index + 1))
        } else if let index = rest.firstIndex(where: { $0.hasPrefix("--config=") }) {
            path = String(rest[index].dropFirst("--config=".count))
            rest.remove(at: index)
        }
        guard let path else { return arguments }
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw ValidationError("cannot read --config \(path): \(error.localizedDescription)")
        }
        return [command] + (try options(text, file: path)) + rest
    }

    /// The command-line form of a config file's lines.
    static func options(_ text: String, file: String) throws -> [String] {
        var result: [String] = []
        for (number, rawLine) in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).enumerated() {
            let line = (rawLine.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? "")
                .trimmingCharacters(in: .whitespaces)
            if line.isEmpty { continue }
            let parts = line.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard parts.count == 2, !parts[0].isEmpty, !parts[0].hasPrefix("-"), parts[0] != "config" else {
                throw ValidationError("\(file):\(number + 1): expected `option = value`")
            }
            switch parts[1] {
            case "true": result.append("--" + parts[0])
            case "false": continue
            default: result += ["--" + parts[0], parts[1]]
            }
        }
        return result
    }
}
