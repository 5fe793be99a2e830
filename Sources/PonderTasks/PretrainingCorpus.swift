import PonderCore

/// A pretraining corpus for a *base* model: text in which worked problems appear in mixed styles, so the base can
/// produce correct tagged scratchpads but does not prefer them (RL has something to teach).
///
/// The default mix follows the feasibility experiment in `shared/notes/r1-zero-on-a-cpu.md`: 20% plain-text noise,
/// 80% problems; of those, direct answers are the most common reply, some use untagged steps, a minority the tagged
/// format, some are tagged but empty or broken, and 15% of worked solutions slip one step. Half the problems carry
/// the instruction line.
public struct PretrainingCorpus: Sendable {
    /// Shares of each kind of document (normalised when drawn).
    public struct Mix: Sendable, Hashable, Codable {
        public var noise = 0.20
        public var direct = 0.32
        public var untaggedSteps = 0.24
        public var tagged = 0.14
        public var taggedEmptyOrBroken = 0.10
        /// Fraction of worked solutions with one wrong step.
        public var slipRate = 0.15
        /// Fraction of problems shown with the instruction line.
        public var instructed = 0.5

        public init() {}
    }

    public let task: any SyntheticTask
    public var mix: Mix

    /// A corpus over `task`.
    public init(task: any SyntheticTask, mix: Mix = Mix()) {
        self.task = task
        self.mix = mix
    }

    /// `count` documents drawn with `seed`. Problems come from stream `problemSeed`; any whose prompt is in
    /// `excluding` (a held-out set) is skipped, so held-out problems never appear in the corpus.
    public func documents(count: Int, seed: UInt64, problemSeed: UInt64, excluding: Set<String> = []) -> [String] {
        var r = SeededRandom(seed: seed)
        var next = 0
        let weights = [mix.noise, mix.direct, mix.untaggedSteps, mix.tagged, mix.taggedEmptyOrBroken]
        let total = weights.reduce(0, +)
        return (0..<count).map { _ in
            var u = Double.random(in: 0..<total, using: &r)
            var kind = 0
            while kind < weights.count - 1 && u >= weights[kind] {
                u -= weights[kind]
                kind += 1
            }
            if kind == 0 { return noise(&r) }
            var problem = task.problem(seed: problemSeed, index: next)
            next += 1
            while excluding.contains(problem.prompt) {
                problem = task.problem(seed: problemSeed, index: next)
                next += 1
            }
            let instructed = Double.random(in: 0..<1, using: &r) < mix.instructed
            return (instructed ? TaskFormat.taggedInstruction + "\n" : "") + problem.prompt + "\n" + reply(kind: kind, problem: problem, &r)
        }
    }

    func reply(kind: Int, problem: Problem, _ r: inout SeededRandom) -> String {
        var steps = task.steps(for: problem)
        var answer = problem.answer ?? ""
        if kind != 1, !steps.isEmpty, Double.random(in: 0..<1, using: &r) < mix.slipRate {
            (steps, answer) = Self.slip(
                steps, at: Int.random(in: 0..<steps.count, using: &r), by: [-2, -1, 1, 2][Int.random(in: 0..<4, using: &r)])
        }
        switch kind {
        case 1: return ["The answer is \(answer).", "\(answer)", "Answer: \(answer)"][Int.random(in: 0..<3, using: &r)]
        case 2: return steps.joined(separator: ", ") + ". The answer is \(answer)."
        case 3: return "<think>" + steps.joined(separator: ", ") + "</think><answer>\(answer)</answer>"
        default:
            return [
                "<think></think><answer>\(answer)</answer>", "<think>" + steps.prefix(1).joined() + "</think> The answer is \(answer).",
                "<answer>\(answer)</answer>", "<think>" + steps.joined(separator: ", ") + "<answer>\(answer)</answer>",
            ][Int.random(in: 0..<4, using: &r)]
        }
    }

    /// The steps with step `k`'s result off by `delta`, carried through the chain of `a op b=c` steps that follow
    /// (each starts from the previous result), and the final answer that results. Steps of other shapes slip in
    /// the last step only.
    static func slip(_ steps: [String], at k: Int, by delta: Int) -> ([String], String) {
        func parse(_ step: String) -> (Int, Character, Int, Int)? {
            guard let eq = step.lastIndex(of: "="), let c = Int(step[step.index(after: eq)...]) else { return nil }
            let lhs = step[..<eq]
            guard let opIndex = lhs.dropFirst().firstIndex(where: { "+-*".contains($0) }), let a = Int(lhs[..<opIndex]),
                let b = Int(lhs[lhs.index(after: opIndex)...])
            else { return nil }
            return (a, lhs[opIndex], b, c)
        }
        let parsed = steps.map(parse)
        guard parsed.allSatisfy({ $0 != nil }) else {
            var out = steps
            let last = out[out.count - 1]
            guard let eq = last.lastIndex(of: "="), let v = Int(last[last.index(after: eq)...]) else { return (steps, "") }
            out[out.count - 1] = String(last[...eq]) + "\(v + delta)"
            return (out, "\(v + delta)")
        }
        var out = Array(steps.prefix(k))
        var previous: Int?
        for (j, p) in parsed.enumerated() where j >= k {
            var (a, op, b, c) = p!
            if let previous, j > k { a = previous }
            c = op == "+" ? a + b : op == "-" ? a - b : a * b
            if j == k { c += delta }
            out.append("\(a)\(op)\(b)=\(c)")
            previous = c
        }
        return (out, "\(previous!)")
    }

    static let words = [
        "the", "a", "number", "is", "small", "large", "we", "add", "take", "away", "sum", "count", "apples", "boxes",
        "and", "then", "left", "right", "more", "less", "each", "step", "think", "answer", "total", "of", "in", "on",
    ]

    func noise(_ r: inout SeededRandom) -> String {
        switch Int.random(in: 0..<3, using: &r) {
        case 0:
            let n = Int.random(in: 4...12, using: &r)
            let sentence = (0..<n).map { _ in Self.words[Int.random(in: 0..<Self.words.count, using: &r)] }.joined(separator: " ")
            return sentence.prefix(1).uppercased() + sentence.dropFirst() + "."
        case 1:
            return (0..<Int.random(in: 3...8, using: &r)).map { _ in "\(Int.random(in: 0...99, using: &r))" }.joined(separator: ", ")
        default:
            let a = Int.random(in: 0...60, using: &r)
            let b = Int.random(in: 1...19, using: &r)
            return Bool.random(using: &r) ? "\(a)+\(b)=\(a + b)" : "\(a + b)-\(b)=\(a)"
        }
    }
}
