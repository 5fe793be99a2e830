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

/// Decoding settings, named as in the OpenAI API where possible.
struct SamplingOptions: ParsableArguments {
    @Option(name: .long, help: "Most new tokens per completion (default: 256, or what the context leaves).") var maxTokens: Int?
    @Option(name: .long, help: "Sampling temperature (0 = greedy).") var temperature = 0.7
    @Option(name: .long, help: "Keep the k most likely tokens.") var topK: Int?
    @Option(name: .long, help: "Nucleus sampling threshold.") var topP = 1.0
    @Option(name: .long, help: "Drop tokens less likely than min-p × the most likely one.") var minP = 0.0
    @Option(name: .long, help: "Stop at this text (repeatable).") var stop: [String] = []
    @Option(name: .long, help: "Random seed for reproducible samples.") var seed: UInt64?
    @Option(name: .customLong("n"), help: "Completions per prompt.") var n = 1
    @Option(name: .long, help: "Budget forcing: fewest thinking tokens (an early </think> becomes \"Wait\").") var minThinkingTokens: Int?
    @Option(name: .long, help: "Budget forcing: most thinking tokens before </think> is forced.") var maxThinkingTokens: Int?
    @Option(name: .long, help: "low, medium or high: a preset maximum thinking length.") var reasoningEffort: ReasoningEffort?

    var parameters: SamplingParameters {
        var budget: ThinkingBudget? = reasoningEffort?.budget
        if minThinkingTokens != nil || maxThinkingTokens != nil {
            budget = ThinkingBudget(minThinkingTokens: minThinkingTokens, maxThinkingTokens: maxThinkingTokens ?? budget?.maxThinkingTokens)
        }
        return SamplingParameters(
            maxTokens: maxTokens ?? 256, temperature: temperature, topK: topK, topP: topP, minP: minP, stop: stop, seed: seed, n: n,
            thinking: budget)
    }

    func validate() throws {
        do { try parameters.validate() } catch { throw ValidationError("\(error)") }
    }
}

extension ReasoningEffort: ExpressibleByArgument {}
