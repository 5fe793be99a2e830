import Foundation
import PonderCore
import PonderTasks
import PonderVerifiers

/// Rejection sampling into an SFT set (DeepSeek-R1's stage 3, STaR's filter): k samples per problem from any
/// ``LanguageModel`` (the local engine, or a server behind the same protocol), graded by the task (the grader reads the
/// reference answer; the model never does, except in a labelled rationalisation hint), filtered by a ``KeepPolicy``.
///
/// Long runs are resumable: every finished problem is appended to a progress file (`OUT.progress.jsonl`) with its kept
/// completions; a restart skips the problems recorded there. The SFT file and the stats are written atomically at
/// the end, from the progress file.
public struct RejectionSampler: Sendable {
    /// Which samples become training examples.
    public struct KeepPolicy: Sendable, Codable, Equatable {
        /// Only completions the task grades correct.
        public var correctOnly = true
        /// Only completions in the task's answer format.
        public var requireFormat = true
        /// Identical completions (after trimming whitespace) are kept once.
        public var deduplicate = true
        /// Keep the shortest kept completions first (with `maxPerProblem` 1: the shortest correct one).
        public var shortestFirst = false
        /// At most this many per problem (`nil`: all).
        public var maxPerProblem: Int?
        /// Only completions whose reasoning has at least this fraction of letters in the target script (R1's language
        /// consistency; `nil`: no filter). Completions without letters pass.
        public var minLanguageConsistency: Double?

        public init() {}
    }

    /// One sample's fate.
    public struct Sample: Sendable, Codable, Equatable {
        public var completion: String
        /// Completion tokens (0 when the backend does not report them).
        public var tokens: Int
        public var correct: Bool
        public var formatted: Bool
        /// Whether the policy kept it.
        public var kept: Bool
    }

    /// One problem's record in the progress file.
    public struct ProblemRecord: Sendable, Codable, Equatable {
        public var id: String
        /// The prompt text stored with the kept completions (the problem as the task asks it, never with a hint).
        public var prompt: String
        public var samples: [Sample]
        public var kept: [Sample] { samples.filter(\.kept) }
    }

    /// Totals over a run, written as `OUT.stats.json`.
    public struct Stats: Sendable, Codable, Equatable {
        public var problems: Int
        public var samples: Int
        /// Correct samples / samples.
        public var passRate: Double
        /// Problems with at least one correct sample / problems (pass@k).
        public var solvedRate: Double
        public var formatRate: Double
        public var kept: Int
        /// Problems with at least one kept sample.
        public var problemsWithKept: Int
        /// `keptPerProblem[n]`: problems with n kept samples.
        public var keptPerProblem: [Int]
        /// Token lengths of the kept completions: min, quartiles, max, mean.
        public var keptLength: LengthSummary
        /// Token lengths of all samples.
        public var sampleLength: LengthSummary
    }

    /// A length distribution.
    public struct LengthSummary: Sendable, Codable, Equatable {
        public var min: Int, p25: Int, median: Int, p75: Int, max: Int
        public var mean: Double

        static func of(_ values: [Int]) -> LengthSummary {
            let v = values.sorted()
            guard !v.isEmpty else { return LengthSummary(min: 0, p25: 0, median: 0, p75: 0, max: 0, mean: 0) }
            func q(_ f: Double) -> Int { v[Int((Double(v.count - 1) * f).rounded())] }
            return LengthSummary(
                min: v[0], p25: q(0.25), median: q(0.5), p75: q(0.75), max: v[v.count - 1], mean: Double(v.reduce(0, +)) / Double(v.count))
        }
    }

    public var model: any LanguageModel
    public var task: any ReasoningTask
    public var policy: KeepPolicy
    /// Samples per problem.
    public var k: Int
    /// Sampling settings (`n` is set to `k`; the seed is derived per problem from `seed`).
    public var parameters: SamplingParameters
    public var seed: UInt64
    /// Problems sampled at once (the local engine batches concurrent requests).
    public var concurrency: Int
    /// STaR's rationalisation: the reference answer is shown to the model as a hint (never stored in the prompt).
    public var hintAnswer = false

    public init(
        model: any LanguageModel, task: any ReasoningTask, policy: KeepPolicy = KeepPolicy(), k: Int = 8,
        parameters: SamplingParameters = SamplingParameters(maxTokens: 256, temperature: 1), seed: UInt64 = 0, concurrency: Int = 8
    ) {
        self.model = model
        self.task = task
        self.policy = policy
        self.k = k
        self.parameters = parameters
        self.seed = seed
        self.concurrency = concurrency
    }

    /// The text form of a prompt, as stored in SFT files (a chat prompt's last user message; `--chat` puts it back
    /// into the template when training).
    public static func text(of prompt: Prompt) -> String {
        switch prompt {
        case .text(let t): t
        case .chat(let messages): messages.last(where: { $0.role == .user })?.content ?? messages.last?.content ?? ""
        }
    }

    /// The hint STaR appends for rationalisation (Zelikman et al. 2022 give the answer in the prompt).
    public static func hinted(_ prompt: Prompt, answer: String) -> Prompt {
        let hint = " (Hint: the answer is \(answer).)"
        switch prompt {
        case .text(let t):
            // Inside the question, before the prompt's trailing whitespace, so the model starts where it always does.
            let body = t.replacingOccurrences(of: "\\s+$", with: "", options: .regularExpression)
            return .text(body + hint + String(t.dropFirst(body.count)))
        case .chat(var messages):
            if let i = messages.lastIndex(where: { $0.role == .user }) { messages[i].content += hint }
            return .chat(messages)
        }
    }

    /// Samples, grades and filters one problem.
    public func record(_ problem: Problem, index: Int) async throws -> ProblemRecord {
        let prompt = task.prompt(for: problem)
        var request = CompletionRequest(prompt: prompt, parameters: parameters)
        if hintAnswer {
            guard let answer = problem.answer else {
                throw TrainingError.invalidConfiguration("problem \(problem.id) has no reference answer to give as a hint")
            }
            request.prompt = Self.hinted(prompt, answer: answer)
        }
        request.parameters.n = k
        request.parameters.seed = seed &+ UInt64(index) &* 0x9E37_79B9
        let response = try await model.complete(request)
        let language = policy.minLanguageConsistency.map { _ in LanguageConsistencyReward() }
        var samples: [Sample] = []
        for c in response.completions {
            let correct = try await task.grade(c.text, problem: problem).isEquivalent
            samples.append(
                Sample(completion: c.text, tokens: c.tokens.count, correct: correct, formatted: task.isWellFormatted(c.text), kept: false))
        }
        // The policy, in order: filters, then dedup, then length order and the cap.
        var candidates: [Int] = samples.indices.filter { i in
            let s = samples[i]
            if policy.correctOnly && !s.correct { return false }
            if policy.requireFormat && !s.formatted { return false }
            if let minimum = policy.minLanguageConsistency, let share = language?.consistency(s.completion), share < minimum {
                return false
            }
            return true
        }
        if policy.deduplicate {
            var seen = Set<String>()
            candidates = candidates.filter { seen.insert(samples[$0].completion.trimmingCharacters(in: .whitespacesAndNewlines)).inserted }
        }
        if policy.shortestFirst {
            candidates.sort {
                (samples[$0].tokens, samples[$0].completion.count, $0) < (samples[$1].tokens, samples[$1].completion.count, $1)
            }
        }
        if let m = policy.maxPerProblem { candidates = Array(candidates.prefix(m)) }
        for i in candidates { samples[i].kept = true }
        return ProblemRecord(id: problem.id, prompt: Self.text(of: prompt), samples: samples)
    }

    /// Runs over `problems`, resuming from `output`'s progress file; writes `output` (SFT JSONL: `prompt`,
    /// `completion`, `id`) and `output.stats.json` atomically at the end. `onProblem(done, total)` reports progress.
    @discardableResult
    public func run(
        problems: [Problem], output: URL, onProblem: @escaping @Sendable (Int, Int) -> Void = { _, _ in }
    ) async throws -> (records: [ProblemRecord], stats: Stats) {
        guard k >= 1 else { throw TrainingError.invalidConfiguration("k = \(k) must be at least 1") }
        let ids = problems.map(\.id)
        if Set(ids).count != ids.count {
            throw TrainingError.invalidConfiguration("problem ids repeat; resuming needs unique ids")
        }
        let progress = Self.progressURL(output)
        var done = try Self.readProgress(progress)
        let known = Set(ids)
        done = done.filter { known.contains($0.key) }
        let todo = problems.enumerated().filter { done[$0.element.id] == nil }
        var finished = problems.count - todo.count
        onProblem(finished, problems.count)
        let handle = try Self.appendHandle(progress)
        defer { try? handle.close() }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        for start in stride(from: 0, to: todo.count, by: Swift.max(1, concurrency)) {
            let chunk = Array(todo[start..<Swift.min(start + Swift.max(1, concurrency), todo.count)])
            let records = try await withThrowingTaskGroup(of: (Int, ProblemRecord).self) { group in
                for (slot, item) in chunk.enumerated() {
                    group.addTask { (slot, try await record(item.element, index: item.offset)) }
                }
                var out = [ProblemRecord?](repeating: nil, count: chunk.count)
                for try await (slot, r) in group { out[slot] = r }
                return out.map { $0! }
            }
            for r in records {
                var line = try encoder.encode(r)
                line.append(0x0A)
                try handle.write(contentsOf: line)
                done[r.id] = r
            }
            try handle.synchronize()
            finished += records.count
            onProblem(finished, problems.count)
        }
        let ordered = problems.compactMap { done[$0.id] }
        let stats = Self.stats(ordered)
        var text = ""
        for r in ordered {
            for s in r.kept {
                let object: [String: Any] = ["id": r.id, "prompt": r.prompt, "completion": s.completion]
                text += String(
                    decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]),
                    as: UTF8.self)
                text += "\n"
            }
        }
        try Data(text.utf8).write(to: output, options: .atomic)
        try encoder.encode(stats).write(to: Self.statsURL(output), options: .atomic)
        return (ordered, stats)
    }

    /// `OUT.progress.jsonl`.
    public static func progressURL(_ output: URL) -> URL { URL(fileURLWithPath: output.path + ".progress.jsonl") }
    /// `OUT.stats.json`.
    public static func statsURL(_ output: URL) -> URL { URL(fileURLWithPath: output.path + ".stats.json") }

    /// The records of a progress file by id; a last line cut short by a crash is ignored (its problem is redone).
    static func readProgress(_ url: URL) throws -> [String: ProblemRecord] {
        guard FileManager.default.fileExists(atPath: url.path) else { return [:] }
        let data = try Data(contentsOf: url)
        var out: [String: ProblemRecord] = [:]
        let lines = data.split(separator: 0x0A, omittingEmptySubsequences: true)
        for (i, line) in lines.enumerated() {
            guard let r = try? JSONDecoder().decode(ProblemRecord.self, from: Data(line)) else {
                if i == lines.count - 1 { continue }
                throw TrainingError.badData(
                    path: url.path, line: i + 1, reason: "not a sampling progress record; delete the file to start over")
            }
            out[r.id] = r
        }
        // Drop a torn last line so appends start on a fresh line.
        if let last = data.last, last != 0x0A {
            let keep = data.lastIndex(of: 0x0A).map { data[...$0] } ?? Data()
            try Data(keep).write(to: url, options: .atomic)
        }
        return out
    }

    static func appendHandle(_ url: URL) throws -> FileHandle {
        if !FileManager.default.fileExists(atPath: url.path) {
            guard FileManager.default.createFile(atPath: url.path, contents: nil) else {
                throw TrainingError.io(path: url.path, reason: "cannot create the progress file")
            }
        }
        let h = try FileHandle(forWritingTo: url)
        try h.seekToEnd()
        return h
    }

    /// Totals of `records`.
    public static func stats(_ records: [ProblemRecord]) -> Stats {
        let samples = records.flatMap(\.samples)
        let kept = records.map(\.kept.count)
        var perProblem = [Int](repeating: 0, count: (kept.max() ?? 0) + 1)
        for n in kept { perProblem[n] += 1 }
        let n = Double(Swift.max(samples.count, 1))
        return Stats(
            problems: records.count, samples: samples.count, passRate: Double(samples.filter(\.correct).count) / n,
            solvedRate: Double(records.filter { $0.samples.contains(where: \.correct) }.count) / Double(Swift.max(records.count, 1)),
            formatRate: Double(samples.filter(\.formatted).count) / n, kept: kept.reduce(0, +),
            problemsWithKept: kept.filter { $0 > 0 }.count,
            keptPerProblem: perProblem, keptLength: .of(records.flatMap(\.kept).map(\.tokens)), sampleLength: .of(samples.map(\.tokens)))
    }
}
