//! Results: markdown tables for people, JSON for tools.

use serde_json::{Value, json};

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

/// Markdown tables, one per kind of scenario present.
pub fn markdown(reports: &[Report]) -> String {
    let mut out = String::new();
    let originate: Vec<_> = reports
        .iter()
        .filter_map(|r| match r {
            Report::Originate(r) => Some(r),
            _ => None,
        })
        .collect();
    if !originate.is_empty() {
        out.push_str("| originate | connections | channels | channels/s | p50 | p99 | max |\n");
        out.push_str("|---|---|---|---|---|---|---|\n");
        for r in originate {
            out.push_str(&format!(
                "| {} → {} | {} | {}{} | {:.0} | {} | {} | {} |\n",
                r.endpoint,
                r.destination,
                r.connections,
                r.channels,
                if r.channels < r.requested {
                    format!(" of {} (time limit)", r.requested)
                } else {
                    String::new()
                },
                r.rate,
                human(r.latency.p50),
                human(r.latency.p99),
                human(r.latency.max),
            ));
        }
        out.push('\n');
    }
    let rest: Vec<_> = reports
        .iter()
        .filter_map(|r| match r {
            Report::Rest(r) => Some(r),
            _ => None,
        })
        .collect();
    if !rest.is_empty() {
        out.push_str(
            "| GET /channels | connections | requests | requests/s | body | p50 | p99 | max |\n",
        );
        out.push_str("|---|---|---|---|---|---|---|---|\n");
        for r in rest {
            out.push_str(&format!(
                "| {} channels up | {} | {} | {:.0} | {} B | {} | {} | {} |\n",
                r.channels,
                r.connections,
                r.requests,
                r.rate,
                r.body_bytes,
                human(r.latency.p50),
                human(r.latency.p99),
                human(r.latency.max),
            ));
        }
        out.push('\n');
    }
    let memory: Vec<_> = reports
        .iter()
        .filter_map(|r| match r {
            Report::Memory(r) => Some(r),
            _ => None,
        })
        .collect();
    if !memory.is_empty() {
        out.push_str(
            "| memory | RSS before | RSS with channels up | RSS after hang-up | per channel |\n",
        );
        out.push_str("|---|---|---|---|---|\n");
        for r in memory {
            out.push_str(&format!(
                "| {} channels in Stasis | {} | {} | {} | {:.0} B |\n",
                r.channels,
                mib(r.rss_before),
                mib(r.rss_up),
                mib(r.rss_after),
                r.bytes_per_channel,
            ));
        }
        out.push('\n');
    }
    let ws_rest: Vec<_> = reports
        .iter()
        .filter_map(|r| match r {
            Report::WsRest(r) => Some(r),
            _ => None,
        })
        .collect();
    if !ws_rest.is_empty() {
        out.push_str("| RESTRequest over WebSocket | in flight | requests | requests/s | p50 | p99 | max |\n");
        out.push_str("|---|---|---|---|---|---|---|\n");
        for r in ws_rest {
            out.push_str(&format!(
                "| GET asterisk/ping | {} | {} | {:.0} | {} | {} | {} |\n",
                r.in_flight,
                r.requests,
                r.rate,
                human(r.latency.p50),
                human(r.latency.p99),
                human(r.latency.max),
            ));
        }
        out.push('\n');
    }
    let fanout: Vec<_> = reports
        .iter()
        .filter_map(|r| match r {
            Report::Fanout(r) => Some(r),
            _ => None,
        })
        .collect();
    if !fanout.is_empty() {
        out.push_str("| events fan-out | sockets | variable sets | events delivered | seconds | events/s (all sockets) |\n");
        out.push_str("|---|---|---|---|---|---|\n");
        for r in fanout {
            out.push_str(&format!(
                "| ChannelVarset to subscribeAll sockets | {} | {} | {} | {:.2} | {:.0} |\n",
                r.sockets, r.requests, r.events, r.seconds, r.rate,
            ));
        }
        out.push('\n');
    }
    let info: Vec<_> = reports
        .iter()
        .filter_map(|r| match r {
            Report::Info(r) => Some(r),
            _ => None,
        })
        .collect();
    if !info.is_empty() {
        out.push_str(
            "| GET /asterisk/info | connections | requests | requests/s | p50 | p99 | max |\n",
        );
        out.push_str("|---|---|---|---|---|---|---|\n");
        for r in info {
            out.push_str(&format!(
                "| rest-info | {} | {} | {:.0} | {} | {} | {} |\n",
                r.connections,
                r.requests,
                r.rate,
                human(r.latency.p50),
                human(r.latency.p99),
                human(r.latency.max),
            ));
        }
        out.push('\n');
    }
    let hangup: Vec<_> = reports
        .iter()
        .filter_map(|r| match r {
            Report::Hangup(r) => Some(r),
            _ => None,
        })
        .collect();
    if !hangup.is_empty() {
        out.push_str("| hangup | connections | channels | DELETE/s | DELETE p50 | → StasisEnd p50 | p99 | max |\n");
        out.push_str("|---|---|---|---|---|---|---|---|\n");
        for r in hangup {
            out.push_str(&format!(
                "| DELETE /channels/{{id}} | {} | {} of {} | {:.0} | {} | {} | {} | {} |\n",
                r.connections,
                r.deleted,
                r.channels,
                r.rate,
                human(r.response.p50),
                human(r.latency.p50),
                human(r.latency.p99),
                human(r.latency.max),
            ));
        }
        out.push('\n');
    }
    let wasm: Vec<_> = reports
        .iter()
        .filter_map(|r| match r {
            Report::Wasm(r) => Some(r),
            _ => None,
        })
        .collect();
    if !wasm.is_empty() {
        out.push_str("| WebAssembly | measures | calls | p50 | p99 | max |\n");
        out.push_str("|---|---|---|---|---|---|\n");
        for r in wasm {
            out.push_str(&format!(
                "| {} | {} | {}{} | {} | {} | {} |\n",
                r.scenario,
                r.measures,
                r.calls,
                if r.calls < r.requested {
                    format!(" of {} (time limit)", r.requested)
                } else {
                    String::new()
                },
                human(r.latency.p50),
                human(r.latency.p99),
                human(r.latency.max),
            ));
        }
        out.push('\n');
    }
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
            text.contains("| Test/bench → app | 1 | 10 | 20 |"),
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
