//! Cursor paging's answer headers (API.md §12): `X-Next-After` and a `Link` to the next
//! page that a client can follow as it is, also behind a proxy that serves the service
//! under a base path (IIS at `/datastore/`).

use actix_web::{HttpRequest, HttpResponseBuilder};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

/// Everything but RFC 3986's unreserved characters is encoded in a query component.
const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// The relative reference of the next page: the endpoint's own last path segment (so it
/// resolves against whatever base path the client used) with every parameter of the
/// request but `offset` and `after`, then `after=TOKEN`.
pub fn next_link(req: &HttpRequest, given: &[(String, String)], token: &str) -> String {
    let endpoint = req.path().rsplit('/').next().unwrap_or_default();
    let mut query: Vec<String> = given
        .iter()
        .filter(|(name, _)| name != "offset" && name != "after")
        .map(|(name, value)| {
            format!(
                "{}={}",
                utf8_percent_encode(name, COMPONENT),
                utf8_percent_encode(value, COMPONENT)
            )
        })
        .collect();
    query.push(format!("after={}", utf8_percent_encode(token, COMPONENT)));
    format!("{endpoint}?{}", query.join("&"))
}

/// Sets `X-Total-Count` (when counted) and, when there is a next page, `X-Next-After` and
/// `Link: <...>; rel="next"`.
pub fn headers(
    response: &mut HttpResponseBuilder,
    req: &HttpRequest,
    given: &[(String, String)],
    total: Option<u64>,
    next: Option<&str>,
) {
    if let Some(total) = total {
        response.insert_header(("X-Total-Count", total.to_string()));
    }
    if let Some(token) = next {
        response.insert_header(("X-Next-After", token.to_owned()));
        let link = next_link(req, given, token);
        response.insert_header(("Link", format!("<{link}>; rel=\"next\"")));
    }
}
