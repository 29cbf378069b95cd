//! The channel [`Driver`] of a SIP call: what wari does on the channel becomes SIP on its
//! INVITE dialog — ringing 180, progress 183 with our SDP (early media), answer 200 with
//! our SDP, hang-up a final response (mapped from the cause) before the answer and a BYE
//! after it, an ARI redirect a 302 with our Contact before the answer and a REFER after it,
//! a hold wari's music on hold or (`moh_passthrough=yes`) a re-INVITE sent by the call's
//! task (`hold`) — and DTMF and RTP statistics go to the call's media.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use rsipstack::dialog::invite_dialog::InviteDialog;
use rsipstack::sip::prelude::ToTypedHeader;
use rsipstack::sip::{Header, HeadersExt, Param, Request, Response, StatusCode, Uri};
use rsipstack::transaction::endpoint::EndpointInnerRef;
use rsipstack::transaction::transaction::{TransactionEvent, TransactionEventSender};

use super::super::causes;
use super::super::media::{DtmfSent, MediaControl};
use super::super::registrar::Registrar;
use super::ending::{self, Side};
use super::hold::HoldWish;
use crate::core::CoreError;
use crate::core::tech::{Context, Driver, Indication, Redirected};
use crate::media::rtp_stats::RtpSnapshot;

/// How long a redirect waits for the dialog to be confirmed (the ACK of our 200) before
/// it sends its REFER anyway.
const REFER_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

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
    /// True once the dialog is confirmed (the ACK came) or over: a REFER may go.
    settled: tokio::sync::watch::Sender<bool>,
    /// The INVITE transaction's queue of responses: a redirect before the answer sends
    /// its 302 there (rsipstack's dialog sends no final response with our Contact).
    invite_transaction: Option<TransactionEventSender>,
    /// `moh_passthrough=yes`: a hold is a re-INVITE, sent by the call's task.
    hold: Option<HoldWish>,
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
            settled: tokio::sync::watch::Sender::new(false),
            invite_transaction: None,
            hold: None,
        }
    }

    /// A hold is a re-INVITE (`moh_passthrough=yes`) that the call's task sends when told
    /// by `wish`.
    pub(crate) fn with_hold_reinvites(mut self, wish: HoldWish) -> SipCall {
        self.hold = Some(wish);
        self
    }

    /// A redirect before the answer sends its 302 to the INVITE transaction's `queue`.
    pub(crate) fn with_invite_transaction(mut self, queue: TransactionEventSender) -> SipCall {
        self.invite_transaction = Some(queue);
        self
    }

    /// The call's task saw the dialog confirmed (or ended): a waiting REFER goes.
    pub(crate) fn dialog_settled(&self) {
        self.settled.send_replace(true);
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
        if let (Some(hold), Indication::Hold | Indication::Unhold) = (&self.hold, indication) {
            // As chan_pjsip with `moh_passthrough`: a re-INVITE, sent once the dialog is
            // confirmed.
            if self.phase() != Phase::Ended {
                hold.set(indication == Indication::Hold);
            }
            return;
        }
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
            // As chan_pjsip without `moh_passthrough`: hold is music on hold played by
            // wari (`hold_plays_moh`), no SIP is sent.
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

    /// chan_pjsip's default (`moh_passthrough=no`); with `moh_passthrough=yes` a hold is
    /// a re-INVITE instead.
    fn hold_plays_moh(&self) -> bool {
        self.hold.is_none()
    }

    /// As chan_pjsip: the target is `endpoint`'s resource (`PJSIP/<endpoint>`: the
    /// endpoint's first contact, else `PJSIP/<sip URI>`); before the answer the INVITE is
    /// answered `302 Moved Temporarily` with `Contact: <target>` and the channel hangs up
    /// (cause 23, redirected); after it a REFER asks the phone to call the target.
    fn redirect(&self, ctx: &mut Context<'_>, me: &Arc<str>, endpoint: &str) -> Redirected {
        let Some(uri) = redirect_target(self.registrar.as_deref(), endpoint, me) else {
            return Redirected::Ignored;
        };
        match self.phase() {
            Phase::Early => self.moved(ctx, me, uri),
            Phase::Answered => self.refer(me, uri),
            Phase::Ended => Redirected::Ignored,
        }
    }
}

impl SipCall {
    /// Answers the ringing call's INVITE 302 with `Contact: <uri>` and hangs the channel
    /// up: the phone calls `uri` itself.
    fn moved(&self, ctx: &mut Context<'_>, me: &Arc<str>, uri: Uri) -> Redirected {
        let Some(queue) = &self.invite_transaction else {
            return Redirected::Ignored;
        };
        let invite = self.dialog.initial_request();
        let response = moved_response(&self.endpoint, &invite, &self.dialog.id().local_tag, &uri);
        if queue.send(TransactionEvent::Respond(response)).is_err() {
            tracing::debug!(channel = %me, "SIP 302 not sent: the INVITE transaction is over");
            return Redirected::Ignored;
        }
        self.set_phase(Phase::Ended);
        self.media.close();
        // Ends the dialog (its own final response after ours is dropped by the
        // transaction, which has answered).
        let _ = self.dialog.reject(Some(StatusCode::MovedTemporarily), None);
        tracing::debug!(channel = %me, target = %uri, "SIP call redirected: 302 sent");
        ctx.hang_up(me, causes::cause_from_sip_status(302));
        Redirected::Followed
    }

    /// Sends a REFER to `uri` once the dialog is confirmed.
    fn refer(&self, me: &Arc<str>, uri: Uri) -> Redirected {
        // Referred-By: our side of the dialog, the INVITE's To.
        let referred_by = self
            .dialog
            .initial_request()
            .to_header()
            .map(|to| to.value().to_string())
            .ok();
        send_refer(
            self.dialog.clone(),
            me,
            uri,
            referred_by,
            Some(self.settled.subscribe()),
        );
        Redirected::Followed
    }
}

/// The URI a redirect to `endpoint` (`PJSIP/<resource>`) sends the far end to, as
/// chan_pjsip picks it: an endpoint's name stands for its first contact, anything else
/// must be a SIP URI (`None`, logged, when it is not).
pub(super) fn redirect_target(
    registrar: Option<&Registrar>,
    endpoint: &str,
    me: &str,
) -> Option<Uri> {
    let target = endpoint.split_once('/').map_or("", |(_, target)| target);
    let contact = registrar.and_then(|r| r.contacts_of(target).into_iter().next());
    let target = contact.as_ref().map_or(target, |c| c.uri.as_str());
    Uri::try_from(target)
        .inspect_err(|error| {
            tracing::info!(channel = %me, target = ?target, %error, "SIP redirect: not a SIP URI");
        })
        .ok()
}

/// Sends a REFER to `uri` in `dialog` (with `Referred-By`), once `settled` (the dialog is
/// confirmed; waited for [`REFER_WAIT`] at most) when given, in a task of its own.
pub(super) fn send_refer(
    dialog: InviteDialog,
    me: &Arc<str>,
    uri: Uri,
    referred_by: Option<String>,
    settled: Option<tokio::sync::watch::Receiver<bool>>,
) {
    let me = me.clone();
    tokio::spawn(async move {
        // A REFER goes in a confirmed dialog: the phone's ACK of our 200 may still be on
        // its way when the application redirects at once (bounded wait).
        if let Some(mut settled) = settled {
            let confirmed = tokio::time::timeout(REFER_WAIT, settled.wait_for(|s| *s)).await;
            if !matches!(confirmed, Ok(Ok(_))) {
                tracing::debug!(channel = %me, "SIP dialog not confirmed in time: REFER sent anyway");
            }
        }
        let headers = referred_by.map(|by| vec![Header::Other("Referred-By".into(), by)]);
        match dialog.refer(uri, headers, None).await {
            Ok(Some(response)) => {
                tracing::debug!(channel = %me, status = %response.status_code, "SIP REFER answered");
            }
            Ok(None) => tracing::debug!(channel = %me, "SIP REFER not answered"),
            Err(error) => tracing::debug!(channel = %me, %error, "SIP REFER not sent"),
        }
    });
}

/// `302 Moved Temporarily` to `invite` with our To tag `local_tag` and `Contact: <uri>`.
fn moved_response(
    endpoint: &EndpointInnerRef,
    invite: &Request,
    local_tag: &str,
    uri: &Uri,
) -> Response {
    let mut response = endpoint.make_response(invite, StatusCode::MovedTemporarily, None);
    if let Some(mut to) = invite.to_header().ok().and_then(|to| to.typed().ok()) {
        if !local_tag.is_empty() && !to.params.iter().any(|p| matches!(p, Param::Tag(_))) {
            to.params.push(Param::Tag(local_tag.into()));
        }
        response.headers.unique_push(Header::To(to.into()));
    }
    response
        .headers
        .push(Header::Contact(format!("<{uri}>").into()));
    response
}
