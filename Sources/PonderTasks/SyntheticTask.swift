import PonderCore

/// A generator of verifiable problems with a programmatic step-by-step teacher.
///
/// Problems are a pure function of `(seed, index)`, so a data set is reproducible from two numbers and training
/// and held-out problems can be told apart by index. Each problem carries what the teacher needs in `metadata`.
public protocol SyntheticTask: Sendable {
    /// A short name (`arithmetic`, `multidigit`, `countdown`).
    var name: String { get }
    /// Problem number `index` of the stream for `seed`.
    func problem(seed: UInt64, index: Int) -> Problem
    /// The worked steps of a correct solution, one string per step.
    func steps(for problem: Problem) -> [String]
    /// How the task's problems are asked and graded (the tagged style by default).
    var format: TaskFormat { get }
}

extension SyntheticTask {
    public var format: TaskFormat { TaskFormat(name: name, style: .tagged) }

    /// `count` problems starting at `start`.
    public func problems(seed: UInt64, count: Int, start: Int = 0) -> [Problem] {
        (start..<(start + count)).map { problem(seed: seed, index: $0) }
    }

    /// A correct solution in the tagged format: `<think>steps</think><answer>answer</answer>`.
    public func teacherSolution(for problem: Problem) -> String {
        "<think>" + steps(for: problem).joined(separator: ", ") + "</think><answer>" + (problem.answer ?? "") + "</answer>"
    }

    /// A deterministic random stream for one problem.
    func random(seed: UInt64, index: Int) -> SeededRandom {
        var r = SeededRandom(
            seed: seed ^ (UInt64(truncatingIfNeeded: index) &* 0xD6E8_FEB8_6659_FD93) ^ UInt64(truncatingIfNeeded: name.hashValueStable))
        _ = r.next()
        return r
    }
}

extension String {
    /// A hash that is the same in every process (Swift's `hashValue` is seeded per run).
    var hashValueStable: UInt64 { utf8.reduce(1_469_598_103_934_665_603) { ($0 ^ UInt64($1)) &* 1_099_511_628_211 } }
}

extension RandomNumberGenerator {
    /// A uniform integer in `range`.
    mutating func int(_ range: ClosedRange<Int>) -> Int { Int.random(in: range, using: &self) }
}
