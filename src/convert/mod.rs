//! Conversion of client input into what a property row stores, and back into JSON.
//!
//! A client may send any property as JSON of the natural type or as text (forms and query
//! strings carry only text). [`convert`] turns that input into the three stored columns of
//! API.md §4: the canonical `PropertyValue`, `PropertyAsDouble` (what numeric, date and switch
//! properties filter and sort by) and `PropertyAsString` (display texts). [`to_json`] turns the
//! canonical value back into the JSON a client receives. Conversion never touches the store:
//! a Lookup's target check and display text are the store's job, done in the same transaction
//! as the write.

mod datetime;
mod number;
#[cfg(test)]
mod tests;

use base64::Engine as _;
use chrono_tz::Tz;
use serde_json::Value;

use crate::dsconfig::ListItem;
use crate::model::PropertyType;

/// The stored form of one property value.
#[derive(Debug, Clone, PartialEq)]
pub struct Stored {
    /// `PropertyValue`: the canonical text.
    pub value: String,
    /// `PropertyAsDouble`.
    pub as_double: Option<f64>,
    /// `PropertyAsString`. For a Lookup the store fills it in from the target.
    pub as_string: Option<String>,
}

/// What conversion needs besides the input.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    /// The server time zone, for date-times given without an offset.
    pub time_zone: Tz,
    /// The items of a List property's configured list.
    pub list: Option<&'a [ListItem]>,
}

impl Default for Context<'_> {
    fn default() -> Self {
        Context {
            time_zone: Tz::UTC,
            list: None,
        }
    }
}

/// Why a value does not convert; the caller adds the property name and type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ConvertError(pub String);

fn invalid<T>(message: impl Into<String>) -> Result<T, ConvertError> {
    Err(ConvertError(message.into()))
}

/// Converts client input for a property of type `ty`.
///
/// `Ok(None)` means "remove the property": the input was `null` or empty text (for every type
/// but String, text of only spaces counts as empty).
pub fn convert(
    ty: PropertyType,
    input: &Value,
    ctx: &Context<'_>,
) -> Result<Option<Stored>, ConvertError> {
    if is_empty(ty, input) {
        return Ok(None);
    }
    let stored = match ty {
        PropertyType::String => string(input),
        PropertyType::Integer => number::integer(input)?,
        PropertyType::Number => number::number(input)?,
        PropertyType::Currency => number::currency(input)?,
        PropertyType::Date => datetime::date(input)?,
        PropertyType::Datetime => datetime::datetime(input, ctx.time_zone)?,
        PropertyType::Time => datetime::time(input)?,
        PropertyType::Switch => switch(input)?,
        PropertyType::Lookup => lookup(input)?,
        PropertyType::List => list(input, ctx.list)?,
        PropertyType::JsonArray => json_array(input)?,
        PropertyType::Map => map(input)?,
        PropertyType::Location => location(input)?,
        PropertyType::EncodedString => encoded_string(input)?,
        PropertyType::Image | PropertyType::FileLink => {
            return invalid(format!(
                "a {ty} property is set by uploading a file, not by saving a value"
            ))
        }
        PropertyType::StaticFileLink => static_file_link(input)?,
    };
    Ok(Some(stored))
}

/// Turns a stored canonical value back into the JSON a client receives.
pub fn to_json(ty: PropertyType, value: &str) -> Value {
    let parsed = match ty {
        PropertyType::Integer | PropertyType::Lookup => value.parse::<i64>().ok().map(Value::from),
        PropertyType::Number => value
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map(Value::Number),
        PropertyType::Switch => match value {
            "true" => Some(Value::Bool(true)),
            "false" => Some(Value::Bool(false)),
            _ => None,
        },
        PropertyType::JsonArray
        | PropertyType::Map
        | PropertyType::Location
        | PropertyType::Image
        | PropertyType::FileLink => serde_json::from_str(value).ok(),
        _ => None,
    };
    parsed.unwrap_or_else(|| Value::String(value.to_owned()))
}

/// What an uploaded file is described by, once the bytes are stored.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FileRef {
    pub file_id: i64,
    pub name: String,
    pub size: u64,
    pub content_type: String,
}

/// The stored form of an Image or FileLink property pointing at an uploaded file.
pub fn file_link(file: &FileRef) -> Stored {
    Stored {
        value: serde_json::to_string(file).unwrap_or_default(),
        as_double: Some(file.size as f64),
        as_string: Some(file.name.clone()),
    }
}

fn is_empty(ty: PropertyType, input: &Value) -> bool {
    match input {
        Value::Null => true,
        Value::String(s) if ty == PropertyType::String => s.is_empty(),
        Value::String(s) => s.trim().is_empty(),
        _ => false,
    }
}

/// The text of a scalar input, or `None` for arrays and objects.
fn scalar_text(input: &Value) -> Option<String> {
    match input {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn string(input: &Value) -> Stored {
    let value = scalar_text(input).unwrap_or_else(|| input.to_string());
    Stored {
        as_double: number::plain_number(value.trim()),
        value,
        as_string: None,
    }
}

fn switch(input: &Value) -> Result<Stored, ConvertError> {
    let on = match input {
        Value::Bool(b) => *b,
        Value::Number(n) if n.as_i64() == Some(1) => true,
        Value::Number(n) if n.as_i64() == Some(0) => false,
        Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" => true,
            "false" | "0" | "no" | "off" => false,
            _ => return invalid("expected true/false, 1/0, yes/no or on/off"),
        },
        _ => return invalid("expected true/false, 1/0, yes/no or on/off"),
    };
    Ok(Stored {
        value: on.to_string(),
        as_double: Some(if on { 1.0 } else { 0.0 }),
        as_string: None,
    })
}

fn lookup(input: &Value) -> Result<Stored, ConvertError> {
    let id = match input {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse::<i64>().ok(),
        _ => None,
    };
    match id {
        Some(id) if id > 0 => Ok(Stored {
            value: id.to_string(),
            as_double: Some(id as f64),
            as_string: None,
        }),
        _ => invalid("expected the objectId of an existing object"),
    }
}

fn list(input: &Value, items: Option<&[ListItem]>) -> Result<Stored, ConvertError> {
    let Some(code) = scalar_text(input) else {
        return invalid("expected a list item code");
    };
    let code = code.trim();
    let Some(item) = items.unwrap_or_default().iter().find(|i| i.code == code) else {
        return invalid(format!("`{code}` is not a code of the configured list"));
    };
    Ok(Stored {
        value: item.code.clone(),
        as_double: number::plain_number(&item.code),
        as_string: Some(item.value.clone()),
    })
}

/// Accepts JSON of the wanted shape, or text holding such JSON.
fn json_input(input: &Value) -> Result<Value, ConvertError> {
    match input {
        Value::String(s) => crate::json::from_str(s.trim())
            .or_else(|e| invalid(format!("the text is not valid JSON: {e}"))),
        other => Ok(other.clone()),
    }
}

fn json_array(input: &Value) -> Result<Stored, ConvertError> {
    let Value::Array(items) = json_input(input)? else {
        return invalid("expected a JSON array");
    };
    Ok(Stored {
        as_double: Some(items.len() as f64),
        value: Value::Array(items).to_string(),
        as_string: None,
    })
}

fn map(input: &Value) -> Result<Stored, ConvertError> {
    let Value::Object(entries) = json_input(input)? else {
        return invalid("expected a JSON object");
    };
    if let Some((key, _)) = entries
        .iter()
        .find(|(_, v)| matches!(v, Value::Array(_) | Value::Object(_)))
    {
        return invalid(format!(
            "map values must be scalars; `{key}` holds an array or object"
        ));
    }
    Ok(Stored {
        value: Value::Object(entries).to_string(),
        as_double: None,
        as_string: None,
    })
}

fn location(input: &Value) -> Result<Stored, ConvertError> {
    const SHAPE: &str = "expected [lat, lng], {\"lat\":..,\"lng\":..} or \"lat,lng\"";
    let coordinate = |v: Option<&Value>| -> Option<f64> {
        match v? {
            Value::Number(n) => n.as_f64(),
            Value::String(s) => number::plain_number(s.trim()),
            _ => None,
        }
    };
    let (lat, lng) = match input {
        Value::Array(a) if a.len() == 2 => (coordinate(a.first()), coordinate(a.get(1))),
        Value::Object(o) => (
            coordinate(o.get("lat")),
            coordinate(o.get("lng").or_else(|| o.get("lon"))),
        ),
        Value::String(s) => match s.split_once(',') {
            Some((a, b)) => (
                number::plain_number(a.trim()),
                number::plain_number(b.trim()),
            ),
            None => (None, None),
        },
        _ => (None, None),
    };
    let (Some(lat), Some(lng)) = (lat, lng) else {
        return invalid(SHAPE);
    };
    if !(-90.0..=90.0).contains(&lat) || !(-180.0..=180.0).contains(&lng) {
        return invalid("latitude must lie in [-90, 90] and longitude in [-180, 180]");
    }
    Ok(Stored {
        value: serde_json::json!({ "lat": lat, "lng": lng }).to_string(),
        // The latitude: with the (PropertyName, PropertyAsDouble) index it narrows a radius
        // search to a band before the exact distance is computed.
        as_double: Some(lat),
        as_string: None,
    })
}

fn encoded_string(input: &Value) -> Result<Stored, ConvertError> {
    let Value::String(text) = input else {
        return invalid("expected base64 text");
    };
    let text = text.trim();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text)
        .or_else(|_| invalid("the text is not valid base64"))?;
    Ok(Stored {
        value: text.to_owned(),
        as_double: None,
        as_string: String::from_utf8(bytes).ok(),
    })
}

fn static_file_link(input: &Value) -> Result<Stored, ConvertError> {
    let Value::String(text) = input else {
        return invalid("expected an http(s) URL or a relative path");
    };
    let text = text.trim();
    let ok = match url::Url::parse(text) {
        Ok(u) => matches!(u.scheme(), "http" | "https") && u.host().is_some(),
        Err(url::ParseError::RelativeUrlWithoutBase) => {
            !text.starts_with("//")
                && !text.chars().any(|c| c.is_control() || c == '\\')
                && !text.split('/').any(|segment| segment == "..")
        }
        Err(_) => false,
    };
    if !ok {
        return invalid("expected an absolute http(s) URL or a relative path without `..`");
    }
    Ok(Stored {
        value: text.to_owned(),
        as_double: None,
        as_string: None,
    })
}
