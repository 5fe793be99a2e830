import Foundation
#if canImport(Glibc)
import Glibc
#endif
import OrderedCollections

/// A problem reading or writing a safetensors file. Each case names the file and what is wrong with it.
public enum SafetensorsError: Error, LocalizedError, Equatable {
    case unreadable(path: String, reason: String)
    case truncated(path: String, size: Int)
    case headerBeyondFile(path: String, headerLength: UInt64, fileSize: Int)
    case badHeader(path: String, reason: String)
    case badEntry(path: String, tensor: String, reason: String)
    case unknownDType(path: String, tensor: String, dtype: String)
    case badOffsets(path: String, tensor: String, reason: String)
    case missingTensor(path: String, tensor: String)
    case unwritable(path: String, reason: String)

    public var errorDescription: String? {
        switch self {
        case .unreadable(let p, let r): "\(p): cannot read safetensors file: \(r)"
        case .truncated(let p, let s): "\(p): \(s) bytes is too short for a safetensors file (needs an 8-byte header length)"
        case .headerBeyondFile(let p, let h, let s):
            "\(p): header length \(h) runs past the end of the \(s)-byte file (truncated or not a safetensors file)"
        case .badHeader(let p, let r): "\(p): safetensors header is not valid: \(r)"
        case .badEntry(let p, let t, let r): "\(p): tensor \"\(t)\": \(r)"
        case .unknownDType(let p, let t, let d):
            "\(p): tensor \"\(t)\" has dtype \"\(d)\", which Ponder does not read (supported: \(DType.allCases.map(\.safetensorsName).joined(separator: ", ")))"
        case .badOffsets(let p, let t, let r): "\(p): tensor \"\(t)\": data_offsets \(r)"
        case .missingTensor(let p, let t): "\(p): no tensor named \"\(t)\""
        case .unwritable(let p, let r): "\(p): cannot write safetensors file: \(r)"
        }
    }
}

/// A safetensors file opened for reading: the header is parsed and checked, the data memory-mapped.
///
/// Layout: an 8-byte little-endian header length N, N bytes of JSON (`{"name": {"dtype", "shape", "data_offsets"},
/// "__metadata__": {...}}`), then the raw little-endian tensor bytes, which the entries must cover exactly.
public struct SafetensorsFile: @unchecked Sendable {
    /// One tensor's place in the file.
    public struct Entry: Sendable, Equatable {
        /// Element type.
        public var dtype: DType
        /// Dimensions.
        public var shape: [Int]
        /// Byte range within the data section.
        public var range: Range<Int>
    }

    /// Where the file came from (used in error messages).
    public let path: String
    /// The free-form string metadata (`__metadata__`).
    public let metadata: [String: String]
    /// The tensors in data order.
    public let entries: OrderedDictionary<String, Entry>
    private let data: Data
    private let dataStart: Int
    /// Whether `data` is a read-only private mapping of the file made here: then the pages a tensor was copied from
    /// can be handed back (they are read again from the file if touched again).
    private let mappedFromFile: Bool

    /// Opens and validates the file at `url`, memory-mapping its contents.
    ///
    /// Reading a tensor copies it out of the mapping and then releases the mapped pages it touched, so loading a
    /// model holds its weights once, not twice (the file's pages stay in the page cache, outside the process).
    public init(url: URL) throws {
        let (data, mapped) = try Self.map(url)
        try self.init(data: data, path: url.path, mappedFromFile: mapped)
    }

    /// Validates a safetensors image held in memory; `path` names it in errors.
    public init(data: Data, path: String) throws {
        try self.init(data: data, path: path, mappedFromFile: false)
    }

    /// The file's bytes as a private read-only mapping (an empty file as empty data, which the checks then refuse).
    private static func map(_ url: URL) throws -> (Data, mapped: Bool) {
        func failure(_ what: String) -> SafetensorsError {
            .unreadable(path: url.path, reason: "\(what): \(String(cString: strerror(errno)))")
        }
        let fd = open(url.path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw failure("open") }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw failure("fstat") }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            throw SafetensorsError.unreadable(path: url.path, reason: "not a regular file")
        }
        let size = Int(info.st_size)
        if size == 0 { return (Data(), false) }
        guard let base = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), base != MAP_FAILED else { throw failure("mmap") }
        return (Data(bytesNoCopy: base, count: size, deallocator: .custom { p, n in munmap(p, n) }), true)
    }

    private init(data: Data, path: String, mappedFromFile: Bool) throws {
        self.path = path
        self.data = data
        self.mappedFromFile = mappedFromFile
        guard data.count >= 8 else { throw SafetensorsError.truncated(path: path, size: data.count) }
        let headerLength = data.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) }
        guard headerLength <= UInt64(data.count - 8) else {
            throw SafetensorsError.headerBeyondFile(path: path, headerLength: headerLength, fileSize: data.count)
        }
        dataStart = 8 + Int(headerLength)
        let json: Any
        do {
            json = try JSONSerialization.jsonObject(with: data.subdata(in: 8..<dataStart))
        } catch {
            throw SafetensorsError.badHeader(path: path, reason: "JSON does not parse (\(error.localizedDescription))")
        }
        guard let header = json as? [String: Any] else {
            throw SafetensorsError.badHeader(path: path, reason: "the JSON is not an object")
        }
        var metadata: [String: String] = [:]
        var found: [(String, Entry)] = []
        for (name, value) in header {
            if name == "__metadata__" {
                guard let m = value as? [String: Any] else {
                    throw SafetensorsError.badHeader(path: path, reason: "__metadata__ is not an object")
                }
                for (k, v) in m {
                    guard let s = v as? String else {
                        throw SafetensorsError.badHeader(path: path, reason: "__metadata__ value for \"\(k)\" is not a string")
                    }
                    metadata[k] = s
                }
                continue
            }
            found.append((name, try Self.entry(name, value, path: path)))
        }
        // The entries, sorted by offset, must tile the data section exactly: no overlap, no gap, nothing beyond.
        found.sort { ($0.1.range.lowerBound, $0.1.range.upperBound) < ($1.1.range.lowerBound, $1.1.range.upperBound) }
        let dataSize = data.count - dataStart
        var cursor = 0
        for (name, entry) in found {
            if entry.range.lowerBound < cursor {
                throw SafetensorsError.badOffsets(
                    path: path, tensor: name, reason: "\(entry.range) overlap the previous tensor (which ends at \(cursor))")
            }
            if entry.range.lowerBound > cursor {
                throw SafetensorsError.badOffsets(path: path, tensor: name, reason: "\(entry.range) leave a gap after byte \(cursor)")
            }
            if entry.range.upperBound > dataSize {
                throw SafetensorsError.badOffsets(
                    path: path, tensor: name, reason: "\(entry.range) run past the \(dataSize)-byte data section")
            }
            cursor = entry.range.upperBound
        }
        if cursor != dataSize {
            throw SafetensorsError.badHeader(path: path, reason: "tensors cover \(cursor) of the \(dataSize) data bytes")
        }
        self.metadata = metadata
        self.entries = OrderedDictionary(uniqueKeysWithValues: found)
    }

    private static func entry(_ name: String, _ value: Any, path: String) throws -> Entry {
        guard let info = value as? [String: Any] else {
            throw SafetensorsError.badEntry(path: path, tensor: name, reason: "entry is not an object")
        }
        guard let dtypeName = info["dtype"] as? String else {
            throw SafetensorsError.badEntry(path: path, tensor: name, reason: "missing string field \"dtype\"")
        }
        guard let dtype = DType(safetensorsName: dtypeName) else {
            throw SafetensorsError.unknownDType(path: path, tensor: name, dtype: dtypeName)
        }
        guard let shapeValues = info["shape"] as? [Any], let shape = integers(shapeValues), shape.allSatisfy({ $0 >= 0 }) else {
            throw SafetensorsError.badEntry(path: path, tensor: name, reason: "\"shape\" must be a list of non-negative integers")
        }
        guard let offsetValues = info["data_offsets"] as? [Any], let offsets = integers(offsetValues), offsets.count == 2 else {
            throw SafetensorsError.badOffsets(path: path, tensor: name, reason: "must be a list of two integers")
        }
        guard offsets[0] >= 0, offsets[0] <= offsets[1] else {
            throw SafetensorsError.badOffsets(path: path, tensor: name, reason: "\(offsets) must satisfy 0 <= begin <= end")
        }
        let (count, overflow) = shape.reduce((1, false)) { acc, d in
            let (m, o) = acc.0.multipliedReportingOverflow(by: d)
            return (m, acc.1 || o)
        }
        let expected = count.multipliedReportingOverflow(by: dtype.byteSize)
        guard !overflow, !expected.overflow, expected.partialValue == offsets[1] - offsets[0] else {
            throw SafetensorsError.badOffsets(
                path: path, tensor: name,
                reason: "\(offsets) span \(offsets[1] - offsets[0]) bytes, but shape \(shape) of \(dtype) needs \(expected.partialValue)")
        }
        return Entry(dtype: dtype, shape: shape, range: offsets[0]..<offsets[1])
    }

    private static func integers(_ values: [Any]) -> [Int]? {
        var out: [Int] = []
        for v in values {
            guard let n = v as? NSNumber, let i = Int(exactly: n.doubleValue) else { return nil }
            out.append(i)
        }
        return out
    }

    /// The tensor named `name`, copied out of the mapped file onto the CPU.
    public func tensor(_ name: String) throws -> Tensor {
        guard let entry = entries[name] else { throw SafetensorsError.missingTensor(path: path, tensor: name) }
        let range = (dataStart + entry.range.lowerBound)..<(dataStart + entry.range.upperBound)
        return data.withUnsafeBytes { raw in
            let tensor = Tensor(bytes: UnsafeRawBufferPointer(rebasing: raw[range]), shape: entry.shape, dtype: entry.dtype)
            let page = Int(sysconf(Int32(_SC_PAGESIZE)))
            if mappedFromFile, let base = raw.baseAddress, Int(bitPattern: base) % page == 0, !range.isEmpty {
                // Hand back the whole pages the copy touched. The mapping is private, read-only and never written, so
                // a page touched again (a neighbour sharing a boundary page, a second read) is read from the file.
                let first = range.lowerBound / page * page
                let end = (range.upperBound + page - 1) / page * page
                _ = madvise(UnsafeMutableRawPointer(mutating: base + first), end - first, MADV_DONTNEED)
            }
            return tensor
        }
    }

    /// Every tensor, in data order.
    public func tensors() throws -> OrderedDictionary<String, Tensor> {
        var out = OrderedDictionary<String, Tensor>()
        for name in entries.keys { out[name] = try tensor(name) }
        return out
    }
}

/// Reading and writing the safetensors format.
public enum Safetensors {
    /// Every tensor in the file at `url`.
    public static func read(_ url: URL) throws -> OrderedDictionary<String, Tensor> {
        try SafetensorsFile(url: url).tensors()
    }

    /// The bytes of a safetensors file holding `tensors` (in the given order) and `metadata`.
    public static func encode(_ tensors: OrderedDictionary<String, Tensor>, metadata: [String: String] = [:]) throws -> Data {
        var out = Data()
        try write(tensors, metadata: metadata, path: "<memory>") { out.append($0) }
        return out
    }

    /// Writes `tensors` (in the given order) and `metadata` to `url` atomically: a temporary file beside it is
    /// written completely, then renamed over `url`, so a crash never leaves a half-written file under that name.
    public static func write(_ tensors: OrderedDictionary<String, Tensor>, metadata: [String: String] = [:], to url: URL) throws {
        let temp = url.deletingLastPathComponent().appendingPathComponent(
            ".\(url.lastPathComponent).\(ProcessInfo.processInfo.processIdentifier).tmp")
        guard FileManager.default.createFile(atPath: temp.path, contents: nil),
            let handle = FileHandle(forWritingAtPath: temp.path)
        else { throw SafetensorsError.unwritable(path: url.path, reason: "cannot create \(temp.path)") }
        do {
            try write(tensors, metadata: metadata, path: url.path) { try handle.write(contentsOf: $0) }
            try handle.synchronize()
            try handle.close()
            guard rename(temp.path, url.path) == 0 else {
                throw SafetensorsError.unwritable(path: url.path, reason: String(cString: strerror(errno)))
            }
        } catch {
            try? handle.close()
            try? FileManager.default.removeItem(at: temp)
            if error is SafetensorsError { throw error }
            throw SafetensorsError.unwritable(path: url.path, reason: error.localizedDescription)
        }
    }

    private static func write(
        _ tensors: OrderedDictionary<String, Tensor>, metadata: [String: String], path: String, sink: (Data) throws -> Void
    ) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        func quoted(_ s: String) throws -> String { String(decoding: try encoder.encode(s), as: UTF8.self) }
        var parts: [String] = []
        if !metadata.isEmpty { parts.append("\"__metadata__\":" + String(decoding: try encoder.encode(metadata), as: UTF8.self)) }
        var offset = 0
        for (name, t) in tensors {
            guard t.isDefined else { throw SafetensorsError.unwritable(path: path, reason: "tensor \"\(name)\" is undefined") }
            let size = t.count * t.dtype.byteSize
            let shape = t.shape.map(String.init).joined(separator: ",")
            parts.append(
                "\(try quoted(name)):{\"dtype\":\"\(t.dtype.safetensorsName)\",\"shape\":[\(shape)],\"data_offsets\":[\(offset),\(offset + size)]}"
            )
            offset += size
        }
        var header = Array(("{" + parts.joined(separator: ",") + "}").utf8)
        // Pad with spaces so the data section starts 8-byte aligned, as the reference implementation does.
        while header.count % 8 != 0 { header.append(UInt8(ascii: " ")) }
        var length = UInt64(header.count).littleEndian
        try sink(Data(bytes: &length, count: 8))
        try sink(Data(header))
        for t in tensors.values {
            let bytes = t.bytes()
            try sink(Data(bytes))
        }
    }
}
