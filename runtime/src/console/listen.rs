//! Listen-in: the console's page plays a live call's audio, as FusionPBX's eavesdrop does
//! without a phone.
//!
//! `POST /api/listen` with `{"channel": id}` (a read/write user, CSRF-checked) asks the
//! core for a snoop channel on the target and a `WebSocket` media channel joined to it
//! ([`crate::core::listen`]), both counted against the user's `max_channels`, and answers
//! `{"id": ..., "snoop": ..., "media": ...}`. The page then opens a WebSocket on
//! `GET /api/listen/<id>`: that upgrade needs the same session's cookie, an `Origin` that
//! is this wari (the `Host` it was asked on), and the session's CSRF token offered as the
//! subprotocol `wari-csrf.<token>` beside `media`; it is then served as `/media/<id>` is
//! ([`crate::http::media_ws`]): µ-law, 20 ms per binary message, after `MEDIA_START`.
//!
//! A listen id is good for one connection from the session that asked for it. When the
//! page does not connect within [`CONNECT_WITHIN`], the channels are hung up. Closing the
//! WebSocket (the page's Stop, or the page going away) hangs the media channel up, and
//! with it the snoop channel; the target's hang-up ends both and closes the WebSocket.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::Duration;

use axum::extract::Request;
use axum::response::Response;
use http::{StatusCode, header};
use http_body_util::BodyExt;

use super::session::{self, Session};
use super::{json, message};
use crate::core::CoreError;
use crate::http::front::Front;
use crate::log_text::Escaped;

/// How long a listen waits for the page's WebSocket before its channels are hung up.
///
/// Not an option, nor is [`MAX_WAITING`]: the page connects as soon as its own `POST`
/// is answered, so this only bounds how long an abandoned listen's channels stay, and
/// the waiting list only bounds memory; what an operator controls is the user's
/// `max_channels` (ari.conf), which each listen's two channels count against.
pub(crate) const CONNECT_WITHIN: Duration = Duration::from_secs(10);
/// The subprotocol prefix that carries the CSRF token on the WebSocket upgrade.
const CSRF_PROTOCOL: &str = "wari-csrf.";
/// Most listens waiting for their WebSocket at once (each is gone within
/// [`CONNECT_WITHIN`]).
const MAX_WAITING: usize = 256;

/// A listen waiting for its page's WebSocket.
#[derive(Debug, Clone)]
struct Waiting {
    /// The CSRF token of the session that asked (which identifies the session).
    csrf: String,
    /// The media channel's connection id.
    connection: String,
}

/// The listens waiting for their WebSocket, by listen id.
#[derive(Debug, Default)]
pub(crate) struct Listens {
    waiting: Mutex<HashMap<String, Waiting>>,
}

impl Listens {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Waiting>> {
        self.waiting.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// `POST /api/listen`: starts listening in on a channel for the session's user.
pub(crate) async fn start(front: &Front, request: Request, session: &Session) -> Response {
    if session.user.read_only {
        tracing::info!(user = %Escaped(&session.user.name), "console listen-in refused: read-only user");
        return message(StatusCode::FORBIDDEN, "Write access denied");
    }
    let body = match http_body_util::Limited::new(request.into_body(), 4096)
        .collect()
        .await
    {
        Ok(collected) => collected.to_bytes(),
        Err(_) => return message(StatusCode::BAD_REQUEST, "Send {\"channel\": id}"),
    };
    let asked = serde_json::from_slice::<serde_json::Value>(&body).unwrap_or_default();
    let Some(channel) = asked["channel"].as_str() else {
        return message(StatusCode::BAD_REQUEST, "Send {\"channel\": id}");
    };
    if front.console.listens.lock().len() >= MAX_WAITING {
        return message(
            StatusCode::SERVICE_UNAVAILABLE,
            "Too many listen-ins starting at once: try again",
        );
    }
    let core = front.ari.core();
    let owner = core.quotas().account(&session.user.name);
    let listening = match core.control().listen_in(channel, owner) {
        Ok(listening) => listening,
        Err(error) => {
            let error = crate::ari::AriError::from(error);
            tracing::info!(user = %Escaped(&session.user.name), channel = %Escaped(channel), status = error.status.as_u16(), "console listen-in refused");
            return message(error.status, &error.message);
        }
    };
    let id = uuid::Uuid::new_v4().to_string();
    front.console.listens.lock().insert(
        id.clone(),
        Waiting {
            csrf: session.csrf.clone(),
            connection: listening.connection.clone(),
        },
    );
    tracing::info!(user = %Escaped(&session.user.name), channel = %Escaped(channel), media = %listening.media, "console listen-in started");
    let console = front.console.clone();
    let core = core.clone();
    let (listen, media) = (id.clone(), listening.media.clone());
    tokio::spawn(async move {
        tokio::time::sleep(CONNECT_WITHIN).await;
        // Whether or not its id was used (an upgrade may have failed), a media channel
        // still Down has no page.
        console.listens.lock().remove(&listen);
        let control = core.control();
        let down = control
            .get_channel(&media)
            .is_ok_and(|snapshot| snapshot["state"] == "Down");
        if down {
            tracing::info!(%media, "console listen-in: the page did not connect, hanging up");
            match control.hangup(&media, crate::core::cause::NORMAL_CLEARING) {
                Ok(()) | Err(CoreError::NotFound(_)) => {}
                Err(error) => tracing::warn!(%media, %error, "console listen-in: hang-up failed"),
            }
        }
    });
    json(
        StatusCode::OK,
        &serde_json::json!({
            "id": id,
            "snoop": listening.snoop,
            "media": listening.media,
        }),
    )
}

/// Whether the request's `Origin` is this wari: the origin's host (with its port) is the
/// `Host` the request was sent to.
fn same_origin(headers: &http::HeaderMap) -> bool {
    let (Some(origin), Some(host)) = (
        headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()),
        headers.get(header::HOST).and_then(|v| v.to_str().ok()),
    ) else {
        return false;
    };
    origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"))
        .is_some_and(|o| o.eq_ignore_ascii_case(host))
}

/// Whether the offered subprotocols carry the session's CSRF token.
fn csrf_offered(headers: &http::HeaderMap, csrf: &str) -> bool {
    headers
        .get_all(header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .flat_map(|v| v.as_bytes().split(|&b| b == b','))
        .filter_map(|p| p.trim_ascii().strip_prefix(CSRF_PROTOCOL.as_bytes()))
        .any(|token| session::csrf_matches(csrf, token))
}

/// `GET /api/listen/<id>`: the page's WebSocket for the listen `id` (see the module).
pub(crate) fn socket(
    front: &Front,
    request: Request,
    id: &str,
    session: &Session,
    peer: Option<SocketAddr>,
) -> Response {
    let headers = request.headers();
    if !same_origin(headers) || !csrf_offered(headers, &session.csrf) {
        tracing::info!(user = %Escaped(&session.user.name), peer = ?peer, "console listen-in WebSocket refused: wrong origin or CSRF token");
        return message(
            StatusCode::FORBIDDEN,
            "Missing or wrong CSRF token: reload the console",
        );
    }
    let connection = {
        let mut listens = front.console.listens.lock();
        match listens.get(id) {
            Some(waiting) if waiting.csrf == session.csrf => {
                listens.remove(id).map(|w| w.connection)
            }
            _ => None,
        }
    };
    let Some(connection) = connection else {
        tracing::info!(user = %Escaped(&session.user.name), listen = %Escaped(id), "console listen-in WebSocket refused: no such listen for this session");
        return message(StatusCode::NOT_FOUND, "No such listen-in");
    };
    crate::http::media_ws::serve(&front.media, &connection, request, peer)
}

/// The listen id of a `/api/listen/<id>` path.
pub(crate) fn listen_id(sub: &str) -> Option<&str> {
    let id = sub.strip_prefix("/api/listen/")?;
    (!id.is_empty() && !id.contains('/')).then_some(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> http::HeaderMap {
        let mut map = http::HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, http::HeaderValue::from_str(value).expect("value"));
        }
        map
    }

    #[test]
    fn the_origin_must_be_the_host_asked() {
        let ok = headers(&[
            ("origin", "http://127.0.0.1:8088"),
            ("host", "127.0.0.1:8088"),
        ]);
        assert!(same_origin(&ok));
        let tls = headers(&[("origin", "https://pbx.example"), ("host", "PBX.example")]);
        assert!(same_origin(&tls));
        let other = headers(&[
            ("origin", "http://evil.example"),
            ("host", "127.0.0.1:8088"),
        ]);
        assert!(!same_origin(&other));
        let port = headers(&[("origin", "http://127.0.0.1:9"), ("host", "127.0.0.1:8088")]);
        assert!(!same_origin(&port));
        assert!(!same_origin(&headers(&[("host", "127.0.0.1:8088")])));
        let null = headers(&[("origin", "null"), ("host", "127.0.0.1:8088")]);
        assert!(!same_origin(&null));
    }

    #[test]
    fn the_csrf_token_rides_in_a_subprotocol() {
        let offered = headers(&[("sec-websocket-protocol", "media, wari-csrf.abc_-9")]);
        assert!(csrf_offered(&offered, "abc_-9"));
        assert!(!csrf_offered(&offered, "abc"));
        assert!(!csrf_offered(
            &headers(&[("sec-websocket-protocol", "media")]),
            "abc"
        ));
        assert!(!csrf_offered(&headers(&[]), ""));
    }

    #[test]
    fn listen_paths() {
        assert_eq!(listen_id("/api/listen/abc"), Some("abc"));
        assert_eq!(listen_id("/api/listen/"), None);
        assert_eq!(listen_id("/api/listen/a/b"), None);
        assert_eq!(listen_id("/api/listens/a"), None);
    }
}
