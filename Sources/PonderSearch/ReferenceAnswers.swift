import PonderCore
import PonderVerifiers

/// The reference answers an oracle grades against, looked up by problem id.
///
/// Given to ``OracleScorer``, an oracle ``MonteCarloScorer`` or ``SelfRefine``'s oracle critic when they are made:
/// the ``Question`` that strategies pass around never carries an answer, so only these oracles can see one.
public struct ReferenceAnswers: Sendable {
    /// The problems with their references, by id.
    public var problems: [String: Problem]

    /// References from `problems` (the first of problems sharing an id wins).
    public init(_ problems: [Problem]) {
        self.problems = Dictionary(problems.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
    }

    /// The problem with `question`'s id; throws ``SearchError/noReference(id:)`` when there is none or it has no
    /// reference answer or tests.
    public func problem(for question: Question) throws -> Problem {
        guard let p = problems[question.id] else { throw SearchError.noReference(id: question.id) }
        if case .math = p.kind, p.answer == nil { throw SearchError.noReference(id: question.id) }
        return p
    }
}
