//! `GET /wasm/{appName}/logs`: a deployed app's own log, for its owner or an admin: the most
//! recent entries as a JSON array, or with `follow=true` those and every new entry as it
//! happens, one JSON object per line (`application/x-ndjson`), until the client goes away
//! or the app's runtime is gone.

use bytes::Bytes;
use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use http::StatusCode;
use serde_json::Value;

use super::{Ctx, Entry};
use crate::ari::response::{AriError, AriResponse, AriResult, Body};
use crate::ari::stream_body::{Chunks, StreamBody};
use crate::ari_handler;
use crate::host_api::AppLogReply;

/// The content type of a followed log.
const NDJSON: &str = "application/x-ndjson";

/// GET /wasm/{appName}/logs
pub(crate) async fn logs(ctx: Ctx) -> AriResult {
    let host = ctx.wasm.as_ref().ok_or_else(|| {
        AriError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "The WebAssembly host is not running",
        )
    })?;
    let name = ctx.params.string("appName").unwrap_or_default();
    let lines = ctx.params.integer("lines")?;
    let follow = ctx.params.boolean("follow").unwrap_or(false);
    match host.logs(&name, &ctx.user, lines, follow)? {
        AppLogReply::Recent(entries) => Ok(AriResponse::ok(entries)),
        AppLogReply::Follow(entries) => Ok(AriResponse {
            status: StatusCode::OK,
            headers: Vec::new(),
            body: Body::Stream(StreamBody::new(NDJSON, ctx.user.clone(), lines_of(entries))),
        }),
    }
}

/// One JSON line per entry.
fn lines_of(entries: BoxStream<'static, Value>) -> Chunks {
    entries
        .map(|entry| {
            let mut line = serde_json::to_vec(&entry).unwrap_or_default();
            line.push(b'\n');
            Bytes::from(line)
        })
        .boxed()
}

/// The operation.
pub(crate) fn handlers() -> Vec<Entry> {
    vec![ari_handler!("wasm", "logs", logs)]
}
