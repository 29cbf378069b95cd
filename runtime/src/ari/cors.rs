//! Cross-origin resource sharing for browser clients, driven by ari.conf `allowed_origins`.
//!
//! A request whose `Origin` is allowed gets the origin echoed back with credentials allowed;
//! a disallowed origin is served normally, just without CORS headers.

use http::{HeaderMap, HeaderName, HeaderValue, header};

/// The request's `Origin` if `allowed` admits it (`*` admits any origin).
pub(crate) fn allowed_origin<'a>(
    allowed: &[String],
    headers: &'a HeaderMap,
) -> Option<&'a HeaderValue> {
    let origin = headers.get(header::ORIGIN)?;
    let text = origin.to_str().ok()?;
    let ok = allowed.iter().any(|a| a == "*" || a == text);
    if !ok {
        tracing::info!(origin = text, "CORS origin not in allowed_origins");
    }
    ok.then_some(origin)
}

/// Headers for a request from an allowed origin.
pub(crate) fn simple_headers(origin: &HeaderValue) -> [(HeaderName, HeaderValue); 2] {
    [
        (header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone()),
        (
            header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
            HeaderValue::from_static("true"),
        ),
    ]
}

/// Extra preflight headers: when the requested method is one the resource allows, the
/// allowed methods and the echoed request headers.
pub(crate) fn preflight_headers(
    headers: &HeaderMap,
    allow: &str,
) -> Vec<(HeaderName, HeaderValue)> {
    let mut out = Vec::new();
    let Some(requested) = headers
        .get(header::ACCESS_CONTROL_REQUEST_METHOD)
        .and_then(|v| v.to_str().ok())
    else {
        return out;
    };
    if !allow.split(',').any(|m| m == requested) {
        return out;
    }
    if let Ok(value) = HeaderValue::from_str(allow) {
        out.push((header::ACCESS_CONTROL_ALLOW_METHODS, value));
    }
    if let Some(requested_headers) = headers.get(header::ACCESS_CONTROL_REQUEST_HEADERS) {
        out.push((
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            requested_headers.clone(),
        ));
    }
    out
}
