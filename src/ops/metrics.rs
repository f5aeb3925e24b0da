//! Prometheus metrics, scraped at `GET {basePath}/metrics`.
//!
//! Every label has a bounded set of values: the endpoint is the registered resource name
//! (never the raw path), the status a three-digit code, the store error kind a variant
//! name. Pool gauges are read from the store when scraped, so nothing runs in between.

use std::collections::HashMap;
use std::sync::{OnceLock, RwLock};
use std::time::Duration;

use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts,
    Registry, TextEncoder,
};

use crate::store::{PoolStats, StoreError};

/// The label of requests that matched no endpoint.
pub const UNMATCHED: &str = "unmatched";

/// The metrics of one running service.
pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    duration: HistogramVec,
    in_flight: IntGauge,
    writer_queue: IntGauge,
    connections_in_use: IntGauge,
    connections_max: IntGauge,
    apps_open: IntGauge,
    sqlite_heap: IntGauge,
    properties_cache: IntGauge,
    /// The series of each endpoint and status seen so far, so a request finds its counter
    /// and histogram without the label lookups of `with_label_values` (hashing the values,
    /// the status as text).
    handles: RwLock<HashMap<String, EndpointHandles>>,
}

/// One endpoint's histogram and its counters by status.
struct EndpointHandles {
    duration: Histogram,
    statuses: Vec<(u16, IntCounter)>,
}

/// Store errors by kind: counted where a store error becomes an answer, process-wide.
fn store_errors() -> &'static IntCounterVec {
    static ERRORS: OnceLock<IntCounterVec> = OnceLock::new();
    ERRORS.get_or_init(|| {
        let errors = IntCounterVec::new(
            Opts::new(
                "datastore_store_errors_total",
                "Store errors that reached a request, by kind",
            ),
            &["kind"],
        )
        .unwrap_or_else(|e| unreachable!("a constant, valid metric: {e}"));
        // Every kind shows from the start (at 0), so a rate over it is defined.
        for kind in StoreError::KINDS {
            errors.with_label_values(&[kind]);
        }
        errors
    })
}

/// Counts one store error of `kind` (a [`crate::store::StoreError::kind`]).
pub fn count_store_error(kind: &'static str) {
    store_errors().with_label_values(&[kind]).inc();
}

impl Metrics {
    pub fn new() -> Result<Self, prometheus::Error> {
        let registry = Registry::new();
        let requests = IntCounterVec::new(
            Opts::new(
                "datastore_http_requests_total",
                "HTTP requests answered, by endpoint and status",
            ),
            &["endpoint", "status"],
        )?;
        let duration = HistogramVec::new(
            HistogramOpts::new(
                "datastore_http_request_duration_seconds",
                "Time to answer an HTTP request, by endpoint",
            )
            .buckets(vec![
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
            ]),
            &["endpoint"],
        )?;
        let in_flight = IntGauge::new(
            "datastore_http_requests_in_flight",
            "HTTP requests being handled",
        )?;
        let writer_queue = IntGauge::new(
            "datastore_store_writer_queue_depth",
            "Writes waiting for the SQLite writer thread (0 on SQL Server)",
        )?;
        let connections_in_use = IntGauge::new(
            "datastore_store_connections_in_use",
            "Reader connections (SQLite) or pooled connections (SQL Server) in use",
        )?;
        let connections_max = IntGauge::new(
            "datastore_store_connections_max",
            "Reader connections (SQLite) or the pool size (SQL Server)",
        )?;
        let apps_open = IntGauge::new(
            "datastore_apps_open",
            "Databases of apps and systems open (the default app's LIVE one not counted)",
        )?;
        // The bounded caches' share of the process's memory, so a growing RSS can be told
        // apart from a cache filling to its bound (scripts/soak.sh samples them).
        let sqlite_heap = IntGauge::new(
            "datastore_sqlite_heap_bytes",
            "Memory SQLite holds in this process: its connections' page caches, statements and schemas",
        )?;
        let properties_cache = IntGauge::new(
            "datastore_properties_cache_bytes",
            "Estimated size of the object properties kept in memory (at most 16 MiB)",
        )?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(duration.clone()))?;
        registry.register(Box::new(in_flight.clone()))?;
        registry.register(Box::new(writer_queue.clone()))?;
        registry.register(Box::new(connections_in_use.clone()))?;
        registry.register(Box::new(connections_max.clone()))?;
        registry.register(Box::new(apps_open.clone()))?;
        registry.register(Box::new(sqlite_heap.clone()))?;
        registry.register(Box::new(properties_cache.clone()))?;
        registry.register(Box::new(store_errors().clone()))?;
        Ok(Metrics {
            registry,
            requests,
            duration,
            in_flight,
            writer_queue,
            connections_in_use,
            connections_max,
            apps_open,
            sqlite_heap,
            properties_cache,
            handles: RwLock::new(HashMap::new()),
        })
    }

    /// Records one answered request.
    pub fn observe(&self, endpoint: &str, status: u16, elapsed: Duration) {
        let seen = self.handles.read().ok().and_then(|handles| {
            let handles = handles.get(endpoint)?;
            let counter = handles.statuses.iter().find(|(s, _)| *s == status)?;
            counter.1.inc();
            handles.duration.observe(elapsed.as_secs_f64());
            Some(())
        });
        if seen.is_some() {
            return;
        }
        // The first request of this endpoint and status: the labels' series, kept.
        let status_text = status.to_string();
        let counter = self
            .requests
            .with_label_values(&[endpoint, status_text.as_str()]);
        let duration = self.duration.with_label_values(&[endpoint]);
        counter.inc();
        duration.observe(elapsed.as_secs_f64());
        if let Ok(mut handles) = self.handles.write() {
            let handles = handles
                .entry(endpoint.to_owned())
                .or_insert_with(|| EndpointHandles {
                    duration,
                    statuses: Vec::new(),
                });
            if !handles.statuses.iter().any(|(s, _)| *s == status) {
                handles.statuses.push((status, counter));
            }
        }
    }

    pub fn in_flight(&self) -> &IntGauge {
        &self.in_flight
    }

    /// How many apps' databases are open now (`--max-open-apps` at most).
    pub fn set_apps_open(&self, open: usize) {
        self.apps_open.set(gauge(open));
    }

    /// The text exposition, with the pool gauges as `stats` has them now.
    pub fn render(&self, stats: PoolStats) -> Result<String, prometheus::Error> {
        self.writer_queue.set(gauge(stats.writer_queue));
        self.connections_in_use.set(gauge(stats.connections_in_use));
        self.connections_max.set(gauge(stats.connections_max));
        self.sqlite_heap.set(crate::store::sqlite::heap_bytes());
        self.properties_cache
            .set(i64::try_from(crate::store::sqlite::properties_cache_bytes()).unwrap_or(i64::MAX));
        let mut out = Vec::new();
        TextEncoder::new().encode(&self.registry.gather(), &mut out)?;
        String::from_utf8(out).map_err(|e| prometheus::Error::Msg(e.to_string()))
    }
}

fn gauge(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_counted_by_endpoint_and_status() {
        let metrics = Metrics::new().unwrap();
        metrics.observe("getObject", 200, Duration::from_millis(3));
        metrics.observe("getObject", 404, Duration::from_millis(1));
        count_store_error("busy");
        let text = metrics
            .render(PoolStats {
                writer_queue: 3,
                connections_in_use: 1,
                connections_max: 16,
            })
            .unwrap();
        assert!(
            text.contains(r#"datastore_http_requests_total{endpoint="getObject",status="200"} 1"#)
        );
        assert!(text
            .contains(r#"datastore_http_request_duration_seconds_count{endpoint="getObject"} 2"#));
        assert!(text.contains("datastore_store_writer_queue_depth 3"));
        assert!(text.contains("datastore_store_connections_max 16"));
        assert!(text.contains(r#"datastore_store_errors_total{kind="busy"}"#));
    }
}
