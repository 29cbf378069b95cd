//! `/channels`: listing, originating and creating channels, and controlling channels in a
//! Stasis application (answer, indications, DTMF, mute, hold, variables, dialplan,
//! hangup, redirect).
//!
//! Every state change goes through the core's channel API; handlers only validate
//! parameters, in Asterisk's order, and shape responses. Playback and recording go through
//! the core's media side (201 with the Playback or LiveRecording), as do music on hold and
//! silence. External media (RTP over UDP) creates a `UnicastRTP` channel, and snooping
//! a snoop channel, through the core (200 with the Channel). RTP statistics are those of
//! a `UnicastRTP` channel's stream (403 for technologies without RTP).

use std::time::Duration;

use bytes::Bytes;
use http::StatusCode;
use serde_json::{Map, Value, json};

use super::{Ctx, Entry, media, non_empty};
use crate::ari::response::{AriError, AriResponse, AriResult};
use crate::ari_handler;
use crate::core::cause;
use crate::core::channels::{Create, Destination, Originate, millis, split_endpoint};
use crate::core::dialplan::expr::split_args;
use crate::core::external_media::{Carrier, ExternalMedia};
use crate::core::snoop::SnoopRequest;
use crate::core::tech::Indication;
use crate::media::external::{FORMAT_NAMES as EXTERNAL_FORMATS, RtpFormat};
use crate::media::snoop::Direction;

/// Codec names `formats` accepts.
const FORMATS: [&str; 7] = ["ulaw", "alaw", "slin", "slin16", "g722", "gsm", "opus"];

/// Seconds an originated channel rings when `timeout` is absent, 0 or negative (not -1).
const DEFAULT_ORIGINATE_TIMEOUT: u64 = 30;

/// `transfer_progress` `states` values (case-insensitive).
const TRANSFER_STATES: [&str; 4] = [
    "channel_progress",
    "channel_answered",
    "channel_unavailable",
    "channel_declined",
];

/// A variable to set: name, value, and whether it is reported in `channelvars`.
type Variable = (String, String, bool);

/// The `channelId` path variable.
fn channel_id(ctx: &Ctx) -> String {
    ctx.params.string("channelId").unwrap_or_default()
}

/// `appArgs` as Stasis arguments, split like dialplan application arguments; an absent or
/// empty `appArgs` gives no arguments.
fn app_args(app_args: Option<&str>) -> Vec<String> {
    match app_args {
        Some(text) if !text.is_empty() => split_args(text),
        _ => Vec::new(),
    }
}

/// The Q.850 cause for `DELETE /channels/{id}` (ari-rest.md §6.3): `reason_code` is any
/// integer, `reason` one of the listed words, both is an error, neither is 16.
pub fn hangup_cause(reason: Option<&str>, reason_code: Option<&str>) -> Result<u16, AriError> {
    let reason = reason.filter(|r| !r.is_empty());
    let reason_code = reason_code.filter(|r| !r.is_empty());
    match (reason, reason_code) {
        (Some(_), Some(_)) => Err(AriError::bad_request(
            "The reason and reason_code can't both be specified",
        )),
        (None, Some(code)) => code
            .trim()
            .parse::<i64>()
            .ok()
            .and_then(|code| u16::try_from(code).ok())
            .ok_or_else(|| AriError::bad_request("Invalid reason for hangup reason code provided")),
        (Some(reason), None) => cause::from_reason(reason)
            .ok_or_else(|| AriError::bad_request("Invalid reason for hangup reason provided")),
        (None, None) => Ok(cause::NORMAL_CLEARING),
    }
}

/// Parses a `variables` object as Asterisk does: each value is a string, or an object
/// with a string `value` and an optional boolean `report_events` (anything else is a 400
/// with Asterisk's message); entries with an empty name are skipped, and anything but an
/// object holds no variables.
pub fn parse_variables(variables: &Value) -> Result<Vec<Variable>, AriError> {
    let Value::Object(map) = variables else {
        return Ok(Vec::new());
    };
    let mut parsed = Vec::with_capacity(map.len());
    for (name, value) in map {
        if name.is_empty() {
            continue;
        }
        let variable = match value {
            Value::String(v) => (name.clone(), v.clone(), false),
            Value::Object(entry) => {
                let Some(Value::String(v)) = entry.get("value") else {
                    return Err(AriError::bad_request(
                        "Each object value in 'variables' must include string field 'value'",
                    ));
                };
                let report = match entry.get("report_events") {
                    None => false,
                    Some(Value::Bool(b)) => *b,
                    Some(_) => {
                        return Err(AriError::bad_request(
                            "Field 'report_events' in 'variables' entries must be boolean",
                        ));
                    }
                };
                (name.clone(), v.clone(), report)
            }
            _ => {
                return Err(AriError::bad_request(
                    "Each value in 'variables' must be a string or an object with 'value' and optional 'report_events'",
                ));
            }
        };
        parsed.push(variable);
    }
    Ok(parsed)
}

/// The optional `variables` key of the JSON body (originate, create); JSON `null` counts
/// as absent.
fn body_variables(ctx: &Ctx) -> Result<Vec<Variable>, AriError> {
    match ctx.params.body().and_then(|b| b.get("variables")) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(variables) => parse_variables(variables),
    }
}

/// How long an originated channel rings (§2.1.1): positive seconds, -1 for no limit,
/// anything else 30 s.
pub fn originate_timeout(timeout: Option<i64>) -> Option<Duration> {
    match timeout {
        Some(-1) => None,
        Some(t) if t > 0 => Some(Duration::from_secs(t.unsigned_abs())),
        _ => Some(Duration::from_secs(DEFAULT_ORIGINATE_TIMEOUT)),
    }
}

/// Checks a `formats` comma list: every name must be a known codec.
pub fn check_formats(formats: &str) -> Result<(), AriError> {
    for name in formats.split(',').map(str::trim) {
        if !FORMATS.contains(&name) {
            return Err(AriError::bad_request(format!(
                "Provided format ({name}) was not found"
            )));
        }
    }
    Ok(())
}

/// The core's length check of a client-chosen id, run before the other parameters'
/// checks (Asterisk's order); the core checks the rest when it creates the channel.
fn check_id_length(id: Option<&str>) -> Result<(), AriError> {
    Ok(id.map_or(Ok(()), crate::core::check_id_length)?)
}

/// The checks `originate` and `create` share, in Asterisk's order after the id lengths:
/// endpoint present, not both `originator` and `formats`, endpoint is `tech/resource`.
fn check_endpoint(ctx: &Ctx) -> Result<String, AriError> {
    let endpoint = non_empty(ctx, "endpoint")
        .ok_or_else(|| AriError::bad_request("Endpoint must be specified"))?;
    if non_empty(ctx, "originator").is_some() && non_empty(ctx, "formats").is_some() {
        return Err(AriError::bad_request(
            "Originator and formats can't both be specified",
        ));
    }
    split_endpoint(&endpoint)?;
    Ok(endpoint)
}

/// GET /channels. The compact form is rendered by the core (and reused while nothing
/// changes); `pretty = yes` formats the JSON value.
pub async fn list(ctx: Ctx) -> AriResult {
    if ctx.config.ari.pretty {
        return Ok(AriResponse::ok(ctx.control().list_channels()));
    }
    Ok(AriResponse::ok_json_text(
        ctx.control().list_channels_json(),
    ))
}

/// GET /channels/{channelId}
pub async fn get(ctx: Ctx) -> AriResult {
    Ok(AriResponse::ok(
        ctx.control().get_channel(&channel_id(&ctx))?,
    ))
}

/// POST /channels and POST /channels/{channelId} (the path id wins over a `channelId`
/// query parameter). Validation follows ari-rest.md §2.1.1, after the body's `variables`
/// (which Asterisk parses before anything else).
async fn originate_common(ctx: Ctx) -> AriResult {
    let variables = body_variables(&ctx)?;
    let id = non_empty(&ctx, "channelId");
    let other_id = non_empty(&ctx, "otherChannelId");
    check_id_length(id.as_deref())?;
    check_id_length(other_id.as_deref())?;
    let endpoint = check_endpoint(&ctx)?;
    let app = non_empty(&ctx, "app");
    let extension = non_empty(&ctx, "extension");
    let destination = match (app, extension) {
        (Some(app), _) => Destination::App {
            app,
            args: app_args(ctx.params.string("appArgs").as_deref()),
        },
        (None, Some(exten)) => {
            let context = non_empty(&ctx, "context").unwrap_or_else(|| "default".to_string());
            let priority = match non_empty(&ctx, "label") {
                Some(label) => {
                    let priority = match label.trim().parse::<i64>() {
                        Ok(n) => n,
                        Err(_) => ctx
                            .core
                            .dialplan()
                            .find_label(&context, &exten, &label)
                            .map(i64::from)
                            .ok_or_else(|| {
                                AriError::not_found("Requested label can not be found")
                            })?,
                    };
                    u32::try_from(priority)
                        .ok()
                        .filter(|p| *p > 0)
                        .ok_or_else(|| AriError::bad_request("Requested priority is illegal"))?
                }
                None => ctx
                    .params
                    .integer("priority")?
                    .and_then(|p| u32::try_from(p).ok())
                    .filter(|p| *p > 0)
                    .unwrap_or(1),
            };
            Destination::Dialplan {
                context,
                exten,
                priority,
            }
        }
        (None, None) => {
            return Err(AriError::bad_request(
                "Application or extension must be specified",
            ));
        }
    };
    if let Some(originator) = non_empty(&ctx, "originator")
        && ctx.control().get_channel(&originator).is_err()
    {
        return Err(AriError::bad_request(
            "Provided originator channel was not found",
        ));
    }
    if let Some(formats) = non_empty(&ctx, "formats") {
        check_formats(&formats)?;
    }
    let timeout = originate_timeout(ctx.params.integer("timeout")?);
    let snapshot = ctx.control().originate(Originate {
        endpoint,
        destination,
        caller_id: non_empty(&ctx, "callerId"),
        timeout,
        channel_id: id,
        other_channel_id: other_id,
        variables,
        owner: ctx.account().cloned(),
    })?;
    if ctx.config.ari.pretty {
        return Ok(AriResponse::ok(snapshot.to_value()));
    }
    // Written straight to text, as GET /channels is: no `Value` built for the answer.
    Ok(AriResponse::ok_json_text(Bytes::copy_from_slice(
        snapshot.json_text().as_bytes(),
    )))
}

/// POST /channels
pub async fn originate(ctx: Ctx) -> AriResult {
    originate_common(ctx).await
}

/// POST /channels/{channelId}
pub async fn originate_with_id(ctx: Ctx) -> AriResult {
    originate_common(ctx).await
}

/// POST /channels/create: the channel enters `app` at once, in state Down, and is called
/// by `/dial`. An unknown `originator` is ignored, as in Asterisk; a missing `app` is a 400
/// (Asterisk does not check it and misbehaves).
pub async fn create(ctx: Ctx) -> AriResult {
    let variables = body_variables(&ctx)?;
    let id = non_empty(&ctx, "channelId");
    let other_id = non_empty(&ctx, "otherChannelId");
    check_id_length(id.as_deref())?;
    check_id_length(other_id.as_deref())?;
    let endpoint = check_endpoint(&ctx)?;
    let app = ctx.params.required_string("app")?;
    if let Some(formats) = non_empty(&ctx, "formats") {
        check_formats(&formats)?;
    }
    let snapshot = ctx.control().create(Create {
        endpoint,
        app,
        args: app_args(ctx.params.string("appArgs").as_deref()),
        channel_id: id,
        other_channel_id: other_id,
        variables,
        owner: ctx.account().cloned(),
    })?;
    Ok(AriResponse::ok(snapshot))
}

/// DELETE /channels/{channelId}: any channel, in Stasis or not. The channel is looked up
/// before the reason is checked (404 before 400), as in Asterisk.
pub async fn hangup(ctx: Ctx) -> AriResult {
    let id = channel_id(&ctx);
    ctx.control().get_channel(&id)?;
    let cause = hangup_cause(
        ctx.params.string("reason").as_deref(),
        ctx.params.string("reason_code").as_deref(),
    )?;
    ctx.control().hangup(&id, cause)?;
    Ok(AriResponse::no_content())
}

/// POST /channels/{channelId}/continue (§2.1.2). `priority` 0 counts as absent, as the
/// generated glue cannot tell them apart.
pub async fn continue_in_dialplan(ctx: Ctx) -> AriResult {
    let priority = ctx.params.integer("priority")?.filter(|p| *p != 0);
    ctx.control().continue_in_dialplan(
        &channel_id(&ctx),
        non_empty(&ctx, "context").as_deref(),
        non_empty(&ctx, "extension").as_deref(),
        priority,
        non_empty(&ctx, "label").as_deref(),
    )?;
    Ok(AriResponse::no_content())
}

/// POST /channels/{channelId}/move: `appArgs` is split like Stasis() arguments. A missing
/// `app` is a 400.
pub async fn move_channel(ctx: Ctx) -> AriResult {
    let app = ctx.params.string("app").unwrap_or_default();
    ctx.control().move_to_app(
        &channel_id(&ctx),
        &app,
        app_args(ctx.params.string("appArgs").as_deref()),
    )?;
    Ok(AriResponse::no_content())
}

/// POST /channels/{channelId}/redirect: after Asterisk's checks (404, 409, 412, endpoint
/// missing 400, not `tech/resource` 422, technology other than the channel's 422), a Test
/// phone follows the redirect as a phone follows a SIP 302: it leaves the call, which is
/// hung up with cause 16 (Normal Clearing). A Local channel cannot transfer: 204 and
/// nothing happens, as in Asterisk.
pub async fn redirect(ctx: Ctx) -> AriResult {
    let endpoint = ctx.params.string("endpoint").unwrap_or_default();
    ctx.control().redirect(&channel_id(&ctx), &endpoint)?;
    Ok(AriResponse::no_content())
}

/// POST /channels/{channelId}/answer
pub async fn answer(ctx: Ctx) -> AriResult {
    ctx.control().answer(&channel_id(&ctx))?;
    Ok(AriResponse::no_content())
}

async fn indicate(ctx: Ctx, indication: Indication) -> AriResult {
    ctx.control().indicate(&channel_id(&ctx), indication)?;
    Ok(AriResponse::no_content())
}

/// POST /channels/{channelId}/ring
pub async fn ring(ctx: Ctx) -> AriResult {
    indicate(ctx, Indication::Ringing).await
}

/// DELETE /channels/{channelId}/ring: wari generates no ringback locally, so there is
/// nothing to stop once the channel passes the usual checks.
pub async fn ring_stop(ctx: Ctx) -> AriResult {
    ctx.control().check_controllable(&channel_id(&ctx), true)?;
    Ok(AriResponse::no_content())
}

/// POST /channels/{channelId}/progress
pub async fn progress(ctx: Ctx) -> AriResult {
    indicate(ctx, Indication::Progress).await
}

/// POST /channels/{channelId}/hold
pub async fn hold(ctx: Ctx) -> AriResult {
    indicate(ctx, Indication::Hold).await
}

/// DELETE /channels/{channelId}/hold
pub async fn unhold(ctx: Ctx) -> AriResult {
    indicate(ctx, Indication::Unhold).await
}

/// POST /channels/{channelId}/dtmf (§2.1.3): the channel checks come before the `dtmf`
/// check, as in Asterisk. Times are milliseconds.
pub async fn send_dtmf(ctx: Ctx) -> AriResult {
    let id = channel_id(&ctx);
    ctx.control().check_controllable(&id, true)?;
    let before = ctx.params.integer("before")?.unwrap_or(0);
    let between = ctx.params.integer("between")?.unwrap_or(100);
    let duration = ctx.params.integer("duration")?.unwrap_or(100);
    let after = ctx.params.integer("after")?.unwrap_or(0);
    let dtmf = ctx.params.string("dtmf").unwrap_or_default();
    ctx.control().send_dtmf(
        &id,
        &dtmf,
        millis(before),
        millis(between),
        millis(duration),
        millis(after),
    )?;
    Ok(AriResponse::no_content())
}

async fn set_mute(ctx: Ctx, mute: bool) -> AriResult {
    let id = channel_id(&ctx);
    ctx.control().check_controllable(&id, true)?;
    let direction = ctx.params.string("direction").unwrap_or_default();
    ctx.control().mute(&id, &direction, mute)?;
    Ok(AriResponse::no_content())
}

/// POST /channels/{channelId}/mute: `direction` is required (the documented default is
/// not applied, as in Asterisk).
pub async fn mute(ctx: Ctx) -> AriResult {
    set_mute(ctx, true).await
}

/// DELETE /channels/{channelId}/mute
pub async fn unmute(ctx: Ctx) -> AriResult {
    set_mute(ctx, false).await
}

/// GET /channels/{channelId}/variable: no Stasis requirement.
pub async fn get_channel_var(ctx: Ctx) -> AriResult {
    let name = ctx.params.string("variable").unwrap_or_default();
    let value = ctx.control().get_var(&channel_id(&ctx), &name)?;
    Ok(AriResponse::ok(json!({ "value": value })))
}

/// POST /channels/{channelId}/variable: an absent `value` unsets the variable; setting
/// without `report_events=true` clears an earlier report flag.
pub async fn set_channel_var(ctx: Ctx) -> AriResult {
    let name = ctx.params.string("variable").unwrap_or_default();
    let value = ctx.params.string("value");
    let report = ctx.params.boolean("report_events").unwrap_or(false);
    ctx.control()
        .set_var(&channel_id(&ctx), &name, value.as_deref(), report)?;
    Ok(AriResponse::no_content())
}

/// GET /channels/{channelId}/variables, in Asterisk's order: at least one name (400), the
/// channel (404), then each name trimmed in turn (a blank one is a 400, an unknown
/// variable a 404). No Stasis requirement.
pub async fn get_channel_vars(ctx: Ctx) -> AriResult {
    let names = ctx.params.list("variables")?.unwrap_or_default();
    if names.is_empty() {
        return Err(AriError::bad_request(
            "At least one variable name is required",
        ));
    }
    let id = channel_id(&ctx);
    ctx.control()
        .get_channel(&id)
        .map_err(|_| AriError::new(StatusCode::NOT_FOUND, "Provided channel was not found"))?;
    let mut values = Map::new();
    for name in names {
        let name = name.trim();
        if name.is_empty() {
            return Err(AriError::bad_request("Variable names are required"));
        }
        let value = ctx.control().get_var(&id, name)?;
        values.insert(name.to_string(), Value::String(value));
    }
    Ok(AriResponse::ok(json!({ "variables": values })))
}

/// POST /channels/{channelId}/variables: body `{"variables": {NAME: "v" | {"value": "v",
/// "report_events": bool}}}`, checked in Asterisk's order: a body (400, before the
/// channel), the channel (404) in Stasis (409), `variables` an object,
/// each entry valid (400). Nothing is set unless all are valid; then they are set in body
/// order, names trimmed.
pub async fn set_channel_vars(ctx: Ctx) -> AriResult {
    let id = channel_id(&ctx);
    let Some(body) = ctx.params.body() else {
        return Err(AriError::bad_request("The 'variables' field is required"));
    };
    ctx.control()
        .get_channel(&id)
        .map_err(|_| AriError::new(StatusCode::NOT_FOUND, "Provided channel was not found"))?;
    ctx.control().check_controllable(&id, false)?;
    let Some(variables) = body.get("variables").filter(|v| v.is_object()) else {
        return Err(AriError::bad_request(
            "The 'variables' field must be a JSON object",
        ));
    };
    for (name, value, report) in parse_variables(variables)? {
        ctx.control()
            .set_var(&id, name.trim(), Some(&value), report)?;
    }
    Ok(AriResponse::no_content())
}

/// POST /channels/{channelId}/dial: `timeout` seconds, 0 or less for none. `caller` is
/// accepted and ignored (wari has nothing for it to donate yet).
pub async fn dial(ctx: Ctx) -> AriResult {
    let id = channel_id(&ctx);
    ctx.control().check_dialable(&id)?;
    let timeout = ctx
        .params
        .integer("timeout")?
        .filter(|t| *t > 0)
        .map(|t| Duration::from_secs(t.unsigned_abs()));
    ctx.control().dial(&id, timeout)?;
    Ok(AriResponse::no_content())
}

/// POST /channels/{channelId}/transfer_progress: 404/409, then `states` must be one of
/// the four documented values (case-insensitive). No ARI-controlled transfers exist yet,
/// so there is nobody to report to.
pub async fn transfer_progress(ctx: Ctx) -> AriResult {
    ctx.control().check_controllable(&channel_id(&ctx), false)?;
    let states = ctx.params.string("states").unwrap_or_default();
    if states.is_empty() {
        return Err(AriError::bad_request("states must not be empty"));
    }
    if !TRANSFER_STATES
        .iter()
        .any(|s| s.eq_ignore_ascii_case(states.trim()))
    {
        return Err(AriError::bad_request("Invalid states value"));
    }
    Ok(AriResponse::no_content())
}

/// POST /channels/{channelId}/moh: `mohClass` (default class when absent or unknown; a
/// class without files plays silence). A later /play stops it for good.
pub async fn start_moh(ctx: Ctx) -> AriResult {
    let class = ctx.params.string("mohClass").unwrap_or_default();
    ctx.control().start_channel_moh(&channel_id(&ctx), &class)?;
    Ok(AriResponse::no_content())
}

/// DELETE /channels/{channelId}/moh
pub async fn stop_moh(ctx: Ctx) -> AriResult {
    ctx.control().stop_channel_moh(&channel_id(&ctx))?;
    Ok(AriResponse::no_content())
}

/// POST /channels/{channelId}/silence: a later /play stops it.
pub async fn start_silence(ctx: Ctx) -> AriResult {
    ctx.control().start_channel_silence(&channel_id(&ctx))?;
    Ok(AriResponse::no_content())
}

/// DELETE /channels/{channelId}/silence
pub async fn stop_silence(ctx: Ctx) -> AriResult {
    ctx.control().stop_channel_silence(&channel_id(&ctx))?;
    Ok(AriResponse::no_content())
}

/// POST /channels/{channelId}/play[/{playbackId}]: 201 with the Playback.
pub async fn play(ctx: Ctx) -> AriResult {
    let request = media::play_request(&ctx)?;
    media::playback_created(ctx.control().play_on_channel(&channel_id(&ctx), request)?)
}

/// POST /channels/{channelId}/record: no 412 check, as in Asterisk.
pub async fn record(ctx: Ctx) -> AriResult {
    let request = media::record_request(&ctx)?;
    let owner = ctx.account();
    media::recording_created(
        ctx.control()
            .record_channel(&channel_id(&ctx), request, owner)?,
    )
}

/// The `spy` or `whisper` parameter: `none` when absent or empty, else one of `none`,
/// `both`, `out`, `in`.
fn snoop_direction(ctx: &Ctx, name: &str) -> Result<Direction, AriError> {
    match non_empty(ctx, name) {
        None => Ok(Direction::None),
        Some(text) => Direction::parse(&text).ok_or_else(|| {
            AriError::bad_request(format!("Invalid direction specified for {name}"))
        }),
    }
}

/// POST /channels/{channelId}/snoop[/{snoopId}] (ari-rest.md §6.6): the target need not be
/// in Stasis; 200 with the snoop channel, which is already in its application. The
/// directions are parsed here (400); the core checks the rest in Asterisk's order: at
/// least one direction, the application (400), the target (404), the id (409).
pub async fn snoop_channel(ctx: Ctx) -> AriResult {
    let charge = take_channel(&ctx)?;
    let snapshot = ctx.control().snoop(SnoopRequest {
        target: channel_id(&ctx),
        spy: snoop_direction(&ctx, "spy")?,
        whisper: snoop_direction(&ctx, "whisper")?,
        app: non_empty(&ctx, "app").unwrap_or_default(),
        args: app_args(ctx.params.string("appArgs").as_deref()),
        snoop_id: non_empty(&ctx, "snoopId"),
    })?;
    attach_charge(&ctx, &snapshot, charge);
    Ok(AriResponse::ok(snapshot))
}

/// A unit of the user's `max_channels`, taken before a snoop or external media channel
/// is made (403 over the quota, nothing made).
fn take_channel(ctx: &Ctx) -> Result<Option<crate::core::quota::Held>, AriError> {
    Ok(ctx.account().map(|a| a.take_channels(1)).transpose()?)
}

/// Gives the channel in `snapshot` the unit taken for it.
fn attach_charge(
    ctx: &Ctx,
    snapshot: &serde_json::Value,
    charge: Option<crate::core::quota::Held>,
) {
    if let (Some(charge), Some(id)) = (charge, snapshot["id"].as_str()) {
        ctx.control().attach_charge(id, charge);
    }
}

/// GET /channels/{channelId}/rtp_statistics
pub async fn rtpstatistics(ctx: Ctx) -> AriResult {
    Ok(AriResponse::ok(
        ctx.control().rtp_statistics(&channel_id(&ctx))?,
    ))
}

/// What an externalMedia request asks for, with Asterisk's defaults (`udp`, `rtp`,
/// `client`), compared as given (Asterisk compares these case-sensitively).
struct ExternalShape<'a> {
    encapsulation: &'a str,
    transport: &'a str,
    connection_type: &'a str,
}

/// The pairings Asterisk 23.4.1 refuses before looking at the host, in its order and
/// words: websocket carries only `none`, `rtp` rides only on `udp`, `audiosocket` only on
/// `tcp`, and `server` is for websocket only. Any other `connection_type` is ignored, as
/// there.
fn check_external_shape(shape: &ExternalShape<'_>) -> Result<(), AriError> {
    let refuse = |message: &str| Err(AriError::bad_request(message));
    if shape.transport == "websocket" && shape.encapsulation != "none" {
        return refuse("encapsulation must be 'none' for websocket transport");
    }
    if shape.encapsulation == "rtp" && shape.transport != "udp" {
        return refuse("transport must be 'udp' for rtp encapsulation");
    }
    if shape.encapsulation == "audiosocket" && shape.transport != "tcp" {
        return refuse("transport must be 'tcp' for audiosocket encapsulation");
    }
    if shape.transport != "websocket" && shape.connection_type == "server" {
        return refuse("'server' connection_type can only be used with the websocket transport");
    }
    Ok(())
}

/// What wari carries once every parameter passed: RTP over UDP, AudioSocket over TCP and
/// WebSocket media; any other pairing is Asterisk's 501 `The encapsulation and/or
/// transport is not supported`.
fn check_external_carrier(shape: &ExternalShape<'_>) -> Result<(), AriError> {
    let is = |value: &str, wanted: &str| value.eq_ignore_ascii_case(wanted);
    match (shape.encapsulation, shape.transport) {
        (e, t) if is(e, "rtp") && is(t, "udp") => Ok(()),
        (e, t) if is(e, "audiosocket") && is(t, "tcp") => Ok(()),
        (e, t) if is(e, "none") && is(t, "websocket") => Ok(()),
        _ => Err(AriError::new(
            StatusCode::NOT_IMPLEMENTED,
            "The encapsulation and/or transport is not supported",
        )),
    }
}

/// `host:port` (an IPv6 address in brackets) with a port from 1 to 65535.
pub fn split_host_port(text: &str) -> Option<(&str, u16)> {
    let (host, port) = match text.strip_prefix('[') {
        Some(rest) => {
            let (host, after) = rest.split_once(']')?;
            (host, after.strip_prefix(':')?)
        }
        None => {
            let (host, port) = text.rsplit_once(':')?;
            if host.contains(':') {
                return None;
            }
            (host, port)
        }
    };
    if host.is_empty() || port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let port = port.parse::<u16>().ok().filter(|p| *p != 0)?;
    Some((host, port))
}

/// The codec of an external media stream: a name no codec has is a 400 `Provided format
/// (<name>) was not found` (Asterisk 23.4.1 answers 500 `An internal error prevented this
/// request from being handled`; wari answers a client's mistake with a 4xx); a known codec
/// wari cannot packetise is 501.
pub fn external_format(name: &str) -> Result<RtpFormat, AriError> {
    if let Some(format) = RtpFormat::from_name(name) {
        return Ok(format);
    }
    if FORMATS.contains(&name.trim().to_ascii_lowercase().as_str()) {
        return Err(AriError::new(
            StatusCode::NOT_IMPLEMENTED,
            format!(
                "Format '{name}' cannot be carried over external media by wari (supported: {})",
                EXTERNAL_FORMATS.join(", ")
            ),
        ));
    }
    Err(AriError::bad_request(format!(
        "Provided format ({name}) was not found"
    )))
}

/// POST /channels/externalMedia (§6.7): RTP over UDP to `external_host`, AudioSocket over
/// TCP to it, or WebSocket media (wari connects to the websocket_client.conf connection
/// `external_host`, or with `connection_type=server` waits for the application on
/// `/media/<MEDIA_WEBSOCKET_CONNECTION_ID>`). Checked in
/// Asterisk 23.4.1's order and words: the variables, `app`, the pairing of
/// encapsulation, transport and connection type ([`check_external_shape`]),
/// `external_host`, `format`, `direction`, then what wari carries
/// ([`check_external_carrier`]) and the codec. `direction` (both, in or out) changes
/// nothing for RTP and AudioSocket, which carry both ways; for WebSocket it is the media
/// direction, and `transport_data` holds WebSocket dial options. 200 with the
/// channel, whose `channelvars` hold all its variables; 409 for a `channelId` in use.
pub async fn external_media(ctx: Ctx) -> AriResult {
    let variables = body_variables(&ctx)?;
    let app = non_empty(&ctx, "app").ok_or_else(|| AriError::bad_request("app cannot be empty"))?;
    let id = non_empty(&ctx, "channelId");
    check_id_length(id.as_deref())?;
    let (encapsulation, transport, connection_type) = (
        non_empty(&ctx, "encapsulation").unwrap_or_else(|| "rtp".into()),
        non_empty(&ctx, "transport").unwrap_or_else(|| "udp".into()),
        non_empty(&ctx, "connection_type").unwrap_or_else(|| "client".into()),
    );
    let shape = ExternalShape {
        encapsulation: &encapsulation,
        transport: &transport,
        connection_type: &connection_type,
    };
    check_external_shape(&shape)?;
    let external_host = match non_empty(&ctx, "external_host") {
        Some(host) => host,
        None if connection_type == "client" => {
            return Err(AriError::bad_request(
                "external_host is required for all but websocket server connections",
            ));
        }
        None => "INCOMING".to_string(),
    };
    if transport == "websocket" {
        if connection_type == "client" && !ctx.config.websocket_clients.contains_key(&external_host)
        {
            return Err(AriError::bad_request(
                "external_host must be a valid websocket_client connection id.",
            ));
        }
    } else if split_host_port(&external_host).is_none() {
        return Err(AriError::bad_request(
            "external_host must be <host>:<port> for all transports other than websocket",
        ));
    }
    let format =
        non_empty(&ctx, "format").ok_or_else(|| AriError::bad_request("format cannot be empty"))?;
    if let Some(direction) = non_empty(&ctx, "direction")
        && !matches!(direction.as_str(), "both" | "in" | "out")
    {
        return Err(AriError::bad_request("Invalid direction specified"));
    }
    if encapsulation.eq_ignore_ascii_case("audiosocket")
        && transport.eq_ignore_ascii_case("tcp")
        && non_empty(&ctx, "data").is_none()
    {
        return Err(AriError::bad_request("data can not be empty"));
    }
    check_external_carrier(&shape)?;
    let format = external_format(&format)?;
    let carrier = if encapsulation.eq_ignore_ascii_case("audiosocket") {
        Carrier::AudioSocket {
            uuid: non_empty(&ctx, "data").unwrap_or_default(),
        }
    } else if transport.eq_ignore_ascii_case("websocket") {
        Carrier::WebSocket {
            options: non_empty(&ctx, "transport_data").unwrap_or_default(),
            direction: non_empty(&ctx, "direction"),
        }
    } else {
        Carrier::Rtp
    };
    let charge = take_channel(&ctx)?;
    let snapshot = ctx
        .control()
        .external_media(ExternalMedia {
            app,
            args: app_args(ctx.params.string("data").as_deref()),
            channel_id: id,
            external_host,
            format,
            variables,
            carrier,
        })
        .await?;
    attach_charge(&ctx, &snapshot, charge);
    Ok(AriResponse::ok(snapshot))
}

/// The `/channels` operations.
pub fn handlers() -> Vec<Entry> {
    vec![
        ari_handler!("channels", "list", list),
        ari_handler!("channels", "originate", originate),
        ari_handler!("channels", "create", create),
        ari_handler!("channels", "get", get),
        ari_handler!("channels", "originateWithId", originate_with_id),
        ari_handler!("channels", "hangup", hangup),
        ari_handler!("channels", "continueInDialplan", continue_in_dialplan),
        ari_handler!("channels", "move", move_channel),
        ari_handler!("channels", "redirect", redirect),
        ari_handler!("channels", "answer", answer),
        ari_handler!("channels", "ring", ring),
        ari_handler!("channels", "ringStop", ring_stop),
        ari_handler!("channels", "progress", progress),
        ari_handler!("channels", "sendDTMF", send_dtmf),
        ari_handler!("channels", "mute", mute),
        ari_handler!("channels", "unmute", unmute),
        ari_handler!("channels", "hold", hold),
        ari_handler!("channels", "unhold", unhold),
        ari_handler!("channels", "startMoh", start_moh),
        ari_handler!("channels", "stopMoh", stop_moh),
        ari_handler!("channels", "startSilence", start_silence),
        ari_handler!("channels", "stopSilence", stop_silence),
        ari_handler!("channels", "play", play),
        ari_handler!("channels", "playWithId", play),
        ari_handler!("channels", "record", record),
        ari_handler!("channels", "getChannelVar", get_channel_var),
        ari_handler!("channels", "setChannelVar", set_channel_var),
        ari_handler!("channels", "getChannelVars", get_channel_vars),
        ari_handler!("channels", "setChannelVars", set_channel_vars),
        ari_handler!("channels", "snoopChannel", snoop_channel),
        ari_handler!("channels", "snoopChannelWithId", snoop_channel),
        ari_handler!("channels", "dial", dial),
        ari_handler!("channels", "rtpstatistics", rtpstatistics),
        ari_handler!("channels", "externalMedia", external_media),
        ari_handler!("channels", "transfer_progress", transfer_progress),
    ]
}

#[cfg(test)]
mod tests;
