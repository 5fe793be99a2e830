import PonderCore
import PonderVerifiers

/// Process scorer by Monte Carlo rollouts (Math-Shepherd, Wang et al. 2024): the value of a partial solution is the
/// fraction of ``rollouts`` completions from it that reach the target answer (soft estimation).
///
/// The target is either the reference answer (``Target/references(_:)``: Math-Shepherd's label, an oracle whose
/// accuracies are upper bounds) or, without an answer key, the majority (``Target/majority``): the answer most of
/// the batch's rollouts reach, grouped by equivalence, as self-consistency and TTRL's pseudo-labels take it. A
/// prefix's value is then the share of its rollouts that agree with that consensus.
///
/// Finished solutions (with an extractable answer) get no rollouts: against references they score 1 or 0; under
/// the majority target, the share of the scored batch whose answer is equivalent to theirs. Each prefix's rollouts
/// get their own seed (the base seed mixed with a hash of the prefix), so prefixes never share samples. The
/// rollouts' tokens are reported as scoring cost.
public struct MonteCarloScorer: Scorer {
    /// What rollouts are checked against.
    public enum Target: Sendable {
        /// The reference answers (an oracle).
        case references(ReferenceAnswers)
        /// The batch's consensus answer (reference-free).
        case majority
    }

    /// The policy that rolls out (usually the model being searched).
    public var model: any LanguageModel
    /// Rollouts per prefix (k).
    public var rollouts: Int
    /// What rollouts are checked against.
    public var target: Target
    /// Checks rollouts against references.
    public var verifier: any Verifier
    /// Decoding settings for rollouts (`n` is set to ``rollouts``; a seed is mixed with each prefix).
    public var parameters: SamplingParameters
    /// Decides whether a text already has a final answer, and groups answers.
    public var grouping: AnswerGrouping

    /// Makes the scorer; reference-free (``Target/majority``) unless references are given.
    public init(
        model: any LanguageModel, rollouts: Int = 8, target: Target = .majority, verifier: any Verifier = MathVerifier(),
        parameters: SamplingParameters = SamplingParameters(), grouping: AnswerGrouping = AnswerGrouping()
    ) {
        self.model = model
        self.rollouts = rollouts
        self.target = target
        self.verifier = verifier
        self.parameters = parameters
        self.grouping = grouping
    }

    public var isOracle: Bool { if case .references = target { true } else { false } }

    public func scoreOutcomes(_ solutions: [String], in context: ScoringContext) async throws -> ScoreBatch {
        switch target {
        case .references(let references):
            let problem = try references.problem(for: context.question)
            var scores: [Double] = []
            for s in solutions { scores.append(try await verifier.verify(s, against: problem).isEquivalent ? 1 : 0) }
            return ScoreBatch(scores: scores)
        case .majority:
            return ScoreBatch(scores: Self.agreement(solutions.map { grouping.answer(of: $0) }, grouping: grouping))
        }
    }

    /// Each answer's share of `answers` (equivalent answers counted together); 0 for a missing answer.
    public static func agreement(_ answers: [String?], grouping: AnswerGrouping) -> [Double] {
        var tally = VoteTally()
        let classes = answers.map { tally.add($0, grouping: grouping) }
        return classes.map { c in c.map { tally.classes[$0].weight / Double(answers.count) } ?? 0 }
    }

    /// Scores each prefix by the share of `rollouts` completions from it that reach the target.
    public func scorePrefixes(_ prefixes: [String], in context: ScoringContext) async throws -> ScoreBatch {
        try SearchError.require(rollouts >= 1, "rollouts", rollouts, "must be at least 1")
        var cost = ScoringCost()
        // Per prefix: its own answer (finished) or its rollouts' answers.
        var finished: [Int: String] = [:]
        var rolled: [Int: [String]] = [:]
        for (i, prefix) in prefixes.enumerated() {
            if grouping.answer(of: prefix) != nil {
                finished[i] = prefix
                continue
            }
            var p = parameters
            p.n = rollouts
            if let seed = parameters.seed { p.seed = seed ^ Self.hash(prefix) }
            let response = try await model.complete(CompletionRequest(prompt: context.prompt, continuation: prefix, parameters: p))
            guard response.completions.count == rollouts else {
                throw SearchError.wrongCompletionCount(requested: rollouts, received: response.completions.count)
            }
            cost = cost + ScoringCost(usage: response.usage, modelCalls: 1)
            rolled[i] = response.completions.map { prefix + $0.text }
        }
        var scores = [Double](repeating: 0, count: prefixes.count)
        switch target {
        case .references(let references):
            let problem = try references.problem(for: context.question)
            for (i, text) in finished { scores[i] = try await verifier.verify(text, against: problem).isEquivalent ? 1 : 0 }
            for (i, texts) in rolled {
                var correct = 0
                for t in texts where try await verifier.verify(t, against: problem).isEquivalent { correct += 1 }
                scores[i] = Double(correct) / Double(texts.count)
            }
        case .majority:
            // The consensus over every answer the batch reached: finished prefixes' and all rollouts'.
            var tally = VoteTally()
            var votes: [(prefix: Int, cls: Int?)] = []
            for i in prefixes.indices {
                for t in finished[i].map({ [$0] }) ?? rolled[i] ?? [] {
                    votes.append((i, tally.add(grouping.answer(of: t), grouping: grouping)))
                }
            }
            guard let lead = tally.leader else { return ScoreBatch(scores: scores, cost: cost) }
            for i in prefixes.indices {
                let mine = votes.filter { $0.prefix == i }
                scores[i] = Double(mine.filter { $0.cls == lead }.count) / Double(max(1, mine.count))
            }
        }
        return ScoreBatch(scores: scores, cost: cost)
    }

    /// FNV-1a of a text: mixes a prefix into a seed, so each prefix's rollouts draw their own samples reproducibly.
    static func hash(_ text: String) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in text.utf8 {
            h ^= UInt64(b)
            h = h &* 0x100_0000_01b3
        }
        return h
    }
}
