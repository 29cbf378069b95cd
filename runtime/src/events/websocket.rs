//! The inbound events WebSocket, `GET /ari/events?app=a,b[&subscribeAll=true]`.
//!
//! The ARI pipeline authenticates the upgrade request like any other; the handshake is then
//! checked as Asterisk's WebSocket layer checks it, and the `app` list as its events
//! resource reads it; the user's socket and name caps are taken ([`super::user_sockets`],
//! 429 over them) and the applications registered under the ownership rules
//! ([`crate::core::stasis::apps`], 403 or 409 when refused) before the 101 is sent (events
//! produced meanwhile wait in the queue); then the socket runs an ARI [`session`] (events
//! out, REST over WebSocket in, pings). A consumer that cannot keep up is disconnected
//! without slowing anyone else; when the socket closes, its applications lose their handler.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::extract::ws::{WebSocket, WebSocketUpgrade};
use axum::response::{IntoResponse, Response};
use futures_util::SinkExt;
use http::request::Parts;
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};

use super::meter::SocketKind;
use super::rest_over_ws::SocketAuth;
pub(crate) use super::session::SessionSettings;
use super::session::{self, Ended, SessionContext, axum_frames};
use super::sink::{QUEUE_CAPACITY, QueueReceiver, queue};
use super::user_sockets::{SocketSlot, UserSockets};
use crate::ari::{Ari, AriError, AriResponse, UpgradeGrant};
use crate::core::CoreError;
use crate::core::stasis::apps::Claim;

/// How much the socket reads at a time. The WebSocket library zero-fills this much of its
/// buffer before every read attempt, including the many that find nothing to read while
/// events are being written; clients send short frames (larger ones are read in several
/// goes), so 4 KiB instead of the default 128 KiB.
const READ_BUFFER_SIZE: usize = 4096;

/// Checks the handshake as Asterisk's WebSocket layer does, then the events resource's
/// parameters, registers the applications and upgrades. Returns the response to send
/// instead when something is wrong: the WebSocket layer's bare 400 (with the versions it
/// speaks) for the handshake, an error page for the parameters (Asterisk writes two
/// responses back to back there; the first is the one that counts), both without CORS.
pub(crate) async fn upgrade(
    ari: Arc<Ari>,
    settings: SessionSettings,
    sockets: &Arc<UserSockets>,
    grant: UpgradeGrant,
    mut parts: Parts,
) -> Result<Response, AriResponse> {
    let handshake = match Handshake::check(&parts.headers) {
        Ok(handshake) => handshake,
        Err(response) => {
            tracing::info!(
                status = response.status.as_u16(),
                "WebSocket upgrade refused: not a handshake Asterisk accepts"
            );
            return Err(response);
        }
    };
    let apps = match grant.params.first("app").filter(|a| !a.is_empty()) {
        Some(apps) => split_app_names(apps),
        None => {
            tracing::info!("WebSocket upgrade refused: HTTP request is missing param: [app]");
            return Err(AriResponse::page(
                StatusCode::BAD_REQUEST,
                "HTTP request is missing param: [app]",
            ));
        }
    };
    let Some(apps) = apps.filter(|names| {
        names
            .iter()
            .all(|n| !n.is_empty() && n.len() <= crate::core::stasis::apps::MAX_APP_NAME)
    }) else {
        tracing::info!(app = ?grant.params.first("app"), "WebSocket upgrade refused: invalid application names");
        return Err(registration_failed());
    };
    let subscribe_all = grant
        .params
        .first("subscribeAll")
        .is_some_and(crate::config::values::is_true);
    // axum speaks version 13, whose handshake and framing versions 7 and 8 share, and wants
    // the headers Asterisk does not require.
    let headers = &mut parts.headers;
    headers.insert(
        header::SEC_WEBSOCKET_VERSION,
        HeaderValue::from_static("13"),
    );
    headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
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
    let slot = sockets.take(&grant.user, apps.len()).map_err(|over| {
        tracing::info!(
            user = %crate::log_text::Escaped(&grant.user.name),
            peer = ?grant.peer,
            reason = %over,
            "events WebSocket refused: over the user's limit"
        );
        AriResponse::from(AriError::new(
            StatusCode::TOO_MANY_REQUESTS,
            over.to_string(),
        ))
    })?;
    let core = ari.core().clone();
    let (sink, receiver) = queue(QUEUE_CAPACITY, SocketKind::Inbound, &apps);
    let context = SessionContext {
        auth: SocketAuth::granted(grant.user.clone(), grant.peer, &parts.headers),
        application: apps[0].clone(),
        ari,
        settings,
    };
    core.app_host()
        .register_apps(
            &apps,
            sink,
            subscribe_all,
            Claim::Socket((&*grant.user).into()),
        )
        .map_err(|e| match e {
            CoreError::Conflict(_) | CoreError::Forbidden(_) => {
                tracing::info!(
                    user = %crate::log_text::Escaped(&grant.user.name),
                    peer = ?grant.peer,
                    error = %crate::log_text::Escaped(&e.to_string()),
                    "events WebSocket refused"
                );
                AriResponse::from(AriError::from(e))
            }
            other => {
                tracing::info!(error = %other, "WebSocket upgrade refused");
                registration_failed()
            }
        })?;
    tracing::info!(?apps, user = %crate::log_text::Escaped(&grant.user.name), subscribe_all, "events WebSocket connected");
    let sink_id = receiver.id;
    let failed_core = core.clone();
    let mut response = ws
        .read_buffer_size(READ_BUFFER_SIZE)
        .max_message_size(super::rest_over_ws::MAX_MESSAGE)
        .max_frame_size(super::rest_over_ws::MAX_MESSAGE)
        .on_failed_upgrade(move |error| {
            tracing::info!(%error, "WebSocket upgrade failed");
            failed_core.app_host().detach_sink(sink_id);
        })
        .on_upgrade(move |socket| session(socket, context, receiver, slot));
    handshake.answer(response.headers_mut());
    Ok(response)
}

/// A handshake Asterisk's WebSocket layer accepts, and what its 101 echoes.
struct Handshake {
    /// The client's `Upgrade` value, as sent.
    upgrade: HeaderValue,
    /// The subprotocol chosen from the client's list, as the client spelled it.
    protocol: Option<HeaderValue>,
}

impl Handshake {
    /// Asterisk's checks, in its order (the last of repeated headers counts): `Upgrade` is
    /// `websocket` (else 426); an offered subprotocol list contains `ari` in any case (no
    /// list: fine, `ari` is the only one); no draft-76 keys with a list; version 7, 8 or
    /// 13; a key.
    fn check(headers: &HeaderMap) -> Result<Handshake, AriResponse> {
        let last = |name| headers.get_all(name).iter().next_back();
        let upgrade = match last(header::UPGRADE) {
            Some(v) if v.as_bytes().eq_ignore_ascii_case(b"websocket") => v.clone(),
            _ => return Err(AriResponse::page(StatusCode::UPGRADE_REQUIRED, "")),
        };
        let mut protocol = None;
        if let Some(offered) = last(header::SEC_WEBSOCKET_PROTOCOL).filter(|v| !v.is_empty()) {
            if last(HeaderName::from_static("sec-websocket-key1")).is_some()
                && last(HeaderName::from_static("sec-websocket-key2")).is_some()
            {
                return Err(bad_handshake());
            }
            protocol = offered
                .as_bytes()
                .split(|&b| b == b',')
                .map(<[u8]>::trim_ascii)
                .find(|p| p.eq_ignore_ascii_case(b"ari"))
                .and_then(|p| HeaderValue::from_bytes(p).ok());
            if protocol.is_none() {
                return Err(bad_handshake());
            }
        }
        let version = last(header::SEC_WEBSOCKET_VERSION).and_then(|v| leading_int(v.as_bytes()));
        if !matches!(version, Some(7 | 8 | 13)) || last(header::SEC_WEBSOCKET_KEY).is_none() {
            return Err(bad_handshake());
        }
        Ok(Handshake { upgrade, protocol })
    }

    /// Asterisk's 101 headers: `Upgrade` as the client sent it, `Connection: Upgrade`, the
    /// chosen subprotocol.
    fn answer(self, headers: &mut HeaderMap) {
        headers.insert(header::UPGRADE, self.upgrade);
        headers.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
        if let Some(protocol) = self.protocol {
            headers.insert(header::SEC_WEBSOCKET_PROTOCOL, protocol);
        }
    }
}

/// Asterisk's WebSocket layer refusing a handshake: 400, no body, the versions it speaks.
fn bad_handshake() -> AriResponse {
    AriResponse {
        status: StatusCode::BAD_REQUEST,
        headers: vec![(
            header::SEC_WEBSOCKET_VERSION,
            HeaderValue::from_static("7, 8, 13"),
        )],
        body: crate::ari::Body::Empty,
    }
}

/// An application list that cannot be registered.
fn registration_failed() -> AriResponse {
    AriResponse::page(
        StatusCode::INTERNAL_SERVER_ERROR,
        "Stasis app registration failed",
    )
}

/// A number as C's `%d` reads it: blanks, an optional sign, digits; the rest ignored.
fn leading_int(text: &[u8]) -> Option<i64> {
    let text = text.trim_ascii_start();
    let (negative, digits) = match text.first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let end = digits
        .iter()
        .position(|b| !b.is_ascii_digit())
        .unwrap_or(digits.len());
    let value: i64 = std::str::from_utf8(&digits[..end.min(18)])
        .ok()?
        .parse()
        .ok()?;
    Some(if negative { -value } else { value })
}

/// Splits the `app` value as Asterisk does: at commas outside single or double quotes (a
/// backslash escapes the next character), each name trimmed and stripped of one pair of
/// enclosing quotes. An empty item (`a,,b`, a trailing comma) stays, to be refused. `None`
/// when quotes nest too deep to follow.
fn split_app_names(apps: &str) -> Option<Vec<String>> {
    let bytes = apps.as_bytes();
    let mut names = Vec::new();
    let mut start = 0;
    let mut quotes: Vec<u8> = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 1,
            q @ (b'\'' | b'"') => {
                if quotes.last() == Some(&q) {
                    quotes.pop();
                } else if quotes.len() >= 7 {
                    return None;
                } else {
                    quotes.push(q);
                }
            }
            b',' if quotes.is_empty() => {
                names.push(strip_name(&apps[start..i]));
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    names.push(strip_name(apps.get(start..).unwrap_or("")));
    Some(names)
}

/// Trims a name and removes one pair of enclosing quotes (a lone quote included).
fn strip_name(name: &str) -> String {
    let name = name.trim();
    match name.chars().next() {
        Some('"' | '\'') if name.len() == 1 => String::new(),
        Some(q @ ('"' | '\'')) if name.ends_with(q) => name[1..name.len() - 1].to_string(),
        _ => name.to_string(),
    }
}

/// Runs the socket until it closes; `slot` counts it against its user's limits until then.
async fn session(
    socket: WebSocket,
    context: SessionContext,
    mut queue: QueueReceiver,
    slot: SocketSlot,
) {
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
    core.app_host().detach_sink(queue.id);
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
    drop(slot);
    tracing::info!(reason = ended.reason(), "events WebSocket closed");
}
