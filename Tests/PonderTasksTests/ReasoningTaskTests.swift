import Foundation
import PonderCore
import PonderVerifiers
import XCTest

@testable import PonderTasks

final class ReasoningTaskTests: XCTestCase {
    /// GSM8K's test split as published: every line reads, the answer after `####` becomes the reference, ids name the
    /// file and line, and the other fields are kept as metadata.
    func testGSM8KAsPublished() async throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("shared/data/gsm8k/test.jsonl")
        try XCTSkipUnless(FileManager.default.fileExists(atPath: url.path), "GSM8K is read from ../shared/data/gsm8k (absent here)")
        let problems = try Dataset(jsonl: url, mapping: DatasetPreset.gsm8k.mapping).problems
        XCTAssertEqual(problems.count, 1319)
        XCTAssertEqual(problems[0].answer, "18")
        XCTAssertEqual(problems[0].id, "test.jsonl:1")
        XCTAssertTrue(problems[0].prompt.hasPrefix("Janet"))
        // Every reference is a plain number once "####" is split off and thousands separators are dropped.
        let numeric = problems.filter { p in Double(p.answer!) != nil }
        XCTAssertEqual(numeric.count, problems.count, "\(problems.filter { Double($0.answer!) == nil }.prefix(3).map(\.answer))")
        // The boxed task grades a boxed completion of the reference as correct and another number as wrong.
        let task = TaskFormat(name: "gsm8k", style: DatasetPreset.gsm8k.style)
        let right = try await task.grade("<think>16-3-4=9, 9*2=18</think> The answer is $\\boxed{18}$.", problem: problems[0])
        let wrong = try await task.grade("\\boxed{19}", problem: problems[0])
        XCTAssertTrue(right.isEquivalent)
        XCTAssertFalse(wrong.isEquivalent)
    }

    func testMATHLayoutAndBoxedPrompt() async throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("ponder-math-\(UUID().uuidString).jsonl")
        try #"{"problem": "What is $\\frac{1}{2}+\\frac{1}{4}$?", "solution": "We get $\\boxed{\\frac{3}{4}}$.", "level": "Level 1", "type": "Algebra"}"#
            .write(to: url, atomically: true, encoding: .utf8)
        let p = try Dataset(jsonl: url, mapping: DatasetPreset.math.mapping).problems[0]
        XCTAssertEqual(p.answer, "\\frac{3}{4}")
        XCTAssertEqual(p.metadata["level"], "Level 1")
        let task = TaskFormat(name: "math", style: .boxed)
        XCTAssertEqual(task.prompt(for: p), .text(p.prompt + "\n" + TaskFormat.boxedInstruction + "\n"))
        let chat = TaskFormat(name: "math", style: .boxed, chat: true)
        XCTAssertEqual(chat.prompt(for: p), .chat([.user(p.prompt + "\n" + TaskFormat.boxedInstruction)]))
        let r = try await task.grade("so 0.75, i.e. \\boxed{0.75}", problem: p)
        XCTAssertTrue(r.isEquivalent)
        let v1 = try await task.grade(task.completion(answering: "3/4"), problem: p)
        XCTAssertTrue(v1.isEquivalent)
        XCTAssertEqual(task.answer(in: "<think>maybe \\boxed{1}</think> \\boxed{3/4}"), "3/4", "the answer region after thinking")
    }

    /// The tagged task grades strictly: a right answer outside `<answer>` tags is wrong, and the format reward is part
    /// of its rewards.
    func testTaggedTaskOwnsItsFormat() async throws {
        let chain = try ArithmeticChain()
        let task = chain.format
        let p = chain.problem(seed: 1, index: 0)
        let answer = p.answer!
        XCTAssertEqual(task.prompt(for: p), .text(TaskFormat.taggedInstruction + "\n" + p.prompt + "\n"))
        let v2 = try await task.grade(chain.teacherSolution(for: p), problem: p)
        XCTAssertTrue(v2.isEquivalent)
        let v3 = try await task.grade("The answer is \(answer).", problem: p)
        XCTAssertFalse(v3.isEquivalent)
        XCTAssertTrue(task.isWellFormatted(chain.teacherSolution(for: p)))
        XCTAssertTrue(task.showsWork(chain.teacherSolution(for: p)))
        XCTAssertFalse(task.showsWork("<think></think><answer>\(answer)</answer>"))
        XCTAssertEqual(task.rewards.map(\.reward.name), ["accuracy", "format"])
        XCTAssertEqual(task.rewards.map(\.weight), [1, 0.2])
        let scores = try await task.rewards[0].reward.rewards(
            for: [chain.teacherSolution(for: p), "<answer>-1</answer>"], problem: p)
        XCTAssertEqual(scores, [1, 0])
    }

    /// Countdown grades the tagged expression by evaluating it, through its task.
    func testCountdownGradesThroughItsTask() async throws {
        let countdown = try Countdown()
        let p = countdown.problem(seed: 3, index: 2)
        let task = countdown.format
        let v4 = try await task.grade(countdown.teacherSolution(for: p), problem: p)
        XCTAssertTrue(v4.isEquivalent)
        let v5 = try await task.grade("<answer>\(p.metadata["target"]!)</answer>", problem: p)
        XCTAssertFalse(v5.isEquivalent, "the target alone")
        let untagged = try await task.grade("The answer is \(p.answer!).", problem: p)
        XCTAssertFalse(untagged.isEquivalent, "an untagged expression in the tagged task")
    }

    func testRewardCatalogNamesItsRewards() throws {
        let task = TaskFormat(name: "t", style: .tagged)
        // "code" needs code problems (CodeTaskTests covers it).
        for name in RewardCatalog.names where name != "code" {
            XCTAssertEqual(try RewardCatalog.reward(named: name, task: task).name, name)
        }
        XCTAssertThrowsError(try RewardCatalog.reward(named: "acuracy", task: task)) {
            XCTAssertTrue("\($0.localizedDescription)".contains("acuracy"))
        }
    }
}

final class CodeTaskTests: XCTestCase {
    /// Code problems from JSONL (assertion and input/output tests), asked in the code style and graded by running the
    /// program in the sandbox; the `code` reward is the pass rate.
    func testCodeProblemsFromJSONL() async throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("ponder-code-\(UUID().uuidString).jsonl")
        try """
        {"question": "Write f(x) returning 2x.", "tests": ["assert f(2) == 4", "assert f(5) == 10"]}
        {"question": "Print the sum of two numbers read from one line.", "tests": [{"input": "2 3\\n", "output": "5"}]}
        """.write(to: url, atomically: true, encoding: .utf8)
        var mapping = FieldMapping(prompt: "question", answer: "unused")
        mapping.tests = "tests"
        let problems = try Dataset(jsonl: url, mapping: mapping).problems
        XCTAssertEqual(problems.count, 2)
        guard case .code(let tests) = problems[0].kind else { return XCTFail("not a code problem") }
        XCTAssertEqual(tests.cases, [.assertion("assert f(2) == 4"), .assertion("assert f(5) == 10")])
        let task = TaskFormat(name: "code", style: .code, verifier: CodeVerifier(pool: SandboxPool(sandbox: try await CodeSandbox.make())))
        XCTAssertTrue(task.promptText(for: problems[0]).hasSuffix(TaskFormat.codeInstruction + "\n"))
        let right = "<think>double it</think>\n```python\ndef f(x):\n    return 2 * x\n```"
        let wrong = "```python\ndef f(x):\n    return x + 2\n```"
        let v1 = try await task.grade(right, problem: problems[0])
        let v2 = try await task.grade(wrong, problem: problems[0])
        XCTAssertTrue(v1.isEquivalent)
        XCTAssertFalse(v2.isEquivalent)
        let rates = try await RewardCatalog.reward(named: "code", task: task).rewards(for: [right, wrong, "no code"], problem: problems[0])
        XCTAssertEqual(rates, [1, 0.5, 0], "f(2) == 4 holds for x + 2 too")
        let sum = try await task.grade("```python\na, b = map(int, input().split())\nprint(a + b)\n```", problem: problems[1])
        XCTAssertTrue(sum.isEquivalent)
        XCTAssertThrowsError(try RewardCatalog.reward(named: "code", task: TaskFormat(name: "m", style: .boxed)))
        try #"{"question": "q", "tests": [3]}"#.write(to: url, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try Dataset(jsonl: url, mapping: mapping)) {
            XCTAssertTrue("\($0.localizedDescription)".contains(":1: test 0 of \"tests\""), "\($0.localizedDescription)")
        }
    }
}
