//! Outbound ARI WebSockets (ari.conf `type = outbound_websocket` with a
//! websocket_client.conf connection): wari connects to the application server instead of
//! waiting for it. Persistent connections serve their applications from start-up;
//! per-call connections are opened for each channel entering `Stasis(app)`. REST requests
//! on these sockets run as the connection's `local_ari_user`.

pub(crate) mod connect;
pub(crate) mod media_client;
pub(crate) mod per_call;
pub(crate) mod persistent;
pub(crate) mod tls;

use std::sync::Arc;

use crate::ari::Ari;
use crate::config::Password;
use crate::config::ari_conf::OutboundWebsocket;
use crate::config::websocket_client_conf::{ConnectionType, WebSocketClient};
use crate::core::event::{Event, Scope};
use crate::events::rest_over_ws::SocketAuth;
use crate::events::session::{SessionContext, SessionSettings};
use crate::events::sink::{QUEUE_CAPACITY, Queued};

/// One configured outbound connection, ready to connect.
#[derive(Debug, Clone)]
pub(crate) struct Connection {
    pub outbound: OutboundWebsocket,
    pub client: WebSocketClient,
    pub tls: Option<Arc<rustls::ClientConfig>>,
    pub context: SessionContext,
}

/// `ApplicationRegistered` for each application, written first on every connect.
pub(crate) fn registered_notices(apps: &[String]) -> Vec<Queued> {
    apps.iter()
        .map(|app| {
            (
                Arc::from(app.as_str()),
                Arc::new(Event::new("ApplicationRegistered", Scope::app(app))),
            )
        })
        .collect()
}

/// Starts every valid outbound connection: persistent ones connect now, per-call ones
/// wait for their channels.
pub(crate) fn start(ari: &Arc<Ari>) {
    let config = ari.config().clone();
    let mut per_call = Vec::new();
    for outbound in config.ari.outbound.iter().filter(|o| o.valid) {
        let Some(client) = config.websocket_clients.get(&outbound.client_id) else {
            continue;
        };
        let Some(Password::Plain(password)) = config
            .ari
            .users
            .get(&outbound.local_ari_user)
            .map(|u| u.password.clone())
        else {
            continue;
        };
        let tls = if client.tls.enabled {
            match tls::client_config(&client.tls) {
                Ok(tls) => Some(tls),
                Err(error) => {
                    tracing::error!(connection = %outbound.name, %error, "outbound WebSocket TLS settings unusable: connection not started");
                    continue;
                }
            }
        } else {
            None
        };
        let settings = SessionSettings {
            write_timeout: config.ari.websocket_write_timeout,
            pretty: config.ari.pretty,
            ping_interval: client.ping_interval,
            ping_probes: client.ping_probes,
        };
        let connection = Connection {
            context: SessionContext {
                ari: ari.clone(),
                auth: SocketAuth::basic(&outbound.local_ari_user, &password),
                application: outbound.apps.first().cloned().unwrap_or_default(),
                settings,
            },
            outbound: outbound.clone(),
            client: client.clone(),
            tls,
        };
        match client.connection_type {
            ConnectionType::Persistent => {
                if let Some(task) = persistent::start(connection, QUEUE_CAPACITY) {
                    tokio::spawn(task);
                }
            }
            ConnectionType::PerCall => per_call.push(connection),
        }
    }
    if !per_call.is_empty() {
        let connector = Arc::new(per_call::PerCall::new(per_call));
        ari.core().app_host().set_per_call(connector);
    }
}
