import Dispatch
import Foundation

/// Signal handling for the long-running commands: the signals are unblocked (a supervisor may
/// have started us with them blocked) and each gets a handler on a Dispatch queue. Install
/// them before listening, so that a stop request is never lost. Keep the returned sources
/// alive and cancel them when done.
func handleSignals(_ numbers: [Int32], _ handler: @escaping @Sendable (Int32) -> Void) -> [any DispatchSourceSignal] {
    var handled = sigset_t()
    sigemptyset(&handled)
    for number in numbers { sigaddset(&handled, number) }
    pthread_sigmask(SIG_UNBLOCK, &handled, nil)
    return numbers.map { number in
        let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
        source.setEventHandler { @Sendable in handler(number) }
        source.resume()
        return source
    }
}
