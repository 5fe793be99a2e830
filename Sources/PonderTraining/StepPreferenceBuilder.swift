import Foundation
import PonderCore
import PonderSearch
import PonderTasks
import PonderVerifiers

/// Step-level preference pairs from Monte Carlo tree search: the "MCTS + DPO" recipe (MCTS-DPO, Xie et al. 2024;
/// the per-step pairs of rStar-Math, Guan et al. 2025; the pair layout of Step-DPO, Lai et al. 2024).
///
/// For each training problem, ``MonteCarloTreeSearch`` (PUCT) grows a tree of solution steps from the policy. A node's
/// value is Math-Shepherd's estimate: the fraction of ``rollouts`` completions from its prefix that the task grades
/// right against the problem's reference (a finished solution scores 1 or 0). Reading the reference is fine here:
/// this is training data, not evaluation. The backed-up mean value of a node is its Q.
///
/// At every expanded node, among its children visited at least ``Selection/minimumVisits`` times, the highest-Q child
/// is chosen and the lowest-Q child rejected (MCTS-DPO's and rStar-Math's rule), when their Q differ by at least
/// ``Selection/margin``. The pair's prompt is the problem's prompt followed by the steps they share (so it ends at a
/// step boundary: after the delimiter, or at the prompt itself for the first step); chosen and rejected are the two
/// next steps. A step that does not end the solution is marked incomplete (`chosen_complete`/`rejected_complete`
/// false), so DPO does not append the end-of-sequence token to it.
///
/// rStar-Math builds such pairs to train its process preference model (a Bradley–Terry loss); MCTS-DPO trains the
/// policy on them with DPO, as `ponder dpo` does here (`ponder train-rm --kind orm` reads the same file). What is
/// simplified: one pair per decision point (rStar-Math takes the two highest and the two lowest); no requirement that
/// the chosen step's subtree reaches a right answer and the rejected one's a wrong one (the Q margin and the visit
/// floor stand in for it); values come from rollouts graded by the task, not from rStar-Math's terminal-guided
/// annotation or MCTS-DPO's self-evaluation; the tree is one search, not several rounds of self-evolution.
public struct StepPreferenceBuilder: Sendable {
    /// Which sibling pairs are kept.
    public struct Selection: Sendable, Hashable {
        /// Least difference between the chosen and the rejected step's Q (backed-up mean value, in [0, 1]).
        public var margin: Double
        /// Least visits of each step of a pair (a Q from one rollout is noise).
        public var minimumVisits: Int
        /// Most pairs kept per problem: the widest Q gaps first, then the shallower decision points.
        public var maxPairsPerProblem: Int

        /// Makes a selection.
        public init(margin: Double = 0.2, minimumVisits: Int = 2, maxPairsPerProblem: Int = 4) {
            self.margin = margin
            self.minimumVisits = minimumVisits
            self.maxPairsPerProblem = maxPairsPerProblem
        }

        /// Checks the settings, naming the first bad one.
        public func validate() throws {
            guard margin > 0, margin <= 1 else {
                throw TrainingError.invalidConfiguration("margin = \(margin): must be in (0, 1] (Q values are fractions of right rollouts)")
            }
            guard minimumVisits >= 1 else {
                throw TrainingError.invalidConfiguration("minimumVisits = \(minimumVisits): must be at least 1")
            }
            guard maxPairsPerProblem >= 1 else {
                throw TrainingError.invalidConfiguration("maxPairsPerProblem = \(maxPairsPerProblem): must be at least 1")
            }
        }
    }

    /// A step-level pair in TRL's preference format (`prompt`, `chosen`, `rejected`), with what it was chosen by.
    public struct Record: Sendable, Codable, Equatable {
        /// The problem's id.
        public var id: String
        /// The problem's prompt text followed by the shared steps.
        public var prompt: String
        /// The higher-Q next step.
        public var chosen: String
        /// The lower-Q next step.
        public var rejected: String
        /// Whether the chosen step ends the solution (DPO then appends the end-of-sequence token).
        public var chosenComplete: Bool
        /// Whether the rejected step ends the solution.
        public var rejectedComplete: Bool
        /// Q (backed-up mean value) of the chosen step.
        public var chosenQ: Double
        /// Q of the rejected step.
        public var rejectedQ: Double
        /// Visits of the chosen step.
        public var chosenVisits: Int
        /// Visits of the rejected step.
        public var rejectedVisits: Int
        /// Steps in the shared prefix (0: the pair is the first step).
        public var depth: Int
        /// The tree nodes of the chosen and rejected steps (indices into the search trace).
        public var nodes: [Int]

        enum CodingKeys: String, CodingKey {
            case id, prompt, chosen, rejected, depth, nodes
            case chosenComplete = "chosen_complete"
            case rejectedComplete = "rejected_complete"
            case chosenQ = "chosen_q"
            case rejectedQ = "rejected_q"
            case chosenVisits = "chosen_visits"
            case rejectedVisits = "rejected_visits"
        }
    }

    /// The policy that expands the tree and rolls out.
    public var model: any LanguageModel
    /// How problems are asked and graded.
    public var task: any ReasoningTask
    /// Sampling settings for expansions and rollouts (`n`, `stop` and the seed are set per call).
    public var parameters: SamplingParameters
    /// MCTS iterations per problem.
    public var iterations: Int
    /// Next steps sampled when a node is expanded.
    public var expansions: Int
    /// PUCT's exploration constant.
    public var exploration: Double
    /// Rollouts from each new node that estimate its value.
    public var rollouts: Int
    /// Text that ends a step.
    public var delimiter: String
    /// Most steps per solution.
    public var maxDepth: Int
    /// Which pairs are kept.
    public var selection: Selection

    /// Makes a builder.
    public init(
        model: any LanguageModel, task: any ReasoningTask, parameters: SamplingParameters, iterations: Int = 24, expansions: Int = 4,
        exploration: Double = 3, rollouts: Int = 4, delimiter: String = "\n\n", maxDepth: Int = 20, selection: Selection = Selection()
    ) {
        self.model = model
        self.task = task
        self.parameters = parameters
        self.iterations = iterations
        self.expansions = expansions
        self.exploration = exploration
        self.rollouts = rollouts
        self.delimiter = delimiter
        self.maxDepth = maxDepth
        self.selection = selection
    }

    /// Checks the settings, naming the first bad one.
    public func validate() throws {
        try selection.validate()
        guard rollouts >= 1 else { throw TrainingError.invalidConfiguration("rollouts = \(rollouts): must be at least 1") }
        guard expansions >= 2 else {
            throw TrainingError.invalidConfiguration("expansions = \(expansions): must be at least 2 (a pair needs two sibling steps)")
        }
        do { try search(for: Problem(id: "", prompt: ""), seed: 0).validate() } catch let e as SearchError {
            throw TrainingError.invalidConfiguration(e.localizedDescription)
        }
    }

    /// The task's grade as a verifier, so rollouts are judged as the task judges answers.
    struct TaskVerifier: Verifier {
        let task: any ReasoningTask
        func verify(_ completion: String, against problem: Problem) async throws -> Verdict {
            try await task.grade(completion, problem: problem)
        }
    }

    /// The search run on `problem`: its value estimates read `problem`'s reference.
    func search(for problem: Problem, seed: UInt64) -> MonteCarloTreeSearch {
        var p = parameters
        p.seed = (parameters.seed ?? 0) &+ seed
        let scorer = MonteCarloScorer(
            model: model, rollouts: rollouts, target: .references(ReferenceAnswers([problem])), verifier: TaskVerifier(task: task),
            parameters: p)
        return MonteCarloTreeSearch(
            iterations: iterations, expansions: expansions, exploration: exploration, maxDepth: maxDepth, scorer: scorer,
            steps: StepRules(delimiter: delimiter), parameters: p)
    }

    /// The prompt text of `problem`; step pairs need a text prompt (TRL's format cannot put shared steps after a chat).
    /// Throws for a task that sends chat prompts.
    public func promptText(for problem: Problem) throws -> String {
        guard case .text(let text) = task.prompt(for: problem) else {
            throw TrainingError.invalidConfiguration(
                "problem \(problem.id): the task sends chat prompts; step-level pairs need text prompts (the shared steps follow the prompt text), so leave out --chat"
            )
        }
        return text
    }

    /// Searches `problem` (which needs a reference answer) and returns its step pairs and the search's trace.
    public func pairs(for problem: Problem, seed: UInt64 = 0) async throws -> (records: [Record], trace: [SearchNode]) {
        guard problem.answer != nil else {
            throw TrainingError.invalidConfiguration("problem \(problem.id) has no reference answer to value steps with")
        }
        let prompt = try promptText(for: problem)
        let result = try await search(for: problem, seed: seed).run(
            question: problem.question, prompt: .text(prompt), model: model)
        return (Self.pairs(from: result.trace, prompt: prompt, id: problem.id, selection: selection), result.trace)
    }

    /// The pairs `selection` keeps from a search trace (`trace[0]` the root; nodes carry visits and Q as `value`).
    public static func pairs(from trace: [SearchNode], prompt: String, id: String, selection: Selection) -> [Record] {
        var children: [Int: [Int]] = [:]
        for node in trace { if let p = node.parent { children[p, default: []].append(node.id) } }
        func path(to node: Int) -> [Int] {
            var ids: [Int] = []
            var cur: Int? = node
            while let c = cur, c != 0 {
                ids.append(c)
                cur = trace[c].parent
            }
            return ids.reversed()
        }
        var found: [(record: Record, gap: Double)] = []
        var seen = Set<[String]>()
        for parent in children.keys.sorted() {
            let eligible = children[parent]!.filter { trace[$0].visits >= selection.minimumVisits && trace[$0].value != nil }
            guard eligible.count >= 2 else { continue }
            // Highest Q (ties: more visits, then the earlier node) against lowest Q (ties: fewer visits, then later).
            let q = { (id: Int) in trace[id].value! }
            let best = eligible.max { a, b in
                q(a) != q(b) ? q(a) < q(b) : trace[a].visits != trace[b].visits ? trace[a].visits < trace[b].visits : a > b
            }!
            let worst = eligible.min { a, b in
                q(a) != q(b) ? q(a) < q(b) : trace[a].visits != trace[b].visits ? trace[a].visits < trace[b].visits : a > b
            }!
            let gap = q(best) - q(worst)
            guard best != worst, gap > 0, gap >= selection.margin - 1e-9 else { continue }  // up to rounding (0.5 − 0.4 < 0.1)
            let (chosen, rejected) = (trace[best], trace[worst])
            // Steps that differ only in surrounding whitespace are the same step.
            guard
                chosen.text.trimmingCharacters(in: .whitespacesAndNewlines) != rejected.text.trimmingCharacters(in: .whitespacesAndNewlines)
            else { continue }
            let prefixNodes = path(to: parent)
            let fullPrompt = prompt + prefixNodes.map { trace[$0].text }.joined()
            guard seen.insert([fullPrompt, chosen.text, rejected.text]).inserted else { continue }
            found.append(
                (
                    Record(
                        id: id, prompt: fullPrompt, chosen: chosen.text, rejected: rejected.text, chosenComplete: chosen.isTerminal,
                        rejectedComplete: rejected.isTerminal, chosenQ: q(best), rejectedQ: q(worst), chosenVisits: chosen.visits,
                        rejectedVisits: rejected.visits, depth: prefixNodes.count, nodes: [best, worst]), gap
                ))
        }
        found.sort { a, b in
            a.gap != b.gap
                ? a.gap > b.gap : a.record.depth != b.record.depth ? a.record.depth < b.record.depth : a.record.nodes[0] < b.record.nodes[0]
        }
        return found.prefix(selection.maxPairsPerProblem).map { $0.record }
    }
}
