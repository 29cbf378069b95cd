//! Calls made by wari: `PJSIP/endpoint` (to the first contact the registrar knows for the
//! endpoint's AORs, static or registered, skipping those qualify found unreachable) and `PJSIP/endpoint/sip:user@host` (that URI
//! with the endpoint's settings). The channel is created by the request with its media
//! open and our SDP offer ready; `Driver::call` sends the INVITE (over TCP or TLS once
//! the connection is open: one that cannot be made ends the call at once with the cause
//! of pjsip's transport error, 503 -> 34; credentials from
//! `outbound_auth` answer one 401/407), 180 -> ringing, 183 -> progress (early media
//! when it has SDP), 2xx -> answered, 3xx-6xx -> hang-up with the cause Asterisk maps
//! from the status (or the `Reason` header). Our hang-up before the answer is a CANCEL,
//! after it a BYE; an ARI redirect after the answer is a REFER; a hold is wari's music on
//! hold, or with `moh_passthrough=yes` a re-INVITE once answered; the far end's re-INVITE
//! is answered from the call's media (its hold: ChannelHold). An endpoint with no
//! contact cannot be called: `Allocation failed`, as Asterisk's originate answers when
//! chan_pjsip cannot create the session.

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use rsipstack::dialog::authenticate::Credential;
use rsipstack::dialog::dialog::{DialogState, DialogStateReceiver};
use rsipstack::dialog::invitation::InviteOption;
use rsipstack::dialog::invite_dialog::InviteDialog;
use rsipstack::sip::prelude::{HeadersExt, ToTypedHeader};
use rsipstack::sip::{Header, Param, StatusCode, Transport, Uri};
use rsipstack::transport::SipAddr;
use tokio::sync::mpsc::UnboundedReceiver;

use super::super::media::{CallMedia, DtmfSent, MediaControl, MediaEvent};
use super::super::{SipShared, TECHNOLOGY, causes, transport};
use super::CallEntry;
use super::driver::{Phase, redirect_target, send_refer};
use super::ending::{self, Side};
use super::hold::{HoldReinvites, HoldWish};
use super::inbound::{contact_uri, media_policy};
use super::{info, reoffer};
use crate::config::pjsip_conf::Endpoint;
use crate::core::cause;
use crate::core::channels::channel::{ChannelState, DialplanPosition};
use crate::core::tech::{Context, Driver, Indication, MediaLeg, Redirected, Request};
use crate::core::{ControlReceiver, CoreError, NewChannel};
use crate::media::rtp_stats::RtpSnapshot;

/// A dial string's parts: `endpoint` (or `user@endpoint`) and maybe `/location`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DialString {
    /// What names the endpoint: `endpoint`, or `user@endpoint` (see [`endpoint_of`]).
    pub(crate) endpoint: String,
    /// After the `/`: a SIP URI, or AOR names (comma separated) whose first contact is
    /// called.
    pub(crate) location: Option<String>,
}

/// Parses the resource of a `PJSIP/...` dial string.
pub(crate) fn parse_dial_string(resource: &str) -> Result<DialString, String> {
    let resource = resource.trim();
    let (endpoint, location) = match resource.split_once('/') {
        Some((endpoint, location)) => (endpoint.trim(), Some(location.trim())),
        None => (resource, None),
    };
    if endpoint.is_empty() {
        return Err("PJSIP needs an endpoint: PJSIP/ENDPOINT".into());
    }
    if location == Some("") {
        return Err("Empty URI after the endpoint".into());
    }
    Ok(DialString {
        endpoint: endpoint.to_string(),
        location: location.map(str::to_string),
    })
}

/// The endpoint a dial string names and the user its Request-URI must have: the endpoint
/// of that exact name, else (`user@endpoint`, Asterisk's way to call a number on a trunk)
/// the endpoint after the last `@` with `user`.
pub(crate) fn endpoint_of<'c>(
    config: &'c crate::config::pjsip_conf::PjsipConfig,
    name: &str,
) -> Option<(&'c Endpoint, Option<String>)> {
    if let Some(endpoint) = config.endpoint(name) {
        return Some((endpoint, None));
    }
    let (user, endpoint) = name.rsplit_once('@')?;
    let endpoint = config.endpoint(endpoint)?;
    Some((endpoint, (!user.is_empty()).then(|| user.to_string())))
}

/// A dial string's target as a SIP URI: `sip:` and `sips:` URIs (`<>` around them
/// allowed), with `user` put in (a `user@endpoint` dial string). Anything else is no
/// target, as chan_pjsip refuses it.
pub(crate) fn target_uri(text: &str, user: Option<&str>) -> Option<Uri> {
    let text = text.trim();
    let text = text
        .strip_prefix('<')
        .and_then(|t| t.strip_suffix('>'))
        .unwrap_or(text);
    let scheme = text.split_once(':')?.0;
    if !(scheme.eq_ignore_ascii_case("sip") || scheme.eq_ignore_ascii_case("sips")) {
        return None;
    }
    let mut uri = Uri::try_from(text).ok()?;
    if let Some(user) = user {
        uri.auth = Some(rsipstack::sip::Auth {
            user: user.to_string(),
            password: None,
        });
    }
    Some(uri)
}

/// The From URI of our INVITE: `from_user` (else the caller ID number, else `asterisk`,
/// wari answering as Asterisk does) at `from_domain` (else our own address).
pub(crate) fn from_uri(endpoint: &Endpoint, local: SocketAddr) -> String {
    let user = endpoint
        .from_user
        .clone()
        .or_else(|| endpoint.callerid.as_ref().and_then(|c| c.number.clone()))
        .unwrap_or_else(|| "asterisk".into());
    let host = endpoint
        .from_domain
        .clone()
        .unwrap_or_else(|| local.to_string());
    format!("sip:{user}@{host}")
}

/// What `Driver::call` needs to send the INVITE.
struct Setup {
    option: InviteOption,
    media: CallMedia,
    /// A TCP or TLS target, and the endpoint's `transport`: the connection to open before
    /// the INVITE is sent (None: UDP).
    connect: Option<(SipAddr, Option<String>)>,
    /// What sends our hold as re-INVITEs (idle without `moh_passthrough`).
    reinvites: HoldReinvites,
}

/// The driver of a channel wari calls out on.
pub(crate) struct OutboundCall {
    shared: Arc<SipShared>,
    setup: Mutex<Option<Setup>>,
    control: MediaControl,
    dialog: Arc<OnceLock<InviteDialog>>,
    phase: Arc<Mutex<Phase>>,
    /// The cause the channel was hung up with (for a BYE to an answer that crossed our
    /// CANCEL).
    cause: Arc<AtomicU16>,
    /// `moh_passthrough=yes`: a hold is a re-INVITE, sent by the call's task.
    hold: Option<HoldWish>,
}

impl std::fmt::Debug for OutboundCall {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutboundCall")
            .field("phase", &self.phase())
            .finish_non_exhaustive()
    }
}

impl OutboundCall {
    fn phase(&self) -> Phase {
        *self.phase.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn set_phase(&self, phase: Phase) -> Phase {
        std::mem::replace(
            &mut *self.phase.lock().unwrap_or_else(|p| p.into_inner()),
            phase,
        )
    }
}

/// The address our signalling over `transport` leaves from: the first transport of that
/// protocol's, else the first transport's.
fn local_signalling(shared: &SipShared, transport: Transport) -> Option<SocketAddr> {
    let protocol = match transport {
        Transport::Tcp => "tcp",
        Transport::Tls => "tls",
        _ => "udp",
    };
    let first = shared.listening.iter().find(|l| l.protocol == protocol);
    first.or_else(|| shared.listening.first()).map(|l| {
        if l.address.ip().is_unspecified() {
            SocketAddr::new(IpAddr::from([127, 0, 0, 1]), l.address.port())
        } else {
            l.address
        }
    })
}

/// A channel for `request` (`PJSIP/endpoint[/uri]`), not yet called.
pub(crate) fn request(
    shared: &Arc<SipShared>,
    ctx: &mut Context<'_>,
    request: &Request,
) -> Result<(Arc<str>, ControlReceiver), CoreError> {
    let dial = parse_dial_string(&request.resource).map_err(CoreError::BadRequest)?;
    // Every refusal below is Asterisk's: chan_pjsip cannot create the session, the
    // originate answers 500 "Allocation failed".
    let allocation_failed = || CoreError::Internal("Allocation failed".into());
    let Some((endpoint, user)) = endpoint_of(&shared.config, &dial.endpoint) else {
        tracing::info!(endpoint = %dial.endpoint.escape_debug(), "PJSIP call refused: no such endpoint");
        return Err(allocation_failed());
    };
    // As Asterisk: the first contact of the location's AORs (else the endpoint's) that
    // qualify has not found unreachable; a location that names no AOR with such a
    // contact is itself the URI.
    let contacts = match &dial.location {
        Some(location) => shared
            .registrar
            .reachable_contacts(location.split(',').map(str::trim)),
        None => shared
            .registrar
            .reachable_contacts(endpoint.aors.iter().map(String::as_str)),
    }
    .into_iter()
    .next();
    let target = match (contacts, &dial.location) {
        (Some(contact), _) => contact.uri,
        (None, Some(location)) => location.clone(),
        (None, None) => {
            tracing::info!(endpoint = %endpoint.name, "PJSIP call refused: the endpoint has no contact");
            return Err(allocation_failed());
        }
    };
    let Some(mut callee) = target_uri(&target, user.as_deref()) else {
        tracing::info!(endpoint = %endpoint.name, target = %target.escape_debug(), "PJSIP call refused: not a SIP URI");
        return Err(allocation_failed());
    };
    // The target's `transport` parameter chooses the connection rsipstack sends over.
    let transport = transport::target_transport(&shared.config, endpoint, &mut callee);
    let local = local_signalling(shared, transport).ok_or_else(allocation_failed)?;
    let connect = transport::dial::request_target(&callee)
        .filter(transport::dial::needs_connection)
        .map(|target| (target, endpoint.transport.clone()));
    ctx.check_new_id(request.id.as_deref())?;
    let id: Arc<str> = request
        .id
        .clone()
        .unwrap_or_else(|| ctx.new_channel_id())
        .into();
    let peer = match &callee.host_with_port.host {
        rsipstack::sip::Host::IpAddr(ip) => Some(*ip),
        rsipstack::sip::Host::Domain(_) => None,
    };
    let advertised = shared.media_address(local, local.ip(), peer);
    let mut media = CallMedia::open(media_policy(endpoint, local.ip(), advertised), id.clone())
        .map_err(|e| {
            tracing::warn!(endpoint = %endpoint.name, error = %e, "PJSIP call refused: no media");
            allocation_failed()
        })?;
    let offer = media.create_offer();
    let caller =
        Uri::try_from(from_uri(endpoint, local).as_str()).map_err(|_| allocation_failed())?;
    let credential = endpoint
        .outbound_auth
        .as_deref()
        .and_then(|name| shared.config.auth(name))
        .map(|auth| Credential {
            username: auth.username.clone(),
            password: auth.password.clone(),
            realm: auth.realm.clone(),
            auth_username: None,
        });
    let option = InviteOption {
        caller_display_name: endpoint.callerid.as_ref().and_then(|c| c.name.clone()),
        caller,
        callee,
        content_type: Some("application/sdp".into()),
        offer: Some(offer.into_bytes()),
        contact: contact_uri("asterisk", local, transport).ok_or_else(allocation_failed)?,
        credential,
        ..InviteOption::default()
    };
    let edge = media.take_edge();
    let (wish, reinvites) = HoldWish::new();
    let driver = Arc::new(OutboundCall {
        shared: shared.clone(),
        control: media.control(),
        setup: Mutex::new(Some(Setup {
            option,
            media,
            connect,
            reinvites,
        })),
        dialog: Arc::new(OnceLock::new()),
        phase: Arc::new(Mutex::new(Phase::Early)),
        cause: Arc::new(AtomicU16::new(cause::NORMAL_CLEARING)),
        hold: endpoint.moh_passthrough.then_some(wish),
    });
    ctx.add_channel(NewChannel {
        id: Some(id.to_string()),
        name: shared.channel_name(&endpoint.name),
        state: ChannelState::Down,
        driver,
        dialplan: DialplanPosition {
            context: endpoint.context.clone(),
            exten: "s".into(),
            priority: 1,
            ..DialplanPosition::default()
        },
        endpoint: Some(format!("{TECHNOLOGY}/{}", endpoint.name)),
        vars: request.vars.clone(),
        media: MediaLeg {
            edge,
            ..MediaLeg::default()
        },
        language: endpoint.language.clone(),
        ..NewChannel::default()
    })
}

impl Driver for OutboundCall {
    fn call(&self, ctx: &mut Context<'_>, me: &Arc<str>) -> Result<(), CoreError> {
        let Some(setup) = self.setup.lock().unwrap_or_else(|p| p.into_inner()).take() else {
            return Err(CoreError::Conflict("Channel already dialed".into()));
        };
        let invite = Invite {
            shared: self.shared.clone(),
            control: self.control.clone(),
            dialog: self.dialog.clone(),
            phase: self.phase.clone(),
            cause: self.cause.clone(),
        };
        let handle = ctx.handle();
        let Some((target, transport)) = setup.connect.clone() else {
            return invite.send(setup, handle, me.clone());
        };
        // Over TCP or TLS the connection is opened first: refused, the call fails at
        // once with pjsip's 503 for a transport error (no INVITE to cancel).
        let me = me.clone();
        tokio::spawn(async move {
            let layer = &invite.shared.endpoint.transport_layer;
            let connected = transport::dial::connect(layer, &target, transport.as_deref()).await;
            if let Err(error) = connected {
                let cause = causes::cause_from_sip_status(error.status());
                tracing::info!(channel = %me, %error, cause, "SIP call failed: no connection");
                if invite.set_phase(Phase::Ended) != Phase::Ended {
                    invite.control.close();
                    handle.with(|ctx| ctx.hang_up(&me, cause));
                }
                return;
            }
            // The phase stays locked until the dialog is known, so that a hang-up either
            // comes first (nothing is sent) or finds the dialog to CANCEL.
            let phase = invite.phase.lock().unwrap_or_else(|p| p.into_inner());
            if *phase == Phase::Ended {
                return;
            }
            if let Err(error) = invite.send(setup, handle.clone(), me.clone()) {
                drop(phase);
                tracing::warn!(channel = %me, %error, "SIP INVITE not sent");
                if invite.set_phase(Phase::Ended) != Phase::Ended {
                    invite.control.close();
                    handle.with(|ctx| ctx.hang_up(&me, cause::FAILURE));
                }
            }
        });
        Ok(())
    }

    fn hangup(&self, _ctx: &mut Context<'_>, me: &Arc<str>, cause: u16) {
        self.cause.store(cause, Ordering::Relaxed);
        let was = self.set_phase(Phase::Ended);
        self.control.close();
        let Some(dialog) = self.dialog.get() else {
            return;
        };
        let ending = ending::ending(Side::Uac, was, cause);
        ending::send(&self.shared.endpoint, dialog, ending, me);
    }

    fn send_dtmf(&self, ctx: &mut Context<'_>, me: &Arc<str>, digit: char, duration_ms: u32) {
        if self.control.send_dtmf(digit, duration_ms) == DtmfSent::Inband {
            ctx.send_dtmf(me, digit, duration_ms);
        }
    }

    fn rtp_statistics(&self) -> Option<RtpSnapshot> {
        Some(self.control.statistics())
    }

    /// As chan_pjsip with `moh_passthrough=yes`: a hold is a re-INVITE offering
    /// `sendonly`, an unhold one offering `sendrecv`, sent once the call is answered.
    fn indicate(&self, _ctx: &mut Context<'_>, _me: &Arc<str>, indication: Indication) {
        if let (Some(hold), Indication::Hold | Indication::Unhold) = (&self.hold, indication)
            && self.phase() != Phase::Ended
        {
            hold.set(indication == Indication::Hold);
        }
    }

    /// chan_pjsip's default (`moh_passthrough=no`): a hold is wari's music on hold, no SIP
    /// is sent; with `moh_passthrough=yes` it is a re-INVITE instead.
    fn hold_plays_moh(&self) -> bool {
        self.hold.is_none()
    }

    /// As chan_pjsip for a channel it called (never in the `Ring` state): a REFER asking
    /// the far end to call the target, once answered. ARI never asks before the answer: a
    /// channel wari placed is `Down` or `Ringing` until then, which ARI refuses with 412
    /// before asking the technology (as Asterisk's `channel_state_invalid`, so chan_pjsip's
    /// REFER in an early dialog is never sent either); wari sends nothing (logged).
    fn redirect(&self, _ctx: &mut Context<'_>, me: &Arc<str>, endpoint: &str) -> Redirected {
        let Some(uri) = redirect_target(Some(&self.shared.registrar), endpoint, me) else {
            return Redirected::Ignored;
        };
        let (Phase::Answered, Some(dialog)) = (self.phase(), self.dialog.get()) else {
            tracing::info!(channel = %me, target = %uri, "SIP redirect of an unanswered outbound call: no REFER sent");
            return Redirected::Ignored;
        };
        // Referred-By: our side of the dialog, our INVITE's From (without its tag).
        let referred_by = dialog
            .initial_request()
            .from_header()
            .ok()
            .and_then(|from| from.typed().ok())
            .map(|mut from| {
                from.params.retain(|p| !matches!(p, Param::Tag(_)));
                from.to_string()
            });
        send_refer(dialog.clone(), me, uri, referred_by, None);
        Redirected::Followed
    }
}

/// What sending the INVITE needs (from the channel's driver).
struct Invite {
    shared: Arc<SipShared>,
    control: MediaControl,
    dialog: Arc<OnceLock<InviteDialog>>,
    phase: Arc<Mutex<Phase>>,
    cause: Arc<AtomicU16>,
}

impl Invite {
    /// Moves to `phase`; returns the phase it was in.
    fn set_phase(&self, phase: Phase) -> Phase {
        std::mem::replace(
            &mut *self.phase.lock().unwrap_or_else(|p| p.into_inner()),
            phase,
        )
    }

    /// Sends the INVITE and follows the call in a task of its own.
    fn send(
        &self,
        setup: Setup,
        handle: crate::core::tech::Handle,
        me: Arc<str>,
    ) -> Result<(), CoreError> {
        let Setup {
            option,
            media,
            reinvites,
            ..
        } = setup;
        let (state_tx, state_rx) = self.shared.dialogs.new_dialog_state_channel();
        let (dialog, outcome) = self
            .shared
            .dialogs
            .do_invite_async(option, state_tx)
            .map_err(|e| CoreError::Internal(format!("SIP INVITE not sent: {e}")))?;
        let _ = self.dialog.set(dialog.clone());
        let call = CallRef {
            dialog,
            control: self.control.clone(),
            shared: self.shared.clone(),
            phase: self.phase.clone(),
            cause: self.cause.clone(),
        };
        tokio::spawn(follow(
            call, me, handle, media, state_rx, outcome, reinvites,
        ));
        Ok(())
    }
}

/// What the call's task needs.
struct CallRef {
    dialog: InviteDialog,
    control: MediaControl,
    shared: Arc<SipShared>,
    phase: Arc<Mutex<Phase>>,
    cause: Arc<AtomicU16>,
}

impl CallRef {
    fn phase(&self) -> Phase {
        *self.phase.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Moves to `phase`; returns the phase it was in.
    fn set_phase(&self, phase: Phase) -> Phase {
        std::mem::replace(
            &mut *self.phase.lock().unwrap_or_else(|p| p.into_inner()),
            phase,
        )
    }

    /// The far end ended the call: hang the channel up unless wari already did.
    fn far_end_gone(&self, handle: &crate::core::tech::Handle, me: &Arc<str>, cause: u16) {
        if self.set_phase(Phase::Ended) != Phase::Ended {
            self.control.close();
            handle.with(|ctx| ctx.hang_up(me, cause));
        }
    }

    /// wari ends the answered call itself (bad answer, RTP timeout): the channel hangs
    /// up with `cause` and the far end gets a BYE saying so.
    fn end_answered(&self, handle: &crate::core::tech::Handle, me: &Arc<str>, cause: u16) {
        if self.set_phase(Phase::Ended) != Phase::Ended {
            self.control.close();
            handle.with(|ctx| ctx.hang_up(me, cause));
            let ending = ending::ending(Side::Uac, Phase::Answered, cause);
            ending::send(&self.shared.endpoint, &self.dialog, ending, me);
        }
    }
}

/// Follows an outbound call: provisional responses, the final one, then the dialog until
/// it ends, and the media's events.
async fn follow(
    call: CallRef,
    me: Arc<str>,
    handle: crate::core::tech::Handle,
    mut media: CallMedia,
    mut states: DialogStateReceiver,
    outcome: rsipstack::platform::JoinHandle<rsipstack::dialog::invitation::InviteAsyncResult>,
    mut reinvites: HoldReinvites,
) {
    let mut events: Option<UnboundedReceiver<MediaEvent>> = media.take_events();
    let mut outcome = Some(outcome);
    // The far end holds us (its last offer took no audio from us).
    let mut held = false;
    // Once answered, the request loop's record of the call (a BYE's `Reason`).
    let mut entry: Option<Arc<CallEntry>> = None;
    loop {
        // Biased: a 180 queued as a dialog state before the final response is followed
        // first (else a busy machine could report BUSY without the RINGING before it).
        tokio::select! {
            biased;
            state = states.recv() => match state {
                None => break,
                Some(DialogState::Early(_, response)) => {
                    let status = u16::from(response.status_code.clone());
                    let sdp = String::from_utf8_lossy(&response.body).into_owned();
                    if status == 183 || !sdp.is_empty() {
                        if !sdp.is_empty() && let Err(error) = media.accept_answer(&sdp) {
                            tracing::debug!(channel = %me, %error, "SIP early media SDP refused");
                        }
                        handle.with(|ctx| ctx.progress(&me));
                    } else {
                        handle.with(|ctx| ctx.ringing(&me));
                    }
                }
                Some(DialogState::Trying(_)) | Some(DialogState::Calling(_)) => {}
                Some(DialogState::Refer(_, _, transaction)) => {
                    // A transfer the far end asks for: not taken (Asterisk would transfer).
                    tracing::info!(channel = %me, "SIP REFER from the far end: 501, transfers are not taken");
                    let _ = transaction.reply(StatusCode::NotImplemented).await;
                }
                Some(DialogState::Info(_, request, transaction)) => {
                    if let Some((digit, duration_ms)) = info::answer(&request, transaction, &me).await {
                        handle.with(|ctx| ctx.dtmf_received(&me, digit, duration_ms));
                    }
                }
                Some(DialogState::Updated(_, request, transaction)) => {
                    // The far end's re-INVITE (its hold, a session refresh).
                    let reoffered = reoffer::answer(
                        &request,
                        transaction,
                        &mut media,
                        reinvites.in_flight(),
                        &mut held,
                        &me,
                    )
                    .await;
                    if let Some(held) = reoffered.hold_changed {
                        handle.with(|ctx| ctx.far_end_hold(&me, held));
                    }
                }
                Some(DialogState::Terminated(_, reason)) => {
                    if let Some(entry) = &entry {
                        // As Asterisk: the BYE's `Reason` gives the cause, else 16.
                        let cause = entry
                            .far_cause
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .unwrap_or(cause::NORMAL_CLEARING);
                        tracing::debug!(channel = %me, ?reason, cause, "SIP call ended");
                        call.far_end_gone(&handle, &me, cause);
                    }
                    if outcome.is_none() {
                        break;
                    }
                }
                Some(other) => {
                    tracing::trace!(channel = %me, state = %other, "SIP dialog state");
                }
            },
            result = async { outcome.as_mut().expect("pending").await }, if outcome.is_some() => {
                outcome = None;
                let response = match result {
                    Ok(Ok((_, response))) => response,
                    Ok(Err(error)) => {
                        tracing::info!(channel = %me, %error, "SIP INVITE failed");
                        None
                    }
                    Err(error) => {
                        tracing::debug!(channel = %me, %error, "SIP INVITE task ended");
                        None
                    }
                };
                let status = response.as_ref().map(|r| u16::from(r.status_code.clone())).unwrap_or(408);
                if (200..300).contains(&status) {
                    let sdp = response
                        .as_ref()
                        .map(|r| String::from_utf8_lossy(&r.body).into_owned())
                        .unwrap_or_default();
                    if call.set_phase(Phase::Answered) == Phase::Ended {
                        // Hung up meanwhile: the CANCEL lost the race. The answered call
                        // gets a BYE (a no-op if rsipstack's own CANCEL already ended it).
                        call.set_phase(Phase::Ended);
                        let cause = call.cause.load(Ordering::Relaxed);
                        let ending = ending::ending(Side::Uac, Phase::Answered, cause);
                        ending::send(&call.shared.endpoint, &call.dialog, ending, &me);
                        break;
                    }
                    if let Err(error) = media.accept_answer(&sdp) {
                        tracing::info!(channel = %me, %error, "SIP answer's SDP refused: hanging up");
                        call.end_answered(&handle, &me, cause::NORMAL_CLEARING);
                        break;
                    }
                    let answered = Arc::new(CallEntry {
                        channel: me.clone(),
                        far_cause: Mutex::new(None),
                    });
                    call.shared.calls.insert(call.dialog.id().to_string(), answered.clone());
                    entry = Some(answered);
                    call.control.answered();
                    handle.with(|ctx| ctx.answered(&me));
                    // A hold asked before the answer goes now.
                    reinvites.send_due(&call.dialog, &mut media, &me);
                } else {
                    let reasons: Vec<String> = response
                        .iter()
                        .flat_map(|r| r.headers.iter())
                        .filter_map(|h| match h {
                            Header::Reason(reason) => Some(reason.value().to_string()),
                            _ => None,
                        })
                        .collect();
                    let cause = causes::cause_from_reason_headers(reasons.iter().map(String::as_str))
                        .unwrap_or_else(|| causes::cause_from_sip_status(status));
                    tracing::debug!(channel = %me, status, cause, "SIP call failed");
                    call.far_end_gone(&handle, &me, cause);
                    break;
                }
            },
            hold = reinvites.next() => {
                if let Some(hold) = hold {
                    reinvites.finished(hold, &mut media, &me);
                }
                if call.phase() == Phase::Answered {
                    reinvites.send_due(&call.dialog, &mut media, &me);
                }
            },
            event = super::next_media_event(&mut events) => match event {
                Some(MediaEvent::Dtmf { digit, duration_ms }) => {
                    handle.with(|ctx| ctx.dtmf_received(&me, digit, duration_ms));
                }
                Some(MediaEvent::Timeout) => {
                    // As Asterisk: cause 44, REQUESTED_CHAN_UNAVAIL.
                    call.end_answered(&handle, &me, 44);
                }
                None => events = None,
            },
        }
    }
    if entry.is_some() {
        call.shared.calls.remove(&call.dialog.id().to_string());
    }
    call.shared.dialogs.remove_dialog(&call.dialog.id());
    drop(media);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dial_strings_name_an_endpoint_and_maybe_a_location() {
        assert_eq!(
            parse_dial_string("alice"),
            Ok(DialString {
                endpoint: "alice".into(),
                location: None
            })
        );
        assert_eq!(
            parse_dial_string("trunk/sip:+15551234@192.0.2.1:5060"),
            Ok(DialString {
                endpoint: "trunk".into(),
                location: Some("sip:+15551234@192.0.2.1:5060".into())
            })
        );
        assert_eq!(
            parse_dial_string("100@trunk/office")
                .expect("dial string")
                .endpoint,
            "100@trunk"
        );
        assert!(parse_dial_string("").is_err());
        assert!(parse_dial_string("/sip:x@y").is_err());
        assert!(parse_dial_string("trunk/").is_err());
    }

    #[test]
    fn only_sip_uris_are_targets_and_a_request_user_replaces_theirs() {
        let uri = |text: &str, user: Option<&str>| target_uri(text, user).map(|u| u.to_string());
        assert_eq!(
            uri("sip:bob@192.0.2.1:5070", None).as_deref(),
            Some("sip:bob@192.0.2.1:5070")
        );
        assert_eq!(
            uri("<sips:bob@example.com>", None).as_deref(),
            Some("sips:bob@example.com")
        );
        assert_eq!(
            uri("sip:192.0.2.1:5070", Some("100")).as_deref(),
            Some("sip:100@192.0.2.1:5070")
        );
        assert_eq!(
            uri("sip:trunk@192.0.2.1", Some("+15551234")).as_deref(),
            Some("sip:+15551234@192.0.2.1")
        );
        // chan_pjsip adds no scheme: these are not SIP URIs, no call is made.
        for text in ["notauri", "100@host", "tel:+15551234", "http://x", ""] {
            assert_eq!(uri(text, None), None, "{text}");
        }
    }

    #[test]
    fn user_at_endpoint_names_the_endpoint_after_the_at() {
        let mut problems = crate::config::Problems::default();
        let file = crate::config::conf_file::parse_str(
            std::path::Path::new("pjsip.conf"),
            "[trunk]\ntype=endpoint\n[odd@name]\ntype=endpoint\n",
            &mut problems,
        );
        let config = crate::config::pjsip_conf::read(Some(&file), &mut problems);
        let found = |name: &str| endpoint_of(&config, name).map(|(e, user)| (e.name.clone(), user));
        assert_eq!(found("trunk"), Some(("trunk".into(), None)));
        assert_eq!(
            found("100@trunk"),
            Some(("trunk".into(), Some("100".into())))
        );
        // An endpoint whose name has an `@` is found by its name first.
        assert_eq!(found("odd@name"), Some(("odd@name".into(), None)));
        assert_eq!(found("@trunk"), Some(("trunk".into(), None)));
        assert_eq!(found("100@nobody"), None);
        assert_eq!(found("nobody"), None);
    }
}
