//! What the benchmark reads of a process on this machine (Linux `/proc`): CPU time (user
//! and system), resident memory, and the datagrams the kernel dropped on the process's own
//! UDP sockets because their receive queues were full; and wari's `/metrics` counters.

use std::collections::{HashMap, HashSet};
use std::time::Instant;

use anyhow::Context;

use crate::Target;

/// A process's counters at one moment.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub time: Instant,
    pub user_s: f64,
    pub system_s: f64,
    pub rss_kib: u64,
    pub kernel_drops: u64,
    pub udp_sockets: u64,
    /// `/metrics` samples by name with labels (empty for the generator itself).
    pub metrics: HashMap<String, f64>,
}

impl Snapshot {
    /// The counters of process `pid` (`"self"` for this one).
    pub fn of(pid: &str) -> anyhow::Result<Snapshot> {
        let time = Instant::now();
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .with_context(|| format!("/proc/{pid}/stat"))?;
        let (user_s, system_s) = cpu_seconds(&stat).context("/proc/PID/stat fields")?;
        let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
            .with_context(|| format!("/proc/{pid}/status"))?;
        let rss_kib = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let (kernel_drops, udp_sockets) = socket_drops(pid);
        Ok(Snapshot {
            time,
            user_s,
            system_s,
            rss_kib,
            kernel_drops,
            udp_sockets,
            metrics: HashMap::new(),
        })
    }

    /// The same for wari, with its `/metrics` counters.
    pub async fn of_wari(
        pid: u32,
        target: &Target,
        client: &reqwest::Client,
    ) -> anyhow::Result<Snapshot> {
        let text = client
            .get(format!("http://{}/metrics", target.authority))
            .header("Authorization", &target.authorization)
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .context("GET /metrics")?
            .text()
            .await
            .context("GET /metrics body")?;
        let mut snapshot = Snapshot::of(&pid.to_string())?;
        snapshot.metrics = parse_metrics(&text);
        Ok(snapshot)
    }

    pub fn cpu_s(&self) -> f64 {
        self.user_s + self.system_s
    }

    /// A counter's value (0 when absent).
    pub fn metric(&self, name: &str) -> f64 {
        self.metrics.get(name).copied().unwrap_or(0.0)
    }
}

/// User and system CPU seconds from the text of `/proc/PID/stat`.
fn cpu_seconds(stat: &str) -> Option<(f64, f64)> {
    // The command name may hold spaces and parentheses: the fields follow the last ')'.
    let fields: Vec<&str> = stat
        .get(stat.rfind(')')? + 2..)?
        .split_whitespace()
        .collect();
    // Clock ticks (USER_HZ): 100 on every Linux the benchmark runs on.
    let ticks = 100.0;
    let user: f64 = fields.get(11)?.parse().ok()?;
    let system: f64 = fields.get(12)?.parse().ok()?;
    Some((user / ticks, system / ticks))
}

/// Prometheus text: `name{labels} value` per line, comments skipped.
pub fn parse_metrics(text: &str) -> HashMap<String, f64> {
    text.lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| {
            let (name, value) = l.rsplit_once(' ')?;
            Some((name.to_string(), value.parse().ok()?))
        })
        .collect()
}

/// Kernel drops summed over the UDP sockets process `pid` holds, and how many those are.
fn socket_drops(pid: &str) -> (u64, u64) {
    let mut inodes = HashSet::new();
    if let Ok(entries) = std::fs::read_dir(format!("/proc/{pid}/fd")) {
        for entry in entries.flatten() {
            if let Ok(target) = std::fs::read_link(entry.path())
                && let Some(inode) = target
                    .to_str()
                    .and_then(|t| t.strip_prefix("socket:["))
                    .and_then(|t| t.strip_suffix(']'))
            {
                inodes.insert(inode.to_string());
            }
        }
    }
    let (mut drops, mut sockets) = (0, 0);
    for table in ["udp", "udp6"] {
        let Ok(text) = std::fs::read_to_string(format!("/proc/{pid}/net/{table}")) else {
            continue;
        };
        for line in text.lines().skip(1) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            if fields.len() > 12 && inodes.contains(fields[9]) {
                sockets += 1;
                drops += fields[12].parse::<u64>().unwrap_or(0);
            }
        }
    }
    (drops, sockets)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_stat_and_metrics() {
        let stat = "1234 (wari (x) y) S 1 2 3 4 5 6 7 8 9 10 250 75 0 0 20 0";
        assert_eq!(cpu_seconds(stat), Some((2.5, 0.75)));
        assert_eq!(cpu_seconds("garbage"), None);
        let metrics = parse_metrics(
            "# HELP x\nwari_media_ticks_total 1514\n\
             wari_sip_rtp_queue_dropped_total{direction=\"in\"} 3\nbad line\n",
        );
        assert_eq!(metrics.get("wari_media_ticks_total"), Some(&1514.0));
        assert_eq!(
            metrics.get("wari_sip_rtp_queue_dropped_total{direction=\"in\"}"),
            Some(&3.0)
        );
        assert_eq!(metrics.len(), 2);
    }

    #[test]
    fn reads_this_process() {
        let snapshot = Snapshot::of("self").expect("own /proc");
        assert!(snapshot.rss_kib > 0);
        assert!(snapshot.cpu_s() >= 0.0);
    }
}
