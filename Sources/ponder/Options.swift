import ArgumentParser
import Foundation
import PonderCore
import PonderModels
import PonderRemote
import Torch

/// Which model to load and how to compute with it.
struct ModelOptions: ParsableArguments {
    @Option(name: .long, help: "A Hugging Face model directory (config.json, model.safetensors, tokenizer.json).")
    var model: String?

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
        guard let model else { throw ValidationError("--model DIR is required") }
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

/// A model behind an OpenAI-compatible endpoint instead of a local directory (`solve`, `eval`, `sample`, and the teacher
/// of `distill`).
struct EndpointOptions: ParsableArguments {
    @Option(name: .long, help: "An OpenAI-compatible endpoint (vLLM, SGLang, `ponder serve`), e.g. http://127.0.0.1:8000/v1, instead of a local model directory.")
    var endpoint: String?
    @Option(name: .long, help: "The model name the endpoint serves (with --endpoint).") var apiModel: String?
    @Option(name: .long, help: "Environment variable holding the endpoint's API key.") var apiKeyEnv: String?
    @Option(name: .long, help: "Most requests in flight to the endpoint at once.") var maxConcurrentRequests = 16
    @Option(name: .long, help: "Seconds allowed for one request to the endpoint.") var requestTimeout = 600.0
    @Option(name: .long, help: "Retries of a request that failed transiently (timeouts, 429, 5xx).") var maxRetries = 3
    @Flag(name: .long, help: "Do not ask the endpoint for token ids (return_token_ids): for APIs that refuse unknown fields.")
    var noTokenIds = false

    func validate() throws {
        if endpoint != nil && apiModel == nil { throw ValidationError("--endpoint needs --api-model NAME (the model the endpoint serves)") }
        if endpoint == nil && (apiModel != nil || apiKeyEnv != nil) { throw ValidationError("--api-model and --api-key-env need --endpoint URL") }
        if maxConcurrentRequests < 1 { throw ValidationError("--max-concurrent-requests must be at least 1") }
        if !(requestTimeout > 0) { throw ValidationError("--request-timeout must be positive") }
        if maxRetries < 0 { throw ValidationError("--max-retries must be >= 0") }
    }

    /// The remote model, or the local engine of `local` when no endpoint is given.
    func languageModel(local: ModelOptions) throws -> any LanguageModel {
        guard let remote = try remoteModel() else {
            guard local.model != nil else { throw ValidationError("give --model DIR or --endpoint URL --api-model NAME") }
            return try local.loadEngine()
        }
        if local.model != nil { throw ValidationError("give either --model or --endpoint, not both") }
        return remote
    }

    /// The model behind --endpoint, or `nil` when none is given.
    func remoteModel() throws -> RemoteModel? {
        guard let endpoint, let apiModel else { return nil }
        var key: String?
        if let apiKeyEnv {
            guard let k = ProcessInfo.processInfo.environment[apiKeyEnv], !k.isEmpty else {
                throw ValidationError("--api-key-env \(apiKeyEnv): that environment variable is not set or empty")
            }
            key = k
        }
        let model = try RemoteModel(
            endpoint: endpoint, apiModel: apiModel, apiKey: key,
            options: RemoteModel.Options(
                timeout: .milliseconds(Int64(requestTimeout * 1000)), maxRetries: maxRetries, maxConcurrentRequests: maxConcurrentRequests,
                requestTokenIDs: !noTokenIds))
        FileHandle.standardError.write(Data("using \(apiModel) at \(model.endpoint)\n".utf8))
        return model
    }
}
