/// The tokens of RFC 5228 §8.1.
enum TokenKind: Hashable, Sendable {
    /// `identifier = (ALPHA / "_") *(ALPHA / DIGIT / "_")`
    case identifier(String)
    /// `tag = ":" identifier`, without its colon, lower-cased (tags are case-insensitive).
    case tag(String)
    /// `number = 1*DIGIT [ QUANTIFIER ]`, the quantifier applied.
    case number(Int)
    /// A quoted string or a multi-line `text:` block, unescaped.
    case string(String)
    case leftBracket, rightBracket, leftParenthesis, rightParenthesis, leftBrace, rightBrace, comma, semicolon
    case end
}

/// A token and where it starts.
struct Token: Hashable, Sendable {
    var kind: TokenKind
    var position: SourcePosition
}
