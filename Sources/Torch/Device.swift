import CTorch

/// Where a tensor's memory lives.
public enum Device: Sendable, Hashable, CustomStringConvertible {
    case cpu
    /// A CUDA GPU by index. Available only when the libtorch found at run time has CUDA (`Torch.cudaIsAvailable`).
    case cuda(Int)

    /// The first CUDA device when one is usable, else the CPU. Check `Torch.cudaIsAvailable` to report what is used.
    public static var best: Device { Torch.cudaIsAvailable ? .cuda(0) : .cpu }

    var code: Int32 {
        switch self {
        case .cpu: Int32(PT_CPU)
        case .cuda: Int32(PT_CUDA)
        }
    }
    var index: Int32 {
        switch self {
        case .cpu: -1
        case .cuda(let i): Int32(i)
        }
    }

    public var description: String {
        switch self {
        case .cpu: "cpu"
        case .cuda(let i): "cuda:\(i)"
        }
    }
}
