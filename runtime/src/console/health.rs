//! The console's health history: the last [`POINTS`] readings of wari's own counters,
//! one per step (http.conf `console_health_step`, 10 s by default: the last hour), turned
//! into the series the Health view charts (`GET {prefix}/console/api/health`).
//!
//! This module is sans-IO: a [`Reading`] (what the counters said, and when) goes in, the
//! ring keeps [`Point`]s made from the difference with the previous reading (rates from
//! counters, gauges as read), and [`History::json`] renders them. Taking the readings on
//! a timer is [`sampler`]'s job; nothing on a call's path touches either.

pub(crate) mod sampler;

use std::collections::{BTreeMap, VecDeque};

use serde_json::{Value, json};

/// Points kept: an hour at the default 10 s step.
pub(crate) const POINTS: usize = 360;
/// Event sockets charted one by one: the busiest over the window.
pub(crate) const TOP_SOCKETS: usize = 5;
/// Sockets remembered per point (the busiest of that step).
const SOCKETS_PER_POINT: usize = 16;

/// What wari's counters said at one moment.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Reading {
    /// Wall-clock time of the reading, in ms since the Unix epoch.
    pub at_ms: u64,
    /// Channels created since start-up (a counter).
    pub channels_created: u64,
    /// Channels that exist now.
    pub channels: u64,
    /// Bridges that exist now.
    pub bridges: u64,
    /// WebAssembly sessions running now.
    pub wasm_sessions: u64,
    /// HTTP requests answered since start-up and their latency histogram.
    pub http: HttpTotals,
    /// Events written and lost by every ARI WebSocket since start-up.
    pub events_sent: u64,
    pub events_dropped: u64,
    /// Each open ARI WebSocket's counts.
    pub sockets: Vec<SocketReading>,
    /// Media engine ticks that were late since start-up (`None`: no media engine).
    pub media_late_ticks: Option<u64>,
    /// The process's resident memory in bytes (`None`: unknown).
    pub memory_bytes: Option<u64>,
}

/// HTTP request timings since start-up: count, total time, and requests per latency
/// bucket (not cumulative) with the buckets' upper bounds.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct HttpTotals {
    pub count: u64,
    pub sum_micros: u64,
    /// `(upper bound in µs, requests in this bucket)`, in increasing order.
    pub buckets: Vec<(u64, u64)>,
}

/// One open ARI WebSocket's counts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct SocketReading {
    pub id: u64,
    /// What the chart calls it: its kind and applications.
    pub label: String,
    pub sent: u64,
    pub dropped: u64,
}

/// One step of the history.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Point {
    pub at_ms: u64,
    pub calls_per_second: f64,
    pub channels: u64,
    pub bridges: u64,
    pub wasm_sessions: u64,
    pub http_per_second: f64,
    /// Mean latency of the step's requests (`None`: no request).
    pub http_mean_ms: Option<f64>,
    /// The bucket bound under which 95% of the step's requests finished.
    pub http_p95_ms: Option<f64>,
    pub events_sent_per_second: f64,
    /// Events lost during the step.
    pub events_dropped: u64,
    /// Media ticks late during the step.
    pub media_late_ticks: Option<u64>,
    pub memory_bytes: Option<u64>,
    /// The step's busiest sockets: `(id, events sent, events lost)` during the step.
    sockets: Vec<(u64, u64, u64)>,
}

/// The ring of points and the reading the next point is measured from.
#[derive(Debug)]
pub(crate) struct History {
    step_ms: u64,
    points: VecDeque<Point>,
    last: Option<Reading>,
    /// The labels of the sockets some point names.
    labels: BTreeMap<u64, String>,
}

impl History {
    /// An empty history taking a point every `step`.
    pub(crate) fn new(step: std::time::Duration) -> History {
        History {
            step_ms: u64::try_from(step.as_millis()).unwrap_or(u64::MAX).max(1),
            points: VecDeque::with_capacity(POINTS),
            last: None,
            labels: BTreeMap::new(),
        }
    }

    /// Takes a reading: from the second one on, each makes a point (the oldest goes once
    /// [`POINTS`] are kept).
    pub(crate) fn record(&mut self, reading: Reading) {
        if let Some(last) = self.last.take() {
            let point = point(&last, &reading);
            for (id, _, _) in &point.sockets {
                if let Some(socket) = reading.sockets.iter().find(|s| s.id == *id) {
                    self.labels.insert(*id, socket.label.clone());
                }
            }
            if self.points.len() == POINTS {
                self.points.pop_front();
            }
            self.points.push_back(point);
            let named: std::collections::BTreeSet<u64> = self
                .points
                .iter()
                .flat_map(|p| p.sockets.iter().map(|s| s.0))
                .collect();
            self.labels.retain(|id, _| named.contains(id));
        }
        self.last = Some(reading);
    }

    /// The points kept, oldest first.
    #[cfg(test)]
    pub(crate) fn points(&self) -> impl Iterator<Item = &Point> {
        self.points.iter()
    }

    /// The history as the Health view reads it: the step, the points' times, one array
    /// per series (aligned with `t`), and the [`TOP_SOCKETS`] busiest sockets' series.
    pub(crate) fn json(&self) -> Value {
        let column = |f: &dyn Fn(&Point) -> Value| -> Value {
            Value::Array(self.points.iter().map(f).collect())
        };
        let mut totals: BTreeMap<u64, u64> = BTreeMap::new();
        for point in &self.points {
            for (id, sent, dropped) in &point.sockets {
                *totals.entry(*id).or_default() += sent + dropped;
            }
        }
        let mut busiest: Vec<(u64, u64)> = totals.into_iter().collect();
        busiest.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        busiest.truncate(TOP_SOCKETS);
        let step_s = self.step_ms as f64 / 1000.0;
        let sockets: Vec<Value> = busiest
            .iter()
            .map(|(id, _)| {
                let of = |p: &Point| p.sockets.iter().find(|s| s.0 == *id).copied();
                json!({
                    "id": id,
                    "label": self.labels.get(id).cloned().unwrap_or_default(),
                    "sent_per_second": column(&|p| json!(round(of(p).map_or(0, |s| s.1) as f64 / step_s))),
                    "dropped": column(&|p| json!(of(p).map_or(0, |s| s.2))),
                })
            })
            .collect();
        json!({
            "step_ms": self.step_ms,
            "capacity": POINTS,
            "t": column(&|p| json!(p.at_ms)),
            "series": {
                "calls_per_second": column(&|p| json!(round(p.calls_per_second))),
                "channels": column(&|p| json!(p.channels)),
                "bridges": column(&|p| json!(p.bridges)),
                "wasm_sessions": column(&|p| json!(p.wasm_sessions)),
                "http_per_second": column(&|p| json!(round(p.http_per_second))),
                "http_mean_ms": column(&|p| json!(p.http_mean_ms.map(round))),
                "http_p95_ms": column(&|p| json!(p.http_p95_ms)),
                "events_sent_per_second": column(&|p| json!(round(p.events_sent_per_second))),
                "events_dropped": column(&|p| json!(p.events_dropped)),
                "media_late_ticks": column(&|p| json!(p.media_late_ticks)),
                "memory_bytes": column(&|p| json!(p.memory_bytes)),
            },
            "sockets": sockets,
        })
    }
}

/// A value rounded to 3 decimals (the JSON stays short).
fn round(value: f64) -> f64 {
    (value * 1000.0).round() / 1000.0
}

/// The point between two readings.
fn point(last: &Reading, now: &Reading) -> Point {
    let seconds = (now.at_ms.saturating_sub(last.at_ms) as f64 / 1000.0).max(0.001);
    let rate = |before: u64, after: u64| after.saturating_sub(before) as f64 / seconds;
    let requests = now.http.count.saturating_sub(last.http.count);
    let http_mean_ms = (requests > 0).then(|| {
        now.http.sum_micros.saturating_sub(last.http.sum_micros) as f64 / requests as f64 / 1000.0
    });
    let mut sockets: Vec<(u64, u64, u64)> = now
        .sockets
        .iter()
        .map(|socket| {
            let before = last.sockets.iter().find(|s| s.id == socket.id);
            let sent = socket.sent - before.map_or(0, |b| b.sent.min(socket.sent));
            let dropped = socket.dropped - before.map_or(0, |b| b.dropped.min(socket.dropped));
            (socket.id, sent, dropped)
        })
        .filter(|(_, sent, dropped)| sent + dropped > 0)
        .collect();
    sockets.sort_by(|a, b| (b.1 + b.2).cmp(&(a.1 + a.2)).then(a.0.cmp(&b.0)));
    sockets.truncate(SOCKETS_PER_POINT);
    Point {
        at_ms: now.at_ms,
        calls_per_second: rate(last.channels_created, now.channels_created),
        channels: now.channels,
        bridges: now.bridges,
        wasm_sessions: now.wasm_sessions,
        http_per_second: rate(last.http.count, now.http.count),
        http_mean_ms,
        http_p95_ms: p95_ms(&last.http, &now.http, requests),
        events_sent_per_second: rate(last.events_sent, now.events_sent),
        events_dropped: now.events_dropped.saturating_sub(last.events_dropped),
        media_late_ticks: now
            .media_late_ticks
            .map(|late| late.saturating_sub(last.media_late_ticks.unwrap_or(0))),
        memory_bytes: now.memory_bytes,
        sockets,
    }
}

/// The upper bound, in ms, of the bucket holding the step's 95th percentile request (the
/// last bound when it is beyond them all); `None` without requests.
fn p95_ms(last: &HttpTotals, now: &HttpTotals, requests: u64) -> Option<f64> {
    if requests == 0 {
        return None;
    }
    let wanted = requests.saturating_mul(95).div_ceil(100);
    let mut seen = 0;
    for (i, (bound, count)) in now.buckets.iter().enumerate() {
        let before = last.buckets.get(i).map_or(0, |b| b.1);
        seen += count.saturating_sub(before);
        if seen >= wanted {
            return Some(*bound as f64 / 1000.0);
        }
    }
    now.buckets.last().map(|(bound, _)| *bound as f64 / 1000.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn reading(at_s: u64, created: u64) -> Reading {
        Reading {
            at_ms: at_s * 1000,
            channels_created: created,
            channels: created % 7,
            memory_bytes: Some(1 << 20),
            ..Reading::default()
        }
    }

    #[test]
    fn rates_come_from_the_difference_of_counters() {
        let mut history = History::new(Duration::from_secs(10));
        history.record(reading(0, 100));
        assert_eq!(history.points().count(), 0, "one reading is no rate yet");
        history.record(reading(10, 150));
        let point = history.points().next().expect("a point");
        assert_eq!(point.calls_per_second, 5.0);
        assert_eq!(point.channels, 150 % 7);
        assert_eq!(point.memory_bytes, Some(1 << 20));
        assert_eq!(point.http_mean_ms, None, "no request in the step");
        let json = history.json();
        assert_eq!(json["series"]["calls_per_second"], json!([5.0]));
        assert_eq!(json["t"], json!([10_000]));
        assert_eq!(json["step_ms"], json!(10_000));
    }

    #[test]
    fn the_ring_keeps_the_last_hour() {
        let mut history = History::new(Duration::from_secs(10));
        // Two hours of readings, one call every 10 s.
        for i in 0..=720 {
            history.record(reading(i * 10, i));
        }
        assert_eq!(history.points().count(), POINTS);
        let first = history.points().next().expect("oldest").at_ms;
        let last = history.points().last().expect("newest").at_ms;
        assert_eq!(last, 7_200_000);
        assert_eq!(last - first, 3_600_000 - 10_000, "an hour of points");
        assert!(
            history
                .points()
                .all(|p| (p.calls_per_second - 0.1).abs() < 1e-9)
        );
        assert_eq!(history.json()["t"].as_array().map(Vec::len), Some(POINTS));
    }

    #[test]
    fn http_latency_per_step_from_the_histogram() {
        let bounds = [1_000, 10_000, 100_000];
        let http = |count, sum_micros, counts: [u64; 3]| HttpTotals {
            count,
            sum_micros,
            buckets: bounds.iter().copied().zip(counts).collect(),
        };
        let mut history = History::new(Duration::from_secs(1));
        history.record(Reading {
            http: http(5, 5_000, [5, 0, 0]),
            ..reading(0, 0)
        });
        // 20 requests in the step: 18 under 1 ms, 2 under 100 ms; 40 ms in all.
        history.record(Reading {
            http: http(25, 45_000, [23, 0, 2]),
            ..reading(2, 0)
        });
        let point = history.points().next().expect("a point");
        assert_eq!(point.http_per_second, 10.0);
        assert_eq!(point.http_mean_ms, Some(2.0));
        assert_eq!(
            point.http_p95_ms,
            Some(100.0),
            "19 of 20 need the 100 ms bucket"
        );
        history.record(Reading {
            http: http(45, 45_000 + 20_000, [43, 0, 2]),
            ..reading(3, 0)
        });
        assert_eq!(
            history.points().last().and_then(|p| p.http_p95_ms),
            Some(1.0)
        );
    }

    #[test]
    fn the_busiest_sockets_are_charted_with_their_labels() {
        let sockets = |counts: &[(u64, u64, u64)]| -> Vec<SocketReading> {
            counts
                .iter()
                .map(|(id, sent, dropped)| SocketReading {
                    id: *id,
                    label: format!("inbound: app{id}"),
                    sent: *sent,
                    dropped: *dropped,
                })
                .collect()
        };
        let mut history = History::new(Duration::from_secs(1));
        let quiet: Vec<(u64, u64, u64)> = (10..20).map(|id| (id, 0, 0)).collect();
        let mut first = quiet.clone();
        first.push((1, 0, 0));
        history.record(Reading {
            sockets: sockets(&first),
            events_sent: 0,
            ..reading(0, 0)
        });
        let mut second = quiet.clone();
        second.push((1, 30, 2));
        second.push((2, 4, 0));
        history.record(Reading {
            sockets: sockets(&second),
            events_sent: 34,
            events_dropped: 2,
            ..reading(1, 0)
        });
        let json = history.json();
        let charted = json["sockets"].as_array().expect("sockets");
        assert_eq!(charted.len(), 2, "quiet sockets are not charted: {json}");
        assert_eq!(charted[0]["id"], json!(1));
        assert_eq!(charted[0]["label"], json!("inbound: app1"));
        assert_eq!(charted[0]["sent_per_second"], json!([30.0]));
        assert_eq!(charted[0]["dropped"], json!([2]));
        assert_eq!(json["series"]["events_sent_per_second"], json!([34.0]));
        assert_eq!(json["series"]["events_dropped"], json!([2]));
    }
}
