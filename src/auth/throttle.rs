//! Slowing down key guessing: an address with [`MAX_FAILURES`] failed attempts within
//! [`WINDOW`] is refused (`429`, `Retry-After`) until that window ends. In memory, per
//! process, for at most [`TRACKED`] addresses.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub const MAX_FAILURES: u32 = 10;
pub const WINDOW: Duration = Duration::from_secs(60);
const TRACKED: usize = 10_000;

#[derive(Default)]
pub struct Throttle {
    /// Per address: when its window began, and its failures in it.
    failures: Mutex<HashMap<IpAddr, (Instant, u32)>>,
}

impl Throttle {
    /// How long `address` must wait, if it is refused now.
    pub fn blocked(&self, address: IpAddr) -> Option<Duration> {
        let failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        let (since, count) = failures.get(&address)?;
        let elapsed = since.elapsed();
        (*count >= MAX_FAILURES && elapsed < WINDOW).then(|| WINDOW - elapsed)
    }

    /// Counts one failed attempt of `address`.
    pub fn failed(&self, address: IpAddr) {
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        if failures.len() >= TRACKED && !failures.contains_key(&address) {
            failures.retain(|_, (since, _)| since.elapsed() < WINDOW);
            if failures.len() >= TRACKED {
                // Still full of recent offenders: forget the oldest window.
                let oldest = failures
                    .iter()
                    .min_by_key(|(_, (since, _))| *since)
                    .map(|(a, _)| *a);
                if let Some(a) = oldest {
                    failures.remove(&a);
                }
            }
        }
        let entry = failures.entry(address).or_insert((Instant::now(), 0));
        if entry.0.elapsed() >= WINDOW {
            *entry = (Instant::now(), 0);
        }
        entry.1 += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_is_refused_after_too_many_failures_and_others_are_not() {
        let throttle = Throttle::default();
        let (a, b): (IpAddr, IpAddr) = ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap());
        for _ in 0..MAX_FAILURES - 1 {
            throttle.failed(a);
        }
        assert!(throttle.blocked(a).is_none());
        throttle.failed(a);
        let wait = throttle.blocked(a).expect("refused");
        assert!(wait <= WINDOW && wait > Duration::from_secs(50));
        assert!(throttle.blocked(b).is_none());
    }

    #[test]
    fn memory_stays_bounded() {
        let throttle = Throttle::default();
        for i in 0..(TRACKED as u32 + 100) {
            throttle.failed(IpAddr::from(i.to_be_bytes()));
        }
        assert!(throttle.failures.lock().unwrap().len() <= TRACKED);
    }
}
