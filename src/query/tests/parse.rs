//! Accepted syntax: every example of ApiOmat's text and API.md §8, each construct, and the
//! exact trees and spans of a few.

use crate::query::ast::{
    Body, Comparison, Expr, Ident, Literal, LocationKind, LocationQuery, Number, Op, OrderItem,
    Path, Query, Span,
};
use crate::query::parse;

/// Parses `input`, checks it prints as `canonical`, and that the canonical text parses to the
/// same tree.
fn check(input: &str, canonical: &str) -> Query {
    let q = parse(input).unwrap_or_else(|e| panic!("{input:?} should parse: {e}"));
    assert_eq!(q.to_string(), canonical, "canonical text of {input:?}");
    let again = parse(canonical).unwrap_or_else(|e| panic!("{canonical:?} should parse: {e}"));
    assert_eq!(
        again.without_spans(),
        q.without_spans(),
        "round trip of {input:?}"
    );
    q
}

fn path(names: &str) -> Path {
    let segments = names.split('.').map(|n| Ident {
        name: n.to_string(),
        span: Span::default(),
    });
    Path {
        segments: segments.collect(),
    }
}

fn cmp(p: &str, op: Op, value: Literal) -> Expr {
    let zero = Span::default();
    Expr::Compare(Comparison {
        path: path(p),
        op,
        value,
        op_span: zero,
        value_span: zero,
        span: zero,
    })
}

fn num(text: &str) -> Number {
    Number::parse(text).expect("a valid number")
}

fn condition(e: Expr) -> Query {
    Query {
        body: Some(Body::Condition(e)),
        ..Query::default()
    }
}

#[test]
fn every_example_of_the_apiomat_text_parses() {
    let examples = [
        (r#"firstname=="John""#, r#"firstname == "John""#),
        (
            r#"firstname startswith "John""#,
            r#"firstname startswith "John""#,
        ),
        (r#"firstname like "oh""#, r#"firstname like "oh""#),
        ("age==24", "age == 24"),
        ("age!=24", "age != 24"),
        ("age>24", "age > 24"),
        ("age<=24", "age <= 24"),
        ("age>24 and age<30", "age > 24 and age < 30"),
        (
            "birthdate > date(1347600117535)",
            "birthdate > date(1347600117535)",
        ),
        (
            "id == id(5052cd9444ae23a741ca76b2)",
            "id == id(5052cd9444ae23a741ca76b2)",
        ),
        (
            "loc within [51.3, 12.3, 10.0]",
            "loc within [51.3, 12.3, 10.0]",
        ),
        ("loc near [51.3, 12.3,]", "loc near [51.3, 12.3]"),
        (
            "loc near [51.3, 12.3,] limit 10",
            "loc near [51.3, 12.3] limit 10",
        ),
        (
            r#"loc near [11.5,50.0] filter firstname=="John" and lastname=="doe""#,
            r#"loc near [11.5, 50.0] filter firstname == "John" and lastname == "doe""#,
        ),
        ("users.age > 30", "users.age > 30"),
        ("city.places.users.age > 30", "city.places.users.age > 30"),
        (
            r#"attendeeUserNames=="John""#,
            r#"attendeeUserNames == "John""#,
        ),
        (
            r#"preferences.food == "Pasta""#,
            r#"preferences.food == "Pasta""#,
        ),
        (
            r#"preferences.food like "Pasta""#,
            r#"preferences.food like "Pasta""#,
        ),
        ("myList size 0", "myList size 0"),
        ("attributeName == null", "attributeName == null"),
        (
            "lastName == null order by createdAt DESC",
            "lastName == null order by createdAt desc",
        ),
        (
            r#"firstname startswith "J" offset 5 limit 4"#,
            r#"firstname startswith "J" offset 5 limit 4"#,
        ),
        ("offset 5 limit 4", "offset 5 limit 4"),
        ("order by createdAt DESC", "order by createdAt desc"),
    ];
    for (input, canonical) in examples {
        check(input, canonical);
    }
}

#[test]
fn every_example_of_the_contract_parses() {
    let examples = [
        (r#"name == "John""#, r#"name == "John""#),
        ("tags size 0", "tags size 0"),
        (r#"tags == "x""#, r#"tags == "x""#),
        (
            r#"company.city.name == "Berlin""#,
            r#"company.city.name == "Berlin""#,
        ),
        ("children.Order.amount > 100", "children.Order.amount > 100"),
        (
            r#"parents.Customer.name == "X""#,
            r#"parents.Customer.name == "X""#,
        ),
        (
            r#"age > 30 and lastName == "Doe" order by age limit 50"#,
            r#"age > 30 and lastName == "Doe" order by age limit 50"#,
        ),
        ("x == null", "x == null"),
        ("id(42) == id(42)", "id(42) == id(42)"),
        ("objectId == id(42)", "objectId == id(42)"),
        ("order by a DESC, b", "order by a desc, b"),
    ];
    for (input, canonical) in examples {
        if input == "id(42) == id(42)" {
            assert!(parse(input).is_err(), "a path cannot be a literal");
            continue;
        }
        check(input, canonical);
    }
}

#[test]
fn each_construct_prints_canonically() {
    let cases = [
        // Empty queries select everything.
        ("", ""),
        ("   \n\t ", ""),
        // Operators, with and without spaces.
        ("a==1", "a == 1"),
        ("a!=-1", "a != -1"),
        ("a>=1.5", "a >= 1.5"),
        ("a<=-0.25", "a <= -0.25"),
        ("a<-1", "a < -1"),
        ("a > 1e3", "a > 1e3"),
        ("a > 1E-3", "a > 1E-3"),
        ("a > 007", "a > 007"),
        (
            "a == 12345678901234567890123",
            "a == 12345678901234567890123",
        ),
        // Literals.
        ("a == TRUE", "a == true"),
        ("a == False", "a == false"),
        ("a == NULL", "a == null"),
        ("a == DATE(-5)", "a == date(-5)"),
        ("a == date ( 0 )", "a == date(0)"),
        ("a == id(42)", "a == id(42)"),
        ("a == id(abc_1)", "a == id(abc_1)"),
        (r#"a == id("x-1")"#, r#"a == id("x-1")"#),
        (r#"a == id("abc")"#, "a == id(abc)"),
        ("a == id(1e3)", "a == id(1e3)"),
        ("a == id(-7)", r#"a == id("-7")"#),
        // Strings and escapes.
        (r#"a == """#, r#"a == """#),
        (
            r#"a == "say \"hi\" \\ there""#,
            r#"a == "say \"hi\" \\ there""#,
        ),
        (r#"a == "\/\b\f\n\r\t""#, r#"a == "/\u0008\u000c\n\r\t""#),
        (r#"a == "\u00e9\u00E9 \ud83d\ude00""#, r#"a == "éé 😀""#),
        ("a == \"line\nbreak\"", r#"a == "line\nbreak""#),
        (r#"a == "Grüße, 東京""#, r#"a == "Grüße, 東京""#),
        // Boolean structure: and binds tighter; parentheses only where needed.
        ("a==1 or b==2 and c==3", "a == 1 or b == 2 and c == 3"),
        ("(a==1 or b==2) and c==3", "(a == 1 or b == 2) and c == 3"),
        ("((a==1))", "a == 1"),
        ("(a==1 and b==2) and c==3", "a == 1 and b == 2 and c == 3"),
        ("a==1 or (b==2 or c==3)", "a == 1 or b == 2 or c == 3"),
        ("(a==1 and b==2) or c==3", "a == 1 and b == 2 or c == 3"),
        ("a==1 AND b==2 Or c==3", "a == 1 and b == 2 or c == 3"),
        // Keywords are contextual: they still name properties.
        ("order == 1", "order == 1"),
        ("limit == 1 and offset > 2", "limit == 1 and offset > 2"),
        ("order.by == 1", "order.by == 1"),
        ("and == 1 or or == 2", "and == 1 or or == 2"),
        ("size size 3", "size size 3"),
        ("within == 1", "within == 1"),
        ("limit size 0", "limit size 0"),
        (
            "a == 1 order by order, limit limit 3",
            "a == 1 order by order, limit limit 3",
        ),
        ("order by desc desc, asc", "order by desc desc, asc"),
        // Locations.
        (
            "loc within [51.3, 12.3, 10.0,]",
            "loc within [51.3, 12.3, 10.0]",
        ),
        ("loc near [-33.9, 151]", "loc near [-33.9, 151]"),
        ("a.b NEAR [1, 2]", "a.b near [1, 2]"),
        (
            "loc near [1, 2] FILTER (a == 1 or b <= 2) and c != null",
            "loc near [1, 2] filter (a == 1 or b <= 2) and c != null",
        ),
        (
            "loc within [1,2,3] filter a > 1 order by b offset 1 limit 2",
            "loc within [1, 2, 3] filter a > 1 order by b offset 1 limit 2",
        ),
        ("order near [1, 2]", "order near [1, 2]"),
        // Tails.
        (
            "a == 1 ORDER BY b ASC, c.d DESC",
            "a == 1 order by b, c.d desc",
        ),
        ("a == 1 offset 0", "a == 1 offset 0"),
        ("a == 1 limit 0", "a == 1 limit 0"),
        ("limit 10", "limit 10"),
        (
            "order by createdAt DESC limit 10",
            "order by createdAt desc limit 10",
        ),
    ];
    for (input, canonical) in cases {
        check(input, canonical);
    }
}

#[test]
fn and_binds_tighter_than_or() {
    let q = check("a == 1 or b == 2 and c == 3", "a == 1 or b == 2 and c == 3");
    let expected = condition(Expr::Or(vec![
        cmp("a", Op::Eq, Literal::Number(num("1"))),
        Expr::And(vec![
            cmp("b", Op::Eq, Literal::Number(num("2"))),
            cmp("c", Op::Eq, Literal::Number(num("3"))),
        ]),
    ]));
    assert_eq!(q.without_spans(), expected);
}

#[test]
fn literals_are_typed() {
    let cases = [
        (r#"a == "x""#, Op::Eq, Literal::String("x".into())),
        ("a != -3.5", Op::Ne, Literal::Number(num("-3.5"))),
        ("a > true", Op::Gt, Literal::Bool(true)),
        ("a < false", Op::Lt, Literal::Bool(false)),
        ("a >= null", Op::Ge, Literal::Null),
        (
            "a <= date(-1347600117535)",
            Op::Le,
            Literal::Date(-1_347_600_117_535),
        ),
        (
            "a == id(5052cd9444ae23a741ca76b2)",
            Op::Eq,
            Literal::Id("5052cd9444ae23a741ca76b2".into()),
        ),
        ("a == id(42)", Op::Eq, Literal::Id("42".into())),
        (
            r#"a startswith "J""#,
            Op::StartsWith,
            Literal::String("J".into()),
        ),
        (r#"a like "oh""#, Op::Like, Literal::String("oh".into())),
        ("a size 0", Op::Size, Literal::Number(num("0"))),
    ];
    for (input, op, value) in cases {
        let q = parse(input).unwrap_or_else(|e| panic!("{input:?}: {e}"));
        assert_eq!(
            q.without_spans(),
            condition(cmp("a", op, value)),
            "{input:?}"
        );
    }
}

#[test]
fn numbers_keep_their_text_and_value() {
    let n = num("-3.5");
    assert_eq!((n.text(), n.value(), n.as_i64()), ("-3.5", -3.5, None));
    let n = num("9007199254740993");
    assert_eq!(
        (n.as_i64(), n.as_u64()),
        (Some(9_007_199_254_740_993), Some(9_007_199_254_740_993))
    );
    assert_eq!(num("-2").as_u64(), None);
    assert_eq!(num("1e3").value(), 1000.0);
    assert_eq!(num("1e3").as_i64(), None);
    assert!(Number::parse("1e999").is_none());
    assert!(Number::parse("1.").is_none());
    assert!(Number::from_f64(f64::NAN).is_none());
    assert_eq!(
        Number::from_f64(0.1).map(|n| n.text().to_string()),
        Some("0.1".into())
    );
}

#[test]
fn a_location_query_keeps_its_point_filter_and_tail() {
    let q = check(
        r#"loc near [11.5,50.0] filter firstname=="John" and lastname=="doe" limit 10"#,
        r#"loc near [11.5, 50.0] filter firstname == "John" and lastname == "doe" limit 10"#,
    );
    let filter = Expr::And(vec![
        cmp("firstname", Op::Eq, Literal::String("John".into())),
        cmp("lastname", Op::Eq, Literal::String("doe".into())),
    ]);
    let location = LocationQuery {
        path: path("loc"),
        kind: LocationKind::Near {
            lat: num("11.5"),
            lng: num("50.0"),
        },
        filter: Some(filter),
        span: Span::default(),
    };
    let expected = Query {
        body: Some(Body::Location(location)),
        limit: Some(10),
        ..Query::default()
    };
    assert_eq!(q.without_spans(), expected);

    let q = parse("loc within [51.3, 12.3, 10.0]").expect("parses");
    let Some(Body::Location(l)) = &q.body else {
        panic!("a location: {q:?}")
    };
    let LocationKind::Within {
        lat,
        lng,
        radius_km,
    } = &l.kind
    else {
        panic!("within: {l:?}")
    };
    assert_eq!(
        (lat.value(), lng.value(), radius_km.value()),
        (51.3, 12.3, 10.0)
    );
    assert_eq!(l.span, Span::new(0, 29));
}

#[test]
fn the_tail_is_kept_in_order() {
    let q = parse("a == 1 order by b.c DESC, d asc offset 5 limit 4").expect("parses");
    let q = q.without_spans();
    assert_eq!(
        q.order_by,
        vec![
            OrderItem {
                path: path("b.c"),
                descending: true
            },
            OrderItem {
                path: path("d"),
                descending: false
            },
        ]
    );
    assert_eq!((q.offset, q.limit), (Some(5), Some(4)));
    assert_eq!(parse("").expect("parses"), Query::default());
}

#[test]
fn spans_are_character_offsets() {
    // `é` and `😀` are one character each but two and four bytes.
    let q = parse(r#"é.x == "😀" or n > date(5)"#).unwrap_err();
    assert_eq!(q.position, 0, "`é` cannot start a name");

    let q = parse(r#"nä == 1"#).unwrap_err();
    assert_eq!(q.position, 1);

    let q = parse(r#"s == "😀😀" and company.city.name >= date(5)"#).expect("parses");
    let Some(Body::Condition(Expr::And(items))) = &q.body else {
        panic!("an and: {q:?}")
    };
    let [Expr::Compare(first), Expr::Compare(second)] = items.as_slice() else {
        panic!()
    };
    assert_eq!(first.span, Span::new(0, 9));
    assert_eq!(first.value_span, Span::new(5, 9));
    assert_eq!(first.op_span, Span::new(2, 4));
    let spans: Vec<Span> = second.path.segments.iter().map(|s| s.span).collect();
    assert_eq!(
        spans,
        vec![Span::new(14, 21), Span::new(22, 26), Span::new(27, 31)]
    );
    assert_eq!(second.path.span(), Span::new(14, 31));
    assert_eq!(second.value_span, Span::new(35, 42));
    assert_eq!(second.span, Span::new(14, 42));
    assert_eq!(
        q.body.as_ref().map(|b| match b {
            Body::Condition(e) => e.span(),
            Body::Location(l) => l.span,
        }),
        Some(Span::new(0, 42))
    );
    assert_eq!(
        second.path.names().collect::<Vec<_>>(),
        ["company", "city", "name"]
    );
}

#[test]
fn nesting_up_to_the_limit_is_accepted() {
    let depth = crate::query::MAX_NESTING;
    let input = format!("{}a == 1{}", "(".repeat(depth), ")".repeat(depth));
    assert_eq!(parse(&input).expect("parses").to_string(), "a == 1");
}
