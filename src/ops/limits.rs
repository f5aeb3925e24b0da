//! Overload protection: a bound on requests in flight (503 beyond it, never an unbounded
//! queue) and a token bucket per client (429 beyond it).
//!
//! A client is its API key when it sends one (hashed here with a per-process random key:
//! the key itself is never kept or logged), else its address, an IPv6 one by its /64 (see
//! [`super::proxy`]).

use std::collections::hash_map::RandomState;
use std::collections::HashMap;
use std::hash::BuildHasher;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::http::header::HeaderMap;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Requests in flight, at most `max`.
#[derive(Clone)]
pub struct ConcurrencyLimit {
    permits: Arc<Semaphore>,
}

impl ConcurrencyLimit {
    pub fn new(max: usize) -> Self {
        ConcurrencyLimit {
            permits: Arc::new(Semaphore::new(max.max(1))),
        }
    }

    /// A permit held for the request's life, or `None` when `max` are in flight.
    pub fn try_enter(&self) -> Option<OwnedSemaphorePermit> {
        self.permits.clone().try_acquire_owned().ok()
    }
}

/// Buckets kept before idle (full) ones are swept.
const SWEEP_ABOVE: usize = 10_000;

/// A token bucket per client: `rate` tokens a second, holding at most `rate` (one second of
/// burst).
pub struct RateLimiter {
    rate: f64,
    hasher: RandomState,
    buckets: Mutex<HashMap<u64, Bucket>>,
}

#[derive(Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl RateLimiter {
    pub fn new(per_second: u32) -> Self {
        RateLimiter {
            rate: f64::from(per_second.max(1)),
            hasher: RandomState::new(),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// The key of a client: a hash of the id of the API key it sends (read exactly as
    /// authentication reads it, so no second header or other spelling makes a new bucket),
    /// else of its address.
    pub fn key(&self, headers: &HeaderMap, addr: Option<IpAddr>) -> u64 {
        match crate::auth::presented_key_id(headers) {
            Some(id) => self.hasher.hash_one((0u8, id)),
            None => self
                .hasher
                .hash_one((1u8, addr.map(super::proxy::client_network))),
        }
    }

    /// Takes a token for `key`; `Err(wait)` says how long until one is free.
    pub fn check(&self, key: u64) -> Result<(), Duration> {
        self.check_at(key, Instant::now())
    }

    fn check_at(&self, key: u64, now: Instant) -> Result<(), Duration> {
        let Ok(mut buckets) = self.buckets.lock() else {
            // A poisoned map only loses counting; never refuse because of it.
            return Ok(());
        };
        if buckets.len() > SWEEP_ABOVE {
            let rate = self.rate;
            buckets.retain(|_, b| b.refilled(rate, now) < rate);
        }
        let bucket = buckets.entry(key).or_insert(Bucket {
            tokens: self.rate,
            at: now,
        });
        let tokens = bucket.refilled(self.rate, now);
        bucket.at = now;
        if tokens >= 1.0 {
            bucket.tokens = tokens - 1.0;
            Ok(())
        } else {
            bucket.tokens = tokens;
            Err(Duration::from_secs_f64((1.0 - tokens) / self.rate))
        }
    }
}

impl Bucket {
    fn refilled(&self, rate: f64, now: Instant) -> f64 {
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        (self.tokens + elapsed * rate).min(rate)
    }
}

/// Whole seconds for `Retry-After` (at least 1).
pub fn retry_after_secs(wait: Duration) -> u64 {
    wait.as_secs_f64().ceil().max(1.0) as u64
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::http::header::{HeaderName, HeaderValue};

    #[test]
    fn the_concurrency_bound_refuses_beyond_its_permits() {
        let limit = ConcurrencyLimit::new(2);
        let a = limit.try_enter();
        let b = limit.try_enter();
        assert!(a.is_some() && b.is_some());
        assert!(limit.try_enter().is_none());
        drop(a);
        assert!(limit.try_enter().is_some());
    }

    #[test]
    fn a_bucket_allows_its_burst_then_refills_at_the_rate() {
        let limiter = RateLimiter::new(2);
        let t0 = Instant::now();
        assert!(limiter.check_at(1, t0).is_ok());
        assert!(limiter.check_at(1, t0).is_ok());
        let wait = limiter.check_at(1, t0).unwrap_err();
        assert!(wait <= Duration::from_millis(500) && wait > Duration::ZERO);
        assert_eq!(retry_after_secs(wait), 1);
        // Another client has its own bucket.
        assert!(limiter.check_at(2, t0).is_ok());
        assert!(limiter.check_at(1, t0 + Duration::from_millis(600)).is_ok());
    }

    #[test]
    fn clients_are_keyed_by_api_key_before_address() {
        let limiter = RateLimiter::new(1);
        let ip: Option<IpAddr> = Some("192.0.2.1".parse().unwrap());
        let other: Option<IpAddr> = Some("192.0.2.2".parse().unwrap());
        const KEY: &str =
            "dsk_0123456789abcdef_1111111111111111111111111111111111111111111111111111111111111111";
        let headers = |pairs: &[(&'static str, String)]| {
            let mut map = HeaderMap::new();
            for (name, value) in pairs {
                map.insert(
                    HeaderName::from_static(name),
                    HeaderValue::from_str(value).unwrap(),
                );
            }
            map
        };
        let bearer = headers(&[("authorization", format!("Bearer {KEY}"))]);
        let x_api_key = headers(&[("x-api-key", KEY.to_owned())]);
        let none = HeaderMap::new();
        assert_eq!(limiter.key(&bearer, ip), limiter.key(&x_api_key, other));
        assert_ne!(limiter.key(&none, ip), limiter.key(&none, other));
        assert_ne!(limiter.key(&bearer, ip), limiter.key(&none, ip));
        // Neither a second header nor another spelling of the same key makes a new client.
        let with_extra = headers(&[
            (
                "authorization",
                format!("Bearer  {}", KEY.to_uppercase().replace("DSK_", "dsk_")),
            ),
            ("x-api-key", "something-else".to_owned()),
        ]);
        assert_eq!(limiter.key(&with_extra, other), limiter.key(&bearer, ip));
    }
}
