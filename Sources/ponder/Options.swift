import ArgumentParser
import Foundation
import PonderCore
import PonderModels
import Torch

/// Which model to load and how to compute with it.
struct ModelOptions: ParsableArguments {
    @Option(name: .long, help: "A Hugging Face model directory (config.json, model.safetensors, tokenizer.json).")
    var model: String

    @Option(name: .long, help: "Compute dtype: float32, bfloat16 or float16 (default: the checkpoint's).")
    var dtype: String?

    @Option(name: .long, help: "Threads for libtorch (default: all cores).")
    var threads: Int?

    @Flag(name: .long, help: "Do not reuse cached prompt prefixes across requests (to measure what reuse saves).")
    var noPrefixCache = false

    func validate() throws {
        if let dtype, DType(name: dtype)?.isFloatingPoint != true {
            throw ValidationError("--dtype \(dtype) is not a floating-point dtype (use float32, bfloat16 or float16)")
        }
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
    }

    /// Loads the engine, reporting what was loaded on standard error.
    func loadEngine() throws -> Engine {
        if let threads { Torch.threadCount = threads }
        let url = URL(fileURLWithPath: model)
        let engine = try Engine.load(
            url, options: Engine.Options(dtype: dtype.flatMap(DType.init(name:)), prefixCacheBytes: noPrefixCache ? 0 : 256 << 20))
        let c = engine.model.configuration
        FileHandle.standardError.write(
            Data(
                "loaded \(url.lastPathComponent): \(c.family.rawValue), \(engine.model.parameterCount) parameters, \(engine.model.dtype), device \(Device.best), \(Torch.threadCount) threads\n"
                    .utf8))
        return engine
    }
}
