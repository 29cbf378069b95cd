//! `GET <prefix>/metrics`: wari's state and HTTP request timings in the Prometheus text
//! exposition format (version 0.0.4), for any ari.conf user (read-only users included),
//! authenticated as ARI authenticates.
//!
//! The text is written directly rather than through a metrics crate: the format is a few
//! lines per metric, most values are read on demand from the core and the WebAssembly host
//! (which already count what they own), and the only state kept here is one latency
//! histogram of atomics. Events sent and dropped per ARI WebSocket come from
//! [`crate::events::meter`]: one series per open socket (labelled with its id, kind and
//! applications) plus totals that keep the counts of closed sockets.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;

use crate::ari::{Ari, AriRequest, AriResponse, Body};
use crate::events::meter::SocketCounts;

/// Upper bounds of the request-latency histogram buckets, in microseconds.
const BOUNDS_MICROS: [u64; 12] = [
    250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 1_000_000, 5_000_000,
];

/// The content type of the Prometheus text format.
const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// How long HTTP requests took, as a cumulative histogram.
#[derive(Debug, Default)]
pub(crate) struct RequestMetrics {
    /// Requests at or under each bound (not cumulative here; summed when rendered).
    buckets: [AtomicU64; BOUNDS_MICROS.len()],
    count: AtomicU64,
    sum_micros: AtomicU64,
}

impl RequestMetrics {
    /// Records one request's time from arrival to response.
    pub(crate) fn observe(&self, elapsed: Duration) {
        let micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
        if let Some(i) = BOUNDS_MICROS.iter().position(|bound| micros <= *bound) {
            self.buckets[i].fetch_add(1, Ordering::Relaxed);
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_micros.fetch_add(micros, Ordering::Relaxed);
    }

    /// The counts so far: requests, their total time in µs, and each bucket's upper bound
    /// in µs with its requests (not cumulative), for the console's health history.
    pub(crate) fn totals(&self) -> (u64, u64, Vec<(u64, u64)>) {
        let buckets = BOUNDS_MICROS
            .iter()
            .zip(&self.buckets)
            .map(|(bound, bucket)| (*bound, bucket.load(Ordering::Relaxed)))
            .collect();
        (
            self.count.load(Ordering::Relaxed),
            self.sum_micros.load(Ordering::Relaxed),
            buckets,
        )
    }

    fn render(&self, out: &mut String) {
        let name = "wari_http_request_duration_seconds";
        header(
            out,
            name,
            "histogram",
            "Time from a request's arrival to its response.",
        );
        let mut cumulative = 0;
        for (bound, bucket) in BOUNDS_MICROS.iter().zip(&self.buckets) {
            cumulative += bucket.load(Ordering::Relaxed);
            let le = *bound as f64 / 1e6;
            let _ = writeln!(out, "{name}_bucket{{le=\"{le}\"}} {cumulative}");
        }
        let count = self.count.load(Ordering::Relaxed);
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {count}");
        let sum = self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
        let _ = writeln!(out, "{name}_sum {sum}");
        let _ = writeln!(out, "{name}_count {count}");
    }
}

/// Is this request path (after the http.conf prefix) the metrics endpoint?
pub(crate) fn is_metrics_path(path: &str, prefix: &str) -> bool {
    path.len() == prefix.len() + "/metrics".len()
        && path
            .get(..prefix.len())
            .is_some_and(|p| p.eq_ignore_ascii_case(prefix))
        && path
            .get(prefix.len()..)
            .is_some_and(|rest| rest.eq_ignore_ascii_case("/metrics"))
}

/// Answers a metrics request: 401/403 as ARI would, 405 for anything but GET, else the
/// metrics text.
pub(crate) fn serve(ari: &Ari, request: &AriRequest, requests: &RequestMetrics) -> AriResponse {
    if let Err(error) = ari.authenticate(request) {
        return error.into();
    }
    if request.method != http::Method::GET {
        return crate::ari::AriError::new(
            http::StatusCode::METHOD_NOT_ALLOWED,
            "Only GET is supported",
        )
        .into();
    }
    let mut response = AriResponse::ok(serde_json::Value::Null);
    response.body = Body::Raw {
        content_type: CONTENT_TYPE,
        data: Bytes::from(render(ari, requests)),
    };
    response
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

fn gauge(out: &mut String, name: &str, help: &str, value: u64) {
    header(out, name, "gauge", help);
    let _ = writeln!(out, "{name} {value}");
}

/// A label value with `\`, `"` and newlines escaped.
fn label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// The whole metrics text.
pub(crate) fn render(ari: &Ari, requests: &RequestMetrics) -> String {
    let mut out = String::new();
    let counts = ari.core().counts();
    let (channels, bridges, apps) = (
        counts.channels as u64,
        counts.bridges as u64,
        counts.active_apps as u64,
    );
    gauge(
        &mut out,
        "wari_channels",
        "Channels that exist now.",
        channels,
    );
    gauge(&mut out, "wari_bridges", "Bridges that exist now.", bridges);
    gauge(
        &mut out,
        "wari_stasis_applications",
        "Stasis applications registered now.",
        apps,
    );
    render_wasm(ari, &mut out);
    render_media(ari, &mut out);
    render_sockets(
        &mut out,
        &crate::events::meter::snapshot(MAX_LISTED_SOCKETS),
    );
    requests.render(&mut out);
    out
}

fn counter(out: &mut String, name: &str, help: &str, value: impl std::fmt::Display) {
    header(out, name, "counter", help);
    let _ = writeln!(out, "{name} {value}");
}

/// The media engine's clock and the SIP calls' RTP.
fn render_media(ari: &Ari, out: &mut String) {
    if let Ok(media) = ari.core().media() {
        let stats = &media.engine.stats;
        counter(
            out,
            "wari_media_ticks_total",
            "20 ms steps of the media engine.",
            stats.ticks.load(Ordering::Relaxed),
        );
        counter(
            out,
            "wari_media_late_ticks_total",
            "Media ticks whose frames were not ready by the end of their 20 ms (or never made).",
            stats.late_ticks.load(Ordering::Relaxed),
        );
        counter(
            out,
            "wari_media_busy_seconds_total",
            "Time the media engine spent computing ticks.",
            stats.busy_micros.load(Ordering::Relaxed) as f64 / 1e6,
        );
    }
    let sip = crate::core::tech::sip::media::totals::totals().snapshot();
    counter(
        out,
        "wari_sip_rtp_received_packets_total",
        "RTP packets read from SIP calls' sockets.",
        sip.rtp_received,
    );
    counter(
        out,
        "wari_sip_rtp_sent_packets_total",
        "RTP packets sent on SIP calls' sockets.",
        sip.rtp_sent,
    );
    let name = "wari_sip_rtp_queue_dropped_total";
    header(
        out,
        name,
        "counter",
        "Datagrams of SIP calls dropped by a full queue: received ones the media clock had not \
         taken (in), ones to send the I/O had not sent (out).",
    );
    let _ = writeln!(out, "{name}{{direction=\"in\"}} {}", sip.queue_dropped_in);
    let _ = writeln!(out, "{name}{{direction=\"out\"}} {}", sip.queue_dropped_out);
    counter(
        out,
        "wari_sip_rtp_jitter_dropped_total",
        "RTP packets of SIP calls dropped by their jitter buffers: late, duplicate or over capacity.",
        sip.jitter_dropped,
    );
    counter(
        out,
        "wari_sip_rtp_jitter_lost_total",
        "RTP packets of SIP calls given up at playout (never arrived in time).",
        sip.jitter_lost,
    );
}

/// Open sockets listed one by one at most (the totals count every socket).
const MAX_LISTED_SOCKETS: usize = 1_000;
/// Longest `apps` label value; longer lists are cut (with `...`).
const MAX_APPS_LABEL: usize = 200;

/// One per-socket series: name, help and the count it shows.
type PerSocket = (&'static str, &'static str, fn(&SocketCounts) -> u64);

/// Events sent and dropped: totals since start-up, and per open ARI WebSocket.
fn render_sockets(out: &mut String, snapshot: &crate::events::meter::Snapshot) {
    gauge(
        out,
        "wari_event_sockets",
        "ARI WebSockets open now (inbound and outbound).",
        snapshot.open,
    );
    let totals = [
        (
            "wari_events_sent_total",
            "Events written to ARI WebSockets since start-up (open and closed sockets).",
            snapshot.sent_total,
        ),
        (
            "wari_events_dropped_total",
            "Events lost by ARI WebSockets since start-up: queue full, failed write, or still \
             queued when the socket closed.",
            snapshot.dropped_total,
        ),
    ];
    for (name, help, value) in totals {
        header(out, name, "counter", help);
        let _ = writeln!(out, "{name} {value}");
    }
    let series: [PerSocket; 2] = [
        (
            "wari_socket_events_sent_total",
            "Events written to one open ARI WebSocket.",
            |s| s.sent,
        ),
        (
            "wari_socket_events_dropped_total",
            "Events lost by one open ARI WebSocket.",
            |s| s.dropped,
        ),
    ];
    // Each socket's labels, built once for all its series.
    let labels: Vec<String> = snapshot
        .sockets
        .iter()
        .map(|socket| {
            format!(
                "socket=\"{}\",kind=\"{}\",apps=\"{}\"",
                socket.id,
                socket.kind.as_str(),
                label(&apps_label(&socket.apps))
            )
        })
        .collect();
    for (name, help, value) in series {
        header(out, name, "counter", help);
        for (socket, labels) in snapshot.sockets.iter().zip(&labels) {
            let _ = writeln!(out, "{name}{{{labels}}} {}", value(socket));
        }
    }
}

/// The `apps` label: the list, cut at [`MAX_APPS_LABEL`] bytes on a character boundary.
fn apps_label(apps: &str) -> String {
    if apps.len() <= MAX_APPS_LABEL {
        return apps.to_string();
    }
    let mut end = MAX_APPS_LABEL;
    while !apps.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &apps[..end])
}

/// Per WebAssembly app: live and started sessions, traps, timeouts and limit failures.
fn render_wasm(ari: &Ari, out: &mut String) {
    let apps = ari
        .wasm()
        .map(|host| host.list())
        .and_then(|list| list.as_array().cloned())
        .unwrap_or_default();
    let series: [(&str, &str, &str, &[&str]); 5] = [
        (
            "wari_wasm_sessions",
            "gauge",
            "WebAssembly sessions running now.",
            &["sessions_live"],
        ),
        (
            "wari_wasm_sessions_started_total",
            "counter",
            "WebAssembly sessions started.",
            &["sessions_started"],
        ),
        (
            "wari_wasm_traps_total",
            "counter",
            "WebAssembly sessions ended by a trap.",
            &["failures", "traps"],
        ),
        (
            "wari_wasm_timeouts_total",
            "counter",
            "WebAssembly sessions ended by a time limit.",
            &["failures", "timeouts"],
        ),
        (
            "wari_wasm_limit_failures_total",
            "counter",
            "WebAssembly sessions ended by a memory or queue limit.",
            &["failures", "limits"],
        ),
    ];
    for (name, kind, help, path) in series {
        header(out, name, kind, help);
        for app in &apps {
            let app_name = app.get("name").and_then(|n| n.as_str()).unwrap_or("");
            let value = path
                .iter()
                .try_fold(app, |v, key| v.get(*key))
                .and_then(|v| v.as_u64())
                .unwrap_or(0);
            let _ = writeln!(out, "{name}{{app=\"{}\"}} {value}", label(app_name));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_cumulative() {
        let metrics = RequestMetrics::default();
        metrics.observe(Duration::from_micros(100));
        metrics.observe(Duration::from_millis(3));
        metrics.observe(Duration::from_secs(60));
        let mut out = String::new();
        metrics.render(&mut out);
        assert!(out.contains("wari_http_request_duration_seconds_bucket{le=\"0.00025\"} 1\n"));
        assert!(out.contains("wari_http_request_duration_seconds_bucket{le=\"0.005\"} 2\n"));
        assert!(out.contains("wari_http_request_duration_seconds_bucket{le=\"5\"} 2\n"));
        assert!(out.contains("wari_http_request_duration_seconds_bucket{le=\"+Inf\"} 3\n"));
        assert!(out.contains("wari_http_request_duration_seconds_count 3\n"));
    }

    #[test]
    fn metrics_path_follows_the_prefix() {
        assert!(is_metrics_path("/metrics", ""));
        assert!(is_metrics_path("/Asterisk/metrics", "/asterisk"));
        assert!(!is_metrics_path("/metrics", "/asterisk"));
        assert!(!is_metrics_path("/metricsx", ""));
        assert!(!is_metrics_path("/ari/metrics", ""));
    }

    #[test]
    fn sockets_are_listed_with_their_apps_and_totals() {
        use crate::events::meter::{Snapshot, SocketKind};
        let snapshot = Snapshot {
            open: 1,
            sockets: vec![SocketCounts {
                id: 7,
                kind: SocketKind::Inbound,
                apps: "a,b".into(),
                sent: 3,
                dropped: 1,
            }],
            sent_total: 10,
            dropped_total: 4,
        };
        let mut out = String::new();
        render_sockets(&mut out, &snapshot);
        assert!(out.contains("wari_event_sockets 1\n"), "{out}");
        assert!(out.contains("wari_events_sent_total 10\n"), "{out}");
        assert!(out.contains("wari_events_dropped_total 4\n"), "{out}");
        assert!(out.contains(
            "wari_socket_events_sent_total{socket=\"7\",kind=\"inbound\",apps=\"a,b\"} 3\n"
        ));
        assert!(out.contains(
            "wari_socket_events_dropped_total{socket=\"7\",kind=\"inbound\",apps=\"a,b\"} 1\n"
        ));
        let long = "é".repeat(150);
        let cut = apps_label(&long);
        assert!(cut.len() <= MAX_APPS_LABEL + 3 && cut.ends_with("..."));
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
