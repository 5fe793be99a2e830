import Foundation
import OrderedCollections
import Torch
import XCTest

final class SafetensorsTests: XCTestCase {
    /// The tensors that make_torch_fixtures.py writes with the Python package, built here from the same values.
    static func samples() -> OrderedDictionary<String, Tensor> {
        let base: [Double] = [0.0, -1.5, 2.25, 3.140625, -0.0078125, 1e4]
        return [
            "f32": Tensor(base.map { $0 * 1.0001 }, shape: [2, 3]).to(.float32),
            "f64": Tensor(base.map { $0 / 3.0 }, shape: [2, 3]),
            "bf16": Tensor(base, shape: [2, 3]).to(.bfloat16),
            "f16": Tensor(base, shape: [2, 3]).to(.float16),
            "i64": Tensor([-(1 << 62), -1, 0, 1, 1 << 40, 1 << 62] as [Int64]),
            "i32": Tensor([Int32.min, 7, 0, Int32.max], shape: [2, 2]),
            "i16": Tensor([Int16.min, 0, Int16.max]),
            "i8": Tensor([Int8.min, 5, Int8.max]),
            "u8": Tensor([0, 51, 102, 153, 204, 255] as [UInt8]),
            "bool": Tensor([true, false, true, true]),
            "empty": Tensor.zeros([0, 3]),
            "scalar": Tensor(scalar: Float(42.5)),
        ]
    }

    func testReadsFileWrittenByPython() throws {
        let file = try SafetensorsFile(url: fixtureURL("python_written.safetensors"))
        XCTAssertEqual(file.metadata, ["format": "pt", "made_by": "safetensors"])
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: fixtureURL("python_written.json"))) as! [String: [String: Any]]
        let expected = Self.samples()
        XCTAssertEqual(Set(file.entries.keys), Set(expected.keys))
        for (name, want) in expected {
            let got = try file.tensor(name)
            XCTAssertEqual(got.dtype, want.dtype, name)
            XCTAssertEqual(got.shape, want.shape, name)
            XCTAssertEqual(got.shape, json[name]!["shape"] as! [Int], name)
            XCTAssertEqual(got.bytes(), want.bytes(), "\(name): bytes equal the Swift-built tensor")
            if got.dtype == .int64 {
                XCTAssertEqual(got.toArray(Int64.self), (json[name]!["values"] as! [NSNumber]).map(\.int64Value), name)
            } else {
                // Foundation's JSON parser may be off in the last bit of a double; the exact check is the bytes above.
                let want = (json[name]!["values"] as! [NSNumber]).map(\.doubleValue)
                for (a, b) in zip(got.toArray(Double.self), want) { XCTAssertEqual(a, b, accuracy: Swift.abs(b) * 1e-14, name) }
            }
        }
    }

    /// Ponder's encoding of the same tensors is deterministic and equal to the committed file, which the fixture
    /// script reads with the Python package (its printout, make_torch_fixtures.out.txt, shows every tensor equal).
    func testWritesFileReadByPython() throws {
        let data = try Safetensors.encode(Self.samples(), metadata: ["format": "pt", "made_by": "ponder"])
        if ProcessInfo.processInfo.environment["PONDER_WRITE_FIXTURES"] == "1" {
            try data.write(to: fixtureSourceURL("ponder_written.safetensors"))
        }
        XCTAssertEqual(data, try Data(contentsOf: fixtureURL("ponder_written.safetensors")))
        let back = try SafetensorsFile(data: data, path: "memory")
        XCTAssertEqual(back.metadata["made_by"], "ponder")
        for (name, t) in Self.samples() { XCTAssertEqual(try back.tensor(name).bytes(), t.bytes(), name) }
    }

    func testAtomicWriteAndRoundTrip() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ponder-st-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("model.safetensors")
        let store = ParameterStore([
            "model.embed_tokens.weight": Tensor.randn([5, 4]), "lm_head.weight": Tensor.randn([5, 4]).to(.bfloat16),
        ])
        try store.save(to: url)
        try store.save(to: url)  // overwriting goes through a temporary file and a rename
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), ["model.safetensors"], "no temporary file left")
        let loaded = try Safetensors.read(url)
        XCTAssertEqual(Array(loaded.keys), store.keys, "order is kept")
        for key in store.keys { XCTAssertEqual(loaded[key]!.bytes(), store[key]!.bytes()) }
        let other = ParameterStore([
            "model.embed_tokens.weight": Tensor.zeros([5, 4]), "lm_head.weight": Tensor.zeros([5, 4], dtype: .bfloat16),
        ])
        try other.update(from: loaded)
        XCTAssertEqual(other["lm_head.weight"]!.bytes(), store["lm_head.weight"]!.bytes())
        XCTAssertThrowsError(try other.update(from: ["lm_head.weight": Tensor.zeros([2])], strict: false)) {
            XCTAssertEqual($0 as? ParameterError, .shapeMismatch(key: "lm_head.weight", expected: [5, 4], found: [2]))
        }
        XCTAssertThrowsError(try other.require("model.layers.0.weight")) {
            XCTAssertTrue("\($0.localizedDescription)".contains("model.layers.0.weight"))
        }
        XCTAssertThrowsError(try Safetensors.write(["x": Tensor.zeros([1])], to: dir.appendingPathComponent("missing/dir/x.safetensors")))
    }

    /// Reading a tensor from a file releases the mapped pages it was copied from: the process does not hold a
    /// model's file and its weights at once. Pages touched again (a boundary page shared with the next tensor, a
    /// second read of the same tensor) come back from the file unchanged.
    func testReadingHandsBackTheMappedPages() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ponder-st-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("model.safetensors")
        // Odd sizes, so that tensors share boundary pages; a 64 MiB one to see in the resident file pages.
        let tensors: OrderedDictionary<String, Tensor> = [
            "a": Tensor.randn([1001]), "big": Tensor.randn([4096, 4096]), "c": Tensor.randn([3, 333]).to(.bfloat16),
            "d": Tensor([1, 2, 3] as [Int64]),
        ]
        try Safetensors.write(tensors, to: url)
        func residentFileKiB() throws -> Int {
            let status = try String(contentsOfFile: "/proc/self/status", encoding: .utf8)
            let line = status.split(separator: "\n").first { $0.hasPrefix("RssFile:") }!
            return Int(line.split(whereSeparator: { $0 == " " || $0 == "\t" })[1])!
        }
        let file = try SafetensorsFile(url: url)
        let before = try residentFileKiB()
        var read: [String: Tensor] = [:]
        for name in ["c", "big", "a", "d", "c", "a"] {
            let t = try file.tensor(name)
            XCTAssertEqual(t.bytes(), tensors[name]!.bytes(), "\(name) reads back unchanged")
            if let first = read[name] { XCTAssertEqual(t.bytes(), first.bytes(), "\(name) read twice") }
            read[name] = t
        }
        let grown = try residentFileKiB() - before
        XCTAssertLessThan(grown, 16 << 10, "resident file pages grew \(grown) KiB after copying a 64 MiB tensor out")
        // Not a regular file: a clear error, not a mapping of something else.
        XCTAssertThrowsError(try SafetensorsFile(url: dir)) { XCTAssertTrue($0.localizedDescription.contains("not a regular file")) }
        let empty = dir.appendingPathComponent("empty.safetensors")
        FileManager.default.createFile(atPath: empty.path, contents: Data())
        XCTAssertThrowsError(try SafetensorsFile(url: empty)) { XCTAssertTrue($0.localizedDescription.contains("too short")) }
    }

    // MARK: - Corrupt files: each a clear error, never a crash

    func header(_ json: String, data: [UInt8]) -> Data {
        var length = UInt64(json.utf8.count).littleEndian
        return Data(bytes: &length, count: 8) + Data(json.utf8) + Data(data)
    }

    func assertCorrupt(_ data: Data, _ fragment: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try SafetensorsFile(data: data, path: "bad.safetensors"), file: file, line: line) { error in
            let message = error.localizedDescription
            XCTAssertTrue(message.contains("bad.safetensors") && message.contains(fragment), message, file: file, line: line)
        }
    }

    func testCorruptFiles() throws {
        let good = try Data(contentsOf: fixtureURL("python_written.safetensors"))
        assertCorrupt(good.prefix(5), "too short")
        assertCorrupt(good.prefix(good.count - 1), "run past the")  // data truncated by one byte
        assertCorrupt(good + Data([0]), "cover")  // trailing bytes no tensor owns
        assertCorrupt(good.prefix(40), "runs past the end")  // header cut
        var huge = good
        huge.replaceSubrange(0..<8, with: [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f])
        assertCorrupt(huge, "runs past the end")
        assertCorrupt(header("{not json", data: []), "JSON does not parse")
        assertCorrupt(header("[1, 2]", data: []), "not an object")
        assertCorrupt(
            header(
                #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#,
                data: Array(repeating: 0, count: 8)), "overlap")
        assertCorrupt(header(#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#, data: [0, 0, 0, 0]), "run past")
        assertCorrupt(header(#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#, data: Array(repeating: 0, count: 8)), "gap")
        assertCorrupt(header(#"{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#, data: Array(repeating: 0, count: 8)), "needs 12")
        assertCorrupt(
            header(#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}}"#, data: Array(repeating: 0, count: 8)), "begin <= end")
        assertCorrupt(header(#"{"a":{"dtype":"Q4","shape":[2],"data_offsets":[0,1]}}"#, data: [0]), "dtype \"Q4\"")
        assertCorrupt(header(#"{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}"#, data: [0, 0, 0, 0]), "non-negative")
        assertCorrupt(header(#"{"a":{"shape":[1],"data_offsets":[0,4]}}"#, data: [0, 0, 0, 0]), "\"dtype\"")
        assertCorrupt(header(#"{"a":{"dtype":"F32","shape":[1]}}"#, data: [0, 0, 0, 0]), "data_offsets")
        assertCorrupt(header(#"{"a":{"dtype":"U8","shape":[4611686018427387904,4],"data_offsets":[0,4]}}"#, data: [0, 0, 0, 0]), "needs")
        assertCorrupt(header(#"{"__metadata__":{"k":1}}"#, data: []), "__metadata__")
        XCTAssertThrowsError(try SafetensorsFile(url: URL(fileURLWithPath: "/nonexistent/x.safetensors"))) {
            XCTAssertTrue($0.localizedDescription.contains("/nonexistent/x.safetensors"))
        }
        let file = try SafetensorsFile(data: good, path: "ok")
        XCTAssertThrowsError(try file.tensor("nope")) { XCTAssertTrue($0.localizedDescription.contains("\"nope\"")) }
    }
}

final class MixedPrecisionTests: XCTestCase {
    /// In bfloat16 a 1e-6 step on a weight near 1 rounds away; with float32 master weights it accumulates, and the
    /// bfloat16 weight follows once the master has moved a whole bfloat16 step.
    func testTinyUpdatesMoveTheMasterWeights() throws {
        let w = Tensor.ones([4]).to(.bfloat16).requiringGrad()
        let plain = Tensor.ones([4]).to(.bfloat16).requiringGrad()
        let config = AdamW.Configuration(learningRate: 1e-6, weightDecay: 0)
        let mixed = AdamW(parameters: ["w": w], configuration: config, masterWeights: true)
        let naive = AdamW(parameters: ["w": plain], configuration: config)
        for _ in 0..<5000 {
            for (opt, p) in [(mixed, w), (naive, plain)] {
                (p.to(.float32).sum()).backward()
                opt.step()
                opt.zeroGrad()
            }
        }
        // Adam's first steps move each weight by about lr: 5000 × 1e-6 = 5e-3 in float32, more than bfloat16's
        // spacing near 1 (2^-7 ≈ 7.8e-3 above, 3.9e-3 below).
        let master = try XCTUnwrap(mixed.masterWeight("w"))
        XCTAssertEqual(master.dtype, .float32)
        XCTAssertEqual(1 - Double(master.select(axis: 0, index: 0).item()), 5e-3, accuracy: 2e-4)
        XCTAssertEqual(Double(plain.to(.float32).select(axis: 0, index: 0).item()), 1, "without masters every update rounds away")
        XCTAssertLessThan(Double(w.to(.float32).select(axis: 0, index: 0).item()), 1, "the bfloat16 weight follows its master")
        XCTAssertEqual(w.dtype, .bfloat16)
        // The masters are part of the state, so a resumed run continues exactly.
        let state = mixed.stateDict()
        XCTAssertNotNil(state["w.master"])
        let restored = AdamW(parameters: ["w": Tensor.ones([4]).to(.bfloat16).requiringGrad()], configuration: config, masterWeights: true)
        try restored.loadStateDict(Dictionary(uniqueKeysWithValues: state.map { ($0.key, $0.value) }))
        XCTAssertEqual((restored.masterWeight("w")! - master).abs().max().item(), 0)
    }
}
