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

use super::sink::{QUEUE_CAPACITY, QueueReceiver, queue};
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
                let Some(mut next) = queued else { break };
                // Every event already queued goes out in one flush: a frame each, written
                // to the socket together rather than one write per event.
                for _ in 0..MAX_BATCH {
                    let (app, event) = next;
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
                    match queue.rx.try_recv() {
                        Ok(queued) => next = queued,
                        Err(_) => break,
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
