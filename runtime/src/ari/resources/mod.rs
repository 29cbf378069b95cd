//! ARI operation handlers, one module per resource, and the registry that ties them to the
//! declared operations by resource and nickname.

pub mod asterisk;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use super::params::Params;
use super::response::AriResult;
use crate::config::{Config, User};
use crate::core::Core;

/// What a handler gets: the services it may use and the request's parameters.
pub struct Ctx {
    pub core: Arc<Core>,
    pub config: Arc<Config>,
    pub params: Params,
    /// The authenticated user.
    pub user: Arc<User>,
}

/// The future a handler returns.
pub type HandlerFuture = Pin<Box<dyn Future<Output = AriResult> + Send>>;

/// A handler for one operation.
pub type Handler = fn(Ctx) -> HandlerFuture;

macro_rules! handler {
    ($resource:literal, $nickname:literal, $function:path) => {
        (
            $resource,
            $nickname,
            (|ctx: Ctx| -> HandlerFuture { Box::pin($function(ctx)) }) as Handler,
        )
    };
}

/// Every implemented operation as `(resource, nickname, handler)`.
pub fn handlers() -> Vec<(&'static str, &'static str, Handler)> {
    vec![
        handler!("asterisk", "getInfo", asterisk::get_info),
        handler!("asterisk", "ping", asterisk::ping),
        handler!("asterisk", "getGlobalVar", asterisk::get_global_var),
        handler!("asterisk", "setGlobalVar", asterisk::set_global_var),
        handler!("asterisk", "listModules", asterisk::list_modules),
        handler!("asterisk", "getModule", asterisk::get_module),
        handler!("asterisk", "loadModule", asterisk::load_module),
        handler!("asterisk", "unloadModule", asterisk::unload_module),
        handler!("asterisk", "reloadModule", asterisk::reload_module),
        handler!("asterisk", "listLogChannels", asterisk::list_log_channels),
        handler!("asterisk", "addLog", asterisk::add_log),
        handler!("asterisk", "deleteLog", asterisk::delete_log),
        handler!("asterisk", "rotateLog", asterisk::rotate_log),
        handler!("asterisk", "getObject", asterisk::get_object),
        handler!("asterisk", "updateObject", asterisk::update_object),
        handler!("asterisk", "deleteObject", asterisk::delete_object),
    ]
}
