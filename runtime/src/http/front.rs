//! The HTTP front door: everything between a raw HTTP request and the ARI pipeline.
//!
//! It answers the heads the normaliser refused ([`super::head`]), applies http.conf (prefix,
//! redirects, restriction sections), limits the body size, spools component uploads to disk
//! once their head is authorised ([`super::upload`]),
//! hands `/ari/...` requests to [`Ari`], and turns the result into an HTTP response with the
//! headers every response carries (`Server`, `Cache-Control`, `Content-Type`).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use axum::body::Body as HttpBody;
use axum::extract::Request;
use axum::response::Response;
use bytes::Bytes;
use http::{HeaderValue, StatusCode, header};
use http_body_util::BodyExt;

use super::head::Refusal;
use crate::ari::{Ari, AriError, AriRequest, AriResponse, Body};
use crate::config::HttpConfig;

/// Largest request body ARI accepts, in bytes.
pub(crate) const MAX_BODY: usize = 40 * 1024;

/// Oversized bodies up to this size are read and dropped before the 413 is sent.
const DRAIN_LIMIT: usize = 64 * 1024 * 1024;
/// How long an oversized body is drained after the 413.
const DRAIN_TIME: std::time::Duration = std::time::Duration::from_secs(2);

/// The client's address, attached to every request by the connection loop.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PeerAddr(pub SocketAddr);

/// What the front door needs.
#[derive(Debug)]
pub(crate) struct Front {
    pub http: HttpConfig,
    pub ari: Arc<Ari>,
    server_header: Option<HeaderValue>,
    /// Request timings for `/metrics`.
    pub metrics: super::metrics::RequestMetrics,
    /// Each user's open event WebSockets, for the per-user caps.
    pub sockets: Arc<crate::events::user_sockets::UserSockets>,
    /// The media channels waiting for their WebSocket on `/media/<id>`.
    pub media: Arc<crate::core::tech::websocket_media::MediaSockets>,
    /// The operator console's login sessions.
    pub console: Arc<crate::console::Console>,
}

impl Front {
    /// A front door for this configuration.
    pub(crate) fn new(
        http: HttpConfig,
        ari: Arc<Ari>,
        media: Arc<crate::core::tech::websocket_media::MediaSockets>,
    ) -> Front {
        let server_header = http
            .server_name
            .as_deref()
            .and_then(|s| HeaderValue::from_str(s).ok());
        Front {
            http,
            ari,
            server_header,
            metrics: Default::default(),
            sockets: Default::default(),
            media,
            console: Default::default(),
        }
    }
}

/// Serves one request: every path goes through here (ARI routing is the pipeline's job).
pub(crate) async fn handle(front: Arc<Front>, request: Request) -> Response {
    // Every request is timed for the /metrics histogram; the per-request log line also
    // copies the path, so that is paid for only when debug logging is on.
    let started = Instant::now();
    let logged = tracing::enabled!(tracing::Level::DEBUG)
        .then(|| (request.method().clone(), request.uri().path().to_string()));
    let peer = request.extensions().get::<PeerAddr>().map(|p| p.0);
    let mut response = route(&front, request, peer).await;
    let headers = response.headers_mut();
    if let Some(server) = &front.server_header {
        headers.insert(header::SERVER, server.clone());
    }
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-cache, no-store"),
    );
    front.metrics.observe(started.elapsed());
    if let Some((method, path)) = logged {
        tracing::debug!(
            %method,
            %path,
            status = response.status().as_u16(),
            peer = ?peer,
            micros = started.elapsed().as_micros() as u64,
            "request"
        );
    }
    response
}

async fn route(front: &Front, request: Request, peer: Option<SocketAddr>) -> Response {
    // The normaliser's marked requests all ask for `/`: only those need the header lookup.
    if request.uri().path() == "/"
        && let Some(refusal) = request
            .headers()
            .get(super::head::REFUSED_HEADER)
            .and_then(|v| Refusal::from_code(v.as_bytes()))
    {
        return refused(refusal, peer);
    }
    let path = request.uri().path();
    for (from, to) in &front.http.redirects {
        if path.eq_ignore_ascii_case(from) {
            return redirect(to);
        }
    }
    if let Some(peer) = peer
        && let Some(restriction) =
            super::restriction::denying(&front.http.restrictions, path, peer.ip())
    {
        tracing::info!(%peer, path = ?path, restriction = %restriction.path_prefix, "HTTP request denied by restriction");
        let mut response = html(StatusCode::FORBIDDEN, "Access denied by ACL");
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
        return response;
    }
    if let Some(id) = super::media_ws::connection_id(path, &front.http.prefix) {
        let id = id.to_string();
        return super::media_ws::serve(&front.media, &id, request, peer);
    }
    if let Some(sub) = crate::console::console_path(path, &front.http.prefix) {
        let sub = sub.to_string();
        return crate::console::serve(front, request, &sub, peer).await;
    }
    if front.ari.enabled() && super::metrics::is_metrics_path(path, &front.http.prefix) {
        let (parts, _) = request.into_parts();
        let request = AriRequest::from_http(parts, String::new(), Bytes::new(), peer);
        return to_http(
            front,
            super::metrics::serve(&front.ari, &request, &front.metrics),
        );
    }
    let Some(ari_path) = strip_ari_prefix(path, &front.http.prefix) else {
        return html(
            StatusCode::NOT_FOUND,
            "The requested URL was not found on this server.",
        );
    };
    if !front.ari.enabled() {
        return html(
            StatusCode::NOT_FOUND,
            "The requested URL was not found on this server.",
        );
    }
    let ari_path = ari_path.to_string();
    let (parts, body) = request.into_parts();
    if is_websocket_upgrade(&parts.headers) {
        return upgrade(front, ari_path, parts, peer).await;
    }
    let declared_length = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if parts.method == http::Method::PUT
        && ari_path.starts_with("/wasm/")
        && let Some(wasm) = front.ari.wasm()
    {
        let spool = UploadTarget {
            limit: wasm.max_upload_bytes(),
            dir: wasm.spool_dir().to_path_buf(),
        };
        return serve_upload(front, parts, body, ari_path, peer, declared_length, spool).await;
    }
    let Some(limit) = body_limit(&parts.headers) else {
        // Asterisk reads a body only when it is JSON or a form; any other is dropped unread,
        // whatever its size.
        if !hyper::body::Body::is_end_stream(&body) {
            tokio::spawn(async move {
                let _ = tokio::time::timeout(DRAIN_TIME, read_body(body, DRAIN_LIMIT)).await;
            });
        }
        return serve_ari(front, parts, ari_path, Bytes::new(), peer).await;
    };
    if declared_length.is_some_and(|n| n > limit as u64) {
        // Answer at once, and keep reading (and dropping) a moderately oversized body for a
        // while, so a client that is still sending sees the 413 rather than a reset.
        if declared_length.is_some_and(|n| n <= DRAIN_LIMIT as u64) {
            tokio::spawn(async move {
                let _ = tokio::time::timeout(DRAIN_TIME, read_body(body, DRAIN_LIMIT)).await;
            });
        }
        return too_large(&parts, peer, limit);
    }
    let body = match read_body(body, limit).await {
        Ok(body) => body,
        Err(BodyError::TooLarge) => return too_large(&parts, peer, limit),
        Err(BodyError::TimedOut) => return timed_out(&parts, peer),
        Err(BodyError::Broken) => {
            return to_http(
                front,
                AriError::bad_request("Error reading request body").into(),
            );
        }
    };
    serve_ari(front, parts, ari_path, body, peer).await
}

/// Runs a request through the ARI pipeline and answers with its response.
async fn serve_ari(
    front: &Front,
    parts: http::request::Parts,
    path: String,
    body: Bytes,
    peer: Option<SocketAddr>,
) -> Response {
    let response = front
        .ari
        .handle(AriRequest::from_http(parts, path, body, peer))
        .await;
    to_http(front, response)
}

/// The answer to a request head the normaliser refused: Asterisk's status, reason phrase
/// and message, as an ARI error body `{"message": ...}` (Asterisk writes the message on an
/// HTML page; wari answers every refusal the way ARI clients parse errors), and the
/// connection closes. A target that is not a path is not refused but not found: the same
/// page as any other URL outside ARI, and the connection stays open.
fn refused(refusal: Refusal, peer: Option<SocketAddr>) -> Response {
    tracing::info!(
        peer = ?peer,
        status = refusal.status().as_u16(),
        reason = refusal.message(),
        "HTTP request refused"
    );
    let mut response = match refusal {
        Refusal::NotFound => html(refusal.status(), refusal.message()),
        _ => json_message(refusal.status(), refusal.message()),
    };
    with_reason(&mut response, refusal.reason());
    if refusal.closes() {
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    response
}

/// Sets the status line's reason phrase where Asterisk's differs from the usual one.
fn with_reason(response: &mut Response, reason: &'static str) {
    if response.status().canonical_reason() != Some(reason) {
        response
            .extensions_mut()
            .insert(hyper::ext::ReasonPhrase::from_static(reason.as_bytes()));
    }
}

/// `Upgrade: websocket` (case-insensitive; of repeated headers, the last counts, as in
/// Asterisk's WebSocket layer).
fn is_websocket_upgrade(headers: &http::HeaderMap) -> bool {
    headers
        .get_all(header::UPGRADE)
        .iter()
        .next_back()
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"websocket"))
}

/// A WebSocket upgrade: the ARI pipeline authorises it, the events transport takes over.
async fn upgrade(
    front: &Front,
    path: String,
    parts: http::request::Parts,
    peer: Option<SocketAddr>,
) -> Response {
    let request = AriRequest::head_of(&parts, path, peer);
    let grant = match front.ari.authorize_upgrade(&request).await {
        Ok(grant) => grant,
        Err(response) => return to_http(front, response),
    };
    let settings = crate::events::websocket::SessionSettings::inbound(&front.ari.config().ari);
    // The WebSocket layer's refusals carry no CORS headers (Asterisk's do not either).
    match crate::events::websocket::upgrade(
        front.ari.clone(),
        settings,
        &front.sockets,
        grant,
        parts,
    )
    .await
    {
        Ok(response) => response,
        Err(response) => to_http(front, response),
    }
}

/// Where and how large a component upload may be spooled.
struct UploadTarget {
    limit: usize,
    dir: std::path::PathBuf,
}

/// A component upload (`PUT /ari/wasm/{app}`): the head is authenticated and authorised
/// before any of the body is read (a refusal closes the connection, the body unread); then
/// the body goes to a spool file as it arrives, and the pipeline deploys from that file.
async fn serve_upload(
    front: &Front,
    parts: http::request::Parts,
    body: HttpBody,
    path: String,
    peer: Option<SocketAddr>,
    declared_length: Option<u64>,
    target: UploadTarget,
) -> Response {
    let mut request = AriRequest::head_of(&parts, path, peer);
    if let Err(refusal) = front.ari.authorize_head(&request).await {
        return closing(to_http(front, refusal));
    }
    if let Some(declared) = declared_length.filter(|&n| n > target.limit as u64) {
        // As for other bodies: an authorised client still sending sees the 413, not a reset.
        if declared <= DRAIN_LIMIT as u64 {
            tokio::spawn(async move {
                let _ = tokio::time::timeout(DRAIN_TIME, read_body(body, DRAIN_LIMIT)).await;
            });
        }
        return too_large(&parts, peer, target.limit);
    }
    match super::upload::spool(body, target.limit, &target.dir).await {
        Ok(upload) => request.upload = Some(Arc::new(upload)),
        Err(super::upload::SpoolError::TooLarge(_)) => {
            return closing(too_large(&parts, peer, target.limit));
        }
        Err(super::upload::SpoolError::TimedOut) => return timed_out(&parts, peer),
        Err(super::upload::SpoolError::Broken(_)) => {
            return to_http(
                front,
                AriError::bad_request("Error reading request body").into(),
            );
        }
        Err(e @ super::upload::SpoolError::Io(_)) => {
            tracing::error!(peer = ?peer, error = %e, "component upload not received");
            return to_http(
                front,
                AriError::new(StatusCode::INTERNAL_SERVER_ERROR, "Cannot store the upload").into(),
            );
        }
    }
    to_http(front, front.ari.handle(request).await)
}

/// `response` with `Connection: close` (the rest of the request is not read).
fn closing(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

/// The body size allowed for a request: ARI's 40 kB for the bodies it reads (JSON and
/// forms); `None` for a body that is not read at all. (Component uploads are spooled, see
/// [`serve_upload`].)
fn body_limit(headers: &http::HeaderMap) -> Option<usize> {
    let media_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(str::trim)?;
    (media_type.eq_ignore_ascii_case("application/json")
        || media_type.eq_ignore_ascii_case("application/x-www-form-urlencoded"))
    .then_some(MAX_BODY)
}

fn too_large(request: &http::request::Parts, peer: Option<SocketAddr>, limit: usize) -> Response {
    tracing::info!(
        method = %request.method,
        path = request.uri.path(),
        peer = ?peer,
        status = 413,
        "ARI request refused: Request body too large (limit {limit} bytes)"
    );
    let mut response = json_message(StatusCode::PAYLOAD_TOO_LARGE, "Request body too large");
    with_reason(&mut response, "Request Entity Too Large");
    response
}

/// A body that did not arrive within `session_inactivity`: 408, and the connection closes.
fn timed_out(request: &http::request::Parts, peer: Option<SocketAddr>) -> Response {
    tracing::info!(
        method = %request.method,
        path = request.uri.path(),
        peer = ?peer,
        status = 408,
        "ARI request refused: body not received within session_inactivity"
    );
    closing(json_message(StatusCode::REQUEST_TIMEOUT, "Request timeout"))
}

/// An ARI error answer: `status` with `{"message": message}`.
fn json_message(status: StatusCode, message: &str) -> Response {
    let mut response = Response::new(HttpBody::from(
        serde_json::json!({ "message": message }).to_string(),
    ));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

enum BodyError {
    TooLarge,
    /// Not received within `session_inactivity`.
    TimedOut,
    Broken,
}

/// Whether a body error comes from the connection's read deadline.
pub(super) fn is_timeout(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut source = Some(error);
    while let Some(e) = source {
        if e.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::TimedOut)
        {
            return true;
        }
        source = e.source();
    }
    false
}

async fn read_body(body: HttpBody, limit: usize) -> Result<Bytes, BodyError> {
    let limited = http_body_util::Limited::new(body, limit);
    match limited.collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => Err(BodyError::TooLarge),
        Err(e) if is_timeout(&*e) => Err(BodyError::TimedOut),
        Err(_) => Err(BodyError::Broken),
    }
}

/// The part of `path` after http.conf's `prefix`, which compares case-insensitively (as
/// Asterisk's); `None` when the path is not under it. Every path wari serves (ARI, media
/// WebSockets, the console) starts from here.
pub(crate) fn after_prefix<'p>(path: &'p str, prefix: &str) -> Option<&'p str> {
    let head = path.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &path[prefix.len()..])
}

/// The part of `path` after `<prefix>/ari`, if the request is for ARI. The prefix compares
/// case-insensitively, and `ari` must end the path or be followed by `/`.
pub(crate) fn strip_ari_prefix<'p>(path: &'p str, prefix: &str) -> Option<&'p str> {
    let rest = after_prefix(path, prefix)?;
    let after = rest.get(..4).filter(|h| h.eq_ignore_ascii_case("/ari"))?;
    let remainder = &rest[after.len()..];
    (remainder.is_empty() || remainder.starts_with('/')).then_some(remainder)
}

/// Serialises an ARI response as HTTP.
pub(crate) fn to_http(front: &Front, response: AriResponse) -> Response {
    let (content_type, bytes) = match response.body {
        Body::Page(message) => {
            let mut out = html(response.status, &message);
            out.headers_mut().extend(response.headers);
            return out;
        }
        Body::Empty => (None, Bytes::new()),
        Body::Json(value) => {
            let encoded = if front.ari.pretty() {
                serde_json::to_vec_pretty(&value)
            } else {
                serde_json::to_vec(&value)
            };
            match encoded {
                Ok(bytes) => (Some("application/json"), Bytes::from(bytes)),
                Err(e) => {
                    tracing::error!(error = %e, "cannot serialise response");
                    return html(StatusCode::INTERNAL_SERVER_ERROR, "Internal error");
                }
            }
        }
        Body::Raw { content_type, data } => (Some(content_type), data),
        Body::Stream(stream) => return streamed(front, response.status, response.headers, stream),
        Body::File {
            content_type,
            path,
            len,
        } => {
            let mut out = Response::new(HttpBody::from_stream(file_chunks(path)));
            *out.status_mut() = response.status;
            let headers = out.headers_mut();
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
            headers.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
            headers.extend(response.headers);
            return out;
        }
    };
    let mut out = Response::new(HttpBody::from(bytes));
    *out.status_mut() = response.status;
    let headers = out.headers_mut();
    if let Some(ct) = content_type {
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(ct));
    }
    for (name, value) in response.headers {
        headers.append(name, value);
    }
    out
}

/// Marks a response whose body is streamed for as long as the client stays: its connection
/// keeps no read deadline while the body is written, and closes after it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Streaming;

/// A streamed body (a log follower): one of its user's long connections, counted with the
/// user's event WebSockets against ari.conf `max_websockets` (429 beyond it) until the body
/// ends or the client goes away; each chunk is written as it comes.
fn streamed(
    front: &Front,
    status: StatusCode,
    extra: Vec<(header::HeaderName, HeaderValue)>,
    stream: crate::ari::stream_body::StreamBody,
) -> Response {
    use futures_util::StreamExt;
    let slot = match front.sockets.take(&stream.user, 0) {
        Ok(slot) => slot,
        Err(over) => {
            let limit = stream.user.limits.max_websockets;
            tracing::info!(user = %crate::log_text::Escaped(&stream.user.name), status = 429, limit, "log follower refused: {over}");
            return json_message(
                StatusCode::TOO_MANY_REQUESTS,
                &format!(
                    "Too many long connections for this user: event WebSockets and log followers count together (max_websockets = {limit})"
                ),
            );
        }
    };
    let Some(chunks) = stream.take() else {
        return html(StatusCode::INTERNAL_SERVER_ERROR, "Internal error");
    };
    let body = chunks.map(move |chunk| {
        // The slot is the stream's: given back when the body is dropped.
        let _held = &slot;
        Ok::<_, std::convert::Infallible>(chunk)
    });
    let mut out = Response::new(HttpBody::from_stream(body));
    *out.status_mut() = status;
    let headers = out.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(stream.content_type),
    );
    headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
    for (name, value) in extra {
        headers.append(name, value);
    }
    out.extensions_mut().insert(Streaming);
    out
}

/// How much of a file is read at a time for a response.
const FILE_CHUNK: usize = 64 * 1024;

/// A file's bytes in chunks, each read when the client has taken the one before: a large
/// download holds one chunk of memory, and no async worker waits on the disk. A read error
/// ends the stream (and the response, short of its length).
fn file_chunks(
    path: std::path::PathBuf,
) -> impl futures_util::Stream<Item = std::io::Result<Bytes>> + Send {
    use tokio::io::AsyncReadExt;
    futures_util::stream::try_unfold((path, None::<tokio::fs::File>), |(path, file)| async move {
        let mut file = match file {
            Some(file) => file,
            None => tokio::fs::File::open(&path).await?,
        };
        let mut chunk = bytes::BytesMut::with_capacity(FILE_CHUNK);
        let read = file.read_buf(&mut chunk).await?;
        Ok((read > 0).then(|| (chunk.freeze(), (path, Some(file)))))
    })
}

/// The HTTP server's error page (as Asterisk's, the message in a small HTML page).
fn html(status: StatusCode, text: &str) -> Response {
    let reason = status.canonical_reason().unwrap_or("");
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '&' => escaped.push_str("&amp;"),
            '"' => escaped.push_str("&quot;"),
            c => escaped.push(c),
        }
    }
    let text = escaped;
    let body = format!(
        "<!DOCTYPE html><html><head><title>{} {reason}</title></head><body><h1>{reason}</h1><p>{text}</p></body></html>\n",
        status.as_u16()
    );
    let mut response = Response::new(HttpBody::from(body));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html"));
    response
}

/// A `302 Found` to `to` (no `Location` when `to` is not a valid header value).
pub(crate) fn redirect(to: &str) -> Response {
    let mut response = Response::new(HttpBody::empty());
    *response.status_mut() = StatusCode::FOUND;
    if let Ok(location) = HeaderValue::from_str(to) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ari_prefix_matching() {
        assert_eq!(
            strip_ari_prefix("/ari/asterisk/info", ""),
            Some("/asterisk/info")
        );
        assert_eq!(strip_ari_prefix("/ari", ""), Some(""));
        assert_eq!(strip_ari_prefix("/ARI/x", ""), Some("/x"));
        assert_eq!(strip_ari_prefix("/arix", ""), None);
        assert_eq!(strip_ari_prefix("/ari/x", "/asterisk"), None);
        assert_eq!(strip_ari_prefix("/Asterisk/ari/x", "/asterisk"), Some("/x"));
        assert_eq!(strip_ari_prefix("/asteriskari/x", "/asterisk"), None);
        assert_eq!(strip_ari_prefix("/", ""), None);
    }
}
