import Foundation
import PonderCore
import Testing

@testable import PonderVerifiers

/// The memo changes speed, never a verdict: every labelled case gives the same outcome and explanation with no
/// cache, with a fresh cache, and again once the cache is warm; the cache stays within its bound under concurrent use.
@Suite struct EquivalenceCacheTests {
    static func verifier(_ policy: ExtractionPolicy, _ cache: EquivalenceCache?) -> MathVerifier {
        MathVerifier(policy: policy, equivalence: MathEquivalence(cache: cache))
    }

    static func run(_ c: LabelledCase, cache: EquivalenceCache?) -> Verdict {
        switch c.mode {
        case "c": verifier(ExtractionPolicy(), cache).check(completion: c.prediction, gold: c.gold)
        case "l": verifier(.lenient, cache).check(completion: c.prediction, gold: c.gold)
        default: MathEquivalence(cache: cache).compare(gold: MathVerifier.goldAnswer(c.gold), prediction: c.prediction)
        }
    }

    @Test func cachedVerdictsAreTheVerdictsOfAFreshComparison() throws {
        let cases = try LabelledCase.load()
        let cache = EquivalenceCache()
        var differences: [String] = []
        for c in cases {
            let fresh = Self.run(c, cache: nil)
            let cold = Self.run(c, cache: cache)
            let warm = Self.run(c, cache: cache)
            if cold != fresh || warm != fresh { differences.append("\(c): \(fresh) / \(cold) / \(warm)") }
        }
        #expect(differences.isEmpty, "\(differences.prefix(5))")
        let s = cache.statistics
        #expect(s.verdictHits >= cases.count / 2, "\(s)")  // the second run of a case is a hit (unless too long)
        #expect(s.goldHits > 0, "\(s)")
    }

    /// A gold parse served from the cache charges the work it spent: a budget just big enough for the fresh
    /// comparison is exhausted the same way when the gold comes from the cache.
    @Test func cachedGoldParseChargesItsWork() {
        for steps in [5, 20, 40, 80, 200, 2_000] {
            let budget = WorkBudget(steps: steps)
            let cache = EquivalenceCache()
            let warm = MathEquivalence(budget: budget, cache: cache)
            _ = warm.compare(gold: "\\frac{(x+1)^{3}}{2}", prediction: "0")  // primes the gold entry
            let fresh = MathEquivalence(budget: budget, cache: nil).compare(
                gold: "\\frac{(x+1)^{3}}{2}", prediction: "(x^3+3x^2+3x+1)/2")
            let cached = warm.compare(gold: "\\frac{(x+1)^{3}}{2}", prediction: "(x^3+3x^2+3x+1)/2")
            #expect(cached == fresh, "steps \(steps)")
            #expect(cache.statistics.goldHits >= 1)
        }
    }

    @Test func staysWithinItsCapacityAndSkipsLongTexts() {
        let cache = EquivalenceCache(capacity: 64, maxKeyBytes: 32)
        let eq = MathEquivalence(cache: cache)
        for i in 0..<1000 { _ = eq.compare(gold: "\(i)", prediction: "\(i + 1)") }
        #expect(cache.count.gold <= 64 && cache.count.verdicts <= 64, "\(cache.count)")
        #expect(cache.count.verdicts >= 16)
        cache.removeAll()
        let long = String(repeating: "1+", count: 40) + "1"
        _ = eq.compare(gold: long, prediction: "81")
        _ = eq.compare(gold: long, prediction: "81")
        #expect(cache.count.verdicts == 0 && cache.statistics.verdictHits == 0)
        // Comparers with different budgets keep separate entries in one cache.
        let tight = MathEquivalence(budget: WorkBudget(steps: 3), cache: cache)
        #expect(eq.compare(gold: "2+3", prediction: "5").isEquivalent)
        #expect(tight.compare(gold: "2+3", prediction: "5").outcome == .unknown)
    }

    @Test func concurrentUseGivesTheSameVerdicts() async throws {
        let cache = EquivalenceCache(capacity: 128)
        // 50 distinct pairs, each repeated: fewer than the cache holds, so later calls hit.
        let pairs = (0..<400).map { i in
            let k = i % 50
            return ("\\frac{\(k % 37)}{\(k % 11 + 1)}", "\(Double(k % 37) / Double(k % 11 + 1))")
        }
        let expected = pairs.map { MathEquivalence(cache: nil).compare(gold: $0.0, prediction: $0.1) }
        let got = try await withThrowingTaskGroup(of: [Verdict].self) { group in
            for _ in 0..<8 {
                group.addTask { pairs.map { MathEquivalence(cache: cache).compare(gold: $0.0, prediction: $0.1) } }
            }
            var all: [[Verdict]] = []
            for try await r in group { all.append(r) }
            return all
        }
        for run in got { #expect(run == expected) }
        #expect(cache.count.verdicts <= 128)
        #expect(cache.statistics.verdictHits > 0)
    }
}
