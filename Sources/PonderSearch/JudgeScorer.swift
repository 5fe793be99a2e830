import Foundation
import PonderCore
import PonderVerifiers

/// Model as judge: asks a language model to rate a solution and parses the rating robustly.
///
/// The judge sees the problem and the solution through ``template`` (`{problem}` and `{solution}` are replaced) and
/// should answer with a score from 0 to ``scale``. The parser ignores the judge's reasoning (text before
/// `</think>`), prefers `Score: 7`, `7/10` or `7 out of 10`, else takes the last number; the score is clamped and
/// divided by `scale`. An answer without a number scores ``fallbackScore``.
///
/// A base model without a chat template is asked by a text prompt (``textTemplate``, which ends where the rating
/// should follow); ``style`` picks the form, by default the form of the prompt being solved.
public struct JudgeScorer: Scorer {
    /// How the judge is asked.
    public enum Style: String, Sendable, Hashable, Codable {
        /// A chat message (``template``), for models with a chat template.
        case chat
        /// A text prompt (``textTemplate``) the model continues with its rating: works on base models.
        case text
        /// Text when the prompt being solved is text, chat when it is a conversation.
        case matchPrompt
    }

    /// The judge.
    public var model: any LanguageModel
    /// The request text, with `{problem}` and `{solution}` placeholders.
    public var template: String
    /// The text prompt for base models, with the same placeholders; the model continues it with a number.
    public var textTemplate: String
    /// Chat or text.
    public var style: Style
    /// The top of the rating scale.
    public var scale: Double
    /// Score of an unparseable answer, in [0, 1].
    public var fallbackScore: Double
    /// Decoding settings for the judge (greedy by default).
    public var parameters: SamplingParameters

    /// The default request.
    public static let defaultTemplate = """
        Rate the following solution to the problem for correctness on a scale from 0 (wrong) to 10 (certainly correct).

        Problem:
        {problem}

        Solution:
        {solution}

        Reply with "Score: N".
        """

    /// The default text prompt: short, so it fits a small model's context, and ending where the rating goes.
    public static let defaultTextTemplate = """
        Problem: {problem}
        Solution: {solution}
        Is the solution correct? Score from 0 (wrong) to 10 (certainly correct).
        Score:
        """

    /// Makes the scorer.
    public init(
        model: any LanguageModel, template: String = JudgeScorer.defaultTemplate, textTemplate: String = JudgeScorer.defaultTextTemplate,
        style: Style = .matchPrompt, scale: Double = 10, fallbackScore: Double = 0, parameters: SamplingParameters = .greedy(maxTokens: 512)
    ) {
        self.model = model
        self.template = template
        self.textTemplate = textTemplate
        self.style = style
        self.scale = scale
        self.fallbackScore = fallbackScore
        self.parameters = parameters
    }

    public func scoreOutcomes(_ solutions: [String], in context: ScoringContext) async throws -> ScoreBatch {
        try SearchError.require(scale > 0 && scale.isFinite, "scale", scale, "must be a finite number > 0")
        var scores: [Double] = []
        var cost = ScoringCost()
        let asText: Bool
        switch style {
        case .chat: asText = false
        case .text: asText = true
        case .matchPrompt: if case .text = context.prompt { asText = true } else { asText = false }
        }
        for s in solutions {
            let text = (asText ? textTemplate : template).replacingOccurrences(of: "{problem}", with: context.question.prompt)
                .replacingOccurrences(of: "{solution}", with: s)
            var p = parameters
            p.n = 1
            let response = try await model.complete(CompletionRequest(prompt: asText ? .text(text) : .chat([.user(text)]), parameters: p))
            cost = cost + ScoringCost(usage: response.usage, modelCalls: 1)
            // A text prompt ends with "Score:", so the continuation is read as the rating that follows it.
            let rating = response.completions.first.flatMap { Self.parseRating((asText ? "Score:" : "") + $0.text, scale: scale) }
            scores.append(rating.map { min(max($0, 0), scale) / scale } ?? fallbackScore)
        }
        return ScoreBatch(scores: scores, cost: cost)
    }

    /// The rating in a judge's answer, or `nil` when it has none. Reasoning before `</think>` is ignored.
    public static func parseRating(_ answer: String, scale: Double = 10) -> Double? {
        let text = ThinkParser().answerRegion(answer)
        let lower = text.lowercased()
        let number = #"(-?\d+(?:\.\d+)?)"#
        let patterns = [
            #"score\s*[:=]?\s*\**\s*"# + number, number + #"\s*/\s*"# + Self.format(scale),
            number + #"\s+out\s+of\s+"# + Self.format(scale),
            #"rating\s*[:=]?\s*\**\s*"# + number,
        ]
        for p in patterns {
            if let v = lastMatch(p, in: lower) { return v }
        }
        return lastMatch(number, in: lower)
    }

    static func format(_ scale: Double) -> String { scale == scale.rounded() ? String(Int(scale)) : String(scale) }

    static func lastMatch(_ pattern: String, in text: String) -> Double? {
        guard let re = try? NSRegularExpression(pattern: pattern) else { return nil }
        let ns = text as NSString
        guard let m = re.matches(in: text, range: NSRange(location: 0, length: ns.length)).last, m.numberOfRanges > 1 else { return nil }
        return Double(ns.substring(with: m.range(at: 1)))
    }
}
