import Foundation
import PonderCore
import PonderVerifiers

/// What a model scores on held-out problems, the numbers `ponder demo` puts in its before/after table.
public struct TaskEvaluation: Sendable, Codable, Equatable {
    /// Greedy decoding: fraction correct (answer inside `<answer>…</answer>` after the thinking).
    public var greedyAccuracy: Double
    /// Sampled decoding (temperature 1): mean fraction correct over the samples (pass@1).
    public var sampledAccuracy: Double
    /// Majority vote over the samples, grouped by answer equivalence (maj@k).
    public var majorityAccuracy: Double
    /// Samples per problem for the sampled numbers.
    public var samples: Int
    /// Fraction of sampled completions in the strict `<think>…</think><answer>…</answer>` format (nothing else).
    public var formatCompliance: Double
    /// Fraction of sampled completions whose thinking contains at least one worked step (`=`).
    public var stepsUsed: Double
    /// Sampled accuracy among completions that work steps in their thinking, and among those that do not: how much
    /// thinking helps on this task.
    public var accuracyWithSteps: Double
    public var accuracyWithoutSteps: Double
    /// Mean sampled completion length in tokens.
    public var meanLength: Double
    /// Tokens generated for the whole evaluation.
    public var tokens: Int
    /// Wall-clock seconds.
    public var seconds: Double
    /// A few greedy completions, for reports.
    public var examples: [Example]

    /// One problem, its greedy completion and whether it was right.
    public struct Example: Sendable, Codable, Equatable {
        public var prompt: String
        public var completion: String
        public var correct: Bool
    }
}

extension TaskEvaluation {
    /// Evaluates `model` on `problems` with prompts from `makePrompt`.
    ///
    /// Grading is strict: only an answer inside `<answer>` tags counts, so a model that answers in prose scores 0
    /// however right it is (the format is part of the task).
    public static func run(
        model: any LanguageModel, problems: [Problem], makePrompt: (Problem) -> Prompt, samples: Int = 8, maxTokens: Int = 96,
        seed: UInt64 = 0, examples: Int = 4
    ) async throws -> TaskEvaluation {
        let start = Date()
        let verifier = MathVerifier(policy: ExtractionPolicy(sources: [.answerTag]))
        let format = StrictFormatReward(requireNewlines: false)
        var greedyCorrect = 0
        var sampledCorrect = 0
        var majorityCorrect = 0
        var compliant = 0
        var withSteps = 0
        var lengths = 0
        var tokens = 0
        var correctWithSteps = 0
        var correctWithoutSteps = 0
        var shown: [Example] = []
        // All requests go out at once, so a batching model (the local engine) runs many problems per batch.
        let responses = try await withThrowingTaskGroup(of: (Int, CompletionResponse, CompletionResponse).self) { group in
            for (i, problem) in problems.enumerated() {
                let prompt = makePrompt(problem)
                group.addTask {
                    async let greedy = model.complete(CompletionRequest(prompt: prompt, parameters: .greedy(maxTokens: maxTokens)))
                    async let sampled = model.complete(
                        CompletionRequest(
                            prompt: prompt,
                            parameters: SamplingParameters(maxTokens: maxTokens, temperature: 1, seed: seed &+ UInt64(i), n: samples)))
                    return try await (i, greedy, sampled)
                }
            }
            var out = [(CompletionResponse, CompletionResponse)?](repeating: nil, count: problems.count)
            for try await (i, g, s) in group { out[i] = (g, s) }
            return out.map { $0! }
        }
        for (i, problem) in problems.enumerated() {
            let (greedy, sampled) = responses[i]
            tokens += greedy.usage.completionTokens + sampled.usage.completionTokens
            let greedyText = greedy.completions[0].text
            let greedyOK = try await verifier.verify(greedyText, against: problem).isEquivalent
            if greedyOK { greedyCorrect += 1 }
            if shown.count < examples { shown.append(Example(prompt: problem.prompt, completion: greedyText, correct: greedyOK)) }
            let texts = sampled.completions.map(\.text)
            let formats = try await format.rewards(for: texts, problem: problem)
            var votes: [(answer: String, count: Int, correct: Bool)] = []
            for (k, text) in texts.enumerated() {
                let ok = try await verifier.verify(text, against: problem).isEquivalent
                if ok { sampledCorrect += 1 }
                if formats[k] == 1 { compliant += 1 }
                if let think = text.range(of: "</think>").map({ text[..<$0.lowerBound] }), think.contains("=") {
                    withSteps += 1
                    if ok { correctWithSteps += 1 }
                } else if ok {
                    correctWithoutSteps += 1
                }
                lengths += sampled.completions[k].tokens.count
                guard let answer = verifier.extractor.extract(text).answer else { continue }
                if let v = votes.firstIndex(where: { $0.answer == answer }) { votes[v].count += 1 } else { votes.append((answer, 1, ok)) }
            }
            if let top = votes.max(by: { $0.count < $1.count }), top.correct { majorityCorrect += 1 }
        }
        let n = Double(Swift.max(1, problems.count))
        let m = n * Double(samples)
        return TaskEvaluation(
            greedyAccuracy: Double(greedyCorrect) / n, sampledAccuracy: Double(sampledCorrect) / m,
            majorityAccuracy: Double(majorityCorrect) / n,
            samples: samples, formatCompliance: Double(compliant) / m, stepsUsed: Double(withSteps) / m,
            accuracyWithSteps: withSteps == 0 ? 0 : Double(correctWithSteps) / Double(withSteps),
            accuracyWithoutSteps: Int(m) == withSteps ? 0 : Double(correctWithoutSteps) / (m - Double(withSteps)),
            meanLength: Double(lengths) / m,
            tokens: tokens, seconds: Date().timeIntervalSince(start), examples: shown)
    }
}
