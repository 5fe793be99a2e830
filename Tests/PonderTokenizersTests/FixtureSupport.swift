import Foundation
import PonderTokenizers

/// Paths and loaders for the fixtures written by scripts/fixtures/make_tokenizer_fixtures.py.
enum Fixtures {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent(
        "Fixtures")

    static func url(_ path: String) -> URL { directory.appendingPathComponent(path) }

    static let strings: [String] = {
        let data = try! Data(contentsOf: url("strings.json"))
        return try! JSONDecoder().decode([String].self, from: data)
    }()

    struct Case: Decodable {
        let ids: [Int]
        let decoded: String?
        let decoded_skip_special: String?
    }

    struct Expected: Decodable {
        let prefix: [Int]
        let cases: [Case]
    }

    static func expected(_ family: String) throws -> Expected {
        try JSONDecoder().decode(Expected.self, from: Data(contentsOf: url("\(family)/expected.json")))
    }

    static func tokenizer(_ family: String) throws -> Tokenizer {
        try Tokenizer(contentsOf: url("\(family)/tokenizer.json"))
    }

    static var corpus: String { try! String(contentsOf: url("corpus.txt"), encoding: .utf8) }
}
