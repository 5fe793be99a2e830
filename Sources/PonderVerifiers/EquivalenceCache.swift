import Foundation
import PonderCore

/// A bounded, thread-safe memo for ``MathEquivalence``: what was read from a gold answer, and the verdict for a
/// (gold, prediction) pair already compared.
///
/// In GRPO every completion of a group is graded against the same gold answer, and many completions end in the same
/// extracted answer (`42`), so the work that depends only on the gold answer (its labelled value, its ratio parts, its
/// parse) and the verdict for a repeated pair are worth remembering. Every function memoised here is pure (the work
/// budget is deterministic, not a clock), so a cached verdict is exactly the verdict a fresh comparison returns,
/// explanation included: the cache changes speed, never an answer. The parse of a gold answer records the work units
/// it spent, and a hit charges them again, so the rest of the comparison runs under the same remaining budget.
///
/// Bounded two ways: at most ``capacity`` entries of each kind (two generations: when the newer one is half full
/// it becomes the older and the oldest is dropped, an approximate least-recently-used policy), and nothing longer
/// than ``maxKeyBytes`` UTF-8 bytes is remembered (long completions are not cached; their answers, once extracted,
/// usually are short enough to be).
public final class EquivalenceCache: @unchecked Sendable {
    /// The cache ``MathEquivalence`` uses unless told otherwise (4096 entries of each kind, keys up to 1024 bytes).
    public static let shared = EquivalenceCache()

    /// Most entries of each kind kept.
    public let capacity: Int
    /// Longest gold or prediction text remembered, in UTF-8 bytes.
    public let maxKeyBytes: Int

    private let lock = NSLock()
    private var gold = Generations<GoldKey, GoldInfo>()
    private var verdicts = Generations<PairKey, Verdict>()
    private var references = Generations<String, String>()
    private var counters = Statistics()

    /// Hits and misses since the cache was made or ``removeAll()`` was called.
    public struct Statistics: Sendable, Hashable {
        /// Lookups of what was read from a gold answer that found it.
        public var goldHits = 0
        /// Lookups of what was read from a gold answer that did not.
        public var goldMisses = 0
        /// Lookups of a (gold, prediction) verdict that found it.
        public var verdictHits = 0
        /// Lookups of a (gold, prediction) verdict that did not.
        public var verdictMisses = 0
    }

    /// Whether verdicts of (gold, prediction) pairs are remembered; when `false` only gold answers are.
    public let remembersVerdicts: Bool

    /// Makes an empty cache of at most `capacity` entries of each kind, remembering texts up to `maxKeyBytes` bytes
    /// (and verdicts too, unless `remembersVerdicts` is `false`).
    public init(capacity: Int = 4096, maxKeyBytes: Int = 1024, remembersVerdicts: Bool = true) {
        self.capacity = max(2, capacity)
        self.maxKeyBytes = maxKeyBytes
        self.remembersVerdicts = remembersVerdicts
    }

    /// Hits and misses so far.
    public var statistics: Statistics { lock.withLock { counters } }

    /// Entries held now (gold answers, verdicts).
    public var count: (gold: Int, verdicts: Int) { lock.withLock { (gold.count + references.count, verdicts.count) } }

    /// Forgets everything, counters included.
    public func removeAll() {
        lock.withLock {
            gold = Generations()
            verdicts = Generations()
            references = Generations()
            counters = Statistics()
        }
    }

    // MARK: Internal

    /// The settings of a ``MathEquivalence`` that can change a verdict; part of every key, so comparers with
    /// different budgets or tolerances can share one cache.
    struct Settings: Hashable {
        var budget: WorkBudget
        var relativeTolerance: Double
        var minimumRoundingDigits: Int
    }

    struct GoldKey: Hashable {
        var budget: WorkBudget
        var text: String
    }

    struct PairKey: Hashable {
        var settings: Settings
        var gold: String
        var prediction: String
    }

    /// What ``MathEquivalence`` reads from a gold answer before it looks at the prediction.
    struct GoldInfo: Sendable {
        /// ``MathEquivalence/labelledValue(_:)``.
        var labelledValue: String?
        /// ``MathEquivalence/goldWord(_:)``.
        var word: String?
        /// ``MathEquivalence/ratioParts(_:)``.
        var ratioParts: [String]?
        /// The gold parsed, with the work units the parse spent, or the parse error's description.
        var parsed: Result<ParsedGold, ParseFailure>
    }

    struct ParsedGold: Sendable {
        var answer: MathAnswer
        var steps: Int
    }

    struct ParseFailure: Error, Sendable, CustomStringConvertible {
        var description: String
    }

    func fits(_ s: String) -> Bool { s.utf8.count <= maxKeyBytes }

    func goldInfo(_ key: GoldKey, make: () -> GoldInfo) -> GoldInfo {
        guard fits(key.text) else { return make() }
        if let hit = lock.withLock({ () -> GoldInfo? in
            let v = gold.get(key, capacity: capacity)
            if v != nil { counters.goldHits += 1 } else { counters.goldMisses += 1 }
            return v
        }) {
            return hit
        }
        let info = make()
        lock.withLock { gold.set(key, info, capacity: capacity) }
        return info
    }

    /// ``MathVerifier/goldAnswer(_:)`` of a reference, memoised.
    func goldAnswer(_ reference: String, make: (String) -> String) -> String {
        guard fits(reference) else { return make(reference) }
        if let hit = lock.withLock({ references.get(reference, capacity: capacity) }) { return hit }
        let answer = make(reference)
        lock.withLock { references.set(reference, answer, capacity: capacity) }
        return answer
    }

    func verdict(_ key: PairKey) -> Verdict? {
        guard remembersVerdicts, fits(key.gold), fits(key.prediction) else { return nil }
        return lock.withLock {
            let v = verdicts.get(key, capacity: capacity)
            if v != nil { counters.verdictHits += 1 } else { counters.verdictMisses += 1 }
            return v
        }
    }

    func store(_ key: PairKey, _ verdict: Verdict) {
        guard remembersVerdicts, fits(key.gold), fits(key.prediction) else { return }
        lock.withLock { verdicts.set(key, verdict, capacity: capacity) }
    }
}

/// Two dictionaries, newer and older: at most `capacity` entries; a hit in the older one moves the entry forward.
private struct Generations<Key: Hashable, Value> {
    var newer: [Key: Value] = [:]
    var older: [Key: Value] = [:]

    var count: Int { newer.count + older.count }

    mutating func get(_ key: Key, capacity: Int) -> Value? {
        if let v = newer[key] { return v }
        guard let v = older[key] else { return nil }
        if newer.count < capacity / 2 {  // keep a used entry; each generation stays at most half the capacity
            older.removeValue(forKey: key)
            newer[key] = v
        }
        return v
    }

    mutating func set(_ key: Key, _ value: Value, capacity: Int) {
        if newer.count >= capacity / 2 {
            older = newer
            newer = [:]
            older.removeValue(forKey: key)
        }
        newer[key] = value
    }
}
