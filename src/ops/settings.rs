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
