/// One class of equivalent answers in a vote.
public struct AnswerClass: Sendable, Hashable, Codable {
    /// The first answer seen in the class, which stands for it.
    public var representative: String
    /// Indices (in the order votes were added) of the votes in the class.
    public var members: [Int]
    /// Sum of the weights of the members (their number for an unweighted vote).
    public var weight: Double

    /// Number of votes in the class.
    public var count: Int { members.count }
}

/// A vote over answers grouped by equivalence. Votes without an answer are counted but join no class.
public struct VoteTally: Sendable, Hashable {
    /// The answer classes, in the order their first vote arrived.
    public private(set) var classes: [AnswerClass] = []
    /// Number of votes added, with or without an answer.
    public private(set) var votes = 0
    /// Answer strings already placed, so repeated strings skip the equivalence check.
    private var known: [String: Int] = [:]

    /// Makes an empty tally.
    public init() {}

    /// Adds a vote for `answer` with `weight`; returns the class it joined, or `nil` for a vote without an answer.
    @discardableResult
    public mutating func add(_ answer: String?, weight: Double = 1, grouping: AnswerGrouping) -> Int? {
        let index = votes
        votes += 1
        guard let answer else { return nil }
        let key = AnswerGrouping.normalized(answer)
        let c: Int
        if let k = known[key] {
            c = k
        } else if let k = classes.firstIndex(where: { grouping.equivalent($0.representative, answer) }) {
            c = k
        } else {
            classes.append(AnswerClass(representative: answer, members: [], weight: 0))
            c = classes.count - 1
        }
        known[key] = c
        classes[c].members.append(index)
        classes[c].weight += weight
        return c
    }

    /// Classes ordered by weight, heaviest first; ties go to the class seen first.
    public var ranked: [Int] {
        classes.indices.sorted { a, b in
            classes[a].weight != classes[b].weight ? classes[a].weight > classes[b].weight : a < b
        }
    }

    /// The winning class index, or `nil` when no vote had an answer.
    public var leader: Int? { ranked.first }

    /// Weight of the leading class (0 when none).
    public var leaderWeight: Double { leader.map { classes[$0].weight } ?? 0 }

    /// Weight of the second class (0 when fewer than two).
    public var runnerUpWeight: Double {
        let r = ranked
        return r.count > 1 ? classes[r[1]].weight : 0
    }
}
