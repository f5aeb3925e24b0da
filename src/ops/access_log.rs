//! The request's own log line, written by hand (issue 9, item 3).
//!
//! Every answered request logs one line at `info` (target `datastore::ops`, message
//! `request`, fields `path`, `status`, `ms`, inside the request span). Through `tracing` that
//! line cost about an eighth of a `/health` request's CPU (the event's dispatch, the span's
//! lookup, field visitors, the clock formatted anew each time). When `main` installed the log
//! writer ([`install`]) and no colours are on, [`write`] formats the same line, byte for
//! byte, in text or JSON (the unit tests compare it with `tracing-subscriber`'s own), into a
//! reused buffer, and hands it to the same writer thread. Otherwise (tests in one process, a
//! terminal) the line goes through `tracing` as before ([`event`]).

use std::cell::RefCell;
use std::net::IpAddr;
use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::settings::LogFormat;

/// Hands one finished line to the log writer.
pub type LineWriter = Box<dyn Fn(&[u8]) + Send + Sync>;

/// Where hand-written lines go, and in which format.
struct Installed {
    format: LogFormat,
    write: LineWriter,
}

static INSTALLED: OnceLock<Installed> = OnceLock::new();

/// Called once by `main` after setting up `tracing`: request lines in `format` go to
/// `write` (the log writer thread's queue), unless colours are on (then they stay with
/// `tracing`, which paints them).
pub fn install(format: LogFormat, ansi: bool, write: LineWriter) {
    if !ansi {
        let _ = INSTALLED.set(Installed { format, write });
    }
}

/// What the request's line and span say.
pub struct RequestLine<'a> {
    pub request_id: &'a str,
    pub method: &'a str,
    pub client: Option<IpAddr>,
    pub https: bool,
    pub endpoint: &'a str,
    pub path: &'a str,
    pub status: u16,
    pub ms: u64,
}

/// True when the request's line is logged at all (`info` for `datastore::ops`).
pub fn enabled() -> bool {
    tracing::enabled!(target: "datastore::ops", tracing::Level::INFO)
}

/// Writes the line by hand when [`install`]ed; `false` when the caller must log it through
/// `tracing` ([`event`]).
pub fn write(line: &RequestLine<'_>) -> bool {
    let Some(installed) = INSTALLED.get() else {
        return false;
    };
    BUFFER.with(|buffer| {
        let mut buffer = buffer.borrow_mut();
        buffer.clear();
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        match installed.format {
            LogFormat::Text => text(&mut buffer, now, line),
            LogFormat::Json => json(&mut buffer, now, line),
        }
        (installed.write)(&buffer);
    });
    true
}

/// The request's line through `tracing`, inside the request's span (entered by the caller).
pub fn event(line: &RequestLine<'_>) {
    tracing::info!(
        target: "datastore::ops",
        path = %line.path,
        status = line.status,
        ms = line.ms,
        "request"
    );
}

thread_local! {
    static BUFFER: RefCell<Vec<u8>> = RefCell::new(Vec::with_capacity(512));
    /// The formatted date and time of the last second seen (`tracing-subscriber`'s format).
    static CLOCK: RefCell<(u64, [u8; 19])> = const { RefCell::new((u64::MAX, [0; 19])) };
}

/// `2026-12-01T11:56:13.123456Z`, as `tracing-subscriber` writes its time (UTC, micros).
fn timestamp(out: &mut Vec<u8>, since_epoch: std::time::Duration) {
    let secs = since_epoch.as_secs();
    CLOCK.with(|clock| {
        let mut clock = clock.borrow_mut();
        if clock.0 != secs {
            let text = chrono::DateTime::from_timestamp(secs as i64, 0)
                .unwrap_or_default()
                .format("%Y-%m-%dT%H:%M:%S")
                .to_string();
            if text.len() == 19 {
                clock.1.copy_from_slice(text.as_bytes());
                clock.0 = secs;
            } else {
                // A year beyond 9999: never cached, written as it comes.
                out.extend_from_slice(text.as_bytes());
                return;
            }
        }
        out.extend_from_slice(&clock.1);
    });
    let micros = since_epoch.subsec_micros();
    let mut digits = [b'0'; 6];
    let mut n = micros;
    for d in digits.iter_mut().rev() {
        *d = b'0' + (n % 10) as u8;
        n /= 10;
    }
    out.push(b'.');
    out.extend_from_slice(&digits);
    out.push(b'Z');
}

fn number(out: &mut Vec<u8>, n: u64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    let mut n = n;
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[at..]);
}

fn client_text(client: Option<IpAddr>) -> impl std::fmt::Display {
    super::OptionalAddr(client)
}

fn scheme(https: bool) -> &'static str {
    if https {
        "https"
    } else {
        "http"
    }
}

/// The text format of `tracing-subscriber` (`Full`, no colours):
/// `TIME  INFO request{request_id=.. method=.. client=.. scheme=".." endpoint=..}:
/// datastore::ops: request path=.. status=.. ms=..`.
fn text(out: &mut Vec<u8>, now: std::time::Duration, line: &RequestLine<'_>) {
    use std::io::Write as _;
    timestamp(out, now);
    out.extend_from_slice(b"  INFO request{request_id=");
    out.extend_from_slice(line.request_id.as_bytes());
    out.extend_from_slice(b" method=");
    out.extend_from_slice(line.method.as_bytes());
    out.extend_from_slice(b" client=");
    if let Some(addr) = line.client {
        let _ = write!(out, "{}", client_text(Some(addr)));
    }
    // A `&str` field is written as its `Debug` (quoted) by `tracing-subscriber`.
    out.extend_from_slice(b" scheme=\"");
    out.extend_from_slice(scheme(line.https).as_bytes());
    out.extend_from_slice(b"\" endpoint=");
    out.extend_from_slice(line.endpoint.as_bytes());
    out.extend_from_slice(b"}: datastore::ops: request path=");
    out.extend_from_slice(line.path.as_bytes());
    out.extend_from_slice(b" status=");
    number(out, u64::from(line.status));
    out.extend_from_slice(b" ms=");
    number(out, line.ms);
    out.push(b'\n');
}

/// A JSON string, escaped as `serde_json` does.
fn json_string(out: &mut Vec<u8>, text: &str) {
    let _ = serde_json::to_writer(&mut *out, text);
}

/// The JSON format of `tracing-subscriber` (current span and span list on).
fn json(out: &mut Vec<u8>, now: std::time::Duration, line: &RequestLine<'_>) {
    use std::io::Write as _;
    out.extend_from_slice(b"{\"timestamp\":\"");
    timestamp(out, now);
    out.extend_from_slice(b"\",\"level\":\"INFO\",\"fields\":{\"message\":\"request\",\"path\":");
    json_string(out, line.path);
    out.extend_from_slice(b",\"status\":");
    number(out, u64::from(line.status));
    out.extend_from_slice(b",\"ms\":");
    number(out, line.ms);
    out.extend_from_slice(b"},\"target\":\"datastore::ops\",\"span\":");
    let span_start = out.len();
    // The span's fields in the order `tracing-subscriber` writes them: sorted by name.
    out.extend_from_slice(b"{\"client\":\"");
    if let Some(addr) = line.client {
        let _ = write!(out, "{}", client_text(Some(addr)));
    }
    out.extend_from_slice(b"\",\"endpoint\":");
    json_string(out, line.endpoint);
    out.extend_from_slice(b",\"method\":");
    json_string(out, line.method);
    out.extend_from_slice(b",\"request_id\":");
    json_string(out, line.request_id);
    out.extend_from_slice(b",\"scheme\":\"");
    out.extend_from_slice(scheme(line.https).as_bytes());
    out.extend_from_slice(b"\"");
    out.extend_from_slice(b",\"name\":\"request\"}");
    let span_end = out.len();
    out.extend_from_slice(b",\"spans\":[");
    out.extend_from_within(span_start..span_end);
    out.extend_from_slice(b"]}\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::test_support::Captured;

    /// The line `tracing-subscriber` writes for `line` (span made as `observe` makes it).
    fn through_tracing(format: LogFormat, line: &RequestLine<'_>) -> String {
        let captured = Captured::default();
        let writer = captured.clone();
        let builder = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_env_filter(tracing_subscriber::EnvFilter::new("info"))
            .with_writer(move || writer.clone());
        let emit = || {
            let span =
                super::super::request_span(line.request_id, line.method, line.client, line.https);
            span.record("endpoint", tracing::field::display(line.endpoint));
            span.in_scope(|| event(line));
        };
        match format {
            LogFormat::Text => tracing::subscriber::with_default(builder.finish(), emit),
            LogFormat::Json => tracing::subscriber::with_default(builder.json().finish(), emit),
        }
        let bytes = captured.bytes();
        String::from_utf8(bytes).unwrap()
    }

    fn by_hand(format: LogFormat, line: &RequestLine<'_>) -> String {
        let mut out = Vec::new();
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
        match format {
            LogFormat::Text => text(&mut out, now, line),
            LogFormat::Json => json(&mut out, now, line),
        }
        String::from_utf8(out).unwrap()
    }

    /// The line without its time (the 27 characters of `2026-12-01T11:56:13.123456Z`).
    fn timeless(format: LogFormat, line: &str) -> String {
        let at = match format {
            LogFormat::Text => 0,
            LogFormat::Json => line.find("\"timestamp\":\"").unwrap() + 13,
        };
        let time = &line[at..at + 27];
        assert!(
            time.ends_with('Z') && time.as_bytes()[10] == b'T' && time.as_bytes()[19] == b'.',
            "{line}"
        );
        format!("{}{}", &line[..at], &line[at + 27..])
    }

    #[test]
    fn the_line_by_hand_is_the_line_of_tracing() {
        let lines = [
            RequestLine {
                request_id: "0123456789abcdef",
                method: "GET",
                client: Some("127.0.0.1".parse().unwrap()),
                https: false,
                endpoint: "getObject",
                path: "/getObject",
                status: 200,
                ms: 0,
            },
            RequestLine {
                request_id: "log-\"check\\-42",
                method: "POST",
                client: Some("2001:db8::1".parse().unwrap()),
                https: true,
                endpoint: "/health",
                path: "/apps/x/getObject%22\u{e9}\t",
                status: 404,
                ms: 12345,
            },
            RequestLine {
                request_id: "x",
                method: "PATCH",
                client: None,
                https: false,
                endpoint: "unmatched",
                path: "/",
                status: 503,
                ms: 18_446_744_073_709_551_615,
            },
        ];
        for format in [LogFormat::Text, LogFormat::Json] {
            for line in &lines {
                let traced = through_tracing(format, line);
                let hand = by_hand(format, line);
                assert_eq!(timeless(format, &hand), timeless(format, &traced));
            }
        }
    }

    #[test]
    fn the_time_is_written_as_tracing_writes_it() {
        let mut out = Vec::new();
        timestamp(&mut out, std::time::Duration::new(1_764_590_173, 7_654_321));
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "2025-12-01T11:56:13.007654Z"
        );
        let mut out = Vec::new();
        timestamp(&mut out, std::time::Duration::new(0, 999_999_999));
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "1970-01-01T00:00:00.999999Z"
        );
    }
}
