//! `/endpoints`: the endpoints the technologies know, and text messages and REFERs to them.
//!
//! Endpoints are those the core knows: made known up front (configured Test phones) or
//! used by a channel (a Test phone `Test/NAME` after its first call). Messages and
//! REFERs go to Test phones only (see [`crate::core::endpoints`]): a Test phone echoes each
//! message back as TextMessageReceived, and accepts a REFER without acting on it. Both
//! answer 202 with no body; an unknown technology or endpoint, or one that takes no
//! messages, is a 404.

use serde_json::{Map, Value};

use super::{Ctx, Entry};
use crate::ari::response::{AriError, AriResponse, AriResult, Body};
use crate::ari_handler;
use crate::core::endpoints::{TextMessage, parse_message_uri};

/// 202 Accepted with no body.
fn accepted() -> AriResponse {
    AriResponse {
        status: http::StatusCode::ACCEPTED,
        headers: Vec::new(),
        body: Body::Empty,
    }
}

fn tech_and_resource(ctx: &Ctx) -> (String, String) {
    (
        ctx.params.string("tech").unwrap_or_default(),
        ctx.params.string("resource").unwrap_or_default(),
    )
}

/// `body.variables`: an object whose values are all strings (400 otherwise); none is `{}`.
fn string_variables(ctx: &Ctx) -> Result<Map<String, Value>, AriError> {
    let invalid =
        || AriError::bad_request("The 'variables' body member must be a JSON object of strings");
    match ctx.params.body().and_then(|b| b.get("variables")) {
        None | Some(Value::Null) => Ok(Map::new()),
        Some(Value::Object(vars)) if vars.values().all(Value::is_string) => Ok(vars.clone()),
        Some(_) => Err(invalid()),
    }
}

/// A required string parameter, with a message naming it.
fn required(ctx: &Ctx, name: &str, message: &str) -> Result<String, AriError> {
    ctx.params
        .string(name)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| AriError::bad_request(message))
}

/// GET /endpoints
pub async fn list(ctx: Ctx) -> AriResult {
    Ok(AriResponse::ok(ctx.core.list_endpoints()))
}

/// GET /endpoints/{tech}: an unknown technology is a 404, a known one without endpoints `[]`.
pub async fn list_by_tech(ctx: Ctx) -> AriResult {
    let tech = ctx.params.string("tech").unwrap_or_default();
    Ok(AriResponse::ok(ctx.core.list_endpoints_by_tech(&tech)?))
}

/// GET /endpoints/{tech}/{resource}
pub async fn get(ctx: Ctx) -> AriResult {
    let (tech, resource) = tech_and_resource(&ctx);
    Ok(AriResponse::ok(ctx.core.get_endpoint(&tech, &resource)?))
}

fn send(ctx: &Ctx, tech: &str, resource: &str) -> AriResult {
    let from = required(ctx, "from", "From must be specified")?;
    let variables = string_variables(ctx)?;
    let message = TextMessage {
        from,
        body: ctx.params.string("body").unwrap_or_default(),
        variables,
    };
    ctx.core.send_message(tech, resource, message)?;
    Ok(accepted())
}

/// PUT /endpoints/sendMessage: `to` is a `tech:resource` URI (e.g. `test:alice`).
pub async fn send_message(ctx: Ctx) -> AriResult {
    let to = required(&ctx, "to", "To must be specified")?;
    required(&ctx, "from", "From must be specified")?;
    string_variables(&ctx)?;
    let (tech, resource) = parse_message_uri(&to)?;
    send(&ctx, tech, resource)
}

/// PUT /endpoints/{tech}/{resource}/sendMessage
pub async fn send_message_to_endpoint(ctx: Ctx) -> AriResult {
    let (tech, resource) = tech_and_resource(&ctx);
    send(&ctx, &tech, &resource)
}

/// The parameters every REFER needs; `to_self` and a top-level `display_name` are accepted.
fn check_refer(ctx: &Ctx) -> Result<(), AriError> {
    required(ctx, "from", "From must be specified")?;
    required(ctx, "refer_to", "Refer-To must be specified")?;
    let _ = (
        ctx.params.boolean("to_self"),
        ctx.params.string("display_name"),
    );
    string_variables(ctx)?;
    Ok(())
}

/// POST /endpoints/refer: `to` is a `tech:resource` URI. A Test phone accepts it (202) and
/// nothing else happens.
pub async fn refer(ctx: Ctx) -> AriResult {
    let to = required(&ctx, "to", "To must be specified")?;
    check_refer(&ctx)?;
    let (tech, resource) = parse_message_uri(&to)?;
    ctx.core.refer(tech, resource)?;
    Ok(accepted())
}

/// POST /endpoints/{tech}/{resource}/refer
pub async fn refer_to_endpoint(ctx: Ctx) -> AriResult {
    check_refer(&ctx)?;
    let (tech, resource) = tech_and_resource(&ctx);
    ctx.core.refer(&tech, &resource)?;
    Ok(accepted())
}

/// The `/endpoints` operations.
pub fn handlers() -> Vec<Entry> {
    vec![
        ari_handler!("endpoints", "list", list),
        ari_handler!("endpoints", "listByTech", list_by_tech),
        ari_handler!("endpoints", "get", get),
        ari_handler!("endpoints", "sendMessage", send_message),
        ari_handler!(
            "endpoints",
            "sendMessageToEndpoint",
            send_message_to_endpoint
        ),
        ari_handler!("endpoints", "refer", refer),
        ari_handler!("endpoints", "referToEndpoint", refer_to_endpoint),
    ]
}
