//! Rejected syntax: each error shows the query, a caret under the reported position, and the
//! message. Inline snapshots only, so they live in this file whichever crate compiles it.

use crate::query::{parse, MAX_NESTING, MAX_QUERY_BYTES};

/// The query, a caret at the error's position, and the error's text.
fn report(input: &str) -> String {
    match parse(input) {
        Ok(q) => panic!("{input:?} should be rejected, parsed as {q}"),
        Err(e) => format!("{input}\n{}^\n{e}", " ".repeat(e.position)),
    }
}

#[test]
fn a_doubled_operator_is_reported_at_the_second() {
    insta::assert_snapshot!(report("age >> 3"), @"
    age >> 3
         ^
    expected a value (a string in double quotes, a number, `true`, `false`, `null`, `date(…)` or `id(…)`) at position 5, found `>`
    ");
}

#[test]
fn an_unterminated_string_is_reported_at_its_opening_quote() {
    insta::assert_snapshot!(report(r#"name == "abc"#), @r#"
    name == "abc
            ^
    expected a closing `"` at position 8, found end of query (the string that starts here is not terminated)
    "#);
}

#[test]
fn a_dangling_and_is_reported_at_the_end() {
    insta::assert_snapshot!(report("a == 1 and"), @"
    a == 1 and
              ^
    expected a property name or `(` at position 10, found end of query
    ");
}

#[test]
fn offset_after_limit_is_reported_at_offset() {
    insta::assert_snapshot!(report("limit 5 offset 3"), @"
    limit 5 offset 3
            ^
    expected end of query at position 8, found `offset` (`limit` must come last)
    ");
    insta::assert_snapshot!(report("a == 1 limit 5 offset 3"), @"
    a == 1 limit 5 offset 3
                   ^
    expected end of query at position 15, found `offset` (`limit` must come last)
    ");
}

#[test]
fn order_by_after_offset_is_reported() {
    insta::assert_snapshot!(report("a == 1 offset 2 order by b"), @"
    a == 1 offset 2 order by b
                    ^
    expected `limit` or end of query at position 16, found `order` (`order by` must come before `offset`)
    ");
}

#[test]
fn a_single_equals_sign_is_reported() {
    insta::assert_snapshot!(report(r#"firstname = "John""#), @r#"
    firstname = "John"
              ^
    expected `==`, `!=`, `>`, `<`, `>=`, `<=`, `startswith`, `like`, `size`, `within` or `near` at position 10, found `=` (compare with `==`)
    "#);
}

#[test]
fn single_quotes_and_bare_words_are_not_strings() {
    insta::assert_snapshot!(report("firstname == 'John'"), @"
    firstname == 'John'
                 ^
    expected a value (a string in double quotes, a number, `true`, `false`, `null`, `date(…)` or `id(…)`) at position 13, found `'` (strings must be in double quotes)
    ");
    insta::assert_snapshot!(report("firstname == John"), @"
    firstname == John
                 ^
    expected a value (a string in double quotes, a number, `true`, `false`, `null`, `date(…)` or `id(…)`) at position 13, found `John` (strings must be in double quotes)
    ");
}

#[test]
fn a_location_cannot_follow_and() {
    insta::assert_snapshot!(report("a == 1 and loc near [1, 2]"), @"
    a == 1 and loc near [1, 2]
                   ^
    expected `==`, `!=`, `>`, `<`, `>=`, `<=`, `startswith`, `like` or `size` at position 15, found `near` (`within`/`near` must be the whole condition, not combined with `and`/`or`; add conditions after `filter`)
    ");
}

#[test]
fn a_location_cannot_be_followed_by_and() {
    insta::assert_snapshot!(report("loc near [1, 2] and a == 1"), @"
    loc near [1, 2] and a == 1
                    ^
    expected `filter`, `order by`, `offset`, `limit` or end of query at position 16, found `and` (a location query cannot be combined with `and`/`or`; add conditions after `filter`)
    ");
}

#[test]
fn location_points_need_their_numbers() {
    insta::assert_snapshot!(report("loc within [1, 2]"), @"
    loc within [1, 2]
                    ^
    expected `,` at position 16, found `]` (`within` takes [latitude, longitude, radius in km])
    ");
    insta::assert_snapshot!(report("loc near [1, 2, 3]"), @"
    loc near [1, 2, 3]
                    ^
    expected `]` at position 16, found `3` (`near` takes [latitude, longitude])
    ");
    insta::assert_snapshot!(report(r#"loc near ["1", 2]"#), @r#"
    loc near ["1", 2]
              ^
    expected a number (the latitude) at position 10, found `"1"`
    "#);
}

#[test]
fn a_location_filter_allows_only_relational_operators() {
    insta::assert_snapshot!(report(r#"loc near [1, 2] filter name like "x""#), @r#"
    loc near [1, 2] filter name like "x"
                                ^
    expected `==`, `!=`, `>`, `<`, `>=` or `<=` at position 28, found `like` (a location filter allows only `==`, `!=`, `>`, `<`, `>=` and `<=`)
    "#);
}

#[test]
fn size_takes_a_non_negative_integer() {
    insta::assert_snapshot!(report("tags size -1"), @"
    tags size -1
              ^
    expected a non-negative integer at position 10, found `-1`
    ");
    insta::assert_snapshot!(report("tags size 1.5"), @"
    tags size 1.5
              ^
    expected a non-negative integer at position 10, found `1.5`
    ");
}

#[test]
fn startswith_takes_a_string() {
    insta::assert_snapshot!(report("name startswith 5"), @"
    name startswith 5
                    ^
    expected a string in double quotes at position 16, found `5`
    ");
}

#[test]
fn an_unknown_escape_is_reported_at_its_backslash() {
    insta::assert_snapshot!(report(r#"name == "a\qb""#), @r#"
    name == "a\qb"
              ^
    expected one of the escapes `\"`, `\\`, `\/`, `\b`, `\f`, `\n`, `\r`, `\t` or `\uXXXX` at position 10, found `\q`
    "#);
    insta::assert_snapshot!(report(r#"name == "\uD800x""#), @r#"
    name == "\uD800x"
                   ^
    expected a `\u` escape for a low surrogate at position 15, found `x` (`\uD800` is half of a surrogate pair)
    "#);
    insta::assert_snapshot!(report(r#"name == "\u12G4""#), @r#"
    name == "\u12G4"
                 ^
    expected a hexadecimal digit at position 13, found `G`
    "#);
}

#[test]
fn parentheses_must_balance() {
    insta::assert_snapshot!(report("(a == 1"), @"
    (a == 1
           ^
    expected `and`, `or` or `)` at position 7, found end of query
    ");
    insta::assert_snapshot!(report("a == 1)"), @"
    a == 1)
          ^
    expected `and`, `or`, `order by`, `offset`, `limit` or end of query at position 6, found `)`
    ");
    insta::assert_snapshot!(report("()"), @"
    ()
     ^
    expected a property name or `(` at position 1, found `)`
    ");
}

#[test]
fn order_needs_by_and_a_path() {
    insta::assert_snapshot!(report("order by"), @"
    order by
            ^
    expected a property name at position 8, found end of query
    ");
    insta::assert_snapshot!(report("a == 1 order createdAt"), @"
    a == 1 order createdAt
                 ^
    expected `by` at position 13, found `createdAt`
    ");
}

#[test]
fn dates_take_integers() {
    insta::assert_snapshot!(report("birthdate > date(1.5)"), @"
    birthdate > date(1.5)
                     ^
    expected an integer (milliseconds since the epoch) at position 17, found `1.5`
    ");
    insta::assert_snapshot!(report("birthdate > date(99999999999999999999)"), @"
    birthdate > date(99999999999999999999)
                     ^
    expected an integer (milliseconds since the epoch) at position 17, found `99999999999999999999`
    ");
}

#[test]
fn a_query_cannot_start_with_an_operator() {
    insta::assert_snapshot!(report("== 3"), @"
    == 3
    ^
    expected a property name, `(`, `order by`, `offset`, `limit` or end of query at position 0, found `==`
    ");
}

#[test]
fn a_path_cannot_end_with_a_dot() {
    insta::assert_snapshot!(report("a. == 1"), @"
    a. == 1
       ^
    expected a property name after `.` at position 3, found `==`
    ");
}

#[test]
fn numbers_must_be_complete_and_finite() {
    insta::assert_snapshot!(report("a == 1."), @"
    a == 1.
           ^
    expected a digit after the decimal point at position 7, found end of query
    ");
    insta::assert_snapshot!(report("a == 1e999"), @"
    a == 1e999
         ^
    expected a finite number at position 5, found `1e999` (the number is too large)
    ");
}

#[test]
fn the_first_fault_is_reported_even_before_a_lexical_one() {
    insta::assert_snapshot!(report(r#"a >> "unterminated"#), @r#"
    a >> "unterminated
       ^
    expected a value (a string in double quotes, a number, `true`, `false`, `null`, `date(…)` or `id(…)`) at position 3, found `>`
    "#);
}

#[test]
fn a_limit_comes_once() {
    insta::assert_snapshot!(report("a == 1 limit 10 limit 5"), @"
    a == 1 limit 10 limit 5
                    ^
    expected end of query at position 16, found `limit`
    ");
}

#[test]
fn deep_nesting_is_refused_without_overflowing_the_stack() {
    let input = format!(
        "{}a == 1{}",
        "(".repeat(MAX_NESTING + 1),
        ")".repeat(MAX_NESTING + 1)
    );
    let e = parse(&input).unwrap_err();
    insta::assert_snapshot!(e, @"expected at most 64 nested parentheses at position 64, found `(`");
    let e = parse(&"(".repeat(MAX_QUERY_BYTES)).unwrap_err();
    assert_eq!(e.position, MAX_NESTING, "{e}");
}

#[test]
fn overlong_input_is_refused() {
    let input = format!("a == \"{}\"", "x".repeat(MAX_QUERY_BYTES));
    insta::assert_snapshot!(parse(&input).unwrap_err(), @"expected a query of at most 65536 bytes at position 65536, found more text");
}

#[test]
fn long_tokens_are_shortened_in_found() {
    let input = format!("a == 1 {}", "b".repeat(100));
    insta::assert_snapshot!(parse(&input).unwrap_err(), @"expected `and`, `or`, `order by`, `offset`, `limit` or end of query at position 7, found `bbbbbbbbbbbbbbbbbbbbbbbb…`");
}

#[test]
fn error_fields_match_the_message() {
    let e = parse("age >> 3").unwrap_err();
    assert_eq!(e.position, 5);
    assert_eq!(e.found, "`>`");
    assert!(e.expected.starts_with("a value"), "{}", e.expected);
    assert_eq!(e.message, e.to_string());
    let e = parse("age").unwrap_err();
    assert_eq!(
        e.expected,
        "`==`, `!=`, `>`, `<`, `>=`, `<=`, `startswith`, `like`, `size`, `within` or `near`"
    );
    assert_eq!((e.position, e.found.as_str()), (3, "end of query"));
}
