import Foundation
import PonderCore
import PonderTokenizers
import Torch
import XCTest

@testable import PonderModels

/// Reward-model heads against transformers' `*ForSequenceClassification` / `*ForTokenClassification`
/// (scripts/fixtures/make_reward_model_fixtures.py), and their Hugging Face layout.
final class RewardModelTests: XCTestCase {
    static let heads = try! Safetensors.read(fixtureURL("reward_heads.safetensors"))

    /// The fixture decoder `family` with the head transformers used (`orm`: 1 label; `prm`: 2 labels with bias).
    func rewardModel(_ family: String, _ kind: String) throws -> CausalLM {
        let base = try ModelDirectory.load(fixtureURL(family))
        let head: ModelHead = kind == "orm" ? .sequenceClassification(labels: 1) : .tokenClassification(labels: 2, bias: true)
        let model = try base.withHead(head, padTokenId: 0, seed: 1)
        for key in [ModelKey.score, ModelKey.scoreBias] {
            if let t = Self.heads["\(family).\(kind).\(key)"] { model.parameters[key] = t }
        }
        model.bindWeights()
        return model
    }

    func testHeadsMatchTransformers() throws {
        let ids = Self.heads["input_ids"]!
        let rows = (0..<ids.size(0)).map { ids[$0].toArray(Int.self) }
        for family in ModelLoadingTests.families {
            let orm = try rewardModel(family, "orm")
            let sequence = withNoGrad { orm.sequenceLogits(rows) }
            let expectedSequence = Self.heads["\(family).orm.logits"]!
            XCTAssertEqual(sequence.shape, expectedSequence.shape, family)
            XCTAssertLessThanOrEqual(maxDifference(sequence, expectedSequence), 1e-4, family)
            let prm = try rewardModel(family, "prm")
            let tokens = withNoGrad { prm(ids) }
            XCTAssertEqual(tokens.shape, [3, 9, 2], family)
            XCTAssertLessThanOrEqual(maxDifference(tokens, Self.heads["\(family).prm.logits"]!), 1e-4, family)
        }
    }

    func testLastNonPadPositionIsTransformers() {
        XCTAssertEqual(
            CausalLM.lastNonPadPositions([[5, 6, 0, 0], [0, 0, 7, 8], [4, 0, 9, 0], [0, 0, 0, 0]], padTokenId: 0), [1, 3, 2, 0])
        XCTAssertEqual(CausalLM.lastNonPadPositions([[5, 6, 0]], padTokenId: nil), [2])
    }

    func testSavedRewardModelsRoundTripInTheHuggingFaceLayout() throws {
        for (family, kind) in [("tiny-llama", "orm"), ("tiny-qwen2", "orm"), ("tiny-qwen3", "prm")] {
            let model = try rewardModel(family, kind)
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ponder-rm-\(UUID().uuidString)")
            defer { try? FileManager.default.removeItem(at: dir) }
            try ModelDirectory.save(model, to: dir)
            if ProcessInfo.processInfo.environment["PONDER_WRITE_FIXTURES"] == "1" {
                try ModelDirectory.save(model, to: URL(fileURLWithPath: "/tmp/ponder-saved-rm/\(family)-\(kind)"))
            }
            let config =
                try JSONSerialization.jsonObject(with: Data(contentsOf: dir.appendingPathComponent("config.json"))) as! [String: Any]
            let prefix = ["tiny-llama": "Llama", "tiny-qwen2": "Qwen2", "tiny-qwen3": "Qwen3"][family]!
            let architecture = prefix + (kind == "orm" ? "ForSequenceClassification" : "ForTokenClassification")
            XCTAssertEqual(config["architectures"] as? [String], [architecture])
            XCTAssertEqual(config["num_labels"] as? Int, kind == "orm" ? 1 : 2)
            XCTAssertEqual(config["pad_token_id"] as? Int, 0)
            XCTAssertEqual((config["id2label"] as? [String: String])?["0"], "LABEL_0")
            let weights = try Safetensors.read(dir.appendingPathComponent("model.safetensors"))
            XCTAssertNil(weights["lm_head.weight"], "a classifier has no language-model head")
            XCTAssertEqual(weights["score.bias"] == nil, kind == "orm", "only the token classifier has a score bias")
            let back = try ModelDirectory.load(dir)
            XCTAssertEqual(back.configuration.head, model.configuration.head)
            let ids = Self.heads["input_ids"]!
            XCTAssertEqual(withNoGrad { maxDifference(back(ids), model(ids)) }, 0, family)
        }
    }

    func testWithHeadKeepsTheDecoder() throws {
        let base = try ModelDirectory.load(fixtureURL("tiny-qwen2"))
        let orm = try base.withHead(.sequenceClassification(labels: 1), padTokenId: 0, seed: 3)
        let ids = Tensor.arange(3, 12).reshaped(1, 9)
        XCTAssertEqual(withNoGrad { maxDifference(orm.hiddenStates(ids), base.hiddenStates(ids)) }, 0)
        XCTAssertEqual(orm.parameters["score.weight"]?.shape, [1, 64])
        XCTAssertEqual(orm.configuration.padTokenId, 0)
    }

    func testALanguageModelIsNotARewardModel() throws {
        let base = try ModelDirectory.load(fixtureURL("tiny-qwen2"))
        let tokenizer = try Tokenizer.load(directory: fixtureURL("tiny-qwen2"))
        XCTAssertThrowsError(try RewardModel(model: base, encoder: RewardEncoder(tokenizer: tokenizer, endText: nil), path: "base")) {
            XCTAssertTrue("\($0.localizedDescription)".contains("architectures"), "\($0.localizedDescription)")
        }
    }

    func testUnknownArchitectureIsNamed() {
        let json =
            #"{"model_type": "llama", "architectures": ["LlamaForQuestionAnswering"], "vocab_size": 10, "hidden_size": 8, "intermediate_size": 8, "num_hidden_layers": 1, "num_attention_heads": 2}"#
        XCTAssertThrowsError(try ModelConfiguration(json: Data(json.utf8), path: "x/config.json")) {
            XCTAssertTrue($0.localizedDescription.contains("LlamaForQuestionAnswering"), $0.localizedDescription)
        }
    }

    func testStepEncodingLabelsTheSeparatorAfterEachStep() throws {
        let tokenizer = try Tokenizer.load(directory: fixtureURL("tiny-qwen2"))
        let encoder = RewardEncoder(tokenizer: tokenizer, endText: "<|im_end|>", stepSeparator: "\n")
        let (ids, ends) = encoder.stepIDs(prompt: "Q: 1+2?\n", steps: ["1 + 2 = 3", "The answer is 3."])
        let newline = tokenizer.encode("\n", addSpecialTokens: false)
        XCTAssertEqual(ends.count, 2)
        XCTAssertEqual(ends.last, ids.count - 1)
        for e in ends { XCTAssertEqual(Array(ids[(e - newline.count + 1)...e]), newline) }
        XCTAssertEqual(encoder.outcomeIDs(prompt: "Q ", completion: "A").last, tokenizer.id(for: "<|im_end|>"))
    }
}
