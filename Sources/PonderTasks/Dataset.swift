import Foundation
import PonderCore

/// How the fields of a JSONL line become a `Problem`.
public struct FieldMapping: Sendable, Hashable, Codable {
    /// How the reference answer is read from its field.
    public enum AnswerFormat: String, Sendable, Hashable, Codable {
        /// The field is the answer.
        case raw
        /// GSM8K: a worked solution ending `#### 42`; the answer is what follows `####`.
        case gsm8k
        /// MATH: a solution containing `\boxed{…}`; the answer is the last boxed expression.
        case boxed
    }

    /// Field with the question.
    public var prompt: String
    /// Field with the answer or solution.
    public var answer: String
    public var answerFormat: AnswerFormat
    /// Field with a stable id (optional; otherwise `file:line`).
    public var id: String?
    /// Field with a programming problem's tests (optional): a list of assertion strings (`"assert f(2) == 4"`) or of
    /// `{"input", "output"}` objects. With it, problems are code problems and the answer field is not read.
    public var tests: String?
    /// The language code problems are written in (a runner name).
    public var language = "python"

    /// Makes a mapping.
    public init(prompt: String, answer: String, answerFormat: AnswerFormat = .raw, id: String? = nil) {
        self.prompt = prompt
        self.answer = answer
        self.answerFormat = answerFormat
        self.id = id
    }

    /// GSM8K's layout: `question`, and `answer` ending `#### n`.
    public static let gsm8k = FieldMapping(prompt: "question", answer: "answer", answerFormat: .gsm8k)
    /// MATH's layout: `problem`, and `solution` with a boxed answer.
    public static let math = FieldMapping(prompt: "problem", answer: "solution", answerFormat: .boxed)
    /// Ponder's own problem files (`ponder data problems`): `id`, `prompt` (the question) and `answer`.
    public static let ponder = FieldMapping(prompt: "prompt", answer: "answer", id: "id")
}

/// A list of problems with seeded shuffling and held-out splits.
public struct Dataset: Sendable, Hashable {
    /// The problems, in order.
    public var problems: [Problem]

    /// A data set holding `problems`.
    public init(_ problems: [Problem]) { self.problems = problems }

    /// Reads a JSONL file; a line that is not a JSON object, or lacks a mapped field, is an error naming file and line.
    /// Ids come from the mapping's id field, else `file:line`.
    public init(jsonl url: URL, mapping: FieldMapping) throws {
        problems = try JSONLines.numbered(url).map { n, object in
            guard let prompt = object[mapping.prompt] as? String else {
                throw TaskError.badLine(
                    path: url.path, line: n,
                    reason: "field \"\(mapping.prompt)\" is missing or not a string (fields: \(object.keys.sorted().joined(separator: ", ")))")
            }
            let id = mapping.id.flatMap { object[$0].map { "\($0)" } } ?? "\(url.lastPathComponent):\(n)"
            if let field = mapping.tests {
                guard let list = object[field] as? [Any], !list.isEmpty else {
                    throw TaskError.badLine(path: url.path, line: n, reason: "field \"\(field)\" is missing or not a non-empty list of tests")
                }
                let cases = try list.enumerated().map { k, item -> CodeTestCase in
                    if let assertion = item as? String { return .assertion(assertion) }
                    if let io = item as? [String: Any], let input = io["input"] as? String, let output = io["output"] as? String {
                        return .io(input: input, expectedOutput: output)
                    }
                    throw TaskError.badLine(
                        path: url.path, line: n, reason: "test \(k) of \"\(field)\" is neither an assertion string nor {\"input\", \"output\"}")
                }
                return .code(id: id, prompt: prompt, tests: CodeTests(language: mapping.language, cases: cases))
            }
            let rawAnswer: String
            if let s = object[mapping.answer] as? String {
                rawAnswer = s
            } else if let x = object[mapping.answer] as? NSNumber {
                rawAnswer = x.stringValue
            } else {
                throw TaskError.badLine(path: url.path, line: n, reason: "field \"\(mapping.answer)\" is missing or not a string or number")
            }
            guard let answer = Self.answer(rawAnswer, format: mapping.answerFormat) else {
                throw TaskError.badLine(
                    path: url.path, line: n,
                    reason: "field \"\(mapping.answer)\" has no \(mapping.answerFormat == .gsm8k ? "#### answer" : "\\boxed{} answer")")
            }
            var metadata: [String: String] = [:]
            for (key, value) in object where key != mapping.prompt && key != mapping.answer {
                if let s = value as? String { metadata[key] = s } else if let x = value as? NSNumber { metadata[key] = x.stringValue }
            }
            return .math(id: id, prompt: prompt, answer: answer, metadata: metadata)
        }
    }

    static func answer(_ text: String, format: FieldMapping.AnswerFormat) -> String? {
        switch format {
        case .raw: return text.trimmingCharacters(in: .whitespacesAndNewlines)
        case .gsm8k:
            guard let r = text.range(of: "####", options: .backwards) else { return nil }
            return text[r.upperBound...].trimmingCharacters(in: .whitespacesAndNewlines).replacingOccurrences(of: ",", with: "")
        case .boxed: return lastBoxed(text)
        }
    }

    /// The content of the last `\boxed{…}` (nested braces allowed).
    static func lastBoxed(_ text: String) -> String? {
        guard let r = text.range(of: "\\boxed{", options: .backwards) else { return nil }
        var depth = 1
        var i = r.upperBound
        while i < text.endIndex {
            if text[i] == "{" {
                depth += 1
            } else if text[i] == "}" {
                depth -= 1
                if depth == 0 { return String(text[r.upperBound..<i]) }
            }
            i = text.index(after: i)
        }
        return nil
    }

    /// The problems in an order fixed by `seed`.
    public func shuffled(seed: UInt64) -> Dataset {
        var random = SeededRandom(seed: seed)
        return Dataset(problems.shuffled(using: &random))
    }

    /// A seeded split: `heldOut` problems for evaluation, the rest for training; the two never overlap.
    public func split(heldOut: Int, seed: UInt64) throws -> (train: Dataset, test: Dataset) {
        guard heldOut >= 0 && heldOut <= problems.count else {
            throw TaskError.invalidParameter("heldOut = \(heldOut) with \(problems.count) problems")
        }
        let s = shuffled(seed: seed).problems
        return (Dataset(Array(s.dropFirst(heldOut))), Dataset(Array(s.prefix(heldOut))))
    }
}
