import CTorch

/// A seeded random-number generator (libtorch's Philox/MT CPU generator) with savable state.
public final class RandomGenerator: @unchecked Sendable {
    let handle: pt_generator

    /// A generator started from `seed`.
    public init(seed: UInt64) {
        var out: pt_generator?
        precondition(pt_generator_new(&out, seed) == 0 && out != nil, String(cString: pt_last_error()))
        handle = out!
    }

    deinit { pt_generator_free(handle) }

    /// Restarts the sequence from `seed`.
    public func reseed(_ seed: UInt64) { check(pt_generator_set_seed(handle, seed), "RandomGenerator.reseed") }

    /// The generator's full state (a uint8 tensor) for checkpoints.
    public var state: Tensor {
        get { Tensor.make("RandomGenerator.state") { pt_generator_get_state($0, handle) } }
        set { check(pt_generator_set_state(handle, newValue.handle), "RandomGenerator.state") }
    }
}

/// Process-wide libtorch settings.
public enum Torch {
    /// Threads libtorch uses inside one op (defaults to the machine's cores).
    public static var threadCount: Int {
        get { Int(pt_get_num_threads()) }
        set { pt_set_num_threads(Int32(newValue)) }
    }
    /// Seeds libtorch's global generator (used by random ops given no generator).
    public static func manualSeed(_ seed: UInt64) { pt_manual_seed(seed) }
    /// Whether a CUDA GPU is usable through the libtorch found at run time.
    public static var cudaIsAvailable: Bool { pt_cuda_is_available() }
    /// Number of usable CUDA GPUs.
    public static var cudaDeviceCount: Int { Int(pt_cuda_device_count()) }
    /// Whether gradient recording is on for this thread.
    public static var isGradEnabled: Bool { pt_is_grad_enabled() }
}
