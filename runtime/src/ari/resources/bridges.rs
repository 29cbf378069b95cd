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
use crate::core::bridges::{BridgeVar, UNABLE_TO_CREATE};

fn bridge_id(ctx: &Ctx) -> String {
    ctx.params.string("bridgeId").unwrap_or_default()
}

/// Parses a variables object: `{NAME: "value" | {"value": "v", "report_events": bool}}`
/// (the shape setChannelVars takes). Any bad entry is a 400 with Asterisk 23.4.1's message,
/// and then nothing is set. Entries with an empty name are skipped later.
fn parse_vars(vars: &Map<String, Value>) -> Result<Vec<BridgeVar>, AriError> {
    vars.iter()
        .map(|(name, value)| {
            let (value, report) = match value {
                Value::String(s) => (s.clone(), false),
                Value::Object(o) => {
                    let value = o.get("value").and_then(Value::as_str).ok_or_else(|| {
                        AriError::bad_request(
                            "Each object value in 'variables' must include string field 'value'",
                        )
                    })?;
                    let report = match o.get("report_events") {
                        None => false,
                        Some(Value::Bool(b)) => *b,
                        Some(_) => {
                            return Err(AriError::bad_request(
                                "Field 'report_events' in 'variables' entries must be boolean",
                            ));
                        }
                    };
                    (value.to_string(), report)
                }
                _ => {
                    return Err(AriError::bad_request(
                        "Each value in 'variables' must be a string or an object with 'value' and optional 'report_events'",
                    ));
                }
            };
            Ok(BridgeVar {
                name: name.clone(),
                value: Some(value),
                report: Some(report),
            })
        })
        .collect()
}

/// The `variables` object of the JSON body of a create, if any (not an object → 400).
fn body_vars(ctx: &Ctx) -> Result<Option<Vec<BridgeVar>>, AriError> {
    match ctx.params.body().and_then(|b| b.get("variables")) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(vars)) => parse_vars(vars).map(Some),
        Some(_) => Err(AriError::bad_request(VARIABLES_NOT_OBJECT)),
    }
}

/// Asterisk's message for a `variables` member that is not an object.
const VARIABLES_NOT_OBJECT: &str = "The 'variables' field must be a JSON object";

/// GET /bridges: every bridge, ARI's and the dialplan's.
pub(crate) async fn list(ctx: Ctx) -> AriResult {
    Ok(AriResponse::ok(ctx.control().list_bridges()))
}

async fn create_bridge(ctx: Ctx, id: Option<String>) -> AriResult {
    let vars = body_vars(&ctx)?.unwrap_or_default();
    let types = ctx.params.string("type").unwrap_or_default();
    let name = ctx.params.string("name").unwrap_or_default();
    let owner = ctx.account();
    let bridge =
        ctx.control()
            .create_bridge_with_vars(id.as_deref(), &types, &name, &vars, owner)?;
    Ok(AriResponse::ok(bridge))
}

/// POST /bridges. Variables come from `body.variables`: Asterisk's quirk of reading the whole
/// body as variables is not reproduced. An empty `bridgeId` counts as absent.
///
/// A type that makes no bridge gets the message Asterisk 23.4.1 gives on this operation,
/// `Unable to create bridge. Possible duplicate bridge id '<bridgeId>'`, where a missing id
/// reads `(null)` (what C prints for it); as a 400, where Asterisk answers 500 (wari
/// answers a client's mistake with a 4xx and declares no 5xx but 501).
pub(crate) async fn create(ctx: Ctx) -> AriResult {
    let id = ctx.params.string("bridgeId").filter(|id| !id.is_empty());
    let shown = id.clone().unwrap_or_else(|| "(null)".to_string());
    create_bridge(ctx, id).await.map_err(|mut error| {
        if error.status == http::StatusCode::BAD_REQUEST && error.message == UNABLE_TO_CREATE {
            error.message = format!("{UNABLE_TO_CREATE}. Possible duplicate bridge id '{shown}'");
        }
        error
    })
}

/// POST /bridges/{bridgeId}
pub(crate) async fn create_with_id(ctx: Ctx) -> AriResult {
    let id = Some(bridge_id(&ctx));
    create_bridge(ctx, id).await
}

/// GET /bridges/{bridgeId}
pub(crate) async fn get(ctx: Ctx) -> AriResult {
    Ok(AriResponse::ok(ctx.control().get_bridge(&bridge_id(&ctx))?))
}

/// DELETE /bridges/{bridgeId}: members are ejected first.
pub(crate) async fn destroy(ctx: Ctx) -> AriResult {
    ctx.control().destroy_bridge(&bridge_id(&ctx))?;
    Ok(AriResponse::no_content())
}

/// GET /bridges/{bridgeId}/variable
pub(crate) async fn get_bridge_var(ctx: Ctx) -> AriResult {
    let name = ctx.params.string("variable").unwrap_or_default();
    let value = ctx.control().get_bridge_var(&bridge_id(&ctx), &name)?;
    Ok(AriResponse::ok(json!({ "value": value })))
}

/// POST /bridges/{bridgeId}/variable: without `value` (or with an empty one) the variable
/// is unset. `report_events` absent is false: setting a variable without it stops
/// reporting it, as in Asterisk. (A request with no `variable` at all brings Asterisk
/// 23.4.1 down; here it is the 400 an empty name gets.)
pub(crate) async fn set_bridge_var(ctx: Ctx) -> AriResult {
    let var = BridgeVar {
        name: ctx.params.string("variable").unwrap_or_default(),
        value: ctx.params.string("value"),
        report: Some(ctx.params.boolean("report_events").unwrap_or(false)),
    };
    ctx.control().set_bridge_var(&bridge_id(&ctx), &var)?;
    Ok(AriResponse::no_content())
}

/// GET /bridges/{bridgeId}/variables
pub(crate) async fn get_bridge_vars(ctx: Ctx) -> AriResult {
    let names = ctx.params.list("variables")?.unwrap_or_default();
    let vars = ctx.control().get_bridge_vars(&bridge_id(&ctx), &names)?;
    Ok(AriResponse::ok(json!({ "variables": vars })))
}

/// POST /bridges/{bridgeId}/variables with `{"variables": {...}}`, checked in Asterisk
/// 23.4.1's order: no body (400 `The 'variables' field is required`), the bridge (404),
/// then the member (400 when missing or not an object) and its entries. Nothing is set
/// unless every entry is valid.
pub(crate) async fn set_bridge_vars(ctx: Ctx) -> AriResult {
    let Some(body) = ctx.params.body() else {
        return Err(AriError::bad_request("The 'variables' field is required"));
    };
    let id = bridge_id(&ctx);
    // Setting nothing checks the bridge, which Asterisk does before the member.
    ctx.control().set_bridge_vars(&id, &[])?;
    let vars = match body.get("variables") {
        Some(Value::Object(vars)) => parse_vars(vars)?,
        _ => return Err(AriError::bad_request(VARIABLES_NOT_OBJECT)),
    };
    ctx.control().set_bridge_vars(&id, &vars)?;
    Ok(AriResponse::no_content())
}

/// POST /bridges/{bridgeId}/addChannel: the bridge is checked first (404, 409), then the
/// channels (see `Core::add_to_bridge`). `role`, `absorbDTMF`, `mute` and
/// `inhibitConnectedLineUpdates` are accepted; without media they change nothing.
pub(crate) async fn add_channel(ctx: Ctx) -> AriResult {
    let channels = ctx.params.list("channel")?.unwrap_or_default();
    let _ = (
        ctx.params.string("role"),
        ctx.params.boolean("absorbDTMF"),
        ctx.params.boolean("mute"),
        ctx.params.boolean("inhibitConnectedLineUpdates"),
    );
    ctx.control().add_to_bridge(&bridge_id(&ctx), &channels)?;
    Ok(AriResponse::no_content())
}

/// POST /bridges/{bridgeId}/removeChannel
pub(crate) async fn remove_channel(ctx: Ctx) -> AriResult {
    let channels = ctx.params.list("channel")?.unwrap_or_default();
    ctx.control()
        .remove_from_bridge(&bridge_id(&ctx), &channels)?;
    Ok(AriResponse::no_content())
}

/// POST /bridges/{bridgeId}/videoSource/{channelId}: validated like Asterisk (unknown
/// channel 400, not in Stasis or not in this bridge 422); the bridge's video mode becomes
/// `single` with that source (BridgeVideoSourceChanged), though wari carries no video.
pub(crate) async fn set_video_source(ctx: Ctx) -> AriResult {
    let channel = ctx.params.string("channelId").unwrap_or_default();
    ctx.control().set_video_source(&bridge_id(&ctx), &channel)?;
    Ok(AriResponse::no_content())
}

/// DELETE /bridges/{bridgeId}/videoSource: back to video mode `talker`.
pub(crate) async fn clear_video_source(ctx: Ctx) -> AriResult {
    ctx.control().clear_video_source(&bridge_id(&ctx))?;
    Ok(AriResponse::no_content())
}

/// POST /bridges/{bridgeId}/moh: `mohClass` (default class when absent or unknown; a
/// class without files plays silence); calling again changes the class.
pub(crate) async fn start_moh(ctx: Ctx) -> AriResult {
    let class = ctx.params.string("mohClass").unwrap_or_default();
    ctx.control().start_bridge_moh(&bridge_id(&ctx), &class)?;
    Ok(AriResponse::no_content())
}

/// DELETE /bridges/{bridgeId}/moh: 409 when the bridge plays no music on hold.
pub(crate) async fn stop_moh(ctx: Ctx) -> AriResult {
    ctx.control().stop_bridge_moh(&bridge_id(&ctx))?;
    Ok(AriResponse::no_content())
}

/// POST /bridges/{bridgeId}/play[/{playbackId}]: 201 Playback (`target_uri`
/// `bridge:<id>`); 422 for an unknown `announcer_format`.
pub(crate) async fn play(ctx: Ctx) -> AriResult {
    let request = media::play_request(&ctx)?;
    let format = non_empty(&ctx, "announcer_format");
    media::playback_created(ctx.control().play_on_bridge(
        &bridge_id(&ctx),
        request,
        format.as_deref(),
    )?)
}

/// POST /bridges/{bridgeId}/record: the mix of every participant; options and errors as
/// for a channel recording, plus `recorder_format` (422 when unknown).
pub(crate) async fn record(ctx: Ctx) -> AriResult {
    let request = media::record_request(&ctx)?;
    let owner = ctx.account();
    media::recording_created(
        ctx.control()
            .record_bridge(&bridge_id(&ctx), request, owner)?,
    )
}

/// The `/bridges` operations.
pub(crate) fn handlers() -> Vec<Entry> {
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
