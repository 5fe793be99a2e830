import PonderCore
import PonderVerifiers

/// Builds a search trace: nodes with parents, and the solution text along a path.
struct TraceBuilder: Sendable {
    private(set) var nodes: [SearchNode] = [SearchNode(id: 0, parent: nil, text: "")]

    /// Adds a child of `parent` and returns its id.
    @discardableResult
    mutating func add(parent: Int, text: String, tokens: Int, score: Double? = nil, isTerminal: Bool = false) -> Int {
        let id = nodes.count
        nodes.append(SearchNode(id: id, parent: parent, text: text, score: score, tokens: tokens, isTerminal: isTerminal))
        return id
    }

    subscript(id: Int) -> SearchNode {
        get { nodes[id] }
        set { nodes[id] = newValue }
    }

    /// Node ids from the root's first child down to `id`.
    func path(to id: Int) -> [Int] {
        var ids: [Int] = []
        var cur: Int? = id
        while let c = cur, c != 0 {
            ids.append(c)
            cur = nodes[c].parent
        }
        return ids.reversed()
    }

    /// The solution text from the root to `id`.
    func solution(to id: Int) -> String { path(to: id).map { nodes[$0].text }.joined() }

    /// Completion tokens from the root to `id`.
    func tokens(to id: Int) -> Int { path(to: id).reduce(0) { $0 + nodes[$1].tokens } }

    /// Tokens in nodes that lie on no path to one of `kept`.
    func prunedTokens(keeping kept: [Int]) -> Int {
        var onPath = Set<Int>()
        for k in kept { onPath.formUnion(path(to: k)) }
        return nodes.reduce(0) { $0 + (onPath.contains($1.id) ? 0 : $1.tokens) }
    }
}
