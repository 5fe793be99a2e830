import ArgumentParser
import Foundation
import PonderCore
import PonderTasks
import PonderVerifiers

/// Where problems come from and how they are asked: a JSONL file (Ponder's, GSM8K's or MATH's published layout, or
/// any layout through the field flags) or a synthetic task.
struct ProblemOptions: ParsableArguments {
    @Option(name: .long, help: "Problems JSONL (default layout: Ponder's `id`, `prompt`, `answer`; see --preset).") var data: String?
    @Option(name: .long, help: "A published layout: gsm8k (question, answer ending '#### n'), math (problem, boxed solution) or ponder.")
    var preset: DatasetPreset?
    @Option(name: .long, help: "Field holding the question (overrides the preset).") var promptField: String?
    @Option(name: .long, help: "Field holding the answer or solution (overrides the preset).") var answerField: String?
    @Option(name: .long, help: "How the answer field is read: raw, gsm8k ('#### n') or boxed (overrides the preset).")
    var answerFormat: FieldMapping.AnswerFormat?
    @Option(name: .long, help: "Field holding a stable id (default: the preset's, else file:line).") var idField: String?
    @Option(
        name: .long,
        help: "Field holding a programming problem's tests (assertion strings or {input, output} objects): problems become code problems, graded in the sandbox.")
    var testsField: String?
    @Flag(
        name: .long,
        help: "Run code problems even where the sandbox cannot be sealed with bubblewrap (weaker isolation: programs can read this machine's files; without root they are not isolated at all). Warns on stderr.")
    var allowWeakSandbox = false
    @Option(
        name: .long,
        help:
            "A synthetic task instead of a file: arithmetic, arithmetic-hard (the hard split: operands up to 24), addition, multiplication or countdown (with --count and --seed)."
    )
    var task: TaskName?
    @Option(name: .long, help: "Synthetic problems to generate.") var count = 256
    @Option(name: .long, help: "Seed of the synthetic problem stream.") var problemSeed: UInt64 = 7
    @Option(name: .long, help: "Answer style asked for: tagged, boxed or plain (default: the preset's; tagged for Ponder's data).")
    var style: AnswerStyle?
    @Flag(name: .long, help: "Send prompts as user messages through the model's chat template.") var chat = false
    @Option(name: .long, help: "Use only the first N problems.") var limit: Int?

    func validate() throws {
        if data == nil && task == nil { throw ValidationError("give --data FILE (with --preset or field flags) or --task NAME") }
        if data != nil && task != nil { throw ValidationError("give either --data or --task, not both") }
        if let limit, limit < 1 { throw ValidationError("--limit must be at least 1") }
    }

    /// The task (how problems are asked and graded) and its problems.
    func load() async throws -> (task: any ReasoningTask, problems: [Problem]) {
        var problems: [Problem]
        var format: TaskFormat
        if let task {
            let generator = try task.make()
            problems = generator.problems(seed: problemSeed, count: count)
            format = generator.format
        } else {
            let preset = self.preset ?? .ponder
            var mapping = preset.mapping
            if let promptField { mapping.prompt = promptField }
            if let answerField { mapping.answer = answerField }
            if let answerFormat { mapping.answerFormat = answerFormat }
            if let idField { mapping.id = idField }
            mapping.tests = testsField
            let url = URL(fileURLWithPath: data!)
            problems = try Dataset(jsonl: url, mapping: mapping).problems
            guard !problems.isEmpty else { throw ValidationError("\(url.path): no problems") }
            format = TaskFormat(name: preset.rawValue, style: preset.style)
            if testsField != nil {
                // Code problems: programs run against their tests in the sandbox.
                let sandbox = try await CodeSandbox.make(allowWeakerIsolation: allowWeakSandbox)
                format = TaskFormat(name: "code", style: .code, verifier: CodeVerifier(pool: SandboxPool(sandbox: sandbox)))
            }
            // Problems written by `ponder data problems` name their synthetic task; grade them as that task does
            // (countdown evaluates the answer expression instead of comparing values).
            let names = Set(problems.map { $0.metadata["task"] ?? "" })
            if preset == .ponder, names.count == 1, let name = names.first,
                let generator = try TaskName.allCases.map({ try $0.make() }).first(where: { $0.name == name })
            {
                format = generator.format
            }
        }
        if let style, style != format.style {
            guard style != .code && format.style != .code else {
                throw ValidationError("--style \(style.rawValue): code problems (--tests-field) are asked and graded in the code style")
            }
            format = TaskFormat(name: format.name, style: style)
        }
        format.chat = chat
        if let limit { problems = Array(problems.prefix(limit)) }
        return (format, problems)
    }
}

/// The synthetic tasks by command-line name.
enum TaskName: String, ExpressibleByArgument, CaseIterable {
    case arithmetic
    /// Longer chains than training (7–9 operations): the held-out hard split.
    case arithmeticHard = "arithmetic-hard"
    case addition, multiplication, countdown

    func make() throws -> any SyntheticTask {
        switch self {
        case .arithmetic: try ArithmeticChain()
        case .arithmeticHard: try ArithmeticChain.hard()
        case .addition: try MultiDigit(operation: .addition)
        case .multiplication: try MultiDigit(operation: .multiplication, digits: 2...3, otherDigits: 1...2)
        case .countdown: try Countdown()
        }
    }
}

extension DatasetPreset: ExpressibleByArgument {}
extension FieldMapping.AnswerFormat: ExpressibleByArgument {}
extension AnswerStyle: ExpressibleByArgument {}
