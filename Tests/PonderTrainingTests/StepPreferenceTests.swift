import Foundation
import PonderCore
import PonderModels
import PonderSearch
import PonderTokenizers
import XCTest

@testable import PonderTraining

/// Step-level pairs read from an MCTS trace: which siblings pair up, the prompt they share, and how DPO encodes them.
final class StepPreferenceTests: XCTestCase {
    /// A hand-built tree of steps separated by ", ":
    ///
    ///     0 root
    ///     ├─ 1 "a=1, "  Q 0.8, 5 visits ── 4 "<answer>4</answer>" Q 1.0 (2, ends) · 5 "<answer>5</answer>" Q 0.0 (2, ends)
    ///     ├─ 2 "a=2, "  Q 0.2, 3 visits ── 6 "c, " Q 0.3 (2) · 7 " c, " Q 0.1 (2): the same step up to whitespace
    ///     │                                6 ── 8 "d, " Q 0.5 (2) · 9 "e, " Q 0.4 (2): gap below the margin
    ///     └─ 3 "a=3, "  Q 0.0, 1 visit
    let trace: [SearchNode] = {
        func node(_ id: Int, _ parent: Int?, _ text: String, q: Double?, visits: Int, ends: Bool = false) -> SearchNode {
            SearchNode(id: id, parent: parent, text: text, visits: visits, value: q, isTerminal: ends)
        }
        return [
            node(0, nil, "", q: 0.5, visits: 10),
            node(1, 0, "a=1, ", q: 0.8, visits: 5), node(2, 0, "a=2, ", q: 0.2, visits: 3), node(3, 0, "a=3, ", q: 0, visits: 1),
            node(4, 1, "<answer>4</answer>", q: 1, visits: 2, ends: true), node(5, 1, "<answer>5</answer>", q: 0, visits: 2, ends: true),
            node(6, 2, "c, ", q: 0.3, visits: 2), node(7, 2, " c, ", q: 0.1, visits: 2),
            node(8, 6, "d, ", q: 0.5, visits: 2), node(9, 6, "e, ", q: 0.4, visits: 2),
        ]
    }()

    func testHighestAgainstLowestQSiblingsAboveTheMarginWidestGapFirst() {
        let pairs = StepPreferenceBuilder.pairs(
            from: trace, prompt: "Q?\n", id: "p", selection: .init(margin: 0.2, minimumVisits: 2, maxPairsPerProblem: 4))
        XCTAssertEqual(pairs.count, 2)
        XCTAssertEqual(
            pairs[0],
            StepPreferenceBuilder.Record(
                id: "p", prompt: "Q?\na=1, ", chosen: "<answer>4</answer>", rejected: "<answer>5</answer>", chosenComplete: true,
                rejectedComplete: true, chosenQ: 1, rejectedQ: 0, chosenVisits: 2, rejectedVisits: 2, depth: 1, nodes: [4, 5]))
        // At the root, node 3 (one visit) is not eligible, so the lowest-Q eligible sibling is node 2.
        XCTAssertEqual(pairs[1].prompt, "Q?\n")
        XCTAssertEqual(pairs[1].nodes, [1, 2])
        XCTAssertEqual([pairs[1].chosen, pairs[1].rejected], ["a=1, ", "a=2, "])
        XCTAssertFalse(pairs[1].chosenComplete || pairs[1].rejectedComplete)
        XCTAssertEqual(pairs[1].depth, 0)
        for p in pairs { XCTAssertGreaterThanOrEqual(p.chosenQ, p.rejectedQ + 0.2 - 1e-9) }
    }

    func testSelectionKnobs() {
        // One visit is enough: the root's lowest sibling becomes node 3.
        let loose = StepPreferenceBuilder.pairs(
            from: trace, prompt: "", id: "p", selection: .init(margin: 0.2, minimumVisits: 1, maxPairsPerProblem: 4))
        XCTAssertEqual(loose.map(\.nodes), [[4, 5], [1, 3]])
        // A smaller margin admits node 6's children (gap 0.1, up to rounding); node 2's children stay out (one step).
        let small = StepPreferenceBuilder.pairs(
            from: trace, prompt: "", id: "p", selection: .init(margin: 0.1, minimumVisits: 2, maxPairsPerProblem: 4))
        XCTAssertEqual(small.map(\.nodes), [[4, 5], [1, 2], [8, 9]])
        XCTAssertEqual(small[2].prompt, "a=2, c, ", "the prompt holds every shared step")
        // At most m pairs, the widest gaps first.
        let one = StepPreferenceBuilder.pairs(
            from: trace, prompt: "", id: "p", selection: .init(margin: 0.1, minimumVisits: 2, maxPairsPerProblem: 1))
        XCTAssertEqual(one.map(\.nodes), [[4, 5]])
        // Nothing clears a margin of 1 but the 1.0 gap.
        let strict = StepPreferenceBuilder.pairs(
            from: trace, prompt: "", id: "p", selection: .init(margin: 1, minimumVisits: 2, maxPairsPerProblem: 4))
        XCTAssertEqual(strict.map(\.nodes), [[4, 5]])
    }

    func testSelectionErrorsNameTheSetting() {
        let cases: [(StepPreferenceBuilder.Selection, String)] = [
            (.init(margin: 0), "margin"), (.init(margin: 1.5), "margin"), (.init(minimumVisits: 0), "minimumVisits"),
            (.init(maxPairsPerProblem: 0), "maxPairsPerProblem"),
        ]
        for (s, name) in cases {
            XCTAssertThrowsError(try s.validate()) { XCTAssertTrue($0.localizedDescription.contains(name), $0.localizedDescription) }
        }
    }

    func testIncompleteStepsAreReadAndGetNoEndToken() throws {
        let dir = temporaryDirectory("step-prefs")
        let file = dir.appendingPathComponent("steps.jsonl")
        try """
        {"prompt": "Q?\\na=1, ", "chosen": "b=2, ", "rejected": "b=3, ", "chosen_complete": false, "rejected_complete": false}
        {"prompt": "Q?\\n", "chosen": "<answer>4</answer>", "rejected": "a=3, ", "rejected_complete": false}
        """.write(to: file, atomically: true, encoding: .utf8)
        let examples = try PreferenceExample.load(file)
        XCTAssertEqual(examples.map(\.chosenComplete), [false, true])
        XCTAssertEqual(examples.map(\.rejectedComplete), [false, false])

        let tokenizer = try Tokenizer.load(directory: fixtureModel)
        var c = DPOTrainer.Configuration.defaults
        c.precomputeRefLogProbs = true
        let policy = try CausalLM(configuration: ModelDirectory.configuration(at: fixtureModel), seed: 1)
        let end = 7
        let trainer = try DPOTrainer(
            configuration: c, policy: policy, tokenizer: tokenizer, template: nil, examples: examples, endToken: end)
        XCTAssertEqual(trainer.pairs[0].chosen, tokenizer.encode("b=2, ", addSpecialTokens: false))
        XCTAssertEqual(trainer.pairs[0].rejected, tokenizer.encode("b=3, ", addSpecialTokens: false))
        XCTAssertEqual(trainer.pairs[1].chosen, tokenizer.encode("<answer>4</answer>", addSpecialTokens: false) + [end])
        XCTAssertEqual(trainer.pairs[1].rejected, tokenizer.encode("a=3, ", addSpecialTokens: false))

        try "{\"prompt\": \"a\", \"chosen\": \"b\", \"rejected\": \"c\", \"chosen_complete\": \"no\"}\n".write(
            to: file, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try PreferenceExample.load(file)) {
            let message = $0.localizedDescription
            XCTAssertTrue(message.contains("steps.jsonl:1") && message.contains("chosen_complete"), message)
        }
        // An incomplete empty completion leaves nothing to train on.
        let empty = [PreferenceExample(prompt: .text("Q"), chosen: "", rejected: "x", chosenComplete: false)]
        XCTAssertThrowsError(
            try DPOTrainer(configuration: c, policy: policy, tokenizer: tokenizer, template: nil, examples: empty, endToken: end)
        ) { XCTAssertTrue($0.localizedDescription.contains("pair 0"), $0.localizedDescription) }
    }
}
