//! Our hold of a call's far end as SIP (an endpoint with `moh_passthrough=yes`, as
//! chan_pjsip does it): the channel's driver records the hold wished ([`HoldWish`]); the
//! call's task ([`HoldReinvites`]) sends it once the dialog is confirmed as a re-INVITE
//! offering `sendonly` (`sendrecv` for the unhold), one at a time: a wish changed while a
//! re-INVITE is in flight is sent after it (the latest only; holds and unholds in between
//! are coalesced). A re-INVITE that fails (488, 491 twice, no answer) is logged and the
//! call goes on; the hold stays wished, as chan_pjsip keeps it.

use std::sync::Arc;

use rsipstack::dialog::invite_dialog::InviteDialog;
use rsipstack::sip::{Response, StatusCodeKind};
use tokio::sync::{oneshot, watch};

use super::super::media::CallMedia;
use super::driver::sdp_content_type;

/// How many times a re-INVITE is sent when the far end answers 491 (Request Pending):
/// rsipstack waits 2.1 to 4 s before the second (RFC 3261 section 14.1).
const GLARE_ATTEMPTS: usize = 2;

/// The driver's side: the hold the application wants the far end in.
#[derive(Debug)]
pub(crate) struct HoldWish {
    wish: watch::Sender<bool>,
}

impl HoldWish {
    /// A wish (not held) and the call task's side that sends it.
    pub(crate) fn new() -> (HoldWish, HoldReinvites) {
        let (wish, wanted) = watch::channel(false);
        let reinvites = HoldReinvites {
            wanted,
            closed: false,
            sent: false,
            in_flight: None,
        };
        (HoldWish { wish }, reinvites)
    }

    /// The far end is to be held (`true`) or taken back.
    pub(crate) fn set(&self, held: bool) {
        self.wish.send_replace(held);
    }
}

/// What became of a re-INVITE.
#[derive(Debug)]
pub(crate) enum Outcome {
    /// Answered 2xx with this SDP.
    Answered(String),
    /// Answered with this final status (not 2xx).
    Refused(u16),
    /// Not sent (the dialog is not confirmed) or not answered.
    Unanswered,
    /// rsipstack could not send it.
    Failed(String),
}

impl Outcome {
    fn of(result: rsipstack::Result<Option<Response>>) -> Outcome {
        match result {
            Ok(Some(response)) if response.status_code.kind() == StatusCodeKind::Successful => {
                Outcome::Answered(String::from_utf8_lossy(&response.body).into_owned())
            }
            Ok(Some(response)) => Outcome::Refused(u16::from(response.status_code)),
            Ok(None) => Outcome::Unanswered,
            Err(error) => Outcome::Failed(error.to_string()),
        }
    }
}

/// The call task's side: sends the wished hold, one re-INVITE at a time.
#[derive(Debug)]
pub(crate) struct HoldReinvites {
    wanted: watch::Receiver<bool>,
    /// The wish's driver is gone: no more changes will come.
    closed: bool,
    /// The hold our last re-INVITE offered (false before any).
    sent: bool,
    in_flight: Option<oneshot::Receiver<Outcome>>,
}

impl HoldReinvites {
    /// Whether a re-INVITE of ours awaits its answer (a re-INVITE from the far end now gets
    /// 491).
    pub(crate) fn in_flight(&self) -> bool {
        self.in_flight.is_some()
    }

    /// Waits until there is something to do: `None` when the wish changed, the outcome of
    /// the re-INVITE in flight when it ended. Never resolves while neither can happen.
    /// Cancel-safe (a `select!` branch).
    pub(crate) async fn next(&mut self) -> Option<Outcome> {
        let HoldReinvites {
            wanted,
            closed,
            in_flight,
            ..
        } = self;
        tokio::select! {
            changed = wanted.changed(), if !*closed => {
                if changed.is_err() {
                    *closed = true;
                }
                None
            }
            outcome = async {
                match in_flight.as_mut() {
                    Some(receiver) => receiver.await,
                    None => std::future::pending().await,
                }
            } => {
                *in_flight = None;
                Some(outcome.unwrap_or(Outcome::Unanswered))
            }
        }
    }

    /// Sends the wished hold if it is not the one last sent and no re-INVITE is in flight.
    /// Call it only once the dialog is confirmed (the ACK of the first INVITE's 200 came
    /// or went).
    pub(crate) fn send_due(&mut self, dialog: &InviteDialog, media: &mut CallMedia, me: &Arc<str>) {
        if self.in_flight.is_some() {
            return;
        }
        let held = *self.wanted.borrow_and_update();
        if held == self.sent {
            return;
        }
        self.sent = held;
        let offer = media.hold_offer(held);
        let (done, outcome) = oneshot::channel();
        self.in_flight = Some(outcome);
        let dialog = dialog.clone();
        let me = me.clone();
        tracing::debug!(channel = %me, held, "SIP re-INVITE for our hold sent");
        tokio::spawn(async move {
            let result = dialog
                .reinvite_with_glare_retry(
                    Some(vec![sdp_content_type()]),
                    Some(offer.into_bytes()),
                    GLARE_ATTEMPTS,
                )
                .await;
            let _ = done.send(Outcome::of(result));
        });
    }

    /// Takes the outcome of our re-INVITE: a 2xx's SDP goes to the media; a failure is
    /// logged and the call goes on.
    pub(crate) fn finished(&self, outcome: Outcome, media: &mut CallMedia, me: &Arc<str>) {
        match outcome {
            Outcome::Answered(sdp) => {
                if let Err(error) = media.accept_answer(&sdp) {
                    tracing::info!(channel = %me, %error, "SIP answer to our hold re-INVITE refused");
                }
            }
            Outcome::Refused(status) => {
                tracing::info!(channel = %me, status, held = self.sent, "SIP re-INVITE for our hold refused");
            }
            Outcome::Unanswered => {
                tracing::info!(channel = %me, held = self.sent, "SIP re-INVITE for our hold not answered");
            }
            Outcome::Failed(error) => {
                tracing::info!(channel = %me, %error, held = self.sent, "SIP re-INVITE for our hold not sent");
            }
        }
    }
}
