//! The parser: tokens → [`Query`], by recursive descent, one function per rule of the grammar
//! in the [module docs](super).
//!
//! Keywords are contextual. At the start of a query `order` is the tail only when `by`
//! follows, and `offset`/`limit` only when a number follows; everywhere else a name in a
//! path's place is a path. Each error says what every valid continuation would have been at
//! that point, so its `expected` depends on what has been parsed so far.

use super::ast::{
    Body, Comparison, Expr, Ident, Literal, LocationKind, LocationQuery, Number, Op, OrderItem,
    Path, Query, Span,
};
use super::error::{human_list, QueryError};
use super::lexer::{tokenize, Token, TokenKind};
use super::MAX_NESTING;

const RELATIONAL: [&str; 6] = ["`==`", "`!=`", "`>`", "`<`", "`>=`", "`<=`"];
const VALUE: &str =
    "a value (a string in double quotes, a number, `true`, `false`, `null`, `date(…)` or `id(…)`)";
const COUNT: &str = "a non-negative integer";
const FOUND_MAX_CHARS: usize = 24;

/// Parses the query whose characters are `chars`.
pub(crate) fn parse_chars(chars: &[char]) -> Result<Query, QueryError> {
    let tokens = tokenize(chars);
    let (pos, last_end, depth) = (0, 0, 0);
    Parser {
        chars,
        tokens,
        pos,
        last_end,
        depth,
    }
    .query()
}

/// What a condition may contain: a location filter allows only relational operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Context {
    Condition,
    Filter,
}

struct Parser<'a> {
    chars: &'a [char],
    /// Ends with one `Eof` or `Error` token, which is never consumed.
    tokens: Vec<Token>,
    pos: usize,
    /// End of the last token consumed.
    last_end: usize,
    /// Open parentheses.
    depth: usize,
}

impl Parser<'_> {
    // ---- token access ----

    fn peek(&self) -> &Token {
        &self.tokens[self.pos]
    }

    fn kind_at(&self, n: usize) -> &TokenKind {
        let last = self.tokens.len() - 1;
        &self.tokens[(self.pos + n).min(last)].kind
    }

    fn bump(&mut self) -> Token {
        let token = self.tokens[self.pos].clone();
        if self.pos + 1 < self.tokens.len() {
            self.pos += 1;
            self.last_end = token.span.end;
        }
        token
    }

    fn is_kw_at(&self, n: usize, keyword: &str) -> bool {
        matches!(self.kind_at(n), TokenKind::Ident(s) if s.eq_ignore_ascii_case(keyword))
    }

    fn is_kw(&self, keyword: &str) -> bool {
        self.is_kw_at(0, keyword)
    }

    fn eat_kw(&mut self, keyword: &str) -> bool {
        let found = self.is_kw(keyword);
        if found {
            self.bump();
        }
        found
    }

    fn eat(&mut self, kind: &TokenKind) -> bool {
        let found = self.peek().kind == *kind;
        if found {
            self.bump();
        }
        found
    }

    fn expect(&mut self, kind: &TokenKind, expected: &str) -> Result<Token, QueryError> {
        if self.peek().kind == *kind {
            Ok(self.bump())
        } else {
            Err(self.unexpected(expected))
        }
    }

    /// An error at the current token; a lexical fault there is reported as itself.
    fn unexpected(&self, expected: &str) -> QueryError {
        self.fail(expected, None)
    }

    fn fail(&self, expected: &str, note: Option<&str>) -> QueryError {
        let token = self.peek();
        let error = match &token.kind {
            TokenKind::Error(e) => return (**e).clone(),
            TokenKind::Eof => QueryError::new(token.span.start, expected, "end of query"),
            _ => {
                let chars = &self.chars[token.span.start..token.span.end];
                let text: String = chars.iter().take(FOUND_MAX_CHARS).collect();
                let more = if chars.len() > FOUND_MAX_CHARS {
                    "…"
                } else {
                    ""
                };
                QueryError::new(token.span.start, expected, format!("`{text}{more}`"))
            }
        };
        match note {
            Some(note) => error.with_note(note),
            None => error,
        }
    }

    // ---- query, tail ----

    fn query(mut self) -> Result<Query, QueryError> {
        let mut query = Query::default();
        // Besides the tail, what could have continued the last construct parsed.
        let mut open: Vec<&str> = Vec::new();
        let mut bare_location = false;
        if !self.at_tail_start() {
            if self.starts_location() {
                let location = self.location()?;
                bare_location = location.filter.is_none();
                open = if bare_location {
                    vec!["`filter`"]
                } else {
                    vec!["`and`", "`or`"]
                };
                query.body = Some(Body::Location(location));
            } else {
                query.body = Some(Body::Condition(self.or_expr(Context::Condition)?));
                open = vec!["`and`", "`or`"];
            }
        }
        if self.eat_kw("order") {
            if !self.eat_kw("by") {
                return Err(self.unexpected("`by`"));
            }
            loop {
                let path = self.path()?;
                let descending = self.is_kw("desc");
                let directed = descending || self.is_kw("asc");
                if directed {
                    self.bump();
                }
                query.order_by.push(OrderItem { path, descending });
                if !self.eat(&TokenKind::Comma) {
                    open = if directed {
                        vec!["`,`"]
                    } else {
                        vec!["`,`", "`asc`", "`desc`"]
                    };
                    break;
                }
            }
        }
        if self.eat_kw("offset") {
            query.offset = Some(self.count()?);
            open.clear();
        }
        if self.eat_kw("limit") {
            query.limit = Some(self.count()?);
            open.clear();
        }
        if self.peek().kind == TokenKind::Eof {
            return Ok(query);
        }

        let mut expected = open;
        if query.order_by.is_empty() && query.offset.is_none() && query.limit.is_none() {
            expected.push("`order by`");
        }
        if query.offset.is_none() && query.limit.is_none() {
            expected.push("`offset`");
        }
        if query.limit.is_none() {
            expected.push("`limit`");
        }
        expected.push("end of query");
        let note = if bare_location && (self.is_kw("and") || self.is_kw("or")) {
            Some("a location query cannot be combined with `and`/`or`; add conditions after `filter`")
        } else if query.limit.is_some() && (self.is_kw("offset") || self.is_kw("order")) {
            Some("`limit` must come last")
        } else if query.offset.is_some() && self.is_kw("order") {
            Some("`order by` must come before `offset`")
        } else {
            None
        };
        Err(self.fail(&human_list(&expected), note))
    }

    /// At the start: does the query consist of a tail only?
    fn at_tail_start(&self) -> bool {
        match self.kind_at(0) {
            TokenKind::Eof => true,
            TokenKind::Ident(_) if self.is_kw("order") => self.is_kw_at(1, "by"),
            TokenKind::Ident(_) if self.is_kw("offset") || self.is_kw("limit") => {
                matches!(self.kind_at(1), TokenKind::Number(_))
            }
            _ => false,
        }
    }

    /// `count ::= [0-9]+`
    fn count(&mut self) -> Result<u64, QueryError> {
        if let TokenKind::Number(n) = &self.peek().kind {
            if let Some(value) = n.as_u64() {
                self.bump();
                return Ok(value);
            }
        }
        Err(self.unexpected(COUNT))
    }

    // ---- location ----

    /// At the start: is it `path within` or `path near`?
    fn starts_location(&self) -> bool {
        let mut n = 0;
        loop {
            if !matches!(self.kind_at(n), TokenKind::Ident(_)) {
                return false;
            }
            n += 1;
            if *self.kind_at(n) != TokenKind::Dot {
                return self.is_kw_at(n, "within") || self.is_kw_at(n, "near");
            }
            n += 1;
        }
    }

    fn location(&mut self) -> Result<LocationQuery, QueryError> {
        let path = self.path()?;
        let within = self.is_kw("within");
        self.bump();
        self.expect(&TokenKind::LBracket, "`[`")?;
        let lat = self.coordinate("a number (the latitude)")?;
        self.expect(&TokenKind::Comma, "`,`")?;
        let lng = self.coordinate("a number (the longitude)")?;
        let (kind, shape) = if within {
            let shape = "`within` takes [latitude, longitude, radius in km]";
            if !self.eat(&TokenKind::Comma) {
                return Err(self.fail("`,`", Some(shape)));
            }
            let radius_km = self.coordinate("a number (the radius in km)")?;
            (
                LocationKind::Within {
                    lat,
                    lng,
                    radius_km,
                },
                shape,
            )
        } else {
            (
                LocationKind::Near { lat, lng },
                "`near` takes [latitude, longitude]",
            )
        };
        let expected = if self.eat(&TokenKind::Comma) {
            "`]`"
        } else {
            "`,` or `]`"
        };
        if self.peek().kind != TokenKind::RBracket {
            return Err(self.fail(expected, Some(shape)));
        }
        let close = self.bump();
        let span = path.span().to(close.span);
        let filter = if self.eat_kw("filter") {
            Some(self.or_expr(Context::Filter)?)
        } else {
            None
        };
        Ok(LocationQuery {
            path,
            kind,
            filter,
            span,
        })
    }

    fn coordinate(&mut self, expected: &str) -> Result<Number, QueryError> {
        match &self.peek().kind {
            TokenKind::Number(n) => {
                let n = n.clone();
                self.bump();
                Ok(n)
            }
            _ => Err(self.unexpected(expected)),
        }
    }

    // ---- conditions ----

    /// `or_expr ::= and_expr ("or" and_expr)*`
    fn or_expr(&mut self, cx: Context) -> Result<Expr, QueryError> {
        self.chain(cx, true)
    }

    /// `or_expr` when `or`, else `and_expr ::= primary ("and" primary)*`. A parenthesised
    /// `or` directly inside an `or` is flattened into it, and the same for `and`.
    fn chain(&mut self, cx: Context, or: bool) -> Result<Expr, QueryError> {
        let mut items = Vec::new();
        loop {
            match if or {
                self.chain(cx, false)?
            } else {
                self.primary(cx)?
            } {
                Expr::Or(inner) if or => items.extend(inner),
                Expr::And(inner) if !or => items.extend(inner),
                e => items.push(e),
            }
            if !self.eat_kw(if or { "or" } else { "and" }) {
                break;
            }
        }
        Ok(match (items.len(), or) {
            (1, _) => items.remove(0),
            (_, true) => Expr::Or(items),
            (_, false) => Expr::And(items),
        })
    }

    /// `primary ::= "(" or_expr ")" | comparison`
    fn primary(&mut self, cx: Context) -> Result<Expr, QueryError> {
        match self.peek().kind {
            TokenKind::LParen => {
                if self.depth >= MAX_NESTING {
                    let expected = format!("at most {MAX_NESTING} nested parentheses");
                    return Err(QueryError::new(self.peek().span.start, expected, "`(`"));
                }
                self.bump();
                self.depth += 1;
                let e = self.or_expr(cx)?;
                self.expect(&TokenKind::RParen, "`and`, `or` or `)`")?;
                self.depth -= 1;
                Ok(e)
            }
            TokenKind::Ident(_) => self.comparison(cx).map(Expr::Compare),
            _ if self.pos == 0 => Err(self
                .unexpected("a property name, `(`, `order by`, `offset`, `limit` or end of query")),
            _ => Err(self.unexpected("a property name or `(`")),
        }
    }

    /// `comparison ::= path relational value | path ("startswith" | "like") string
    ///                | path "size" count`
    fn comparison(&mut self, cx: Context) -> Result<Comparison, QueryError> {
        let at_start = self.pos == 0;
        let path = self.path()?;
        let op = match &self.peek().kind {
            TokenKind::Eq => Op::Eq,
            TokenKind::Ne => Op::Ne,
            TokenKind::Gt => Op::Gt,
            TokenKind::Lt => Op::Lt,
            TokenKind::Ge => Op::Ge,
            TokenKind::Le => Op::Le,
            _ if cx == Context::Condition && self.is_kw("startswith") => Op::StartsWith,
            _ if cx == Context::Condition && self.is_kw("like") => Op::Like,
            _ if cx == Context::Condition && self.is_kw("size") => Op::Size,
            _ => return Err(self.bad_operator(cx, at_start)),
        };
        let op_span = self.bump().span;
        let value_start = self.peek().span.start;
        let value = match op {
            Op::StartsWith | Op::Like => match &self.peek().kind {
                TokenKind::Str(s) => Literal::String(s.clone()),
                _ => return Err(self.unexpected("a string in double quotes")),
            },
            Op::Size => match &self.peek().kind {
                TokenKind::Number(n) if n.as_u64().is_some() => Literal::Number(n.clone()),
                _ => return Err(self.unexpected(COUNT)),
            },
            _ => self.value()?,
        };
        if matches!(op, Op::StartsWith | Op::Like | Op::Size) {
            self.bump();
        }
        let value_span = Span::new(value_start, self.last_end);
        let span = path.span().to(value_span);
        Ok(Comparison {
            path,
            op,
            value,
            op_span,
            value_span,
            span,
        })
    }

    fn bad_operator(&self, cx: Context, at_start: bool) -> QueryError {
        let mut ops = RELATIONAL.to_vec();
        if cx == Context::Condition {
            ops.extend(["`startswith`", "`like`", "`size`"]);
            if at_start {
                ops.extend(["`within`", "`near`"]);
            }
        }
        let location = self.is_kw("within") || self.is_kw("near");
        let other = self.is_kw("startswith") || self.is_kw("like") || self.is_kw("size");
        let note = match self.peek().kind {
            TokenKind::Unknown('=') => Some("compare with `==`"),
            _ if location && cx == Context::Filter => {
                Some("a location filter cannot hold another location query")
            }
            _ if location => Some(
                "`within`/`near` must be the whole condition, not combined with `and`/`or`; \
                 add conditions after `filter`",
            ),
            _ if other && cx == Context::Filter => {
                Some("a location filter allows only `==`, `!=`, `>`, `<`, `>=` and `<=`")
            }
            _ => None,
        };
        self.fail(&human_list(&ops), note)
    }

    /// `value ::= string | number | "true" | "false" | "null" | date | id`
    fn value(&mut self) -> Result<Literal, QueryError> {
        let literal = match &self.peek().kind {
            TokenKind::Str(s) => Literal::String(s.clone()),
            TokenKind::Number(n) => Literal::Number(n.clone()),
            TokenKind::Ident(_) if self.is_kw("true") => Literal::Bool(true),
            TokenKind::Ident(_) if self.is_kw("false") => Literal::Bool(false),
            TokenKind::Ident(_) if self.is_kw("null") => Literal::Null,
            TokenKind::Ident(_) if self.is_kw("date") => return self.date(),
            TokenKind::Ident(_) if self.is_kw("id") => return self.id(),
            TokenKind::Ident(_) | TokenKind::Unknown('\'' | '‘' | '’' | '“' | '”') => {
                return Err(self.fail(VALUE, Some("strings must be in double quotes")));
            }
            _ => return Err(self.unexpected(VALUE)),
        };
        self.bump();
        Ok(literal)
    }

    /// `date ::= "date" "(" "-"? [0-9]+ ")"`
    fn date(&mut self) -> Result<Literal, QueryError> {
        self.bump();
        self.expect(&TokenKind::LParen, "`(`")?;
        let ms = match &self.peek().kind {
            TokenKind::Number(n) => n.as_i64(),
            _ => None,
        };
        let Some(ms) = ms else {
            return Err(self.unexpected("an integer (milliseconds since the epoch)"));
        };
        self.bump();
        self.expect(&TokenKind::RParen, "`)`")?;
        Ok(Literal::Date(ms))
    }

    /// `id ::= "id" "(" (number | word | ident | string) ")"`
    fn id(&mut self) -> Result<Literal, QueryError> {
        self.bump();
        self.expect(&TokenKind::LParen, "`(`")?;
        let text = match &self.peek().kind {
            TokenKind::Number(n) => n.text().to_string(),
            TokenKind::Word(s) | TokenKind::Ident(s) | TokenKind::Str(s) => s.clone(),
            _ => return Err(self.unexpected("an id (a number, a word or a string)")),
        };
        self.bump();
        self.expect(&TokenKind::RParen, "`)`")?;
        Ok(Literal::Id(text))
    }

    // ---- paths ----

    /// `path ::= ident ("." ident)*`
    fn path(&mut self) -> Result<Path, QueryError> {
        let mut segments = vec![self.ident("a property name")?];
        while self.eat(&TokenKind::Dot) {
            segments.push(self.ident("a property name after `.`")?);
        }
        Ok(Path { segments })
    }

    fn ident(&mut self, expected: &str) -> Result<Ident, QueryError> {
        match &self.peek().kind {
            TokenKind::Ident(name) => {
                let ident = Ident {
                    name: name.clone(),
                    span: self.peek().span,
                };
                self.bump();
                Ok(ident)
            }
            _ => Err(self.unexpected(expected)),
        }
    }
}
