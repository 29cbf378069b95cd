//! The inbound events WebSocket, `GET /ari/events?app=a,b[&subscribeAll=true]`.
//!
//! The ARI pipeline authenticates the upgrade request like any other; the applications are
//! registered before the 101 is sent (events produced meanwhile wait in the queue); then
//! the socket runs an ARI [`session`] (events out, REST over WebSocket in, pings). A
//! consumer that cannot keep up is disconnected without slowing anyone else; when the
//! socket closes, its applications lose their handler.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::extract::ws::{WebSocket, WebSocketUpgrade};
use axum::response::{IntoResponse, Response};
use futures_util::SinkExt;
use http::request::Parts;

use super::meter::SocketKind;
use super::rest_over_ws::SocketAuth;
pub use super::session::SessionSettings;
use super::session::{self, Ended, SessionContext, axum_frames};
use super::sink::{QUEUE_CAPACITY, QueueReceiver, queue};
use crate::ari::{Ari, AriError, AriResponse, UpgradeGrant};

/// How much the socket reads at a time. The WebSocket library zero-fills this much of its
/// buffer before every read attempt, including the many that find nothing to read while
/// events are being written; clients send short frames (larger ones are read in several
/// goes), so 4 KiB instead of the default 128 KiB.
const READ_BUFFER_SIZE: usize = 4096;

/// Validates the WebSocket parameters, registers the applications and upgrades. Returns the
/// ARI error response to send instead when something is wrong.
pub async fn upgrade(
    ari: Arc<Ari>,
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
    let core = ari.core().clone();
    let (sink, receiver) = queue(QUEUE_CAPACITY, SocketKind::Inbound, &apps);
    let context = SessionContext {
        auth: SocketAuth::from_upgrade(&parts.headers, parts.uri.query()),
        application: apps[0].clone(),
        ari,
        settings,
    };
    core.register_apps(&apps, sink, subscribe_all)
        .map_err(|e| AriResponse::from(AriError::from(e)))?;
    tracing::info!(?apps, user = %grant.user.name, subscribe_all, "events WebSocket connected");
    let sink_id = receiver.id;
    let failed_core = core.clone();
    Ok(ws
        .protocols(["ari"])
        .read_buffer_size(READ_BUFFER_SIZE)
        .on_failed_upgrade(move |error| {
            tracing::info!(%error, "WebSocket upgrade failed");
            failed_core.detach_sink(sink_id);
        })
        .on_upgrade(move |socket| session(socket, context, receiver)))
}

async fn session(socket: WebSocket, context: SessionContext, mut queue: QueueReceiver) {
    let core = context.ari.core().clone();
    let mut frames = axum_frames(socket);
    let ended = session::run(
        &mut frames,
        &context,
        &queue.meter,
        &mut queue.rx,
        Vec::new(),
        Some(queue.overflow.clone()),
        None,
    )
    .await;
    if matches!(ended, Ended::TooSlow) {
        tracing::warn!(
            capacity = QUEUE_CAPACITY,
            "events WebSocket consumer is too slow (queue full): closing"
        );
    }
    core.detach_sink(queue.id);
    // Events of a failed write and events still queued never reach this consumer.
    let unsent = match &ended {
        Ended::WriteFailed { unsent } => unsent.len(),
        _ => 0,
    };
    queue.meter.dropped((unsent + queue.rx.len()) as u64);
    if !matches!(ended, Ended::WriteFailed { .. }) {
        // A peer that stopped reading cannot hold the task: the close gets one write timeout.
        let _ = tokio::time::timeout(context.settings.write_timeout, frames.close()).await;
    }
    tracing::info!(reason = ended.reason(), "events WebSocket closed");
}
