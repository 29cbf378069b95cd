//! Per-socket event counters for `/metrics`: every ARI WebSocket (inbound `/ari/events`,
//! persistent or per-call outbound) gets a [`SocketMeter`] that counts the events written
//! to it and the events it lost (queue full, failed write, queued when it closed).
//!
//! The meters live in one process-wide registry. Only open sockets are listed one by one;
//! when a socket's meter is dropped its counts are folded into the totals, so the number of
//! labelled series stays bounded by the number of open sockets.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Mutex, Weak};

/// Which kind of socket a meter counts for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SocketKind {
    /// A client connected to `/ari/events`.
    Inbound,
    /// A persistent outbound connection (websocket_client.conf).
    Persistent,
    /// A per-call outbound connection.
    PerCall,
}

impl SocketKind {
    /// The label value.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            SocketKind::Inbound => "inbound",
            SocketKind::Persistent => "outbound_persistent",
            SocketKind::PerCall => "outbound_per_call",
        }
    }
}

/// The event counts of one socket.
#[derive(Debug)]
pub(crate) struct SocketMeter {
    id: u64,
    kind: SocketKind,
    apps: String,
    sent: AtomicU64,
    dropped: AtomicU64,
}

/// A copy of one open socket's counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SocketCounts {
    pub id: u64,
    pub kind: SocketKind,
    /// The socket's applications, comma-separated.
    pub apps: String,
    pub sent: u64,
    pub dropped: u64,
}

/// Every open socket's counts and the totals since start-up (open and closed sockets).
#[derive(Debug, Clone, Default)]
pub(crate) struct Snapshot {
    /// Sockets open now (all of them, even beyond the listed ones).
    pub open: u64,
    pub sockets: Vec<SocketCounts>,
    pub sent_total: u64,
    pub dropped_total: u64,
}

#[derive(Default)]
struct Registry {
    live: Mutex<BTreeMap<u64, Weak<SocketMeter>>>,
    closed_sent: AtomicU64,
    closed_dropped: AtomicU64,
}

static REGISTRY: LazyLock<Registry> = LazyLock::new(Registry::default);

impl SocketMeter {
    /// A meter for socket `id` serving `apps`, listed until it is dropped.
    pub(crate) fn register(id: u64, kind: SocketKind, apps: &[String]) -> Arc<SocketMeter> {
        let meter = Arc::new(SocketMeter {
            id,
            kind,
            apps: apps.join(","),
            sent: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
        });
        match REGISTRY.live.lock() {
            Ok(mut live) => {
                live.insert(id, Arc::downgrade(&meter));
            }
            Err(_) => tracing::warn!(id, "socket meter registry poisoned: socket not listed"),
        }
        meter
    }

    /// Counts events written to the socket.
    pub(crate) fn sent(&self, events: u64) {
        self.sent.fetch_add(events, Ordering::Relaxed);
    }

    /// Counts events the socket lost.
    pub(crate) fn dropped(&self, events: u64) {
        self.dropped.fetch_add(events, Ordering::Relaxed);
    }

    fn counts(&self) -> SocketCounts {
        SocketCounts {
            id: self.id,
            kind: self.kind,
            apps: self.apps.clone(),
            sent: self.sent.load(Ordering::Relaxed),
            dropped: self.dropped.load(Ordering::Relaxed),
        }
    }
}

impl Drop for SocketMeter {
    fn drop(&mut self) {
        let registry = &*REGISTRY;
        // Under the lock, so that a snapshot sees the counts either live or folded, never
        // both or neither.
        let live = registry.live.lock();
        registry
            .closed_sent
            .fetch_add(self.sent.load(Ordering::Relaxed), Ordering::Relaxed);
        registry
            .closed_dropped
            .fetch_add(self.dropped.load(Ordering::Relaxed), Ordering::Relaxed);
        if let Ok(mut live) = live {
            live.remove(&self.id);
        }
    }
}

/// The open sockets (by id, at most `limit`) and the totals.
pub(crate) fn snapshot(limit: usize) -> Snapshot {
    let registry = &*REGISTRY;
    let Ok(live) = registry.live.lock() else {
        return Snapshot::default();
    };
    let mut snapshot = Snapshot {
        open: 0,
        sockets: Vec::new(),
        sent_total: registry.closed_sent.load(Ordering::Relaxed),
        dropped_total: registry.closed_dropped.load(Ordering::Relaxed),
    };
    for meter in live.values().filter_map(Weak::upgrade) {
        let counts = meter.counts();
        snapshot.open += 1;
        snapshot.sent_total += counts.sent;
        snapshot.dropped_total += counts.dropped;
        if snapshot.sockets.len() < limit {
            snapshot.sockets.push(counts);
        }
    }
    snapshot
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_sockets_are_listed_and_closed_ones_fold_into_the_totals() {
        // Ids far from the sinks' own, so that parallel tests do not collide.
        let id = u64::MAX - 17;
        let meter = SocketMeter::register(id, SocketKind::Inbound, &["a".into(), "b".into()]);
        meter.sent(5);
        meter.dropped(2);
        let before = snapshot(usize::MAX);
        let listed = before
            .sockets
            .iter()
            .find(|s| s.id == id)
            .cloned()
            .expect("listed while open");
        assert_eq!(listed.apps, "a,b");
        assert_eq!((listed.sent, listed.dropped), (5, 2));
        assert!(before.sent_total >= 5 && before.dropped_total >= 2);
        drop(meter);
        let after = snapshot(usize::MAX);
        assert!(after.sockets.iter().all(|s| s.id != id), "gone once closed");
        assert!(after.sent_total >= 5, "still in the totals");
        assert!(after.dropped_total >= 2, "still in the totals");
    }
}
