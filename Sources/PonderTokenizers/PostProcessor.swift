/// A post-processor from `tokenizer.json`'s `post_processor` section: adds special tokens around an encoding
/// when `addSpecialTokens` is true.
public indirect enum PostProcessor: Sendable {
    /// Byte-level offset trimming only; ids are unchanged.
    case byteLevel
    /// A single-sequence template: literal special-token ids and the sequence, in order (Llama-3's BOS).
    case template(single: [TemplatePiece])
    /// Applies processors in order.
    case sequence([PostProcessor])

    /// One element of a template.
    public enum TemplatePiece: Sendable, Equatable {
        /// A special token of the template: its name in `special_tokens`, its ids and their token strings.
        case special(name: String, ids: [Int], tokens: [String])
        /// The encoded text.
        case sequence
    }

    /// Returns `ids` with the template applied.
    func process(_ ids: [Int32]) -> [Int32] {
        switch self {
        case .byteLevel: return ids
        case .sequence(let items): return items.reduce(ids) { $1.process($0) }
        case .template(let single):
            var out: [Int32] = []
            out.reserveCapacity(ids.count + single.count)
            for piece in single {
                switch piece {
                case .special(_, let s, _): out.append(contentsOf: s.map { Int32($0) })
                case .sequence: out.append(contentsOf: ids)
                }
            }
            return out
        }
    }

    /// Builds a post-processor from its JSON section; `nil` for a null section.
    static func load(_ node: JSONNode) throws -> PostProcessor? {
        if node.isNull { return nil }
        let type = try node.componentType()
        switch type {
        case "ByteLevel": return .byteLevel
        case "Sequence":
            return .sequence(try node.required("processors").array().compactMap { try load($0) })
        case "TemplateProcessing":
            let specials = try node.required("special_tokens")
            var single: [TemplatePiece] = []
            for item in try node.required("single").array() {
                if !item["Sequence"].isNull {
                    single.append(.sequence)
                } else if !item["SpecialToken"].isNull {
                    let name = try item["SpecialToken"].required("id").string()
                    let entry = specials[name]
                    guard !entry.isNull else {
                        throw TokenizerError.invalidValue(
                            path: item.childPath("SpecialToken.id"), reason: "\"\(name)\" is not in special_tokens")
                    }
                    let tokens = try entry["tokens"].isNull ? [] : entry["tokens"].array().map { try $0.string() }
                    single.append(
                        .special(
                            name: name, ids: try entry.required("ids").array().map { try $0.int() }, tokens: tokens))
                } else {
                    throw TokenizerError.invalidValue(path: item.path, reason: "expected Sequence or SpecialToken")
                }
            }
            return .template(single: single)
        default:
            throw TokenizerError.unsupportedComponent(type: type, path: node.childPath("type"))
        }
    }
}
