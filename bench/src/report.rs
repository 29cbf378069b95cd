//! Results: markdown tables for people, JSON for tools.

use serde_json::{Value, json};

use crate::client_wait::ClientWait;
use crate::stats::{Summary, human};

/// One measurement.
#[derive(Debug, Clone)]
pub enum Report {
    Originate(OriginateReport),
    Rest(RestReport),
    Memory(MemoryReport),
    WsRest(WsRestReport),
    Fanout(FanoutReport),
    Info(InfoReport),
    Hangup(HangupReport),
    Wasm(WasmReport),
    Echo(EchoReport),
}

/// `loopback-echo`: one-byte round trips between two threads over loopback TCP.
#[derive(Debug, Clone)]
pub struct EchoReport {
    /// How the sending thread waited for each byte to come back.
    pub client_wait: ClientWait,
    pub requested: usize,
    pub round_trips: usize,
    pub seconds: f64,
    /// Round trips per second.
    pub rate: f64,
    pub latency: Summary,
}

/// `rest-info`: `GET /asterisk/info` under load.
#[derive(Debug, Clone)]
pub struct InfoReport {
    pub connections: usize,
    pub requests: usize,
    pub seconds: f64,
    /// Requests per second.
    pub rate: f64,
    pub latency: Summary,
}

/// `hangup`: `DELETE /channels/{id}` for channels up in the bench's application.
#[derive(Debug, Clone)]
pub struct HangupReport {
    pub connections: usize,
    /// Channels up before the hang-ups.
    pub channels: usize,
    /// DELETE requests answered 204.
    pub deleted: usize,
    /// From the first DELETE to the last response.
    pub seconds: f64,
    /// DELETEs per second.
    pub rate: f64,
    /// DELETE request to response.
    pub response: Summary,
    /// DELETE request to the channel's StasisEnd.
    pub latency: Summary,
}

/// `wasm-start` and `wasm-event`: a WebAssembly app seen from outside.
#[derive(Debug, Clone)]
pub struct WasmReport {
    /// `wasm-start` or `wasm-event`.
    pub scenario: String,
    /// The application name the component was uploaded as.
    pub app: String,
    pub component_bytes: usize,
    pub requested: usize,
    /// Calls measured.
    pub calls: usize,
    pub seconds: f64,
    /// What was timed, in words.
    pub measures: String,
    pub latency: Summary,
}

/// `rest-over-ws`: RESTRequest round trips over one events WebSocket.
#[derive(Debug, Clone)]
pub struct WsRestReport {
    /// Requests sent before waiting for the oldest response.
    pub in_flight: usize,
    pub requests: usize,
    pub seconds: f64,
    /// Requests per second.
    pub rate: f64,
    pub latency: Summary,
}

/// `events-fanout`: events delivered to subscribeAll WebSockets.
#[derive(Debug, Clone)]
pub struct FanoutReport {
    pub sockets: usize,
    /// Variable sets (one event each, for every socket).
    pub requests: usize,
    /// Events read by all sockets together.
    pub events: usize,
    pub seconds: f64,
    /// Events per second, all sockets together.
    pub rate: f64,
}

#[derive(Debug, Clone)]
pub struct OriginateReport {
    /// `app` or `dialplan`.
    pub destination: String,
    pub endpoint: String,
    pub connections: usize,
    /// How the bench waited for each answer.
    pub client_wait: ClientWait,
    pub requested: usize,
    pub channels: usize,
    /// Time spent originating (hang-ups between rounds excluded).
    pub seconds: f64,
    /// Channels per second.
    pub rate: f64,
    /// Originate request to StasisStart.
    pub latency: Summary,
}

#[derive(Debug, Clone)]
pub struct RestReport {
    /// Channels `GET /channels` listed.
    pub channels: usize,
    pub connections: usize,
    pub requests: usize,
    pub seconds: f64,
    /// Requests per second.
    pub rate: f64,
    /// Size of one response body.
    pub body_bytes: usize,
    pub latency: Summary,
}

#[derive(Debug, Clone)]
pub struct MemoryReport {
    pub channels: usize,
    pub connections: usize,
    pub rss_before: u64,
    pub rss_up: u64,
    /// After the channels were hung up again.
    pub rss_after: u64,
    pub bytes_per_channel: f64,
    pub bring_up_seconds: f64,
}

impl Report {
    /// The report as JSON (durations in microseconds, memory in bytes).
    pub fn json(&self) -> Value {
        match self {
            Report::Originate(r) => json!({
                "scenario": "originate",
                "destination": r.destination,
                "endpoint": r.endpoint,
                "connections": r.connections,
                "client_wait": r.client_wait.as_str(),
                "requested": r.requested,
                "channels": r.channels,
                "seconds": r.seconds,
                "channels_per_second": r.rate,
                "latency": r.latency.json(),
            }),
            Report::Rest(r) => json!({
                "scenario": format!("rest-channels-{}", r.channels),
                "channels": r.channels,
                "connections": r.connections,
                "requests": r.requests,
                "seconds": r.seconds,
                "requests_per_second": r.rate,
                "body_bytes": r.body_bytes,
                "latency": r.latency.json(),
            }),
            Report::Memory(r) => json!({
                "scenario": format!("memory-{}", r.channels),
                "channels": r.channels,
                "connections": r.connections,
                "rss_before": r.rss_before,
                "rss_up": r.rss_up,
                "rss_after_hangup": r.rss_after,
                "bytes_per_channel": r.bytes_per_channel,
                "bring_up_seconds": r.bring_up_seconds,
            }),
            Report::WsRest(r) => json!({
                "scenario": "rest-over-ws",
                "in_flight": r.in_flight,
                "requests": r.requests,
                "seconds": r.seconds,
                "requests_per_second": r.rate,
                "latency": r.latency.json(),
            }),
            Report::Fanout(r) => json!({
                "scenario": "events-fanout",
                "sockets": r.sockets,
                "requests": r.requests,
                "events": r.events,
                "seconds": r.seconds,
                "events_per_second": r.rate,
            }),
            Report::Info(r) => json!({
                "scenario": "rest-info",
                "connections": r.connections,
                "requests": r.requests,
                "seconds": r.seconds,
                "requests_per_second": r.rate,
                "latency": r.latency.json(),
            }),
            Report::Hangup(r) => json!({
                "scenario": "hangup",
                "connections": r.connections,
                "channels": r.channels,
                "deleted": r.deleted,
                "seconds": r.seconds,
                "deletes_per_second": r.rate,
                "response": r.response.json(),
                "latency": r.latency.json(),
            }),
            Report::Echo(r) => json!({
                "scenario": "loopback-echo",
                "client_wait": r.client_wait.as_str(),
                "requested": r.requested,
                "round_trips": r.round_trips,
                "seconds": r.seconds,
                "round_trips_per_second": r.rate,
                "latency": r.latency.json(),
            }),
            Report::Wasm(r) => json!({
                "scenario": r.scenario,
                "app": r.app,
                "component_bytes": r.component_bytes,
                "requested": r.requested,
                "calls": r.calls,
                "seconds": r.seconds,
                "measures": r.measures,
                "latency": r.latency.json(),
            }),
        }
    }
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

/// `done`, followed by " of `requested` (time limit)" when the time limit cut the run short.
fn of_requested(done: usize, requested: usize) -> String {
    if done < requested {
        format!("{done} of {requested} (time limit)")
    } else {
        done.to_string()
    }
}

/// The p50, p99 and max columns of a latency summary.
fn p50_p99_max(latency: &Summary) -> String {
    format!(
        "{} | {} | {}",
        human(latency.p50),
        human(latency.p99),
        human(latency.max)
    )
}

/// Appends a markdown table with `header`'s columns and one line per row, or nothing when
/// there are no rows.
fn table(out: &mut String, header: &[&str], rows: impl Iterator<Item = Vec<String>>) {
    let rows: Vec<_> = rows.collect();
    if rows.is_empty() {
        return;
    }
    out.push_str(&format!("| {} |\n", header.join(" | ")));
    out.push_str(&"|---".repeat(header.len()));
    out.push_str("|\n");
    for row in rows {
        out.push_str(&format!("| {} |\n", row.join(" | ")));
    }
    out.push('\n');
}

/// Markdown tables, one per kind of scenario present.
pub fn markdown(reports: &[Report]) -> String {
    let mut out = String::new();
    table(
        &mut out,
        &[
            "originate",
            "connections",
            "bench waits",
            "channels",
            "channels/s",
            "p50",
            "p99",
            "max",
        ],
        reports.iter().filter_map(|r| match r {
            Report::Originate(r) => Some(vec![
                format!("{} → {}", r.endpoint, r.destination),
                r.connections.to_string(),
                r.client_wait.to_string(),
                of_requested(r.channels, r.requested),
                format!("{:.0}", r.rate),
                p50_p99_max(&r.latency),
            ]),
            _ => None,
        }),
    );
    table(
        &mut out,
        &[
            "GET /channels",
            "connections",
            "requests",
            "requests/s",
            "body",
            "p50",
            "p99",
            "max",
        ],
        reports.iter().filter_map(|r| match r {
            Report::Rest(r) => Some(vec![
                format!("{} channels up", r.channels),
                r.connections.to_string(),
                r.requests.to_string(),
                format!("{:.0}", r.rate),
                format!("{} B", r.body_bytes),
                p50_p99_max(&r.latency),
            ]),
            _ => None,
        }),
    );
    table(
        &mut out,
        &[
            "memory",
            "RSS before",
            "RSS with channels up",
            "RSS after hang-up",
            "per channel",
        ],
        reports.iter().filter_map(|r| match r {
            Report::Memory(r) => Some(vec![
                format!("{} channels in Stasis", r.channels),
                mib(r.rss_before),
                mib(r.rss_up),
                mib(r.rss_after),
                format!("{:.0} B", r.bytes_per_channel),
            ]),
            _ => None,
        }),
    );
    table(
        &mut out,
        &[
            "RESTRequest over WebSocket",
            "in flight",
            "requests",
            "requests/s",
            "p50",
            "p99",
            "max",
        ],
        reports.iter().filter_map(|r| match r {
            Report::WsRest(r) => Some(vec![
                "GET asterisk/ping".into(),
                r.in_flight.to_string(),
                r.requests.to_string(),
                format!("{:.0}", r.rate),
                p50_p99_max(&r.latency),
            ]),
            _ => None,
        }),
    );
    table(
        &mut out,
        &[
            "events fan-out",
            "sockets",
            "variable sets",
            "events delivered",
            "seconds",
            "events/s (all sockets)",
        ],
        reports.iter().filter_map(|r| match r {
            Report::Fanout(r) => Some(vec![
                "ChannelVarset to subscribeAll sockets".into(),
                r.sockets.to_string(),
                r.requests.to_string(),
                r.events.to_string(),
                format!("{:.2}", r.seconds),
                format!("{:.0}", r.rate),
            ]),
            _ => None,
        }),
    );
    table(
        &mut out,
        &[
            "GET /asterisk/info",
            "connections",
            "requests",
            "requests/s",
            "p50",
            "p99",
            "max",
        ],
        reports.iter().filter_map(|r| match r {
            Report::Info(r) => Some(vec![
                "rest-info".into(),
                r.connections.to_string(),
                r.requests.to_string(),
                format!("{:.0}", r.rate),
                p50_p99_max(&r.latency),
            ]),
            _ => None,
        }),
    );
    table(
        &mut out,
        &[
            "hangup",
            "connections",
            "channels",
            "DELETE/s",
            "DELETE p50",
            "→ StasisEnd p50",
            "p99",
            "max",
        ],
        reports.iter().filter_map(|r| match r {
            Report::Hangup(r) => Some(vec![
                "DELETE /channels/{id}".into(),
                r.connections.to_string(),
                format!("{} of {}", r.deleted, r.channels),
                format!("{:.0}", r.rate),
                human(r.response.p50),
                p50_p99_max(&r.latency),
            ]),
            _ => None,
        }),
    );
    table(
        &mut out,
        &[
            "loopback echo",
            "round trips",
            "per second",
            "p50",
            "p99",
            "max",
        ],
        reports.iter().filter_map(|r| match r {
            Report::Echo(r) => Some(vec![
                match r.client_wait {
                    ClientWait::Block => "1 byte over TCP, both sides blocking".into(),
                    ClientWait::Poll => "1 byte over TCP, sender polling, echo blocking".into(),
                },
                of_requested(r.round_trips, r.requested),
                format!("{:.0}", r.rate),
                p50_p99_max(&r.latency),
            ]),
            _ => None,
        }),
    );
    table(
        &mut out,
        &["WebAssembly", "measures", "calls", "p50", "p99", "max"],
        reports.iter().filter_map(|r| match r {
            Report::Wasm(r) => Some(vec![
                r.scenario.clone(),
                r.measures.clone(),
                of_requested(r.calls, r.requested),
                p50_p99_max(&r.latency),
            ]),
            _ => None,
        }),
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_and_json() {
        let reports = vec![
            Report::Originate(OriginateReport {
                destination: "app".into(),
                endpoint: "Test/bench".into(),
                connections: 1,
                client_wait: ClientWait::Block,
                requested: 10,
                channels: 10,
                seconds: 0.5,
                rate: 20.0,
                latency: Summary::default(),
            }),
            Report::Memory(MemoryReport {
                channels: 10,
                connections: 1,
                rss_before: 1 << 20,
                rss_up: 2 << 20,
                rss_after: 1 << 20,
                bytes_per_channel: 104_857.6,
                bring_up_seconds: 0.1,
            }),
        ];
        let text = markdown(&reports);
        assert!(
            text.contains("| Test/bench → app | 1 | blocking | 10 | 20 |"),
            "{text}"
        );
        assert!(
            text.contains("| 10 channels in Stasis | 1.0 MiB | 2.0 MiB | 1.0 MiB | 104858 B |"),
            "{text}"
        );
        assert!(!text.contains("GET /channels"));
        assert_eq!(reports[1].json()["scenario"], "memory-10");
    }
}
