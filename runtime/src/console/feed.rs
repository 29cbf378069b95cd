//! The live feed: `GET /console/api/feed` as Server-Sent Events. The first message is the
//! core's whole live view (`snapshot`), each later one what changed (`delta`), sent after
//! the core publishes events (at most one message per [`COALESCE`]); a comment line keeps
//! the connection open when nothing happens.
//!
//! Each viewer costs the core one observer ([`crate::core::app_host::AppHost::watch`])
//! whose delivery only wakes the viewer's task: an event is never queued for a viewer, so
//! calls never wait for one. The task renders views into a queue of [`QUEUE`] messages;
//! a viewer that lets it fill is too slow and is dropped (the page reconnects and starts
//! over from a snapshot). A feed counts as one of its user's long connections (ari.conf
//! `max_websockets`), keeps its session in use, and ends when the session does (logout,
//! or its 12 hours).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::body::Body as HttpBody;
use axum::response::Response;
use bytes::Bytes;
use http::{HeaderValue, StatusCode, header};
use tokio::sync::{Notify, mpsc};

use super::session::Session;
use super::{delta, message};
use crate::core::event::Event;
use crate::core::stasis::EventSink;
use crate::http::front::{Front, Streaming};

/// Messages waiting for one viewer at most.
const QUEUE: usize = 8;
/// Events arriving within this time after the first make one message.
const COALESCE: Duration = Duration::from_millis(100);
/// A comment is sent after this long without a message.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// Observer ids, kept apart from the event queues' ids.
static NEXT_ID: AtomicU64 = AtomicU64::new(1 << 48);

/// The core's side of one viewer: delivery wakes the viewer's task, nothing more.
#[derive(Debug)]
struct Wake {
    id: u64,
    notify: Notify,
    /// Set when the viewer has gone: the core then removes the observer.
    gone: AtomicBool,
}

impl EventSink for Wake {
    fn deliver(&self, _app: &str, _event: &Arc<Event>) -> bool {
        if self.gone.load(Ordering::Acquire) {
            return false;
        }
        self.notify.notify_one();
        true
    }

    fn id(&self) -> u64 {
        self.id
    }
}

/// Opens a feed for a logged-in session (`token`: its cookie token).
pub(crate) fn open(front: &Front, session: Session, token: String) -> Response {
    let slot = match front.sockets.take(&session.user, 0) {
        Ok(slot) => slot,
        Err(over) => {
            tracing::info!(user = %crate::log_text::Escaped(&session.user.name), "console feed refused: {over}");
            return message(
                StatusCode::TOO_MANY_REQUESTS,
                "Too many long connections for this user (ari.conf max_websockets)",
            );
        }
    };
    let wake = Arc::new(Wake {
        id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
        notify: Notify::new(),
        gone: AtomicBool::new(false),
    });
    let core = front.ari.core().clone();
    let view = core.app_host().watch(wake.clone());
    let (tx, rx) = mpsc::channel::<Bytes>(QUEUE);
    let first = frame("snapshot", &delta::snapshot(&view));
    // The queue is new and empty: the first message fits.
    let _ = tx.try_send(first);
    let console = front.console.clone();
    tokio::spawn(async move {
        let mut shown = view;
        loop {
            let woken = tokio::select! {
                _ = wake.notify.notified() => true,
                _ = tokio::time::sleep(KEEP_ALIVE) => false,
                _ = tx.closed() => break,
            };
            if woken {
                tokio::time::sleep(COALESCE).await;
            }
            // An open console is a session in use: it ends only by logout or old age.
            if console.sessions().touch(&token, Instant::now()).is_none() {
                let _ = tx.try_send(frame("ended", &serde_json::json!({"type": "ended"})));
                break;
            }
            if !woken {
                if !send(&tx, Bytes::from_static(b": keep-alive\n\n")) {
                    break;
                }
                continue;
            }
            let now = core.control().live_view();
            if let Some(change) = delta::delta(&shown, &now)
                && !send(&tx, frame("delta", &change))
            {
                break;
            }
            shown = now;
        }
        wake.gone.store(true, Ordering::Release);
        core.app_host().unwatch(wake.id);
    });
    let body = futures_util::stream::unfold((rx, slot), |(mut rx, slot)| async move {
        let chunk = rx.recv().await?;
        Some((Ok::<_, std::convert::Infallible>(chunk), (rx, slot)))
    });
    let mut response = Response::new(HttpBody::from_stream(body));
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
    response.extensions_mut().insert(Streaming);
    response
}

/// Queues a message; false when the viewer is gone or too slow (it is then dropped).
fn send(tx: &mpsc::Sender<Bytes>, message: Bytes) -> bool {
    match tx.try_send(message) {
        Ok(()) => true,
        Err(mpsc::error::TrySendError::Full(_)) => {
            tracing::info!("console viewer too slow: its live feed is closed");
            false
        }
        Err(mpsc::error::TrySendError::Closed(_)) => false,
    }
}

/// One Server-Sent Event, stamped with wari's clock (`now_ms`, for durations).
fn frame(event: &str, data: &serde_json::Value) -> Bytes {
    let mut data = data.clone();
    if let Some(object) = data.as_object_mut() {
        object.insert(
            "now_ms".into(),
            serde_json::json!(chrono::Utc::now().timestamp_millis()),
        );
    }
    Bytes::from(format!("event: {event}\ndata: {data}\n\n"))
}
