//! What the console's buttons do.
//!
//! `/api/ari/...` runs an ARI request through the ARI pipeline as the logged-in user,
//! exactly as if the user had sent it over ARI: hang-up is `DELETE /channels/{id}`, the
//! test call `POST /channels`, the applications view `GET /applications` and `GET /wasm`.
//! The pipeline applies the user's ACL, refuses read-only users anything but reads (403
//! `{"message": ...}`) and counts what is made against the user's quotas. `/api/keys` asks
//! the core to have a simulated phone's user press keys
//! ([`crate::core::control::ControlApi::press_keys`]).

use std::net::SocketAddr;

use axum::extract::Request;
use axum::response::Response;
use bytes::Bytes;
use http::{StatusCode, header};
use http_body_util::BodyExt;

use super::message;
use super::session::Session;
use crate::ari::{AriError, AriRequest};
use crate::http::front::{Front, MAX_BODY, to_http};

/// Reads a request's body (JSON or a form, at most ARI's body limit).
async fn body(request: Request) -> Result<(http::request::Parts, Bytes), Response> {
    let (parts, body) = request.into_parts();
    match http_body_util::Limited::new(body, MAX_BODY).collect().await {
        Ok(collected) => Ok((parts, collected.to_bytes())),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => Err(message(
            StatusCode::PAYLOAD_TOO_LARGE,
            "Request body too large",
        )),
        Err(_) => Err(message(
            StatusCode::BAD_REQUEST,
            "Error reading request body",
        )),
    }
}

/// Runs `{method} /ari{path}` as the session's user.
pub(crate) async fn ari(
    front: &Front,
    request: Request,
    path: String,
    session: &Session,
    peer: Option<SocketAddr>,
) -> Response {
    let (mut parts, bytes) = match body(request).await {
        Ok(read) => read,
        Err(refusal) => return refusal,
    };
    // The session is the credential: nothing else in the request may claim to be one.
    parts.headers.remove(header::AUTHORIZATION);
    parts.headers.remove(header::COOKIE);
    let mut ari_request = AriRequest::from_http(parts, path, bytes, peer);
    if ari_request
        .query
        .as_deref()
        .is_some_and(|q| q.split('&').any(|p| p.starts_with("api_key=")))
    {
        return message(StatusCode::BAD_REQUEST, "No credentials in console URLs");
    }
    ari_request.trusted_user = Some(session.user.clone());
    let response = front.ari.handle(ari_request).await;
    if response.status.is_client_error() {
        tracing::info!(
            user = %crate::log_text::Escaped(&session.user.name),
            peer = ?peer,
            status = response.status.as_u16(),
            "console action refused"
        );
    }
    to_http(front, response)
}

/// `POST /console/api/keys` with `{"channel": id, "keys": "12#"}`: the far end of a
/// simulated phone's channel presses the keys. Read-only users are refused (403).
pub(crate) async fn press_keys(front: &Front, request: Request, session: &Session) -> Response {
    if session.user.read_only {
        tracing::info!(user = %crate::log_text::Escaped(&session.user.name), "console keypad refused: read-only user");
        return message(StatusCode::FORBIDDEN, "Write access denied");
    }
    let (_, bytes) = match body(request).await {
        Ok(read) => read,
        Err(refusal) => return refusal,
    };
    let Ok(asked) = serde_json::from_slice::<serde_json::Value>(&bytes) else {
        return message(
            StatusCode::BAD_REQUEST,
            "Send {\"channel\": id, \"keys\": digits}",
        );
    };
    let (Some(channel), Some(keys)) = (asked["channel"].as_str(), asked["keys"].as_str()) else {
        return message(
            StatusCode::BAD_REQUEST,
            "Send {\"channel\": id, \"keys\": digits}",
        );
    };
    match front.ari.core().control().press_keys(channel, keys) {
        Ok(()) => {
            let mut response = Response::new(axum::body::Body::empty());
            *response.status_mut() = StatusCode::NO_CONTENT;
            response
        }
        Err(e) => {
            let error = AriError::from(e);
            message(error.status, &error.message)
        }
    }
}
