import Foundation

/// A running count on standard error, rewritten in place, when standard error is a terminal.
final class Progress {
    private let onTerminal = isatty(STDERR_FILENO) == 1
    private var shown = false

    /// Shows `text(count)` when `count` is a multiple of `every`.
    func show(_ count: Int, every: Int, _ text: (Int) -> String) {
        guard onTerminal, count % every == 0 else { return }
        FileHandle.standardError.write(Data("\r\(text(count))\u{1B}[K".utf8))
        shown = true
    }

    /// Clears the line, if anything was shown.
    func end() {
        if shown { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
        shown = false
    }
}
