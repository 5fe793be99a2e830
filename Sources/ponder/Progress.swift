import Foundation
import OrderedCollections
import PonderTraining

/// A one-line progress bar with live metrics and an ETA, redrawn in place on a terminal and printed every
/// `every` steps otherwise.
struct ProgressBar {
    let keys: [String]
    let every: Int
    let interactive = isatty(STDERR_FILENO) != 0

    func update(_ r: StepReport) {
        guard interactive || r.step % every == 0 || r.step == r.totalSteps else { return }
        let width = 24
        let done = Int(Double(width) * Double(r.step) / Double(r.totalSteps))
        let bar = String(repeating: "█", count: done) + String(repeating: "·", count: width - done)
        let perStep = r.elapsed / Double(max(1, r.step))
        let eta = perStep * Double(r.totalSteps - r.step)
        let values = keys.compactMap { k in r.metrics[k].map { "\(k) \(String(format: "%.4g", $0))" } }.joined(separator: "  ")
        let line = "step \(r.step)/\(r.totalSteps) \(bar) \(values)  \(String(format: "%.2f", perStep)) s/step  ETA \(Self.duration(eta))"
        FileHandle.standardError.write(Data((interactive ? "\r\u{1B}[2K" + line : line + "\n").utf8))
        if interactive && r.step == r.totalSteps { FileHandle.standardError.write(Data("\n".utf8)) }
    }

    static func duration(_ s: Double) -> String {
        let t = Int(s.rounded())
        return t >= 3600 ? "\(t / 3600)h\(t % 3600 / 60)m" : t >= 60 ? "\(t / 60)m\(t % 60)s" : "\(t)s"
    }
}
