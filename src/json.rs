//! JSON text read strictly: a key repeated in one object is an error, at any depth.
//!
//! `serde_json::Value` keeps the last of two equal keys without a word, so
//! `{"objectType":"Person","objectType":"Company"}` would silently be a Company. The
//! contract (API.md §2) makes a parameter given twice, a repeated JSON key included,
//! `400 INVALID_PARAMETER`; every JSON text a client sends (a body, a map parameter given as
//! text, a Map or JsonArray value given as text) is read through [`from_slice`] or
//! [`from_str`] here.

use std::fmt;

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

/// Parses JSON text into a [`Value`], refusing a key repeated within one object.
pub fn from_slice(bytes: &[u8]) -> Result<Value, serde_json::Error> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = StrictValue.deserialize(&mut de)?;
    de.end()?;
    Ok(value)
}

/// [`from_slice`] for text.
pub fn from_str(text: &str) -> Result<Value, serde_json::Error> {
    from_slice(text.as_bytes())
}

/// Builds a `Value` like serde_json's own, but checks each object's keys.
#[derive(Clone, Copy)]
struct StrictValue;

impl<'de> DeserializeSeed<'de> for StrictValue {
    type Value = Value;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for StrictValue {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_some<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        self.deserialize(deserializer)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
        while let Some(item) = seq.next_element_seed(StrictValue)? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut object = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if object.contains_key(&key) {
                return Err(de::Error::custom(format_args!(
                    "the key `{key}` appears more than once in one object"
                )));
            }
            let value = map.next_value_seed(StrictValue)?;
            object.insert(key, value);
        }
        Ok(Value::Object(object))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_repeated_key_is_refused_at_any_depth() {
        for text in [
            r#"{"a":1,"a":2}"#,
            r#"{"p":{"a":1,"a":1}}"#,
            r#"[{"x":[{"k":true,"k":false}]}]"#,
        ] {
            let e = from_str(text).expect_err(text);
            assert!(e.to_string().contains("more than once"), "{e}");
        }
    }

    #[test]
    fn json_without_repeated_keys_reads_as_serde_json_reads_it() {
        let text = r#"{"b":[1,-2,3.5,"x",null,true],"a":{"c":{},"d":[]},"big":9007199254740993,
                      "e":"\u00e9\n","a2":{"a":1},"n":-9223372036854775808,"u":18446744073709551615}"#;
        let strict = from_str(text).unwrap();
        assert_eq!(strict, serde_json::from_str::<Value>(text).unwrap());
        // Key order is kept (the `preserve_order` feature).
        let keys: Vec<&String> = strict.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["b", "a", "big", "e", "a2", "n", "u"]);
        assert_eq!(strict["big"], json!(9007199254740993_u64));
    }

    #[test]
    fn trailing_text_and_malformed_json_are_refused() {
        assert!(from_str(r#"{"a":1} x"#).is_err());
        assert!(from_str(r#"{"a":1"#).is_err());
        assert!(from_str("").is_err());
    }
}
