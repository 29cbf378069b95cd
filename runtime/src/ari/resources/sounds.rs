//! `/sounds`: the sounds index, filtered by language and format.

use super::{Ctx, Entry};
use crate::ari::response::{AriResponse, AriResult};
use crate::ari_handler;

/// GET /sounds: 404 when nothing matches.
pub(crate) async fn list(ctx: Ctx) -> AriResult {
    let lang = ctx.params.string("lang").filter(|s| !s.is_empty());
    let format = ctx.params.string("format").filter(|s| !s.is_empty());
    Ok(AriResponse::ok(
        ctx.control()
            .list_sounds(lang.as_deref(), format.as_deref())?,
    ))
}

/// GET /sounds/{soundId}
pub(crate) async fn get(ctx: Ctx) -> AriResult {
    let id = ctx.params.string("soundId").unwrap_or_default();
    Ok(AriResponse::ok(ctx.control().get_sound(&id)?))
}

pub(crate) fn handlers() -> Vec<Entry> {
    vec![
        ari_handler!("sounds", "list", list),
        ari_handler!("sounds", "get", get),
    ]
}
