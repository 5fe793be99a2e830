import XCTest

@testable import PonderTraining

final class DataParallelTests: XCTestCase {
    /// The shares are contiguous, in rank order, cover every item once, and differ in size by at most one.
    func testShardsCoverTheBatchInRankOrder() {
        for count in [0, 1, 5, 8, 13] {
            for size in 1...4 {
                let shares = (0..<size).map { DataParallel.shares(of: count, size: size, rank: $0) }
                XCTAssertEqual(shares.flatMap { Array($0) }, Array(0..<count), "count \(count), size \(size)")
                let lengths = shares.map(\.count)
                XCTAssertLessThanOrEqual((lengths.max() ?? 0) - (lengths.min() ?? 0), 1)
            }
        }
        XCTAssertEqual(DataParallel.single.shard(of: 7), 0..<7)
        XCTAssertEqual(DataParallel.shares(of: 5, size: 2, rank: 0), 0..<3)
        XCTAssertEqual(DataParallel.shares(of: 5, size: 2, rank: 1), 3..<5)
    }
}
