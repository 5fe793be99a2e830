import CTorch

/// The process's C heap, where libtorch keeps CPU tensors.
public enum HostMemory {
    /// Returns the heap's free memory to the operating system when at least `minimumFreeBytes` of it is free.
    ///
    /// glibc keeps freed blocks below its adaptive mmap threshold (up to 32 MiB: most activation and weight-sized
    /// buffers) in its arenas, resident. After a training step, its freed activations would stay resident while the
    /// next phase allocates in other sizes (a sampler's packed weights, the next batch's activations), and the peak
    /// grows step after step. Trimming between phases keeps the resident set to what is live. Checking is one
    /// `mallinfo2` call; trimming only happens past the threshold, so small models never pay for faulting pages back
    /// in.
    /// - Returns: the free bytes the heap held before, `nil` where the C library cannot tell (nothing is done).
    @discardableResult
    public static func trim(ifFreeAtLeast minimumFreeBytes: Int = 64 << 20) -> Int? {
        let free = pt_trim_heap(Int64(minimumFreeBytes))
        return free < 0 ? nil : Int(free)
    }
}
