//! `/deviceStates`: device states ARI controls (`Stasis:NAME`), and the state of any device.
//!
//! Update and delete follow Asterisk's prefix rules: a name not starting with `Stasis:`
//! (any case) is a 409, nothing after the prefix a 404, an unknown state value a 400 with
//! Asterisk's message `Unknown device` (Asterisk answers 500). Every change of state publishes DeviceStateChanged to
//! applications subscribed to the device (`deviceState:NAME`); a delete publishes nothing.

use super::{Ctx, Entry};
use crate::ari::response::{AriResponse, AriResult};
use crate::ari_handler;

fn device_name(ctx: &Ctx) -> String {
    ctx.params.string("deviceName").unwrap_or_default()
}

/// GET /deviceStates: the ARI-controlled devices.
pub(crate) async fn list(ctx: Ctx) -> AriResult {
    Ok(AriResponse::ok(ctx.control().list_device_states()))
}

/// GET /deviceStates/{deviceName}: any name; a controlled device nobody set is `UNKNOWN`,
/// any other `INVALID`.
pub(crate) async fn get(ctx: Ctx) -> AriResult {
    Ok(AriResponse::ok(
        ctx.control().device_state(&device_name(&ctx)),
    ))
}

/// PUT /deviceStates/{deviceName}?deviceState=...
pub(crate) async fn update(ctx: Ctx) -> AriResult {
    let value = ctx.params.string("deviceState");
    ctx.control()
        .update_device_state(&device_name(&ctx), value.as_deref())
        .await?;
    Ok(AriResponse::no_content())
}

/// DELETE /deviceStates/{deviceName}: the device reads `UNKNOWN` again.
pub(crate) async fn delete(ctx: Ctx) -> AriResult {
    ctx.control()
        .delete_device_state(&device_name(&ctx))
        .await?;
    Ok(AriResponse::no_content())
}

/// The `/deviceStates` operations.
pub(crate) fn handlers() -> Vec<Entry> {
    vec![
        ari_handler!("deviceStates", "list", list),
        ari_handler!("deviceStates", "get", get),
        ari_handler!("deviceStates", "update", update),
        ari_handler!("deviceStates", "delete", delete),
    ]
}
