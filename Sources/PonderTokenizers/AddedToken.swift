/// A token matched in the raw text before the model sees it (`tokenizer.json`'s `added_tokens`).
public struct AddedToken: Sendable, Hashable, Codable {
    /// The id the token encodes to.
    public var id: Int
    /// The exact text of the token.
    public var content: String
    /// Whether the token only matches as a whole word (no word character on either side).
    public var singleWord: Bool
    /// Whether whitespace on the token's left is swallowed into it.
    public var lstrip: Bool
    /// Whether whitespace on the token's right is swallowed into it.
    public var rstrip: Bool
    /// Whether the token is matched in normalized text (otherwise in raw text).
    public var normalized: Bool
    /// Whether the token is special: skipped by `decode(skipSpecialTokens: true)`.
    public var special: Bool

    /// Makes an added token; by default special tokens match raw text and others normalized text, as in HF.
    public init(
        id: Int, content: String, special: Bool, singleWord: Bool = false, lstrip: Bool = false,
        rstrip: Bool = false, normalized: Bool? = nil
    ) {
        self.id = id
        self.content = content
        self.special = special
        self.singleWord = singleWord
        self.lstrip = lstrip
        self.rstrip = rstrip
        self.normalized = normalized ?? !special
    }

    enum CodingKeys: String, CodingKey {
        case id, content, lstrip, rstrip, normalized, special
        case singleWord = "single_word"
    }

    static func load(_ node: JSONNode) throws -> AddedToken {
        let special = try node["special"].bool(default: false)
        return AddedToken(
            id: try node.required("id").int(), content: try node.required("content").string(), special: special,
            singleWord: try node["single_word"].bool(default: false), lstrip: try node["lstrip"].bool(default: false),
            rstrip: try node["rstrip"].bool(default: false), normalized: try node["normalized"].bool(default: !special))
    }
}
