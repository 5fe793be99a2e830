import ArgumentParser
import Foundation
import PonderCore
import PonderModels
import PonderSearch
import PonderTasks

struct Solve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Answer one question with a test-time strategy; show the trace and the token usage.")

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var endpointOptions: EndpointOptions
    @Option(name: .long, help: "cot, self-consistency, best-of-n, confidence, beam, dvts, mcts, self-refine, budget or allocator.")
    var strategy: StrategyName = .selfConsistency
    @Option(name: .long, help: "Samples, beams or rollouts: the strategy's budget.") var budget = 8
    @OptionGroup var search: SearchConfiguration
    @Option(
        name: .long,
        help:
            "The reference answer, if known: the result is graded against it. Strategies never see it; only --scorer oracle or monte-carlo-oracle read it (an upper bound)."
    ) var answer: String?
    @Option(name: .long, help: "Answer style asked for: tagged (Ponder's models), boxed or plain.") var style: AnswerStyle = .tagged
    @Flag(name: .long, help: "Send the question through the chat template.") var chat = false
    @Argument(help: "The question (for the bundled model, e.g. \"Compute 34+27-15+8.\").") var question: String

    func validate() throws {
        if budget < 1 { throw ValidationError("--budget must be at least 1") }
        if search.isUpperBound(strategy), answer == nil {
            throw ValidationError(
                "--scorer \(search.scorer.description) reads the reference answer: give --answer, or use a reference-free scorer (vote, judge)"
            )
        }
    }

    func run() async throws {
        let engine = try endpointOptions.languageModel(local: modelOptions)
        let problem = Problem(id: "question", prompt: question, answer: answer)
        let task = TaskFormat(name: "question", style: style, chat: chat)
        // Only an oracle scorer is given the reference; the strategy gets the question alone.
        let references = ReferenceAnswers(answer == nil ? [] : [problem])
        let result = try await search.strategy(strategy, budget: budget, model: engine, references: references).run(
            question: problem.question, prompt: task.prompt(for: problem), model: engine)
        let bound = search.isUpperBound(strategy) ? "  (upper bound: --scorer \(search.scorer.description) read the reference answer)" : ""
        print("answer: \(result.answer ?? "(none)")\(bound)")
        if answer != nil {
            let verdict = try await task.grade(task.completion(answering: result.answer ?? ""), problem: problem)
            print("graded against --answer: \(result.answer != nil && verdict.isEquivalent ? "correct" : "wrong")")
        }
        print("--- trace (\(result.trace.count) nodes) ---")
        for node in result.trace.prefix(40) {
            let text = node.text.replacingOccurrences(of: "\n", with: "⏎")
            print(
                String(
                    format: "#%d ← %@  score %@  visits %d  %@", node.id, node.parent.map { "#\($0)" } ?? "root",
                    node.score.map { String(format: "%.2f", $0) } ?? "-", node.visits, String(text.prefix(70))))
        }
        if result.trace.count > 40 { print("… \(result.trace.count - 40) more nodes") }
        let u = result.usage
        print(
            "usage: \(u.generatedTokens) generated, \(u.scoringTokens) for scoring, \(u.prunedTokens) pruned, \(u.modelCalls) model calls; prompt tokens \(u.model.promptTokens), of which \(u.model.cachedPromptTokens) from the KV cache"
        )
    }
}
