//! What an ARI operation answers: a status, optional extra headers, and a body; and the
//! error type every handler returns (`{"message": ...}` with an ARI status code).

use bytes::Bytes;
use http::{HeaderName, HeaderValue, StatusCode};
use serde_json::{Value, json};

/// The body of an ARI response.
#[derive(Debug, Clone, PartialEq)]
pub enum Body {
    /// No body (204, or errors from the HTTP core).
    Empty,
    /// A JSON document; serialised compact or pretty according to ari.conf.
    Json(Value),
    /// Raw bytes with their content type (recording downloads, documents served verbatim).
    Raw {
        /// The `Content-Type` sent.
        content_type: &'static str,
        /// The whole body.
        data: Bytes,
    },
    /// A file sent in chunks as the client takes them (stored recording downloads), never
    /// held in memory whole: its content type, path and length. Transports that carry only
    /// whole bodies refuse it.
    File {
        /// The `Content-Type` sent.
        content_type: &'static str,
        /// The file to read; it is opened when the body is sent.
        path: std::path::PathBuf,
        /// The `Content-Length` sent, in bytes.
        len: u64,
    },
    /// A body written as it is produced, as long as the client stays (a log follower); see
    /// [`super::stream_body`]. Transports that carry only whole bodies refuse it.
    Stream(super::stream_body::StreamBody),
    /// An error page of the HTTP server rather than of ARI (the WebSocket layer's 426 and
    /// handshake errors): an HTML page carrying this message, without CORS headers.
    Page(String),
}

/// A complete ARI response, independent of the transport that carries it.
#[derive(Debug, Clone, PartialEq)]
pub struct AriResponse {
    /// The HTTP status (for a `RESTResponse`, its `status_code`).
    pub status: StatusCode,
    /// Headers beyond those the transport adds (`Content-Type`, CORS, `Server`).
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// What is sent after the headers.
    pub body: Body,
}

impl AriResponse {
    /// 200 with a JSON body.
    pub fn ok(value: Value) -> AriResponse {
        AriResponse::json(StatusCode::OK, value)
    }

    /// 200 with JSON already written as text (a cached or directly serialised document).
    pub fn ok_json_text(data: Bytes) -> AriResponse {
        AriResponse {
            status: StatusCode::OK,
            headers: Vec::new(),
            body: Body::Raw {
                content_type: "application/json",
                data,
            },
        }
    }

    /// Any status with a JSON body.
    pub fn json(status: StatusCode, value: Value) -> AriResponse {
        AriResponse {
            status,
            headers: Vec::new(),
            body: Body::Json(value),
        }
    }

    /// 201 with a JSON body and the new object's `Location` (bytes beyond ASCII go as they
    /// are, as Asterisk writes them; a path that is not a valid header value is left out).
    pub fn created(value: Value, location: &str) -> AriResponse {
        let response = AriResponse::json(StatusCode::CREATED, value);
        match HeaderValue::from_bytes(location.as_bytes()) {
            Ok(value) => response.with_header(http::header::LOCATION, value),
            Err(_) => response,
        }
    }

    /// 204 with no body.
    pub fn no_content() -> AriResponse {
        AriResponse {
            status: StatusCode::NO_CONTENT,
            headers: Vec::new(),
            body: Body::Empty,
        }
    }

    /// Adds a header.
    pub fn with_header(mut self, name: HeaderName, value: HeaderValue) -> AriResponse {
        self.headers.push((name, value));
        self
    }

    /// An error page of the HTTP server (see [`Body::Page`]).
    pub fn page(status: StatusCode, message: impl Into<String>) -> AriResponse {
        AriResponse {
            status,
            headers: Vec::new(),
            body: Body::Page(message.into()),
        }
    }
}

/// An ARI error: a status code and a message for the `{"message": ...}` body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{status}: {message}")]
pub struct AriError {
    /// The HTTP status: 4xx for what the client sent, 5xx for wari's own failures.
    pub status: StatusCode,
    /// The text of the `{"message": ...}` body, as Asterisk words it where it has one.
    pub message: String,
    /// Extra headers (`Allow` on 405, `WWW-Authenticate` on 401).
    pub headers: Vec<(HeaderName, HeaderValue)>,
}

impl AriError {
    /// An error with the given status and message.
    pub fn new(status: StatusCode, message: impl Into<String>) -> AriError {
        AriError {
            status,
            message: message.into(),
            headers: Vec::new(),
        }
    }

    /// 400 Bad Request.
    pub fn bad_request(message: impl Into<String>) -> AriError {
        AriError::new(StatusCode::BAD_REQUEST, message)
    }

    /// 404 Not Found.
    pub fn not_found(message: impl Into<String>) -> AriError {
        AriError::new(StatusCode::NOT_FOUND, message)
    }

    /// 409 Conflict.
    pub fn conflict(message: impl Into<String>) -> AriError {
        AriError::new(StatusCode::CONFLICT, message)
    }

    /// 403 Forbidden.
    pub fn forbidden(message: impl Into<String>) -> AriError {
        AriError::new(StatusCode::FORBIDDEN, message)
    }

    /// Adds a header.
    pub fn with_header(mut self, name: HeaderName, value: HeaderValue) -> AriError {
        self.headers.push((name, value));
        self
    }
}

impl From<AriError> for AriResponse {
    fn from(error: AriError) -> AriResponse {
        AriResponse {
            status: error.status,
            headers: error.headers,
            body: Body::Json(json!({ "message": error.message })),
        }
    }
}

/// What every handler returns.
pub type AriResult = Result<AriResponse, AriError>;

impl From<crate::core::CoreError> for AriError {
    fn from(error: crate::core::CoreError) -> AriError {
        let (status, message) = crate::host_api::wire::core_error(error);
        AriError::new(status, message)
    }
}
