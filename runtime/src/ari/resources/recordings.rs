//! `/recordings`: stored recordings (list, get, download, copy, delete) under the data
//! directory, and live recordings with their controls.

use super::{Ctx, Entry};
use crate::ari::response::{AriResponse, AriResult, Body};
use crate::ari_handler;
use crate::core::CoreError;
use crate::media::engine::RecordingOp;

fn name(ctx: &Ctx) -> String {
    ctx.params.string("recordingName").unwrap_or_default()
}

/// GET /recordings/stored
pub(crate) async fn list_stored(ctx: Ctx) -> AriResult {
    Ok(AriResponse::ok(ctx.control().list_stored_recordings()?))
}

/// GET /recordings/stored/{recordingName}
pub(crate) async fn get_stored(ctx: Ctx) -> AriResult {
    Ok(AriResponse::ok(
        ctx.control().get_stored_recording(&name(&ctx))?,
    ))
}

/// DELETE /recordings/stored/{recordingName}
pub(crate) async fn delete_stored(ctx: Ctx) -> AriResult {
    let (core, name) = (ctx.core.clone(), name(&ctx));
    off_the_workers(move || core.control().delete_stored_recording(&name)).await?;
    Ok(AriResponse::no_content())
}

/// GET /recordings/stored/{recordingName}/file: the raw file.
pub(crate) async fn get_stored_file(ctx: Ctx) -> AriResult {
    let (core, name) = (ctx.core.clone(), name(&ctx));
    let file = off_the_workers(move || core.control().stored_recording_file(&name)).await?;
    Ok(AriResponse {
        status: http::StatusCode::OK,
        headers: Vec::new(),
        body: Body::File {
            content_type: file.content_type,
            path: file.path,
            len: file.len,
        },
    })
}

/// POST /recordings/stored/{recordingName}/copy
pub(crate) async fn copy_stored(ctx: Ctx) -> AriResult {
    let destination = ctx
        .params
        .string("destinationRecordingName")
        .unwrap_or_default();
    let (core, name) = (ctx.core.clone(), name(&ctx));
    // The copy counts against the user who made it.
    let owner = ctx.account().cloned();
    let copy = off_the_workers(move || {
        core.control()
            .copy_stored_recording(&name, destination.trim(), owner.as_ref())
    })
    .await?;
    Ok(AriResponse::ok(copy))
}

/// Runs file work of unbounded length (a recording may be hours long) on tokio's blocking
/// pool, so that it never holds one of the few async workers every request shares.
async fn off_the_workers<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, CoreError> + Send + 'static,
) -> Result<T, CoreError> {
    tokio::task::spawn_blocking(work)
        .await
        .unwrap_or_else(|error| {
            tracing::error!(%error, "recording file work failed");
            Err(CoreError::Internal("Recording file work failed".into()))
        })
}

/// GET /recordings/live/{recordingName}
pub(crate) async fn get_live(ctx: Ctx) -> AriResult {
    Ok(AriResponse::ok(
        ctx.control().get_live_recording(&name(&ctx))?,
    ))
}

async fn live(ctx: Ctx, op: RecordingOp) -> AriResult {
    ctx.control().control_live_recording(&name(&ctx), op)?;
    Ok(AriResponse::no_content())
}

/// DELETE /recordings/live/{recordingName}: stop and discard.
pub(crate) async fn cancel(ctx: Ctx) -> AriResult {
    live(ctx, RecordingOp::Cancel).await
}

/// POST /recordings/live/{recordingName}/stop: stop and keep.
pub(crate) async fn stop(ctx: Ctx) -> AriResult {
    live(ctx, RecordingOp::Stop).await
}

/// POST /recordings/live/{recordingName}/pause
pub(crate) async fn pause(ctx: Ctx) -> AriResult {
    live(ctx, RecordingOp::Pause).await
}

/// DELETE /recordings/live/{recordingName}/pause
pub(crate) async fn unpause(ctx: Ctx) -> AriResult {
    live(ctx, RecordingOp::Unpause).await
}

/// POST /recordings/live/{recordingName}/mute
pub(crate) async fn mute(ctx: Ctx) -> AriResult {
    live(ctx, RecordingOp::Mute).await
}

/// DELETE /recordings/live/{recordingName}/mute
pub(crate) async fn unmute(ctx: Ctx) -> AriResult {
    live(ctx, RecordingOp::Unmute).await
}

pub(crate) fn handlers() -> Vec<Entry> {
    vec![
        ari_handler!("recordings", "listStored", list_stored),
        ari_handler!("recordings", "getStored", get_stored),
        ari_handler!("recordings", "deleteStored", delete_stored),
        ari_handler!("recordings", "getStoredFile", get_stored_file),
        ari_handler!("recordings", "copyStored", copy_stored),
        ari_handler!("recordings", "getLive", get_live),
        ari_handler!("recordings", "cancel", cancel),
        ari_handler!("recordings", "stop", stop),
        ari_handler!("recordings", "pause", pause),
        ari_handler!("recordings", "unpause", unpause),
        ari_handler!("recordings", "mute", mute),
        ari_handler!("recordings", "unmute", unmute),
    ]
}
