//! Date, Datetime and Time conversion.
//!
//! Dates are calendar days stored as the epoch ms of their UTC midnight; date-times are
//! instants stored as epoch ms and shown as RFC 3339 UTC; times are ms since midnight.

use chrono::{
    DateTime, Datelike, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, SecondsFormat, TimeZone,
    Timelike, Utc,
};
use chrono_tz::Tz;
use serde_json::Value;

use super::{invalid, ConvertError, Stored};

const DATE_SHAPES: &str = "expected a date as 2024-03-01, 01-03-2024 (day first) or epoch ms";
const DATETIME_SHAPES: &str =
    "expected RFC 3339, `2024-03-01 13:45[:ss]` (server time zone) or epoch ms";
const TIME_SHAPES: &str = "expected a time as 13:45 or 13:45:10";

/// Epoch ms given as a JSON integer or as text of only digits (optionally negative).
fn epoch_ms(input: &Value) -> Option<i64> {
    match input {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => {
            let s = s.trim();
            let digits = s.strip_prefix('-').unwrap_or(s);
            if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
                s.parse().ok()
            } else {
                None
            }
        }
        _ => None,
    }
}

fn instant_from_ms(ms: i64) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp_millis(ms).filter(|d| (1..=9999).contains(&d.year()))
}

/// `2024-03-01`, or day first: `01-03-2024`, `01.03.2024`, `01/03/2024`.
fn date_text(text: &str) -> Option<NaiveDate> {
    let parts: Vec<&str> = text.split(['-', '.', '/']).collect();
    let [a, b, c] = parts.as_slice() else {
        return None;
    };
    let number = |s: &str, len: std::ops::RangeInclusive<usize>| -> Option<u32> {
        (len.contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse().ok())
            .flatten()
    };
    if a.len() == 4 && text.as_bytes().get(4) == Some(&b'-') {
        NaiveDate::from_ymd_opt(
            number(a, 4..=4)? as i32,
            number(b, 1..=2)?,
            number(c, 1..=2)?,
        )
    } else {
        NaiveDate::from_ymd_opt(
            number(c, 4..=4)? as i32,
            number(b, 1..=2)?,
            number(a, 1..=2)?,
        )
    }
}

/// `13:45` or `13:45:10`, with an optional fraction of a second when `fraction` is set.
fn time_text(text: &str, fraction: bool) -> Option<NaiveTime> {
    let (main, frac) = match text.split_once('.') {
        Some((m, f)) if fraction => (m, Some(f)),
        Some(_) => return None,
        None => (text, None),
    };
    let parts: Vec<&str> = main.split(':').collect();
    let field = |s: &str| -> Option<u32> {
        (s.len() == 2 && s.bytes().all(|b| b.is_ascii_digit())).then(|| s.parse().ok())?
    };
    let (h, m, s) = match parts.as_slice() {
        [h, m] => (field(h)?, field(m)?, 0),
        [h, m, s] => (field(h)?, field(m)?, field(s)?),
        _ => return None,
    };
    let ms = match frac {
        Some(f) if !f.is_empty() && f.len() <= 9 && f.bytes().all(|b| b.is_ascii_digit()) => {
            format!("{f:0<3}")[..3].parse().ok()?
        }
        Some(_) => return None,
        None => 0,
    };
    NaiveTime::from_hms_milli_opt(h, m, s, ms)
}

fn ms_of(instant: DateTime<Utc>) -> f64 {
    instant.timestamp_millis() as f64
}

pub(super) fn date(input: &Value) -> Result<Stored, ConvertError> {
    let day = if let Some(ms) = epoch_ms(input) {
        instant_from_ms(ms).map(|d| d.date_naive())
    } else if let Value::String(s) = input {
        let s = s.trim();
        date_text(s).or_else(|| {
            DateTime::parse_from_rfc3339(s)
                .ok()
                .map(|d| d.with_timezone(&Utc).date_naive())
        })
    } else {
        None
    };
    let Some(day) = day.filter(|d| (1..=9999).contains(&d.year())) else {
        return invalid(DATE_SHAPES);
    };
    let midnight = day.and_time(NaiveTime::MIN).and_utc();
    Ok(Stored {
        value: day.format("%Y-%m-%d").to_string(),
        as_double: Some(ms_of(midnight)),
        as_string: None,
    })
}

fn local_to_utc(local: NaiveDateTime, zone: Tz) -> Result<DateTime<Utc>, ConvertError> {
    match zone.from_local_datetime(&local) {
        LocalResult::Single(d) => Ok(d.with_timezone(&Utc)),
        // Clocks went back: the earlier of the two instants.
        LocalResult::Ambiguous(earlier, _) => Ok(earlier.with_timezone(&Utc)),
        LocalResult::None => invalid(format!(
            "{local} does not exist in the server time zone {zone} (clocks went forward)"
        )),
    }
}

pub(super) fn datetime(input: &Value, zone: Tz) -> Result<Stored, ConvertError> {
    let instant = if let Some(ms) = epoch_ms(input) {
        instant_from_ms(ms)
    } else if let Value::String(s) = input {
        let s = s.trim();
        match DateTime::parse_from_rfc3339(s) {
            Ok(d) => Some(d.with_timezone(&Utc)),
            Err(_) => {
                let (day, time) = match s.split_once([' ', 'T']) {
                    Some((d, t)) => (date_text(d), time_text(t.trim(), true)),
                    None => (date_text(s), Some(NaiveTime::MIN)),
                };
                match (day, time) {
                    (Some(d), Some(t)) => Some(local_to_utc(d.and_time(t), zone)?),
                    _ => None,
                }
            }
        }
    } else {
        None
    };
    let Some(instant) = instant.filter(|d| (1..=9999).contains(&d.year())) else {
        return invalid(DATETIME_SHAPES);
    };
    // Keep millisecond precision: the stored PropertyAsDouble is epoch ms.
    let instant = instant
        .with_nanosecond(instant.timestamp_subsec_millis() * 1_000_000)
        .unwrap_or(instant);
    Ok(Stored {
        value: instant.to_rfc3339_opts(SecondsFormat::AutoSi, true),
        as_double: Some(ms_of(instant)),
        as_string: None,
    })
}

pub(super) fn time(input: &Value) -> Result<Stored, ConvertError> {
    let Some(t) = input.as_str().and_then(|s| time_text(s.trim(), false)) else {
        return invalid(TIME_SHAPES);
    };
    let ms = t.num_seconds_from_midnight() as f64 * 1000.0;
    Ok(Stored {
        value: t.format("%H:%M:%S").to_string(),
        as_double: Some(ms),
        as_string: None,
    })
}
