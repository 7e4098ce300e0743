//! A forgiving tokenizer of `.qdx` text, for what must work on any text, half-typed or not:
//! semantic tokens, the word under the cursor, and the context of a completion. It never fails
//! and never panics; text it does not know is punctuation.

/// What a token is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    /// A name or a keyword.
    Word,
    Number,
    /// A unit right after a number on the same line (`10 uL/min`, `5 %`).
    Unit,
    String,
    Comment,
    /// Anything else: one character, or one of the two-character operators (`->`, `..`,
    /// `<=`, `>=`, `==`, `!=`).
    Punct,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Token {
    pub kind: TokenKind,
    pub start: usize,
    pub end: usize,
}

impl Token {
    pub fn text<'t>(&self, text: &'t str) -> &'t str {
        text.get(self.start..self.end).unwrap_or("")
    }
}

fn word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Whether a unit may go on with this character (`uL/min`, `m^2`, `µL`, `°C`).
fn unit_char(c: char) -> bool {
    word_char(c) || matches!(c, '/' | '*' | '^' | '-' | 'µ' | 'μ' | '°')
}

/// Words that end a quantity rather than being its unit (the grammar's `unit_stop`).
const UNIT_STOP: &[&str] = &[
    "and", "or", "not", "in", "within", "true", "false", "log", "then", "weight", "for", "after",
    "at",
];

/// The language's keywords: the words of the grammar's `kw_*` rules.
pub const KEYWORDS: &[&str] = &[
    "qdx",
    "campaign",
    "description",
    "seed",
    "budget",
    "experiments",
    "reagent",
    "time",
    "repeated_failures",
    "use",
    "kind",
    "setting",
    "builtin",
    "reference",
    "stocks",
    "reactor",
    "lines",
    "variables",
    "integer",
    "choice",
    "composition",
    "total",
    "log",
    "parameters",
    "derive",
    "constraints",
    "measure",
    "at",
    "steady_state",
    "after",
    "settle",
    "for",
    "replicates",
    "proxies",
    "script",
    "objectives",
    "maximize",
    "maximise",
    "minimize",
    "minimise",
    "target",
    "within",
    "match",
    "weight",
    "require",
    "combine",
    "stop",
    "when",
    "map",
    "until",
    "sd",
    "optimizer",
    "optimiser",
    "initial",
    "batch",
    "levels",
    "prior",
    "data",
    "fit",
    "state",
    "rate",
    "parameter",
    "observe",
    "safety",
    "on",
    "retry",
    "backoff",
    "then",
    "safe",
    "simulate",
    "table",
    "lab",
    "bind",
    "in",
    "and",
    "or",
    "not",
    "true",
    "false",
];

/// The tokens of `text`, in order.
pub fn tokens(text: &str) -> Vec<Token> {
    let mut out = Vec::new();
    let mut i = 0;
    let mut after_number = false;
    while let Some(rest) = text.get(i..) {
        let Some(c) = rest.chars().next() else {
            break;
        };
        if c.is_whitespace() {
            if c == '\n' {
                after_number = false;
            }
            i += c.len_utf8();
            continue;
        }
        let (kind, len) = if rest.starts_with("//") {
            (TokenKind::Comment, rest.find('\n').unwrap_or(rest.len()))
        } else if rest.starts_with("/*") {
            (
                TokenKind::Comment,
                rest.get(2..)
                    .and_then(|r| r.find("*/"))
                    .map_or(rest.len(), |k| k + 4),
            )
        } else if rest.starts_with("\"\"\"") {
            (
                TokenKind::String,
                rest.get(3..)
                    .and_then(|r| r.find("\"\"\""))
                    .map_or(rest.len(), |k| k + 6),
            )
        } else if c == '"' {
            let mut len = 1;
            let mut escaped = false;
            for ch in rest.chars().skip(1) {
                if ch == '\n' {
                    break;
                }
                len += ch.len_utf8();
                if escaped {
                    escaped = false;
                } else if ch == '\\' {
                    escaped = true;
                } else if ch == '"' {
                    break;
                }
            }
            (TokenKind::String, len)
        } else if c.is_ascii_digit() {
            (TokenKind::Number, number_len(rest))
        } else if after_number && (c.is_alphabetic() || matches!(c, '%' | 'µ' | 'μ' | '°')) {
            let len = if c == '%' {
                1
            } else {
                rest.chars()
                    .take_while(|&ch| unit_char(ch))
                    .map(char::len_utf8)
                    .sum()
            };
            let word = rest.get(..len).unwrap_or("");
            if UNIT_STOP.contains(&word) || KEYWORDS.contains(&word) {
                (TokenKind::Word, word_len(rest))
            } else {
                (TokenKind::Unit, len)
            }
        } else if word_char(c) {
            (TokenKind::Word, word_len(rest))
        } else if ["->", "..", "<=", ">=", "==", "!="]
            .iter()
            .any(|op| rest.starts_with(op))
        {
            (TokenKind::Punct, 2)
        } else {
            (TokenKind::Punct, c.len_utf8())
        };
        let len = len.max(1).min(rest.len());
        let mut end = i + len;
        while end < text.len() && !text.is_char_boundary(end) {
            end += 1;
        }
        out.push(Token {
            kind,
            start: i,
            end,
        });
        after_number = kind == TokenKind::Number;
        i = end;
    }
    out
}

fn word_len(rest: &str) -> usize {
    rest.chars()
        .take_while(|&c| word_char(c))
        .map(char::len_utf8)
        .sum()
}

/// `12`, `0.5`, `1e-3`, `2.5E+4`.
fn number_len(rest: &str) -> usize {
    let b = rest.as_bytes();
    let digits = |from: usize| {
        b.get(from..)
            .unwrap_or_default()
            .iter()
            .take_while(|x| x.is_ascii_digit())
            .count()
    };
    let mut n = digits(0);
    if b.get(n) == Some(&b'.') && b.get(n + 1).is_some_and(u8::is_ascii_digit) {
        n += 1 + digits(n + 1);
    }
    if matches!(b.get(n), Some(b'e' | b'E')) {
        let sign = usize::from(matches!(b.get(n + 1), Some(b'+' | b'-')));
        let d = digits(n + 1 + sign);
        if d > 0 {
            n += 1 + sign + d;
        }
    }
    n
}

/// The word (name, keyword or unit) at or just before byte `offset`, with its range.
pub fn word_at(text: &str, offset: usize) -> Option<(usize, usize)> {
    let t = tokens_near(text, offset);
    t.into_iter()
        .find(|t| {
            matches!(t.kind, TokenKind::Word | TokenKind::Unit)
                && t.start <= offset
                && offset <= t.end
        })
        .map(|t| (t.start, t.end))
}

/// The tokens of the line around `offset` (what looking at the cursor needs).
pub fn tokens_near(text: &str, offset: usize) -> Vec<Token> {
    let offset = offset.min(text.len());
    let start = text
        .get(..offset)
        .and_then(|t| t.rfind('\n'))
        .map_or(0, |k| k + 1);
    let end = text
        .get(offset..)
        .and_then(|t| t.find('\n'))
        .map_or(text.len(), |k| offset + k);
    let line = text.get(start..end).unwrap_or("");
    tokens(line)
        .into_iter()
        .map(|t| Token {
            start: t.start + start,
            end: t.end + start,
            ..t
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(text: &str) -> Vec<(TokenKind, &str)> {
        tokens(text)
            .into_iter()
            .map(|t| (t.kind, t.text(text)))
            .collect()
    }

    #[test]
    fn units_follow_numbers_on_their_line() {
        use TokenKind::*;
        assert_eq!(
            kinds("x : time in 5 s .. 60 s log // c\nrate 10 uL/min"),
            vec![
                (Word, "x"),
                (Punct, ":"),
                (Word, "time"),
                (Word, "in"),
                (Number, "5"),
                (Unit, "s"),
                (Punct, ".."),
                (Number, "60"),
                (Unit, "s"),
                (Word, "log"),
                (Comment, "// c"),
                (Word, "rate"),
                (Number, "10"),
                (Unit, "uL/min"),
            ]
        );
        assert_eq!(
            kinds("0.8 log 5 % \"a\\\"b\" 1e-3"),
            vec![
                (Number, "0.8"),
                (Word, "log"),
                (Number, "5"),
                (Unit, "%"),
                (String, "\"a\\\"b\""),
                (Number, "1e-3"),
            ]
        );
    }

    #[test]
    fn any_text_tokenizes() {
        for text in [
            "\"open",
            "/* open",
            "\"\"\" open",
            "µ°€ 1 µL",
            "",
            "1.",
            "a.b()",
        ] {
            let t = tokens(text);
            for w in t.windows(2) {
                let [a, b] = w else { continue };
                assert!(a.end <= b.start, "{text:?}");
            }
            assert!(t.iter().all(|t| t.end <= text.len()), "{text:?}");
        }
    }
}
