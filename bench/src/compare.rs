//! `--compare FILE`: this run's results beside an earlier run's JSON, as ratios (now ÷
//! before) of each report's headline figures. Reports are matched by scenario and by
//! their size parameters (connections, requests in flight, sockets, channels).

use serde_json::Value;

/// The figures compared, as JSON pointers into a report, with whether higher is better.
const FIGURES: [(&str, bool); 7] = [
    ("/channels_per_second", true),
    ("/requests_per_second", true),
    ("/events_per_second", true),
    ("/deletes_per_second", true),
    ("/bytes_per_channel", false),
    ("/latency/p50_us", false),
    ("/latency/p99_us", false),
];

/// What identifies a report across runs. A polling bench's rows are their own; blocking
/// is the default and not named, so files written before `client_wait` existed still match.
fn key(report: &Value) -> String {
    let mut key = report["scenario"].as_str().unwrap_or("?").to_string();
    for field in ["destination", "connections", "in_flight", "sockets"] {
        match &report[field] {
            Value::Null => {}
            Value::String(s) => key.push_str(&format!(" {field}={s}")),
            other => key.push_str(&format!(" {field}={other}")),
        }
    }
    if report["client_wait"] == "polling" {
        key.push_str(" polling");
    }
    key
}

/// A markdown table of ratios for every report of `now` that `before` (a `--json` file's
/// contents) also has; reports without a counterpart are listed as new.
pub fn compare(before: &Value, now: &[Value]) -> String {
    let earlier = before["reports"].as_array().cloned().unwrap_or_default();
    let mut out = String::from(
        "| report | figure | before | now | now ÷ before | |\n|---|---|---|---|---|---|\n",
    );
    for report in now {
        let key = key(report);
        let Some(old) = earlier.iter().find(|r| self::key(r) == key) else {
            out.push_str(&format!("| {key} | (not in the earlier run) | | | | |\n"));
            continue;
        };
        for (pointer, higher_is_better) in FIGURES {
            let (Some(a), Some(b)) = (
                old.pointer(pointer).and_then(Value::as_f64),
                report.pointer(pointer).and_then(Value::as_f64),
            ) else {
                continue;
            };
            let ratio = if a == 0.0 { f64::NAN } else { b / a };
            let verdict = if !ratio.is_finite() || (0.95..=1.05).contains(&ratio) {
                "≈"
            } else if (ratio > 1.0) == higher_is_better {
                "better"
            } else {
                "worse"
            };
            out.push_str(&format!(
                "| {key} | {} | {a:.1} | {b:.1} | {ratio:.2} | {verdict} |\n",
                pointer.trim_start_matches('/')
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ratios_of_matching_reports() {
        let before = json!({"reports": [
            {"scenario": "originate", "destination": "app", "connections": 1,
             "channels_per_second": 100.0, "latency": {"p50_us": 200.0, "p99_us": 400.0}},
        ]});
        let now = [
            json!({"scenario": "originate", "destination": "app", "connections": 1,
                   "channels_per_second": 200.0, "latency": {"p50_us": 100.0, "p99_us": 400.0}}),
            json!({"scenario": "hangup", "connections": 1}),
            json!({"scenario": "originate", "destination": "app", "connections": 1,
                   "client_wait": "polling", "channels_per_second": 300.0}),
        ];
        let table = compare(&before, &now);
        assert!(
            table.contains("| channels_per_second | 100.0 | 200.0 | 2.00 | better |"),
            "{table}"
        );
        assert!(table.contains("| latency/p50_us | 200.0 | 100.0 | 0.50 | better |"));
        assert!(table.contains("| latency/p99_us | 400.0 | 400.0 | 1.00 | ≈ |"));
        assert!(table.contains("hangup connections=1 | (not in the earlier run)"));
        assert!(
            table.contains(
                "originate destination=app connections=1 polling | (not in the earlier run)"
            ),
            "{table}"
        );
        assert!(!table.contains("300.0"), "{table}");
    }
}
