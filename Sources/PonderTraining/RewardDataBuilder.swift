import Foundation
import PonderCore
import PonderTasks

/// Reward-model training data without human labels, from a policy's samples on problems that have references.
///
/// - Step labels (Math-Shepherd, Wang et al. 2024): sample solutions, cut each into steps at `delimiter`, and from
///   every step prefix sample `completionsPerStep` completions; a step's hard label is whether any completion reaches
///   the reference answer, its soft label the fraction that do. The last step is labelled by the solution itself.
/// - Preferences: pairs of a verified (chosen) and a failed (rejected) sample of the same problem.
///
/// Rollouts go through a ``RolloutSource`` (one batch of requests per problem); grading through the task.
public struct RewardDataBuilder: Sendable {
    /// Where samples come from.
    public var rollouts: any RolloutSource
    /// How problems are asked and graded.
    public var task: any ReasoningTask
    /// Sampling settings (`n` is set per request).
    public var parameters: SamplingParameters
    /// Solutions sampled per problem.
    public var samples: Int
    /// Monte-Carlo completions per step prefix.
    public var completionsPerStep: Int
    /// Text between steps.
    public var delimiter: String
    /// Steps kept per solution (later text joins the last kept step).
    public var maxSteps: Int

    /// Makes a builder.
    public init(
        rollouts: any RolloutSource, task: any ReasoningTask, parameters: SamplingParameters, samples: Int = 4,
        completionsPerStep: Int = 4, delimiter: String = "\n\n", maxSteps: Int = 12
    ) {
        self.rollouts = rollouts
        self.task = task
        self.parameters = parameters
        self.samples = samples
        self.completionsPerStep = completionsPerStep
        self.delimiter = delimiter
        self.maxSteps = maxSteps
    }

    /// One solution with Math-Shepherd step labels, in TRL's stepwise format plus the soft estimate.
    public struct StepRecord: Sendable, Codable, Equatable {
        public var id: String
        public var prompt: String
        /// The steps, without delimiters.
        public var completions: [String]
        /// Hard estimate: some completion from the step prefix was correct.
        public var labels: [Bool]
        /// Soft estimate: the fraction of completions from the step prefix that were correct.
        public var softLabels: [Double]

        enum CodingKeys: String, CodingKey {
            case id, prompt, completions, labels
            case softLabels = "soft_labels"
        }
    }

    /// A preference pair in TRL's RewardTrainer / DPO format, with the problem id.
    public struct PreferenceRecord: Sendable, Codable, Equatable {
        public var id: String
        public var prompt: String
        public var chosen: String
        public var rejected: String
    }

    /// A graded sample (for pointwise outcome training).
    public struct OutcomeRecord: Sendable, Codable, Equatable {
        public var id: String
        public var prompt: String
        public var completion: String
        public var label: Bool
    }

    /// The steps of `text` at `delimiter`, at most `maxSteps` (the rest joins the last step).
    func steps(of text: String) -> [String] {
        var pieces = text.components(separatedBy: delimiter).filter { !$0.allSatisfy(\.isWhitespace) }
        if pieces.count > maxSteps {
            let tail = pieces[(maxSteps - 1)...].joined(separator: delimiter)
            pieces = Array(pieces.prefix(maxSteps - 1)) + [tail]
        }
        return pieces
    }

    func request(_ prompt: Prompt, continuation: String = "", n: Int, seed: UInt64) -> CompletionRequest {
        var p = parameters
        p.n = n
        p.seed = (parameters.seed ?? 0) &+ seed
        return CompletionRequest(prompt: prompt, continuation: continuation, parameters: p)
    }

    func isCorrect(_ completion: String, _ problem: Problem) async throws -> Bool {
        try await task.grade(completion, problem: problem).isEquivalent
    }

    /// Samples `samples` solutions to `problem` and grades them.
    public func outcomes(for problem: Problem, seed: UInt64 = 0) async throws -> [OutcomeRecord] {
        let prompt = task.prompt(for: problem)
        guard let response = try await rollouts.rollouts([request(prompt, n: samples, seed: seed)]).first else { return [] }
        var out: [OutcomeRecord] = []
        for c in response.completions {
            out.append(
                OutcomeRecord(
                    id: problem.id, prompt: prompt.rewardModelText, completion: c.text, label: try await isCorrect(c.text, problem)))
        }
        return out
    }

    /// Chosen/rejected pairs from graded samples: the i-th verified sample with the i-th failed one, as many pairs as
    /// the smaller group has (none when every sample passed or every sample failed).
    public static func preferences(from outcomes: [OutcomeRecord]) -> [PreferenceRecord] {
        let good = outcomes.filter(\.label)
        let bad = outcomes.filter { !$0.label }
        return zip(good, bad).map { PreferenceRecord(id: $0.id, prompt: $0.prompt, chosen: $0.completion, rejected: $1.completion) }
    }

    /// Math-Shepherd step labels for `samples` solutions of `problem` (needs its reference answer).
    public func stepLabels(for problem: Problem, seed: UInt64 = 0) async throws -> [StepRecord] {
        guard problem.answer != nil else {
            throw TrainingError.invalidConfiguration("problem \(problem.id) has no reference answer to label steps with")
        }
        let prompt = task.prompt(for: problem)
        guard let response = try await rollouts.rollouts([request(prompt, n: samples, seed: seed)]).first else { return [] }
        let solutions = response.completions.map { steps(of: $0.text) }.filter { !$0.isEmpty }
        // Every non-final step prefix of every solution, completed `completionsPerStep` times, in one batch.
        var requests: [CompletionRequest] = []
        var owners: [(solution: Int, step: Int)] = []
        for (s, steps) in solutions.enumerated() {
            for i in 0..<(steps.count - 1) {
                let prefix = steps[0...i].joined(separator: delimiter) + delimiter
                requests.append(request(prompt, continuation: prefix, n: completionsPerStep, seed: seed &+ UInt64(1 + requests.count)))
                owners.append((s, i))
            }
        }
        let completed = requests.isEmpty ? [] : try await rollouts.rollouts(requests)
        var soft = solutions.map { [Double](repeating: 0, count: $0.count) }
        for (k, response) in completed.enumerated() {
            let (owner, prefix) = (owners[k], requests[k].continuation)
            var right = 0
            for c in response.completions where try await isCorrect(prefix + c.text, problem) { right += 1 }
            soft[owner.solution][owner.step] = Double(right) / Double(Swift.max(1, response.completions.count))
        }
        var out: [StepRecord] = []
        for (s, steps) in solutions.enumerated() {
            soft[s][steps.count - 1] = try await isCorrect(steps.joined(separator: delimiter), problem) ? 1 : 0
            out.append(
                StepRecord(
                    id: problem.id, prompt: prompt.rewardModelText, completions: steps, labels: soft[s].map { $0 > 0 }, softLabels: soft[s])
            )
        }
        return out
    }
}
