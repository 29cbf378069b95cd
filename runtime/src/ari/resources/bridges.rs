//! `/bridges`: creating, listing and destroying bridges, moving channels in and out, and
//! bridge variables.
//!
//! wari carries no media yet: music on hold, playback and recording answer 501 once the
//! bridge checks (404/409) pass, and the video source operations validate their arguments
//! and change nothing (there is no video to switch).

use serde_json::{Map, Value, json};

use super::{Ctx, Entry};
use crate::ari::response::{AriError, AriResponse, AriResult};
use crate::ari_handler;
use crate::core::bridges::BridgeVar;

fn bridge_id(ctx: &Ctx) -> String {
    ctx.params.string("bridgeId").unwrap_or_default()
}

/// Parses a variables object: `{NAME: "value" | {"value": "v", "report_events": bool}}`
/// (the shape setChannelVars takes). Anything else is a 400.
fn parse_vars(vars: &Map<String, Value>) -> Result<Vec<BridgeVar>, AriError> {
    vars.iter()
        .map(|(name, value)| {
            let invalid = |why: &str| {
                AriError::bad_request(format!("Invalid value for variable '{name}': {why}"))
            };
            let (value, report) = match value {
                Value::String(s) => (s.clone(), None),
                Value::Object(o) => {
                    let value = o
                        .get("value")
                        .and_then(Value::as_str)
                        .ok_or_else(|| invalid("'value' must be a string"))?;
                    let report = match o.get("report_events") {
                        None => None,
                        Some(Value::Bool(b)) => Some(*b),
                        Some(_) => return Err(invalid("'report_events' must be a boolean")),
                    };
                    (value.to_string(), report)
                }
                _ => {
                    return Err(invalid(
                        "expected a string or {\"value\": ..., \"report_events\": ...}",
                    ));
                }
            };
            Ok(BridgeVar {
                name: name.clone(),
                value: Some(value),
                report,
            })
        })
        .collect()
}

/// The `variables` object of the JSON body, if any (not an object → 400).
fn body_vars(ctx: &Ctx) -> Result<Option<Vec<BridgeVar>>, AriError> {
    match ctx.params.body().and_then(|b| b.get("variables")) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(vars)) => parse_vars(vars).map(Some),
        Some(_) => Err(AriError::bad_request(
            "The 'variables' body member must be a JSON object",
        )),
    }
}

/// GET /bridges: every bridge, ARI's and the dialplan's.
pub async fn list(ctx: Ctx) -> AriResult {
    Ok(AriResponse::ok(ctx.core.list_bridges()))
}

async fn create_bridge(ctx: Ctx, id: Option<String>) -> AriResult {
    let vars = body_vars(&ctx)?.unwrap_or_default();
    let types = ctx.params.string("type").unwrap_or_default();
    let name = ctx.params.string("name").unwrap_or_default();
    let bridge = ctx
        .core
        .create_bridge_with_vars(id.as_deref(), &types, &name, &vars)?;
    Ok(AriResponse::ok(bridge))
}

/// POST /bridges. Variables come from `body.variables`: Asterisk's quirk of reading the whole
/// body as variables is not reproduced. An empty `bridgeId` counts as absent.
pub async fn create(ctx: Ctx) -> AriResult {
    let id = ctx.params.string("bridgeId").filter(|id| !id.is_empty());
    create_bridge(ctx, id).await
}

/// POST /bridges/{bridgeId}
pub async fn create_with_id(ctx: Ctx) -> AriResult {
    let id = Some(bridge_id(&ctx));
    create_bridge(ctx, id).await
}

/// GET /bridges/{bridgeId}
pub async fn get(ctx: Ctx) -> AriResult {
    Ok(AriResponse::ok(ctx.core.get_bridge(&bridge_id(&ctx))?))
}

/// DELETE /bridges/{bridgeId}: members are ejected first.
pub async fn destroy(ctx: Ctx) -> AriResult {
    ctx.core.destroy_bridge(&bridge_id(&ctx))?;
    Ok(AriResponse::no_content())
}

/// GET /bridges/{bridgeId}/variable
pub async fn get_bridge_var(ctx: Ctx) -> AriResult {
    let name = ctx.params.string("variable").unwrap_or_default();
    let value = ctx.core.get_bridge_var(&bridge_id(&ctx), &name)?;
    Ok(AriResponse::ok(json!({ "value": value })))
}

/// POST /bridges/{bridgeId}/variable: without `value` the variable is unset.
pub async fn set_bridge_var(ctx: Ctx) -> AriResult {
    let name = ctx.params.string("variable").unwrap_or_default();
    let var = BridgeVar {
        name: name.trim().to_string(),
        value: ctx.params.string("value"),
        report: ctx.params.boolean("report_events"),
    };
    ctx.core.set_bridge_vars(&bridge_id(&ctx), &[var])?;
    Ok(AriResponse::no_content())
}

/// GET /bridges/{bridgeId}/variables
pub async fn get_bridge_vars(ctx: Ctx) -> AriResult {
    let names = ctx.params.list("variables")?.unwrap_or_default();
    let vars = ctx.core.get_bridge_vars(&bridge_id(&ctx), &names)?;
    Ok(AriResponse::ok(json!({ "variables": vars })))
}

/// POST /bridges/{bridgeId}/variables with `{"variables": {...}}`. Unlike Asterisk, which
/// stops at the first bad entry, nothing is set unless every entry is valid.
pub async fn set_bridge_vars(ctx: Ctx) -> AriResult {
    let vars =
        body_vars(&ctx)?.ok_or_else(|| AriError::bad_request("Missing parameter variables"))?;
    ctx.core.set_bridge_vars(&bridge_id(&ctx), &vars)?;
    Ok(AriResponse::no_content())
}

/// POST /bridges/{bridgeId}/addChannel. `role`, `absorbDTMF`, `mute` and
/// `inhibitConnectedLineUpdates` are accepted; without media they change nothing.
pub async fn add_channel(ctx: Ctx) -> AriResult {
    let channels = ctx.params.list("channel")?.unwrap_or_default();
    let _ = (
        ctx.params.string("role"),
        ctx.params.boolean("absorbDTMF"),
        ctx.params.boolean("mute"),
        ctx.params.boolean("inhibitConnectedLineUpdates"),
    );
    ctx.core.add_to_bridge(&bridge_id(&ctx), &channels)?;
    Ok(AriResponse::no_content())
}

/// POST /bridges/{bridgeId}/removeChannel
pub async fn remove_channel(ctx: Ctx) -> AriResult {
    let channels = ctx.params.list("channel")?.unwrap_or_default();
    ctx.core.remove_from_bridge(&bridge_id(&ctx), &channels)?;
    Ok(AriResponse::no_content())
}

/// POST /bridges/{bridgeId}/videoSource/{channelId}: validated like Asterisk (unknown
/// channel 400, not in Stasis or not in this bridge 422); wari has no video, so the bridge
/// stays as it is and no BridgeVideoSourceChanged is sent.
pub async fn set_video_source(ctx: Ctx) -> AriResult {
    let channel = ctx.params.string("channelId").unwrap_or_default();
    ctx.core.set_video_source(&bridge_id(&ctx), &channel)?;
    Ok(AriResponse::no_content())
}

/// DELETE /bridges/{bridgeId}/videoSource: nothing to clear without video.
pub async fn clear_video_source(ctx: Ctx) -> AriResult {
    ctx.core.check_stasis_bridge(&bridge_id(&ctx))?;
    Ok(AriResponse::no_content())
}

/// The answer to media operations on a bridge that passed the 404/409 checks.
fn media_unavailable(ctx: &Ctx, what: &str) -> AriResult {
    ctx.core.check_stasis_bridge(&bridge_id(ctx))?;
    Err(AriError::new(
        http::StatusCode::NOT_IMPLEMENTED,
        format!("Media is not available yet in wari: {what} is not implemented"),
    ))
}

/// POST /bridges/{bridgeId}/moh
pub async fn start_moh(ctx: Ctx) -> AriResult {
    media_unavailable(&ctx, "music on hold")
}

/// DELETE /bridges/{bridgeId}/moh
pub async fn stop_moh(ctx: Ctx) -> AriResult {
    media_unavailable(&ctx, "music on hold")
}

/// POST /bridges/{bridgeId}/play
pub async fn play(ctx: Ctx) -> AriResult {
    media_unavailable(&ctx, "bridge playback")
}

/// POST /bridges/{bridgeId}/play/{playbackId}
pub async fn play_with_id(ctx: Ctx) -> AriResult {
    media_unavailable(&ctx, "bridge playback")
}

/// POST /bridges/{bridgeId}/record
pub async fn record(ctx: Ctx) -> AriResult {
    media_unavailable(&ctx, "bridge recording")
}

/// The `/bridges` operations.
pub fn handlers() -> Vec<Entry> {
    vec![
        ari_handler!("bridges", "list", list),
        ari_handler!("bridges", "create", create),
        ari_handler!("bridges", "createWithId", create_with_id),
        ari_handler!("bridges", "get", get),
        ari_handler!("bridges", "destroy", destroy),
        ari_handler!("bridges", "getBridgeVar", get_bridge_var),
        ari_handler!("bridges", "setBridgeVar", set_bridge_var),
        ari_handler!("bridges", "getBridgeVars", get_bridge_vars),
        ari_handler!("bridges", "setBridgeVars", set_bridge_vars),
        ari_handler!("bridges", "addChannel", add_channel),
        ari_handler!("bridges", "removeChannel", remove_channel),
        ari_handler!("bridges", "setVideoSource", set_video_source),
        ari_handler!("bridges", "clearVideoSource", clear_video_source),
        ari_handler!("bridges", "startMoh", start_moh),
        ari_handler!("bridges", "stopMoh", stop_moh),
        ari_handler!("bridges", "play", play),
        ari_handler!("bridges", "playWithId", play_with_id),
        ari_handler!("bridges", "record", record),
    ]
}
