import Foundation
import PonderCore

/// A parsed Jinja template, rendered as jinja2 renders it in transformers' chat-template environment
/// (`ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)` with loop controls, transformers'
/// `tojson`, `raise_exception`, `strftime_now`, `namespace` and `dict`).
///
/// Supported: `{{ }}`, `{% %}`, `{# #}` with `-`/`+` whitespace control; `if`/`elif`/`else`, `for` (with `loop`, an
/// `else` branch, a filter condition and tuple targets), `set` (names, `ns.attribute`, tuples, blocks), `macro`,
/// `call`, `filter` blocks, `break`/`continue`, `generation`; Python's operators, literals, slicing and string, dict
/// and list methods; jinja2's common filters and tests. Undefined values behave as jinja2's default `Undefined`.
public struct JinjaTemplate: Sendable {
    let nodes: [JinjaNode]

    /// Parses `source`; throws a `.syntax` `JinjaError` naming the line.
    public init(_ source: String) throws {
        nodes = try JinjaParser.parse(source)
    }

    /// Renders with `context` as the template's variables.
    /// - Parameter date: the time `strftime_now` formats, in UTC. `nil`: `SOURCE_DATE_EPOCH` (in UTC) when set,
    ///   otherwise the current local time, as transformers' `datetime.now()`.
    public func render(_ context: [String: JinjaValue], date: Date? = nil) throws -> String {
        try render(values: context.mapValues(JValue.init), date: date)
    }

    func render(values: [String: JValue], date: Date?) throws -> String {
        let globals = JinjaScope(parent: nil)
        for (k, v) in JinjaBuiltins.globals(date: date) { globals.set(k, v) }
        let scope = JinjaScope(parent: globals)
        for (k, v) in values { scope.set(k, v) }
        return try JinjaInterpreter(date: date).render(nodes, scope: scope)
    }
}

/// A Hugging Face chat template (`tokenizer_config.json`'s `chat_template`), rendered byte-identically to
/// transformers' `apply_chat_template(..., tokenize=False)`.
///
/// The template sees `messages`, `tools` (none unless given in `extra`), `documents` (none),
/// `add_generation_prompt`, `bos_token` and `eos_token` (when the tokenizer has them), and every member of `extra`
/// (`enable_thinking`, `tools`, `date_string`...). As transformers 5 does before rendering, members of a message whose
/// value is null are dropped, and a message's reasoning (`reasoning_content`, `thinking` or `reasoning`) is passed as
/// both `thinking` and `reasoning_content`.
public struct JinjaChatTemplate: Sendable {
    /// The template's text.
    public let source: String
    /// The tokenizer's BOS token, or `nil` when it has none (the template then sees `bos_token` undefined).
    public let bosToken: String?
    /// The tokenizer's EOS token, or `nil` when it has none.
    public let eosToken: String?
    /// The time `strftime_now` formats, in UTC; `nil` reads `SOURCE_DATE_EPOCH` (UTC), else the local time now.
    public var date: Date?
    private let template: JinjaTemplate

    /// Parses `source`; throws a `.syntax` `JinjaError` naming the line.
    public init(source: String, bosToken: String? = nil, eosToken: String? = nil, date: Date? = nil) throws {
        self.source = source
        self.bosToken = bosToken
        self.eosToken = eosToken
        self.date = date
        template = try JinjaTemplate(source)
    }

    /// Renders a conversation of JSON messages (`{"role", "content", "reasoning_content"?, "tool_calls"?...}`).
    /// - Parameters:
    ///   - addGenerationPrompt: the template's `add_generation_prompt`: open an assistant turn after the messages.
    ///   - extra: more template variables, as keyword arguments of `apply_chat_template` (`tools`,
    ///     `enable_thinking`...); they override `bos_token`/`eos_token` of the same name.
    /// - Throws: `JinjaError`; `.raised` with the template's message when it calls `raise_exception`.
    public func render(messages: [JinjaValue], addGenerationPrompt: Bool, extra: [String: JinjaValue] = [:]) throws -> String {
        var context: [String: JValue] = [:]
        if let bosToken { context["bos_token"] = .string(bosToken) }
        if let eosToken { context["eos_token"] = .string(eosToken) }
        context["messages"] = .list(messages.map { JValue(Self.normalized($0)) })
        context["tools"] = JValue.none
        context["documents"] = JValue.none
        context["add_generation_prompt"] = .bool(addGenerationPrompt)
        for (k, v) in extra { context[k] = JValue(v) }
        return try template.render(values: context, date: date)
    }

    /// Renders Ponder messages: `role`, `content`, and `reasoning` as `reasoning_content`.
    public func render(_ messages: [Message], addGenerationPrompt: Bool, extra: [String: JinjaValue] = [:]) throws -> String {
        try render(messages: messages.map(Self.json), addGenerationPrompt: addGenerationPrompt, extra: extra)
    }

    /// A Ponder message as the JSON message transformers' templates expect.
    public static func json(_ message: Message) -> JinjaValue {
        var members: [(String, JinjaValue)] = [("role", .string(message.role.rawValue)), ("content", .string(message.content))]
        if let reasoning = message.reasoning { members.append(("reasoning_content", .string(reasoning))) }
        return .object(members)
    }

    /// transformers' `_normalize_chat_messages` (null members dropped) then `_alias_reasoning_fields`
    /// (`{"thinking": r, **message, "reasoning_content": r}`).
    static func normalized(_ message: JinjaValue) -> JinjaValue {
        guard case .object(let members) = message else { return message }
        var result = members.filter { $0.1 != .null }
        let reasoning = ["reasoning_content", "thinking", "reasoning"].lazy.compactMap { key in result.last { $0.0 == key }?.1 }.first
        guard let reasoning else { return .object(result) }
        var aliased: [(String, JinjaValue)] = [("thinking", reasoning)]
        for (k, v) in result {
            if let i = aliased.firstIndex(where: { $0.0 == k }) { aliased[i].1 = v } else { aliased.append((k, v)) }
        }
        if let i = aliased.firstIndex(where: { $0.0 == "reasoning_content" }) {
            aliased[i].1 = reasoning
        } else {
            aliased.append(("reasoning_content", reasoning))
        }
        result = aliased
        return .object(result)
    }
}
