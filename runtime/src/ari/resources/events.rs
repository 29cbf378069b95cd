//! `/events`: user events and claiming broadcast channels. The events WebSocket itself
//! (`GET /events`) is served by the transport (`crate::events`), not here.

use serde_json::Value;

use super::{Ctx, Entry};
use crate::ari::response::{AriError, AriResponse, AriResult};
use crate::ari_handler;

/// POST /events/user/{eventName}: ChannelUserevent to `application`, with snapshots of the
/// `source` objects (`channel:`, `bridge:`, `endpoint:`) and `body.variables` merged into
/// `userevent`.
pub(crate) async fn user_event(ctx: Ctx) -> AriResult {
    let name = ctx.params.string("eventName").unwrap_or_default();
    let application = ctx.params.string("application").unwrap_or_default();
    if application.is_empty() {
        return Err(AriError::bad_request("Missing parameter application"));
    }
    let sources = ctx.params.list("source")?.unwrap_or_default();
    let variables = match ctx.params.body().and_then(|b| b.get("variables")) {
        None | Some(Value::Null) => None,
        Some(Value::Object(vars)) => Some(vars),
        // Asterisk 23.4.1 cannot add `eventname` to anything but an object, and says so
        // with a 500; the client's mistake is a 400 here, with Asterisk's message.
        Some(_) => return Err(AriError::bad_request("Error processing request")),
    };
    ctx.control()
        .user_event(&application, &name, &sources, variables)?;
    Ok(AriResponse::no_content())
}

/// POST /events/claim: wari has no StasisBroadcast(), so no channel is ever being
/// broadcast: once the parameters are there the answer is Asterisk 23.4.1's for a channel
/// not in broadcast state, 404 `Channel not found or not in broadcast state`.
pub(crate) async fn claim_channel(ctx: Ctx) -> AriResult {
    for name in ["channelId", "application"] {
        if ctx.params.string(name).is_none_or(|v| v.is_empty()) {
            return Err(AriError::bad_request(format!(
                "{name} parameter is required"
            )));
        }
    }
    Err(AriError::not_found(
        "Channel not found or not in broadcast state",
    ))
}

/// The `/events` operations (the WebSocket is routed by the transport).
pub(crate) fn handlers() -> Vec<Entry> {
    vec![
        ari_handler!("events", "userEvent", user_event),
        ari_handler!("events", "claimChannel", claim_channel),
    ]
}
