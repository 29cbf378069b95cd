//! `/media/<connection id>` (under http.conf's prefix, as Asterisk serves every URI): where
//! an application connects the WebSocket of a media channel made with `externalMedia`,
//! `transport=websocket`, `connection_type=server`. As in Asterisk, the connection id is
//! the only credential: an id no channel waits for is 404, one already connected 409,
//! then a request that is not a WebSocket upgrade is 426. The subprotocol is `media`
//! (optional; a list offered without it is refused with 400). The upgraded connection is
//! handed to the channel ([`crate::core::tech::websocket_media`]).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::Request;
use axum::response::Response;
use http::{HeaderValue, StatusCode, header};
use hyper_util::rt::TokioIo;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};

use crate::core::tech::websocket_media::io::MAX_MESSAGE;
use crate::core::tech::websocket_media::{MediaSocket, MediaSockets, Refused};
use crate::log_text::Escaped;

/// The connection id of a media path, if `path` is one.
pub(crate) fn connection_id<'p>(path: &'p str, prefix: &str) -> Option<&'p str> {
    let id = super::front::after_prefix(path, prefix)?.strip_prefix("/media/")?;
    (!id.is_empty() && !id.contains('/')).then_some(id)
}

fn answer(status: StatusCode, text: &'static str) -> Response {
    let mut response = Response::new(Body::from(text));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    response
}

/// Serves an upgrade to the media WebSocket `id`.
pub(crate) fn serve(
    sockets: &Arc<MediaSockets>,
    id: &str,
    mut request: Request,
    peer: Option<SocketAddr>,
) -> Response {
    let claim = match sockets.claim(id) {
        Ok(claim) => claim,
        Err(refused) => {
            tracing::info!(peer = ?peer, connection = %Escaped(id), reason = %refused, "media WebSocket refused");
            return match refused {
                Refused::NotFound => answer(StatusCode::NOT_FOUND, "WebSocket instance not found"),
                Refused::Taken => answer(
                    StatusCode::CONFLICT,
                    "Another websocket connection exists for this connection id",
                ),
            };
        }
    };
    let headers = request.headers();
    let last = |name| headers.get_all(name).iter().next_back();
    let upgrade =
        last(header::UPGRADE).is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"websocket"));
    if !upgrade {
        return answer(StatusCode::UPGRADE_REQUIRED, "");
    }
    let version_ok = last(header::SEC_WEBSOCKET_VERSION)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| matches!(v.trim(), "7" | "8" | "13"));
    let Some(key) = last(header::SEC_WEBSOCKET_KEY).filter(|_| version_ok) else {
        tracing::info!(peer = ?peer, "media WebSocket refused: not a WebSocket handshake");
        let mut response = answer(StatusCode::BAD_REQUEST, "");
        response.headers_mut().insert(
            header::SEC_WEBSOCKET_VERSION,
            HeaderValue::from_static("7, 8, 13"),
        );
        return response;
    };
    let accept = derive_accept_key(key.as_bytes());
    let protocol = match last(header::SEC_WEBSOCKET_PROTOCOL).filter(|v| !v.is_empty()) {
        None => None,
        Some(offered) => {
            let chosen = offered
                .as_bytes()
                .split(|&b| b == b',')
                .map(<[u8]>::trim_ascii)
                .find(|p| p.eq_ignore_ascii_case(b"media"))
                .and_then(|p| HeaderValue::from_bytes(p).ok());
            if chosen.is_none() {
                tracing::info!(peer = ?peer, "media WebSocket refused: subprotocol 'media' not offered");
                return answer(StatusCode::BAD_REQUEST, "");
            }
            chosen
        }
    };
    let on_upgrade = hyper::upgrade::on(&mut request);
    let channel = claim.channel().unwrap_or_default().to_string();
    tracing::info!(peer = ?peer, %channel, "media WebSocket accepted");
    tokio::spawn(async move {
        match on_upgrade.await {
            Ok(upgraded) => {
                let config = WebSocketConfig::default()
                    .max_message_size(Some(MAX_MESSAGE))
                    .max_frame_size(Some(MAX_MESSAGE));
                let socket = WebSocketStream::from_raw_socket(
                    TokioIo::new(upgraded),
                    Role::Server,
                    Some(config),
                )
                .await;
                let socket: MediaSocket = Box::new(socket);
                claim.attach(socket);
            }
            Err(error) => {
                tracing::info!(%channel, %error, "media WebSocket upgrade failed");
            }
        }
    });
    let mut response = Response::new(Body::empty());
    *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let headers = response.headers_mut();
    headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    headers.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
    if let Ok(accept) = HeaderValue::from_str(&accept) {
        headers.insert(header::SEC_WEBSOCKET_ACCEPT, accept);
    }
    if let Some(protocol) = protocol {
        headers.insert(header::SEC_WEBSOCKET_PROTOCOL, protocol);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_paths_under_the_prefix() {
        assert_eq!(connection_id("/media/abc", ""), Some("abc"));
        assert_eq!(
            connection_id("/asterisk/media/abc", "/asterisk"),
            Some("abc")
        );
        assert_eq!(connection_id("/media/abc", "/asterisk"), None);
        assert_eq!(connection_id("/media/", ""), None);
        assert_eq!(connection_id("/media/a/b", ""), None);
        assert_eq!(connection_id("/ari/media/abc", ""), None);
    }
}
