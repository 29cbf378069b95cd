//! The channel [`Driver`] of a SIP call: what wari does on the channel becomes SIP on its
//! INVITE dialog — ringing 180, progress 183 with our SDP (early media), answer 200 with
//! our SDP, hang-up a final response (mapped from the cause) before the answer and a BYE
//! after it, an ARI redirect after the answer a REFER — and DTMF and RTP statistics go to
//! the call's media.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use rsipstack::dialog::invite_dialog::InviteDialog;
use rsipstack::sip::{Header, HeadersExt};
use rsipstack::transaction::endpoint::EndpointInnerRef;

use super::super::media::{DtmfSent, MediaControl};
use super::super::registrar::Registrar;
use super::ending::{self, Side};
use crate::core::CoreError;
use crate::core::tech::{Context, Driver, Indication, Redirected};
use crate::media::rtp_stats::RtpSnapshot;

/// How often, and how many times, a redirect looks whether the dialog is confirmed (the
/// ACK of our 200 came) before it sends its REFER: 2 s at most.
const REFER_WAIT_STEP: std::time::Duration = std::time::Duration::from_millis(20);
const REFER_WAIT_STEPS: u32 = 100;

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
    /// Where a redirect to `PJSIP/<endpoint>` finds the endpoint's contact.
    registrar: Option<Arc<Registrar>>,
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
            registrar: None,
        }
    }

    /// Redirects to `PJSIP/<endpoint>` go to the first contact `registrar` has for it.
    pub(crate) fn with_registrar(mut self, registrar: Arc<Registrar>) -> SipCall {
        self.registrar = Some(registrar);
        self
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

    /// As chan_pjsip after the answer: a REFER asking the phone to call `endpoint`'s
    /// target (`PJSIP/<endpoint>`: its first contact, else `PJSIP/<sip URI>`). Before the
    /// answer Asterisk answers the INVITE 302, which rsipstack cannot send with a Contact:
    /// nothing happens then (logged).
    fn redirect(&self, _ctx: &mut Context<'_>, me: &Arc<str>, endpoint: &str) -> Redirected {
        let target = endpoint.split_once('/').map_or("", |(_, target)| target);
        if self.phase() != Phase::Answered {
            tracing::info!(channel = %me, target = ?target, "SIP redirect before the answer (302) is not supported");
            return Redirected::Ignored;
        }
        // As chan_pjsip: an endpoint's name stands for its first contact.
        let contact = self
            .registrar
            .as_ref()
            .and_then(|registrar| registrar.contacts_of(target).into_iter().next());
        let target = contact.as_ref().map_or(target, |c| c.uri.as_str());
        let uri = match rsipstack::sip::Uri::try_from(target) {
            Ok(uri) => uri,
            Err(error) => {
                tracing::info!(channel = %me, target = ?target, %error, "SIP redirect: not a SIP URI");
                return Redirected::Ignored;
            }
        };
        let referred_by = self
            .dialog
            .initial_request()
            .to_header()
            .map(|to| to.value().to_string());
        let dialog = self.dialog.clone();
        let me = me.clone();
        tokio::spawn(async move {
            // A REFER goes in a confirmed dialog: the phone's ACK of our 200 may still be
            // on its way when the application redirects at once (bounded wait).
            for _ in 0..REFER_WAIT_STEPS {
                if dialog.state().is_confirmed() || dialog.state().is_terminated() {
                    break;
                }
                tokio::time::sleep(REFER_WAIT_STEP).await;
            }
            let headers = referred_by
                .ok()
                .map(|by| vec![Header::Other("Referred-By".into(), by)]);
            match dialog.refer(uri, headers, None).await {
                Ok(Some(response)) => {
                    tracing::debug!(channel = %me, status = %response.status_code, "SIP REFER answered");
                }
                Ok(None) => tracing::debug!(channel = %me, "SIP REFER not answered"),
                Err(error) => tracing::debug!(channel = %me, %error, "SIP REFER not sent"),
            }
        });
        Redirected::Followed
    }
}
