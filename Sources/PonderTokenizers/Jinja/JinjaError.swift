/// An error parsing or rendering a Jinja template, naming the template line.
public struct JinjaError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What went wrong.
    public enum Kind: Sendable, Equatable {
        /// The template text is not valid Jinja (jinja2's `TemplateSyntaxError`).
        case syntax
        /// The template failed while rendering: a type error, an unknown filter or test, a call of something that is
        /// not callable (jinja2's `TemplateRuntimeError`, `TypeError`...).
        case runtime
        /// An undefined value was used where a value is needed (jinja2's `UndefinedError`).
        case undefined
        /// The template called `raise_exception(message)` (transformers' `TemplateError`); `message` is its text.
        case raised
    }

    /// What went wrong.
    public let kind: Kind
    /// The message, as jinja2 words it where Ponder knows its wording; for `.raised`, exactly the template's text.
    public let message: String
    /// The 1-based template line, or 0 when unknown.
    public let line: Int

    /// Makes an error.
    public init(_ kind: Kind, _ message: String, line: Int = 0) {
        self.kind = kind
        self.message = message
        self.line = line
    }

    public var description: String {
        let what: String
        switch kind {
        case .syntax: what = "template syntax error"
        case .runtime: what = "template error"
        case .undefined: what = "undefined value"
        case .raised: what = "template raised"
        }
        return line > 0 ? "\(what) at line \(line): \(message)" : "\(what): \(message)"
    }

    /// The same error at `line`, unless it already names one.
    func at(line newLine: Int) -> JinjaError {
        line > 0 ? self : JinjaError(kind, message, line: newLine)
    }
}
