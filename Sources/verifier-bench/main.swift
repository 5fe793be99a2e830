// verifier-bench: times PonderVerifiers on a JSONL corpus of {"id", "gold", "prediction", "mode"} lines
// (mode "a": compare answers, "c": extract from a completion first under the strict policy, "l": the same under the
// lenient policy) and writes one JSON result per line.
//
// Usage: verifier-bench CORPUS.jsonl [--repeat N] > results.jsonl
import Foundation
import PonderCore
import PonderVerifiers

struct Case: Decodable {
    var id: Int
    var gold: String
    var prediction: String
    var mode: String?
}

struct Result: Encodable {
    var id: Int
    var equivalent: Bool
    var outcome: String
    var seconds: Double
    var explanation: String
}

let args = CommandLine.arguments
guard args.count >= 2 else {
    FileHandle.standardError.write(Data("usage: verifier-bench CORPUS.jsonl [--repeat N]\n".utf8))
    exit(2)
}
var repeats = 20
if let i = args.firstIndex(of: "--repeat"), i + 1 < args.count, let n = Int(args[i + 1]) { repeats = max(1, n) }
guard let text = try? String(contentsOfFile: args[1], encoding: .utf8) else {
    FileHandle.standardError.write(Data("verifier-bench: cannot read \(args[1])\n".utf8))
    exit(1)
}
var cases: [Case] = []
for (n, line) in text.split(separator: "\n").enumerated() {
    do { cases.append(try JSONDecoder().decode(Case.self, from: Data(line.utf8))) } catch {
        FileHandle.standardError.write(Data("\(args[1]):\(n + 1): \(error)\n".utf8))
        exit(1)
    }
}

let verifier = MathVerifier()
let lenient = MathVerifier(policy: .lenient)
func check(_ c: Case) -> Verdict {
    switch c.mode {
    case "c": verifier.check(completion: c.prediction, gold: c.gold)
    case "l": lenient.check(completion: c.prediction, gold: c.gold)
    default: verifier.equivalence.compare(gold: MathVerifier.goldAnswer(c.gold), prediction: c.prediction)
    }
}

let encoder = JSONEncoder()
encoder.outputFormatting = [.sortedKeys]
var total = 0.0
for c in cases {
    var v = check(c)  // warm-up, also the verdict reported
    let start = ContinuousClock.now
    for _ in 0..<repeats { v = check(c) }
    let d = ContinuousClock.now - start
    let seconds = (Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18) / Double(repeats)
    total += seconds
    let r = Result(
        id: c.id, equivalent: v.isEquivalent, outcome: v.outcome.rawValue, seconds: seconds, explanation: v.explanation)
    print(String(decoding: try encoder.encode(r), as: UTF8.self))
}
FileHandle.standardError.write(
    Data("verifier-bench: \(cases.count) cases, \(String(format: "%.1f", Double(cases.count) / total)) cases/s\n".utf8))
