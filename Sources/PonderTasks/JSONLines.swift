import Foundation

/// Reads JSON Lines files: one JSON object per non-empty line, with errors naming the file and line. The only
/// JSONL reader in Ponder: data sets, SFT examples and pretraining documents all come through it.
public enum JSONLines {
    /// Every object in `url`, with its 1-based line number.
    public static func numbered(_ url: URL) throws -> [(line: Int, object: [String: Any])] {
        let text: String
        do { text = try String(contentsOf: url, encoding: .utf8) } catch {
            throw TaskError.unreadable(path: url.path, reason: "cannot read (\(error.localizedDescription))")
        }
        var out: [(line: Int, object: [String: Any])] = []
        for (i, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty { continue }
            guard let object = try? JSONSerialization.jsonObject(with: Data(trimmed.utf8)) as? [String: Any] else {
                throw TaskError.badLine(path: url.path, line: i + 1, reason: "not a JSON object")
            }
            out.append((i + 1, object))
        }
        return out
    }

    /// Every object in `url`.
    public static func read(_ url: URL) throws -> [[String: Any]] { try numbered(url).map(\.object) }

    /// The string field `field` of every object (a missing or non-string field is an error naming the line).
    public static func strings(_ url: URL, field: String) throws -> [String] {
        try numbered(url).map { line, object in
            guard let s = object[field] as? String else {
                throw TaskError.badLine(
                    path: url.path, line: line,
                    reason: "field \"\(field)\" is missing or not a string (fields: \(object.keys.sorted().joined(separator: ", ")))")
            }
            return s
        }
    }
}
