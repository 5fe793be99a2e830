import PonderCore

/// 1 when a completion solves the problem, 0 when it does not, `nil` when that cannot be decided
/// (an `unknown` verdict, e.g. an unparseable reference). Math problems use ``MathVerifier``; code
/// problems need a ``CodeVerifier`` and score 1 only when every test passes. open-r1's `accuracy_reward`.
public struct AccuracyReward: RewardFunction {
    /// `accuracy`.
    public var name: String { "accuracy" }
    /// The math verifier.
    public var math: MathVerifier
    /// The code verifier; code problems score `nil` without one.
    public var code: CodeVerifier?

    /// Makes the reward.
    public init(math: MathVerifier = MathVerifier(), code: CodeVerifier? = nil) {
        self.math = math
        self.code = code
    }

    /// The verdict for each completion (`nil` for a code problem without a code verifier).
    public func verdicts(for completions: [String], problem: Problem) async throws -> [Verdict?] {
        switch problem.kind {
        case .math:
            guard let gold = problem.answer else { return completions.map { _ in nil } }
            return completions.map { math.check(completion: $0, gold: gold) }
        case .code:
            guard let code else { return completions.map { _ in nil } }
            var out: [Verdict?] = []
            for c in completions { out.append(try await code.verify(c, against: problem)) }
            return out
        }
    }

    /// Scores each completion.
    public func rewards(for completions: [String], problem: Problem) async throws -> [Double?] {
        try await verdicts(for: completions, problem: problem).map { v in
            switch v?.outcome {
            case .equivalent?: return 1
            case .notEquivalent?: return 0
            case .unknown?, nil: return nil
            }
        }
    }
}

/// The fraction of a code problem's tests that a completion's program passes (0 with no code block);
/// `nil` for math problems.
public struct CodePassRateReward: RewardFunction {
    /// `code`, as open-r1 names its pass-rate reward.
    public var name: String { "code" }
    /// The verifier that runs the tests.
    public var verifier: CodeVerifier

    /// Makes the reward.
    public init(verifier: CodeVerifier) { self.verifier = verifier }

    /// Scores each completion.
    public func rewards(for completions: [String], problem: Problem) async throws -> [Double?] {
        guard case .code(let tests) = problem.kind else { return completions.map { _ in nil } }
        var out: [Double?] = []
        for c in completions {
            guard let program = CodeVerifier.extractCode(verifier.thinkParser.split(c), language: tests.language) else {
                out.append(0)
                continue
            }
            out.append(try await verifier.run(program, tests: tests).passRate)
        }
        return out
    }
}
