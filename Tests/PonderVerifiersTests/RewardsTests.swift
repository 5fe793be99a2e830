import Foundation
import PonderCore
import Testing

@testable import PonderVerifiers

/// Expected values computed with open-r1's Python formulas (see the comments), not with this code.
@Suite struct RewardsTests {
    let problem = Problem.math(id: "p", prompt: "2+2?", answer: "4")

    @Test func accuracyScoresOneZeroAndNil() async throws {
        let r = try await AccuracyReward().rewards(
            for: ["<think>2+2</think> \\boxed{4}", "\\boxed{5}", "no answer"], problem: problem)
        #expect(r == [1, 0, 0])
        let noGold = Problem(id: "q", prompt: "?", answer: nil)
        #expect(try await AccuracyReward().rewards(for: ["\\boxed{1}"], problem: noGold) == [nil])
        let badGold = Problem.math(id: "r", prompt: "?", answer: "\\frac{")
        #expect(try await AccuracyReward().rewards(for: ["\\boxed{1}"], problem: badGold) == [nil])
    }

    @Test func strictAndSoftFormat() async throws {
        let good = "<think>\nreason\n</think>\n<answer>\n4\n</answer>"
        let strict = StrictFormatReward()
        #expect(
            try await strict.rewards(
                for: [good, good + "\n", good + " extra", "<think>reason</think><answer>4</answer>"], problem: problem)
                == [1, 1, 0, 0])
        let soft = SoftFormatReward()
        #expect(
            try await soft.rewards(
                for: ["<think>r</think>  <answer>4</answer> tail", good, "<answer>4</answer>", "<think>r</think> 4"],
                problem: problem) == [1, 1, 0, 0])
    }

    @Test func tagCount() async throws {
        let r = try await TagCountReward().rewards(
            for: [
                "<think>\nr\n</think>\n<answer>\n4\n</answer>", "<think>\nr\n</think>\n",
                "<think>\n<think>\n\n</answer>",
            ], problem: problem)
        #expect(r == [1.0, 0.5, 0.25])
    }

    @Test func reasoningSteps() async throws {
        // Python: len(re.findall(r"(Step \d+:|^\d+\.|\n-|\n\*|First,|Second,|Next,|Finally,)", s)) → 2, 1, 5, 4.
        let texts = [
            "Step 1: a Step 2: b", "1. a\n2. b\n3. c", "First, x. Next, y.\n- z\n* w Finally, done",
            "Step 12:Step 3: 4. First,Second,",
        ]
        #expect(texts.map(ReasoningStepsReward.countSteps) == [2, 1, 5, 4])
        let r = try await ReasoningStepsReward().rewards(for: texts, problem: problem)
        let expected: [Double?] = [2.0 / 3, 1.0 / 3, 1, 1]
        #expect(r == expected)
    }

    @Test func kimiLengthReward() async throws {
        let completions = [
            "\\boxed{4}", "So \\boxed{4} yes", "\\boxed{5}", String(repeating: "x", count: 31) + "\\boxed{5}",
        ]
        let r = try await LengthReward().rewards(for: completions, problem: problem)
        let expected: [Double] = [0.5, 0.27419354838709675, 0, -0.5]
        #expect(r.count == expected.count)
        for (a, b) in zip(r, expected) { #expect(abs(a! - b) < 1e-12) }
        #expect(try await LengthReward().rewards(for: ["\\boxed{4}", "\\boxed{5}"], problem: problem) == [0, 0])
    }

    @Test func cosineScaledReward() async throws {
        let pad = String(repeating: "x", count: 241)  // 241 + 9 = 250 characters
        let r = try await CosineScaledReward().rewards(
            for: [pad + "\\boxed{4}", pad + "\\boxed{5}", String(repeating: "y", count: 991) + "\\boxed{4}"],
            problem: problem)
        #expect(abs(r[0]! - 0.9267766952966369) < 1e-12)
        #expect(abs(r[1]! + 0.9267766952966369) < 1e-12)
        #expect(abs(r[2]! - 0.5) < 1e-12)
        // Clamped: twice the maximum length is no better than the maximum.
        let long = try await CosineScaledReward().rewards(
            for: [String(repeating: "y", count: 1991) + "\\boxed{4}"], problem: problem)
        #expect(abs(long[0]! - 0.5) < 1e-12)
    }

    @Test func overlongPenalty() async throws {
        let r = try OverlongPenaltyReward(maxCompletionLength: 100, softPunishCache: 20, length: .characters)
        let penalties: [Double] = [80, 90, 100, 101, 0].map(r.penalty(forLength:))
        #expect(penalties == [0, -0.5, -1, -1, 0])
        #expect(throws: VerifierError.self) { try OverlongPenaltyReward(maxCompletionLength: 10, softPunishCache: 20) }
    }

    @Test func repetitionPenalty() throws {
        // Python reference: -0.25, -0.3, 0.0.
        #expect(try RepetitionPenaltyReward(ngramSize: 3, maxPenalty: -1).penalty("a b c a b c") == -0.25)
        #expect(
            abs(try RepetitionPenaltyReward(ngramSize: 2, maxPenalty: -0.5).penalty("The cat the CAT the cat") + 0.3)
                < 1e-12)
        #expect(try RepetitionPenaltyReward(ngramSize: 3, maxPenalty: -1).penalty("one two") == 0)
        #expect(throws: VerifierError.self) { try RepetitionPenaltyReward(maxPenalty: 0.5) }
    }

    @Test func languageConsistency() async throws {
        let r = LanguageConsistencyReward(target: .latin)
        #expect(abs(r.consistency("<think>The 答案 is</think> 4")! - 5.0 / 7) < 1e-12)
        #expect(r.consistency("<think>$x^2$ \\frac{1}{2} 42</think>") == nil)
        #expect(LanguageConsistencyReward(target: .han).consistency("<think>答案是 \\boxed{4}</think>") == 1)
    }

    @Test func weightedSumSkipsNil() async throws {
        let sum = WeightedSumReward([(AccuracyReward(), 2.0), (StrictFormatReward(), 0.5)])
        let good = "<think>\nr\n</think>\n<answer>\n4\n</answer>"
        let r = try await sum.rewards(for: [good, "\\boxed{5}"], problem: problem)
        #expect(r == [2.5, 0])
        let noGold = Problem(id: "q", prompt: "?", answer: nil)
        let onlyAccuracy = WeightedSumReward([(AccuracyReward(), 1.0)])
        #expect(try await onlyAccuracy.rewards(for: ["x"], problem: noGold) == [nil])
    }
}
