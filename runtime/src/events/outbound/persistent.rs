//! Persistent outbound connections: the applications are registered from start-up with a
//! sink that queues their events (bounded) whether or not the socket is up; a task
//! connects, writes `ApplicationRegistered` per application and then the queue, and
//! reconnects when the connection is lost.
//!
//! Differences from Asterisk: the queue is bounded (Asterisk's is not); on every connect
//! the `ApplicationRegistered` notices come before the queued events (Asterisk writes the
//! queue first on reconnects); and a batch whose write failed is written again after
//! reconnecting (Asterisk loses it), so the peer may see a few events twice.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::mpsc;

use super::connect::connect;
use super::{Connection, registered_notices};
use crate::core::event::Event;
use crate::core::stasis::EventSink;
use crate::events::meter::{SocketKind, SocketMeter};
use crate::events::session::{self, Ended, tungstenite_frames};
use crate::events::sink::Queued;

static NEXT_ID: AtomicU64 = AtomicU64::new(1 << 48);

/// The longest wait between attempts once a whole batch of attempts has failed.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// Queues events for a persistent connection. Never reports failure for a full queue (the
/// applications stay registered while disconnected); drops the event instead, counts it
/// and logs.
#[derive(Debug)]
pub(crate) struct PersistentSink {
    id: u64,
    connection: String,
    capacity: usize,
    tx: mpsc::Sender<Queued>,
    dropped: AtomicU64,
    meter: Arc<SocketMeter>,
}

impl PersistentSink {
    /// A sink for `apps` and its queue of `capacity` events.
    pub(crate) fn new(
        connection: &str,
        apps: &[String],
        capacity: usize,
    ) -> (Arc<PersistentSink>, mpsc::Receiver<Queued>) {
        let (tx, rx) = mpsc::channel(capacity);
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        let sink = Arc::new(PersistentSink {
            id,
            meter: SocketMeter::register(id, SocketKind::Persistent, apps),
            connection: connection.to_string(),
            capacity,
            tx,
            dropped: AtomicU64::new(0),
        });
        (sink, rx)
    }

    /// Events dropped because the queue was full, since start-up.
    pub(crate) fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

impl EventSink for PersistentSink {
    fn deliver(&self, app: &str, event: &Arc<Event>) -> bool {
        match self.tx.try_send((Arc::from(app), event.clone())) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(_)) => {
                let dropped = self.dropped.fetch_add(1, Ordering::Relaxed) + 1;
                self.meter.dropped(1);
                if dropped == 1 || dropped.is_multiple_of(1000) {
                    tracing::warn!(
                        connection = %self.connection,
                        app,
                        event = event.kind,
                        capacity = self.capacity,
                        dropped_total = dropped,
                        "outbound WebSocket queue is full: event dropped"
                    );
                }
                true
            }
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        }
    }

    fn id(&self) -> u64 {
        self.id
    }
}

/// Registers the connection's applications now (so `Stasis()` accepts channels from
/// start-up) and returns the task that keeps the connection up for as long as the process
/// runs.
pub(crate) fn start(connection: Connection, capacity: usize) -> Option<impl Future<Output = ()>> {
    let (sink, rx) = PersistentSink::new(
        &connection.outbound.name,
        &connection.outbound.apps,
        capacity,
    );
    let core = connection.context.ari.core().clone();
    let apps = connection.outbound.apps.clone();
    if let Err(error) = core.app_host().register_apps(
        &apps,
        sink.clone(),
        connection.outbound.subscribe_all,
        crate::core::stasis::apps::Claim::Configured(&connection.outbound.local_ari_user),
    ) {
        tracing::error!(connection = %connection.outbound.name, %error, "outbound WebSocket applications could not be registered");
        return None;
    }
    tracing::info!(connection = %connection.outbound.name, ?apps, uri = %connection.client.uri, "outbound WebSocket applications registered (persistent)");
    Some(run(connection, sink, rx))
}

async fn run(connection: Connection, sink: Arc<PersistentSink>, mut rx: mpsc::Receiver<Queued>) {
    let apps = connection.outbound.apps.clone();
    let mut unsent: Vec<Queued> = Vec::new();
    loop {
        let stream = connect_with_retries(&connection).await;
        tracing::info!(connection = %connection.outbound.name, uri = %connection.client.uri, "outbound WebSocket connected");
        let mut first = registered_notices(&apps);
        first.append(&mut unsent);
        let mut frames = tungstenite_frames(stream);
        let ended = session::run(
            &mut frames,
            &connection.context,
            &sink.meter,
            &mut rx,
            first,
            None,
            None,
        )
        .await;
        let reason = ended.reason();
        match ended {
            Ended::WriteFailed { unsent: mut batch } => {
                // Written again after reconnecting (the peer may see some twice); fresh
                // notices are written anyway.
                batch.retain(|(_, event)| event.kind != "ApplicationRegistered");
                unsent = batch;
            }
            Ended::QueueClosed | Ended::Stopped => return,
            _ => {}
        }
        tracing::warn!(
            connection = %connection.outbound.name,
            reason,
            dropped_total = sink.dropped(),
            "outbound WebSocket disconnected: events are queued until it reconnects"
        );
    }
}

/// Connects, retrying forever: `reconnect_interval` between attempts; after every batch
/// of `reconnect_attempts` failures a warning, and the wait doubles (up to 30 s or the
/// interval, whichever is longer) until a connection succeeds.
async fn connect_with_retries(connection: &Connection) -> super::connect::ClientStream {
    let client = &connection.client;
    let mut wait = client.reconnect_interval;
    let mut failures = 0u32;
    loop {
        match connect(client, connection.tls.as_ref()).await {
            Ok(stream) => return stream,
            Err(error) => {
                failures += 1;
                if failures == 1 {
                    tracing::warn!(connection = %connection.outbound.name, uri = %client.uri, %error, "outbound WebSocket connection attempt failed");
                } else {
                    tracing::info!(connection = %connection.outbound.name, attempt = failures, %error, "outbound WebSocket connection attempt failed");
                }
                if failures.is_multiple_of(client.reconnect_attempts) {
                    tracing::warn!(connection = %connection.outbound.name, failures, %error, "outbound WebSocket still not connected; retrying");
                    wait = (wait * 2).min(MAX_BACKOFF.max(client.reconnect_interval));
                }
            }
        }
        tokio::time::sleep(wait).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::event::Scope;

    #[test]
    fn a_full_queue_drops_and_counts_but_keeps_the_applications() {
        let (sink, mut rx) = PersistentSink::new("c", &["a".to_string()], 2);
        let event = Arc::new(Event::new("StasisStart", Scope::app("a")));
        for _ in 0..5 {
            assert!(
                sink.deliver("a", &event),
                "the sink never gives up its apps"
            );
        }
        assert_eq!(sink.dropped(), 3);
        assert!(rx.try_recv().is_ok() && rx.try_recv().is_ok());
        assert!(rx.try_recv().is_err(), "bounded at 2");
        drop(rx);
        assert!(!sink.deliver("a", &event), "a closed queue is reported");
    }
}
