import PonderConfiguration
import PonderCore
import PonderSearch
import PonderTokenizers

/// Test-time compute asked for by one request: a strategy and its settings.
///
/// It comes from the body field `"ponder": {"strategy": "self-consistency", "n": 8, ...}` or from a model-name prefix
/// (`self-consistency-8/ponder-tiny-base`, as optillm routes). Settings live in the request only, never in shared
/// state. Only reference-free scoring is offered: a server never has the answer key, so the scorer of the scored
/// strategies (best-of-n, beam, dvts, mcts, allocator) is `vote` (answer agreement) unless the request asks for `judge`.
public struct StrategySpec: Sendable, Hashable {
    /// The strategy.
    public var name: StrategyName
    /// Its budget: samples, beams, or MCTS iterations per unit (default 8).
    public var budget: Int
    /// Expansions per beam or MCTS node.
    public var expansions: Int
    /// Most steps of a beam or MCTS path.
    public var maxSteps: Int
    /// Text that ends a reasoning step.
    public var delimiter: String
    /// MCTS iterations per unit of budget.
    public var iterationsPerUnit: Int
    /// Token budget per unit of the compute-optimal allocator.
    public var tokenBudget: Int
    /// The reference-free scorer of the scored strategies: `vote` (answer agreement, the default) or `judge`.
    public var scorer: ScorerChoice = .vote

    /// Most budget one request may ask for.
    public static let maxBudget = 64

    /// Makes a spec with SearchConfiguration's defaults.
    public init(
        name: StrategyName, budget: Int = 8, expansions: Int = 2, maxSteps: Int = 12, delimiter: String = "\n\n",
        iterationsPerUnit: Int = 4, tokenBudget: Int = 2000
    ) {
        self.name = name
        self.budget = budget
        self.expansions = expansions
        self.maxSteps = maxSteps
        self.delimiter = delimiter
        self.iterationsPerUnit = iterationsPerUnit
        self.tokenBudget = tokenBudget
    }

    static let fields: Set<String> = [
        "strategy", "n", "budget", "expansions", "max_steps", "delimiter", "iterations_per_unit", "token_budget", "scorer",
    ]

    /// Parses the `ponder` body field.
    static func parse(_ members: [(String, JinjaValue)]) throws -> StrategySpec {
        var values: [String: JinjaValue] = [:]
        for (k, v) in members {
            guard fields.contains(k) else { throw APIError.invalid("ponder.\(k)", "unrecognized field ponder.\(k)") }
            values[k] = v
        }
        let f = Fields(values)
        func field<T>(_ key: String, _ read: (String) throws -> T?) throws -> T? {
            do { return try read(key) } catch var e as APIError {
                e.param = "ponder.\(key)"
                e.message = "ponder." + e.message
                throw e
            }
        }
        guard let raw = try field("strategy", { try f.string($0) }) else {
            throw APIError.invalid("ponder.strategy", "ponder.strategy is required (\(StrategyName.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        guard let name = StrategyName(rawValue: raw) else {
            throw APIError.invalid(
                "ponder.strategy", "ponder.strategy = \(raw): use one of \(StrategyName.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        var spec = StrategySpec(name: name)
        if let scorer = try field("scorer", { try f.string($0) }) {
            guard scorer == "vote" || scorer == "judge" else {
                throw APIError.invalid(
                    "ponder.scorer",
                    "ponder.scorer = \(scorer): the server offers the reference-free scorers vote (answer agreement) and judge (the model rates solutions)")
            }
            spec.scorer = ScorerChoice(argument: scorer)!
        }
        func bounded(_ key: String, _ lo: Int, _ hi: Int) throws -> Int? {
            guard let v = try field(key, { try f.int($0) }) else { return nil }
            guard v >= lo, v <= hi else { throw APIError.invalid("ponder.\(key)", "ponder.\(key) = \(v): must be between \(lo) and \(hi)") }
            return v
        }
        if let n = try bounded("n", 1, maxBudget) ?? bounded("budget", 1, maxBudget) { spec.budget = n }
        if let v = try bounded("expansions", 1, 8) { spec.expansions = v }
        if let v = try bounded("max_steps", 1, 64) { spec.maxSteps = v }
        if let v = try bounded("iterations_per_unit", 1, 16) { spec.iterationsPerUnit = v }
        if let v = try bounded("token_budget", 16, 1 << 16) { spec.tokenBudget = v }
        if let d = try field("delimiter", { try f.string($0) }) {
            guard !d.isEmpty else { throw APIError.invalid("ponder.delimiter", "ponder.delimiter must not be empty") }
            spec.delimiter = d
        }
        return spec
    }

    /// Splits `strategy-N/model` (or `strategy/model`) into a spec and the model name; a name without `/` has no
    /// strategy. A prefix that names no strategy is a 404 (no such model).
    static func split(modelName: String) throws -> (StrategySpec?, String) {
        guard let slash = modelName.lastIndex(of: "/") else { return (nil, modelName) }
        let prefix = String(modelName[..<slash])
        let base = String(modelName[modelName.index(after: slash)...])
        if let name = StrategyName(rawValue: prefix) { return (StrategySpec(name: name), base) }
        if let dash = prefix.lastIndex(of: "-"), let n = Int(prefix[prefix.index(after: dash)...]),
            let name = StrategyName(rawValue: String(prefix[..<dash]))
        {
            guard n >= 1, n <= maxBudget else {
                throw APIError.invalid("model", "model = \(modelName): the strategy budget \(n) must be between 1 and \(maxBudget)")
            }
            return (StrategySpec(name: name, budget: n), base)
        }
        // Not a strategy prefix: the whole name is the model (e.g. an organisation/model id).
        return (nil, modelName)
    }

    /// The strategy, sampling with `parameters` (its `n` is ignored: the budget sets the number of samples), built
    /// by PonderSearch's ``SearchConfiguration`` exactly as `ponder solve` builds it, with no answer key.
    public func strategy(parameters: SamplingParameters, model: any LanguageModel) throws -> any SearchStrategy {
        var parameters = parameters
        parameters.logprobs = false
        var configuration = SearchConfiguration.defaults
        configuration.expansions = expansions
        configuration.maxSteps = maxSteps
        configuration.delimiter = delimiter
        configuration.iterationsPerUnit = iterationsPerUnit
        configuration.scorer = scorer
        // The judge rates greedily and writes at most as many tokens as the request allows a sample (at most 512).
        configuration.judgeTokens = Swift.max(1, Swift.min(512, parameters.maxTokens))
        return try configuration.strategy(name, budget: budget, model: model, parameters: parameters)
    }
}
