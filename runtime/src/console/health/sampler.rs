//! Takes the health history's readings: one task per HTTP front door that, every http.conf
//! `console_health_step`, reads the counters `/metrics` shows (channels created, channels,
//! bridges, WebAssembly sessions, the HTTP latency histogram, events per ARI WebSocket,
//! late media ticks) and the process's resident memory, and records them in the
//! console's [`History`]. It holds the front door weakly and ends with it. Also answers
//! `GET {prefix}/console/api/health` with the history.

use std::sync::{Arc, Weak};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::response::Response;
use http::StatusCode;

use super::{History, HttpTotals, Reading, SocketReading};
use crate::http::front::Front;

/// Sockets read per reading (the history keeps the busiest of them).
const MAX_SOCKETS: usize = 1_000;

/// Starts the sampler of `front`'s console.
pub(crate) fn spawn(front: &Arc<Front>) {
    let step = front.http.console_health_step;
    *front.console.health() = History::new(step);
    let weak = Arc::downgrade(front);
    tokio::spawn(run(weak, step));
}

async fn run(front: Weak<Front>, step: Duration) {
    let mut timer = tokio::time::interval(step);
    timer.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        timer.tick().await;
        let Some(front) = front.upgrade() else {
            return;
        };
        let reading = read(&front);
        front.console.health().record(reading);
    }
}

/// What wari's counters say now.
fn read(front: &Front) -> Reading {
    let core = front.ari.core();
    let counts = core.counts();
    let wasm_sessions = front
        .ari
        .wasm()
        .map(|host| host.list())
        .and_then(|list| list.as_array().cloned())
        .unwrap_or_default()
        .iter()
        .filter_map(|app| app.get("sessions_live").and_then(|n| n.as_u64()))
        .sum();
    let (count, sum_micros, buckets) = front.metrics.totals();
    let sockets = crate::events::meter::snapshot(MAX_SOCKETS);
    let media_late_ticks = core.media().ok().map(|media| {
        media
            .engine
            .stats
            .late_ticks
            .load(std::sync::atomic::Ordering::Relaxed)
    });
    Reading {
        at_ms: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
        channels_created: core.channels_created(),
        channels: counts.channels as u64,
        bridges: counts.bridges as u64,
        wasm_sessions,
        http: HttpTotals {
            count,
            sum_micros,
            buckets,
        },
        events_sent: sockets.sent_total,
        events_dropped: sockets.dropped_total,
        sockets: sockets
            .sockets
            .iter()
            .map(|socket| SocketReading {
                id: socket.id,
                label: format!("{} {}: {}", socket.kind.as_str(), socket.id, socket.apps),
                sent: socket.sent,
                dropped: socket.dropped,
            })
            .collect(),
        media_late_ticks,
        memory_bytes: resident_bytes(),
    }
}

/// The process's resident memory (`VmRSS` of `/proc/self/status`), where there is one.
fn resident_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line
        .trim_start_matches("VmRSS:")
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kib * 1024)
}

/// `GET /api/health`: the history as JSON.
pub(crate) fn answer(front: &Front) -> Response {
    let body = front.console.health().json();
    crate::console::json(StatusCode::OK, &body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resident_memory_is_read_where_proc_is() {
        if std::path::Path::new("/proc/self/status").exists() {
            assert!(resident_bytes().is_some_and(|b| b > 0));
        }
    }
}
