//! A guest's `ari.request`: the check of what the request may touch (its session's own
//! channels and bridges, its app's own names, a few read-only system resources) and its
//! dispatch through the ARI pipeline as wari's internal user.

use std::sync::Weak;

use bytes::Bytes;
use serde_json::{Value, json};

use super::{Shared, bindings, names, session};
use crate::host_api::InternalRequest;

/// Why an `ari.request` is refused (403), in the words the guest reads.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
enum Denied {
    #[error("Channel '{0}' does not belong to this session")]
    Channel(String),
    #[error("Bridge '{0}' does not belong to this session")]
    Bridge(String),
    #[error("{method} /{path} is not permitted for WebAssembly apps")]
    Resource { method: String, path: String },
    /// An application or recording that is not the app's own.
    #[error(transparent)]
    Name(#[from] names::Refusal),
}

impl Shared {
    /// Runs an ARI request for a session through the normal router, refusing anything that
    /// touches channels or bridges the session does not own.
    pub async fn ari_request(
        &self,
        session: &session::Session,
        method: &str,
        path: &str,
        query: &[(String, String)],
        body: Option<&str>,
    ) -> bindings::wari::stasis::ari::Response {
        use bindings::wari::stasis::ari::Response;
        let refuse = |status: u16, message: String| Response {
            status,
            body: json!({ "message": message }).to_string(),
        };
        if let Err(denied) = permitted(session, method, path, query, body) {
            return refuse(403, denied.to_string());
        }
        let Some(ari) = self.ari.as_ref().and_then(Weak::upgrade) else {
            return refuse(503, "ARI is not available".into());
        };
        let Ok(method) = method.to_ascii_uppercase().parse::<http::Method>() else {
            return refuse(400, format!("Invalid method '{method}'"));
        };
        let query_string = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(query)
            .finish();
        let request = InternalRequest {
            method,
            path: format!("/{}", path.trim_start_matches('/')),
            query: (!query_string.is_empty()).then_some(query_string),
            json_body: body.map(|b| Bytes::from(b.to_string())),
            // What the app makes or records counts against its owner, as with its typed
            // calls.
            quota_owner: session.app.current().stored.owner.clone(),
        };
        let response = ari.serve_internal(request).await;
        Response {
            status: response.status,
            body: response.body,
        }
    }
}

/// The capability check for `ari.request`: channels and bridges named in the path or in
/// `channel` parameters must belong to the session, and applications and recordings named
/// in parameters to the app ([`names`]); listing or creating objects outside the session,
/// and everything but a few read-only system resources, is refused.
fn permitted(
    session: &session::Session,
    method: &str,
    path: &str,
    query: &[(String, String)],
    body: Option<&str>,
) -> Result<(), Denied> {
    // The path as the ARI router reads it: segments percent-decoded, up to the first
    // empty one.
    let segments =
        crate::host_api::wire::decode_segments(&format!("/{}", path.trim_start_matches('/')));
    owned_objects(session, method, &segments, query, body)?;
    let body: Option<Value> = body.and_then(|b| serde_json::from_str(b).ok());
    // Every value a parameter has, in the query (each occurrence) and in a JSON body
    // (a string or a list of strings): the pipeline reads one of them, the check reads all.
    let values = |key: &str| -> Vec<String> {
        let from_body = match body.as_ref().and_then(|b| b.get(key)) {
            Some(Value::String(s)) => vec![s.clone()],
            Some(Value::Array(items)) => items
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect(),
            Some(other) => vec![other.to_string()],
            None => Vec::new(),
        };
        query
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
            .chain(from_body)
            .collect()
    };
    let own = session.app.name.as_str();
    for app in values("app") {
        names::own_app(own, &app)?;
    }
    names::own_media(own, values("media").iter().map(String::as_str))?;
    if segments.last().is_some_and(|last| last == "record") {
        for name in values("name") {
            names::own_recording(own, &name)?;
        }
    }
    Ok(())
}

/// The channels and bridges an `ari.request` names in its path and `channel` parameters.
fn owned_objects(
    session: &session::Session,
    method: &str,
    segments: &[String],
    query: &[(String, String)],
    body: Option<&str>,
) -> Result<(), Denied> {
    let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
    let owns_channel = |id: &str| session.channels.lock().is_ok_and(|c| c.contains(id));
    let owns_bridge = |id: &str| session.app.owns_bridge(id);
    let read_only = method.eq_ignore_ascii_case("GET");
    let body_channels: Vec<String> = body
        .and_then(|b| serde_json::from_str::<Value>(b).ok())
        .and_then(|v| v.get("channel").cloned())
        .map(|c| match c {
            Value::String(s) => s.split(',').map(str::to_string).collect(),
            Value::Array(a) => a
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect(),
            _ => Vec::new(),
        })
        .unwrap_or_default();
    match segments.as_slice() {
        ["channels", id, ..] if owns_channel(id) => Ok(()),
        ["bridges", _, "videoSource", channel, ..] if !owns_channel(channel) => {
            Err(Denied::Channel(channel.to_string()))
        }
        ["bridges", id, ..] if owns_bridge(id) => {
            let named = query
                .iter()
                .filter(|(k, _)| k == "channel")
                .flat_map(|(_, v)| v.split(',').map(str::to_string))
                .chain(body_channels);
            for channel in named {
                if !owns_channel(channel.trim()) {
                    return Err(Denied::Channel(channel));
                }
            }
            Ok(())
        }
        ["asterisk", "info" | "ping"] | ["sounds", ..] if read_only => Ok(()),
        ["channels", id, ..] => Err(Denied::Channel(id.to_string())),
        ["bridges", id, ..] => Err(Denied::Bridge(id.to_string())),
        _ => Err(Denied::Resource {
            method: method.to_string(),
            path: segments.join("/"),
        }),
    }
}
