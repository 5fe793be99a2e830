import Foundation

/// Learning rate over optimizer steps: linear warmup, then constant, linear or cosine decay to `minimumRatio`.
public struct LearningRateSchedule: Sendable, Codable, Equatable {
    /// The shape after warmup.
    public enum Decay: String, Sendable, Codable, CaseIterable { case constant, linear, cosine }

    /// Peak learning rate.
    public var peak: Double
    /// Steps of linear warmup from 0.
    public var warmupSteps: Int
    /// Total optimizer steps (the decay ends here).
    public var totalSteps: Int
    public var decay: Decay
    /// The final rate as a fraction of the peak.
    public var minimumRatio: Double

    /// Makes a schedule.
    public init(peak: Double, warmupSteps: Int = 0, totalSteps: Int, decay: Decay = .cosine, minimumRatio: Double = 0) {
        self.peak = peak
        self.warmupSteps = warmupSteps
        self.totalSteps = totalSteps
        self.decay = decay
        self.minimumRatio = minimumRatio
    }

    /// The rate for optimizer step `step` (0-based), as transformers' schedulers compute it (warmup from 0:
    /// `peak · step / warmupSteps`; cosine and linear decays floored at `minimumRatio`).
    public func rate(at step: Int) -> Double {
        if step < warmupSteps { return peak * Double(step) / Double(warmupSteps) }
        let span = Swift.max(1, totalSteps - warmupSteps)
        let progress = Swift.min(1, Double(step - warmupSteps) / Double(span))
        let floor = minimumRatio
        switch decay {
        case .constant: return peak
        case .linear: return peak * (floor + (1 - floor) * (1 - progress))
        case .cosine: return peak * (floor + (1 - floor) * 0.5 * (1 + cos(Double.pi * progress)))
        }
    }
}
