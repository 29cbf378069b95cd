//! REST over WebSocket: a `RESTRequest` text frame on any ARI socket (inbound `/ari/events`
//! or outbound) is checked, turned into an [`AriRequest`] carrying the socket's credentials,
//! run through the same ARI pipeline as HTTP, and answered with a `RESTResponse` frame.
//!
//! Malformed frames are answered with a 400 `RESTResponse`; they never close the socket.
//!
//! Deliberate differences from Asterisk: `RESTResponse` frames are not subject to the
//! application's event filter (Asterisk silently drops responses an `allowed` filter does
//! not list), and a request's parameters follow the HTTP pipeline's precedence when one
//! name is given twice (the docs advise using one mechanism only).

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use serde_json::{Map, Value};

use crate::ari::{Ari, AriRequest, AriResponse, Body};
use crate::config::User;

/// The content types a `message_body` may have.
const JSON: &str = "application/json";
const FORM: &str = "application/x-www-form-urlencoded";

/// Who every request on one socket runs as, decided once when the socket opened: the user
/// the upgrade request authenticated as, checked against its ACL from the socket's peer
/// on every request (inbound), or the outbound connection's `local_ari_user` (Basic
/// credentials, checked on every request). Credentials in a frame (`api_key` in its `uri` or
/// `query_strings`) never change it. Also the upgrade request's `Host`, which Asterisk
/// passes on (the api-docs' `basePath` names it, as over HTTP).
#[derive(Debug, Clone, Default)]
pub struct SocketAuth {
    user: Option<Arc<User>>,
    peer: Option<SocketAddr>,
    authorization: Option<HeaderValue>,
    host: Option<HeaderValue>,
}

impl SocketAuth {
    /// An inbound socket: the user its upgrade request authenticated as, from `peer`.
    pub fn granted(user: Arc<User>, peer: Option<SocketAddr>, headers: &HeaderMap) -> SocketAuth {
        SocketAuth {
            user: Some(user),
            peer,
            authorization: None,
            host: headers.get(header::HOST).cloned(),
        }
    }

    /// HTTP Basic credentials (an outbound socket's `local_ari_user`).
    pub fn basic(user: &str, password: &str) -> SocketAuth {
        SocketAuth {
            user: None,
            peer: None,
            authorization: HeaderValue::from_str(&crate::ari::auth::basic_authorization(
                user, password,
            ))
            .ok(),
            host: None,
        }
    }
}

/// Why a frame is not a usable `RESTRequest` (the message of the 400 answer).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// The frame is not JSON.
    #[error("Failed to parse request message JSON")]
    Json,
    /// The frame has no `type`.
    #[error("No 'type' property.")]
    NoType,
    /// The `type` is not `RESTRequest`.
    #[error("Unknown request type.")]
    UnknownType,
    /// The `uri` is missing or empty.
    #[error("Empty or missing 'uri' property.")]
    NoUri,
    /// The `method` is missing or not an HTTP method ARI has.
    #[error("Unknown or missing 'method' property.")]
    NoMethod,
    /// `query_strings` is not an array of `{name, value}` objects.
    #[error("Unable to parse 'query_strings' array.")]
    QueryStrings,
    /// A `message_body` without a `content_type`.
    #[error("No 'content_type' for 'message_body'.")]
    NoContentType,
    /// A `content_type` other than JSON or a form.
    #[error("Unknown content type.")]
    UnknownContentType,
    /// The `message_body` does not parse as its `content_type` (named here).
    #[error("Unable to parse 'message_body' as '{0}'.")]
    Body(String),
    /// A `message_body` larger than an HTTP request body may be.
    #[error("Request body too large")]
    TooLarge,
}

impl FrameError {
    fn status(&self) -> StatusCode {
        match self {
            FrameError::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            _ => StatusCode::BAD_REQUEST,
        }
    }
}

/// The largest WebSocket message an ARI socket reads (Asterisk's largest frame payload): a
/// larger one closes the socket (1009). A `message_body` is held to HTTP's body limit
/// ([`crate::http::front::MAX_BODY`]) within it.
pub const MAX_MESSAGE: usize = 65_535;

/// A checked request, ready for the pipeline.
#[derive(Debug)]
pub struct Parsed {
    ids: Ids,
    request: AriRequest,
}

/// What a response echoes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Ids {
    transaction_id: String,
    request_id: String,
    /// The request's `uri` without its query.
    uri: String,
}

/// A `RESTResponse` before it is framed.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    ids: Ids,
    /// The HTTP status, sent as `status_code`.
    pub status: StatusCode,
    /// The status's reason phrase, sent as `reason_phrase`.
    pub reason: String,
    /// The compact JSON body, if any.
    pub body: Option<String>,
}

/// Answers one text frame: parses it, runs it through the pipeline, and returns the reply.
pub async fn answer(ari: &Ari, auth: &SocketAuth, frame: &str) -> Reply {
    match parse(frame, auth) {
        Ok(parsed) => {
            if let Some(reply) = restricted(ari, &parsed) {
                return reply;
            }
            let response = ari.handle_over_websocket(parsed.request).await;
            Reply::from_response(parsed.ids, response)
        }
        Err(reply) => *reply,
    }
}

/// The refusal of a request an http.conf restriction denies to the socket's peer: a frame
/// reaches what a path names as HTTP does, so the same restrictions hold.
fn restricted(ari: &Ari, parsed: &Parsed) -> Option<Reply> {
    let http = &ari.config().http;
    let peer = parsed.request.peer?;
    if http.restrictions.is_empty() {
        return None;
    }
    let path = format!("{}/ari{}", http.prefix, parsed.request.path);
    let restriction = crate::http::restriction::denying(&http.restrictions, &path, peer.ip())?;
    tracing::info!(%peer, path = ?path, restriction = %restriction.path_prefix, "RESTRequest denied by restriction");
    Some(Reply {
        ids: parsed.ids.clone(),
        status: StatusCode::FORBIDDEN,
        reason: "Forbidden".to_string(),
        body: Some(serde_json::json!({ "message": "Access denied by ACL" }).to_string()),
    })
}

/// Checks a frame and builds the pipeline request, or the error reply.
///
/// As in Asterisk, a frame must be a JSON object or array (an array has no properties);
/// string properties that are not strings count as absent, and so do `query_strings` that
/// are not an array and a `message_body` that is not a string.
pub fn parse(frame: &str, auth: &SocketAuth) -> Result<Parsed, Box<Reply>> {
    let value = match serde_json::from_str::<Value>(frame) {
        Ok(value @ (Value::Object(_) | Value::Array(_))) => value,
        _ => return Err(Box::new(Reply::unparsable())),
    };
    let empty = Map::new();
    let object = value.as_object().unwrap_or(&empty);
    let mut ids = Ids {
        transaction_id: id_field(object, "transaction_id"),
        request_id: id_field(object, "request_id"),
        uri: String::new(),
    };
    match object.get("type").and_then(Value::as_str) {
        None | Some("") => return Err(Box::new(Reply::error(ids, FrameError::NoType))),
        Some("RESTRequest") => {}
        Some(_) => return Err(Box::new(Reply::error(ids, FrameError::UnknownType))),
    }
    let uri = match object.get("uri").and_then(Value::as_str) {
        Some(uri) if !uri.is_empty() => uri,
        _ => return Err(Box::new(Reply::error(ids, FrameError::NoUri))),
    };
    let (path, uri_query) = match uri.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (uri, None),
    };
    ids.uri = path.to_string();
    match build(object, path, uri_query, auth) {
        Ok(request) => Ok(Parsed { ids, request }),
        Err(error) => Err(Box::new(Reply::error(ids, error))),
    }
}

fn build(
    object: &Map<String, Value>,
    path: &str,
    uri_query: Option<&str>,
    auth: &SocketAuth,
) -> Result<AriRequest, FrameError> {
    let method = match object.get("method").and_then(Value::as_str) {
        Some("GET") => Method::GET,
        Some("POST") => Method::POST,
        Some("PUT") => Method::PUT,
        Some("DELETE") => Method::DELETE,
        Some("HEAD") => Method::HEAD,
        Some("OPTIONS") => Method::OPTIONS,
        _ => return Err(FrameError::NoMethod),
    };
    // Parameters in Asterisk's order: the uri's query, then query_strings.
    let mut query: Vec<String> = uri_query
        .filter(|q| !q.is_empty())
        .map(str::to_string)
        .into_iter()
        .collect();
    match object.get("query_strings") {
        Some(Value::Array(items)) if !items.is_empty() => {
            let mut encoded = form_urlencoded::Serializer::new(String::new());
            for item in items {
                let name = item.get("name").and_then(Value::as_str);
                let value = item.get("value").and_then(Value::as_str);
                match (name, value) {
                    (Some(name), Some(value)) => {
                        encoded.append_pair(name, value);
                    }
                    _ => return Err(FrameError::QueryStrings),
                }
            }
            let encoded = encoded.finish();
            if !encoded.is_empty() {
                query.push(encoded);
            }
        }
        _ => {}
    }
    let mut headers = HeaderMap::new();
    if let Some(authorization) = &auth.authorization {
        headers.insert(header::AUTHORIZATION, authorization.clone());
    }
    if let Some(host) = &auth.host {
        headers.insert(header::HOST, host.clone());
    }
    let body = match object.get("message_body").and_then(Value::as_str) {
        None | Some("") => Bytes::new(),
        Some(body) if body.len() > crate::http::front::MAX_BODY => {
            return Err(FrameError::TooLarge);
        }
        Some(body) => {
            let content_type = match object.get("content_type").and_then(Value::as_str) {
                None | Some("") => return Err(FrameError::NoContentType),
                Some(JSON) => JSON,
                Some(FORM) => FORM,
                Some(_) => return Err(FrameError::UnknownContentType),
            };
            // Asterisk's JSON reader takes an object or an array at the top, nothing else.
            if content_type == JSON
                && !matches!(
                    serde_json::from_str::<Value>(body),
                    Ok(Value::Object(_) | Value::Array(_))
                )
            {
                return Err(FrameError::Body(content_type.to_string()));
            }
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
            Bytes::from(body.to_string())
        }
    };
    Ok(AriRequest {
        method,
        path: format!("/{path}"),
        query: (!query.is_empty()).then(|| query.join("&")),
        headers,
        body,
        peer: auth.peer,
        trusted_user: auth.user.clone(),
        upload: None,
        quota_owner: None,
    })
}

/// Pre-rendered JSON as a compact string (`message_body` is compact even with `pretty`).
fn compact_json(data: &[u8]) -> String {
    if !data.contains(&b'\n')
        && let Ok(text) = std::str::from_utf8(data)
    {
        return text.to_string();
    }
    serde_json::from_slice::<Value>(data)
        .map(|v| v.to_string())
        .unwrap_or_else(|_| String::from_utf8_lossy(data).into_owned())
}

/// An id the client sent (`""` when absent or not a string).
fn id_field(object: &Map<String, Value>, key: &str) -> String {
    object
        .get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

impl Reply {
    /// The answer to a frame that is not a JSON object or array: the message is the reason
    /// phrase, and there is no body.
    fn unparsable() -> Reply {
        Reply {
            ids: Ids::default(),
            status: StatusCode::BAD_REQUEST,
            reason: FrameError::Json.to_string(),
            body: None,
        }
    }

    fn error(ids: Ids, error: FrameError) -> Reply {
        let status = error.status();
        Reply {
            ids,
            status,
            reason: match status {
                StatusCode::BAD_REQUEST => "Bad request".to_string(),
                other => other.canonical_reason().unwrap_or("Error").to_string(),
            },
            body: Some(serde_json::json!({ "message": error.to_string() }).to_string()),
        }
    }

    fn from_response(ids: Ids, response: AriResponse) -> Reply {
        let reason = response
            .status
            .canonical_reason()
            .unwrap_or("Unknown")
            .to_string();
        match response.body {
            Body::Empty | Body::Page(_) => Reply {
                ids,
                status: response.status,
                reason,
                body: None,
            },
            Body::Json(value) => Reply {
                ids,
                status: response.status,
                reason,
                body: Some(value.to_string()),
            },
            Body::Raw { content_type, data } if content_type == JSON => Reply {
                ids,
                status: response.status,
                reason,
                body: Some(compact_json(&data)),
            },
            Body::Raw { .. } | Body::File { .. } | Body::Stream(_) => {
                const NOT_ACCEPTABLE: &str = "Not Acceptable.  Use HTTP GET";
                Reply {
                    ids,
                    status: StatusCode::NOT_ACCEPTABLE,
                    reason: NOT_ACCEPTABLE.to_string(),
                    body: Some(serde_json::json!({ "message": NOT_ACCEPTABLE }).to_string()),
                }
            }
        }
    }

    /// The `RESTResponse` frame for the socket's first application.
    pub fn to_frame(&self, application: &str, asterisk_id: &str, pretty: bool) -> String {
        let mut object = Map::with_capacity(11);
        object.insert("type".into(), Value::from("RESTResponse"));
        object.insert(
            "transaction_id".into(),
            Value::from(self.ids.transaction_id.as_str()),
        );
        object.insert(
            "request_id".into(),
            Value::from(self.ids.request_id.as_str()),
        );
        object.insert("status_code".into(), Value::from(self.status.as_u16()));
        object.insert("reason_phrase".into(), Value::from(self.reason.as_str()));
        object.insert("uri".into(), Value::from(self.ids.uri.as_str()));
        if let Some(body) = &self.body {
            object.insert("content_type".into(), Value::from(JSON));
            object.insert("message_body".into(), Value::from(body.as_str()));
        }
        object.insert(
            "timestamp".into(),
            Value::from(crate::core::time::now().as_str()),
        );
        object.insert("asterisk_id".into(), Value::from(asterisk_id));
        object.insert("application".into(), Value::from(application));
        let object = Value::Object(object);
        let text = if pretty {
            serde_json::to_string_pretty(&object)
        } else {
            serde_json::to_string(&object)
        };
        text.unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error_of(frame: &str) -> (StatusCode, String, Ids) {
        let reply = parse(frame, &SocketAuth::default()).expect_err("refused");
        let body: Value = serde_json::from_str(reply.body.as_deref().unwrap_or("null")).unwrap();
        (
            reply.status,
            body["message"].as_str().unwrap_or_default().to_string(),
            reply.ids,
        )
    }

    #[test]
    fn malformed_frames_get_the_spec_messages() {
        let cases = [
            ("{}", "No 'type' property."),
            ("[]", "No 'type' property."),
            (r#"{"type":5}"#, "No 'type' property."),
            (r#"{"type":""}"#, "No 'type' property."),
            (r#"{"type":"Other"}"#, "Unknown request type."),
            (
                r#"{"type":"RESTRequest","method":"GET"}"#,
                "Empty or missing 'uri' property.",
            ),
            (
                r#"{"type":"RESTRequest","uri":""}"#,
                "Empty or missing 'uri' property.",
            ),
            (
                r#"{"type":"RESTRequest","uri":"x"}"#,
                "Unknown or missing 'method' property.",
            ),
            (
                r#"{"type":"RESTRequest","uri":"x","method":"get"}"#,
                "Unknown or missing 'method' property.",
            ),
            (
                r#"{"type":"RESTRequest","uri":"x","method":"GET","query_strings":[5]}"#,
                "Unable to parse 'query_strings' array.",
            ),
            (
                r#"{"type":"RESTRequest","uri":"x","method":"GET","query_strings":[{"name":"a"}]}"#,
                "Unable to parse 'query_strings' array.",
            ),
            (
                r#"{"type":"RESTRequest","uri":"x","method":"POST","message_body":"{}"}"#,
                "No 'content_type' for 'message_body'.",
            ),
            (
                r#"{"type":"RESTRequest","uri":"x","method":"POST","message_body":"{}","content_type":"text/plain"}"#,
                "Unknown content type.",
            ),
            (
                r#"{"type":"RESTRequest","uri":"x","method":"POST","message_body":"{x","content_type":"application/json"}"#,
                "Unable to parse 'message_body' as 'application/json'.",
            ),
            (
                r#"{"type":"RESTRequest","uri":"x","method":"POST","message_body":"null","content_type":"application/json"}"#,
                "Unable to parse 'message_body' as 'application/json'.",
            ),
        ];
        for (frame, message) in cases {
            let (status, got, _) = error_of(frame);
            assert_eq!(status, StatusCode::BAD_REQUEST, "{frame}");
            assert_eq!(got, message, "{frame}");
        }
    }

    #[test]
    fn frames_that_are_not_a_json_object_or_array_get_a_bodiless_reply() {
        for frame in ["{not json", "\"str\"", "null", "5", ""] {
            let reply = parse(frame, &SocketAuth::default()).expect_err("refused");
            assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{frame}");
            assert_eq!(
                reply.reason, "Failed to parse request message JSON",
                "{frame}"
            );
            assert_eq!(reply.body, None, "{frame}");
            let frame: Value = serde_json::from_str(&reply.to_frame("app", "id", false)).unwrap();
            assert!(frame.get("content_type").is_none() && frame.get("message_body").is_none());
        }
    }

    #[test]
    fn properties_of_the_wrong_type_count_as_absent() {
        let parsed = parse(
            r#"{"type":"RESTRequest","transaction_id":5,"request_id":{"a":1},"method":"POST","uri":"x",
                "query_strings":{"a":"b"},"message_body":{"variable":"v"}}"#,
            &SocketAuth::default(),
        )
        .expect("valid");
        assert_eq!(parsed.ids.transaction_id, "");
        assert_eq!(parsed.ids.request_id, "");
        assert_eq!(parsed.request.query, None);
        assert!(parsed.request.body.is_empty());
    }

    #[test]
    fn ids_are_echoed_even_on_errors() {
        let (_, _, ids) =
            error_of(r#"{"type":"X","request_id":"r1","transaction_id":"t1","uri":"a?b=c"}"#);
        assert_eq!(ids.request_id, "r1");
        assert_eq!(ids.transaction_id, "t1");
        let (_, _, ids) = error_of(r#"{"type":"RESTRequest","uri":"a/b?c=d"}"#);
        assert_eq!(ids.uri, "a/b", "query stripped");
    }

    #[test]
    fn parameters_are_assembled_in_order_and_run_as_the_socket_user() {
        let user = Arc::new(User {
            name: "u".to_string(),
            password: crate::config::Password::Plain("p".to_string()),
            read_only: true,
            admin: false,
            limits: crate::config::user_limits::UserLimits::default(),
            acl: crate::acl::Acl::default(),
        });
        let peer: SocketAddr = "127.0.0.1:5".parse().expect("address");
        let auth = SocketAuth::granted(user, Some(peer), &HeaderMap::new());
        let parsed = parse(
            r#"{"type":"RESTRequest","method":"POST","uri":"channels/1/answer?a=1",
                "query_strings":[{"name":"b","value":"2 3"}],
                "content_type":"application/x-www-form-urlencoded","message_body":"c=4"}"#,
            &auth,
        )
        .expect("valid");
        assert_eq!(parsed.request.path, "/channels/1/answer");
        assert_eq!(parsed.request.query.as_deref(), Some("a=1&b=2+3"));
        assert_eq!(&parsed.request.body[..], b"c=4");
        assert_eq!(parsed.request.method, Method::POST);
        assert_eq!(parsed.request.peer, Some(peer));
        assert_eq!(
            parsed
                .request
                .trusted_user
                .as_ref()
                .map(|u| u.name.as_str()),
            Some("u")
        );
    }

    #[test]
    fn responses_carry_the_body_as_a_compact_string() {
        let reply = Reply::from_response(
            Ids {
                uri: "asterisk/info".into(),
                ..Ids::default()
            },
            AriResponse::ok(serde_json::json!({"a": [1, 2]})),
        );
        let frame: Value = serde_json::from_str(&reply.to_frame("app", "id", true)).unwrap();
        assert_eq!(frame["type"], "RESTResponse");
        assert_eq!(frame["status_code"], 200);
        assert_eq!(frame["reason_phrase"], "OK");
        assert_eq!(frame["message_body"], r#"{"a":[1,2]}"#);
        assert_eq!(frame["content_type"], JSON);
        assert_eq!(frame["application"], "app");
        let empty = Reply::from_response(Ids::default(), AriResponse::no_content());
        let frame: Value = serde_json::from_str(&empty.to_frame("app", "id", false)).unwrap();
        assert_eq!(frame["reason_phrase"], "No Content");
        assert!(frame.get("message_body").is_none());
        assert!(frame.get("content_type").is_none());
    }
}
