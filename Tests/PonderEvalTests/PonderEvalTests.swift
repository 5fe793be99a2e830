import Foundation
import PonderEval
import XCTest

final class PassAtKTests: XCTestCase {
    func testHandComputedValues() throws {
        XCTAssertEqual(try PassAtK.estimate(n: 5, c: 2, k: 1), 0.4, accuracy: 1e-12)  // 1 − 3/5
        XCTAssertEqual(try PassAtK.estimate(n: 5, c: 2, k: 2), 0.7, accuracy: 1e-12)  // 1 − C(3,2)/C(5,2) = 1 − 3/10
        XCTAssertEqual(try PassAtK.estimate(n: 5, c: 2, k: 3), 0.9, accuracy: 1e-12)  // 1 − 1/10
        XCTAssertEqual(try PassAtK.estimate(n: 10, c: 3, k: 5), 1 - 21.0 / 252, accuracy: 1e-12)
        XCTAssertEqual(try PassAtK.estimate(n: 5, c: 0, k: 3), 0)
        XCTAssertEqual(try PassAtK.estimate(n: 5, c: 5, k: 1), 1)
    }

    func testKBeyondFailuresIsOne() throws {
        // n − c = 3 < k = 4: every 4-subset of 5 contains a correct sample.
        XCTAssertEqual(try PassAtK.estimate(n: 5, c: 2, k: 4), 1)
        XCTAssertEqual(try PassAtK.estimate(n: 5, c: 2, k: 5), 1)
        XCTAssertEqual(try PassAtK.estimate(n: 1, c: 1, k: 1), 1)
    }

    func testLargeNDoesNotOverflow() throws {
        XCTAssertEqual(try PassAtK.estimate(n: 10_000, c: 1, k: 1), 1e-4, accuracy: 1e-15)
        // Compare with log-gamma: C(n−c, k)/C(n, k) for n = 2000, c = 500, k = 100.
        let n = 2000.0
        let c = 500.0
        let k = 100.0
        let numerator: Double = lgamma(n - c + 1) - lgamma(n - c - k + 1)
        let denominator: Double = lgamma(n + 1) - lgamma(n - k + 1)
        let logRatio = numerator - denominator
        XCTAssertEqual(try PassAtK.estimate(n: 2000, c: 500, k: 100), 1 - exp(logRatio), accuracy: 1e-12)
        let v = try PassAtK.estimate(n: 2000, c: 3, k: 7)
        XCTAssertTrue(v > 0 && v < 1)
    }

    func testRejectsBadArguments() {
        XCTAssertThrowsError(try PassAtK.estimate(n: 5, c: 2, k: 0)) { XCTAssertTrue("\($0)".contains("k = 0")) }
        XCTAssertThrowsError(try PassAtK.estimate(n: 5, c: 2, k: 6)) { XCTAssertTrue("\($0)".contains("k = 6")) }
        XCTAssertThrowsError(try PassAtK.estimate(n: 5, c: 6, k: 1)) { XCTAssertTrue("\($0)".contains("c = 6")) }
        XCTAssertThrowsError(try PassAtK.estimate(n: 0, c: 0, k: 1))
    }

    func testMeanOverProblems() throws {
        XCTAssertEqual(try PassAtK.mean([(n: 5, c: 2), (n: 5, c: 0)], k: 2), 0.35, accuracy: 1e-12)
    }
}

final class MajorityAtKTests: XCTestCase {
    typealias S = MajorityAtK.Sample

    func testMajorityAndTies() throws {
        let samples = [
            S(answerClass: "a", isCorrect: true), S(answerClass: "b", isCorrect: false), S(answerClass: "b", isCorrect: false),
            S(answerClass: "a", isCorrect: true), S(answerClass: "a", isCorrect: true),
        ]
        XCTAssertEqual(try MajorityAtK.estimate(samples, k: 1), 1)
        XCTAssertEqual(try MajorityAtK.estimate(samples, k: 3), 0)  // b 2 : a 1
        XCTAssertEqual(try MajorityAtK.estimate(samples, k: 4), 0.5)  // 2 : 2 tie
        XCTAssertEqual(try MajorityAtK.estimate(samples, k: 5), 1)
        XCTAssertEqual(try MajorityAtK.estimate([S(answerClass: nil, isCorrect: false)], k: 1), 0)
        XCTAssertThrowsError(try MajorityAtK.estimate(samples, k: 6))
    }
}

final class BootstrapTests: XCTestCase {
    func testSeededAndBracketsTheMean() throws {
        let values: [Double] = [1, 0, 1, 1, 0, 1, 0, 1, 1, 1]
        let a = try Bootstrap(resamples: 500, seed: 7).meanInterval(values)
        let b = try Bootstrap(resamples: 500, seed: 7).meanInterval(values)
        XCTAssertEqual(a, b)
        XCTAssertEqual(a.estimate, 0.7, accuracy: 1e-12)
        XCTAssertLessThan(a.lower, 0.7)
        XCTAssertGreaterThan(a.upper, 0.7)
        XCTAssertGreaterThanOrEqual(a.lower, 0.2)
        XCTAssertLessThanOrEqual(a.upper, 1)
        let spread: [Double] = [0.13, 0.57, 0.91, 0.24, 0.66, 0.08, 0.73]
        XCTAssertNotEqual(
            try Bootstrap(resamples: 500, seed: 7).meanInterval(spread), try Bootstrap(resamples: 500, seed: 8).meanInterval(spread))
        let constant = try Bootstrap(resamples: 100).meanInterval([1, 1, 1])
        XCTAssertEqual([constant.lower, constant.upper], [1, 1])
        XCTAssertThrowsError(try Bootstrap(level: 1).meanInterval(values))
        // The level is honoured: resampled means of these ten values follow Binomial(10, 0.7) / 10, whose exact 2.5%,
        // 97.5%, 25% and 75% quantiles are 0.4, 1.0, 0.6 and 0.8.
        let wide = try Bootstrap(resamples: 40_000, level: 0.95, seed: 3).meanInterval(values)
        let narrow = try Bootstrap(resamples: 40_000, level: 0.5, seed: 3).meanInterval(values)
        XCTAssertEqual([wide.lower, wide.upper], [0.4, 1.0])
        XCTAssertEqual([narrow.lower, narrow.upper], [0.6, 0.8])
        XCTAssertEqual(narrow.level, 0.5)
    }
}

final class AccuracyBudgetCurveTests: XCTestCase {
    func testAggregatesPerStrategyAndBudget() throws {
        let records = [
            EvalRecord(strategy: "sc", budget: 4, problemID: "1", isCorrect: true, tokens: 100),
            EvalRecord(strategy: "sc", budget: 4, problemID: "2", isCorrect: false, tokens: 300),
            EvalRecord(strategy: "sc", budget: 8, problemID: "1", isCorrect: true, tokens: 500),
            EvalRecord(strategy: "beam", budget: 4, problemID: "1", isCorrect: false, tokens: 50),
        ]
        let curve = try AccuracyBudgetCurve(records: records, bootstrap: Bootstrap(resamples: 200, seed: 1))
        XCTAssertEqual(curve.points.map(\.strategy), ["beam", "sc", "sc"])
        XCTAssertEqual(curve.points(for: "sc").map(\.budget), [4, 8])
        XCTAssertEqual(curve.points(for: "sc").map(\.accuracy.estimate), [0.5, 1])
        XCTAssertEqual(curve.points(for: "sc").map(\.meanTokens), [200, 500])
        XCTAssertEqual(curve.points(for: "sc")[0].problems, 2)
        let data = try JSONEncoder().encode(curve)
        XCTAssertEqual(try JSONDecoder().decode(AccuracyBudgetCurve.self, from: data), curve)
    }

    /// Oracle-guided records make upper-bound points: flagged in the JSON, drawn dashed and named so in the chart;
    /// reference-free ones are solid.
    func testUpperBoundsAreFlaggedAndDashed() throws {
        let curve = try AccuracyBudgetCurve(records: [
            EvalRecord(
                strategy: "best-of-n [oracle, upper bound]", budget: 4, problemID: "1", isCorrect: true, tokens: 10, upperBound: true),
            EvalRecord(strategy: "self-consistency", budget: 4, problemID: "1", isCorrect: false, tokens: 10),
        ])
        XCTAssertEqual(curve.points.map(\.upperBound), [true, false])
        let json = String(decoding: try JSONEncoder().encode(curve), as: UTF8.self)
        XCTAssertTrue(json.contains("\"upperBound\":true") && json.contains("\"upperBound\":false"), json)
        // Files from before the field read as not upper bounds.
        let old =
            #"{"points":[{"strategy":"cot","budget":1,"problems":1,"accuracy":{"estimate":1,"lower":1,"upper":1,"level":0.95},"meanTokens":3}]}"#
        XCTAssertEqual(try JSONDecoder().decode(AccuracyBudgetCurve.self, from: Data(old.utf8)).points[0].upperBound, false)
        let svg = SVGChart.accuracyAgainstTokens([("base", curve)], title: "t").render()
        let lines = svg.components(separatedBy: "<polyline").dropFirst()
        XCTAssertEqual(lines.map { $0.contains("stroke-dasharray") }, [true, false], "the oracle line is dashed, the other solid")
        XCTAssertTrue(svg.contains("upper bound"))
    }
}
