// ponder-fuzz: fuzz targets for the parsers that read untrusted bytes: answer extraction and math equivalence
// (model output), tokenizer.json loading and encoding, the safetensors reader, and config.json parsing.
//
// Built normally, it replays inputs: `ponder-fuzz TARGET FILE_OR_DIR...` runs every file through the target and
// prints the count and the slowest call (the committed seed corpus lives in Fuzz/corpus/TARGET). Built with
// libFuzzer (`scripts/fuzz`, which passes `-sanitize=fuzzer -D PONDER_FUZZING`), the same targets are driven by
// libFuzzer, the target named by the PONDER_FUZZ_TARGET environment variable.
import Foundation
import PonderCore
import PonderModels
import PonderTokenizers
import PonderVerifiers
import Torch

enum FuzzTarget: String, CaseIterable {
    case math, tokenizerJSON = "tokenizer-json", tokenizerEncode = "tokenizer-encode", safetensors, config

    /// Runs one input. A thrown error is a normal outcome (bad input is rejected); a crash, a trap or a hang is a bug.
    func run(_ data: Data) {
        switch self {
        case .math:
            // First line: the gold answer; the rest: the completion (also compared as a bare answer).
            let text = String(decoding: data, as: UTF8.self)
            let split = text.firstIndex(of: "\n") ?? text.endIndex
            let gold = String(text[..<split])
            let rest = split < text.endIndex ? String(text[text.index(after: split)...]) : ""
            _ = FuzzState.strict.check(completion: rest, gold: gold)
            _ = FuzzState.lenient.check(completion: rest, gold: gold)
            let answer = MathVerifier.goldAnswer(gold)
            let fresh = FuzzState.strict.equivalence.compare(gold: answer, prediction: rest)
            // The memo must never change a verdict: a miss (or a hit from an earlier input) and then a hit.
            let cached = FuzzState.cached.compare(gold: answer, prediction: rest)
            let again = FuzzState.cached.compare(gold: answer, prediction: rest)
            precondition(cached == fresh && again == fresh, "cached verdict differs for \(text.debugDescription)")
        case .tokenizerJSON:
            guard let tokenizer = try? Tokenizer(tokenizerJSON: data, source: "fuzz.json") else { return }
            let ids = tokenizer.encode("Hello, world! 123 <|im_end|> ünïcödé\n\t  x")
            _ = tokenizer.decode(ids)
        case .tokenizerEncode:
            let text = String(decoding: data, as: UTF8.self)
            let tokenizer = FuzzState.tokenizer
            let ids = tokenizer.encode(text)
            let size = tokenizer.vocabularySize
            precondition(ids.allSatisfy { $0 >= 0 && $0 < size }, "id outside the vocabulary for \(text.debugDescription)")
            _ = tokenizer.decode(ids)
        case .safetensors:
            // The same bytes in memory and through a file (mapped, each tensor's pages handed back once copied): both
            // readers must accept the same inputs and read the same tensors.
            let memory = try? SafetensorsFile(data: data, path: "fuzz.safetensors")
            let scratch = FuzzState.scratchFile
            do { try data.write(to: scratch) } catch { fatalError("ponder-fuzz: cannot write \(scratch.path): \(error)") }
            let mapped = try? SafetensorsFile(url: scratch)
            precondition((memory == nil) == (mapped == nil), "one reader accepts what the other refuses")
            guard let memory, let mapped else { return }
            let a = try? memory.tensors()
            let b = try? mapped.tensors()
            precondition(a?.keys == b?.keys, "the readers list different tensors")
            for (name, t) in a ?? [:] { precondition(t.bytes() == b![name]!.bytes(), "tensor \(name) differs between the readers") }
        case .config:
            _ = try? ModelConfiguration(json: data, path: "config.json")
        }
    }
}

enum FuzzState {
    /// A file of this process's own for the safetensors target's file path.
    static let scratchFile = FileManager.default.temporaryDirectory.appendingPathComponent(
        "ponder-fuzz-\(ProcessInfo.processInfo.processIdentifier).safetensors")
    // No memo in the verifiers fuzzed (each input runs the real code, and coverage does not depend on earlier
    // inputs); `cached` checks the memo against them.
    static let strict = MathVerifier(equivalence: MathEquivalence(cache: nil))
    static let lenient = MathVerifier(policy: .lenient, equivalence: MathEquivalence(cache: nil))
    static let cached = MathEquivalence(cache: EquivalenceCache(capacity: 1024))
    /// The Qwen2 test tokenizer (PONDER_FUZZ_TOKENIZER overrides the path; run from the repository root).
    static let tokenizer: Tokenizer = {
        let path =
            ProcessInfo.processInfo.environment["PONDER_FUZZ_TOKENIZER"]
            ?? "Tests/PonderTokenizersTests/Fixtures/qwen2/tokenizer.json"
        do { return try Tokenizer(contentsOf: URL(fileURLWithPath: path)) } catch {
            FileHandle.standardError.write(Data("ponder-fuzz: cannot load \(path): \(error)\n".utf8))
            exit(2)
        }
    }()
}

#if PONDER_FUZZING
    nonisolated(unsafe) var selected: FuzzTarget = .math

    @_cdecl("LLVMFuzzerInitialize")
    public func fuzzerInitialize(_ argc: UnsafeMutablePointer<Int32>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> Int32 {
        let name = ProcessInfo.processInfo.environment["PONDER_FUZZ_TARGET"] ?? ""
        guard let target = FuzzTarget(rawValue: name) else {
            let names = FuzzTarget.allCases.map(\.rawValue).joined(separator: ", ")
            FileHandle.standardError.write(Data("ponder-fuzz: set PONDER_FUZZ_TARGET to one of \(names)\n".utf8))
            exit(2)
        }
        selected = target
        if target == .tokenizerEncode { _ = FuzzState.tokenizer }
        return 0
    }

    @_cdecl("LLVMFuzzerTestOneInput")
    public func fuzzerTestOneInput(_ bytes: UnsafePointer<UInt8>, _ count: Int) -> Int32 {
        selected.run(Data(bytes: bytes, count: count))
        return 0
    }

    /// libFuzzer's entry point for programs that keep their own `main` (SwiftPM links an executable's `main` under
    /// the name `ponder_fuzz_main`, so libFuzzer's own `main` is never linked in).
    @_silgen_name("LLVMFuzzerRunDriver")
    func fuzzerRunDriver(
        _ argc: UnsafeMutablePointer<Int32>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
        _ callback: @convention(c) (UnsafePointer<UInt8>, Int) -> Int32
    ) -> Int32

    @_cdecl("ponder_fuzz_main")
    public func fuzzMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> Int32 {
        var count = argc
        var arguments = argv
        return fuzzerRunDriver(&count, &arguments) { bytes, n in
            selected.run(Data(bytes: bytes, count: n))
            return 0
        }
    }
#else
    @main struct Replay {
        static func main() {
            let args = CommandLine.arguments
            guard args.count >= 3, let target = FuzzTarget(rawValue: args[1]) else {
                let names = FuzzTarget.allCases.map(\.rawValue).joined(separator: "|")
                FileHandle.standardError.write(Data("usage: ponder-fuzz \(names) FILE_OR_DIR...\n".utf8))
                exit(2)
            }
            var files: [String] = []
            for path in args.dropFirst(2) {
                if let names = try? FileManager.default.contentsOfDirectory(atPath: path) {
                    files += names.sorted().map { "\(path)/\($0)" }
                } else {
                    files.append(path)
                }
            }
            var slowest = (seconds: 0.0, file: "")
            for file in files {
                guard let data = FileManager.default.contents(atPath: file) else {
                    FileHandle.standardError.write(Data("ponder-fuzz: cannot read \(file)\n".utf8))
                    exit(1)
                }
                let start = ContinuousClock.now
                target.run(data)
                let d = ContinuousClock.now - start
                let s = Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
                if s > slowest.seconds { slowest = (s, file) }
            }
            print("ponder-fuzz \(target.rawValue): \(files.count) inputs, slowest \(String(format: "%.4f", slowest.seconds)) s (\(slowest.file))")
        }
    }
#endif
