//! Request parameters, whichever way they came: a JSON object body, a form body, or the
//! query string. The names are the same in all three (API.md §2).
//!
//! Handlers take each parameter they know with a typed accessor and then call
//! [`Params::finish`], which refuses whatever is left: a typo is `UNKNOWN_PARAMETER`, never
//! silently ignored. In form and query-string input a list is comma-separated and a map is
//! JSON text; JSON bodies may use either the JSON type or that text.

use std::collections::BTreeMap;

use actix_web::http::header::CONTENT_TYPE;
use actix_web::{web, HttpMessage, HttpRequest};
use futures_util::StreamExt;
use serde_json::{json, Map, Value};

use crate::error::{ApiError, ErrorCode};

/// The parameters of one request, by name.
#[derive(Debug, Default)]
pub struct Params {
    values: BTreeMap<String, Value>,
    /// The names the handler asked for: what it accepts, told back with `UNKNOWN_PARAMETER`
    /// (and what the OpenAPI document's parameters are checked against).
    asked: Vec<String>,
}

fn invalid(name: &str, expected: &str) -> ApiError {
    ApiError::new(
        ErrorCode::InvalidParameter,
        format!("parameter `{name}` must be {expected}"),
    )
    .with_details(json!({ "parameter": name }))
}

impl Params {
    /// Collects the parameters of `req`: its query string, plus its body for POST.
    pub async fn extract(
        req: &HttpRequest,
        mut payload: web::Payload,
        limit: usize,
    ) -> Result<Params, ApiError> {
        let mut params = Params::default();
        params.add_pairs(req.query_string(), "query string")?;
        if req.method() != actix_web::http::Method::POST {
            return Ok(params);
        }
        let too_large = || {
            ApiError::new(
                ErrorCode::PayloadTooLarge,
                format!("the request body is larger than {limit} bytes"),
            )
        };
        if let Some(length) = req
            .headers()
            .get(actix_web::http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok())
        {
            if length > limit {
                return Err(too_large());
            }
        }
        let mut body = web::BytesMut::new();
        while let Some(chunk) = payload.next().await {
            let chunk = chunk.map_err(|e| {
                ApiError::new(
                    ErrorCode::InvalidParameter,
                    format!("the body could not be read: {e}"),
                )
            })?;
            if body.len() + chunk.len() > limit {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(params);
        }
        let has_content_type = req.headers().contains_key(CONTENT_TYPE);
        // Media types compare case-insensitively (RFC 9110 §8.3.1); actix gives the header's
        // type as sent, without its parameters.
        let media_type = req.content_type().to_ascii_lowercase();
        match media_type.as_str() {
            "application/json" => params.add_json(&body)?,
            "application/x-www-form-urlencoded" => {
                let text = std::str::from_utf8(&body).map_err(|_| {
                    ApiError::new(ErrorCode::InvalidParameter, "the form body is not UTF-8")
                })?;
                params.add_pairs(text, "form body")?;
            }
            // Postman and curl users often send JSON without saying so.
            "text/plain" => params.add_json(&body)?,
            _ if !has_content_type => params.add_json(&body)?,
            _ => {
                let other = req.content_type();
                return Err(ApiError::new(
                    ErrorCode::UnsupportedMediaType,
                    format!(
                        "a body of type `{other}` is not understood; send application/json or \
                         application/x-www-form-urlencoded"
                    ),
                ));
            }
        }
        Ok(params)
    }

    /// Parameters given as a JSON object (one operation of a batch).
    pub fn from_map(map: Map<String, Value>) -> Params {
        Params {
            values: map.into_iter().collect(),
            asked: Vec::new(),
        }
    }

    /// The parameters of the query string alone (an endpoint whose body is not parameters).
    pub fn from_query(req: &HttpRequest) -> Result<Params, ApiError> {
        let mut params = Params::default();
        params.add_pairs(req.query_string(), "query string")?;
        Ok(params)
    }

    /// Adds a text parameter from elsewhere (a multipart field); twice is refused.
    pub fn add_text(&mut self, name: &str, value: String) -> Result<(), ApiError> {
        self.insert(name.to_owned(), Value::String(value))
    }

    /// A whole number given as `name`, without taking it (`None` when absent or not one).
    pub fn peek_integer(&self, name: &str) -> Option<i64> {
        match self.values.get(name)? {
            Value::Number(n) => n.as_i64(),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        }
    }

    /// Non-empty text given as `name`, without taking it.
    pub fn peek_text(&self, name: &str) -> Option<String> {
        match self.values.get(name)? {
            Value::String(s) if !s.is_empty() => Some(s.clone()),
            _ => None,
        }
    }

    /// Marks `name` as taken by the endpoint without reading it (a multipart file field).
    pub fn accept(&mut self, name: &str) {
        if !self.asked.iter().any(|n| n == name) {
            self.asked.push(name.to_owned());
        }
    }

    fn insert(&mut self, name: String, value: Value) -> Result<(), ApiError> {
        if self.values.contains_key(&name) {
            return Err(ApiError::new(
                ErrorCode::InvalidParameter,
                format!("parameter `{name}` is given more than once"),
            )
            .with_details(json!({ "parameter": name })));
        }
        self.values.insert(name, value);
        Ok(())
    }

    fn add_pairs(&mut self, text: &str, source: &str) -> Result<(), ApiError> {
        for pair in text.split('&').filter(|p| !p.is_empty()) {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let decode = |s: &str| -> Result<String, ApiError> {
                let s = s.replace('+', " ");
                percent_encoding::percent_decode_str(&s)
                    .decode_utf8()
                    .map(|c| c.into_owned())
                    .map_err(|_| {
                        ApiError::new(
                            ErrorCode::InvalidParameter,
                            format!("the {source} is not valid UTF-8 after percent-decoding"),
                        )
                    })
            };
            self.insert(decode(name)?, Value::String(decode(value)?))?;
        }
        Ok(())
    }

    fn add_json(&mut self, body: &[u8]) -> Result<(), ApiError> {
        let value: Value = crate::json::from_slice(body).map_err(|e| {
            let why = match e.classify() {
                // Well-formed, but a key repeated in one object.
                serde_json::error::Category::Data => "the JSON body is refused",
                _ => "the body is not valid JSON",
            };
            ApiError::new(ErrorCode::InvalidParameter, format!("{why}: {e}"))
                .with_details(json!({ "line": e.line(), "column": e.column() }))
        })?;
        let Value::Object(object) = value else {
            return Err(ApiError::new(
                ErrorCode::InvalidParameter,
                "the JSON body must be an object of parameters",
            ));
        };
        for (name, value) in object {
            self.insert(name, value)?;
        }
        Ok(())
    }

    /// Refuses the parameters no accessor took.
    pub fn finish(self) -> Result<(), ApiError> {
        if self.values.is_empty() {
            return Ok(());
        }
        let names: Vec<&String> = self.values.keys().collect();
        Err(ApiError::new(
            ErrorCode::UnknownParameter,
            format!(
                "unknown parameter{} {}",
                if names.len() == 1 { "" } else { "s" },
                names
                    .iter()
                    .map(|n| format!("`{n}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )
        .with_details(json!({ "parameters": names, "accepted": self.asked })))
    }

    fn required<T>(name: &str, value: Option<T>) -> Result<T, ApiError> {
        value.ok_or_else(|| {
            ApiError::new(
                ErrorCode::MissingParameter,
                format!("parameter `{name}` is required"),
            )
            .with_details(json!({ "parameter": name }))
        })
    }

    /// Any JSON value, as given (text stays text).
    /// Every parameter given, as query-string text (a list comma-separated, a map as JSON
    /// text), before any is taken: what a `Link` to the next page repeats.
    pub fn as_text(&self) -> Vec<(String, String)> {
        self.values
            .iter()
            .map(|(name, value)| {
                let text = match value {
                    Value::String(s) => s.clone(),
                    Value::Array(items)
                        if items.iter().all(|i| !i.is_object() && !i.is_array()) =>
                    {
                        items
                            .iter()
                            .map(|i| match i {
                                Value::String(s) => s.clone(),
                                other => other.to_string(),
                            })
                            .collect::<Vec<_>>()
                            .join(",")
                    }
                    other => other.to_string(),
                };
                (name.clone(), text)
            })
            .collect()
    }

    pub fn value(&mut self, name: &str) -> Option<Value> {
        if !self.asked.iter().any(|n| n == name) {
            self.asked.push(name.to_owned());
        }
        self.values.remove(name)
    }

    pub fn required_value(&mut self, name: &str) -> Result<Value, ApiError> {
        Self::required(name, self.value(name))
    }

    pub fn string(&mut self, name: &str) -> Result<Option<String>, ApiError> {
        match self.value(name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(invalid(name, "text")),
        }
    }

    pub fn required_string(&mut self, name: &str) -> Result<String, ApiError> {
        let s = self.string(name)?;
        Self::required(name, s.filter(|s| !s.is_empty()))
    }

    pub fn integer(&mut self, name: &str) -> Result<Option<i64>, ApiError> {
        match self.value(name) {
            None => Ok(None),
            Some(Value::Number(n)) => n
                .as_i64()
                .map(Some)
                .ok_or_else(|| invalid(name, "a whole number")),
            Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
            Some(Value::String(s)) => s
                .trim()
                .parse()
                .map(Some)
                .map_err(|_| invalid(name, "a whole number")),
            Some(_) => Err(invalid(name, "a whole number")),
        }
    }

    pub fn required_integer(&mut self, name: &str) -> Result<i64, ApiError> {
        let n = self.integer(name)?;
        Self::required(name, n)
    }

    /// A non-negative integer.
    pub fn count(&mut self, name: &str) -> Result<Option<u64>, ApiError> {
        match self.integer(name)? {
            Some(n) if n < 0 => Err(invalid(name, "zero or more")),
            n => Ok(n.map(|n| n as u64)),
        }
    }

    pub fn boolean(&mut self, name: &str) -> Result<Option<bool>, ApiError> {
        match self.value(name) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(b)),
            Some(Value::Number(n)) if n.as_i64() == Some(1) => Ok(Some(true)),
            Some(Value::Number(n)) if n.as_i64() == Some(0) => Ok(Some(false)),
            Some(Value::String(s)) => match s.trim().to_ascii_lowercase().as_str() {
                "" => Ok(None),
                "true" | "1" | "yes" | "on" => Ok(Some(true)),
                "false" | "0" | "no" | "off" => Ok(Some(false)),
                _ => Err(invalid(name, "true or false")),
            },
            Some(_) => Err(invalid(name, "true or false")),
        }
    }

    /// A list: a JSON array of strings, or comma-separated text.
    pub fn list(&mut self, name: &str) -> Result<Option<Vec<String>>, ApiError> {
        match self.value(name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(
                s.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect(),
            )),
            Some(Value::Array(items)) => items
                .into_iter()
                .map(|v| match v {
                    Value::String(s) => Ok(s.trim().to_owned()),
                    _ => Err(invalid(name, "a list of names")),
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
            Some(_) => Err(invalid(name, "a list (JSON array or comma-separated text)")),
        }
    }

    /// A map: a JSON object, or JSON text of one.
    pub fn map(&mut self, name: &str) -> Result<Option<Map<String, Value>>, ApiError> {
        let expected = "a map (JSON object, or its JSON text)";
        match self.value(name) {
            None => Ok(None),
            Some(Value::Object(m)) => Ok(Some(m)),
            Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
            Some(Value::String(s)) => match crate::json::from_str(&s) {
                Ok(Value::Object(m)) => Ok(Some(m)),
                Ok(_) => Err(invalid(name, expected)),
                Err(e) => Err(invalid(name, &format!("{expected}; {e}"))),
            },
            Some(_) => Err(invalid(name, expected)),
        }
    }
}
