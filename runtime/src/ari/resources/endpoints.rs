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

/// `body.variables`: an object whose values are all strings (400 `Only string values in
/// the 'variables' object allowed`, Asterisk 23.4.1's words); anything but an object counts
/// as none, as there.
fn string_variables(ctx: &Ctx) -> Result<Map<String, Value>, AriError> {
    match ctx.params.body().and_then(|b| b.get("variables")) {
        Some(Value::Object(vars)) if vars.values().all(Value::is_string) => Ok(vars.clone()),
        Some(Value::Object(_)) => Err(AriError::bad_request(
            "Only string values in the 'variables' object allowed",
        )),
        _ => Ok(Map::new()),
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
pub(crate) async fn list(ctx: Ctx) -> AriResult {
    Ok(AriResponse::ok(ctx.control().list_endpoints()))
}

/// GET /endpoints/{tech}: a technology without endpoints (unknown, or Local) is a 404, a
/// known one without endpoints yet `[]`.
pub(crate) async fn list_by_tech(ctx: Ctx) -> AriResult {
    let tech = ctx.params.string("tech").unwrap_or_default();
    Ok(AriResponse::ok(
        ctx.control().list_endpoints_by_tech(&tech)?,
    ))
}

/// GET /endpoints/{tech}/{resource}
pub(crate) async fn get(ctx: Ctx) -> AriResult {
    let (tech, resource) = tech_and_resource(&ctx);
    Ok(AriResponse::ok(
        ctx.control().get_endpoint(&tech, &resource)?,
    ))
}

/// Sends the message (`from` may be empty, as Asterisk allows) once the variables passed.
fn send(ctx: &Ctx, tech: &str, resource: &str, variables: Map<String, Value>) -> AriResult {
    let message = TextMessage {
        from: ctx.params.string("from").unwrap_or_default(),
        body: ctx.params.string("body").unwrap_or_default(),
        variables,
    };
    ctx.control().send_message(tech, resource, message)?;
    Ok(accepted())
}

/// PUT /endpoints/sendMessage: `to` is a `tech:resource` URI (e.g. `test:alice`). Checked
/// as Asterisk 23.4.1 does: the variables (400), `to` (400 `To must be specified`), then
/// the endpoint (404 `Endpoint not found`).
pub(crate) async fn send_message(ctx: Ctx) -> AriResult {
    let variables = string_variables(&ctx)?;
    let to = required(&ctx, "to", "To must be specified")?;
    let (tech, resource) = parse_message_uri(&to)?;
    send(&ctx, tech, resource, variables)
}

/// PUT /endpoints/{tech}/{resource}/sendMessage: the endpoint (404) before the variables.
pub(crate) async fn send_message_to_endpoint(ctx: Ctx) -> AriResult {
    let (tech, resource) = tech_and_resource(&ctx);
    ctx.control().get_endpoint(&tech, &resource)?;
    let variables = string_variables(&ctx)?;
    send(&ctx, &tech, &resource, variables)
}

/// The variables of a REFER (400 when not strings); `from`, `refer_to`, `to_self` and a
/// top-level `display_name` are optional, as in Asterisk.
fn check_refer(ctx: &Ctx) -> Result<(), AriError> {
    string_variables(ctx)?;
    let _ = (
        ctx.params.string("from"),
        ctx.params.string("refer_to"),
        ctx.params.boolean("to_self"),
        ctx.params.string("display_name"),
    );
    Ok(())
}

/// POST /endpoints/refer: `to` is a `tech:resource` URI. A Test phone accepts it (202) and
/// nothing else happens. Checked as Asterisk 23.4.1 does: the variables, `to` (400 `To
/// must be specified`), then the endpoint (404 `Endpoint not found`).
pub(crate) async fn refer(ctx: Ctx) -> AriResult {
    check_refer(&ctx)?;
    let to = required(&ctx, "to", "To must be specified")?;
    let (tech, resource) = parse_message_uri(&to)?;
    ctx.control().refer(tech, resource)?;
    Ok(accepted())
}

/// POST /endpoints/{tech}/{resource}/refer: the endpoint (404) before the variables.
pub(crate) async fn refer_to_endpoint(ctx: Ctx) -> AriResult {
    let (tech, resource) = tech_and_resource(&ctx);
    ctx.control().get_endpoint(&tech, &resource)?;
    check_refer(&ctx)?;
    ctx.control().refer(&tech, &resource)?;
    Ok(accepted())
}

/// The `/endpoints` operations.
pub(crate) fn handlers() -> Vec<Entry> {
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
