//! The channel [`Driver`] of a SIP call: what wari does on the channel becomes SIP on its
//! INVITE dialog — ringing 180, progress 183 with our SDP (early media), answer 200 with
//! our SDP, hang-up a final response (mapped from the cause) before the answer and a BYE
//! after it — and DTMF and RTP statistics go to the call's media.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use rsipstack::dialog::invite_dialog::InviteDialog;
use rsipstack::sip::Header;
use rsipstack::transaction::endpoint::EndpointInnerRef;

use super::super::media::{DtmfSent, MediaControl};
use super::ending::{self, Side};
use crate::core::CoreError;
use crate::core::tech::{Context, Driver, Indication};
use crate::media::rtp_stats::RtpSnapshot;

/// Where a call's INVITE dialog is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Not answered yet (provisional responses only).
    Early,
    /// Our 200 OK (or theirs) was sent: the call is up.
    Answered,
    /// Over: hung up by either side.
    Ended,
}

/// One SIP call's channel driver.
pub(crate) struct SipCall {
    dialog: InviteDialog,
    /// rsipstack's endpoint (for the CANCEL and BYE that end the call).
    endpoint: EndpointInnerRef,
    media: MediaControl,
    /// Our SDP for the far end (the answer to its offer), sent with 183 and 200; for an
    /// INVITE without SDP, our offer, sent with the 200 only.
    local_sdp: Mutex<String>,
    /// The INVITE had no SDP (a late offer): our 200 offers, the ACK answers.
    late_offer: AtomicBool,
    phase: Mutex<Phase>,
}

impl std::fmt::Debug for SipCall {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SipCall")
            .field("dialog", &self.dialog.id().to_string())
            .field("phase", &self.phase())
            .finish()
    }
}

/// The `Content-Type` of our SDP bodies.
pub(crate) fn sdp_content_type() -> Header {
    Header::ContentType("application/sdp".to_string().into())
}

impl SipCall {
    pub(crate) fn new(
        dialog: InviteDialog,
        endpoint: EndpointInnerRef,
        media: MediaControl,
        local_sdp: String,
    ) -> SipCall {
        SipCall {
            dialog,
            endpoint,
            media,
            local_sdp: Mutex::new(local_sdp),
            late_offer: AtomicBool::new(false),
            phase: Mutex::new(Phase::Early),
        }
    }

    pub(crate) fn phase(&self) -> Phase {
        *self.phase.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Moves to `phase`; returns the phase it was in.
    pub(crate) fn set_phase(&self, phase: Phase) -> Phase {
        std::mem::replace(
            &mut *self.phase.lock().unwrap_or_else(|p| p.into_inner()),
            phase,
        )
    }

    /// The INVITE had no SDP: `local_sdp` is our offer, for the 200 only.
    pub(crate) fn expect_answer_in_ack(&self) {
        self.late_offer.store(true, Ordering::Release);
    }

    /// Whether the ACK must carry the answer to our offer (once: true the first time
    /// after [`SipCall::expect_answer_in_ack`]).
    pub(crate) fn take_late_offer(&self) -> bool {
        self.late_offer.swap(false, Ordering::AcqRel)
    }

    /// Our SDP changed (an answer to a re-INVITE).
    pub(crate) fn set_local_sdp(&self, sdp: String) {
        *self.local_sdp.lock().unwrap_or_else(|p| p.into_inner()) = sdp;
    }

    fn local_sdp(&self) -> Vec<u8> {
        self.local_sdp
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
            .into_bytes()
    }

    pub(crate) fn dialog(&self) -> &InviteDialog {
        &self.dialog
    }

    pub(crate) fn media(&self) -> &MediaControl {
        &self.media
    }
}

impl Driver for SipCall {
    /// A call that came in is never dialled.
    fn call(&self, _ctx: &mut Context<'_>, _me: &Arc<str>) -> Result<(), CoreError> {
        Err(CoreError::Conflict(
            "An inbound SIP call cannot be dialled".into(),
        ))
    }

    fn answered(&self, _ctx: &mut Context<'_>, me: &Arc<str>) {
        if self.phase() != Phase::Early {
            return;
        }
        let sent = self
            .dialog
            .accept(Some(vec![sdp_content_type()]), Some(self.local_sdp()));
        match sent {
            Ok(()) => {
                self.set_phase(Phase::Answered);
                self.media.answered();
                tracing::debug!(channel = %me, "SIP call answered: 200 OK sent");
            }
            Err(error) => tracing::warn!(channel = %me, %error, "SIP 200 OK not sent"),
        }
    }

    fn indicate(&self, _ctx: &mut Context<'_>, me: &Arc<str>, indication: Indication) {
        if self.phase() != Phase::Early {
            return;
        }
        let sent = match indication {
            Indication::Ringing => self.dialog.ringing(None, None),
            // An offer may not go in an unreliable provisional response (RFC 3261
            // §13.2.1): a late-offer call has no early media.
            Indication::Progress if self.late_offer.load(Ordering::Acquire) => Ok(()),
            Indication::Progress => self
                .dialog
                .ringing(Some(vec![sdp_content_type()]), Some(self.local_sdp())),
            // As chan_pjsip: hold is music on hold played by wari, no SIP is sent.
            Indication::Hold | Indication::Unhold => Ok(()),
        };
        if let Err(error) = sent {
            tracing::debug!(channel = %me, ?indication, %error, "SIP indication not sent");
        }
    }

    fn hangup(&self, _ctx: &mut Context<'_>, me: &Arc<str>, cause: u16) {
        let was = self.set_phase(Phase::Ended);
        self.media.close();
        let ending = ending::ending(Side::Uas, was, cause);
        ending::send(&self.endpoint, &self.dialog, ending, me);
    }

    fn send_dtmf(&self, ctx: &mut Context<'_>, me: &Arc<str>, digit: char, duration_ms: u32) {
        match self.media.send_dtmf(digit, duration_ms) {
            DtmfSent::Rfc4733 => {}
            DtmfSent::Inband => {
                ctx.send_dtmf(me, digit, duration_ms);
            }
            DtmfSent::Refused => {
                tracing::debug!(channel = %me, %digit, "DTMF digit not sent: too many waiting");
            }
        }
    }

    fn rtp_statistics(&self) -> Option<RtpSnapshot> {
        Some(self.media.statistics())
    }
}
