import ArgumentParser
import Foundation
import PonderCore
import PonderTasks

struct DataCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "data", abstract: "Write training data: synthetic corpora, problems and SFT traces, or reward-model data from a model's samples.",
        subcommands: [SyntheticData.self, PRMLabels.self, Preferences.self], defaultSubcommand: SyntheticData.self)
}

struct SyntheticData: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "synthetic", abstract: "Write synthetic verifiable data: a base-model pretraining corpus, problems, or teacher SFT traces (the default: `ponder data corpus …`).")

    enum Kind: String, ExpressibleByArgument { case corpus, problems, sft }

    @Argument(
        help:
            "corpus (plain text, blank-line separated), problems (JSONL id/prompt/answer: the bare question), or sft (JSONL prompt/completion: the formatted prompt and the teacher's solution)."
    )
    var kind: Kind
    @Option(name: .long, help: "arithmetic, arithmetic-hard, addition, multiplication or countdown.") var task: TaskName = .arithmetic
    @Option(name: .long, help: "How many documents or problems.") var count: Int
    @Option(name: .long, help: "Seed of the problem stream (use different seeds for training and held-out data).") var seed: UInt64 = 0
    @Option(name: .long, help: "Seed of the corpus mix.") var mixSeed: UInt64 = 1
    @Option(name: .long, help: "Output file.") var out: String
    @Option(name: .long, help: "A problems JSONL file (held-out data) whose problems the corpus must not contain.") var exclude: String?

    func validate() throws { if count < 1 { throw ValidationError("--count must be at least 1") } }

    func run() throws {
        let generator = try task.make()
        let url = URL(fileURLWithPath: out)
        let text: String
        switch kind {
        case .corpus:
            var held = Set<String>()
            if let exclude {
                // The question is a prompt's last line (older files stored the instruction line before it).
                for prompt in try JSONLines.strings(URL(fileURLWithPath: exclude), field: "prompt") {
                    held.insert(prompt.split(separator: "\n").last.map(String.init) ?? prompt)
                }
            }
            text =
                PretrainingCorpus(task: generator).documents(count: count, seed: mixSeed, problemSeed: seed, excluding: held)
                .joined(separator: "\n\n") + "\n"
        case .problems, .sft:
            // Problems keep the bare question (the task formats it when asked); SFT examples store the prompt as the
            // model sees it, with the task's instruction.
            let lines = try generator.problems(seed: seed, count: count).map { p -> String in
                var object = p.metadata.merging(["id": p.id, "prompt": p.prompt, "answer": p.answer ?? ""]) { _, new in new }
                if kind == .sft {
                    object["prompt"] = generator.format.promptText(for: p)
                    object["completion"] = generator.teacherSolution(for: p)
                }
                return String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self)
            }
            text = lines.joined(separator: "\n") + "\n"
        }
        do { try text.write(to: url, atomically: true, encoding: .utf8) } catch {
            throw ValidationError("\(out): cannot write (\(error.localizedDescription))")
        }
        FileHandle.standardError.write(Data("wrote \(count) \(kind.rawValue) lines of \(task.rawValue) to \(out)\n".utf8))
    }
}
