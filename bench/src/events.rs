//! The bench's own ARI application: an events WebSocket that timestamps each StasisStart
//! the moment its frame is read, and tracks which of the bench's channels are still up.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use anyhow::bail;
use futures_util::StreamExt;
use tokio::sync::{Notify, oneshot};
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;

use crate::target::Target;

#[derive(Debug, Default)]
struct Shared {
    /// Channels whose StasisStart someone waits for.
    waiting: Mutex<HashMap<String, oneshot::Sender<Instant>>>,
    /// Channels whose StasisEnd someone waits for.
    ending: Mutex<HashMap<String, oneshot::Sender<Instant>>>,
    /// The bench's channels that have not ended yet.
    live: Mutex<HashSet<String>>,
    changed: Notify,
    closed: AtomicBool,
    received: AtomicU64,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A connected events WebSocket for one application.
#[derive(Debug)]
pub struct Events {
    shared: Arc<Shared>,
    stop: Option<oneshot::Sender<()>>,
    reader: JoinHandle<()>,
}

impl Events {
    /// Connects `/events?app=APP`: the application is registered when this returns.
    pub async fn connect(target: &Target, app: &str) -> anyhow::Result<Events> {
        let mut stream = crate::ws::open(target, app, false).await?;
        let shared = Arc::new(Shared::default());
        let (stop, mut stopped) = oneshot::channel::<()>();
        let reader_shared = shared.clone();
        let reader = tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = &mut stopped => {
                        let _ = stream.close(None).await;
                        break;
                    }
                    message = stream.next() => {
                        let now = Instant::now();
                        match message {
                            Some(Ok(Message::Text(text))) => reader_shared.event(text.as_str(), now),
                            Some(Ok(_)) => {}
                            None | Some(Err(_)) => break,
                        }
                    }
                }
            }
            reader_shared.closed.store(true, Ordering::SeqCst);
            lock(&reader_shared.waiting).clear();
            lock(&reader_shared.ending).clear();
            reader_shared.changed.notify_waiters();
        });
        Ok(Events {
            shared,
            stop: Some(stop),
            reader,
        })
    }

    /// Registers a channel about to be created: the returned receiver gets the instant its
    /// StasisStart was read. The channel counts as live until its StasisEnd or
    /// ChannelDestroyed.
    pub fn expect(&self, id: &str) -> oneshot::Receiver<Instant> {
        let (tx, rx) = oneshot::channel();
        lock(&self.shared.live).insert(id.to_string());
        lock(&self.shared.waiting).insert(id.to_string(), tx);
        rx
    }

    /// Registers a channel about to be hung up: the receiver gets the instant its
    /// StasisEnd was read.
    pub fn expect_end(&self, id: &str) -> oneshot::Receiver<Instant> {
        let (tx, rx) = oneshot::channel();
        lock(&self.shared.ending).insert(id.to_string(), tx);
        rx
    }

    /// Stops tracking a channel that was never created.
    pub fn forget(&self, id: &str) {
        lock(&self.shared.waiting).remove(id);
        lock(&self.shared.live).remove(id);
        self.shared.changed.notify_waiters();
    }

    /// How many of the bench's channels have not ended.
    pub fn live(&self) -> usize {
        lock(&self.shared.live).len()
    }

    /// Events received so far.
    pub fn received(&self) -> u64 {
        self.shared.received.load(Ordering::Relaxed)
    }

    /// True once the socket has closed.
    pub fn is_closed(&self) -> bool {
        self.shared.closed.load(Ordering::SeqCst)
    }

    /// Waits until none of the bench's channels is live, or fails at `deadline`.
    pub async fn wait_all_gone(&self, deadline: Instant) -> anyhow::Result<()> {
        loop {
            let notified = self.shared.changed.notified();
            let live = self.live();
            if live == 0 {
                return Ok(());
            }
            if self.is_closed() {
                bail!("events WebSocket closed with {live} channel(s) still up");
            }
            let now = Instant::now();
            if now >= deadline {
                bail!("{live} channel(s) did not end in time");
            }
            let _ =
                tokio::time::timeout((deadline - now).min(Duration::from_millis(100)), notified)
                    .await;
        }
    }

    /// Closes the socket (the application loses its handler).
    pub async fn close(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = tokio::time::timeout(Duration::from_secs(5), &mut self.reader).await;
    }
}

impl Drop for Events {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

/// The part of an event the bench reads (strings borrowed from the frame unless escaped).
#[derive(serde::Deserialize)]
struct EventHead<'a> {
    #[serde(rename = "type", borrow)]
    kind: std::borrow::Cow<'a, str>,
    #[serde(borrow)]
    channel: Option<ChannelHead<'a>>,
}

#[derive(serde::Deserialize)]
struct ChannelHead<'a> {
    #[serde(borrow)]
    id: std::borrow::Cow<'a, str>,
}

impl Shared {
    fn event(&self, text: &str, at: Instant) {
        self.received.fetch_add(1, Ordering::Relaxed);
        // Only three event types matter; skip parsing the others.
        let start = text.contains("StasisStart");
        if !start && !text.contains("StasisEnd") && !text.contains("ChannelDestroyed") {
            return;
        }
        // Only `type` and `channel.id` are read; the rest of the event is skipped unparsed.
        let Ok(event) = serde_json::from_str::<EventHead>(text) else {
            return;
        };
        let Some(id) = event.channel.as_ref().map(|c| c.id.as_ref()) else {
            return;
        };
        match Some(event.kind.as_ref()) {
            Some("StasisStart") => {
                if let Some(tx) = lock(&self.waiting).remove(id) {
                    let _ = tx.send(at);
                }
            }
            Some("StasisEnd" | "ChannelDestroyed") => {
                if let Some(tx) = lock(&self.ending).remove(id) {
                    let _ = tx.send(at);
                }
                let removed = {
                    let mut live = lock(&self.live);
                    live.remove(id) && live.is_empty()
                };
                lock(&self.waiting).remove(id);
                if removed {
                    self.changed.notify_waiters();
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_resolve_waiters_and_live_set() {
        let shared = Shared::default();
        let (tx, mut rx) = oneshot::channel();
        lock(&shared.waiting).insert("c1".into(), tx);
        lock(&shared.live).insert("c1".into());
        let at = Instant::now();
        shared.event(r#"{"type":"ChannelStateChange","channel":{"id":"c1"}}"#, at);
        assert!(rx.try_recv().is_err());
        shared.event(r#"{"type": "StasisStart", "channel": {"id": "c1"}}"#, at);
        assert_eq!(rx.try_recv().ok(), Some(at));
        assert_eq!(lock(&shared.live).len(), 1);
        shared.event(r#"{"type":"StasisEnd","channel":{"id":"c1"}}"#, at);
        assert!(lock(&shared.live).is_empty());
        assert_eq!(shared.received.load(Ordering::Relaxed), 3);
    }
}
