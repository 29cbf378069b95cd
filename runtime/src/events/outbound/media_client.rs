//! Client connections of WebSocket media channels (`externalMedia` with
//! `transport=websocket`, `connection_type=client`): the `WebSocket` technology asks for a
//! websocket_client.conf connection by id when the channel is called, and gets it opened
//! as the outbound ARI WebSockets are ([`super::connect`]: timeouts, subprotocols,
//! credentials, TLS).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use super::{connect, tls};
use crate::config::websocket_client_conf::WebSocketClients;
use crate::core::tech::websocket_media::{Connector, MediaSocket};

/// The configured websocket_client.conf connections, for media channels.
#[derive(Debug)]
pub(crate) struct MediaClients {
    clients: Arc<WebSocketClients>,
}

impl MediaClients {
    pub(crate) fn new(clients: WebSocketClients) -> MediaClients {
        MediaClients {
            clients: Arc::new(clients),
        }
    }
}

impl Connector for MediaClients {
    fn connect(
        &self,
        id: &str,
    ) -> Pin<Box<dyn Future<Output = Result<MediaSocket, String>> + Send>> {
        let client = self.clients.get(id).cloned();
        let id = id.to_string();
        Box::pin(async move {
            let client =
                client.ok_or_else(|| format!("no websocket_client.conf connection '{id}'"))?;
            let tls = if client.tls.enabled {
                Some(tls::client_config(&client.tls).map_err(|e| e.to_string())?)
            } else {
                None
            };
            let stream = connect::connect(&client, tls.as_ref())
                .await
                .map_err(|e| e.to_string())?;
            let socket: MediaSocket = Box::new(stream);
            Ok(socket)
        })
    }
}
