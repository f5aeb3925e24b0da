//! Cursor tokens (API.md §12, docs/DECISIONS.md "Cursor paging"): where a walk goes on,
//! as an opaque `after` parameter.
//!
//! A token is base64url (no padding) of a 6-byte check followed by a small versioned JSON
//! document: `{"v":1,"e":ENDPOINT,"f":FINGERPRINT,"k":[KEYS],"i":ID,"h":HEAD}`. The
//! fingerprint binds it to the list it came from (endpoint, type, filter or query, order,
//! object): a token of another list, a changed or truncated one is refused with `400
//! INVALID_PARAMETER` (`parameter: after`). The check is a hash, not a signature: a token
//! only says where to go on in a list the caller may read anyway, so a forged one can show
//! nothing the caller could not ask for; it catches edits and mix-ups.

use base64::Engine;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::error::{ErrorCode, ServiceError};
use crate::model::ObjectId;
use crate::store::{KeyValue, Seek};

const VERSION: i64 = 1;
const CHECK: usize = 6;

/// A decoded token.
#[derive(Debug, Clone, PartialEq)]
pub struct Token {
    pub seek: Seek,
    pub head: Option<i64>,
}

/// The fingerprint of a list: what a token of it must carry.
pub fn fingerprint(parts: &str) -> String {
    let digest = Sha256::digest(parts.as_bytes());
    digest[..8].iter().map(|b| format!("{b:02x}")).collect()
}

fn check(json: &[u8]) -> [u8; CHECK] {
    let mut h = Sha256::new();
    h.update(b"datastore cursor\0");
    h.update(json);
    let digest = h.finalize();
    let mut out = [0u8; CHECK];
    out.copy_from_slice(&digest[..CHECK]);
    out
}

fn key_json(v: &KeyValue) -> Value {
    match v {
        KeyValue::Null => Value::Null,
        KeyValue::Int(n) => json!(["i", n]),
        // The bits: a double comes back exactly.
        KeyValue::Double(d) => json!(["d", format!("{:016x}", d.to_bits())]),
        KeyValue::Text(t) => json!(["s", t]),
        KeyValue::Time(t) => json!(["t", t.timestamp_millis()]),
    }
}

fn key_of(v: &Value) -> Option<KeyValue> {
    if v.is_null() {
        return Some(KeyValue::Null);
    }
    let a = v.as_array()?;
    if a.len() != 2 {
        return None;
    }
    Some(match a[0].as_str()? {
        "i" => KeyValue::Int(a[1].as_i64()?),
        "d" => KeyValue::Double(f64::from_bits(
            u64::from_str_radix(a[1].as_str()?, 16).ok()?,
        )),
        "s" => KeyValue::Text(a[1].as_str()?.to_owned()),
        "t" => KeyValue::Time(chrono::DateTime::from_timestamp_millis(a[1].as_i64()?)?),
        _ => return None,
    })
}

/// The token of the page after `seek` in list `fingerprint` of `endpoint`.
pub fn encode(endpoint: &str, fingerprint: &str, seek: &Seek, head: Option<i64>) -> String {
    let doc = json!({
        "v": VERSION,
        "e": endpoint,
        "f": fingerprint,
        "k": seek.keys.iter().map(key_json).collect::<Vec<_>>(),
        "i": seek.id,
        "h": head,
    });
    let json = doc.to_string().into_bytes();
    let mut bytes = check(&json).to_vec();
    bytes.extend_from_slice(&json);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn refused(why: &str) -> ServiceError {
    ServiceError::new(
        ErrorCode::InvalidParameter,
        format!("parameter `after` is not a cursor of this list: {why}"),
    )
    .with_details(json!({ "parameter": "after" }))
}

/// Decodes a token of list `fingerprint` of `endpoint` whose order has `keys` sort keys.
pub fn decode(
    token: &str,
    endpoint: &str,
    fingerprint: &str,
    keys: usize,
) -> Result<Token, ServiceError> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token.trim().as_bytes())
        .map_err(|_| refused("it is not base64url"))?;
    if bytes.len() <= CHECK {
        return Err(refused("it is too short"));
    }
    let (sum, json) = bytes.split_at(CHECK);
    if sum != check(json) {
        return Err(refused("it was changed"));
    }
    let doc: Value = serde_json::from_slice(json).map_err(|_| refused("it is malformed"))?;
    if doc["v"].as_i64() != Some(VERSION) {
        return Err(refused("its version is not known"));
    }
    if doc["e"].as_str() != Some(endpoint) {
        return Err(refused("it is of another endpoint"));
    }
    if doc["f"].as_str() != Some(fingerprint) {
        return Err(refused(
            "it is of another list (type, filter, query, order or object)",
        ));
    }
    let id: ObjectId = doc["i"]
        .as_i64()
        .ok_or_else(|| refused("it is malformed"))?;
    let found = doc["k"]
        .as_array()
        .ok_or_else(|| refused("it is malformed"))?;
    if found.len() != keys {
        return Err(refused("it is of another order"));
    }
    let keys = found
        .iter()
        .map(key_of)
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| refused("it is malformed"))?;
    let head = match &doc["h"] {
        Value::Null => None,
        h => Some(
            h.as_i64()
                .filter(|h| *h >= 0)
                .ok_or_else(|| refused("it is malformed"))?,
        ),
    };
    Ok(Token {
        seek: Seek { keys, id },
        head,
    })
}

/// `after` and `offset` both given.
pub fn both_given() -> ServiceError {
    ServiceError::new(
        ErrorCode::InvalidParameter,
        "`after` (cursor paging) and `offset` cannot be given together",
    )
    .with_details(json!({ "parameter": "after" }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_round_trips_and_refuses_edits_and_other_lists() {
        let seek = Seek {
            keys: vec![
                KeyValue::Double(0.1),
                KeyValue::Text("é\"x".into()),
                KeyValue::Null,
                KeyValue::Int(-3),
                KeyValue::Time(chrono::DateTime::from_timestamp_millis(1_700_000_000_123).unwrap()),
            ],
            id: 42,
        };
        let t = encode("getObjectListTable", "ab", &seek, Some(7));
        let back = decode(&t, "getObjectListTable", "ab", 5).unwrap();
        assert_eq!(back.seek, seek);
        assert_eq!(back.head, Some(7));
        assert!(decode(&t, "getObjectListByFilter", "ab", 5).is_err());
        assert!(decode(&t, "getObjectListTable", "cd", 5).is_err());
        assert!(decode(&t, "getObjectListTable", "ab", 4).is_err());
        assert!(decode("not a token!", "getObjectListTable", "ab", 5).is_err());
        assert!(decode("", "getObjectListTable", "ab", 5).is_err());
        // Any changed character is refused.
        let mut chars: Vec<char> = t.chars().collect();
        let i = chars.len() / 2;
        chars[i] = if chars[i] == 'A' { 'B' } else { 'A' };
        let edited: String = chars.into_iter().collect();
        assert!(decode(&edited, "getObjectListTable", "ab", 5).is_err());
    }
}
