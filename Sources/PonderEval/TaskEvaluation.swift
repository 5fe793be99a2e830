import Foundation
import PonderCore
import PonderTasks
import PonderVerifiers

/// What a model scores on held-out problems, the numbers `ponder demo` puts in its before/after table.
public struct TaskEvaluation: Sendable, Codable, Equatable {
    /// Greedy decoding: fraction correct, as the task grades.
    public var greedyAccuracy: Double
    /// Sampled decoding: mean fraction correct over the samples (pass@1).
    public var sampledAccuracy: Double
    /// Majority vote over the samples, grouped by answer equivalence (maj@k).
    public var majorityAccuracy: Double
    /// Greedy and sampled accuracy graded in any answer format: the answer found by lenient extraction
    /// (`ExtractionPolicy.lenient`: marked answers, else the last expression or number), checked by the math
    /// verifier. Beside the strict grade it tells learning the format apart from learning to reason. For code
    /// problems, the task's own grade.
    public var greedyAccuracyAnyFormat: Double
    public var sampledAccuracyAnyFormat: Double
    /// Samples per problem for the sampled numbers.
    public var samples: Int
    /// Fraction of sampled completions in the task's answer format.
    public var formatCompliance: Double
    /// Fraction of sampled completions whose reasoning shows worked steps (as the task judges).
    public var stepsUsed: Double
    /// Sampled accuracy among completions that work steps in their thinking, and among those that do not: how much
    /// thinking helps on this task.
    public var accuracyWithSteps: Double
    public var accuracyWithoutSteps: Double
    /// Mean sampled completion length in tokens.
    public var meanLength: Double
    /// Tokens generated for the whole evaluation.
    public var tokens: Int
    /// Problems whose prompt and `maxTokens` do not fit the model's context; they count as wrong.
    public var tooLong: Int
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
    /// Evaluates `model` on `problems` as `task` asks and grades them.
    ///
    /// Greedy decoding once and `samples` samples per problem at `temperature` (default: the model's generation
    /// config, else 1). Grades, the format check, "shows work" and the answers voted on all come from the task; maj@k
    /// groups answers by verifier equivalence (``VoteTally``) and counts ties as the expected accuracy of a random
    /// tie-break (``MajorityAtK``).
    public static func run(
        model: any LanguageModel, task: any ReasoningTask, problems: [Problem], samples: Int = 8, maxTokens: Int = 96,
        temperature: Double? = nil, seed: UInt64 = 0, examples: Int = 4
    ) async throws -> TaskEvaluation {
        guard samples >= 1 else { throw EvalError.invalidArgument("samples = \(samples): must be at least 1") }
        let start = Date()
        let temperature = temperature ?? model.generationDefaults.temperature
        var greedyCorrect = 0
        var sampledCorrect = 0
        var greedyLenient = 0
        var sampledLenient = 0
        let lenient = MathVerifier(policy: .lenient)
        func lenientGrade(_ text: String, _ problem: Problem, strict: Bool) async throws -> Bool {
            guard case .math = problem.kind else { return strict }
            if strict { return true }
            return try await lenient.verify(text, against: problem).isEquivalent
        }
        var majority = 0.0
        var compliant = 0
        var withSteps = 0
        var lengths = 0
        var tokens = 0
        var correctWithSteps = 0
        var correctWithoutSteps = 0
        var shown: [Example] = []
        // All requests go out at once, so a batching model (the local engine) runs many problems per batch.
        // A prompt too long for the model's context is counted (and graded wrong) instead of failing the evaluation.
        let responses = try await withThrowingTaskGroup(of: (Int, (CompletionResponse, CompletionResponse)?).self) { group in
            for (i, problem) in problems.enumerated() {
                let prompt = task.prompt(for: problem)
                group.addTask {
                    async let greedy = model.complete(CompletionRequest(prompt: prompt, parameters: .greedy(maxTokens: maxTokens)))
                    async let sampled = model.complete(
                        CompletionRequest(
                            prompt: prompt,
                            parameters: SamplingParameters(maxTokens: maxTokens, temperature: temperature, seed: seed &+ UInt64(i), n: samples)))
                    do {
                        return try await (i, (greedy, sampled))
                    } catch PonderError.contextOverflow {
                        return (i, nil)
                    }
                }
            }
            var out = [(CompletionResponse, CompletionResponse)?](repeating: nil, count: problems.count)
            for try await (i, pair) in group { out[i] = pair }
            return out
        }
        let grouping = AnswerGrouping()
        var tooLong = 0
        for (i, problem) in problems.enumerated() {
            guard let (greedy, sampled) = responses[i] else {
                tooLong += 1
                continue
            }
            tokens += greedy.usage.completionTokens + sampled.usage.completionTokens
            let greedyText = greedy.completions[0].text
            let greedyOK = try await task.grade(greedyText, problem: problem).isEquivalent
            if greedyOK { greedyCorrect += 1 }
            if try await lenientGrade(greedyText, problem, strict: greedyOK) { greedyLenient += 1 }
            if shown.count < examples { shown.append(Example(prompt: problem.prompt, completion: greedyText, correct: greedyOK)) }
            var tally = VoteTally()
            var votes: [MajorityAtK.Sample] = []
            for completion in sampled.completions {
                let text = completion.text
                let ok = try await task.grade(text, problem: problem).isEquivalent
                if ok { sampledCorrect += 1 }
                if try await lenientGrade(text, problem, strict: ok) { sampledLenient += 1 }
                if task.isWellFormatted(text) { compliant += 1 }
                if task.showsWork(text) {
                    withSteps += 1
                    if ok { correctWithSteps += 1 }
                } else if ok {
                    correctWithoutSteps += 1
                }
                lengths += completion.tokens.count
                let answerClass = tally.add(task.answer(in: text), grouping: grouping)
                votes.append(MajorityAtK.Sample(answerClass: answerClass.map(String.init), isCorrect: ok))
            }
            // A class is correct when its representative (the first answer in it) is graded correct.
            let classCorrect = tally.classes.map { c in votes[c.members[0]].isCorrect }
            for k in votes.indices { if let c = votes[k].answerClass.flatMap(Int.init) { votes[k].isCorrect = classCorrect[c] } }
            majority += try MajorityAtK.estimate(votes, k: votes.count)
        }
        let n = Double(Swift.max(1, problems.count))
        let m = n * Double(samples)
        return TaskEvaluation(
            greedyAccuracy: Double(greedyCorrect) / n, sampledAccuracy: Double(sampledCorrect) / m, majorityAccuracy: majority / n,
            greedyAccuracyAnyFormat: Double(greedyLenient) / n, sampledAccuracyAnyFormat: Double(sampledLenient) / m,
            samples: samples, formatCompliance: Double(compliant) / m, stepsUsed: Double(withSteps) / m,
            accuracyWithSteps: withSteps == 0 ? 0 : Double(correctWithSteps) / Double(withSteps),
            accuracyWithoutSteps: Int(m) == withSteps ? 0 : Double(correctWithoutSteps) / (m - Double(withSteps)),
            meanLength: Double(lengths) / m,
            tokens: tokens, tooLong: tooLong, seconds: Date().timeIntervalSince(start), examples: shown)
    }
}
