//! The operational flags (limits, CORS, proxies), flattened into [`crate::settings::Settings`].

use clap::Args;

use super::proxy::IpRange;

/// Limits, CORS and proxy settings of `serve`.
#[derive(Debug, Clone, Args)]
pub struct OpsSettings {
    /// Requests handled at once; beyond it, `503 UNAVAILABLE` with `Retry-After` (0: no bound).
    #[arg(
        long,
        env = "DATASTORE_MAX_CONCURRENT_REQUESTS",
        default_value_t = 256,
        global = true
    )]
    pub max_concurrent_requests: usize,
    /// Requests per second per client (API key, else address); beyond it,
    /// `429 TOO_MANY_REQUESTS` with `Retry-After`. Unset: no limit.
    #[arg(long, env = "DATASTORE_RATE_LIMIT", global = true)]
    pub rate_limit: Option<u32>,
    /// Origins browsers may call from (CORS), comma-separated, e.g.
    /// `https://forms.example.com`. Empty: no cross-origin access.
    #[arg(
        long,
        env = "DATASTORE_CORS_ORIGINS",
        value_delimiter = ',',
        value_parser = parse_origin,
        global = true
    )]
    pub cors_origins: Vec<String>,
    /// Proxies whose `X-Forwarded-For` / `X-Forwarded-Proto` are believed, comma-separated
    /// IPs or CIDRs (e.g. `127.0.0.1,10.0.0.0/8`). Empty: the peer is the client.
    #[arg(
        long,
        env = "DATASTORE_TRUSTED_PROXIES",
        value_delimiter = ',',
        global = true
    )]
    pub trusted_proxies: Vec<IpRange>,
}

/// An origin as browsers send it: `scheme://host[:port]`, nothing after (no wildcard: an
/// API taking keys names the pages it trusts).
fn parse_origin(text: &str) -> Result<String, String> {
    // An empty variable (`DATASTORE_CORS_ORIGINS=`) means none.
    if text.trim().is_empty() {
        return Ok(String::new());
    }
    let bad = || format!("`{text}` is not an origin like https://forms.example.com");
    let url = url::Url::parse(text.trim()).map_err(|_| bad())?;
    let plain = matches!(url.scheme(), "http" | "https")
        && url.host_str().is_some()
        && url.path() == "/"
        && url.query().is_none()
        && url.fragment().is_none()
        && url.username().is_empty()
        && url.password().is_none();
    if !plain {
        return Err(bad());
    }
    // `Url` drops a default port and adds a `/`: the origin is what is left without it.
    Ok(url.as_str().trim_end_matches('/').to_owned())
}

#[cfg(test)]
mod tests {
    use super::parse_origin;

    #[test]
    fn origins_are_checked_and_normalised() {
        assert_eq!(
            parse_origin("https://forms.example.com/").unwrap(),
            "https://forms.example.com"
        );
        assert_eq!(
            parse_origin("HTTP://Forms.Example.com:8081").unwrap(),
            "http://forms.example.com:8081"
        );
        assert_eq!(parse_origin(" ").unwrap(), "");
        for bad in [
            "*",
            "forms.example.com",
            "https://x.com/path",
            "ftp://x.com",
        ] {
            assert!(parse_origin(bad).is_err(), "{bad}");
        }
    }
}
