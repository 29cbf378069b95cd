//! `/mailboxes`: externally managed mailboxes (message counters; wari has no voicemail).
//!
//! Unlike Asterisk, which reads missing or malformed counts as 0, `oldMessages` and
//! `newMessages` must both be given as non-negative integers (400 otherwise).

use super::{Ctx, Entry};
use crate::ari::response::{AriError, AriResponse, AriResult};
use crate::ari_handler;

fn mailbox_name(ctx: &Ctx) -> String {
    ctx.params.string("mailboxName").unwrap_or_default()
}

fn count(ctx: &Ctx, name: &str) -> Result<i64, AriError> {
    ctx.params
        .integer(name)?
        .ok_or_else(|| AriError::bad_request(format!("Missing required parameter: {name}")))
}

/// GET /mailboxes
pub(crate) async fn list(ctx: Ctx) -> AriResult {
    Ok(AriResponse::ok(ctx.control().list_mailboxes()))
}

/// GET /mailboxes/{mailboxName}
pub(crate) async fn get(ctx: Ctx) -> AriResult {
    Ok(AriResponse::ok(
        ctx.control().get_mailbox(&mailbox_name(&ctx))?,
    ))
}

/// PUT /mailboxes/{mailboxName}?oldMessages=N&newMessages=N: creates or updates.
pub(crate) async fn update(ctx: Ctx) -> AriResult {
    let old = count(&ctx, "oldMessages")?;
    let new = count(&ctx, "newMessages")?;
    ctx.control()
        .update_mailbox(&mailbox_name(&ctx), old, new)
        .await?;
    Ok(AriResponse::no_content())
}

/// DELETE /mailboxes/{mailboxName}
pub(crate) async fn delete(ctx: Ctx) -> AriResult {
    ctx.control().delete_mailbox(&mailbox_name(&ctx)).await?;
    Ok(AriResponse::no_content())
}

/// The `/mailboxes` operations.
pub(crate) fn handlers() -> Vec<Entry> {
    vec![
        ari_handler!("mailboxes", "list", list),
        ari_handler!("mailboxes", "get", get),
        ari_handler!("mailboxes", "update", update),
        ari_handler!("mailboxes", "delete", delete),
    ]
}
