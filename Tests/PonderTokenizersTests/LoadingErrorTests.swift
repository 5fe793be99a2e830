import Foundation
import Testing

@testable import PonderTokenizers

/// Malformed `tokenizer.json` files fail with errors that name the JSON path at fault.
@Suite struct LoadingErrorTests {
    /// The Qwen2 fixture as a mutable JSON object.
    func fixture() throws -> [String: Any] {
        let data = try Data(contentsOf: Fixtures.url("qwen2/tokenizer.json"))
        return try JSONSerialization.jsonObject(with: data) as! [String: Any]
    }

    func load(_ object: [String: Any]) throws -> Tokenizer {
        try Tokenizer(tokenizerJSON: JSONSerialization.data(withJSONObject: object))
    }

    func error(_ body: () throws -> Tokenizer) -> TokenizerError? {
        do {
            _ = try body()
            return nil
        } catch let e as TokenizerError {
            return e
        } catch {
            return nil
        }
    }

    @Test func badJSON() {
        let e = error { try Tokenizer(tokenizerJSON: Data("{\"model\": ".utf8), source: "broken.json") }
        guard case .invalidJSON(let file, _) = e else {
            Issue.record("got \(String(describing: e))")
            return
        }
        #expect(file == "broken.json")
        #expect(e?.errorDescription?.contains("broken.json") == true)
    }

    @Test func missingModel() throws {
        var object = try fixture()
        object["model"] = nil
        #expect(error { try load(object) } == .missingKey(path: "model"))
    }

    @Test func missingMerges() throws {
        var object = try fixture()
        var model = object["model"] as! [String: Any]
        model["merges"] = nil
        object["model"] = model
        #expect(error { try load(object) } == .missingKey(path: "model.merges"))
    }

    @Test func mergeWithUnknownToken() throws {
        var object = try fixture()
        var model = object["model"] as! [String: Any]
        var merges = model["merges"] as! [Any]
        merges[7] = ["Ġ", "not-a-token"]
        model["merges"] = merges
        object["model"] = model
        let e = error { try load(object) }
        guard case .invalidValue(let path, let reason) = e else {
            Issue.record("got \(String(describing: e))")
            return
        }
        #expect(path == "model.merges[7]")
        #expect(reason.contains("not-a-token"))
    }

    @Test func malformedMergeLine() throws {
        var object = try fixture()
        var model = object["model"] as! [String: Any]
        model["merges"] = ["a b c"]
        object["model"] = model
        let e = error { try load(object) }
        guard case .invalidValue(let path, _) = e else {
            Issue.record("got \(String(describing: e))")
            return
        }
        #expect(path == "model.merges[0]")
    }

    @Test func invalidRegex() throws {
        var object = try fixture()
        object["pre_tokenizer"] = [
            "type": "Sequence",
            "pretokenizers": [
                ["type": "Split", "pattern": ["Regex": "([unclosed"], "behavior": "Isolated", "invert": false],
                ["type": "ByteLevel", "add_prefix_space": false, "use_regex": false],
            ],
        ]
        let e = error { try load(object) }
        guard case .invalidValue(let path, _) = e else {
            Issue.record("got \(String(describing: e))")
            return
        }
        #expect(path == "pre_tokenizer.pretokenizers[0].pattern.Regex")
    }

    @Test func unknownComponentTypes() throws {
        var object = try fixture()
        object["normalizer"] = ["type": "Sequence", "normalizers": [["type": "NFC"], ["type": "BertNormalizer"]]]
        #expect(
            error { try load(object) }
                == .unsupportedComponent(type: "BertNormalizer", path: "normalizer.normalizers[1].type"))
        object = try fixture()
        object["decoder"] = ["type": "WordPiece"]
        #expect(error { try load(object) } == .unsupportedComponent(type: "WordPiece", path: "decoder.type"))
        object = try fixture()
        object["post_processor"] = ["type": "RobertaProcessing"]
        #expect(
            error { try load(object) } == .unsupportedComponent(type: "RobertaProcessing", path: "post_processor.type"))
        object = try fixture()
        object["model"] = ["type": "Unigram", "vocab": []]
        #expect(error { try load(object) } == .unsupportedComponent(type: "Unigram", path: "model.type"))
        object = try fixture()
        object["pre_tokenizer"] = ["type": "Whitespace"]
        #expect(error { try load(object) } == .unsupportedComponent(type: "Whitespace", path: "pre_tokenizer.type"))
    }

    @Test func wrongTypes() throws {
        var object = try fixture()
        object["added_tokens"] = [["id": "zero", "content": "<x>"]]
        #expect(error { try load(object) } == .wrongType(path: "added_tokens[0].id", expected: "an integer"))
        object = try fixture()
        var model = object["model"] as! [String: Any]
        model["vocab"] = ["a": "b"]
        object["model"] = model
        #expect(error { try load(object) } == .wrongType(path: "model.vocab.a", expected: "an integer id"))
    }

    @Test func missingFile() {
        let e = error { try Tokenizer(contentsOf: URL(fileURLWithPath: "/nonexistent/tokenizer.json")) }
        guard case .unreadableFile(let path, _) = e else {
            Issue.record("got \(String(describing: e))")
            return
        }
        #expect(path == "/nonexistent/tokenizer.json")
    }
}

/// Ponder's own JSON parser (used instead of JSONSerialization for speed).
@Suite struct JSONValueTests {
    @Test func parsesEscapesAndNumbers() throws {
        let text = #"{"a": "x\u00e9\ud83c\udf89\n\"\\\/", "b": [1, -2.5e3, true, false, null], "a": 7}"#
        let value = try JSONValue.parse(Array(text.utf8), file: "t.json")
        guard case .array(let items)? = value["b"] else {
            Issue.record("no array")
            return
        }
        #expect(items.count == 5)
        if case .double(let d) = items[1] { #expect(d == -2500) } else { Issue.record("not a double") }
        if case .int(let n)? = value["a"] { #expect(n == 7) } else { Issue.record("repeated key: the last one wins") }
        guard case .object(let keys, let values) = value, case .string(let s) = values[0] else {
            Issue.record("not an object")
            return
        }
        #expect(keys == ["a", "b", "a"])
        #expect(s == "xé🎉\n\"\\/")
    }

    @Test func reportsLineAndColumn() {
        do {
            _ = try JSONValue.parse(Array("{\n  \"a\": [1,\n  2 x]\n}".utf8), file: "t.json")
            Issue.record("parsed invalid JSON")
        } catch let error as TokenizerError {
            guard case .invalidJSON(let file, let reason) = error else {
                Issue.record("\(error)")
                return
            }
            #expect(file == "t.json")
            #expect(reason.contains("line 3, column 5"), "\(reason)")
        } catch {
            Issue.record("\(error)")
        }
        for bad in ["", "[1,]", "{\"a\" 1}", "\"unterminated", "tru", "[1] 2", "\"\\q\""] {
            #expect(throws: TokenizerError.self) { try JSONValue.parse(Array(bad.utf8), file: "t.json") }
        }
    }
}
