//! `GET /wasm/{appName}/logs`: a deployed app's own log, for its owner or an admin: the most
//! recent entries as a JSON array, or with `follow=true` those and every new entry as it
//! happens, one JSON object per line (`application/x-ndjson`), until the client goes away
//! or the app's runtime is gone.

use std::collections::VecDeque;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::StreamExt;
use http::StatusCode;
use serde_json::Value;
use tokio::sync::broadcast;

use super::{Ctx, Entry};
use crate::ari::response::{AriError, AriResponse, AriResult, Body};
use crate::ari::stream_body::{Chunks, StreamBody};
use crate::ari_handler;
use crate::wasm::app_log::{self, EntryKind, LogEntry};

/// The content type of a followed log.
const NDJSON: &str = "application/x-ndjson";

/// GET /wasm/{appName}/logs
pub async fn logs(ctx: Ctx) -> AriResult {
    let host = ctx.wasm.as_ref().ok_or_else(|| {
        AriError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "The WebAssembly host is not running",
        )
    })?;
    let name = ctx.params.string("appName").unwrap_or_default();
    let lines = app_log::lines(ctx.params.integer("lines")?).map_err(AriError::bad_request)?;
    let follow = ctx.params.boolean("follow").unwrap_or(false);
    let log = host.app_log(&name, &ctx.user)?;
    if !follow {
        let entries = log.recent(lines).iter().map(|e| e.to_json(&name)).collect();
        return Ok(AriResponse::ok(Value::Array(entries)));
    }
    let (backlog, rx) = log.follow(lines);
    // The stream holds no reference to the log itself: it ends when the app's runtime is
    // gone and the broadcast closes.
    drop(log);
    Ok(AriResponse {
        status: StatusCode::OK,
        headers: Vec::new(),
        body: Body::Stream(StreamBody::new(
            NDJSON,
            ctx.user.clone(),
            follower(name, backlog, rx),
        )),
    })
}

/// What a follower still has to send.
struct Follower {
    app: String,
    backlog: VecDeque<Arc<LogEntry>>,
    rx: broadcast::Receiver<Arc<LogEntry>>,
    /// The version of the last entry sent (a `dropped` entry names it).
    version: Arc<str>,
}

/// The backlog, then each new entry, one JSON line each; a `dropped` entry where the
/// follower fell behind; the end when the broadcast closes.
fn follower(
    app: String,
    backlog: Vec<Arc<LogEntry>>,
    rx: broadcast::Receiver<Arc<LogEntry>>,
) -> Chunks {
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
        let mut line = serde_json::to_vec(&entry.to_json(&state.app)).unwrap_or_default();
        line.push(b'\n');
        Some((Bytes::from(line), state))
    })
    .boxed()
}

/// The operation.
pub fn handlers() -> Vec<Entry> {
    vec![ari_handler!("wasm", "logs", logs)]
}
