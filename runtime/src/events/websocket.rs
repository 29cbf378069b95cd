//! The inbound events WebSocket, `GET /ari/events?app=a,b[&subscribeAll=true]`.
//!
//! The ARI pipeline authenticates the upgrade request like any other; the applications are
//! registered before the 101 is sent (events produced meanwhile wait in the queue); then
//! every event is written as one JSON text frame within `websocket_write_timeout`. A consumer
//! that cannot keep up is disconnected without slowing anyone else; when the socket closes,
//! its applications lose their handler.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::FromRequestParts;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::response::{IntoResponse, Response};
use futures_util::SinkExt;
use http::request::Parts;

use tokio::sync::mpsc;

use super::sink::{QUEUE_CAPACITY, QueueReceiver, Queued, queue};
use crate::ari::{AriError, AriResponse, UpgradeGrant};
use crate::core::Core;

/// What the session needs to know.
#[derive(Debug, Clone)]
pub struct SessionSettings {
    pub write_timeout: Duration,
    pub pretty: bool,
}

/// Validates the WebSocket parameters, registers the applications and upgrades. Returns the
/// ARI error response to send instead when something is wrong.
pub async fn upgrade(
    core: Arc<Core>,
    settings: SessionSettings,
    grant: UpgradeGrant,
    mut parts: Parts,
) -> Result<Response, AriResponse> {
    let apps: Vec<String> = grant
        .params
        .list("app")
        .map_err(AriResponse::from)?
        .unwrap_or_default()
        .into_iter()
        .map(|a| a.trim().to_string())
        .filter(|a| !a.is_empty())
        .collect();
    if apps.is_empty() {
        return Err(AriError::bad_request("HTTP request is missing param: [app]").into());
    }
    if let Some(offered) = parts.headers.get(http::header::SEC_WEBSOCKET_PROTOCOL) {
        let offered = offered.to_str().unwrap_or_default();
        if !offered.split(',').any(|p| p.trim() == "ari") {
            return Err(AriError::bad_request(format!(
                "Unsupported WebSocket subprotocol '{offered}': the only protocol is 'ari'"
            ))
            .into());
        }
    }
    let subscribe_all = grant.params.boolean("subscribeAll").unwrap_or(false);
    let ws = match WebSocketUpgrade::from_request_parts(&mut parts, &()).await {
        Ok(ws) => ws,
        Err(rejection) => {
            let response = rejection.into_response();
            tracing::info!(
                status = response.status().as_u16(),
                "WebSocket upgrade refused"
            );
            return Ok(response);
        }
    };
    let (sink, receiver) = queue(QUEUE_CAPACITY);
    core.register_apps(&apps, sink, subscribe_all)
        .map_err(|e| AriResponse::from(AriError::from(e)))?;
    tracing::info!(?apps, user = %grant.user.name, subscribe_all, "events WebSocket connected");
    let sink_id = receiver.id;
    let failed_core = core.clone();
    Ok(ws
        .protocols(["ari"])
        .on_failed_upgrade(move |error| {
            tracing::info!(%error, "WebSocket upgrade failed");
            failed_core.detach_sink(sink_id);
        })
        .on_upgrade(move |socket| session(socket, core, receiver, settings)))
}

async fn session(
    mut socket: WebSocket,
    core: Arc<Core>,
    mut queue: QueueReceiver,
    settings: SessionSettings,
) {
    let asterisk_id = core.system().entity_id.clone();
    'session: loop {
        tokio::select! {
            queued = queue.rx.recv() => {
                let Some(first) = queued else { break };
                // Every event already queued (up to MAX_BATCH) goes out in one flush: a
                // frame each, written to the socket together rather than one write each.
                for (app, event) in batch(first, &mut queue.rx) {
                    let text = if settings.pretty {
                        serde_json::to_string_pretty(&event.to_json(&app, &asterisk_id))
                            .unwrap_or_default()
                    } else {
                        event.to_json_string(&app, &asterisk_id)
                    };
                    if !text.is_empty()
                        && !write(&settings, socket.feed(Message::Text(text.into()))).await
                    {
                        break 'session;
                    }
                }
                if !write(&settings, socket.flush()).await {
                    break;
                }
            }
            _ = queue.overflow.notified() => {
                tracing::warn!(capacity = QUEUE_CAPACITY, "events WebSocket consumer is too slow (queue full): closing");
                break;
            }
            incoming = socket.recv() => match incoming {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => break,
                Some(Ok(_)) => {}
            },
        }
    }
    core.detach_sink(queue.id);
    tracing::info!("events WebSocket closed");
}

/// Most events written before one flush.
const MAX_BATCH: usize = 64;

/// `first` and the events queued behind it, at most [`MAX_BATCH`] in all; the rest stay
/// queued for the next batch.
fn batch(first: Queued, rx: &mut mpsc::Receiver<Queued>) -> Vec<Queued> {
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
    operation: impl Future<Output = Result<(), axum::Error>>,
) -> bool {
    match tokio::time::timeout(settings.write_timeout, operation).await {
        Ok(Ok(())) => true,
        Ok(Err(error)) => {
            tracing::info!(%error, "events WebSocket write failed: closing");
            false
        }
        Err(_) => {
            tracing::warn!(
                timeout_ms = settings.write_timeout.as_millis() as u64,
                "events WebSocket write timed out (websocket_write_timeout): closing"
            );
            false
        }
    }
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
                    .map(|(_, e)| e.fields["n"].as_u64().unwrap_or(0)),
            );
        }
        let expected: Vec<u64> = (1..=(MAX_BATCH + 10) as u64).collect();
        assert_eq!(seen, expected, "no event lost or repeated");
    }
}
