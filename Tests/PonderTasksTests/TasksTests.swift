import Foundation
import PonderCore
import PonderVerifiers
import XCTest

@testable import PonderTasks

final class DatasetTests: XCTestCase {
    func write(_ text: String) throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("ponder-ds-\(UUID().uuidString).jsonl")
        try text.write(to: url, atomically: true, encoding: .utf8)
        return url
    }

    func testPresetsAndErrors() throws {
        let gsm = try write(
            #"{"question": "How many?", "answer": "Add them: 1,000 + 234 = 1,234\n#### 1,234"}"# + "\n\n"
                + #"{"question": "Q2", "answer": "x\n#### 7"}"#)
        let d = try Dataset(jsonl: gsm, mapping: .gsm8k)
        XCTAssertEqual(d.problems.map(\.answer), ["1234", "7"])
        XCTAssertEqual(d.problems[1].id, "\(gsm.lastPathComponent):3", "ids name the line")
        let math = try write(#"{"problem": "Half?", "solution": "It is $\\boxed{\\frac{1}{2}}$."}"#)
        XCTAssertEqual(try Dataset(jsonl: math, mapping: .math).problems[0].answer, "\\frac{1}{2}")
        let bad = try write("{\"question\": \"ok\", \"answer\": \"#### 1\"}\nnot json\n")
        XCTAssertThrowsError(try Dataset(jsonl: bad, mapping: .gsm8k)) {
            XCTAssertEqual($0 as? TaskError, .badLine(path: bad.path, line: 2, reason: "not a JSON object"))
        }
        let missing = try write(#"{"question": "ok", "answer": "no marker"}"#)
        XCTAssertThrowsError(try Dataset(jsonl: missing, mapping: .gsm8k)) {
            XCTAssertTrue($0.localizedDescription.contains(":1: field \"answer\" has no #### answer"))
        }
    }

    func testSeededSplits() throws {
        let d = Dataset(try ArithmeticChain().problems(seed: 1, count: 50))
        let (train, test) = try d.split(heldOut: 10, seed: 3)
        XCTAssertEqual(test.problems.count, 10)
        XCTAssertEqual(train.problems.count, 40)
        XCTAssertTrue(Set(train.problems.map(\.id)).isDisjoint(with: test.problems.map(\.id)))
        XCTAssertEqual(try d.split(heldOut: 10, seed: 3).test, test, "the same seed gives the same split")
        XCTAssertNotEqual(try d.split(heldOut: 10, seed: 4).test, test)
        XCTAssertThrowsError(try d.split(heldOut: 51, seed: 0))
    }
}

final class SyntheticTaskTests: XCTestCase {
    let verifier = MathVerifier()

    func testArithmeticChain() async throws {
        let task = try ArithmeticChain()
        XCTAssertEqual(task.problem(seed: 5, index: 7), task.problem(seed: 5, index: 7), "deterministic")
        XCTAssertNotEqual(task.problem(seed: 5, index: 7), task.problem(seed: 6, index: 7))
        for p in task.problems(seed: 9, count: 300) {
            let steps = task.steps(for: p)
            XCTAssertTrue((3...5).contains(steps.count))
            // Every running total is in 0...99 and the last equals the answer.
            let totals = steps.map { Int($0.split(separator: "=").last!)! }
            XCTAssertTrue(totals.allSatisfy { (0...99).contains($0) }, "\(steps)")
            XCTAssertEqual("\(totals.last!)", p.answer)
            XCTAssertEqual(steps.first!.split(separator: "=")[0].filter { $0 == "+" || $0 == "-" }.count, 1)
            // The answer is the value of the expression in the prompt text, evaluated here left to right.
            XCTAssertEqual("\(DatasetTests.evaluate(prompt: p.prompt))", p.answer, p.prompt)
        }
        let p = task.problem(seed: 1, index: 0)
        let solution = task.teacherSolution(for: p)
        XCTAssertTrue(solution.hasPrefix("<think>") && solution.hasSuffix("</answer>"), solution)
        let verdict = try await verifier.verify(solution, against: p)
        XCTAssertTrue(verdict.isEquivalent, solution)
        XCTAssertThrowsError(try ArithmeticChain(operations: 0...2))
    }

    func testMultiDigit() async throws {
        for op in [MultiDigit.Operation.addition, .multiplication] {
            let task = try MultiDigit(operation: op, digits: 2...5)
            for p in task.problems(seed: 2, count: 100) {
                let last = task.steps(for: p).last!
                XCTAssertEqual(String(last.split(separator: "=").last!), p.answer, last)
                XCTAssertEqual("\(DatasetTests.evaluate(prompt: p.prompt))", p.answer, "the prompt's own numbers give the answer: \(p.prompt)")
                let verdict = try await verifier.verify(task.teacherSolution(for: p), against: p)
                XCTAssertTrue(verdict.isEquivalent)
            }
        }
        let t = try MultiDigit(operation: .multiplication, digits: 3...3, otherDigits: 2...2)
        let p = Problem(id: "x", prompt: "Compute 123*45.", answer: "5535", metadata: ["a": "123", "b": "45"])
        XCTAssertEqual(t.steps(for: p), ["123*5=615", "123*40=4920", "615+4920=5535"])
        XCTAssertThrowsError(try MultiDigit(operation: .addition, digits: 0...3))
    }

    func testCountdownIsSolvableAndStrictlyVerified() async throws {
        let task = try Countdown()
        let v = CountdownVerifier()
        for p in task.problems(seed: 3, count: 100) {
            let solution = task.teacherSolution(for: p)
            let verdict = try await v.verify(solution, against: p)
            XCTAssertTrue(verdict.isEquivalent, "\(p.prompt) \(solution): \(verdict)")
        }
        XCTAssertTrue(CountdownVerifier.check("(25-5)*3", target: 60, numbers: [3, 5, 25]).isEquivalent)
        XCTAssertTrue(
            CountdownVerifier.check("3 × (25 − 5)".replacingOccurrences(of: "−", with: "-"), target: 60, numbers: [3, 5, 25, 7])
                .isEquivalent)
        XCTAssertFalse(CountdownVerifier.check("60", target: 60, numbers: [3, 5, 25]).isEquivalent, "the target alone is not a solution")
        XCTAssertFalse(CountdownVerifier.check("(25-5)*3*1", target: 60, numbers: [3, 5, 25]).isEquivalent, "1 is not given")
        XCTAssertFalse(
            CountdownVerifier.check("5*5+5", target: 30, numbers: [5, 5, 25]).isEquivalent, "5 is given twice, used three times")
        XCTAssertFalse(CountdownVerifier.check("25/3", target: 8, numbers: [3, 25]).isEquivalent, "exact arithmetic: 25/3 is not 8")
        XCTAssertFalse(CountdownVerifier.check("(((", target: 8, numbers: [3, 25]).isEquivalent)
        XCTAssertFalse(CountdownVerifier.check("3/(5-5)", target: 3, numbers: [3, 5, 5]).isEquivalent, "division by zero is rejected")
        XCTAssertFalse(CountdownVerifier.check("(5-5)/(3-3)+8", target: 8, numbers: [3, 3, 5, 5, 8]).isEquivalent)
        XCTAssertFalse(CountdownVerifier.check(String(repeating: "(", count: 500) + "1", target: 1, numbers: [1]).isEquivalent)
        XCTAssertFalse(
            CountdownVerifier.check("99999999*99999999*99999999", target: 1, numbers: [99_999_999, 99_999_999, 99_999_999]).isEquivalent,
            "overflow is a rejection, not a crash")
    }
}

final class TaggedFormatTests: XCTestCase {
    func testStrictFormatWithoutNewlines() {
        let f = StrictFormatReward(requireNewlines: false)
        XCTAssertTrue(f.matches("<think>1+2=3</think><answer>3</answer>"))
        XCTAssertTrue(f.matches("<think>1+2=3</think>\n<answer>3</answer>\n"))
        XCTAssertFalse(f.matches("<think></think><answer>3</answer> and more"))
        XCTAssertFalse(f.matches("<think>a</think><answer>3</answer><answer>4</answer>"))
        XCTAssertFalse(f.matches("The answer is 3."))
        XCTAssertFalse(f.matches("<think>a<think>b</think><answer>3</answer>"))
        XCTAssertFalse(StrictFormatReward().matches("<think>1+2=3</think><answer>3</answer>"), "open-r1's layout needs the newlines")
    }
}

final class CorpusTests: XCTestCase {
    func testMixAndHeldOutProblems() throws {
        let task = try ArithmeticChain()
        let corpus = PretrainingCorpus(task: task)
        let docs = corpus.documents(count: 2000, seed: 1, problemSeed: 100)
        XCTAssertEqual(docs, corpus.documents(count: 2000, seed: 1, problemSeed: 100), "deterministic")
        let problems = docs.filter { $0.contains("Compute ") }
        let noise = Double(docs.count - problems.count) / Double(docs.count)
        XCTAssertEqual(noise, 0.2, accuracy: 0.03)
        let replies = problems.map { String($0.split(separator: "\n").last!) }
        let tagged = problems.filter { doc in
            let reply = String(doc.split(separator: "\n").last!)
            return reply.hasPrefix("<think>") && reply.contains("</think><answer>") && !reply.hasPrefix("<think></think>")
        }
        XCTAssertEqual(replies.count, problems.count)
        let instructed = problems.filter { $0.hasPrefix(TaskFormat.taggedInstruction) }
        XCTAssertEqual(Double(instructed.count) / Double(problems.count), 0.5, accuracy: 0.05)
        XCTAssertEqual(Double(tagged.count) / Double(problems.count), 0.14 / 0.8, accuracy: 0.04, "a minority is in the tagged format")
        let direct = problems.filter { !$0.contains("=") }
        XCTAssertGreaterThan(direct.count, tagged.count, "direct answers are more common than tagged scratchpads")
        // Some worked solutions slip: their final answer differs from the problem's.
        let wrong = tagged.filter { doc in
            let p = task.problems(seed: 100, count: 2000).first { doc.contains($0.prompt) }!
            return !doc.hasSuffix("<answer>\(p.answer!)</answer>")
        }
        XCTAssertEqual(Double(wrong.count) / Double(tagged.count), 0.15, accuracy: 0.06)
        // A slip carries through the rest of the chain, so the scratchpad stays internally consistent.
        let (slipped, answer) = PretrainingCorpus.slip(["34+27=61", "61-15=46", "46+8=54"], at: 0, by: 1)
        XCTAssertEqual(slipped, ["34+27=62", "62-15=47", "47+8=55"])
        XCTAssertEqual(answer, "55")
        // Held-out problems never appear, even those the corpus stream itself would produce.
        let heldOut = Set(task.problems(seed: 100, count: 40).map(\.prompt))
        let filtered = corpus.documents(count: 2000, seed: 1, problemSeed: 100, excluding: heldOut)
        XCTAssertTrue(filtered.allSatisfy { doc in !heldOut.contains(where: { doc.contains($0 + "\n") }) })
        XCTAssertTrue(
            docs.contains { doc in heldOut.contains(where: { doc.contains($0 + "\n") }) }, "without the exclusion they would appear")
    }
}

extension DatasetTests {
    /// The value of the `a op b op c...` expression in a prompt ("Compute 34+27-15+8." or "Compute 123*45."), evaluated
    /// left to right from the text alone (the tasks' own metadata is not consulted).
    static func evaluate(prompt: String) -> Int {
        let expression = prompt.drop { !$0.isNumber }.prefix { $0.isNumber || "+-*".contains($0) }
        var total = 0
        var number = 0
        var op: Character = "+"
        for c in expression + "+" {
            if let d = c.wholeNumberValue {
                number = number * 10 + d
                continue
            }
            switch op {
            case "+": total += number
            case "-": total -= number
            default: total *= number
            }
            op = c
            number = 0
        }
        return total
    }
}
