import Foundation
import PonderCore
import Testing

@testable import PonderTokenizers

/// Real chat templates rendered by Ponder's Jinja interpreter, compared byte for byte with transformers'
/// `apply_chat_template` (Fixtures/chat_template_renders.json, written by
/// scripts/fixtures/make_chat_template_fixtures.py). The templates are third-party text kept outside the repository,
/// in `../shared/data/chat-templates/`; without it these tests are skipped.
@Suite struct JinjaChatTemplateParityTests {
    static let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    static let templatesDirectory = repositoryRoot.deletingLastPathComponent().appendingPathComponent(
        "shared/data/chat-templates")

    static let templateFiles: [String: String] = [
        "qwen2.5-instruct": "qwen2.5-instruct.json",
        "qwen3": "qwen3.json",
        "deepseek-r1-distill": "deepseek-r1-distill-qwen-32b.json",
        "llama-3.2-instruct": "llama-3.2-instruct.json",
        "mistral-nemo-instruct-2407": "mistral-nemo-instruct-2407.json",
        "phi-3.5-mini-instruct": "phi-3.5-mini-instruct.json",
        "gemma-2-it": "gemma-2-it.json",
    ]

    static var templatesPresent: Bool {
        FileManager.default.fileExists(atPath: templatesDirectory.appendingPathComponent("qwen3.json").path)
    }

    static func readJSON(_ url: URL) throws -> JinjaValue {
        try JinjaValue.parse(json: String(decoding: try Data(contentsOf: url), as: UTF8.self))
    }

    @Test(
        "Renders match transformers' apply_chat_template byte for byte",
        .enabled(if: templatesPresent, "needs ../shared/data/chat-templates (third-party templates, not in the repository)"),
        arguments: templateFiles.keys.sorted())
    func parity(template name: String) throws {
        let fixtures = try Self.readJSON(Fixtures.url("chat_template_renders.json"))
        guard case .int(let epoch)? = fixtures["source_date_epoch"], case .array(let cases)? = fixtures["templates"]?[name] else {
            Issue.record("no fixture cases for \(name)")
            return
        }
        let spec = try Self.readJSON(Self.templatesDirectory.appendingPathComponent(Self.templateFiles[name]!))
        guard case .string(let source)? = spec["chat_template"] else {
            Issue.record("\(name): no chat_template")
            return
        }
        func token(_ key: String) -> String? {
            if case .string(let s)? = spec[key] { return s }
            return nil
        }
        let template = try JinjaChatTemplate(
            source: source, bosToken: token("bos_token"), eosToken: token("eos_token"),
            date: Date(timeIntervalSince1970: Double(epoch)))
        #expect(!cases.isEmpty)
        for c in cases {
            guard case .string(let caseName)? = c["name"], case .array(let messages)? = c["messages"],
                case .bool(let generation)? = c["add_generation_prompt"], case .object(let extra)? = c["extra"]
            else {
                Issue.record("\(name): malformed fixture case")
                continue
            }
            let kwargs = Dictionary(extra, uniquingKeysWith: { $1 })
            let result = Result { try template.render(messages: messages, addGenerationPrompt: generation, extra: kwargs) }
            switch (result, c["expected"], c["error"]) {
            case (.success(let text), .string(let expected)?, _):
                #expect(text == expected, "\(name)/\(caseName)")
            case (.failure(let error), .string, _):
                Issue.record("\(name)/\(caseName): threw \(error)")
            case (.success(let text), nil, let error?):
                Issue.record("\(name)/\(caseName): rendered \(text.debugDescription), expected \(error)")
            case (.failure(let error), nil, let expected?):
                guard let error = error as? JinjaError else {
                    Issue.record("\(name)/\(caseName): threw \(error)")
                    continue
                }
                let kind: JinjaError.Kind = expected["type"] == .string("TemplateError") ? .raised : .undefined
                #expect(error.kind == kind, "\(name)/\(caseName): \(error)")
                #expect(.string(error.message) == expected["message"], "\(name)/\(caseName)")
                #expect(error.line > 0, "\(name)/\(caseName): the error names no line")
            default:
                Issue.record("\(name)/\(caseName): fixture has neither expected nor error")
            }
        }
    }

    @Test(
        "Ponder messages render as their JSON form",
        .enabled(if: templatesPresent, "needs ../shared/data/chat-templates (third-party templates, not in the repository)"))
    func ponderMessages() throws {
        let spec = try Self.readJSON(Self.templatesDirectory.appendingPathComponent("qwen3.json"))
        guard case .string(let source)? = spec["chat_template"] else { return }
        let template = try JinjaChatTemplate(source: source, eosToken: "<|im_end|>")
        let messages: [Message] = [.system("Be brief."), .user("2+2?"), .assistant("4", reasoning: "2+2 is 4."), .user("3+3?")]
        let rendered = try template.render(messages, addGenerationPrompt: true, extra: ["enable_thinking": false])
        #expect(
            rendered
                == "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\n2+2?<|im_end|>\n<|im_start|>assistant\n4<|im_end|>\n"
                + "<|im_start|>user\n3+3?<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n")
        // The native renderer agrees on this conversation.
        #expect(rendered == ChatTemplate.qwen3.render(messages, addGenerationPrompt: true, enableThinking: false))
    }
}

/// The interpreter on small templates written here.
@Suite struct JinjaInterpreterTests {
    func render(_ source: String, _ context: [String: JinjaValue] = [:]) throws -> String {
        try JinjaTemplate(source).render(context, date: Date(timeIntervalSince1970: 1_721_952_000))
    }

    func error(_ source: String, _ context: [String: JinjaValue] = [:]) -> JinjaError? {
        do {
            _ = try render(source, context)
            return nil
        } catch {
            return error as? JinjaError
        }
    }

    @Test func whitespaceControl() throws {
        #expect(try render("a  {{- 'b' -}}  c") == "abc")
        #expect(try render("a\n  {%- if true -%}\n  b\n{%- endif %}") == "ab")
        #expect(try render("x {#- note -#} y") == "xy")
        // trim_blocks: the newline after a block tag goes; lstrip_blocks: the indentation before it goes.
        #expect(try render("{% if true %}\n    yes\n    {% endif %}\nafter") == "    yes\nafter")
        #expect(try render("  {% set x = 1 %}\n{{ x }}") == "1")
        // Not for variable tags, and `+` turns both off.
        #expect(try render("{{ 'a' }}\nb") == "a\nb")
        #expect(try render("  {%+ if true %}x{% endif +%}\ny") == "  x\ny")
        #expect(try render("{# comment #}\nz") == "z")
        // One trailing newline of the template is dropped (keep_trailing_newline=False).
        #expect(try render("a\n") == "a")
        #expect(try render("a\n\n") == "a\n")
        #expect(try render("a\r\nb") == "a\nb")
    }

    @Test func literalsAndOperators() throws {
        #expect(try render(#"{{ 'it\'s' ~ "\n\t\u00e9" }}"#) == "it's\n\té")
        #expect(
            try render("{{ 1 + 2 * 3 }} {{ 7 // 2 }} {{ -7 // 2 }} {{ 7 % 3 }} {{ -7 % 3 }} {{ 7 / 2 }} {{ 2 ** 10 }}")
                == "7 3 -4 1 2 3.5 1024")
        #expect(
            try render("{{ 1.0 }} {{ 0.1 + 0.2 }} {{ 1e-5 }} {{ 3 == 3.0 }} {{ none }} {{ True }}")
                == "1.0 0.30000000000000004 1e-05 True None True")
        #expect(
            try render("{{ [1, 'a', none, true] }} {{ {'k': 'v', 'n': 1} }} {{ (1,) }}") == "[1, 'a', None, True] {'k': 'v', 'n': 1} (1,)")
        #expect(try render("{{ 'a' if x else 'b' }}{{ 'c' if not x }}", ["x": false]) == "bc")
        #expect(
            try render("{{ 1 < 2 < 3 }} {{ 3 > 2 > 2 }} {{ 'b' in 'abc' }} {{ 2 not in [1, 3] }} {{ 'k' in {'k': 1} }}")
                == "True False True True True")
        #expect(try render("{{ x or 'dflt' }} {{ 0 and 1 }}", ["x": ""]) == "dflt 0")
        #expect(try render("{{ 'ab' * 2 }} {{ [1] + [2] }}") == "abab [1, 2]")
    }

    @Test func accessAndSlicing() throws {
        let context: [String: JinjaValue] = ["m": ["role": "user", "content": "hello world", "n": [1, 2, 3, 4]]]
        #expect(
            try render("{{ m.role }} {{ m['content'] }} {{ m.n[-1] }} {{ m.n[1:] }} {{ m.n[::-1] }} {{ m.n[:-1] }}", context)
                == "user hello world 4 [2, 3, 4] [4, 3, 2, 1] [1, 2, 3]")
        #expect(
            try render("{{ m.content[::-1] }} {{ m.content[6:] }} {{ m.content[0] }} {{ m.n[1::2] }}", context)
                == "dlrow olleh world h [2, 4]")
        #expect(
            try render("[{{ m.missing }}] {{ m.missing is defined }} {{ m.n[10] is defined }} {{ m.get('x', 5) }}", context)
                == "[] False False 5")
        #expect(
            try render("{% for k, v in m.items() if k != 'n' %}{{ k }}={{ v }};{% endfor %}", context) == "role=user;content=hello world;")
    }

    @Test func stringMethods() throws {
        #expect(
            try render("{{ ' a b '.strip() }}|{{ 'xxaxx'.strip('x') }}|{{ '\\n\\na'.lstrip('\\n') }}|{{ 'a  '.rstrip() }}") == "a b|a|a|a")
        #expect(
            try render("{{ 'a</think>b</think>c'.split('</think>')[-1] }} {{ ' a  b '.split() }} {{ 'a,b,c'.rsplit(',', 1) }}")
                == "c ['a', 'b'] ['a,b', 'c']")
        #expect(
            try render("{{ 'abc'.startswith('ab') }} {{ 'abc'.endswith(('x', 'c')) }} {{ 'abc'.upper() }} {{ 'ABC'.lower() }}")
                == "True True ABC abc")
        #expect(
            try render("{{ 'hello world'.title() }} {{ 'a-b'.replace('-', '+') }} {{ 'abcb'.find('b') }} {{ '{} {x}'.format(1, x=2) }}")
                == "Hello World a+b 1 1 2")
        #expect(
            try render("{{ 'ab'.center(6) }}|{{ '-42'.zfill(6) }}|{{ 'a=b=c'.partition('=') }}|{{ 'abc'.removeprefix('ab') }}")
                == "  ab  |-00042|('a', '=', 'b=c')|c")
    }

    @Test func filters() throws {
        #expect(try render("{{ '  x  ' | trim }}|{{ [1, 2, 3] | length }}|{{ 'abc' | count }}|{{ [1, 2] | join(', ') }}") == "x|3|3|1, 2")
        #expect(
            try render(
                "{{ 'hello wORLD' | title }} {{ 'hello' | capitalize }} {{ 'Hi' | upper }} {{ x | default('d') }} {{ '' | d('e', true) }}")
                == "Hello World Hello HI d e")
        #expect(
            try render("{{ [3, 1, 2] | first }}{{ [3, 1, 2] | last }}{{ [3, 1, 2] | sort | list }}{{ [1, 1, 2] | unique | list }}")
                == "32[1, 2, 3][1, 2]")
        #expect(
            try render("{{ '42' | int + 1 }} {{ '2.5' | float }} {{ 3 | string ~ '!' }} {{ -3 | abs }} {{ 2.567 | round(2) }}")
                == "43 2.5 3! 3 2.57")
        let users: JinjaValue = ["users": [["name": "a", "role": "user"], ["name": "b", "role": "assistant"]]]
        guard case .object(let members) = users else { return }
        let context = Dictionary(members, uniquingKeysWith: { $1 })
        #expect(try render("{{ users | map(attribute='name') | join }}", context) == "ab")
        #expect(try render("{{ users | selectattr('role', 'equalto', 'user') | map(attribute='name') | list }}", context) == "['a']")
        #expect(try render("{{ users | rejectattr('role', 'eq', 'user') | map(attribute='name') | first }}", context) == "b")
        #expect(try render("{{ [1, 2, 3, 4] | select('odd') | list }} {{ [1, 2, 3, 4] | reject('even') | list }}") == "[1, 3] [1, 3]")
        #expect(try render("{{ {'b': 1, 'a': 2} | dictsort }} {{ {'a': 1} | items | list }}") == "[('a', 2), ('b', 1)] [('a', 1)]")
        #expect(try render("{{ 'a\\nb\\n\\nc' | indent(2) }}|{{ 'a\\nb' | indent(2, true) }}") == "a\n  b\n\n  c|  a\n  b")
    }

    @Test func tojsonAsTransformers() throws {
        let tool: JinjaValue = ["name": "f", "args": ["x": 1.5, "y": [true, nil], "s": "é\"\n<>"], "empty": [:], "none": []]
        #expect(
            try render("{{ t | tojson }}", ["t": tool])
                == #"{"name": "f", "args": {"x": 1.5, "y": [true, null], "s": "é\"\n<>"}, "empty": {}, "none": []}"#)
        #expect(
            try render("{{ t | tojson(indent=2) }}", ["t": ["a": [1, 2], "b": [:]]]) == "{\n  \"a\": [\n    1,\n    2\n  ],\n  \"b\": {}\n}"
        )
        #expect(try render("{{ t | tojson(sort_keys=true, separators=(',', ':')) }}", ["t": ["b": 1, "a": 2]]) == #"{"a":2,"b":1}"#)
        #expect(try render("{{ 'x' | tojson }}{{ none | tojson }}") == #""x"null"#)
    }

    @Test func tests() throws {
        let context: [String: JinjaValue] = ["s": "x", "n": 3, "f": 1.5, "b": false, "z": nil, "d": ["k": 1], "l": [1]]
        #expect(
            try render("{{ s is string }}{{ n is number }}{{ n is integer }}{{ f is float }}{{ b is boolean }}{{ b is false }}", context)
                == "TrueTrueTrueTrueTrueTrue")
        #expect(
            try render("{{ z is none }}{{ d is mapping }}{{ l is iterable }}{{ s is iterable }}{{ l is sequence }}{{ n is odd }}", context)
                == "TrueTrueTrueTrueTrueTrue")
        #expect(
            try render("{{ q is defined }}{{ q is not defined }}{{ q is undefined }}{{ n is eq 3 }}{{ n is even }}{{ b is true }}", context)
                == "FalseTrueTrueTrueFalseFalse")
        #expect(
            try render("{{ n is divisibleby(3) }}{{ z is not none }}{{ true is number }}{{ true is integer }}", context)
                == "TrueFalseTrueFalse")
    }

    @Test func loops() throws {
        let source = """
            {% for x in items %}
            {{ loop.index }}/{{ loop.length }} {{ loop.index0 }} {{ loop.revindex }} {{ loop.first }} {{ loop.last }} \
            {{ loop.previtem | default('-') }} {{ loop.nextitem | default('-') }} {{ loop.cycle('odd', 'even') }}
            {% endfor %}
            """
        #expect(
            try render(source, ["items": ["a", "b", "c"]])
                == "1/3 0 3 True False - b odd\n2/3 1 2 False False a c even\n3/3 2 1 False True b - odd\n")
        #expect(try render("{% for x in [] %}x{% else %}empty{% endfor %}") == "empty")
        #expect(try render("{% for x in range(10) if x is odd %}{{ x }}{% if loop.last %}.{% endif %}{% endfor %}") == "13579.")
        #expect(
            try render(
                "{% for x in range(10) %}{% if x == 2 %}{% continue %}{% endif %}{% if x == 4 %}{% break %}{% endif %}{{ x }}{% endfor %}")
                == "013")
        #expect(try render("{% for a, b in [[1, 2], [3, 4]] %}{{ a + b }},{% endfor %}") == "3,7,")
        #expect(try render("{% for c in 'ab' %}{{ c }}{% endfor %}{% for k in {'x': 1, 'y': 2} %}{{ k }}{% endfor %}") == "abxy")
    }

    @Test func scopingAndNamespaces() throws {
        // A set inside a loop is not seen after it; a namespace attribute is.
        #expect(try render("{% set x = 1 %}{% for i in [1, 2] %}{% set x = x + i %}{% endfor %}{{ x }}") == "1")
        #expect(try render("{% set ns = namespace(x=1) %}{% for i in [1, 2] %}{% set ns.x = ns.x + i %}{% endfor %}{{ ns.x }}") == "4")
        #expect(try render("{% if true %}{% set y = 'set in if' %}{% endif %}{{ y }}") == "set in if")
        #expect(try render("{% set a, b = 1, 2 %}{{ a }}{{ b }}{% set block %}B{{ a }}{% endset %}{{ block }}") == "12B1")
        #expect(error("{% set s = 'x' %}{% set s.y = 1 %}")?.message == "cannot assign attribute on non-namespace object")
    }

    @Test func macros() throws {
        let source = """
            {% macro greet(name, greeting='Hello') -%}
            {{ greeting }}, {{ name }}!
            {%- endmacro %}
            {{ greet('Ann') }} {{ greet('Bob', greeting='Hi') }} {{ greet('Cy', 'Yo') }}
            """
        #expect(try render(source) == "Hello, Ann! Hi, Bob! Yo, Cy!")
        #expect(try render("{% macro wrap() %}[{{ caller() }}]{% endmacro %}{% call wrap() %}inner{% endcall %}") == "[inner]")
        #expect(try render("{% filter upper %}abc{% endfilter %}{% generation %}gen{% endgeneration %}") == "ABCgen")
    }

    @Test func undefinedBehavesAsJinja2() throws {
        #expect(try render("[{{ nope }}]{% if nope %}t{% else %}f{% endif %}{{ nope | length }}{% for x in nope %}x{% endfor %}") == "[]f0")
        #expect(try render("{{ 'a' in nope }}{{ nope ~ 'b' }}{{ nope == nope }}{{ nope is none }}") == "FalsebTrueFalse")
        #expect(error("{{ nope.attr }}")?.message == "'nope' is undefined")
        #expect(error("{{ nope + 'x' }}")?.kind == .undefined)
        #expect(error("{{ m.content + 'x' }}", ["m": ["role": "user"]])?.message == "'dict object' has no attribute 'content'")
    }

    @Test func globals() throws {
        #expect(try render("{{ strftime_now('%d %b %Y') }}") == "26 Jul 2024")
        #expect(try render("{{ range(3) | list }} {{ range(1, 7, 2) | list }} {{ dict(a=1) }}") == "[0, 1, 2] [1, 3, 5] {'a': 1}")
    }

    @Test func errorsNameTheLine() throws {
        let raised = error("line one\n{% if true %}\n{{ raise_exception('Bad roles: ' ~ 2) }}\n{% endif %}")
        #expect(raised == JinjaError(.raised, "Bad roles: 2", line: 3))
        #expect(error("a\n{% if x %}\nb")?.line == 2)
        #expect(error("a\n\n{{ x | nosuchfilter }}") == JinjaError(.syntax, "No filter named 'nosuchfilter'.", line: 3))
        #expect(error("{% for %}")?.kind == .syntax)
        #expect(error("\n{% frobnicate %}") == JinjaError(.syntax, "Encountered unknown tag 'frobnicate'.", line: 2))
        #expect(error("{{ 'unterminated }}")?.kind == .syntax)
        #expect(error("\n\n{{ 1 + 'a' }}")?.line == 3)
        #expect(JinjaError(.raised, "msg", line: 4).description == "template raised at line 4: msg")
    }

    @Test func messageNormalisationAsTransformers() throws {
        let message: JinjaValue = ["role": "assistant", "content": nil, "reasoning": "r"]
        #expect(
            JinjaChatTemplate.normalized(message) == ["thinking": "r", "role": "assistant", "reasoning": "r", "reasoning_content": "r"])
        let template = try JinjaChatTemplate(
            source:
                "{% for m in messages %}{{ m.keys() | list }}{{ m.content is defined }}{% endfor %}{{ tools }}{{ bos_token is defined }}")
        #expect(
            try template.render(messages: [message], addGenerationPrompt: false)
                == "['thinking', 'role', 'reasoning', 'reasoning_content']FalseNoneFalse")
    }
}
