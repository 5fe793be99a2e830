import Foundation
import Torch
import XCTest

@testable import PonderModels

final class LoRATests: XCTestCase {
    static let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/tiny-qwen2")
    let ids = Tensor([5, 17, 23, 42, 8, 99, 3] as [Int64], shape: [1, 7])

    func model() throws -> CausalLM { try ModelDirectory.load(Self.fixture) }

    /// Gives every B matrix random values (a fresh adapter is zero there and changes nothing).
    func perturb(_ lora: LoRA) {
        let g = RandomGenerator(seed: 9)
        withNoGrad {
            for (k, t) in lora.store.tensors where k.contains("lora_B") { t.copy_(Tensor.randn(t.shape, generator: g) * 0.1) }
        }
    }

    func testFreshAdaptersChangeNothingAndKeysArePEFTs() throws {
        let m = try model()
        let base = withNoGrad { m(ids) }
        let lora = try m.addAdapters(.init(r: 4, alpha: 8, targetModules: ["q_proj", "v_proj", "down_proj"]), seed: 1)
        XCTAssertEqual((withNoGrad { m(ids) } - base).abs().max().item(), 0)
        XCTAssertTrue(lora.store.keys.contains("base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight"))
        XCTAssertTrue(lora.store.keys.contains("base_model.model.model.layers.1.mlp.down_proj.lora_B.weight"))
        XCTAssertEqual(lora.store.keys.count, m.configuration.layerCount * 3 * 2)
        let a = lora.store["base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight"]!
        XCTAssertEqual(a.shape, [4, m.configuration.hiddenSize])
        XCTAssertLessThanOrEqual(a.abs().max().item(), 1 / Double(m.configuration.hiddenSize).squareRoot(), "Kaiming-uniform bound")
        XCTAssertThrowsError(try m.addAdapters(.init(r: 4, targetModules: ["qkv"]))) {
            XCTAssertTrue("\($0.localizedDescription)".contains("qkv"))
        }
        XCTAssertThrowsError(try m.addAdapters(.init(r: 0)))
    }

    /// Adapters act, save in PEFT's files, load back identically, and merge into the base with the same outputs.
    func testSaveLoadAndMerge() throws {
        let m = try model()
        let base = withNoGrad { m(ids) }
        let lora = try m.addAdapters(.init(r: 4, alpha: 16, targetModules: ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]))
        perturb(lora)
        let adapted = withNoGrad { m(ids) }
        XCTAssertGreaterThan((adapted - base).abs().max().item(), 1e-3, "the adapters act")
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ponder-lora-\(UUID().uuidString)")
        try lora.save(to: dir)
        let config = try JSONSerialization.jsonObject(with: Data(contentsOf: dir.appendingPathComponent("adapter_config.json"))) as! [String: Any]
        XCTAssertEqual(config["peft_type"] as? String, "LORA")
        XCTAssertEqual(config["r"] as? Int, 4)
        let other = try model()
        other.attach(try LoRA.load(dir, configuration: other.configuration, dtype: other.dtype))
        XCTAssertEqual((withNoGrad { other(ids) } - adapted).abs().max().item(), 0, "loaded adapters compute the same")
        other.mergeAdapters()
        XCTAssertNil(other.adapters)
        XCTAssertLessThan((withNoGrad { other(ids) } - adapted).abs().max().item(), 1e-5, "merged weights compute the same")
        XCTAssertEqual(m.withoutAdapters { withNoGrad { m(ids) } }.shape, base.shape)
        XCTAssertEqual((m.withoutAdapters { withNoGrad { m(ids) } } - base).abs().max().item(), 0, "adapters off is the base")
        // Bad files are named.
        try "{\"peft_type\": \"LORA\", \"lora_alpha\": 8, \"target_modules\": [\"q_proj\"]}".write(
            to: dir.appendingPathComponent("adapter_config.json"), atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try LoRA.load(dir, configuration: other.configuration, dtype: .float32)) {
            XCTAssertTrue("\($0)".contains("adapter_config.json") && "\($0)".contains("\"r\""), "\($0)")
        }
    }

    /// Training touches the adapters only: the base weights get no gradient.
    func testOnlyAdaptersTrain() throws {
        let m = try model()
        try m.addAdapters(.init(r: 2, targetModules: ["q_proj", "up_proj"]))
        let trainable = m.prepareForTraining()
        XCTAssertEqual(Set(trainable.keys), Set(m.adapters!.store.keys))
        m(ids).sum().backward()
        XCTAssertNil(m.parameters["model.norm.weight"]!.grad)
        XCTAssertNotNil(trainable.values.first!.grad)
    }

    /// Adapters PEFT made (scripts/fixtures/make_lora_fixtures.py) load in Ponder and give PEFT's logits, adapted and
    /// merged; adapters Ponder writes are committed for the script, which loads them in PEFT (its printout is
    /// make_lora_fixtures.out.txt).
    func testPEFTParity() throws {
        let fixtures = Self.fixture.deletingLastPathComponent()
        let expected = try Safetensors.read(fixtures.appendingPathComponent("peft_lora_logits.safetensors"))
        let ids = expected["ids"]!
        let m = try model()
        m.attach(try LoRA.load(fixtures.appendingPathComponent("peft-lora-tiny-qwen2"), configuration: m.configuration, dtype: m.dtype))
        XCTAssertEqual(m.adapters?.settings.targetModules.sorted(), ["down_proj", "q_proj", "v_proj"])
        let adapted = withNoGrad { m(ids) }.squeezed(axis: 0)
        XCTAssertLessThan((adapted - expected["adapted"]!).abs().max().item(), 1e-5)
        m.mergeAdapters()
        XCTAssertLessThan((withNoGrad { m(ids) }.squeezed(axis: 0) - expected["merged"]!).abs().max().item(), 1e-5)
        // Ponder's own adapters, for the script to load in PEFT.
        let ours = try model()
        let lora = try ours.addAdapters(.init(r: 3, alpha: 6, targetModules: ["k_proj", "o_proj", "gate_proj"]), seed: 4)
        perturb(lora)
        let logits = withNoGrad { ours(ids) }.squeezed(axis: 0)
        let dir = fixtures.appendingPathComponent("ponder-lora-tiny-qwen2")
        if ProcessInfo.processInfo.environment["PONDER_WRITE_FIXTURES"] == "1" {
            let source = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/ponder-lora-tiny-qwen2")
            lora.baseModel = "Tests/PonderModelsTests/Fixtures/tiny-qwen2"
            try lora.save(to: source)
            try Safetensors.write(["logits": logits.contiguous()], to: source.appendingPathComponent("ponder_logits.safetensors"))
        }
        // The committed copy reloads in Ponder with the logits it was written with.
        let reloaded = try model()
        reloaded.attach(try LoRA.load(dir, configuration: reloaded.configuration, dtype: reloaded.dtype))
        let stored = try Safetensors.read(dir.appendingPathComponent("ponder_logits.safetensors"))["logits"]!
        XCTAssertEqual((withNoGrad { reloaded(ids) }.squeezed(axis: 0) - stored).abs().max().item(), 0)
    }
}
