//! Properties: a tree prints to text that parses back to the same tree; any text either
//! parses (and then round-trips) or fails at a position inside it; spans point at the names.

use proptest::prelude::*;

use crate::query::ast::{
    Body, Comparison, Expr, Ident, Literal, LocationKind, LocationQuery, Number, Op, OrderItem,
    Path, Query, Span,
};
use crate::query::parse;

const KEYWORDS: &[&str] = &[
    "and",
    "or",
    "order",
    "by",
    "limit",
    "offset",
    "filter",
    "within",
    "near",
    "size",
    "like",
    "startswith",
    "asc",
    "desc",
    "true",
    "false",
    "null",
    "date",
    "id",
    "ORDER",
    "Limit",
    "AND",
];

fn ident() -> impl Strategy<Value = Ident> {
    prop_oneof![
        3 => "[A-Za-z_][A-Za-z0-9_]{0,6}",
        1 => prop::sample::select(KEYWORDS).prop_map(String::from),
    ]
    .prop_map(|name| Ident {
        name,
        span: Span::default(),
    })
}

fn path() -> impl Strategy<Value = Path> {
    prop::collection::vec(ident(), 1..4).prop_map(|segments| Path { segments })
}

fn string() -> impl Strategy<Value = String> {
    let special = prop::sample::select(
        &[
            '"', '\\', '\n', '\t', '\0', '\u{7f}', '\u{85}', 'é', '😀', '/', 'u', ' ',
        ][..],
    );
    let c = prop_oneof![3 => any::<char>(), 2 => special];
    prop::collection::vec(c, 0..8).prop_map(|cs| cs.into_iter().collect())
}

fn number() -> impl Strategy<Value = Number> {
    prop_oneof![
        any::<f64>().prop_filter_map("finite", Number::from_f64),
        any::<i64>().prop_map(Number::from_i64),
        "-?[0-9]{1,25}(\\.[0-9]{1,5})?([eE][+-]?[0-9]{1,3})?"
            .prop_filter_map("finite", |s| Number::parse(&s)),
    ]
}

fn count() -> impl Strategy<Value = u64> {
    prop_oneof![0..100u64, any::<u64>()]
}

fn literal() -> impl Strategy<Value = Literal> {
    prop_oneof![
        string().prop_map(Literal::String),
        number().prop_map(Literal::Number),
        any::<bool>().prop_map(Literal::Bool),
        Just(Literal::Null),
        any::<i64>().prop_map(Literal::Date),
        prop_oneof!["[A-Za-z0-9_]{1,12}", string()].prop_map(Literal::Id),
    ]
}

fn relational() -> impl Strategy<Value = Op> {
    prop::sample::select(&[Op::Eq, Op::Ne, Op::Gt, Op::Lt, Op::Ge, Op::Le][..])
}

fn comparison(filter: bool) -> BoxedStrategy<Comparison> {
    let relational = (path(), relational(), literal());
    let test = if filter {
        relational.boxed()
    } else {
        let text_op = prop::sample::select(&[Op::StartsWith, Op::Like][..]);
        let size = count().prop_map(|n| Literal::Number(Number::from_u64(n)));
        prop_oneof![
            3 => relational,
            1 => (path(), text_op, string().prop_map(Literal::String)),
            1 => (path(), Just(Op::Size), size),
        ]
        .boxed()
    };
    test.prop_map(|(path, op, value)| {
        let zero = Span::default();
        Comparison {
            path,
            op,
            value,
            op_span: zero,
            value_span: zero,
            span: zero,
        }
    })
    .boxed()
}

/// What the parser makes of nested `or`s and `and`s: flattened into their parent.
fn flatten(e: Expr) -> Expr {
    let flat = |items: Vec<Expr>, or: bool| {
        let mut out = Vec::new();
        for item in items.into_iter().map(flatten) {
            match item {
                Expr::Or(inner) if or => out.extend(inner),
                Expr::And(inner) if !or => out.extend(inner),
                item => out.push(item),
            }
        }
        out
    };
    match e {
        Expr::Or(items) => Expr::Or(flat(items, true)),
        Expr::And(items) => Expr::And(flat(items, false)),
        e => e,
    }
}

fn expr(filter: bool) -> impl Strategy<Value = Expr> {
    comparison(filter)
        .prop_map(Expr::Compare)
        .prop_recursive(4, 24, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 2..4).prop_map(Expr::Or),
                prop::collection::vec(inner, 2..4).prop_map(Expr::And),
            ]
        })
        .prop_map(flatten)
}

fn location() -> impl Strategy<Value = LocationQuery> {
    let kind = prop_oneof![
        (number(), number(), number()).prop_map(|(lat, lng, radius_km)| LocationKind::Within {
            lat,
            lng,
            radius_km
        }),
        (number(), number()).prop_map(|(lat, lng)| LocationKind::Near { lat, lng }),
    ];
    (path(), kind, prop::option::of(expr(true))).prop_map(|(path, kind, filter)| LocationQuery {
        path,
        kind,
        filter,
        span: Span::default(),
    })
}

fn query() -> impl Strategy<Value = Query> {
    let body = prop_oneof![
        3 => expr(false).prop_map(Body::Condition),
        1 => location().prop_map(Body::Location),
    ];
    let item =
        (path(), any::<bool>()).prop_map(|(path, descending)| OrderItem { path, descending });
    (
        prop::option::of(body),
        prop::collection::vec(item, 0..3),
        prop::option::of(count()),
        prop::option::of(count()),
    )
        .prop_map(|(body, order_by, offset, limit)| Query {
            body,
            order_by,
            offset,
            limit,
        })
}

/// Text assembled from the language's own tokens, to reach deeper than random characters.
fn token_soup() -> impl Strategy<Value = String> {
    let tokens = prop::sample::select(
        &[
            "a",
            "b.c",
            "==",
            "!=",
            ">",
            "<",
            ">=",
            "<=",
            "startswith",
            "like",
            "size",
            "within",
            "near",
            "filter",
            "and",
            "or",
            "(",
            ")",
            "[",
            "]",
            ",",
            "1",
            "-2.5",
            "1e3",
            "\"s\"",
            "\"\\\"\"",
            "true",
            "null",
            "date(5)",
            "id(5a)",
            "id(",
            "order",
            "by",
            "desc",
            "offset",
            "limit",
            "0",
            "=",
            "'",
            "\"",
            "\\",
        ][..],
    );
    prop::collection::vec(tokens, 0..12).prop_map(|ts| ts.join(" "))
}

/// Every path segment of `q` with its span, for checking spans against the text.
fn idents(q: &Query) -> Vec<&Ident> {
    fn walk<'a>(e: &'a Expr, out: &mut Vec<&'a Ident>) {
        match e {
            Expr::Or(items) | Expr::And(items) => items.iter().for_each(|e| walk(e, out)),
            Expr::Compare(c) => out.extend(&c.path.segments),
        }
    }
    let mut out = Vec::new();
    match &q.body {
        Some(Body::Condition(e)) => walk(e, &mut out),
        Some(Body::Location(l)) => {
            out.extend(&l.path.segments);
            l.filter.iter().for_each(|e| walk(e, &mut out));
        }
        None => {}
    }
    q.order_by.iter().for_each(|o| out.extend(&o.path.segments));
    out
}

/// Parsed text round-trips through `Display`, and every name's span covers that name.
fn check_parsed(text: &str, q: &Query) -> Result<(), TestCaseError> {
    let printed = q.to_string();
    let again = parse(&printed).map_err(|e| TestCaseError::fail(format!("{printed:?}: {e}")))?;
    prop_assert_eq!(
        again.without_spans(),
        q.without_spans(),
        "printed as {:?}",
        printed
    );
    let chars: Vec<char> = text.chars().collect();
    for ident in idents(q) {
        let at: String = chars[ident.span.start..ident.span.end].iter().collect();
        prop_assert_eq!(&at, &ident.name);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn printed_trees_parse_back_to_themselves(q in query()) {
        let text = q.to_string();
        let parsed = parse(&text).map_err(|e| TestCaseError::fail(format!("{text:?}: {e}")))?;
        prop_assert_eq!(parsed.without_spans(), q, "text {:?}", text);
        check_parsed(&text, &parsed)?;
    }

    #[test]
    fn token_soup_parses_and_round_trips_or_fails_inside_the_text(text in token_soup()) {
        match parse(&text) {
            Ok(q) => check_parsed(&text, &q)?,
            Err(e) => prop_assert!(e.position <= text.chars().count(), "{e}"),
        }
    }

    #[test]
    fn any_text_parses_and_round_trips_or_fails_inside_the_text(text in "\\PC{0,40}|.{0,40}") {
        match parse(&text) {
            Ok(q) => check_parsed(&text, &q)?,
            Err(e) => prop_assert!(e.position <= text.chars().count(), "{e}"),
        }
    }
}
