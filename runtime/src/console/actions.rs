//! What the console's buttons do.
//!
//! `/api/ari/...` runs an ARI request through the ARI pipeline as the logged-in user,
//! exactly as if the user had sent it over ARI: hang-up is `DELETE /channels/{id}`, the
//! test call `POST /channels`, the applications view `GET /applications` and `GET /wasm`.
//! The pipeline applies the user's ACL, refuses read-only users anything but reads (403
//! `{"message": ...}`) and counts what is made against the user's quotas. A component
//! upload (`PUT /wasm/{app}`, the applications view's deploy) is taken as ARI takes one:
//! its head is authorised first (owner, `max_apps`, read-only), then its body goes to a
//! spool file as it arrives, up to wasm.conf `max_upload_mb`. `/api/keys` asks
//! the core to have a simulated phone's user press keys
//! ([`crate::core::control::ControlApi::press_keys`]).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::Request;
use axum::response::Response;
use bytes::Bytes;
use http::{Method, StatusCode, header};
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

/// How long, and how much of, a refused upload's body is still read (and dropped), so that
/// the browser sees the answer rather than a reset connection.
const DRAIN_TIME: Duration = Duration::from_secs(5);
const DRAIN_LIMIT: usize = 64 * 1024 * 1024;

/// The ARI request for `{method} /ari{path}` run as the session's user: the session is the
/// credential, so nothing else in the request may claim to be one; `None` when the URL
/// carries credentials (`api_key`), which the console refuses.
fn as_user(
    mut parts: http::request::Parts,
    path: String,
    bytes: Bytes,
    session: &Session,
    peer: Option<SocketAddr>,
) -> Option<AriRequest> {
    parts.headers.remove(header::AUTHORIZATION);
    parts.headers.remove(header::COOKIE);
    let mut ari_request = AriRequest::from_http(parts, path, bytes, peer);
    if ari_request
        .query
        .as_deref()
        .is_some_and(|q| q.split('&').any(|p| p.starts_with("api_key=")))
    {
        return None;
    }
    ari_request.trusted_user = Some(session.user.clone());
    Some(ari_request)
}

/// The answer to a console URL carrying credentials.
fn credentials_in_url() -> Response {
    message(StatusCode::BAD_REQUEST, "No credentials in console URLs")
}

/// Runs `{method} /ari{path}` as the session's user.
pub(crate) async fn ari(
    front: &Front,
    request: Request,
    path: String,
    session: &Session,
    peer: Option<SocketAddr>,
) -> Response {
    if request.method() == Method::PUT && path.starts_with("/wasm/") && front.ari.wasm().is_some() {
        return upload(front, request, path, session, peer).await;
    }
    let (parts, bytes) = match body(request).await {
        Ok(read) => read,
        Err(refusal) => return refusal,
    };
    let Some(ari_request) = as_user(parts, path, bytes, session, peer) else {
        return credentials_in_url();
    };
    answer(front, ari_request, session, peer).await
}

/// Runs a request through the ARI pipeline and answers with its response, logging a refusal.
async fn answer(
    front: &Front,
    ari_request: AriRequest,
    session: &Session,
    peer: Option<SocketAddr>,
) -> Response {
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

/// `PUT /wasm/{app}` from the applications view: the head is authorised before a byte of
/// the body is read, then the body is spooled to disk (at most wasm.conf `max_upload_mb`)
/// and the pipeline deploys from the file.
async fn upload(
    front: &Front,
    request: Request,
    path: String,
    session: &Session,
    peer: Option<SocketAddr>,
) -> Response {
    let Some(wasm) = front.ari.wasm() else {
        return message(
            StatusCode::SERVICE_UNAVAILABLE,
            "The WebAssembly host is not running",
        );
    };
    let (limit, dir) = (wasm.max_upload_bytes(), wasm.spool_dir().to_path_buf());
    let (parts, body) = request.into_parts();
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let Some(mut ari_request) = as_user(parts, path, Bytes::new(), session, peer) else {
        drain(body);
        return credentials_in_url();
    };
    if let Err(refusal) = front.ari.authorize_head(&ari_request).await {
        drain(body);
        return to_http(front, refusal);
    }
    if declared.is_some_and(|n| n > limit as u64) {
        drain(body);
        return too_large(session, peer, limit);
    }
    match crate::http::upload::spool(body, limit, &dir).await {
        Ok(upload) => ari_request.upload = Some(Arc::new(upload)),
        Err(crate::http::upload::SpoolError::TooLarge(_)) => {
            return too_large(session, peer, limit);
        }
        Err(crate::http::upload::SpoolError::TimedOut) => {
            return message(StatusCode::REQUEST_TIMEOUT, "Request timeout");
        }
        Err(crate::http::upload::SpoolError::Broken(_)) => {
            return message(StatusCode::BAD_REQUEST, "Error reading request body");
        }
        Err(e @ crate::http::upload::SpoolError::Io(_)) => {
            tracing::error!(peer = ?peer, error = %e, "console component upload not received");
            return message(StatusCode::INTERNAL_SERVER_ERROR, "Cannot store the upload");
        }
    }
    answer(front, ari_request, session, peer).await
}

/// 413 for an upload past wasm.conf `max_upload_mb`, saying so.
fn too_large(session: &Session, peer: Option<SocketAddr>, limit: usize) -> Response {
    tracing::info!(
        user = %crate::log_text::Escaped(&session.user.name),
        peer = ?peer,
        limit,
        "console component upload refused: larger than max_upload_mb"
    );
    message(
        StatusCode::PAYLOAD_TOO_LARGE,
        &format!(
            "Request body too large: the component is larger than wasm.conf max_upload_mb ({} MB)",
            limit.div_ceil(1024 * 1024)
        ),
    )
}

/// Reads and drops the rest of a refused upload for a while, so that the browser still
/// sending it sees the answer rather than a reset (at most `DRAIN_TIME` and `DRAIN_LIMIT`).
fn drain(body: axum::body::Body) {
    tokio::spawn(async move {
        let mut body = body;
        let _ = tokio::time::timeout(DRAIN_TIME, async {
            let mut read = 0usize;
            while let Some(Ok(frame)) = body.frame().await {
                read += frame.data_ref().map_or(0, |d| d.len());
                if read > DRAIN_LIMIT {
                    break;
                }
            }
        })
        .await;
    });
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
