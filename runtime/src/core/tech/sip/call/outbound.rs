//! Calls made by wari: `PJSIP/endpoint` (to the first contact the registrar knows for the
//! endpoint's AORs, registered or static) and `PJSIP/endpoint/sip:user@host` (that URI
//! with the endpoint's settings). The channel is created by the request with its media
//! open and our SDP offer ready; `Driver::call` sends the INVITE (credentials from
//! `outbound_auth` answer one 401/407), 180 -> ringing, 183 -> progress (early media
//! when it has SDP), 2xx -> answered, 3xx-6xx -> hang-up with the cause Asterisk maps
//! from the status (or the `Reason` header). Our hang-up before the answer is a CANCEL,
//! after it a BYE. An endpoint with no contact cannot be called: `Allocation failed`,
//! as Asterisk's originate answers when chan_pjsip cannot create the session.

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, OnceLock};

use rsipstack::dialog::authenticate::Credential;
use rsipstack::dialog::dialog::{DialogState, DialogStateReceiver};
use rsipstack::dialog::invitation::InviteOption;
use rsipstack::dialog::invite_dialog::InviteDialog;
use rsipstack::sip::uri::ParamsExt;
use rsipstack::sip::{Header, Transport, Uri};
use tokio::sync::mpsc::UnboundedReceiver;

use super::super::media::{CallMedia, DtmfSent, MediaControl, MediaEvent};
use super::super::{SipShared, TECHNOLOGY, causes};
use super::driver::Phase;
use super::inbound::{contact_uri, media_policy};
use crate::config::pjsip_conf::Endpoint;
use crate::core::cause;
use crate::core::channels::channel::{ChannelState, DialplanPosition};
use crate::core::tech::{Context, Driver, MediaLeg, Request};
use crate::core::{ControlReceiver, CoreError, NewChannel};
use crate::media::rtp_stats::RtpSnapshot;

/// A dial string's parts: `endpoint` or `endpoint/sip:uri`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DialString {
    pub(crate) endpoint: String,
    pub(crate) uri: Option<String>,
}

/// Parses the resource of a `PJSIP/...` dial string.
pub(crate) fn parse_dial_string(resource: &str) -> Result<DialString, String> {
    let resource = resource.trim();
    let (endpoint, uri) = match resource.split_once('/') {
        Some((endpoint, uri)) => (endpoint, Some(uri.trim())),
        None => (resource, None),
    };
    if endpoint.is_empty() {
        return Err("PJSIP needs an endpoint: PJSIP/ENDPOINT".into());
    }
    let uri = match uri {
        None => None,
        Some("") => return Err("Empty URI after the endpoint".into()),
        Some(uri) if uri.starts_with("sip:") || uri.starts_with("sips:") => Some(uri.to_string()),
        // Asterisk takes `PJSIP/trunk/number` as `sip:number@<trunk's contact host>`;
        // wari needs the full URI.
        Some(uri) => Some(format!("sip:{uri}")),
    };
    Ok(DialString {
        endpoint: endpoint.to_string(),
        uri,
    })
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
}

/// The driver of a channel wari calls out on.
pub(crate) struct OutboundCall {
    shared: Arc<SipShared>,
    setup: Mutex<Option<Setup>>,
    control: MediaControl,
    dialog: OnceLock<InviteDialog>,
    phase: Arc<Mutex<Phase>>,
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
    let allocation_failed = || CoreError::Internal("Allocation failed".into());
    let Some(endpoint) = shared.config.endpoint(&dial.endpoint) else {
        tracing::info!(endpoint = %dial.endpoint, "PJSIP call refused: no such endpoint");
        return Err(allocation_failed());
    };
    let target = match &dial.uri {
        Some(uri) => uri.clone(),
        None => match shared.registrar.contacts_of(&endpoint.name).first() {
            Some(contact) => contact.uri.clone(),
            None => {
                tracing::info!(endpoint = %endpoint.name, "PJSIP call refused: the endpoint has no contact");
                return Err(allocation_failed());
            }
        },
    };
    let callee = Uri::try_from(target.as_str())
        .map_err(|e| CoreError::BadRequest(format!("Invalid SIP URI {target:?}: {e}")))?;
    // The target's `transport` parameter chooses the connection rsipstack sends over.
    let transport = callee.transport().cloned().unwrap_or(Transport::Udp);
    let local = local_signalling(shared, transport).ok_or_else(allocation_failed)?;
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
    let driver = Arc::new(OutboundCall {
        shared: shared.clone(),
        control: media.control(),
        setup: Mutex::new(Some(Setup { option, media })),
        dialog: OnceLock::new(),
        phase: Arc::new(Mutex::new(Phase::Early)),
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
        ..NewChannel::default()
    })
}

impl Driver for OutboundCall {
    fn call(&self, ctx: &mut Context<'_>, me: &Arc<str>) -> Result<(), CoreError> {
        let Some(setup) = self.setup.lock().unwrap_or_else(|p| p.into_inner()).take() else {
            return Err(CoreError::Conflict("Channel already dialed".into()));
        };
        let Setup { option, mut media } = setup;
        let (state_tx, state_rx) = self.shared.dialogs.new_dialog_state_channel();
        let (dialog, outcome) = self
            .shared
            .dialogs
            .do_invite_async(option, state_tx)
            .map_err(|e| CoreError::Internal(format!("SIP INVITE not sent: {e}")))?;
        let _ = self.dialog.set(dialog.clone());
        let events = media.take_events();
        let handle = ctx.handle();
        let me = me.clone();
        let shared = self.shared.clone();
        let control = self.control.clone();
        let call = CallRef {
            dialog,
            control,
            shared,
            phase: self.phase.clone(),
        };
        tokio::spawn(follow(call, me, handle, media, state_rx, events, outcome));
        Ok(())
    }

    fn hangup(&self, _ctx: &mut Context<'_>, me: &Arc<str>, cause: u16) {
        let was = self.set_phase(Phase::Ended);
        self.control.close();
        let Some(dialog) = self.dialog.get().cloned() else {
            return;
        };
        let me = me.clone();
        let reason = causes::reason_header(cause);
        match was {
            Phase::Early => {
                tokio::spawn(async move {
                    if let Err(error) = dialog.cancel().await {
                        tracing::debug!(channel = %me, %error, "SIP CANCEL not sent");
                    }
                });
            }
            Phase::Answered => {
                tokio::spawn(async move {
                    let headers = vec![Header::Reason(reason.into())];
                    if let Err(error) = dialog.bye_with_headers(Some(headers)).await {
                        tracing::debug!(channel = %me, %error, "SIP BYE not sent");
                    }
                });
            }
            Phase::Ended => {}
        }
    }

    fn send_dtmf(&self, ctx: &mut Context<'_>, me: &Arc<str>, digit: char, duration_ms: u32) {
        if self.control.send_dtmf(digit, duration_ms) == DtmfSent::Inband {
            ctx.send_dtmf(me, digit, duration_ms);
        }
    }

    fn rtp_statistics(&self) -> Option<RtpSnapshot> {
        Some(self.control.statistics())
    }
}

/// What the call's task needs.
struct CallRef {
    dialog: InviteDialog,
    control: MediaControl,
    shared: Arc<SipShared>,
    phase: Arc<Mutex<Phase>>,
}

impl CallRef {
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
}

/// Follows an outbound call: provisional responses, the final one, then the dialog until
/// it ends, and the media's events.
async fn follow(
    call: CallRef,
    me: Arc<str>,
    handle: crate::core::tech::Handle,
    mut media: CallMedia,
    mut states: DialogStateReceiver,
    mut events: Option<UnboundedReceiver<MediaEvent>>,
    outcome: rsipstack::platform::JoinHandle<rsipstack::dialog::invitation::InviteAsyncResult>,
) {
    let mut outcome = Some(outcome);
    let mut answered = false;
    loop {
        tokio::select! {
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
                Some(DialogState::Terminated(_, reason)) => {
                    if answered {
                        tracing::debug!(channel = %me, ?reason, "SIP call ended");
                        call.far_end_gone(&handle, &me, cause::NORMAL_CLEARING);
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
                    if let Err(error) = media.accept_answer(&sdp) {
                        tracing::info!(channel = %me, %error, "SIP answer's SDP refused: hanging up");
                        call.far_end_gone(&handle, &me, cause::NORMAL_CLEARING);
                        let dialog = call.dialog.clone();
                        tokio::spawn(async move { dialog.bye().await });
                        break;
                    }
                    if call.set_phase(Phase::Answered) == Phase::Ended {
                        // Hung up meanwhile: the CANCEL lost the race, rsipstack ends the
                        // answered INVITE with a BYE.
                        break;
                    }
                    answered = true;
                    call.control.answered();
                    handle.with(|ctx| ctx.answered(&me));
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
            event = super::next_media_event(&mut events) => match event {
                Some(MediaEvent::Dtmf { digit, duration_ms }) => {
                    handle.with(|ctx| ctx.dtmf_received(&me, digit, duration_ms));
                }
                Some(MediaEvent::Timeout) => {
                    call.far_end_gone(&handle, &me, 44);
                    let dialog = call.dialog.clone();
                    tokio::spawn(async move { dialog.hangup().await });
                }
                None => events = None,
            },
        }
    }
    call.shared.dialogs.remove_dialog(&call.dialog.id());
    drop(media);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dial_strings_name_an_endpoint_and_maybe_a_uri() {
        assert_eq!(
            parse_dial_string("alice"),
            Ok(DialString {
                endpoint: "alice".into(),
                uri: None
            })
        );
        assert_eq!(
            parse_dial_string("trunk/sip:+15551234@192.0.2.1:5060"),
            Ok(DialString {
                endpoint: "trunk".into(),
                uri: Some("sip:+15551234@192.0.2.1:5060".into())
            })
        );
        assert_eq!(
            parse_dial_string("trunk/100@host")
                .expect("uri")
                .uri
                .as_deref(),
            Some("sip:100@host")
        );
        assert!(parse_dial_string("").is_err());
        assert!(parse_dial_string("/sip:x@y").is_err());
        assert!(parse_dial_string("trunk/").is_err());
    }
}
