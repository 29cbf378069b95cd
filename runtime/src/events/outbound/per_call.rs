//! Per-call outbound connections (`connection_type = per_call_config`): a channel entering
//! `Stasis(app)` for an application nobody registered gets its own connection, serving the
//! ephemeral application `<app>:<channel name>`. The connection closes a few seconds after
//! the channel leaves the application, so trailing events still arrive.
//!
//! A connection lost during the call is made again (up to `reconnect_attempts`) with a fresh
//! `ApplicationRegistered`; when that fails the channel leaves the application (StasisEnd)
//! and continues in the dialplan with `STASISSTATUS=FAILED`, as in Asterisk.

use std::collections::{HashMap, HashSet};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Notify;

use super::connect::{ClientStream, connect};
use super::{Connection, registered_notices};
use crate::core::stasis::{EventSink, PerCallConnector};
use crate::events::meter::SocketKind;
use crate::events::session::{self, Ended, tungstenite_frames};
use crate::events::sink::{QUEUE_CAPACITY, queue};

/// How long a per-call connection stays after the channel left the application.
pub(crate) const LINGER: Duration = Duration::from_secs(3);

/// Opens per-call connections for the applications of `per_call_config` connections.
#[derive(Debug)]
pub(crate) struct PerCall {
    /// The connection serving each application name.
    by_app: HashMap<String, Arc<Connection>>,
    /// Stop signals of open connections, by ephemeral application.
    open: Arc<Mutex<HashMap<String, Arc<Notify>>>>,
    /// Ephemeral applications whose connection failed during the call.
    failed: Arc<Mutex<HashSet<String>>>,
}

impl PerCall {
    /// A connector for these connections.
    pub(crate) fn new(connections: Vec<Connection>) -> PerCall {
        let mut by_app = HashMap::new();
        for connection in connections {
            let connection = Arc::new(connection);
            for app in &connection.outbound.apps {
                by_app.insert(app.clone(), connection.clone());
            }
        }
        PerCall {
            by_app,
            open: Arc::new(Mutex::new(HashMap::new())),
            failed: Arc::new(Mutex::new(HashSet::new())),
        }
    }
}

/// Up to `reconnect_attempts` attempts, `reconnect_interval` apart.
async fn connect_limited(connection: &Connection) -> Option<ClientStream> {
    let client = &connection.client;
    let attempts = client.reconnect_attempts;
    for attempt in 1..=attempts {
        match connect(client, connection.tls.as_ref()).await {
            Ok(stream) => return Some(stream),
            Err(error) => {
                tracing::warn!(connection = %connection.outbound.name, attempt, attempts, %error, "per-call outbound WebSocket connection attempt failed");
            }
        }
        if attempt < attempts {
            tokio::time::sleep(client.reconnect_interval).await;
        }
    }
    None
}

impl PerCallConnector for PerCall {
    fn connect(
        &self,
        app: &str,
        channel_id: &str,
        channel_name: &str,
    ) -> Pin<Box<dyn Future<Output = Option<String>> + Send>> {
        let connection = self.by_app.get(app).cloned();
        let open = self.open.clone();
        let failed = self.failed.clone();
        let ephemeral = format!("{app}:{channel_name}");
        let channel_id = channel_id.to_string();
        Box::pin(async move {
            let connection = connection?;
            let stream = connect_limited(&connection).await?;
            let core = connection.context.ari.core().clone();
            let (sink, mut receiver) = queue(
                QUEUE_CAPACITY,
                SocketKind::PerCall,
                std::slice::from_ref(&ephemeral),
            );
            let sink_id = sink.id();
            let subscribe_all = connection.outbound.subscribe_all;
            let owner: Arc<str> = Arc::from(connection.outbound.local_ari_user.as_str());
            core.app_host()
                .register_per_call_app(&ephemeral, sink, subscribe_all, owner);
            let stop = Arc::new(Notify::new());
            if let Ok(mut open) = open.lock() {
                open.insert(ephemeral.clone(), stop.clone());
            }
            tracing::info!(connection = %connection.outbound.name, app = %ephemeral, "per-call outbound WebSocket connected");
            let name = ephemeral.clone();
            tokio::spawn(async move {
                let mut context = connection.context.clone();
                context.application = name.clone();
                let mut stream = Some(stream);
                loop {
                    let Some(socket) = stream.take() else { break };
                    let mut frames = tungstenite_frames(socket);
                    let ended = session::run(
                        &mut frames,
                        &context,
                        &receiver.meter,
                        &mut receiver.rx,
                        registered_notices(std::slice::from_ref(&name)),
                        Some(receiver.overflow.clone()),
                        Some(stop.clone()),
                    )
                    .await;
                    if let Ended::WriteFailed { unsent } = &ended {
                        receiver.meter.dropped(unsent.len() as u64);
                    }
                    if matches!(ended, Ended::Stopped) {
                        use futures_util::SinkExt;
                        let _ =
                            tokio::time::timeout(context.settings.write_timeout, frames.close())
                                .await;
                        break;
                    }
                    tracing::warn!(app = %name, reason = ended.reason(), "per-call outbound WebSocket lost during the call: reconnecting");
                    stream = connect_limited(&connection).await;
                    if stream.is_none() {
                        tracing::warn!(app = %name, "per-call outbound WebSocket could not reconnect: the channel continues in the dialplan");
                        core.app_host().detach_sink(sink_id);
                        if let Ok(mut failed) = failed.lock() {
                            failed.insert(name.clone());
                        }
                        if let Err(error) =
                            core.control()
                                .continue_in_dialplan(&channel_id, None, None, None, None)
                        {
                            tracing::info!(app = %name, %error, "channel could not continue");
                        }
                    }
                }
                core.app_host().detach_sink(sink_id);
                receiver.meter.dropped(receiver.rx.len() as u64);
                if let Ok(mut open) = open.lock() {
                    open.remove(&name);
                }
                tracing::info!(app = %name, "per-call outbound WebSocket closed");
            });
            Some(ephemeral)
        })
    }

    fn finished(&self, ephemeral_app: &str) -> bool {
        let failed = self
            .failed
            .lock()
            .map(|mut failed| failed.remove(ephemeral_app))
            .unwrap_or(false);
        let stop = self
            .open
            .lock()
            .ok()
            .and_then(|open| open.get(ephemeral_app).cloned());
        if let Some(stop) = stop {
            tokio::spawn(async move {
                tokio::time::sleep(LINGER).await;
                stop.notify_one();
            });
        }
        failed
    }
}
