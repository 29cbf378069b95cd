//! A bounded queue between the core and one event consumer. Delivery never blocks: when the
//! queue is full the consumer is too slow, which is signalled so the transport can drop it
//! without slowing anyone else down.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::{Notify, mpsc};

use super::meter::{SocketKind, SocketMeter};
use crate::core::event::Event;
use crate::core::stasis::EventSink;

/// Events waiting for one consumer at most.
pub(crate) const QUEUE_CAPACITY: usize = 10_000;

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// One queued event with the application it is for.
pub(crate) type Queued = (Arc<str>, Arc<Event>);

/// The core's side of a consumer's queue.
#[derive(Debug)]
pub(crate) struct QueueSink {
    id: u64,
    tx: mpsc::Sender<Queued>,
    overflow: Arc<Notify>,
    meter: Arc<SocketMeter>,
}

/// The consumer's side.
#[derive(Debug)]
pub(crate) struct QueueReceiver {
    pub id: u64,
    pub rx: mpsc::Receiver<Queued>,
    /// Notified when an event could not be queued (the consumer is too slow).
    pub overflow: Arc<Notify>,
    /// The socket's event counters.
    pub meter: Arc<SocketMeter>,
    /// Keeps the queue open while the consumer lives, even with no application attached.
    _keep_open: mpsc::Sender<Queued>,
}

/// A new queue of `capacity` events for a socket of `kind` serving `apps`.
pub(crate) fn queue(
    capacity: usize,
    kind: SocketKind,
    apps: &[String],
) -> (Arc<QueueSink>, QueueReceiver) {
    let (tx, rx) = mpsc::channel(capacity);
    let overflow = Arc::new(Notify::new());
    let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    let meter = SocketMeter::register(id, kind, apps);
    (
        Arc::new(QueueSink {
            id,
            tx: tx.clone(),
            overflow: overflow.clone(),
            meter: meter.clone(),
        }),
        QueueReceiver {
            id,
            rx,
            overflow,
            meter,
            _keep_open: tx,
        },
    )
}

impl EventSink for QueueSink {
    fn deliver(&self, app: &str, event: &Arc<Event>) -> bool {
        match self.tx.try_send((Arc::from(app), event.clone())) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.meter.dropped(1);
                self.overflow.notify_one();
                false
            }
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        }
    }

    fn id(&self) -> u64 {
        self.id
    }
}
