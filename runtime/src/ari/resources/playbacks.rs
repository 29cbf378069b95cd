//! `/playbacks`: a playback while it is alive (it disappears once finished), stop, and the
//! controls (restart, pause, unpause, reverse, forward).

use super::{Ctx, Entry};
use crate::ari::response::{AriResponse, AriResult};
use crate::ari_handler;

fn playback_id(ctx: &Ctx) -> String {
    ctx.params.string("playbackId").unwrap_or_default()
}

/// GET /playbacks/{playbackId}
pub(crate) async fn get(ctx: Ctx) -> AriResult {
    Ok(AriResponse::ok(
        ctx.control().get_playback(&playback_id(&ctx))?,
    ))
}

/// DELETE /playbacks/{playbackId}
pub(crate) async fn stop(ctx: Ctx) -> AriResult {
    ctx.control().stop_playback(&playback_id(&ctx))?;
    Ok(AriResponse::no_content())
}

/// POST /playbacks/{playbackId}/control: the operation is checked first (400), then the
/// playback (404), then whether the operation fits its state (409).
pub(crate) async fn control(ctx: Ctx) -> AriResult {
    let operation = ctx.params.string("operation").unwrap_or_default();
    ctx.control()
        .control_playback(&playback_id(&ctx), operation.trim())?;
    Ok(AriResponse::no_content())
}

pub(crate) fn handlers() -> Vec<Entry> {
    vec![
        ari_handler!("playbacks", "get", get),
        ari_handler!("playbacks", "stop", stop),
        ari_handler!("playbacks", "control", control),
    ]
}
