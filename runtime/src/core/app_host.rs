//! The view of the core for the hosts of Stasis applications: the WebAssembly host
//! (`crate::wasm`) and the ARI event transports (`crate::events`: WebSockets, outbound
//! connections). It is what they need beyond the ARI control API ([`super::control`]):
//! registering an application's event sink and detaching it, the claims on application
//! names, the per-call outbound connector, and the quota accounts apps count against.
//!
//! An [`AppHost`] is a borrowed `&Core` ([`Core::app_host`]): making one costs nothing.

use std::ops::Deref;
use std::sync::Arc;

use super::Core;
use super::stasis::{AppOwner, EventSink, PerCallConnector};

/// The core as a host of Stasis applications sees it (see the module header).
#[derive(Debug, Clone, Copy)]
pub struct AppHost<'a> {
    core: &'a Core,
}

impl Core {
    /// The view for hosts of Stasis applications.
    pub fn app_host(&self) -> AppHost<'_> {
        AppHost { core: self }
    }
}

/// The operations' code in the core reaches the core's own (private) methods through this;
/// outside the core only [`Core`]'s public methods are reachable.
impl Deref for AppHost<'_> {
    type Target = Core;

    fn deref(&self) -> &Core {
        self.core
    }
}

impl AppHost<'_> {
    /// Registers the per-call outbound connector (websocket_client.conf connections of type
    /// `per_call`): applications without a handler are offered to it.
    pub fn set_per_call(&self, connector: Arc<dyn PerCallConnector>) {
        self.with_state(|state| state.apps.set_per_call(connector));
    }

    /// Registers the ephemeral application of a per-call connection, owned (and held) by
    /// `owner`, with its sink.
    pub fn register_per_call_app(
        &self,
        name: &str,
        sink: Arc<dyn EventSink>,
        subscribe_all: bool,
        owner: Arc<str>,
    ) {
        self.with_state(|state| {
            state.apps.register(name, sink, subscribe_all);
            if let Some(app) = state.apps.get_mut(name) {
                app.claim(Some(AppOwner::User(owner.clone())), Some(owner));
            }
        });
    }
}
