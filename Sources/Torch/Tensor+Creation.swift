import CTorch

extension Tensor {
    /// A tensor of uninitialised memory.
    public static func empty(_ shape: [Int], dtype: DType = .float32, device: Device = .cpu) -> Tensor {
        make("empty") { out in shape.int64s { pt_empty(out, $0, $1, dtype.rawValue, device.code) } }
    }

    /// A tensor of zeros.
    public static func zeros(_ shape: [Int], dtype: DType = .float32, device: Device = .cpu) -> Tensor {
        make("zeros") { out in shape.int64s { pt_zeros(out, $0, $1, dtype.rawValue, device.code) } }
    }

    /// A tensor of ones.
    public static func ones(_ shape: [Int], dtype: DType = .float32, device: Device = .cpu) -> Tensor {
        make("ones") { out in shape.int64s { pt_ones(out, $0, $1, dtype.rawValue, device.code) } }
    }

    /// A tensor with every element equal to `value`.
    public static func full<S: TensorScalar>(_ shape: [Int], value: S, dtype: DType = .float32, device: Device = .cpu) -> Tensor {
        make("full") { out in shape.int64s { pt_full(out, $0, $1, value.ptScalar, dtype.rawValue, device.code) } }
    }

    /// The integers `start ..< end` stepping by `step`.
    public static func arange(_ start: Int = 0, _ end: Int, step: Int = 1, dtype: DType = .int64, device: Device = .cpu) -> Tensor {
        make("arange") { out in
            pt_arange(out, start.ptScalar, end.ptScalar, step.ptScalar, dtype.rawValue, device.code)
        }
    }

    /// The numbers `start ..< end` stepping by `step`, in floating point.
    public static func arange(_ start: Double, _ end: Double, step: Double = 1, dtype: DType = .float32, device: Device = .cpu) -> Tensor {
        make("arange") { out in
            pt_arange(out, start.ptScalar, end.ptScalar, step.ptScalar, dtype.rawValue, device.code)
        }
    }

    /// Standard normal samples. Without a generator, libtorch's global one (`Torch.manualSeed`) is used.
    public static func randn(_ shape: [Int], dtype: DType = .float32, device: Device = .cpu, generator: RandomGenerator? = nil) -> Tensor {
        make("randn") { out in
            shape.int64s { pt_randn(out, $0, $1, dtype.rawValue, device.code, generator?.handle) }
        }
    }

    /// Uniform samples in [0, 1).
    public static func rand(_ shape: [Int], dtype: DType = .float32, device: Device = .cpu, generator: RandomGenerator? = nil) -> Tensor {
        make("rand") { out in
            shape.int64s { pt_rand(out, $0, $1, dtype.rawValue, device.code, generator?.handle) }
        }
    }

    /// Uniform integers in `low ..< high`.
    public static func randint(
        _ low: Int, _ high: Int, _ shape: [Int], dtype: DType = .int64, device: Device = .cpu, generator: RandomGenerator? = nil
    ) -> Tensor {
        make("randint") { out in
            shape.int64s { pt_randint(out, Int64(low), Int64(high), $0, $1, dtype.rawValue, device.code, generator?.handle) }
        }
    }

    /// A tensor of zeros with this tensor's shape, dtype and device.
    public func zerosLike() -> Tensor { .zeros(shape, dtype: dtype, device: device) }
    /// A tensor of ones with this tensor's shape, dtype and device.
    public func onesLike() -> Tensor { .ones(shape, dtype: dtype, device: device) }

    // MARK: - Conversion

    /// The tensor converted to `dtype` (no copy when it already has it).
    public func to(_ dtype: DType) -> Tensor {
        // libtorch returns the tensor itself when no conversion is needed; so does this, without a dispatch.
        dtype == self.dtype ? self : Tensor.make("to(\(dtype))") { pt_to_dtype($0, handle, dtype.rawValue) }
    }
    /// The tensor moved to `device` (no copy when it is already there).
    public func to(_ device: Device) -> Tensor {
        Tensor.make("to(\(device))") { pt_to_device($0, handle, device.code, device.index) }
    }
    /// A copy with its own storage.
    public func clone() -> Tensor { Tensor.make("clone") { pt_clone($0, handle) } }
    /// The tensor in contiguous row-major layout (no copy when it already is).
    public func contiguous() -> Tensor { Tensor.make("contiguous") { pt_contiguous($0, handle) } }
}
