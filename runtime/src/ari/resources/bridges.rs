//! `/bridges`: creating, listing and destroying bridges, moving channels in and out, and
//! bridge variables.
//!
//! Media: bridge playback (the announcer, mixed into what every member hears), bridge
//! recording (the mix of every participant) and bridge music on hold go through the
//! core's media side. The video source operations validate their arguments and change
//! nothing (there is no video to switch).

use serde_json::{Map, Value, json};

use super::{Ctx, Entry, media, non_empty};
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

/// POST /bridges/{bridgeId}/moh: `mohClass` (default class when absent or unknown; a
/// class without files plays silence); calling again changes the class.
pub async fn start_moh(ctx: Ctx) -> AriResult {
    let class = ctx.params.string("mohClass").unwrap_or_default();
    ctx.core.start_bridge_moh(&bridge_id(&ctx), &class)?;
    Ok(AriResponse::no_content())
}

/// DELETE /bridges/{bridgeId}/moh: 409 when the bridge plays no music on hold.
pub async fn stop_moh(ctx: Ctx) -> AriResult {
    ctx.core.stop_bridge_moh(&bridge_id(&ctx))?;
    Ok(AriResponse::no_content())
}

/// POST /bridges/{bridgeId}/play[/{playbackId}]: 201 Playback (`target_uri`
/// `bridge:<id>`); 422 for an unknown `announcer_format`.
pub async fn play(ctx: Ctx) -> AriResult {
    let request = media::play_request(&ctx)?;
    let format = non_empty(&ctx, "announcer_format");
    media::playback_created(ctx.core.play_on_bridge(
        &bridge_id(&ctx),
        request,
        format.as_deref(),
    )?)
}

/// POST /bridges/{bridgeId}/record: the mix of every participant; options and errors as
/// for a channel recording, plus `recorder_format` (422 when unknown).
pub async fn record(ctx: Ctx) -> AriResult {
    let request = media::record_request(&ctx)?;
    media::recording_created(ctx.core.record_bridge(&bridge_id(&ctx), request)?)
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
        ari_handler!("bridges", "playWithId", play),
        ari_handler!("bridges", "record", record),
    ]
}
