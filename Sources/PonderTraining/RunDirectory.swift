import ArgumentParser
import PonderConfiguration
import Foundation
import OrderedCollections
import PonderModels
import Torch

/// A problem with a run directory or a checkpoint; messages name the file.
public enum TrainingError: Error, LocalizedError, Equatable {
    case io(path: String, reason: String)
    case badCheckpoint(path: String, reason: String)
    case badData(path: String, line: Int, reason: String)
    case invalidConfiguration(String)

    public var errorDescription: String? {
        switch self {
        case .io(let p, let r): "\(p): \(r)"
        case .badCheckpoint(let p, let r): "\(p): checkpoint is not usable: \(r)"
        case .badData(let p, let l, let r): "\(p):\(l): \(r)"
        case .invalidConfiguration(let m): "invalid training configuration: \(m)"
        }
    }
}

/// `runs/<name>/`: config.json, metrics.jsonl (one line per step), completions.jsonl, and checkpoints/step-N/.
///
/// Every file is written atomically (temporary file, then rename). A checkpoint is assembled in a hidden
/// temporary directory and renamed into place only once complete, so a crash never leaves a half-written
/// `step-N` that `--resume` could load.
public struct RunDirectory: Sendable {
    /// The run's root.
    public let url: URL

    /// Opens (creating) `url`.
    public init(_ url: URL) throws {
        self.url = url
        do {
            try FileManager.default.createDirectory(at: url.appendingPathComponent("checkpoints"), withIntermediateDirectories: true)
        } catch {
            throw TrainingError.io(path: url.path, reason: "cannot create the run directory (\(error.localizedDescription))")
        }
    }

    public var checkpointsURL: URL { url.appendingPathComponent("checkpoints") }
    public var metricsURL: URL { url.appendingPathComponent("metrics.jsonl") }
    public var completionsURL: URL { url.appendingPathComponent("completions.jsonl") }

    /// Writes `value` as pretty JSON to `name` atomically.
    public func writeJSON<T: Encodable>(_ value: T, to name: String) throws {
        try Self.writeJSON(value, to: url.appendingPathComponent(name))
    }

    static func writeJSON<T: Encodable>(_ value: T, to file: URL) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        do { try encoder.encode(value).write(to: file, options: .atomic) } catch {
            throw TrainingError.io(path: file.path, reason: error.localizedDescription)
        }
    }

    /// Writes a run's effective configuration to `config.json` (the file `--config` reads back).
    public func writeConfiguration(_ configuration: some ParsableArguments) throws {
        let data = try JSONSerialization.data(withJSONObject: configuration.configurationJSON, options: [.prettyPrinted, .sortedKeys])
        try data.write(to: url.appendingPathComponent("config.json"), options: .atomic)
    }

    /// Appends one JSON line to `file` (metrics.jsonl, completions.jsonl). Lines after the last checkpoint are
    /// dropped on resume by `truncateLogs(afterStep:)`, so the logs never repeat a step.
    public func appendLine(_ object: [String: Any], to file: URL) throws {
        var data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
        data.append(UInt8(ascii: "\n"))
        if !FileManager.default.fileExists(atPath: file.path) { _ = FileManager.default.createFile(atPath: file.path, contents: nil) }
        guard let handle = FileHandle(forWritingAtPath: file.path) else {
            throw TrainingError.io(path: file.path, reason: "cannot open for appending")
        }
        defer { try? handle.close() }
        try handle.seekToEnd()
        try handle.write(contentsOf: data)
    }

    /// Drops log lines whose `step` is greater than `step` (what a crashed run wrote after its last checkpoint).
    public func truncateLogs(afterStep step: Int) throws {
        for file in [metricsURL, completionsURL] where FileManager.default.fileExists(atPath: file.path) {
            let text = try String(contentsOf: file, encoding: .utf8)
            let kept = text.split(separator: "\n").filter { line in
                guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                    let s = object["step"] as? Int
                else { return false }
                return s <= step
            }
            try (kept.joined(separator: "\n") + (kept.isEmpty ? "" : "\n")).write(to: file, atomically: true, encoding: .utf8)
        }
    }

    /// Completed checkpoints, oldest first.
    public func checkpoints() -> [(step: Int, url: URL)] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: checkpointsURL.path)) ?? []
        return names.compactMap { name -> (Int, URL)? in
            guard name.hasPrefix("step-"), let step = Int(name.dropFirst(5)) else { return nil }
            let dir = checkpointsURL.appendingPathComponent(name)
            guard FileManager.default.fileExists(atPath: dir.appendingPathComponent("trainer_state.json").path) else { return nil }
            return (step, dir)
        }.sorted { $0.0 < $1.0 }
    }

    /// Saves a checkpoint for `step`: the model in Hugging Face layout, the optimizer's state, and `state`;
    /// then keeps only the newest `keep` checkpoints.
    public func saveCheckpoint<State: Encodable>(
        step: Int, model: CausalLM, optimizer: AdamW, state: State, tokenizerFiles: [URL], keep: Int,
        extra: (URL) throws -> Void = { _ in }
    ) throws {
        let final = checkpointsURL.appendingPathComponent("step-\(step)")
        let temp = checkpointsURL.appendingPathComponent(".step-\(step).tmp")
        let fm = FileManager.default
        try? fm.removeItem(at: temp)
        do {
            if let adapters = model.adapters {
                // A LoRA run saves its adapters (PEFT's files) and the tokenizer, not another copy of the frozen base.
                try adapters.save(to: temp)
                for file in tokenizerFiles { try FileManager.default.copyItem(at: file, to: temp.appendingPathComponent(file.lastPathComponent)) }
            } else {
                try ModelDirectory.save(model, to: temp, tokenizerFiles: tokenizerFiles)
            }
            try Safetensors.write(
                optimizer.stateDict().mapValues { $0.detached() }, to: temp.appendingPathComponent("optimizer.safetensors"))
            try Self.writeJSON(state, to: temp.appendingPathComponent("trainer_state.json"))
            try extra(temp)
            try? fm.removeItem(at: final)
            try fm.moveItem(at: temp, to: final)
        } catch let error as TrainingError {
            throw error
        } catch {
            throw TrainingError.io(path: final.path, reason: "cannot save checkpoint (\(error.localizedDescription))")
        }
        for old in checkpoints().dropLast(Swift.max(1, keep)) { try? fm.removeItem(at: old.url) }
    }

    /// Loads the state saved with a checkpoint.
    public static func loadState<State: Decodable>(_ type: State.Type, from checkpoint: URL) throws -> State {
        let file = checkpoint.appendingPathComponent("trainer_state.json")
        do { return try JSONDecoder().decode(State.self, from: Data(contentsOf: file)) } catch {
            throw TrainingError.badCheckpoint(path: file.path, reason: error.localizedDescription)
        }
    }

    /// Restores model weights and optimizer state from a checkpoint into existing objects.
    public static func restore(model: CausalLM, optimizer: AdamW, from checkpoint: URL) throws {
        if let adapters = model.adapters {
            let saved = try Safetensors.read(checkpoint.appendingPathComponent("adapter_model.safetensors"))
            try adapters.store.update(from: saved.mapValues { $0.to(model.dtype) }, strict: true)
        } else {
            let weights = try ModelDirectory.weights(in: checkpoint)
            try model.parameters.update(from: weights.mapValues { $0.to(model.dtype) }, strict: true)
        }
        let state = try Safetensors.read(checkpoint.appendingPathComponent("optimizer.safetensors"))
        try optimizer.loadStateDict(Dictionary(uniqueKeysWithValues: state.map { ($0.key, $0.value) }))
    }
}
