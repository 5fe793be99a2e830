import Foundation
import PonderCore
import Testing

@testable import PonderVerifiers

/// One hand-labelled case from Fixtures/cases.jsonl.
struct LabelledCase: Decodable, Sendable, CustomStringConvertible {
    var id: Int
    var category: String
    var gold: String
    var prediction: String
    var expected: String
    var mode: String

    var description: String { "#\(id) [\(category)] gold=\(gold.debugDescription) pred=\(prediction.debugDescription)" }

    static func load() throws -> [LabelledCase] {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent(
            "Fixtures/cases.jsonl")
        let text = try String(contentsOf: url, encoding: .utf8)
        return try text.split(separator: "\n").map { try JSONDecoder().decode(LabelledCase.self, from: Data($0.utf8)) }
    }

    /// Mode `a`: an answer compared as it is; `c`: a completion under the strict policy (the default);
    /// `l`: a completion under the lenient policy.
    func run(_ verifier: MathVerifier = MathVerifier()) -> Verdict {
        switch mode {
        case "c": return verifier.check(completion: prediction, gold: gold)
        case "l": return MathVerifier(policy: .lenient).check(completion: prediction, gold: gold)
        default: return verifier.equivalence.compare(gold: MathVerifier.goldAnswer(gold), prediction: prediction)
        }
    }
}

@Suite struct LabelledCasesTests {
    @Test func corpusIsLargeAndCoversEveryCategory() throws {
        let cases = try LabelledCase.load()
        #expect(cases.count >= 300)
        let categories = Set(cases.map(\.category))
        for c in [
            "percent", "interval", "matrix", "equation", "inequality", "gsm8k", "think", "gaming", "aime", "boxed",
        ] {
            #expect(categories.contains(c), "missing category \(c)")
        }
        #expect(Set(cases.map(\.expected)).isSuperset(of: ["equivalent", "notEquivalent"]))
    }

    @Test func everyLabelledCasePasses() throws {
        let cases = try LabelledCase.load()
        var failures: [String] = []
        for c in cases {
            let v = c.run()
            if v.outcome.rawValue != c.expected {
                failures.append("\(c): expected \(c.expected), got \(v)")
            }
        }
        #expect(failures.isEmpty, "\(failures.count) of \(cases.count) failed:\n\(failures.joined(separator: "\n"))")
    }

    @Test func equivalenceIsSymmetricOnScalarCases() throws {
        // Gold-directed semantics are deliberately asymmetric for percent and units; on plain numeric
        // answers the verdict must not depend on which side is gold.
        let cases = try LabelledCase.load().filter {
            ["integer", "fraction", "root", "polynomial"].contains($0.category)
        }
        let eq = MathEquivalence()
        for c in cases {
            let a = eq.compare(gold: c.gold, prediction: c.prediction).outcome
            let b = eq.compare(gold: c.prediction, prediction: c.gold).outcome
            #expect(a == b, "\(c)")
        }
    }
}
