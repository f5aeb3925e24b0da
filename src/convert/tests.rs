//! Conversion rules, type by type: valid input, invalid input and the edges.

use proptest::prelude::*;
use serde_json::{json, Value};

use super::*;

fn ok(ty: PropertyType, input: Value) -> Stored {
    convert(ty, &input, &Context::default())
        .unwrap_or_else(|e| panic!("{ty} {input} should convert: {e}"))
        .unwrap_or_else(|| panic!("{ty} {input} should not remove the property"))
}

fn bad(ty: PropertyType, input: Value) {
    let r = convert(ty, &input, &Context::default());
    assert!(r.is_err(), "{ty} {input} should be refused, got {r:?}");
}

fn value(ty: PropertyType, input: Value) -> (String, Option<f64>) {
    let s = ok(ty, input);
    (s.value, s.as_double)
}

#[test]
fn null_and_empty_text_remove_the_property_of_every_type() {
    for ty in PropertyType::ALL {
        for input in [Value::Null, json!("")] {
            assert_eq!(convert(ty, &input, &Context::default()), Ok(None), "{ty}");
        }
    }
    assert_eq!(
        convert(PropertyType::Integer, &json!("  "), &Context::default()),
        Ok(None)
    );
    // For a String, spaces are a value.
    assert_eq!(ok(PropertyType::String, json!(" ")).value, " ");
}

#[test]
fn strings_keep_their_text_and_carry_a_number_when_they_are_one() {
    assert_eq!(
        value(PropertyType::String, json!("John")),
        ("John".into(), None)
    );
    assert_eq!(
        value(PropertyType::String, json!("42")),
        ("42".into(), Some(42.0))
    );
    assert_eq!(
        value(PropertyType::String, json!(" -1.5 ")),
        (" -1.5 ".into(), Some(-1.5))
    );
    assert_eq!(
        value(PropertyType::String, json!(7)),
        ("7".into(), Some(7.0))
    );
    assert_eq!(
        value(PropertyType::String, json!(true)),
        ("true".into(), None)
    );
    assert_eq!(value(PropertyType::String, json!("inf")).1, None);
    assert_eq!(value(PropertyType::String, json!("NaN")).1, None);
    let unicode = "Zoë 東京 🚀 \u{202e}";
    assert_eq!(ok(PropertyType::String, json!(unicode)).value, unicode);
}

#[test]
fn integers_accept_numbers_and_their_text() {
    assert_eq!(
        value(PropertyType::Integer, json!(24)),
        ("24".into(), Some(24.0))
    );
    assert_eq!(
        value(PropertyType::Integer, json!(" -7 ")),
        ("-7".into(), Some(-7.0))
    );
    assert_eq!(
        value(PropertyType::Integer, json!("+3")),
        ("3".into(), Some(3.0))
    );
    assert_eq!(
        value(PropertyType::Integer, json!(5.0)),
        ("5".into(), Some(5.0))
    );
    assert_eq!(
        ok(PropertyType::Integer, json!(i64::MAX)).value,
        i64::MAX.to_string()
    );
    bad(PropertyType::Integer, json!(2.5));
    bad(PropertyType::Integer, json!("2.5"));
    bad(PropertyType::Integer, json!("12abc"));
    bad(PropertyType::Integer, json!("99999999999999999999"));
    bad(PropertyType::Integer, json!(true));
    bad(PropertyType::Integer, json!([1]));
}

#[test]
fn numbers_take_a_decimal_point_or_a_decimal_comma() {
    assert_eq!(
        value(PropertyType::Number, json!(1.5)),
        ("1.5".into(), Some(1.5))
    );
    assert_eq!(
        value(PropertyType::Number, json!("12,5")),
        ("12.5".into(), Some(12.5))
    );
    assert_eq!(
        value(PropertyType::Number, json!("-0,25")),
        ("-0.25".into(), Some(-0.25))
    );
    assert_eq!(
        value(PropertyType::Number, json!("3")),
        ("3".into(), Some(3.0))
    );
    assert_eq!(
        value(PropertyType::Number, json!("-0")),
        ("0".into(), Some(0.0))
    );
    bad(PropertyType::Number, json!("1.234,56"));
    bad(PropertyType::Number, json!("1,2,3"));
    bad(PropertyType::Number, json!("abc"));
    bad(PropertyType::Number, json!("inf"));
    bad(PropertyType::Number, json!("1e999"));
    bad(PropertyType::Number, json!({}));
}

#[test]
fn currency_is_exact_with_two_to_four_places() {
    assert_eq!(
        value(PropertyType::Currency, json!("12,5")),
        ("12.50".into(), Some(12.5))
    );
    assert_eq!(
        value(PropertyType::Currency, json!(12.5)),
        ("12.50".into(), Some(12.5))
    );
    assert_eq!(
        value(PropertyType::Currency, json!("7")),
        ("7.00".into(), Some(7.0))
    );
    assert_eq!(ok(PropertyType::Currency, json!("0.1234")).value, "0.1234");
    assert_eq!(ok(PropertyType::Currency, json!("1.2300")).value, "1.23");
    assert_eq!(ok(PropertyType::Currency, json!("-0.00")).value, "0.00");
    assert_eq!(
        ok(PropertyType::Currency, json!("-19.999")).value,
        "-19.999"
    );
    assert_eq!(
        ok(PropertyType::Currency, json!("12345678901234.5678")).value,
        "12345678901234.5678"
    );
    bad(PropertyType::Currency, json!("0.12345"));
    bad(PropertyType::Currency, json!("1.000,00"));
    bad(PropertyType::Currency, json!("EUR 5"));
}

#[test]
fn dates_accept_iso_day_first_and_epoch_ms() {
    let march_first = ("2024-03-01".to_string(), Some(1_709_251_200_000.0));
    assert_eq!(value(PropertyType::Date, json!("2024-03-01")), march_first);
    assert_eq!(value(PropertyType::Date, json!("01-03-2024")), march_first);
    assert_eq!(value(PropertyType::Date, json!("1.3.2024")), march_first);
    assert_eq!(value(PropertyType::Date, json!("01/03/2024")), march_first);
    assert_eq!(
        value(PropertyType::Date, json!(1_709_251_200_000_i64)),
        march_first
    );
    // Epoch ms in the middle of the day: the UTC calendar day.
    assert_eq!(
        value(PropertyType::Date, json!("1709294400000")),
        march_first
    );
    assert_eq!(
        value(PropertyType::Date, json!("2024-03-01T23:30:00-02:00")).0,
        "2024-03-02"
    );
    assert_eq!(
        ok(PropertyType::Date, json!("29-02-2024")).value,
        "2024-02-29"
    );
    assert_eq!(
        value(PropertyType::Date, json!(-86_400_000)).0,
        "1969-12-31"
    );
    bad(PropertyType::Date, json!("29-02-2023"));
    bad(PropertyType::Date, json!("2023-02-29"));
    bad(PropertyType::Date, json!("2024-13-01"));
    bad(PropertyType::Date, json!("32-01-2024"));
    bad(PropertyType::Date, json!("03/01/24"));
    bad(PropertyType::Date, json!("yesterday"));
    bad(PropertyType::Date, json!(1.5));
}

#[test]
fn datetimes_become_rfc3339_utc() {
    let dt = |input: Value| value(PropertyType::Datetime, input);
    let expected = (
        "2024-03-01T13:45:00Z".to_string(),
        Some(1_709_300_700_000.0),
    );
    assert_eq!(dt(json!("2024-03-01T13:45:00Z")), expected);
    assert_eq!(dt(json!("2024-03-01T15:45:00+02:00")), expected);
    assert_eq!(dt(json!("2024-03-01 13:45")), expected);
    assert_eq!(dt(json!("2024-03-01 13:45:00")), expected);
    assert_eq!(dt(json!("01-03-2024 13:45")), expected);
    assert_eq!(dt(json!(1_709_300_700_000_i64)), expected);
    assert_eq!(dt(json!("1709300700000")), expected);
    assert_eq!(
        dt(json!("2024-03-01T13:45:00.123456Z")).0,
        "2024-03-01T13:45:00.123Z"
    );
    assert_eq!(dt(json!("2024-02-29 00:00")).0, "2024-02-29T00:00:00Z");
    bad(PropertyType::Datetime, json!("2024-03-01 25:00"));
    bad(PropertyType::Datetime, json!("2023-02-29 10:00"));
    bad(PropertyType::Datetime, json!("13:45"));
    bad(PropertyType::Datetime, json!("2024-03-01 13:45 CET"));
}

#[test]
fn datetimes_without_offset_use_the_server_time_zone() {
    let ctx = Context {
        time_zone: chrono_tz::Europe::Amsterdam,
        list: None,
    };
    let s = convert(PropertyType::Datetime, &json!("2024-07-01 12:00"), &ctx)
        .unwrap()
        .unwrap();
    assert_eq!(s.value, "2024-07-01T10:00:00Z");
    // An explicit offset wins over the server zone.
    let s = convert(PropertyType::Datetime, &json!("2024-07-01T12:00:00Z"), &ctx)
        .unwrap()
        .unwrap();
    assert_eq!(s.value, "2024-07-01T12:00:00Z");
    // 02:30 on the night clocks go forward does not exist there.
    assert!(convert(PropertyType::Datetime, &json!("2024-03-31 02:30"), &ctx).is_err());
}

#[test]
fn times_are_ms_since_midnight() {
    assert_eq!(
        value(PropertyType::Time, json!("13:45")),
        ("13:45:00".into(), Some(49_500_000.0))
    );
    assert_eq!(
        value(PropertyType::Time, json!("13:45:10")),
        ("13:45:10".into(), Some(49_510_000.0))
    );
    assert_eq!(
        value(PropertyType::Time, json!("00:00")),
        ("00:00:00".into(), Some(0.0))
    );
    bad(PropertyType::Time, json!("24:00"));
    bad(PropertyType::Time, json!("13:60"));
    bad(PropertyType::Time, json!("1:45"));
    bad(PropertyType::Time, json!("13:45:10.5"));
    bad(PropertyType::Time, json!(1345));
}

#[test]
fn switches_accept_the_usual_spellings() {
    for on in [
        json!(true),
        json!(1),
        json!("TRUE"),
        json!("yes"),
        json!("On"),
        json!("1"),
    ] {
        assert_eq!(value(PropertyType::Switch, on), ("true".into(), Some(1.0)));
    }
    for off in [
        json!(false),
        json!(0),
        json!("False"),
        json!("NO"),
        json!("off"),
        json!("0"),
    ] {
        assert_eq!(
            value(PropertyType::Switch, off),
            ("false".into(), Some(0.0))
        );
    }
    bad(PropertyType::Switch, json!(2));
    bad(PropertyType::Switch, json!("maybe"));
}

#[test]
fn lookups_take_a_positive_object_id() {
    assert_eq!(
        value(PropertyType::Lookup, json!(42)),
        ("42".into(), Some(42.0))
    );
    assert_eq!(
        value(PropertyType::Lookup, json!(" 42 ")),
        ("42".into(), Some(42.0))
    );
    bad(PropertyType::Lookup, json!(0));
    bad(PropertyType::Lookup, json!(-1));
    bad(PropertyType::Lookup, json!("abc"));
    bad(PropertyType::Lookup, json!(4.2));
}

#[test]
fn list_values_must_be_configured_codes() {
    let items = vec![
        ListItem {
            code: "A".into(),
            value: "Active".into(),
        },
        ListItem {
            code: "7".into(),
            value: "Seven".into(),
        },
    ];
    let ctx = Context {
        list: Some(&items),
        ..Context::default()
    };
    let a = convert(PropertyType::List, &json!("A"), &ctx)
        .unwrap()
        .unwrap();
    assert_eq!(
        a,
        Stored {
            value: "A".into(),
            as_double: None,
            as_string: Some("Active".into())
        }
    );
    let seven = convert(PropertyType::List, &json!(7), &ctx)
        .unwrap()
        .unwrap();
    assert_eq!(seven.as_double, Some(7.0));
    assert_eq!(seven.as_string.as_deref(), Some("Seven"));
    assert!(convert(PropertyType::List, &json!("a"), &ctx).is_err());
    assert!(convert(PropertyType::List, &json!("X"), &ctx).is_err());
}

#[test]
fn json_arrays_and_maps_take_json_or_its_text() {
    let s = ok(PropertyType::JsonArray, json!(["x", 1]));
    assert_eq!((s.value.as_str(), s.as_double), (r#"["x",1]"#, Some(2.0)));
    assert_eq!(
        ok(PropertyType::JsonArray, json!(" [ ] ")).as_double,
        Some(0.0)
    );
    bad(PropertyType::JsonArray, json!({"a": 1}));
    bad(PropertyType::JsonArray, json!("[1,"));
    let m = ok(
        PropertyType::Map,
        json!(r#"{"food":"Pasta","n":2,"ok":true,"none":null}"#),
    );
    assert_eq!(m.value, r#"{"food":"Pasta","n":2,"ok":true,"none":null}"#);
    bad(PropertyType::Map, json!({"nested": {"a": 1}}));
    bad(PropertyType::Map, json!([1]));
    bad(PropertyType::Map, json!("food=Pasta"));
}

#[test]
fn locations_take_three_shapes_and_check_ranges() {
    let expected = r#"{"lat":51.3,"lng":12.3}"#;
    for input in [
        json!([51.3, 12.3]),
        json!({"lat": 51.3, "lng": 12.3}),
        json!("51.3, 12.3"),
    ] {
        let s = ok(PropertyType::Location, input);
        assert_eq!((s.value.as_str(), s.as_double), (expected, Some(51.3)));
    }
    bad(PropertyType::Location, json!([91, 0]));
    bad(PropertyType::Location, json!([0, 181]));
    bad(PropertyType::Location, json!([1]));
    bad(PropertyType::Location, json!("somewhere"));
}

#[test]
fn encoded_strings_are_base64_with_their_decoded_text() {
    let s = ok(PropertyType::EncodedString, json!("SGFsbG8gV8OpcmVsZA=="));
    assert_eq!(s.value, "SGFsbG8gV8OpcmVsZA==");
    assert_eq!(s.as_string.as_deref(), Some("Hallo Wéreld"));
    // Binary content is kept; it has no text.
    assert_eq!(
        ok(PropertyType::EncodedString, json!("/w==")).as_string,
        None
    );
    bad(PropertyType::EncodedString, json!("not base64!"));
    bad(PropertyType::EncodedString, json!(12));
}

#[test]
fn static_file_links_are_http_urls_or_relative_paths() {
    assert_eq!(
        ok(
            PropertyType::StaticFileLink,
            json!("https://example.com/a.pdf")
        )
        .value,
        "https://example.com/a.pdf"
    );
    assert_eq!(
        ok(PropertyType::StaticFileLink, json!("docs/manual.pdf")).value,
        "docs/manual.pdf"
    );
    bad(PropertyType::StaticFileLink, json!("ftp://example.com/a"));
    bad(PropertyType::StaticFileLink, json!("javascript:alert(1)"));
    bad(PropertyType::StaticFileLink, json!("../etc/passwd"));
    bad(PropertyType::StaticFileLink, json!("//evil.example/x"));
}

#[test]
fn files_are_set_by_upload_only() {
    bad(PropertyType::Image, json!({"fileId": 1}));
    bad(PropertyType::FileLink, json!("x.pdf"));
    let file = FileRef {
        file_id: 9,
        name: "cv.pdf".into(),
        size: 1234,
        content_type: "application/pdf".into(),
    };
    let s = file_link(&file);
    assert_eq!(s.as_double, Some(1234.0));
    assert_eq!(s.as_string.as_deref(), Some("cv.pdf"));
    assert_eq!(
        to_json(PropertyType::FileLink, &s.value),
        json!({"fileId": 9, "name": "cv.pdf", "size": 1234, "contentType": "application/pdf"})
    );
}

#[test]
fn stored_values_come_back_as_their_json_type() {
    assert_eq!(to_json(PropertyType::Integer, "24"), json!(24));
    assert_eq!(to_json(PropertyType::Number, "12.5"), json!(12.5));
    assert_eq!(to_json(PropertyType::Currency, "12.50"), json!("12.50"));
    assert_eq!(to_json(PropertyType::Switch, "true"), json!(true));
    assert_eq!(to_json(PropertyType::Lookup, "42"), json!(42));
    assert_eq!(to_json(PropertyType::JsonArray, "[1,2]"), json!([1, 2]));
    assert_eq!(
        to_json(PropertyType::Location, r#"{"lat":1.0,"lng":2.0}"#),
        json!({"lat": 1.0, "lng": 2.0})
    );
    assert_eq!(
        to_json(PropertyType::Date, "2024-03-01"),
        json!("2024-03-01")
    );
    assert_eq!(to_json(PropertyType::String, "42"), json!("42"));
}

proptest! {
    /// Converting the JSON a value comes back as gives the same stored value again.
    #[test]
    fn integers_round_trip(n in any::<i64>()) {
        let s = ok(PropertyType::Integer, json!(n));
        prop_assert_eq!(to_json(PropertyType::Integer, &s.value), json!(n));
        prop_assert_eq!(ok(PropertyType::Integer, json!(n.to_string())), s);
    }

    #[test]
    fn numbers_round_trip(x in any::<f64>().prop_filter("finite", |x| x.is_finite())) {
        let s = ok(PropertyType::Number, json!(x));
        let back = to_json(PropertyType::Number, &s.value);
        prop_assert_eq!(ok(PropertyType::Number, back.clone()), s.clone());
        prop_assert_eq!(ok(PropertyType::Number, json!(s.value.replace('.', ","))), s);
    }

    #[test]
    fn currency_round_trips(units in -10_000_000_000i64..10_000_000_000, places in 0u32..=4) {
        let amount = rust_decimal::Decimal::new(units, places);
        let s = ok(PropertyType::Currency, json!(amount.to_string()));
        prop_assert_eq!(rust_decimal::Decimal::from_str_exact(&s.value).unwrap(), amount);
        prop_assert_eq!(ok(PropertyType::Currency, to_json(PropertyType::Currency, &s.value)), s);
    }

    #[test]
    fn dates_round_trip(days in -700_000i64..2_900_000) {
        let day = chrono::NaiveDate::from_num_days_from_ce_opt(719_163 + days as i32);
        prop_assume!(day.is_some());
        let text = day.unwrap().format("%Y-%m-%d").to_string();
        prop_assume!(text.len() == 10);
        let s = ok(PropertyType::Date, json!(text));
        prop_assert_eq!(&s.value, &text);
        prop_assert_eq!(ok(PropertyType::Date, json!(s.as_double.unwrap() as i64)), s.clone());
        let day_first = format!("{}-{}-{}", &text[8..10], &text[5..7], &text[0..4]);
        prop_assert_eq!(ok(PropertyType::Date, json!(day_first)), s);
    }

    #[test]
    fn datetimes_round_trip(ms in -62_000_000_000_000i64..253_000_000_000_000) {
        let s = ok(PropertyType::Datetime, json!(ms));
        prop_assert_eq!(s.as_double, Some(ms as f64));
        prop_assert_eq!(ok(PropertyType::Datetime, to_json(PropertyType::Datetime, &s.value)), s);
    }

    #[test]
    fn strings_round_trip(text in "\\PC{1,40}") {
        let s = ok(PropertyType::String, json!(text));
        prop_assert_eq!(to_json(PropertyType::String, &s.value), json!(text));
    }

    #[test]
    fn json_arrays_round_trip(items in proptest::collection::vec("\\PC{0,8}", 0..6)) {
        let s = ok(PropertyType::JsonArray, json!(items));
        prop_assert_eq!(s.as_double, Some(items.len() as f64));
        prop_assert_eq!(ok(PropertyType::JsonArray, json!(s.value.clone())), s);
    }

    #[test]
    fn no_input_panics(text in "\\PC{0,30}", ty in proptest::sample::select(PropertyType::ALL.to_vec())) {
        let _ = convert(ty, &json!(text), &Context::default());
    }
}
