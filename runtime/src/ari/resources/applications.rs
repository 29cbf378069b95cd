//! `/applications`: the Stasis applications, their explicit subscriptions and event filters
//! (changed only by an application's owner or an admin, see [`crate::core::stasis::apps`]).

use super::{Ctx, Entry};
use crate::ari::response::{AriResponse, AriResult};
use crate::ari_handler;

fn app_name(ctx: &Ctx) -> String {
    ctx.params.string("applicationName").unwrap_or_default()
}

/// GET /applications: every registered application, including inactive ones that still
/// have subscriptions.
pub(crate) async fn list(ctx: Ctx) -> AriResult {
    Ok(AriResponse::ok(ctx.control().list_apps()))
}

/// GET /applications/{applicationName}
pub(crate) async fn get(ctx: Ctx) -> AriResult {
    Ok(AriResponse::ok(ctx.control().get_app(&app_name(&ctx))?))
}

/// POST /applications/{applicationName}/subscription: sources are processed in order and
/// processing stops at the first failure (earlier ones stay subscribed), as in Asterisk.
pub(crate) async fn subscribe(ctx: Ctx) -> AriResult {
    let sources = ctx.params.list("eventSource")?.unwrap_or_default();
    Ok(AriResponse::ok(ctx.control().subscribe(
        &app_name(&ctx),
        &sources,
        &(&*ctx.user).into(),
    )?))
}

/// DELETE /applications/{applicationName}/subscription: a source that is not subscribed is
/// a 422, as Asterisk answers (its declaration says 409).
pub(crate) async fn unsubscribe(ctx: Ctx) -> AriResult {
    let sources = ctx.params.list("eventSource")?.unwrap_or_default();
    Ok(AriResponse::ok(ctx.control().unsubscribe(
        &app_name(&ctx),
        &sources,
        &(&*ctx.user).into(),
    )?))
}

/// PUT /applications/{applicationName}/eventFilter with the JSON body
/// `{"allowed": [{"type": ...}], "disallowed": [...]}`; no body or `{}` clears both lists.
pub(crate) async fn filter(ctx: Ctx) -> AriResult {
    Ok(AriResponse::ok(ctx.control().set_event_filter(
        &app_name(&ctx),
        ctx.params.body(),
        &(&*ctx.user).into(),
    )?))
}

/// The `/applications` operations.
pub(crate) fn handlers() -> Vec<Entry> {
    vec![
        ari_handler!("applications", "list", list),
        ari_handler!("applications", "get", get),
        ari_handler!("applications", "subscribe", subscribe),
        ari_handler!("applications", "unsubscribe", unsubscribe),
        ari_handler!("applications", "filter", filter),
    ]
}
