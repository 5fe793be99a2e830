/// One task instance: the prompt given to a model and what its answer is checked against.
public struct Problem: Sendable, Hashable, Codable, Identifiable {
    /// What kind of checking a problem needs.
    public enum Kind: Sendable, Hashable, Codable {
        /// A math problem: the final answer is compared with `Problem.answer`.
        case math
        /// A programming problem: the program in the completion is run against these tests.
        case code(CodeTests)
    }

    /// A stable identifier, unique within its data set (e.g. `gsm8k/test/17`).
    public var id: String
    /// The question or instruction shown to the model.
    public var prompt: String
    /// The reference final answer (LaTeX or plain text) for math problems; `nil` when there is none.
    public var answer: String?
    /// How the problem is checked.
    public var kind: Kind
    /// Free-form string metadata (source, level, subject, ...).
    public var metadata: [String: String]

    /// Makes a problem.
    public init(
        id: String, prompt: String, answer: String? = nil, kind: Kind = .math, metadata: [String: String] = [:]
    ) {
        self.id = id
        self.prompt = prompt
        self.answer = answer
        self.kind = kind
        self.metadata = metadata
    }

    /// A math problem with a reference answer.
    public static func math(id: String, prompt: String, answer: String, metadata: [String: String] = [:])
        -> Problem
    {
        Problem(id: id, prompt: prompt, answer: answer, kind: .math, metadata: metadata)
    }

    /// A code problem with its tests.
    public static func code(id: String, prompt: String, tests: CodeTests, metadata: [String: String] = [:])
        -> Problem
    {
        Problem(id: id, prompt: prompt, answer: nil, kind: .code(tests), metadata: metadata)
    }
}

/// The tests a program must pass, and the language it is written in.
public struct CodeTests: Sendable, Hashable, Codable {
    /// The language of the program, as a runner name (e.g. `python`).
    public var language: String
    /// The tests, each run in its own process.
    public var cases: [CodeTestCase]

    /// Makes a test suite.
    public init(language: String = "python", cases: [CodeTestCase]) {
        self.language = language
        self.cases = cases
    }
}

/// One test of a program.
public enum CodeTestCase: Sendable, Hashable, Codable {
    /// Feed `input` on standard input; standard output must equal `expectedOutput`
    /// (compared line by line with trailing whitespace ignored).
    case io(input: String, expectedOutput: String)
    /// Run `code` (e.g. `assert f(2) == 4`) after the program; it must run to its end without an error. In
    /// Python a harness runs it, comparing only plain built-in data (see `CodeVerifier` in PonderVerifiers).
    case assertion(String)
}
