//! `/events`: user events and claiming broadcast channels. The events WebSocket itself
//! (`GET /events`) is served by the transport (`crate::events`), not here.

use serde_json::Value;

use super::{Ctx, Entry};
use crate::ari::response::{AriError, AriResponse, AriResult};
use crate::ari_handler;

/// POST /events/user/{eventName}: ChannelUserevent to `application`, with snapshots of the
/// `source` objects (`channel:`, `bridge:`, `endpoint:`) and `body.variables` merged into
/// `userevent`.
pub async fn user_event(ctx: Ctx) -> AriResult {
    let name = ctx.params.string("eventName").unwrap_or_default();
    let application = ctx.params.string("application").unwrap_or_default();
    if application.is_empty() {
        return Err(AriError::bad_request("Missing parameter application"));
    }
    let sources = ctx.params.list("source")?.unwrap_or_default();
    let variables = match ctx.params.body().and_then(|b| b.get("variables")) {
        None | Some(Value::Null) => None,
        Some(Value::Object(vars)) => Some(vars),
        Some(_) => {
            return Err(AriError::bad_request(
                "The 'variables' body member must be a JSON object",
            ));
        }
    };
    ctx.core
        .user_event(&application, &name, &sources, variables)?;
    Ok(AriResponse::no_content())
}

/// POST /events/claim: wari has no StasisBroadcast(), so there is never a broadcast to
/// claim; once the parameters are valid the answer is 501, as from an Asterisk without the
/// broadcast module.
pub async fn claim_channel(ctx: Ctx) -> AriResult {
    ctx.params.required_string("channelId")?;
    ctx.params.required_string("application")?;
    Err(AriError::new(
        http::StatusCode::NOT_IMPLEMENTED,
        "Call broadcasting is not supported",
    ))
}

/// The `/events` operations (the WebSocket is routed by the transport).
pub fn handlers() -> Vec<Entry> {
    vec![
        ari_handler!("events", "userEvent", user_event),
        ari_handler!("events", "claimChannel", claim_channel),
    ]
}
