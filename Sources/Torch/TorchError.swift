import CTorch
import Foundation

/// An error raised by libtorch (shape or dtype mismatch, index out of range, ...) carried into Swift.
public struct TorchError: Error, LocalizedError, Sendable, Equatable {
    /// The Ponder operation that failed (`matmul`, `cat`, ...).
    public var operation: String
    /// libtorch's own message, without its C++ backtrace.
    public var message: String

    /// Makes an error for `operation` with `message`.
    public init(operation: String, message: String) {
        self.operation = operation
        self.message = message
    }

    public var errorDescription: String? { "\(operation): \(message)" }
}

/// Collects the first libtorch error raised inside a `withTorchErrors` scope.
final class TorchErrorScope: @unchecked Sendable {
    private let lock = NSLock()
    private var first: TorchError?

    func record(_ error: TorchError) {
        lock.lock()
        if first == nil { first = error }
        lock.unlock()
    }

    var error: TorchError? {
        lock.lock()
        defer { lock.unlock() }
        return first
    }

    @TaskLocal static var current: TorchErrorScope?
}

/// Runs `body` so that a failing tensor op throws `TorchError` instead of stopping the program.
///
/// Ponder's tensor ops do not throw: a libtorch error is a programmer mistake (wrong shapes, wrong dtype) and
/// outside this scope it stops the program with libtorch's message, as an out-of-range array index does. Code
/// that handles untrusted shapes (a server request, a user's model file) wraps its tensor work in this scope:
/// the first failing op records its error, later ops see an undefined tensor and do nothing useful, and the
/// error is thrown when `body` returns. The scope follows the current task, so concurrent requests do not mix.
public func withTorchErrors<R>(_ body: () throws -> R) throws -> R {
    let scope = TorchErrorScope()
    let result = try TorchErrorScope.$current.withValue(scope) { try body() }
    if let error = scope.error { throw error }
    return result
}

/// The `async` form of `withTorchErrors(_:)`.
public func withTorchErrors<R>(_ body: () async throws -> R) async throws -> R {
    let scope = TorchErrorScope()
    let result = try await TorchErrorScope.$current.withValue(scope) { try await body() }
    if let error = scope.error { throw error }
    return result
}

/// Handles a failed C call: records it in the active scope, or stops with libtorch's message.
@inline(never)
func torchFailure(_ operation: String) {
    let error = TorchError(operation: operation, message: String(cString: pt_last_error()))
    guard let scope = TorchErrorScope.current else {
        fatalError("libtorch error in \(operation): \(error.message) (wrap the call in withTorchErrors { } to catch it)")
    }
    scope.record(error)
}

/// Calls a C function returning a status; on failure reports it. Returns whether it succeeded.
@inline(__always)
@discardableResult
func check(_ status: Int32, _ operation: @autoclosure () -> String) -> Bool {
    if status == 0 { return true }
    torchFailure(operation())
    return false
}
