//! One ARI WebSocket session, whichever side opened the socket: queued events are written
//! as text frames within `websocket_write_timeout`, `RESTRequest` frames are answered with
//! `RESTResponse` frames (by a worker that runs them one at a time, in order), and the peer
//! is pinged so that a dead connection is noticed.
//!
//! The socket is seen through [`Frame`] so that the inbound (axum) and outbound
//! (tokio-tungstenite) sockets share this loop.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::{Sink, SinkExt, Stream, StreamExt};
use tokio::sync::{Notify, mpsc};

use super::meter::SocketMeter;
use super::rest_over_ws::{self, SocketAuth};
use super::sink::Queued;
use crate::ari::Ari;

/// A WebSocket frame as the session sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Frame {
    Text(String),
    Ping(Bytes),
    Pong(Bytes),
    Close,
    /// Closing because the peer sent a message larger than
    /// [`super::rest_over_ws::MAX_MESSAGE`] (close code 1009, "message too big").
    CloseTooBig,
    /// Binary and anything else: ignored.
    Other,
}

/// A socket failed.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub(crate) struct SocketError {
    message: String,
    /// The peer's message or frame exceeded the size limit.
    pub too_big: bool,
}

impl From<tokio_tungstenite::tungstenite::Error> for SocketError {
    fn from(error: tokio_tungstenite::tungstenite::Error) -> SocketError {
        SocketError {
            too_big: matches!(error, tokio_tungstenite::tungstenite::Error::Capacity(_)),
            message: error.to_string(),
        }
    }
}

impl From<axum::Error> for SocketError {
    fn from(error: axum::Error) -> SocketError {
        match error
            .into_inner()
            .downcast::<tokio_tungstenite::tungstenite::Error>()
        {
            Ok(error) => SocketError::from(*error),
            Err(other) => SocketError {
                message: other.to_string(),
                too_big: false,
            },
        }
    }
}

/// The close frame sent to a peer whose message was too large.
const TOO_BIG_REASON: &str = "Message too big";

/// Payload of the pings wari sends.
const PING_PAYLOAD: &[u8] = b"wari-ping";
/// Requests waiting for the worker at most; the socket is not read while it is full.
const PENDING_REQUESTS: usize = 32;
/// Most events written before one flush.
pub(crate) const MAX_BATCH: usize = 64;

/// How a session behaves.
#[derive(Debug, Clone)]
pub(crate) struct SessionSettings {
    /// Deadline for each write (ari.conf `websocket_write_timeout`).
    pub write_timeout: Duration,
    /// Indent event frames (ari.conf `pretty`).
    pub pretty: bool,
    /// How often the peer is pinged; `None` never.
    pub ping_interval: Option<Duration>,
    /// Unanswered pings after which the peer counts as gone.
    pub ping_probes: u32,
}

/// How often inbound sockets are pinged, and how many pings may go unanswered.
pub(crate) const INBOUND_PING_INTERVAL: Duration = Duration::from_secs(20);
pub(crate) const INBOUND_PING_PROBES: u32 = 3;

impl SessionSettings {
    /// Settings of an inbound `/ari/events` socket from ari.conf.
    pub(crate) fn inbound(ari: &crate::config::AriConfig) -> SessionSettings {
        SessionSettings {
            write_timeout: ari.websocket_write_timeout,
            pretty: ari.pretty,
            ping_interval: Some(INBOUND_PING_INTERVAL),
            ping_probes: INBOUND_PING_PROBES,
        }
    }
}

/// What the session needs besides the socket.
#[derive(Debug, Clone)]
pub(crate) struct SessionContext {
    pub ari: Arc<Ari>,
    pub auth: SocketAuth,
    /// The application `RESTResponse` frames are tagged with (the socket's first one).
    pub application: String,
    pub settings: SessionSettings,
}

/// Why a session ended.
#[derive(Debug)]
pub(crate) enum Ended {
    /// The peer closed the socket or the connection broke while reading.
    PeerClosed,
    /// A write failed or timed out. `unsent` holds the events of the failed batch.
    WriteFailed { unsent: Vec<Queued> },
    /// The event queue overflowed (the consumer is too slow).
    TooSlow,
    /// The peer did not answer pings.
    PingTimeout,
    /// Nothing can produce events any more.
    QueueClosed,
    /// The owner asked the session to stop.
    Stopped,
}

impl Ended {
    /// A short description for logs.
    pub(crate) fn reason(&self) -> &'static str {
        match self {
            Ended::PeerClosed => "closed by the peer",
            Ended::WriteFailed { .. } => "write failed or timed out",
            Ended::TooSlow => "event queue full",
            Ended::PingTimeout => "pings unanswered",
            Ended::QueueClosed => "event queue closed",
            Ended::Stopped => "stopped",
        }
    }
}

/// Runs a session until the socket or the queue ends. `first` are frames written before
/// any queued event (e.g. ApplicationRegistered); `overflow` is notified when the event
/// queue overflows (inbound sockets are then closed); `stop` ends the session. Events
/// written are counted on `meter`, the socket's.
pub(crate) async fn run<S>(
    socket: &mut S,
    context: &SessionContext,
    meter: &SocketMeter,
    events: &mut mpsc::Receiver<Queued>,
    first: Vec<Queued>,
    overflow: Option<Arc<Notify>>,
    stop: Option<Arc<Notify>>,
) -> Ended
where
    S: Stream<Item = Result<Frame, SocketError>> + Sink<Frame, Error = SocketError> + Unpin,
{
    let asterisk_id = context.ari.core().system().entity_id.clone();
    let settings = &context.settings;
    let (requests, request_rx) = mpsc::channel::<String>(PENDING_REQUESTS);
    let (reply_tx, mut replies) = mpsc::channel::<String>(PENDING_REQUESTS);
    let worker = tokio::spawn(rest_worker(
        context.clone(),
        asterisk_id.clone(),
        request_rx,
        reply_tx,
    ));
    // An interval too long for the clock (a huge `pingpong_interval`) means no pings.
    let mut pings = settings.ping_interval.and_then(|every| {
        let first = tokio::time::Instant::now().checked_add(every)?;
        let mut interval = tokio::time::interval_at(first, every);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        Some(interval)
    });
    let mut unanswered = 0u32;
    let mut pending = first;
    let ended = 'session: loop {
        if !pending.is_empty() {
            let batch = std::mem::take(&mut pending);
            if let Err(unsent) = send_batch(socket, settings, meter, &asterisk_id, batch).await {
                break 'session Ended::WriteFailed { unsent };
            }
        }
        tokio::select! {
            queued = events.recv() => {
                let Some(first) = queued else { break Ended::QueueClosed };
                let batch = batch(first, events);
                if let Err(unsent) = send_batch(socket, settings, meter, &asterisk_id, batch).await {
                    break Ended::WriteFailed { unsent };
                }
            }
            Some(reply) = replies.recv() => {
                if !write(settings, socket.send(Frame::Text(reply))).await {
                    break Ended::WriteFailed { unsent: Vec::new() };
                }
            }
            _ = notified(overflow.as_deref()) => break Ended::TooSlow,
            _ = notified(stop.as_deref()) => break Ended::Stopped,
            _ = tick(pings.as_mut()) => {
                if unanswered >= settings.ping_probes.max(1) {
                    tracing::info!(unanswered, "ARI WebSocket peer does not answer pings: closing");
                    break Ended::PingTimeout;
                }
                unanswered += 1;
                if !write(settings, socket.send(Frame::Ping(Bytes::from_static(PING_PAYLOAD)))).await {
                    break Ended::WriteFailed { unsent: Vec::new() };
                }
            }
            incoming = socket.next(), if requests.capacity() > 0 => {
                unanswered = 0;
                match incoming {
                    Some(Err(error)) if error.too_big => {
                        tracing::info!(limit = super::rest_over_ws::MAX_MESSAGE, "ARI WebSocket message too large: closing (1009)");
                        let _ = write(settings, socket.send(Frame::CloseTooBig)).await;
                        break Ended::PeerClosed;
                    }
                    None | Some(Err(_)) | Some(Ok(Frame::Close)) => break Ended::PeerClosed,
                    Some(Ok(Frame::Text(text))) => {
                        // Room was checked before reading.
                        if requests.try_send(text).is_err() {
                            tracing::warn!("REST over WebSocket request dropped: worker gone");
                        }
                    }
                    Some(Ok(_)) => {}
                }
            }
        }
    };
    drop(requests);
    worker.abort();
    ended
}

/// Writes a batch (see [`write_events`]) and counts it on the socket's meter once written.
async fn send_batch<S>(
    socket: &mut S,
    settings: &SessionSettings,
    meter: &SocketMeter,
    asterisk_id: &str,
    batch: Vec<Queued>,
) -> Result<(), Vec<Queued>>
where
    S: Sink<Frame, Error = SocketError> + Unpin,
{
    let written = batch.len() as u64;
    write_events(socket, settings, asterisk_id, batch).await?;
    meter.sent(written);
    Ok(())
}

async fn notified(notify: Option<&Notify>) {
    match notify {
        Some(notify) => notify.notified().await,
        None => std::future::pending().await,
    }
}

async fn tick(interval: Option<&mut tokio::time::Interval>) {
    match interval {
        Some(interval) => {
            interval.tick().await;
        }
        None => std::future::pending().await,
    }
}

/// Runs the socket's requests one at a time, in order, and hands back the reply frames.
async fn rest_worker(
    context: SessionContext,
    asterisk_id: String,
    mut requests: mpsc::Receiver<String>,
    replies: mpsc::Sender<String>,
) {
    while let Some(text) = requests.recv().await {
        let reply = rest_over_ws::answer(&context.ari, &context.auth, &text).await;
        let frame = reply.to_frame(&context.application, &asterisk_id, context.settings.pretty);
        if replies.send(frame).await.is_err() {
            return;
        }
    }
}

/// Writes a batch of events and flushes; on failure returns the batch.
async fn write_events<S>(
    socket: &mut S,
    settings: &SessionSettings,
    asterisk_id: &str,
    batch: Vec<Queued>,
) -> Result<(), Vec<Queued>>
where
    S: Sink<Frame, Error = SocketError> + Unpin,
{
    for (app, event) in &batch {
        let text = if settings.pretty {
            serde_json::to_string_pretty(&event.to_json(app, asterisk_id)).unwrap_or_default()
        } else {
            event.to_json_string(app, asterisk_id)
        };
        if !text.is_empty() && !write(settings, socket.feed(Frame::Text(text))).await {
            return Err(batch);
        }
    }
    if !write(settings, socket.flush()).await {
        return Err(batch);
    }
    Ok(())
}

/// `first` and the events queued behind it, at most [`MAX_BATCH`] in all; the rest stay
/// queued for the next batch.
pub(crate) fn batch(first: Queued, rx: &mut mpsc::Receiver<Queued>) -> Vec<Queued> {
    let mut batch = Vec::with_capacity(8);
    batch.push(first);
    while batch.len() < MAX_BATCH {
        match rx.try_recv() {
            Ok(queued) => batch.push(queued),
            Err(_) => break,
        }
    }
    batch
}

/// One write to the socket within `websocket_write_timeout`; false (logged) when it failed
/// or timed out and the session must close.
async fn write(
    settings: &SessionSettings,
    operation: impl Future<Output = Result<(), SocketError>>,
) -> bool {
    match tokio::time::timeout(settings.write_timeout, operation).await {
        Ok(Ok(())) => true,
        Ok(Err(error)) => {
            tracing::info!(%error, "ARI WebSocket write failed: closing");
            false
        }
        Err(_) => {
            tracing::warn!(
                timeout_ms = settings.write_timeout.as_millis() as u64,
                "ARI WebSocket write timed out (websocket_write_timeout): closing"
            );
            false
        }
    }
}

/// The inbound (axum) socket seen as [`Frame`]s.
pub(crate) fn axum_frames(
    socket: axum::extract::ws::WebSocket,
) -> impl Stream<Item = Result<Frame, SocketError>> + Sink<Frame, Error = SocketError> + Unpin {
    use axum::extract::ws::Message;
    socket
        .map(|incoming| {
            incoming.map_err(SocketError::from).map(|m| match m {
                Message::Text(text) => Frame::Text(text.as_str().to_string()),
                Message::Ping(data) => Frame::Ping(data),
                Message::Pong(data) => Frame::Pong(data),
                Message::Close(_) => Frame::Close,
                Message::Binary(_) => Frame::Other,
            })
        })
        .sink_map_err(SocketError::from)
        .with(|frame: Frame| {
            std::future::ready(Ok::<_, SocketError>(match frame {
                Frame::Text(text) => Message::Text(text.into()),
                Frame::Ping(data) => Message::Ping(data),
                Frame::Pong(data) => Message::Pong(data),
                Frame::CloseTooBig => Message::Close(Some(axum::extract::ws::CloseFrame {
                    code: axum::extract::ws::close_code::SIZE,
                    reason: TOO_BIG_REASON.into(),
                })),
                Frame::Close | Frame::Other => Message::Close(None),
            }))
        })
}

/// An outbound (tokio-tungstenite) socket seen as [`Frame`]s.
pub(crate) fn tungstenite_frames<T>(
    socket: tokio_tungstenite::WebSocketStream<T>,
) -> impl Stream<Item = Result<Frame, SocketError>> + Sink<Frame, Error = SocketError> + Unpin
where
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    use tokio_tungstenite::tungstenite::Message;
    socket
        .map(|incoming| {
            incoming.map_err(SocketError::from).map(|m| match m {
                Message::Text(text) => Frame::Text(text.as_str().to_string()),
                Message::Ping(data) => Frame::Ping(data),
                Message::Pong(data) => Frame::Pong(data),
                Message::Close(_) => Frame::Close,
                Message::Binary(_) | Message::Frame(_) => Frame::Other,
            })
        })
        .sink_map_err(SocketError::from)
        .with(|frame: Frame| {
            std::future::ready(Ok::<_, SocketError>(match frame {
                Frame::Text(text) => Message::Text(text.into()),
                Frame::Ping(data) => Message::Ping(data),
                Frame::Pong(data) => Message::Pong(data),
                Frame::CloseTooBig => Message::Close(Some(
                    tokio_tungstenite::tungstenite::protocol::CloseFrame {
                        code: tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode::Size,
                        reason: TOO_BIG_REASON.into(),
                    },
                )),
                Frame::Close | Frame::Other => Message::Close(None),
            }))
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::event::{Event, Scope};

    #[test]
    fn batches_take_every_queued_event_once_in_order() {
        let (tx, mut rx) = mpsc::channel::<Queued>(1000);
        let queued = |n: usize| -> Queued {
            let event = Event::new("UserEvent", Scope::app("a")).with("n", serde_json::json!(n));
            (Arc::from("a"), Arc::new(event))
        };
        for n in 1..=MAX_BATCH + 10 {
            tx.try_send(queued(n)).expect("room");
        }
        let mut seen = Vec::new();
        while let Ok(first) = rx.try_recv() {
            let batch = batch(first, &mut rx);
            assert!(batch.len() <= MAX_BATCH);
            seen.extend(
                batch
                    .iter()
                    .map(|(_, e)| e.json("n").and_then(|n| n.as_u64()).unwrap_or(0)),
            );
        }
        let expected: Vec<u64> = (1..=(MAX_BATCH + 10) as u64).collect();
        assert_eq!(seen, expected, "no event lost or repeated");
    }
}
