import Foundation
import Torch

/// Rotary position embeddings (Su et al. 2021) in the "rotate half" layout Llama and Qwen checkpoints use.
struct RotaryEmbedding {
    /// Inverse frequencies, (D/2,) float32.
    let inverseFrequencies: Tensor

    init(configuration c: ModelConfiguration) {
        let d = c.headDimension
        // θ_i = base^(−2i/D), computed in float32 as transformers does, so angles agree to the last bit.
        var inv = (0..<(d / 2)).map { i in 1 / Float(pow(Float(c.ropeTheta), Float(2 * i) / Float(d))) }
        switch c.ropeScaling {
        case .none: break
        case .linear(let factor): inv = inv.map { $0 / Float(factor) }
        case .llama3(let factor, let low, let high, let original):
            // Llama 3.1: long wavelengths divided by `factor`, short ones kept, the band between interpolated.
            let lowWavelength = Float(original) / Float(low)
            let highWavelength = Float(original) / Float(high)
            inv = inv.map { f in
                let wavelength = 2 * Float.pi / f
                if wavelength < highWavelength { return f }
                if wavelength > lowWavelength { return f / Float(factor) }
                let smooth = (Float(original) / wavelength - Float(low)) / Float(high - low)
                return (1 - smooth) * f / Float(factor) + smooth * f
            }
        }
        inverseFrequencies = Tensor(inv)
    }

    /// cos and sin of the angles for `positions` (B, T), each (B, 1, T, D) in `dtype`, laid out for `apply`:
    /// [cos, cos] and [−sin, sin] over the two halves of a head.
    func cosSin(positions: Tensor, dtype: DType) -> (Tensor, Tensor) {
        let angles = positions.to(.float32).unsqueezed(axis: -1) * inverseFrequencies  // (B, T, D/2)
        let a = angles.unsqueezed(axis: 1)
        let (cos, sin) = (a.cos(), a.sin())
        return (concatenated([cos, cos], axis: -1).to(dtype), concatenated([-sin, sin], axis: -1).to(dtype))
    }

    /// x (B, H, T, D) rotated: [x₁ cos − x₂ sin, x₂ cos + x₁ sin] with x = [x₁, x₂] split at D/2, computed as
    /// x·[cos, cos] + [x₂, x₁]·[−sin, sin] (the halves swapped by one roll): four tensor ops instead of nine, and the
    /// same numbers (a − b and a + (−b) round alike).
    static func apply(_ x: Tensor, cos: Tensor, sin: Tensor) -> Tensor {
        x * cos + x.rolled(by: x.size(-1) / 2, axis: -1) * sin
    }
}
