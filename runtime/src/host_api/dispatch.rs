//! [`AriDispatch`]: the ARI pipeline as a WebAssembly app's `ari.request` sees it: serve
//! this request as wari's own internal user, counting what it makes against the app's
//! owner. The app host checks first what the request may touch (its session's channels
//! and bridges); the pipeline then runs it like any other request.

use bytes::Bytes;
use futures_util::future::BoxFuture;

/// A request made inside wari.
#[derive(Debug, Clone)]
pub struct InternalRequest {
    /// The HTTP method.
    pub method: http::Method,
    /// The raw (still percent-encoded) path after `/ari`, starting with `/`.
    pub path: String,
    /// The raw query string, without `?`.
    pub query: Option<String>,
    /// A JSON body, when there is one.
    pub json_body: Option<Bytes>,
    /// The ARI user whose quotas what the request makes counts against (an app's owner).
    pub quota_owner: Option<String>,
}

/// Its answer: the status and the body as text (empty for bodies that are not text).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InternalResponse {
    /// The HTTP status code.
    pub status: u16,
    /// The body as UTF-8 text; empty when there is none or it is not text.
    pub body: String,
}

/// Runs requests made inside wari through the ARI pipeline.
pub trait AriDispatch: Send + Sync {
    /// Serves `request` as wari's own internal (read/write, quota-free) user.
    fn serve_internal(&self, request: InternalRequest) -> BoxFuture<'_, InternalResponse>;
}
