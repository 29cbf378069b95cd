//! Any ARI operation through wari's normal router, with the app's own permissions (the
//! `wari:stasis/ari` interface): for what [`call`](crate::call) does not cover, e.g.
//! stopping a playback with `DELETE /playbacks/{id}`.

use crate::host;

/// An ARI response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// HTTP status code.
    pub status: u16,
    /// The JSON body, or empty.
    pub body: String,
}

impl Response {
    /// A response with this status and body.
    pub fn new(status: u16, body: impl Into<String>) -> Self {
        Response {
            status,
            body: body.into(),
        }
    }

    /// Whether the status is 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// Sends an ARI request. `method` is `GET`, `POST`, `PUT` or `DELETE`; `path` is relative to
/// `/ari` (e.g. `/channels/123/answer`); `query` holds the query parameters; `body` is JSON.
///
/// Failures are responses too (`status` 4xx/5xx with ARI's `{"message": ...}` body).
pub fn request(method: &str, path: &str, query: &[(&str, &str)], body: Option<&str>) -> Response {
    host::ari_request(method, path, query, body)
}
