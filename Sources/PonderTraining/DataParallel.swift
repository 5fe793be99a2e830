import Foundation
import OrderedCollections
import Torch

/// How this process takes part in data-parallel training: alone, or as one rank of a c10d process group.
///
/// Every rank holds the whole model. Rank 0's weights are broadcast at the start; each step every rank computes
/// the gradients of its shard of the global batch, with the loss normalised by global counts (summed across ranks
/// first), and the gradients are all-reduced in buckets, so every rank applies the same update as one process given
/// the whole batch. Rank 0 writes logs and checkpoints; every rank reads the checkpoint on resume.
public struct DataParallel: Sendable {
    /// The process group; `nil` for a single process.
    public let group: ProcessGroup?
    /// Bytes per gradient all-reduce bucket.
    public var bucketBytes = 25 << 20

    /// A single process.
    public static let single = DataParallel(group: nil)

    /// One rank of `group` (or a single process when `group` is nil).
    public init(group: ProcessGroup?) { self.group = group }

    /// This process's rank.
    public var rank: Int { group?.rank ?? 0 }
    /// The number of ranks.
    public var size: Int { group?.size ?? 1 }
    /// Whether this rank writes logs and checkpoints.
    public var isMain: Bool { rank == 0 }

    /// The contiguous share of `count` items this rank takes: ranks 0 ..< count % size take one more.
    public func shard(of count: Int) -> Range<Int> { Self.shares(of: count, size: size, rank: rank) }

    /// Rank `rank`'s contiguous share of `count` items split over `size` ranks.
    static func shares(of count: Int, size: Int, rank: Int) -> Range<Int> {
        let base = count / size
        let extra = count % size
        let start = rank * base + Swift.min(rank, extra)
        return start..<(start + base + (rank < extra ? 1 : 0))
    }

    /// Sums `values` across ranks (identity alone).
    public func sum(_ values: [Double]) throws -> [Double] {
        guard let group else { return values }
        return try group.allReduce(values, .sum)
    }

    /// The largest of each value across ranks.
    public func max(_ values: [Double]) throws -> [Double] {
        guard let group else { return values }
        return try group.allReduce(values, .max)
    }

    /// Every rank's `values` (the same count on every rank), concatenated in rank order.
    public func gather(_ values: [Double]) throws -> [Double] {
        guard let group, !values.isEmpty else { return values }
        return try group.allGather(Tensor(values)).reshaped(-1).toArray(Double.self)
    }

    /// Every rank's `values`, of any count per rank, concatenated in rank order.
    public func gatherVariable(_ values: [Double]) throws -> [Double] {
        guard group != nil else { return values }
        let counts = try gather([Double(values.count)]).map { Int($0) }
        let width = counts.max() ?? 0
        guard width > 0 else { return [] }
        let padded = try gather(values + Array(repeating: 0, count: width - values.count))
        return counts.enumerated().flatMap { r, n in padded[(r * width)..<(r * width + n)] }
    }

    /// Makes every rank's `tensors` equal to rank 0's.
    func broadcast(_ tensors: [Tensor]) throws {
        try group?.broadcast(tensors, from: 0)
    }

    /// Metrics combined across ranks: keys in `sums` are added (quantities already normalised by global counts),
    /// keys ending in `min` or `max` take the smallest or largest, the rest are averaged. Every rank must report the
    /// same keys.
    func reduce(_ metrics: OrderedDictionary<String, Double>, sums: Set<String>) throws -> OrderedDictionary<String, Double> {
        guard let group else { return metrics }
        let keys = Array(metrics.keys)
        func kind(_ k: String) -> Int { sums.contains(k) ? 0 : k.hasSuffix("min") ? 1 : k.hasSuffix("max") ? 2 : 3 }
        let values = keys.map { metrics[$0]! }
        // min as −max of negatives, so two reductions (sum and max) cover every kind.
        let summed = try group.allReduce(keys.indices.map { kind(keys[$0]) == 0 || kind(keys[$0]) == 3 ? values[$0] : 0 }, .sum)
        let largest = try group.allReduce(
            keys.indices.map { kind(keys[$0]) == 1 ? -values[$0] : kind(keys[$0]) == 2 ? values[$0] : -Double.greatestFiniteMagnitude },
            .max)
        var out = OrderedDictionary<String, Double>()
        for (i, k) in keys.enumerated() {
            switch kind(k) {
            case 0: out[k] = summed[i]
            case 1: out[k] = -largest[i]
            case 2: out[k] = largest[i]
            default: out[k] = summed[i] / Double(group.size)
            }
        }
        return out
    }
}
