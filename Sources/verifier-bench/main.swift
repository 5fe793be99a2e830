// verifier-bench: times PonderVerifiers on a JSONL corpus of {"id", "gold", "prediction", "mode"} lines
// (mode "a": compare answers, "c": extract from a completion first under the strict policy, "l": the same under the
// lenient policy) and writes one JSON result per line.
//
// Each case is timed three ways, `--repeat` calls each: `seconds` with no cache (every call from scratch, as for a new
// completion), `gold_warm_seconds` with a warm cache of gold answers only (what a GRPO group repeats: the gold's
// labelled value, ratio parts and parse; comparable to Math-Verify's parse caches), and `warm_seconds` with the full
// EquivalenceCache warm (the verdict of the repeated (gold, answer) pair is remembered; extraction still runs).
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
    var gold_warm_seconds: Double
    var warm_seconds: Double
    var cpu_seconds: Double
    var gold_warm_cpu_seconds: Double
    var warm_cpu_seconds: Double
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

/// The strict and lenient verifiers over one cache (`nil`: none).
struct Verifiers {
    var strict: MathVerifier
    var lenient: MathVerifier
    init(cache: EquivalenceCache?) {
        strict = MathVerifier(equivalence: MathEquivalence(cache: cache))
        lenient = MathVerifier(policy: .lenient, equivalence: MathEquivalence(cache: cache))
    }
    func check(_ c: Case) -> Verdict {
        switch c.mode {
        case "c": strict.check(completion: c.prediction, gold: c.gold)
        case "l": lenient.check(completion: c.prediction, gold: c.gold)
        default: strict.equivalence.compare(gold: MathVerifier.goldAnswer(c.gold), prediction: c.prediction)
        }
    }
}
let cold = Verifiers(cache: nil)
let goldCache = EquivalenceCache(remembersVerdicts: false)
let goldWarm = Verifiers(cache: goldCache)
let fullCache = EquivalenceCache()
let warm = Verifiers(cache: fullCache)

func seconds(_ d: Duration) -> Double { Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18 }

/// CPU time of this process, in seconds (unlike the wall clock it does not count time preempted by other processes).
func cpuSeconds() -> Double {
    var t = timespec()
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t)
    return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
}

/// Mean wall-clock and CPU seconds per call of `repeats` calls of `check` on `c`, after one untimed call (which also
/// primes a cache).
func time(_ v: Verifiers, _ c: Case, repeats: Int) -> (Double, Double, Verdict) {
    var verdict = v.check(c)
    let start = ContinuousClock.now
    let startCPU = cpuSeconds()
    for _ in 0..<repeats { verdict = v.check(c) }
    let cpu = (cpuSeconds() - startCPU) / Double(repeats)
    return (seconds(ContinuousClock.now - start) / Double(repeats), cpu, verdict)
}

let encoder = JSONEncoder()
encoder.outputFormatting = [.sortedKeys]
var total = 0.0
for c in cases {
    let (s, sc, v) = time(cold, c, repeats: repeats)
    let (g, gc, vg) = time(goldWarm, c, repeats: repeats)
    let (w, wc, vw) = time(warm, c, repeats: repeats)
    guard vg == v, vw == v else {
        FileHandle.standardError.write(Data("verifier-bench: case \(c.id): a cache changed the verdict: \(v) / \(vg) / \(vw)\n".utf8))
        exit(1)
    }
    total += s
    let r = Result(
        id: c.id, equivalent: v.isEquivalent, outcome: v.outcome.rawValue, seconds: s, gold_warm_seconds: g,
        warm_seconds: w, cpu_seconds: sc, gold_warm_cpu_seconds: gc, warm_cpu_seconds: wc, explanation: v.explanation)
    print(String(decoding: try encoder.encode(r), as: UTF8.self))
}
FileHandle.standardError.write(
    Data("verifier-bench: \(cases.count) cases, \(String(format: "%.1f", Double(cases.count) / total)) cases/s (no cache)\n".utf8))
