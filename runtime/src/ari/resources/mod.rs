//! ARI operation handlers, one module per resource, and the registry that ties them to the
//! declared operations by resource and nickname.

pub(crate) mod applications;
pub(crate) mod asterisk;
pub(crate) mod bridges;
pub mod channels;
pub(crate) mod device_states;
pub(crate) mod endpoints;
pub(crate) mod events;
pub(crate) mod mailboxes;
pub(crate) mod media;
pub(crate) mod playbacks;
pub(crate) mod recordings;
pub(crate) mod sounds;
pub(crate) mod wasm;
pub(crate) mod wasm_logs;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use super::params::Params;
use super::response::AriResult;
use crate::config::{Config, User};
use crate::core::Core;

/// What a handler gets: the services it may use and the request's parameters.
pub struct Ctx {
    /// The telephony core the handler acts on (through `core.control()`).
    pub core: Arc<Core>,
    /// The configuration wari runs with.
    pub config: Arc<Config>,
    /// The request's parameters: the path's variables, the query string and the body.
    pub params: Params,
    /// The authenticated user.
    pub user: Arc<User>,
    /// The client's address, when the transport has one.
    pub peer: Option<std::net::SocketAddr>,
    /// The raw request body (for uploads).
    pub body: bytes::Bytes,
    /// The body, when the transport spooled it to disk instead (component uploads).
    pub upload: Option<Arc<crate::ari::Upload>>,
    /// The WebAssembly app host.
    pub wasm: Option<Arc<dyn crate::host_api::WasmApps>>,
    /// Whose quotas the request counts against when not `user`'s (see
    /// [`crate::ari::AriRequest::quota_owner`]).
    pub quota_owner: Option<String>,
}

impl Ctx {
    /// The core's ARI control API: what handlers call to act on wari's objects.
    pub fn control(&self) -> crate::core::control::ControlApi<'_> {
        self.core.control()
    }

    /// The quota account what this request makes counts against: its user's, or for a
    /// WebAssembly app's request the app owner's (`None`: wari's own identity, or an app
    /// without an owner).
    pub fn account(&self) -> Option<&Arc<crate::core::quota::Account>> {
        let user = self.quota_owner.as_deref().unwrap_or(&self.user.name);
        self.core.quotas().account(user)
    }
}

/// A string parameter, with the empty string counted as absent (`ast_strlen_zero`).
pub(crate) fn non_empty(ctx: &Ctx, name: &str) -> Option<String> {
    ctx.params.string(name).filter(|s| !s.is_empty())
}

/// The future a handler returns.
pub type HandlerFuture = Pin<Box<dyn Future<Output = AriResult> + Send>>;

/// A handler for one operation.
pub type Handler = fn(Ctx) -> HandlerFuture;

#[macro_export]
#[doc(hidden)]
macro_rules! ari_handler {
    ($resource:literal, $nickname:literal, $function:path) => {
        (
            $resource,
            $nickname,
            (|ctx: $crate::ari::resources::Ctx| -> $crate::ari::resources::HandlerFuture {
                Box::pin($function(ctx))
            }) as $crate::ari::resources::Handler,
        )
    };
}

/// One registry entry: `(resource, nickname, handler)`.
pub type Entry = (&'static str, &'static str, Handler);

/// Every implemented operation as `(resource, nickname, handler)`.
pub fn handlers() -> Vec<Entry> {
    [
        asterisk::handlers(),
        channels::handlers(),
        bridges::handlers(),
        endpoints::handlers(),
        device_states::handlers(),
        mailboxes::handlers(),
        applications::handlers(),
        events::handlers(),
        playbacks::handlers(),
        recordings::handlers(),
        sounds::handlers(),
        wasm::handlers(),
        wasm_logs::handlers(),
    ]
    .concat()
}
