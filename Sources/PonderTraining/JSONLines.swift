import Foundation

/// Reads JSON Lines files: one JSON object per non-empty line, with errors naming the file and line.
public enum JSONLines {
    /// Every object in `url`.
    public static func read(_ url: URL) throws -> [[String: Any]] {
        let text: String
        do { text = try String(contentsOf: url, encoding: .utf8) } catch {
            throw TrainingError.io(path: url.path, reason: "cannot read (\(error.localizedDescription))")
        }
        var out: [[String: Any]] = []
        for (i, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty { continue }
            guard let object = try? JSONSerialization.jsonObject(with: Data(trimmed.utf8)) as? [String: Any] else {
                throw TrainingError.badData(path: url.path, line: i + 1, reason: "not a JSON object")
            }
            out.append(object)
        }
        return out
    }

    /// The string field `field` of every object (a missing or non-string field is an error naming the line).
    public static func strings(_ url: URL, field: String) throws -> [String] {
        try read(url).enumerated().map { i, object in
            guard let s = object[field] as? String else {
                throw TrainingError.badData(
                    path: url.path, line: i + 1,
                    reason: "field \"\(field)\" is missing or not a string (fields: \(object.keys.sorted().joined(separator: ", ")))")
            }
            return s
        }
    }
}
