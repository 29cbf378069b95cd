//! A followed app log (`GET /ari/wasm/{app}/logs?follow=true`) as a stream of JSON entries:
//! the backlog, then each new entry as it happens, a `dropped` entry where the follower
//! fell behind; the stream ends when the app's runtime is gone and its broadcast closes.

use std::collections::VecDeque;
use std::sync::Arc;

use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use serde_json::Value;
use tokio::sync::broadcast;

use super::app_log::{EntryKind, LogEntry};

/// What a follower still has to send.
struct Follower {
    app: String,
    backlog: VecDeque<Arc<LogEntry>>,
    rx: broadcast::Receiver<Arc<LogEntry>>,
    /// The version of the last entry sent (a `dropped` entry names it).
    version: Arc<str>,
}

/// The entries of app `app`'s log: `backlog`, then what `rx` receives. The stream holds no
/// reference to the log itself.
pub(crate) fn entries(
    app: String,
    backlog: Vec<Arc<LogEntry>>,
    rx: broadcast::Receiver<Arc<LogEntry>>,
) -> BoxStream<'static, Value> {
    let version = backlog
        .last()
        .map(|e| e.version.clone())
        .unwrap_or_else(|| Arc::from(""));
    let state = Follower {
        app,
        backlog: backlog.into(),
        rx,
        version,
    };
    futures_util::stream::unfold(state, |mut state| async move {
        let entry = match state.backlog.pop_front() {
            Some(entry) => entry,
            None => match state.rx.recv().await {
                Ok(entry) => entry,
                Err(broadcast::error::RecvError::Lagged(missed)) => Arc::new(LogEntry::now(
                    &state.version,
                    None,
                    EntryKind::Dropped,
                    format!("{missed} entries dropped: this follower read too slowly"),
                )),
                Err(broadcast::error::RecvError::Closed) => return None,
            },
        };
        state.version = entry.version.clone();
        let json = entry.to_json(&state.app);
        Some((json, state))
    })
    .boxed()
}
