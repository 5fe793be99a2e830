import Foundation
import PonderCore
import PonderTasks
import Synchronization
import XCTest

@testable import PonderTraining

/// A model that answers each prompt with a fixed list of completions, and counts the prompts it was asked.
final class CannedModel: LanguageModel, @unchecked Sendable {
    let name = "canned"
    let answers: @Sendable (String) -> [String]
    let calls = Mutex<[String]>([])

    init(_ answers: @escaping @Sendable (String) -> [String]) { self.answers = answers }

    func complete(_ request: CompletionRequest) async throws -> CompletionResponse {
        let text = RejectionSampler.text(of: request.prompt)
        calls.withLock { $0.append(text) }
        let list = answers(text)
        let completions = (0..<request.parameters.n).map { i -> Completion in
            let t = list[i % list.count]
            return Completion(text: t, tokens: Array(repeating: 1, count: t.count), stop: .endOfSequence(token: 0))
        }
        return CompletionResponse(completions: completions, usage: Usage())
    }
}

final class RejectionSamplerTests: XCTestCase {
    let task = TaskFormat(name: "t", style: .tagged)
    let problems = (0..<4).map { Problem.math(id: "p\($0)", prompt: "What is \($0) + 1?", answer: "\($0 + 1)") }

    /// Per problem: a long correct answer, a short correct one (twice), a wrong one, an unformatted correct one.
    func model() -> CannedModel {
        CannedModel { prompt in
            let n = Int(prompt.split(separator: " ").first { Int($0) != nil } ?? "0")! + 1
            return [
                "<think>\(n - 1) plus one is \(n), checking again: yes</think><answer>\(n)</answer>",
                "<think>\(n - 1)+1=\(n)</think><answer>\(n)</answer>", "<think>\(n - 1)+1=\(n)</think><answer>\(n)</answer>",
                "<think>guess</think><answer>\(n + 5)</answer>", "The answer is \(n).",
            ]
        }
    }

    func testKeepPolicies() async throws {
        let sampler = RejectionSampler(model: model(), task: task, k: 5)
        let r = try await sampler.record(problems[2], index: 2)
        XCTAssertEqual(
            r.samples.map(\.correct), [true, true, true, false, false], "the unformatted answer is not graded correct in the tagged style")
        XCTAssertEqual(r.kept.count, 2, "correct, formatted, deduplicated")
        var shortest = sampler
        shortest.policy.shortestFirst = true
        shortest.policy.maxPerProblem = 1
        let short = try await shortest.record(problems[2], index: 2)
        XCTAssertEqual(short.kept.map(\.completion), ["<think>2+1=3</think><answer>3</answer>"])
        var all = sampler
        all.policy = .init()
        all.policy.correctOnly = false
        all.policy.requireFormat = false
        all.policy.deduplicate = false
        let everything = try await all.record(problems[2], index: 2)
        XCTAssertEqual(everything.kept.count, 5)
        var hinted = sampler
        hinted.hintAnswer = true
        let canned = model()
        hinted.model = canned
        let h = try await hinted.record(problems[1], index: 1)
        XCTAssertTrue(canned.calls.withLock { $0 }.first!.contains("Hint: the answer is 2"))
        XCTAssertFalse(h.prompt.contains("Hint"), "the stored prompt never carries the hint")
    }

    func testRunWritesSFTAndStatsAndResumes() async throws {
        let dir = temporaryDirectory("sample")
        let out = dir.appendingPathComponent("sft.jsonl")
        let first = model()
        var sampler = RejectionSampler(model: first, task: task, k: 5, concurrency: 2)
        _ = try await sampler.run(problems: Array(problems.prefix(2)), output: out)
        XCTAssertEqual(first.calls.withLock { $0.count }, 2)
        // A crash mid-write leaves a torn line: it is dropped and that problem redone.
        let progress = RejectionSampler.progressURL(out)
        let h = try FileHandle(forWritingTo: progress)
        try h.seekToEnd()
        try h.write(contentsOf: Data("{\"id\": \"p2\", \"prom".utf8))
        try h.close()
        let second = model()
        sampler.model = second
        let (records, stats) = try await sampler.run(problems: problems, output: out)
        XCTAssertEqual(second.calls.withLock { $0.count }, 2, "only the two unfinished problems are sampled again")
        XCTAssertEqual(records.map(\.id), ["p0", "p1", "p2", "p3"])
        XCTAssertEqual(stats.samples, 20)
        XCTAssertEqual(stats.passRate, 0.6, accuracy: 1e-9)
        XCTAssertEqual(stats.kept, 8)
        XCTAssertEqual(stats.keptPerProblem, [0, 0, 4])
        let lines = try JSONLines.read(out)
        XCTAssertEqual(lines.count, 8)
        XCTAssertEqual(lines[0]["prompt"] as? String, task.promptText(for: problems[0]))
        XCTAssertNotNil(try JSONSerialization.jsonObject(with: Data(contentsOf: RejectionSampler.statsURL(out))) as? [String: Any])
    }
}
