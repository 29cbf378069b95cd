//! The WebSocket media channels waiting for their application to connect
//! (`connection_type=server`): connection id → the channel's session. wari's HTTP server
//! claims an id when a client asks for `/media/<connection id>` (an id nobody waits for is
//! refused with 404, one already connected with 409, as Asterisk answers), then attaches
//! the upgraded socket, which starts the connection's tasks. The connection id, a random
//! UUID given only in the answer to `externalMedia`, is what lets a client in (Asterisk
//! asks for no other credentials).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::io::{MediaSocket, Session, run};

/// Why a connection id cannot be claimed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum Refused {
    #[error("WebSocket instance not found")]
    NotFound,
    #[error("Another websocket connection exists for this connection id")]
    Taken,
}

#[derive(Debug)]
struct Waiting {
    session: Session,
    claimed: bool,
}

/// The channels waiting for (or holding) an incoming media WebSocket, by connection id.
#[derive(Debug, Default)]
pub(crate) struct MediaSockets {
    waiting: Mutex<HashMap<String, Waiting>>,
}

impl MediaSockets {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Waiting>> {
        self.waiting.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A channel now waits for a connection on `id`.
    pub(crate) fn expect(&self, id: String, session: Session) {
        self.lock().insert(
            id,
            Waiting {
                session,
                claimed: false,
            },
        );
    }

    /// The channel of `id` is gone.
    pub(crate) fn forget(&self, id: &str) {
        self.lock().remove(id);
    }

    /// Claims `id` for a connection being upgraded.
    pub(crate) fn claim(self: &Arc<Self>, id: &str) -> Result<Claim, Refused> {
        let mut waiting = self.lock();
        let entry = waiting.get_mut(id).ok_or(Refused::NotFound)?;
        if entry.claimed || entry.session.link.is_closed() {
            return Err(Refused::Taken);
        }
        entry.claimed = true;
        Ok(Claim {
            sockets: self.clone(),
            id: id.to_string(),
            session: Some(entry.session.clone()),
        })
    }
}

/// A claimed connection id; dropped without [`Claim::attach`] (the upgrade failed), the id
/// can be claimed again.
#[derive(Debug)]
pub(crate) struct Claim {
    sockets: Arc<MediaSockets>,
    id: String,
    session: Option<Session>,
}

impl Claim {
    /// The channel's id.
    pub(crate) fn channel(&self) -> Option<&str> {
        self.session.as_ref().map(|s| &*s.channel)
    }

    /// Serves the upgraded socket for the channel (on a task of its own).
    pub(crate) fn attach(mut self, socket: MediaSocket) {
        if let Some(session) = self.session.take() {
            tokio::spawn(run(socket, session));
        }
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        if self.session.is_some()
            && let Some(entry) = self.sockets.lock().get_mut(&self.id)
        {
            entry.claimed = false;
        }
    }
}
