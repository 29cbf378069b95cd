//! SIP calls: INVITE dialogs arriving (`inbound`) and made by wari (`outbound`), each a
//! channel whose [`Driver`](crate::core::tech::Driver) (`driver`) turns what wari does into
//! SIP; `ending` is how a call ends when its channel hangs up; `hold` sends our hold of
//! the far end as re-INVITEs (`moh_passthrough=yes`), `reoffer` answers the far end's
//! (its hold); `info` takes DTMF the far end sends as SIP INFO; `parties` reads who a call
//! is between; [`Calls`] finds a call by its dialog for the requests inside it.

pub(crate) mod driver;
pub(crate) mod ending;
pub(crate) mod hold;
pub(crate) mod inbound;
pub(crate) mod info;
pub(crate) mod outbound;
pub(crate) mod parties;
pub(crate) mod reoffer;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// What the request loop knows of a call in progress.
#[derive(Debug)]
pub(crate) struct CallEntry {
    /// The channel's id.
    pub(crate) channel: Arc<str>,
    /// The cause a received BYE's `Reason` header gave.
    pub(crate) far_cause: Mutex<Option<u16>>,
}

/// An inbound call before its answer, as a CANCEL names it: its Call-ID and the caller's
/// From tag.
pub(crate) type CallerKey = (String, String);

/// The calls in progress, by dialog id.
#[derive(Debug, Default)]
pub(crate) struct Calls {
    by_dialog: Mutex<HashMap<String, Arc<CallEntry>>>,
    /// Inbound calls not answered yet, with the cause a CANCEL's `Reason` gave (read as
    /// the CANCEL arrives: rsipstack answers it inside the INVITE's transaction).
    unanswered: Mutex<HashMap<CallerKey, Option<u16>>>,
}

impl Calls {
    pub(crate) fn insert(&self, dialog: String, entry: Arc<CallEntry>) {
        self.map().insert(dialog, entry);
    }

    pub(crate) fn get(&self, dialog: &str) -> Option<Arc<CallEntry>> {
        self.map().get(dialog).cloned()
    }

    pub(crate) fn remove(&self, dialog: &str) {
        self.map().remove(dialog);
    }

    /// An inbound call that a CANCEL may end.
    pub(crate) fn insert_unanswered(&self, key: CallerKey) {
        self.unanswered().insert(key, None);
    }

    /// A CANCEL's cause for the unanswered call `key` (ignored for any other).
    pub(crate) fn cancelled_with(&self, key: &CallerKey, cause: u16) {
        if let Some(slot) = self.unanswered().get_mut(key) {
            *slot = Some(cause);
        }
    }

    /// Forgets the unanswered call `key`; the cause its CANCEL gave, if any.
    pub(crate) fn remove_unanswered(&self, key: &CallerKey) -> Option<u16> {
        self.unanswered().remove(key).flatten()
    }

    fn unanswered(&self) -> std::sync::MutexGuard<'_, HashMap<CallerKey, Option<u16>>> {
        self.unanswered.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<CallEntry>>> {
        self.by_dialog.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A call task's next media event (DTMF, RTP timeout), or never once the media has no more:
/// a `select!` branch that goes quiet instead of ending the loop.
pub(super) async fn next_media_event(
    events: &mut Option<tokio::sync::mpsc::UnboundedReceiver<super::media::MediaEvent>>,
) -> Option<super::media::MediaEvent> {
    match events {
        Some(events) => events.recv().await,
        None => std::future::pending().await,
    }
}
