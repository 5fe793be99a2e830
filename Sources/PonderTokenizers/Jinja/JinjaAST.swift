/// A constant in a template's source.
enum JinjaLiteral: Sendable {
    case none
    case bool(Bool)
    case int(Int)
    case double(Double)
    case string(String)
}

/// A Jinja expression.
indirect enum JinjaExpr: Sendable {
    case literal(JinjaLiteral)
    case name(String)
    case list([JinjaExpr])
    case tuple([JinjaExpr])
    case dict([(JinjaExpr, JinjaExpr)])
    /// `a.name`: an attribute first, then an item (jinja2's `getattr`).
    case attribute(JinjaExpr, String)
    /// `a[b]`: an item first, then an attribute (jinja2's `getitem`).
    case item(JinjaExpr, JinjaExpr)
    case slice(JinjaExpr, start: JinjaExpr?, stop: JinjaExpr?, step: JinjaExpr?)
    case call(JinjaExpr, JinjaArguments)
    case filter(JinjaExpr, name: String, JinjaArguments)
    case test(JinjaExpr, name: String, JinjaArguments, negated: Bool)
    case not(JinjaExpr)
    case negative(JinjaExpr)
    case positive(JinjaExpr)
    case binary(String, JinjaExpr, JinjaExpr)
    case and(JinjaExpr, JinjaExpr)
    case or(JinjaExpr, JinjaExpr)
    /// A chain of comparisons, `a < b <= c`, as Python evaluates it.
    case compare(JinjaExpr, [(String, JinjaExpr)])
    case conditional(test: JinjaExpr, then: JinjaExpr, otherwise: JinjaExpr?)
}

/// The arguments of a call, filter or test.
struct JinjaArguments: Sendable {
    var positional: [JinjaExpr] = []
    var keyword: [(String, JinjaExpr)] = []
}

/// What a `set` or `for` assigns to.
indirect enum JinjaTarget: Sendable {
    case name(String)
    /// `ns.attribute`, on a namespace object.
    case attribute(String, String)
    case tuple([JinjaTarget])
}

/// A template statement.
indirect enum JinjaNode: Sendable {
    case text(String)
    case output(JinjaExpr, line: Int)
    case ifElse(branches: [(JinjaExpr, [JinjaNode])], otherwise: [JinjaNode], line: Int)
    case forLoop(JinjaFor)
    case set(JinjaTarget, JinjaExpr, line: Int)
    case setBlock(JinjaTarget, body: [JinjaNode], filters: [(String, JinjaArguments)], line: Int)
    case macro(JinjaMacro)
    /// `{% call(params) macro(args) %}body{% endcall %}`: the body is the callee's `caller()`.
    case callBlock(JinjaExpr, caller: JinjaMacro, line: Int)
    case filterBlock(body: [JinjaNode], filters: [(String, JinjaArguments)], line: Int)
    case breakLoop(line: Int)
    case continueLoop(line: Int)
    /// `{% generation %}...{% endgeneration %}`, transformers' marker of assistant text: renders its body.
    case generation([JinjaNode])
}

struct JinjaFor: Sendable {
    var target: JinjaTarget
    var iterable: JinjaExpr
    var condition: JinjaExpr?
    var body: [JinjaNode]
    var otherwise: [JinjaNode]
    var line: Int
}

struct JinjaMacro: Sendable {
    var name: String
    var parameters: [(String, JinjaExpr?)]
    var body: [JinjaNode]
    var line: Int
}
