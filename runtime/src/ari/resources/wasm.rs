//! `/wasm`: deploying Stasis applications as WebAssembly components (a wari extension).

use http::StatusCode;

use super::{Ctx, Entry};
use crate::ari::response::{AriError, AriResponse, AriResult};
use crate::ari_handler;
use crate::host_api::{Actor, WasmApps};

fn host(ctx: &Ctx) -> Result<&std::sync::Arc<dyn WasmApps>, AriError> {
    ctx.wasm.as_ref().ok_or_else(|| {
        AriError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "The WebAssembly host is not running",
        )
    })
}

fn app_name(ctx: &Ctx) -> String {
    ctx.params.string("appName").unwrap_or_default()
}

/// Who asks, for the ownership checks and the audit log.
fn actor(ctx: &Ctx) -> Actor {
    Actor {
        user: ctx.user.clone(),
        peer: ctx.peer,
    }
}

/// GET /wasm
pub(crate) async fn list(ctx: Ctx) -> AriResult {
    Ok(AriResponse::ok(host(&ctx)?.list()))
}

/// GET /wasm/{appName}
pub(crate) async fn get(ctx: Ctx) -> AriResult {
    Ok(AriResponse::ok(host(&ctx)?.get(&app_name(&ctx))?))
}

/// PUT /wasm/{appName}: 201 with the deployed app.
pub(crate) async fn deploy(ctx: Ctx) -> AriResult {
    let name = app_name(&ctx);
    let host = host(&ctx)?;
    let actor = actor(&ctx);
    let app = match &ctx.upload {
        Some(upload) => host.deploy_file(&name, upload.path(), Some(&actor)).await?,
        None => host.deploy(&name, ctx.body.clone(), Some(&actor)).await?,
    };
    let location = format!(
        "/ari/wasm/{}",
        percent_encoding::utf8_percent_encode(&name, percent_encoding::NON_ALPHANUMERIC)
    );
    Ok(AriResponse::created(app, &location))
}

/// DELETE /wasm/{appName}: 204 once the app is gone, 202 with the app while its calls
/// in progress drain (`immediate=true` ends them at once).
pub(crate) async fn remove(ctx: Ctx) -> AriResult {
    let immediate = ctx.params.boolean("immediate").unwrap_or(false);
    match host(&ctx)?
        .clone()
        .remove(&app_name(&ctx), &actor(&ctx), immediate)
        .await?
    {
        Some(draining) => Ok(AriResponse::json(StatusCode::ACCEPTED, draining)),
        None => Ok(AriResponse::no_content()),
    }
}

/// POST /wasm/{appName}/rollback
pub(crate) async fn rollback(ctx: Ctx) -> AriResult {
    Ok(AriResponse::ok(
        host(&ctx)?.rollback(&app_name(&ctx), &actor(&ctx)).await?,
    ))
}

/// The `/wasm` operations.
pub(crate) fn handlers() -> Vec<Entry> {
    vec![
        ari_handler!("wasm", "list", list),
        ari_handler!("wasm", "get", get),
        ari_handler!("wasm", "deploy", deploy),
        ari_handler!("wasm", "remove", remove),
        ari_handler!("wasm", "rollback", rollback),
    ]
}
