import ArgumentParser
import Foundation
import PonderCore
import PonderTasks
import PonderVerifiers

/// `ponder verify`: compares a prediction with a gold answer, or a JSONL file of pairs.
extension ExtractionMode: ExpressibleByArgument {}

struct VerifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Decide whether predicted math answers equal gold answers.",
        discussion: """
            Single pair: --gold G --prediction P [--explain]. Batch: --input pairs.jsonl [--output verdicts.jsonl], \
            one {"gold": ..., "prediction": ...} object per line. A prediction may be a whole completion: its final \
            answer is extracted (after </think>, <answer>, \\boxed{}, ####, "the answer is") unless --raw is given. \
            --mode strict (the default, as for rewards) takes only marked answers; --mode lenient (for evaluation) \
            also takes the last LaTeX or plain expression of the final answer region, as Math-Verify does. A single pair exits with status 0 when equivalent, 1 otherwise; values starting with "-" need --gold=-3.
            """)

    @Option(help: "The reference answer.") var gold: String?
    @Option(help: "The predicted answer or completion.") var prediction: String?
    @Option(help: "A JSONL file of {\"gold\", \"prediction\"} lines.") var input: String?
    @Option(help: "Where to write one verdict per line (default: standard output).") var output: String?
    @Flag(help: "Print how the verdict was reached.") var explain = false
    @Flag(help: "Compare the prediction as an answer, without extracting it from a completion.") var raw = false
    @Option(help: "Extraction mode: strict (only marked answers; the default, as for rewards) or lenient (also the last expression of the final answer region; for evaluation).")
    var mode: ExtractionMode = .strict

    func validate() throws {
        if input == nil && (gold == nil || prediction == nil) {
            throw ValidationError("Give --gold and --prediction, or --input FILE.jsonl.")
        }
        if input != nil && (gold != nil || prediction != nil) {
            throw ValidationError("--input cannot be combined with --gold/--prediction.")
        }
    }

    func verdict(gold: String, prediction: String) -> Verdict {
        let verifier = MathVerifier(policy: .mode(mode))
        if raw { return verifier.equivalence.compare(gold: MathVerifier.goldAnswer(gold), prediction: prediction) }
        // A bare answer (one short line without tags, box or phrase) is compared as it is; a longer
        // completion without a marked answer has none (it is not parsed whole).
        let extraction = verifier.extractor.extract(prediction)
        if extraction.answer == nil, extraction.parts.isEmpty, !prediction.contains("\n"),
            prediction.utf8.count <= 500, !prediction.contains("</think>"), !prediction.contains("<think>")
        {
            return verifier.equivalence.compare(gold: MathVerifier.goldAnswer(gold), prediction: prediction)
        }
        return verifier.check(completion: prediction, gold: gold)
    }

    func run() throws {
        if let input { return try runBatch(input) }
        let v = verdict(gold: gold!, prediction: prediction!)
        print(v.outcome.rawValue)
        if explain { print(v.explanation) }
        if v.outcome != .equivalent { throw ExitCode(1) }
    }

    struct Pair: Decodable {
        var gold: String
        var prediction: String
    }

    func runBatch(_ path: String) throws {
        var out: [String] = []
        var counts: [Verdict.Outcome: Int] = [:]
        for (n, object) in try JSONLines.numbered(URL(fileURLWithPath: path)) {
            guard let gold = object["gold"] as? String, let prediction = object["prediction"] as? String else {
                throw VerifierError.badLine(
                    file: path, line: n, reason: "expected {\"gold\": string, \"prediction\": string}, got fields \(object.keys.sorted())")
            }
            let pair = Pair(gold: gold, prediction: prediction)
            let v = verdict(gold: pair.gold, prediction: pair.prediction)
            counts[v.outcome, default: 0] += 1
            let object: [String: String] = [
                "gold": pair.gold, "prediction": pair.prediction, "verdict": v.outcome.rawValue,
                "explanation": v.explanation,
            ]
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            out.append(String(decoding: try encoder.encode(object), as: UTF8.self))
        }
        let body = out.joined(separator: "\n") + (out.isEmpty ? "" : "\n")
        if let output {
            do { try body.write(toFile: output, atomically: true, encoding: .utf8) } catch {
                throw VerifierError.fileAccess(path: output, reason: error.localizedDescription)
            }
        } else {
            print(body, terminator: "")
        }
        let total = out.count
        let summary = Verdict.Outcome.allCases.map { "\($0.rawValue) \(counts[$0, default: 0])" }.joined(
            separator: ", ")
        FileHandle.standardError.write(Data("\(total) pairs: \(summary)\n".utf8))
    }
}
