import Foundation
import PonderCore
import Torch
import XCTest

@testable import PonderModels

func fixtureURL(_ name: String) -> URL {
    Bundle.module.url(forResource: name, withExtension: nil, subdirectory: "Fixtures")!
}

func fixtureSourceURL(_ name: String) -> URL {
    URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/\(name)")
}

func maxDifference(_ a: Tensor, _ b: Tensor) -> Double { (a.to(.float64) - b.to(.float64)).abs().max().item() }

/// Logits and greedy generations of tiny random models equal transformers' (scripts/fixtures/make_model_fixtures.py).
final class ModelLoadingTests: XCTestCase {
    static let families = ["tiny-llama", "tiny-qwen2", "tiny-qwen3"]

    func testLogitsMatchTransformers() throws {
        for name in Self.families {
            let model = try ModelDirectory.load(fixtureURL(name))
            let expected = try Safetensors.read(fixtureURL(name).appendingPathComponent("expected.safetensors"))
            let logits = withNoGrad { model(expected["input_ids"]!) }
            XCTAssertEqual(logits.shape, expected["logits"]!.shape, name)
            XCTAssertLessThanOrEqual(maxDifference(logits, expected["logits"]!), 1e-4, name)
        }
    }

    func testGreedyMatchesTransformers() throws {
        for name in Self.families {
            let model = try ModelDirectory.load(fixtureURL(name))
            let expected = try Safetensors.read(fixtureURL(name).appendingPathComponent("expected.safetensors"))
            let generator = Generator(model: model, endTokens: [])
            let prompt = expected["prompt_ids"]!.toArray(Int.self)
            let (out, stats) = try generator.generate([
                GenerationRow(prompt: prompt, sampling: SamplingParameters(maxTokens: 12, temperature: 0), random: SampleRandom(seed: 0, index: 0))
            ])
            XCTAssertEqual(out[0].tokens, expected["greedy_ids"]!.toArray(Int.self), name)
            XCTAssertEqual(out[0].stop, .length(inThinking: false))
            XCTAssertEqual(stats.prefillTokens, prompt.count)
            XCTAssertEqual(stats.decodeSteps, 11)
        }
    }

    func testConfigurationDetails() throws {
        let llama = try ModelDirectory.configuration(at: fixtureURL("tiny-llama"))
        XCTAssertEqual(llama.family, .llama)
        XCTAssertEqual(llama.keyValueHeadCount, 2)
        XCTAssertEqual(llama.ropeScaling, .llama3(factor: 8, lowFrequencyFactor: 1, highFrequencyFactor: 4, originalContextLength: 16))
        XCTAssertFalse(llama.tieWordEmbeddings)
        let qwen2 = try ModelDirectory.configuration(at: fixtureURL("tiny-qwen2"))
        XCTAssertTrue(qwen2.attentionBias)
        XCTAssertTrue(qwen2.tieWordEmbeddings)
        let qwen3 = try ModelDirectory.configuration(at: fixtureURL("tiny-qwen3"))
        XCTAssertTrue(qwen3.queryKeyNorm)
        XCTAssertEqual(qwen3.headDimension, 24)
        XCTAssertEqual(qwen3.eosTokenIds, [0, 2])
        // The classic layout reads the same as the newer rope_parameters one.
        var classic = try JSONSerialization.jsonObject(with: Data(contentsOf: fixtureURL("tiny-llama/config.json"))) as! [String: Any]
        classic.removeValue(forKey: "rope_parameters")
        classic["rope_theta"] = 500000.0
        classic["rope_scaling"] = [
            "type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0, "original_max_position_embeddings": 16,
        ]
        XCTAssertEqual(try ModelConfiguration(json: JSONSerialization.data(withJSONObject: classic), path: "c.json"), llama)
    }

    func testBadConfigurationsNameTheField() throws {
        let base = try JSONSerialization.jsonObject(with: Data(contentsOf: fixtureURL("tiny-qwen2/config.json"))) as! [String: Any]
        func expect(_ change: (inout [String: Any]) -> Void, _ fragment: String, line: UInt = #line) {
            var d = base
            change(&d)
            XCTAssertThrowsError(try ModelConfiguration(json: JSONSerialization.data(withJSONObject: d), path: "m/config.json"), line: line)
            {
                XCTAssertTrue(
                    $0.localizedDescription.contains(fragment) && $0.localizedDescription.contains("m/config.json"),
                    $0.localizedDescription, line: line)
            }
        }
        expect({ $0.removeValue(forKey: "hidden_size") }, "\"hidden_size\" is missing")
        expect({ $0["model_type"] = "gpt2" }, "model_type \"gpt2\" is not supported")
        expect({ $0["num_key_value_heads"] = 3 }, "num_key_value_heads")
        expect({ $0["vocab_size"] = "many" }, "\"vocab_size\" has value many")
        expect({ $0["num_hidden_layers"] = 0 }, "must be positive")
        expect({ $0["rope_parameters"] = ["rope_type": "yarn", "factor": 2.0] }, "rope_parameters.rope_type")
        expect({ $0["hidden_act"] = "gelu" }, "hidden_act")
        XCTAssertThrowsError(try ModelDirectory.load(URL(fileURLWithPath: "/nonexistent-model"))) {
            XCTAssertTrue($0.localizedDescription.contains("/nonexistent-model/config.json"))
        }
    }

    func testMissingAndMisshapedWeightsAreNamed() throws {
        let config = try ModelDirectory.configuration(at: fixtureURL("tiny-qwen3"))
        let store = ParameterStore(try ModelDirectory.weights(in: fixtureURL("tiny-qwen3")))
        store["model.layers.1.self_attn.k_norm.weight"] = nil
        XCTAssertThrowsError(try CausalLM(configuration: config, parameters: store, path: "dir")) {
            XCTAssertEqual($0 as? ModelError, .missingWeight(path: "dir", key: "model.layers.1.self_attn.k_norm.weight"))
        }
        store["model.layers.1.self_attn.k_norm.weight"] = Tensor.ones([5])
        XCTAssertThrowsError(try CausalLM(configuration: config, parameters: store, path: "dir")) {
            XCTAssertEqual(
                $0 as? ModelError, .weightShape(path: "dir", key: "model.layers.1.self_attn.k_norm.weight", expected: [24], found: [5]))
        }
        store["model.layers.1.self_attn.k_norm.weight"] = Tensor.ones([24])
        store["model.layers.9.extra.weight"] = Tensor.ones([1])
        XCTAssertThrowsError(try CausalLM(configuration: config, parameters: store, path: "dir")) {
            XCTAssertEqual($0 as? ModelError, .unexpectedWeights(path: "dir", keys: ["model.layers.9.extra.weight"]))
        }
    }

    /// A model saved by Ponder reloads with equal logits; the copies committed as ponder-saved-* are loaded by
    /// transformers in make_model_fixtures.py (its printout shows the logits equal).
    func testSaveRoundTripsAndLoadsInTransformers() throws {
        for name in Self.families {
            let model = try ModelDirectory.load(fixtureURL(name))
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ponder-save-\(UUID().uuidString)")
            defer { try? FileManager.default.removeItem(at: dir) }
            try ModelDirectory.save(model, to: dir)
            if ProcessInfo.processInfo.environment["PONDER_WRITE_FIXTURES"] == "1" {
                try ModelDirectory.save(model, to: fixtureSourceURL("ponder-saved-\(name)"))
            }
            let back = try ModelDirectory.load(dir)
            XCTAssertEqual(back.configuration, model.configuration, name)
            let ids = Tensor.arange(3, 20).reshaped(1, 17)
            XCTAssertEqual(withNoGrad { maxDifference(back(ids), model(ids)) }, 0, name)
            let bf16 = try ModelDirectory.load(dir, dtype: .bfloat16)
            XCTAssertEqual(bf16.dtype, .bfloat16)
            XCTAssertLessThan(withNoGrad { maxDifference(bf16(ids), model(ids)) }, 0.5, "\(name) in bfloat16 stays close")
        }
    }

    func testShardedWeights() throws {
        let source = fixtureURL("tiny-qwen2")
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ponder-shards-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let weights = try Safetensors.read(source.appendingPathComponent("model.safetensors"))
        let keys = Array(weights.keys)
        let first = keys.prefix(keys.count / 2)
        let second = keys.dropFirst(keys.count / 2)
        try Safetensors.write(weights.filter { first.contains($0.key) }, to: dir.appendingPathComponent("model-00001-of-00002.safetensors"))
        try Safetensors.write(
            weights.filter { second.contains($0.key) }, to: dir.appendingPathComponent("model-00002-of-00002.safetensors"))
        var map: [String: String] = [:]
        for k in first { map[k] = "model-00001-of-00002.safetensors" }
        for k in second { map[k] = "model-00002-of-00002.safetensors" }
        try JSONSerialization.data(withJSONObject: ["weight_map": map]).write(
            to: dir.appendingPathComponent("model.safetensors.index.json"))
        try FileManager.default.copyItem(at: source.appendingPathComponent("config.json"), to: dir.appendingPathComponent("config.json"))
        let sharded = try ModelDirectory.load(dir)
        let whole = try ModelDirectory.load(source)
        let ids = Tensor.arange(3, 12).reshaped(1, 9)
        XCTAssertEqual(withNoGrad { maxDifference(sharded(ids), whole(ids)) }, 0)
    }
}
