import Foundation
import PonderCore
import PonderVerifiers

/// A reward function with its weight in the sum GRPO trains on.
public struct WeightedReward: Sendable {
    public var reward: any RewardFunction
    public var weight: Double

    public init(_ reward: any RewardFunction, weight: Double = 1) {
        self.reward = reward
        self.weight = weight
    }
}

/// What a task owns: how a problem is put to a model, how a completion is graded, and which rewards train it.
///
/// Training (GRPO's prompts and rewards), evaluation (`TaskEvaluation`, strategy sweeps) and the CLI all ask the task,
/// so the prompt format and the grade are decided in one place.
public protocol ReasoningTask: Sendable {
    /// A short name for reports (`arithmetic`, `gsm8k`, ...).
    var name: String { get }
    /// The prompt the model sees for `problem`.
    func prompt(for problem: Problem) -> Prompt
    /// The grade of `completion`: its final answer extracted and checked against the problem. Unreadable answers are
    /// a verdict, not an error.
    func grade(_ completion: String, problem: Problem) async throws -> Verdict
    /// The final answer of `completion` as this task reads it (for voting), or `nil`.
    func answer(in completion: String) -> String?
    /// The shortest completion in the task's format that states `answer` (how an answer a search strategy extracted
    /// is graded).
    func completion(answering answer: String) -> String
    /// Whether `completion` is in the task's answer format.
    func isWellFormatted(_ completion: String) -> Bool
    /// Whether `completion`'s reasoning shows worked steps.
    func showsWork(_ completion: String) -> Bool
    /// The reward functions that fit the task, with their default weights.
    var rewards: [WeightedReward] { get }
}

/// The answer layouts Ponder's tasks ask for.
public enum AnswerStyle: String, Sendable, Hashable, Codable, CaseIterable {
    /// `<think>…</think><answer>…</answer>` after the instruction line "Think in <think></think>, answer in
    /// <answer></answer>." (Ponder's synthetic tasks and the bundled model). Graded strictly: only the tagged answer
    /// counts, so learning the format is part of the task.
    case tagged
    /// DeepSeek-R1's instruction for math ("Please reason step by step, and put your final answer within
    /// \boxed{}."). Graded on the answer region after any thinking: a boxed answer, answer tags, `####` or "the final
    /// answer is".
    case boxed
    /// The question exactly as given; graded like `boxed`.
    case plain
    /// A programming problem: the answer is a program in a fenced code block after the reasoning, graded by running
    /// the problem's tests in the sandbox.
    case code
}

/// A task defined by its answer style (and, for puzzles whose answer is an expression, its own verifier).
public struct TaskFormat: ReasoningTask {
    public var name: String
    public var style: AnswerStyle
    /// Send the prompt as a user message through the model's chat template instead of as raw text.
    public var chat: Bool
    /// Grades completions; by default the math verifier with the style's extraction policy.
    public var verifier: any Verifier
    /// Weight of the strict format reward in `rewards` (tagged style only).
    public var formatWeight: Double

    /// The instruction of the tagged style.
    public static let taggedInstruction = "Think in <think></think>, answer in <answer></answer>."
    /// The instruction of the code style.
    public static let codeInstruction = "Write your solution as a complete Python program in a ```python code block."
    /// The instruction of the boxed style (DeepSeek-R1's recommendation for math).
    public static let boxedInstruction = "Please reason step by step, and put your final answer within \\boxed{}."

    /// A task. `verifier` defaults to ``MathVerifier`` with ``extractionPolicy(for:)``.
    public init(name: String, style: AnswerStyle, chat: Bool = false, verifier: (any Verifier)? = nil, formatWeight: Double = 0.2) {
        self.name = name
        self.style = style
        self.chat = chat
        self.verifier = verifier ?? MathVerifier(policy: Self.extractionPolicy(for: style))
        self.formatWeight = formatWeight
    }

    /// Where the graded answer is found: only `<answer>` tags in the tagged style, the verifier's default sources
    /// otherwise.
    public static func extractionPolicy(for style: AnswerStyle) -> ExtractionPolicy {
        style == .tagged ? ExtractionPolicy(sources: [.answerTag]) : ExtractionPolicy()
    }

    /// The text of the prompt (before any chat template).
    public func promptText(for problem: Problem) -> String {
        switch style {
        case .tagged: Self.taggedInstruction + "\n" + problem.prompt + "\n"
        case .boxed: chat ? problem.prompt + "\n" + Self.boxedInstruction : problem.prompt + "\n" + Self.boxedInstruction + "\n"
        case .plain: problem.prompt
        case .code: chat ? problem.prompt + "\n" + Self.codeInstruction : problem.prompt + "\n" + Self.codeInstruction + "\n"
        }
    }

    public func prompt(for problem: Problem) -> Prompt {
        chat ? .chat([.user(promptText(for: problem))]) : .text(promptText(for: problem))
    }

    public func grade(_ completion: String, problem: Problem) async throws -> Verdict {
        try await verifier.verify(completion, against: problem)
    }

    public func answer(in completion: String) -> String? {
        if style == .code { return CodeVerifier.extractCode(ThinkParser().split(completion), language: "python") }
        return AnswerExtractor(policy: Self.extractionPolicy(for: style)).extract(completion).answer
    }

    public func completion(answering answer: String) -> String {
        switch style {
        case .tagged: "<answer>\(answer)</answer>"
        case .code: "```python\n\(answer)\n```"
        case .boxed, .plain: "\\boxed{\(answer)}"
        }
    }

    public func isWellFormatted(_ completion: String) -> Bool {
        switch style {
        case .tagged: return StrictFormatReward(requireNewlines: false).matches(completion)
        case .boxed, .plain: return answer(in: completion) != nil
        case .code: return CodeVerifier.extractCode(ThinkParser().split(completion), language: "python") != nil
        }
    }

    /// A worked step is an equation in the reasoning (`34+27=61`); with no thinking section, in the whole completion.
    public func showsWork(_ completion: String) -> Bool {
        let parsed = ThinkParser().split(completion)
        return (parsed.reasoning ?? (style == .tagged ? "" : completion)).contains("=")
    }

    /// Accuracy (weight 1) plus, in the tagged style, the strict format reward (weight `formatWeight`).
    public var rewards: [WeightedReward] {
        let accuracy = TaskAccuracyReward(task: self)
        switch style {
        case .tagged: return [WeightedReward(accuracy), WeightedReward(StrictFormatReward(requireNewlines: false), weight: formatWeight)]
        case .boxed, .plain: return [WeightedReward(accuracy)]
        case .code:
            guard let code = verifier as? CodeVerifier else { return [WeightedReward(accuracy)] }
            return [WeightedReward(CodePassRateReward(verifier: code))]
        }
    }
}

/// 1 when the task grades a completion correct, 0 when wrong, `nil` when the grade is unknown: the accuracy reward of
/// any task (open-r1's `accuracy_reward`, graded the task's way).
public struct TaskAccuracyReward: RewardFunction {
    public var name: String { "accuracy" }
    public var task: any ReasoningTask

    public init(task: any ReasoningTask) { self.task = task }

    public func rewards(for completions: [String], problem: Problem) async throws -> [Double?] {
        var out: [Double?] = []
        for c in completions {
            switch try await task.grade(c, problem: problem).outcome {
            case .equivalent: out.append(1)
            case .notEquivalent: out.append(0)
            case .unknown: out.append(nil)
            }
        }
        return out
    }
}

/// The reward functions a command line can name.
public enum RewardCatalog {
    /// The names, as open-r1 names the functions.
    public static let names = [
        "accuracy", "format", "soft_format", "tag_count", "reasoning_steps", "length", "cosine_scaled", "repetition_penalty",
        "language_consistency", "code",
    ]

    /// The reward called `name`; `accuracy` grades the task's way.
    public static func reward(named name: String, task: any ReasoningTask) throws -> any RewardFunction {
        switch name {
        case "accuracy": return TaskAccuracyReward(task: task)
        case "format": return StrictFormatReward(requireNewlines: (task as? TaskFormat)?.style != .tagged)
        case "soft_format": return SoftFormatReward()
        case "tag_count": return TagCountReward()
        case "reasoning_steps": return ReasoningStepsReward()
        case "length": return LengthReward()
        case "cosine_scaled": return CosineScaledReward()
        case "repetition_penalty": return try RepetitionPenaltyReward()
        case "language_consistency": return LanguageConsistencyReward()
        case "code":
            guard let code = (task as? TaskFormat)?.verifier as? CodeVerifier else {
                throw TaskError.invalidParameter("reward \"code\" needs code problems: a data set with tests (--tests-field)")
            }
            return CodePassRateReward(verifier: code)
        default: throw TaskError.invalidParameter("unknown reward \"\(name)\" (known: \(names.joined(separator: ", ")))")
        }
    }
}

/// Published data sets Ponder reads as they are distributed.
public enum DatasetPreset: String, Sendable, CaseIterable, Codable {
    /// GSM8K (`question`, `answer` ending `#### n`), asked in the boxed style.
    case gsm8k
    /// MATH (`problem`, `solution` with a boxed answer), asked in the boxed style.
    case math
    /// Ponder's own problem files (`id`, `prompt`, `answer`), asked in the tagged style.
    case ponder

    public var mapping: FieldMapping {
        switch self {
        case .gsm8k: .gsm8k
        case .math: .math
        case .ponder: .ponder
        }
    }

    public var style: AnswerStyle { self == .ponder ? .tagged : .boxed }
}
