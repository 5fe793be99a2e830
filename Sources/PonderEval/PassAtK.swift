/// The unbiased pass@k estimator (Chen et al. 2021, "Evaluating Large Language Models Trained on Code").
///
/// With `n` samples of which `c` are correct, pass@k = `1 − C(n−c, k) / C(n, k)`: the probability that at least one
/// of `k` samples drawn without replacement is correct. Computed as `1 − ∏_{i=n−c+1}^{n} (1 − k/i)`, which never
/// forms a binomial coefficient and so cannot overflow.
public enum PassAtK {
    /// pass@k for one problem; throws when `n < 1`, `c` is outside `0...n`, or `k` is outside `1...n`.
    public static func estimate(n: Int, c: Int, k: Int) throws -> Double {
        guard n >= 1 else { throw EvalError.invalidArgument("n = \(n): must be at least 1") }
        guard c >= 0 && c <= n else { throw EvalError.invalidArgument("c = \(c): must be in 0...n (n = \(n))") }
        guard k >= 1 && k <= n else { throw EvalError.invalidArgument("k = \(k): must be in 1...n (n = \(n))") }
        if n - c < k { return 1 }  // every k-subset holds a correct sample
        if c == 0 { return 0 }
        var failAll = 1.0  // C(n−c, k) / C(n, k) = ∏_{i=n−c+1}^{n} (1 − k/i)
        for i in (n - c + 1)...n { failAll *= 1 - Double(k) / Double(i) }
        return 1 - failAll
    }

    /// Mean pass@k over problems, each given as `(n, c)`.
    public static func mean(_ problems: [(n: Int, c: Int)], k: Int) throws -> Double {
        guard !problems.isEmpty else { throw EvalError.invalidArgument("problems: must not be empty") }
        var total = 0.0
        for p in problems { total += try estimate(n: p.n, c: p.c, k: k) }
        return total / Double(problems.count)
    }
}
