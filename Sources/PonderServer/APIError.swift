import Foundation

/// An error answered in OpenAI's shape: `{"error": {"message", "type", "param", "code"}}` with an HTTP status.
///
/// The statuses follow OpenAI's API: 400 for invalid JSON or fields (``param`` names the field), 401 for a missing
/// or wrong key, 404 for an unknown model or route, 408 for a body that does not arrive in time, 413 for a body over
/// the limit, 429 when the queue is full, 503 while the server shuts down, 500 when generation fails.
public struct APIError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The HTTP status code.
    public var status: Int
    /// What went wrong, for a person.
    public var message: String
    /// OpenAI's error type (`invalid_request_error`, `authentication_error`, ...).
    public var type: String
    /// The request field at fault, when there is one.
    public var param: String?
    /// A short machine-readable code (`model_not_found`, `invalid_api_key`, ...).
    public var code: String?

    /// Makes an error.
    public init(status: Int, message: String, type: String, param: String? = nil, code: String? = nil) {
        self.status = status
        self.message = message
        self.type = type
        self.param = param
        self.code = code
    }

    public var description: String { "\(status) \(type): \(message)" }

    /// 400: a field is missing, of the wrong type or out of range (the message names it).
    public static func invalid(_ param: String?, _ message: String) -> APIError {
        APIError(status: 400, message: message, type: "invalid_request_error", param: param, code: "invalid_value")
    }

    /// The JSON body OpenAI's clients parse.
    public var body: [String: Any] {
        ["error": ["message": message, "type": type, "param": param ?? NSNull(), "code": code ?? NSNull()] as [String: Any]]
    }
}
