//! The syntax tree a query parses into, and its canonical text.
//!
//! Nothing here knows the schema: a [`Path`] is a list of names as written, a [`Literal`] is
//! typed only by its syntax. Resolving paths against property types, and rejecting values that
//! do not fit them, is a later step's job. Every node that can be the subject of such an error
//! carries a [`Span`] so that step can point at it.
//!
//! `Display` prints the canonical text: lower-case keywords, single spaces, `asc` omitted,
//! strings re-escaped, parentheses only where needed. Parsing it gives back the same tree,
//! spans aside; compare with [`Query::without_spans`].
//!
//! Invariants of a parsed tree (a hand-built tree should keep them for `Display` to
//! round-trip): `Or`/`And` have at least two children, an `Or` never directly holds an `Or`
//! nor an `And` an `And` (the parser flattens them); `StartsWith`/`Like` take a
//! [`Literal::String`]; `Size` takes a [`Literal::Number`] for which [`Number::as_u64`] is
//! `Some`; a location filter uses only the six relational operators.

use std::fmt;

/// A range of **character** offsets into the query text, `start..end`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}

impl Span {
    pub fn new(start: usize, end: usize) -> Self {
        Span { start, end }
    }

    /// The smallest span covering both.
    pub fn to(self, other: Span) -> Span {
        Span::new(self.start.min(other.start), self.end.max(other.end))
    }
}

/// A whole query: an optional condition, then the tail.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Query {
    /// `None` selects every object.
    pub body: Option<Body>,
    pub order_by: Vec<OrderItem>,
    pub offset: Option<u64>,
    pub limit: Option<u64>,
}

/// The condition part of a query.
#[derive(Debug, Clone, PartialEq)]
pub enum Body {
    Condition(Expr),
    /// `within`/`near` must be the whole condition; more conditions go in its `filter`.
    Location(LocationQuery),
}

/// `loc within [lat, lng, km]` or `loc near [lat, lng]`, optionally `filter COND`.
#[derive(Debug, Clone, PartialEq)]
pub struct LocationQuery {
    pub path: Path,
    pub kind: LocationKind,
    /// Uses only `==`, `!=`, `>`, `<`, `>=`, `<=` (with `and`, `or`, parentheses).
    pub filter: Option<Expr>,
    /// From the path to the closing `]`.
    pub span: Span,
}

/// Coordinates as written; the parser checks only that they are finite numbers.
#[derive(Debug, Clone, PartialEq)]
pub enum LocationKind {
    /// Objects within `radius_km` kilometres of the point, in no particular order.
    Within {
        lat: Number,
        lng: Number,
        radius_km: Number,
    },
    /// Objects sorted by distance to the point.
    Near { lat: Number, lng: Number },
}

/// A boolean condition. Parentheses leave no node of their own.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Or(Vec<Expr>),
    And(Vec<Expr>),
    Compare(Comparison),
}

impl Expr {
    /// From the first comparison's path to the last comparison's value.
    pub fn span(&self) -> Span {
        match self {
            Expr::Compare(c) => c.span,
            Expr::Or(items) | Expr::And(items) => match (items.first(), items.last()) {
                (Some(first), Some(last)) => first.span().to(last.span()),
                _ => Span::default(),
            },
        }
    }
}

/// `path op value`.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    pub path: Path,
    pub op: Op,
    pub value: Literal,
    pub op_span: Span,
    /// The whole literal, e.g. all of `date(1347600117535)`.
    pub value_span: Span,
    /// From the path to the end of the value.
    pub span: Span,
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    Eq,
    Ne,
    Gt,
    Lt,
    Ge,
    Le,
    /// Prefix match, case-sensitive; takes a string.
    StartsWith,
    /// Substring match, case-insensitive; takes a string.
    Like,
    /// Length of a JsonArray; takes a non-negative integer.
    Size,
}

impl Op {
    /// The operator as written in canonical text.
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Eq => "==",
            Op::Ne => "!=",
            Op::Gt => ">",
            Op::Lt => "<",
            Op::Ge => ">=",
            Op::Le => "<=",
            Op::StartsWith => "startswith",
            Op::Like => "like",
            Op::Size => "size",
        }
    }

    /// `==`, `!=`, `>`, `<`, `>=`, `<=`: the operators allowed in a location filter.
    pub fn is_relational(self) -> bool {
        !matches!(self, Op::StartsWith | Op::Like | Op::Size)
    }
}

/// A value, typed by its syntax only.
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    /// `"..."`, escapes already decoded.
    String(String),
    Number(Number),
    Bool(bool),
    Null,
    /// `date(ms)`: milliseconds since the Unix epoch.
    Date(i64),
    /// `id(...)`: the text inside, whether written as a number, a bare word or a string.
    /// Our ids are integers; the resolver checks that.
    Id(String),
}

/// A number literal: its text as written (`24`, `-3.5`, `1e3`) and its value.
///
/// The text is kept so integers beyond 2^53 lose nothing and printing gives back what was
/// parsed. Always finite.
#[derive(Debug, Clone, PartialEq)]
pub struct Number {
    text: String,
    value: f64,
}

impl Number {
    /// Accepts `-?[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?` with a finite value.
    pub fn parse(text: &str) -> Option<Number> {
        let digits = text.strip_prefix('-').unwrap_or(text);
        let (mantissa, exponent) = match digits.find(['e', 'E']) {
            Some(i) => (&digits[..i], Some(&digits[i + 1..])),
            None => (digits, None),
        };
        let (int, frac) = match mantissa.split_once('.') {
            Some((int, frac)) => (int, Some(frac)),
            None => (mantissa, None),
        };
        let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        let exponent_ok =
            exponent.is_none_or(|e| all_digits(e.strip_prefix(['+', '-']).unwrap_or(e)));
        if !all_digits(int) || !frac.is_none_or(all_digits) || !exponent_ok {
            return None;
        }
        let value: f64 = text.parse().ok()?;
        value.is_finite().then(|| Number {
            text: text.to_string(),
            value,
        })
    }

    /// A finite `f64`, written the shortest way that reads back exactly. `None` for NaN and
    /// infinities.
    pub fn from_f64(value: f64) -> Option<Number> {
        Number::parse(&format!("{value:?}"))
    }

    pub fn from_i64(value: i64) -> Number {
        Number {
            text: value.to_string(),
            value: value as f64,
        }
    }

    pub fn from_u64(value: u64) -> Number {
        Number {
            text: value.to_string(),
            value: value as f64,
        }
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    pub fn value(&self) -> f64 {
        self.value
    }

    /// The exact value when written as an integer (`-?[0-9]+`) that fits an `i64`.
    pub fn as_i64(&self) -> Option<i64> {
        let digits = self.text.strip_prefix('-').unwrap_or(&self.text);
        digits
            .bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| self.text.parse().ok())?
    }

    /// The exact value when written as a non-negative integer (`[0-9]+`) that fits a `u64`.
    pub fn as_u64(&self) -> Option<u64> {
        self.text
            .bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| self.text.parse().ok())?
    }
}

/// A dotted property path such as `company.city.name`, segments as written.
#[derive(Debug, Clone, PartialEq)]
pub struct Path {
    /// Never empty.
    pub segments: Vec<Ident>,
}

impl Path {
    /// From the first segment to the last.
    pub fn span(&self) -> Span {
        match (self.segments.first(), self.segments.last()) {
            (Some(first), Some(last)) => first.span.to(last.span),
            _ => Span::default(),
        }
    }

    /// The segment names, without spans.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.segments.iter().map(|s| s.name.as_str())
    }
}

/// One path segment: `[A-Za-z_][A-Za-z0-9_]*`.
#[derive(Debug, Clone, PartialEq)]
pub struct Ident {
    pub name: String,
    pub span: Span,
}

/// `path [asc|desc]` in `order by`.
#[derive(Debug, Clone, PartialEq)]
pub struct OrderItem {
    pub path: Path,
    pub descending: bool,
}

impl Query {
    /// A copy with every span set to `0..0`, to compare trees regardless of layout.
    pub fn without_spans(&self) -> Query {
        let mut q = self.clone();
        match &mut q.body {
            Some(Body::Condition(e)) => e.clear_spans(),
            Some(Body::Location(l)) => {
                l.span = Span::default();
                l.path.clear_spans();
                if let Some(e) = &mut l.filter {
                    e.clear_spans();
                }
            }
            None => {}
        }
        q.order_by.iter_mut().for_each(|o| o.path.clear_spans());
        q
    }
}

impl Expr {
    fn clear_spans(&mut self) {
        match self {
            Expr::Or(items) | Expr::And(items) => items.iter_mut().for_each(Expr::clear_spans),
            Expr::Compare(c) => {
                c.path.clear_spans();
                (c.op_span, c.value_span, c.span) = Default::default();
            }
        }
    }
}

impl Path {
    fn clear_spans(&mut self) {
        self.segments
            .iter_mut()
            .for_each(|s| s.span = Span::default());
    }
}

// ---- canonical text ----

impl fmt::Display for Query {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut sep = "";
        if let Some(body) = &self.body {
            write!(f, "{body}")?;
            sep = " ";
        }
        if !self.order_by.is_empty() {
            write!(f, "{sep}order by ")?;
            for (i, item) in self.order_by.iter().enumerate() {
                let comma = if i == 0 { "" } else { ", " };
                let desc = if item.descending { " desc" } else { "" };
                write!(f, "{comma}{}{desc}", item.path)?;
            }
            sep = " ";
        }
        if let Some(n) = self.offset {
            write!(f, "{sep}offset {n}")?;
            sep = " ";
        }
        if let Some(n) = self.limit {
            write!(f, "{sep}limit {n}")?;
        }
        Ok(())
    }
}

impl fmt::Display for Body {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Body::Condition(e) => write!(f, "{e}"),
            Body::Location(l) => write!(f, "{l}"),
        }
    }
}

impl fmt::Display for LocationQuery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            LocationKind::Within {
                lat,
                lng,
                radius_km,
            } => write!(f, "{} within [{lat}, {lng}, {radius_km}]", self.path)?,
            LocationKind::Near { lat, lng } => write!(f, "{} near [{lat}, {lng}]", self.path)?,
        }
        match &self.filter {
            Some(e) => write!(f, " filter {e}"),
            None => Ok(()),
        }
    }
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (items, joiner) = match self {
            Expr::Compare(c) => return write!(f, "{c}"),
            Expr::Or(items) => (items, " or "),
            Expr::And(items) => (items, " and "),
        };
        for (i, item) in items.iter().enumerate() {
            if i > 0 {
                f.write_str(joiner)?;
            }
            // `and` binds tighter, so only an `or` inside an `and` needs parentheses; a nested
            // node of the same kind gets them too so that a hand-built tree keeps its shape.
            let bare = matches!(
                (self, item),
                (_, Expr::Compare(_)) | (Expr::Or(_), Expr::And(_))
            );
            if bare {
                write!(f, "{item}")?;
            } else {
                write!(f, "({item})")?;
            }
        }
        Ok(())
    }
}

impl fmt::Display for Comparison {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {}", self.path, self.op, self.value)
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for Literal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Literal::String(s) => write_quoted(f, s),
            Literal::Number(n) => write!(f, "{n}"),
            Literal::Bool(b) => write!(f, "{b}"),
            Literal::Null => f.write_str("null"),
            Literal::Date(ms) => write!(f, "date({ms})"),
            Literal::Id(text) => {
                let bare =
                    !text.is_empty() && text.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
                f.write_str("id(")?;
                if bare {
                    f.write_str(text)?;
                } else {
                    write_quoted(f, text)?;
                }
                f.write_str(")")
            }
        }
    }
}

impl fmt::Display for Number {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, seg) in self.segments.iter().enumerate() {
            if i > 0 {
                f.write_str(".")?;
            }
            f.write_str(&seg.name)?;
        }
        Ok(())
    }
}

/// A double-quoted string with `"` and `\` escaped, and control characters as escapes so
/// the text stays on one line.
fn write_quoted(f: &mut fmt::Formatter<'_>, s: &str) -> fmt::Result {
    f.write_str("\"")?;
    for c in s.chars() {
        match c {
            '"' => f.write_str("\\\"")?,
            '\\' => f.write_str("\\\\")?,
            '\n' => f.write_str("\\n")?,
            '\r' => f.write_str("\\r")?,
            '\t' => f.write_str("\\t")?,
            c if c.is_control() => write!(f, "\\u{:04x}", c as u32)?,
            c => write!(f, "{c}")?,
        }
    }
    f.write_str("\"")
}
