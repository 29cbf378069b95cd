//! [`WasmApps`]: the WebAssembly app host as ARI's `/wasm` resource (and the HTTP front's
//! upload spooling) sees it: deploy, list, get, remove, roll back, read an app's log, with
//! the core's error type ([`CoreError`], each variant an ARI status) and who asks ([`Actor`],
//! for ownership checks and the audit log).

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::future::BoxFuture;
use futures_util::stream::BoxStream;
use serde_json::Value;

use crate::config::User;
use crate::core::CoreError;

/// Who asked: the ARI user and the client's address (`None` for requests that have none,
/// such as those over outbound WebSockets).
#[derive(Debug, Clone)]
pub struct Actor {
    /// The authenticated ARI user.
    pub user: Arc<User>,
    /// The client's address; `None` when there is none (outbound WebSockets, wari itself).
    pub peer: Option<SocketAddr>,
}

/// An app's log as `GET /wasm/{app}/logs` answers it.
pub enum AppLogReply {
    /// The most recent entries, oldest first, as a JSON array.
    Recent(Value),
    /// Those entries, then each new one as it happens (one JSON object each), until the
    /// app's runtime is gone.
    Follow(BoxStream<'static, Value>),
}

impl std::fmt::Debug for AppLogReply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AppLogReply::Recent(entries) => f.debug_tuple("Recent").field(entries).finish(),
            AppLogReply::Follow(_) => f.write_str("Follow(..)"),
        }
    }
}

/// The deployed WebAssembly apps, for the `/wasm` resource. Each method is one operation;
/// ownership, quotas and the audit log are the implementation's.
pub trait WasmApps: Send + Sync + std::fmt::Debug {
    /// The largest upload accepted (wasm.conf `max_upload_mb`).
    fn max_upload_bytes(&self) -> usize;

    /// Where uploads in progress are spooled.
    fn spool_dir(&self) -> &Path;

    /// The check of `PUT /wasm/{app}` from the request head, before any of the body is read.
    fn check_deploy(&self, name: &str, actor: &Actor) -> Result<(), CoreError>;

    /// `PUT /wasm/{app}` with the component in memory; `actor` `None` is the operator.
    fn deploy<'a>(
        &'a self,
        name: &'a str,
        bytes: Bytes,
        actor: Option<&'a Actor>,
    ) -> BoxFuture<'a, Result<Value, CoreError>>;

    /// `PUT /wasm/{app}` with the component in a spool file.
    fn deploy_file<'a>(
        &'a self,
        name: &'a str,
        path: &'a Path,
        actor: Option<&'a Actor>,
    ) -> BoxFuture<'a, Result<Value, CoreError>>;

    /// `GET /wasm`.
    fn list(&self) -> Value;

    /// `GET /wasm/{app}`.
    fn get(&self, name: &str) -> Result<Value, CoreError>;

    /// `DELETE /wasm/{app}`: the app while its calls drain, `None` once it is gone.
    fn remove<'a>(
        self: Arc<Self>,
        name: &'a str,
        actor: &'a Actor,
        immediate: bool,
    ) -> BoxFuture<'a, Result<Option<Value>, CoreError>>;

    /// `POST /wasm/{app}/rollback`.
    fn rollback<'a>(
        &'a self,
        name: &'a str,
        actor: &'a Actor,
    ) -> BoxFuture<'a, Result<Value, CoreError>>;

    /// `GET /wasm/{app}/logs` for `user`: `lines` as asked (checked here), followed or not.
    fn logs(
        &self,
        name: &str,
        user: &User,
        lines: Option<i64>,
        follow: bool,
    ) -> Result<AppLogReply, CoreError>;
}
