//! The lexer: query text → tokens with character spans.
//!
//! Keywords are not tokens of their own: `and`, `order`, `near`, `true`... come out as
//! [`TokenKind::Ident`] and the parser decides from context (case-insensitively), so a property
//! may be called `order` or `size`.
//!
//! The lexer never fails outright: a lexical fault (unterminated string, unknown escape, `1.`,
//! a number too large for an `f64`) becomes a final [`TokenKind::Error`] token, which the parser
//! reports only if it gets that far, so the error names the *first* fault in the text. A
//! character that starts no token becomes [`TokenKind::Unknown`] and the parser says what it
//! expected instead.

use super::ast::{Number, Span};
use super::error::QueryError;

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum TokenKind {
    /// `[A-Za-z_][A-Za-z0-9_]*`: a name or a keyword.
    Ident(String),
    /// `-?[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?`, finite.
    Number(Number),
    /// A run of `[A-Za-z0-9_]` that starts with a digit but is not a number, such as
    /// `5052cd9444ae23a741ca76b2`: only valid inside `id(...)`.
    Word(String),
    /// A double-quoted string, escapes decoded.
    Str(String),
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
    LParen,
    RParen,
    LBracket,
    RBracket,
    Comma,
    Dot,
    Unknown(char),
    /// A lexical fault; always the last token.
    Error(Box<QueryError>),
    /// Always the last token when there is no error.
    Eof,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Token {
    pub kind: TokenKind,
    pub span: Span,
}

/// Splits `chars` into tokens. The result ends with exactly one `Eof` or `Error` token.
pub(crate) fn tokenize(chars: &[char]) -> Vec<Token> {
    let mut lexer = Lexer { chars, pos: 0 };
    let mut tokens = Vec::new();
    loop {
        while lexer.peek().is_some_and(char::is_whitespace) {
            lexer.pos += 1;
        }
        let start = lexer.pos;
        match lexer.token() {
            Ok(TokenKind::Eof) => {
                tokens.push(Token {
                    kind: TokenKind::Eof,
                    span: Span::new(start, start),
                });
                return tokens;
            }
            Ok(kind) => tokens.push(Token {
                kind,
                span: Span::new(start, lexer.pos),
            }),
            Err(e) => {
                let span = Span::new(e.position, e.position);
                tokens.push(Token {
                    kind: TokenKind::Error(Box::new(e)),
                    span,
                });
                return tokens;
            }
        }
    }
}

fn is_ident_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// How a character is shown in `found`.
fn describe_char(c: Option<char>) -> String {
    match c {
        Some(c) => format!("`{c}`"),
        None => "end of query".to_string(),
    }
}

struct Lexer<'a> {
    chars: &'a [char],
    pos: usize,
}

impl Lexer<'_> {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn peek_at(&self, n: usize) -> Option<char> {
        self.chars.get(self.pos + n).copied()
    }

    fn text(&self, start: usize) -> String {
        self.chars[start..self.pos].iter().collect()
    }

    fn token(&mut self) -> Result<TokenKind, QueryError> {
        let Some(c) = self.peek() else {
            return Ok(TokenKind::Eof);
        };
        let start = self.pos;
        let two = |kind| (kind, 2);
        let (kind, len) = match (c, self.peek_at(1)) {
            ('A'..='Z' | 'a'..='z' | '_', _) => {
                while self.peek().is_some_and(is_ident_char) {
                    self.pos += 1;
                }
                return Ok(TokenKind::Ident(self.text(start)));
            }
            ('0'..='9', _) => return self.number(start),
            ('-', Some('0'..='9')) => {
                self.pos += 1;
                return self.number(start);
            }
            ('"', _) => return self.string(),
            ('=', Some('=')) => two(TokenKind::Eq),
            ('!', Some('=')) => two(TokenKind::Ne),
            ('>', Some('=')) => two(TokenKind::Ge),
            ('<', Some('=')) => two(TokenKind::Le),
            ('>', _) => (TokenKind::Gt, 1),
            ('<', _) => (TokenKind::Lt, 1),
            ('(', _) => (TokenKind::LParen, 1),
            (')', _) => (TokenKind::RParen, 1),
            ('[', _) => (TokenKind::LBracket, 1),
            (']', _) => (TokenKind::RBracket, 1),
            (',', _) => (TokenKind::Comma, 1),
            ('.', _) => (TokenKind::Dot, 1),
            (c, _) => (TokenKind::Unknown(c), 1),
        };
        self.pos += len;
        Ok(kind)
    }

    fn eat_digits(&mut self) {
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.pos += 1;
        }
    }

    /// At the first digit; `start` is at the `-` if there is one.
    fn number(&mut self, start: usize) -> Result<TokenKind, QueryError> {
        let digits_start = self.pos;
        self.eat_digits();
        if self.peek() == Some('.') {
            self.pos += 1;
            if !self.peek().is_some_and(|c| c.is_ascii_digit()) {
                let found = describe_char(self.peek());
                return Err(QueryError::new(
                    self.pos,
                    "a digit after the decimal point",
                    found,
                ));
            }
            self.eat_digits();
        }
        if matches!(self.peek(), Some('e' | 'E')) {
            let sign = usize::from(matches!(self.peek_at(1), Some('+' | '-')));
            if self.peek_at(1 + sign).is_some_and(|c| c.is_ascii_digit()) {
                self.pos += 1 + sign;
                self.eat_digits();
            }
        }
        // `5052cd94…`, `12abc`, `1e3x`: one word, for `id(...)`. Only for unsigned numbers
        // written with digits and letters alone; `1.5abc` stays a number and a name.
        let plain = self.chars[digits_start..self.pos]
            .iter()
            .all(char::is_ascii_alphanumeric);
        if start == digits_start && plain && self.peek().is_some_and(is_ident_char) {
            while self.peek().is_some_and(is_ident_char) {
                self.pos += 1;
            }
            return Ok(TokenKind::Word(self.text(start)));
        }
        let text = self.text(start);
        match Number::parse(&text) {
            Some(n) => Ok(TokenKind::Number(n)),
            None => Err(
                QueryError::new(start, "a finite number", format!("`{text}`"))
                    .with_note("the number is too large"),
            ),
        }
    }

    /// At the opening quote.
    fn string(&mut self) -> Result<TokenKind, QueryError> {
        let open = self.pos;
        self.pos += 1;
        let mut out = String::new();
        loop {
            let c = match self.peek() {
                None => {
                    return Err(QueryError::new(open, "a closing `\"`", "end of query")
                        .with_note("the string that starts here is not terminated"));
                }
                Some('"') => {
                    self.pos += 1;
                    return Ok(TokenKind::Str(out));
                }
                Some('\\') => self.escape(open)?,
                Some(c) => {
                    self.pos += 1;
                    c
                }
            };
            out.push(c);
        }
    }

    /// At a backslash inside the string that opened at `open`.
    fn escape(&mut self, open: usize) -> Result<char, QueryError> {
        const ESCAPES: &str =
            "one of the escapes `\\\"`, `\\\\`, `\\/`, `\\b`, `\\f`, `\\n`, `\\r`, `\\t` or `\\uXXXX`";
        let at = self.pos;
        let Some(c) = self.peek_at(1) else {
            return Err(QueryError::new(open, "a closing `\"`", "end of query")
                .with_note("the string that starts here is not terminated"));
        };
        self.pos += 2;
        Ok(match c {
            '"' => '"',
            '\\' => '\\',
            '/' => '/',
            'b' => '\u{8}',
            'f' => '\u{c}',
            'n' => '\n',
            'r' => '\r',
            't' => '\t',
            'u' => return self.unicode_escape(at),
            c => return Err(QueryError::new(at, ESCAPES, format!("`\\{c}`"))),
        })
    }

    /// After `\u` at `at`; joins a UTF-16 surrogate pair written as two escapes.
    fn unicode_escape(&mut self, at: usize) -> Result<char, QueryError> {
        let high = self.hex4()?;
        let code = match high {
            0xD800..=0xDBFF => {
                let second = self.pos;
                if self.peek() != Some('\\') || self.peek_at(1) != Some('u') {
                    let found = describe_char(self.peek());
                    return Err(QueryError::new(
                        second,
                        "a `\\u` escape for a low surrogate",
                        found,
                    )
                    .with_note(&format!("`\\u{high:04X}` is half of a surrogate pair")));
                }
                self.pos += 2;
                let low = self.hex4()?;
                if !(0xDC00..=0xDFFF).contains(&low) {
                    let found = format!("`\\u{low:04X}`");
                    return Err(QueryError::new(
                        second,
                        "a low surrogate `\\uDC00`…`\\uDFFF`",
                        found,
                    ));
                }
                0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00)
            }
            0xDC00..=0xDFFF => {
                let found = format!("`\\u{high:04X}`");
                return Err(QueryError::new(at, "a Unicode scalar value", found)
                    .with_note("a low surrogate must follow a high one"));
            }
            c => c,
        };
        // Every value reaching here is a scalar value; the fallback is never taken.
        Ok(char::from_u32(code).unwrap_or(char::REPLACEMENT_CHARACTER))
    }

    fn hex4(&mut self) -> Result<u32, QueryError> {
        let mut value = 0;
        for _ in 0..4 {
            let digit = self.peek().and_then(|c| c.to_digit(16));
            let Some(digit) = digit else {
                let found = describe_char(self.peek());
                return Err(QueryError::new(self.pos, "a hexadecimal digit", found));
            };
            value = value * 16 + digit;
            self.pos += 1;
        }
        Ok(value)
    }
}
