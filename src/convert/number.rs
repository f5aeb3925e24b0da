//! Integer, Number and Currency conversion, and the "is this text a number" test.

use std::str::FromStr;

use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;
use serde_json::Value;

use super::{invalid, ConvertError, Stored};

/// Currency keeps at most this many decimal places.
const CURRENCY_PLACES: u32 = 4;

/// A plain decimal number (`-12`, `3.5`, `1e3`), or `None`. Rejects `inf`, `NaN` and the
/// other words Rust's float parser would take.
pub(super) fn plain_number(text: &str) -> Option<f64> {
    let looks_numeric = !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'-' | b'+' | b'.' | b'e' | b'E'))
        && text.bytes().any(|b| b.is_ascii_digit());
    if !looks_numeric {
        return None;
    }
    text.parse::<f64>().ok().filter(|v| v.is_finite())
}

/// Text with `.` or `,` as the decimal separator (one of them, at most once).
fn decimal_text(text: &str) -> Option<String> {
    let text = text.trim();
    let separators = text.bytes().filter(|b| matches!(b, b'.' | b',')).count();
    if separators > 1 {
        return None;
    }
    let text = text.replace(',', ".");
    let body = text.strip_prefix(['-', '+']).unwrap_or(&text);
    let digits_ok = !body.is_empty()
        && body.bytes().all(|b| b.is_ascii_digit() || b == b'.')
        && body.bytes().any(|b| b.is_ascii_digit());
    digits_ok.then_some(text)
}

pub(super) fn integer(input: &Value) -> Result<Stored, ConvertError> {
    let value = match input {
        Value::Number(n) => n.as_i64().or_else(|| {
            n.as_f64()
                .filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15)
                .map(|f| f as i64)
        }),
        Value::String(s) => {
            let s = s.trim();
            s.strip_prefix('+').unwrap_or(s).parse::<i64>().ok()
        }
        _ => None,
    };
    let Some(value) = value else {
        return invalid("expected a whole number");
    };
    Ok(Stored {
        value: value.to_string(),
        as_double: Some(value as f64),
        as_string: None,
    })
}

pub(super) fn number(input: &Value) -> Result<Stored, ConvertError> {
    let value = match input {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => decimal_text(s).and_then(|t| plain_number(&t)),
        _ => None,
    };
    let Some(value) = value.filter(|v| v.is_finite()) else {
        return invalid("expected a number (`.` or `,` as decimal separator)");
    };
    // -0.0 prints as "-0"; store the one zero.
    let value = if value == 0.0 { 0.0 } else { value };
    Ok(Stored {
        value: value.to_string(),
        as_double: Some(value),
        as_string: None,
    })
}

pub(super) fn currency(input: &Value) -> Result<Stored, ConvertError> {
    let text = match input {
        Value::Number(n) => Some(n.to_string()),
        Value::String(s) => decimal_text(s),
        _ => None,
    };
    let amount = text.and_then(|t| Decimal::from_str(t.strip_prefix('+').unwrap_or(&t)).ok());
    let Some(amount) = amount else {
        return invalid("expected an amount (`.` or `,` as decimal separator)");
    };
    let mut amount = amount.normalize();
    if amount.scale() > CURRENCY_PLACES {
        return invalid(format!(
            "an amount has at most {CURRENCY_PLACES} decimal places"
        ));
    }
    if amount.scale() < 2 {
        amount.rescale(2);
    }
    if amount.is_zero() {
        amount = Decimal::new(0, 2);
    }
    Ok(Stored {
        as_double: amount.to_f64(),
        value: amount.to_string(),
        as_string: None,
    })
}
