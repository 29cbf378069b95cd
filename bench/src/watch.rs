//! A subscribeAll events WebSocket that watches for one event per channel: a test of
//! "what did the server (or an app running in it) do to this channel, and when". Each
//! wait is registered before the action that should cause the event, and resolves with
//! the instant the frame was read.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;

use crate::target::Target;

/// What to wait for on one channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wanted {
    pub channel: String,
    /// The event types, e.g. `ChannelVarset`: the first of any of them counts.
    pub kinds: Vec<&'static str>,
    /// For `ChannelVarset`: the variable's name.
    pub variable: Option<String>,
}

impl Wanted {
    fn matches(&self, event: &serde_json::Value) -> bool {
        let kind = event["type"].as_str().unwrap_or_default();
        // Playback events name their channel in the playback's target URI.
        let on_channel = event["channel"]["id"] == self.channel.as_str()
            || event["playback"]["target_uri"]
                .as_str()
                .and_then(|t| t.strip_prefix("channel:"))
                == Some(self.channel.as_str());
        self.kinds.contains(&kind)
            && on_channel
            && self
                .variable
                .as_deref()
                .is_none_or(|v| event["variable"] == v)
    }
}

type Waiters = Arc<Mutex<Vec<(Wanted, oneshot::Sender<Instant>)>>>;

/// The watching socket.
#[derive(Debug)]
pub struct Watcher {
    waiters: Waiters,
    reader: JoinHandle<()>,
}

impl Watcher {
    /// Connects `/events?app=APP&subscribeAll=true`.
    pub async fn connect(target: &Target, app: &str) -> anyhow::Result<Watcher> {
        let mut stream = crate::ws::open(target, app, true).await?;
        let waiters: Waiters = Arc::default();
        let shared = waiters.clone();
        let reader = tokio::spawn(async move {
            while let Some(Ok(message)) = stream.next().await {
                let now = Instant::now();
                let Message::Text(text) = message else {
                    continue;
                };
                let mut waiting = shared.lock().unwrap_or_else(PoisonError::into_inner);
                if waiting.is_empty() {
                    continue;
                }
                let Ok(event) = serde_json::from_str::<serde_json::Value>(text.as_str()) else {
                    continue;
                };
                let mut i = 0;
                while i < waiting.len() {
                    if waiting[i].0.matches(&event) {
                        let (_, tx) = waiting.swap_remove(i);
                        let _ = tx.send(now);
                    } else {
                        i += 1;
                    }
                }
            }
            // Dropping the senders tells every waiter the socket is gone.
            shared
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clear();
        });
        Ok(Watcher { waiters, reader })
    }

    /// Registers a wait; the receiver gets the instant the wanted event was read (or an
    /// error when the socket closed).
    pub fn wait(&self, wanted: Wanted) -> oneshot::Receiver<Instant> {
        let (tx, rx) = oneshot::channel();
        self.waiters
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push((wanted, tx));
        rx
    }

    /// Drops the waits for `channel` (e.g. after a failure).
    pub fn forget(&self, channel: &str) {
        self.waiters
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|(w, _)| w.channel != channel);
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

/// Waits for a registered event within `limit`.
pub async fn within(
    rx: oneshot::Receiver<Instant>,
    limit: Duration,
    what: &str,
) -> anyhow::Result<Instant> {
    tokio::time::timeout(limit, rx)
        .await
        .map_err(|_| anyhow::anyhow!("{what}: not seen within {limit:?}"))?
        .map_err(|_| anyhow::anyhow!("{what}: the watching WebSocket closed"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wanted_matches_type_channel_and_variable() {
        let wanted = Wanted {
            channel: "c1".into(),
            kinds: vec!["ChannelVarset"],
            variable: Some("IVR_CHOICE".into()),
        };
        let event = |variable: &str| {
            serde_json::json!({"type": "ChannelVarset", "variable": variable,
                               "channel": {"id": "c1"}})
        };
        assert!(wanted.matches(&event("IVR_CHOICE")));
        assert!(!wanted.matches(&event("OTHER")));
        let any = Wanted {
            variable: None,
            ..wanted
        };
        assert!(any.matches(&event("OTHER")));
        let playback = Wanted {
            channel: "c1".into(),
            kinds: vec!["PlaybackStarted", "PlaybackFinished"],
            variable: None,
        };
        assert!(
            playback.matches(&serde_json::json!({"type": "PlaybackStarted",
            "playback": {"target_uri": "channel:c1"}}))
        );
        assert!(
            !playback.matches(&serde_json::json!({"type": "PlaybackStarted",
            "playback": {"target_uri": "channel:c2"}}))
        );
    }
}
