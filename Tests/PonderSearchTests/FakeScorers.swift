import PonderCore
import PonderSearch

/// A scorer with fixed scores: the score of a text is looked up by the text's last step (or the whole text), with
/// a default; every call costs `cost`.
struct TableScorer: Scorer {
    var table: [String: Double]
    var defaultScore: Double = 0
    var cost = ScoringCost()

    func score(_ text: String) -> Double {
        if let s = table[text] { return s }
        let matches = table.filter { text.hasSuffix($0.key) }
        return matches.max { $0.key.count < $1.key.count }?.value ?? defaultScore
    }

    func scoreOutcomes(_ solutions: [String], in context: ScoringContext) async throws -> ScoreBatch {
        ScoreBatch(scores: solutions.map(score), cost: cost)
    }
}
