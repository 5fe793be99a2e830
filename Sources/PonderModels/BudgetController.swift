import PonderCore

/// Token-level budget forcing (s1) plus an optional text stop test, for one sequence.
///
/// While the sequence is inside its thinking section: an attempt to end it (the end-of-thinking token, or an
/// end-of-sequence token) before `minThinkingTokens` is replaced by the `continuation` tokens ("Wait"); reaching
/// `maxThinkingTokens` forces the end-of-thinking tokens in, after which the model writes its answer.
public final class BudgetController: SequenceController {
    let budget: ThinkingBudget
    let thinkStart: [Int]
    let thinkEnd: [Int]
    let continuation: [Int]
    let endTokens: Set<Int>
    let stopTest: (([Int]) -> String?)?
    private var emitted: [Int] = []
    private var queue: [Int] = []
    /// Whether the sequence is inside thinking now.
    public private(set) var thinking: Bool
    /// Tokens emitted inside thinking so far.
    public private(set) var thinkingTokens = 0

    /// A controller.
    ///
    /// - Parameters:
    ///   - startsThinking: the prompt already opened `<think>` (templates that pre-fill it).
    ///   - thinkStart / thinkEnd: token ids of `<think>` and `</think>`; early ends are recognised only when
    ///     `thinkEnd` is a single token (as in every reasoning tokenizer Ponder knows).
    ///   - stopTest: called with all emitted tokens after each one; the stop string it returns ends the sequence.
    public init(
        budget: ThinkingBudget?, startsThinking: Bool, thinkStart: [Int], thinkEnd: [Int], continuation: [Int], endTokens: Set<Int>,
        stopTest: (([Int]) -> String?)? = nil
    ) throws {
        self.budget = budget ?? ThinkingBudget()
        if let b = budget, b.minThinkingTokens ?? 0 > 0, thinkEnd.count != 1 {
            throw ModelError.budgetForcing(
                "a minimum thinking length needs </think> to be a single token; this tokenizer splits it into \(thinkEnd.count)")
        }
        if let b = budget, b.maxThinkingTokens != nil || b.minThinkingTokens != nil, thinkEnd.isEmpty {
            throw ModelError.budgetForcing("the tokenizer has no </think> token")
        }
        self.thinking = startsThinking
        self.thinkStart = thinkStart
        self.thinkEnd = thinkEnd
        self.continuation = continuation
        self.endTokens = endTokens
        self.stopTest = stopTest
    }

    public func forcedToken() -> Int? { queue.isEmpty ? nil : queue.removeFirst() }

    public func replace(sampled: Int) -> Int {
        guard thinking, let minimum = budget.minThinkingTokens, thinkingTokens < minimum,
            thinkEnd.count == 1, sampled == thinkEnd[0] || endTokens.contains(sampled), let first = continuation.first
        else { return sampled }
        queue.append(contentsOf: continuation.dropFirst())
        return first
    }

    public var isThinking: Bool { thinking }

    public func accept(_ token: Int) -> StopReason? {
        emitted.append(token)
        if thinking {
            if !thinkEnd.isEmpty && emitted.ends(with: thinkEnd) {
                thinking = false
                queue.removeAll()
            } else {
                thinkingTokens += 1
                if let maximum = budget.maxThinkingTokens, thinkingTokens >= maximum, queue.isEmpty {
                    queue.append(contentsOf: thinkEnd)
                }
            }
        } else if !thinkStart.isEmpty && emitted.ends(with: thinkStart) {
            thinking = true
        }
        if let stopTest, let hit = stopTest(emitted) { return .stopString(hit) }
        return nil
    }
}

extension Array where Element: Equatable {
    func ends(with suffix: [Element]) -> Bool { count >= suffix.count && Array(self[(count - suffix.count)...]) == suffix }
}
