//! Calls arriving: an INVITE outside any dialog becomes a channel in the endpoint's
//! context. Its endpoint is identified (`parties`), challenged when it has an `auth` (an
//! unknown caller gets the same `401` as a known one, as Asterisk), its SDP offer answered
//! by the call's media (no codec in common: `488`; an INVITE without SDP gets our offer in
//! the 200 OK and answers it in the ACK), then the channel
//! `PJSIP/<endpoint>-<n>` is created at the Request-URI's extension. A task per call then
//! follows the dialog (ACK, CANCEL, BYE, re-INVITE), the media's events (DTMF, RTP
//! timeout) and our hold's re-INVITEs (`moh_passthrough=yes`), and reports them to the
//! core.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use rsipstack::dialog::dialog::{DialogState, DialogStateReceiver, TerminatedReason};
use rsipstack::sip::{Header, StatusCode, Transport, Uri};
use rsipstack::transaction::transaction::Transaction;
use tokio::sync::mpsc::UnboundedReceiver;

use super::super::auth::Verdict;
use super::super::media::{CallMedia, DtmfMode, MediaEvent, MediaPolicy, MediaSetupError};
use super::super::{SipShared, TECHNOLOGY, causes};
use super::driver::{Phase, SipCall};
use super::ending::{self, Side};
use super::hold::{HoldReinvites, HoldWish};
use super::{CallEntry, parties};
use super::{info, reoffer};
use crate::config::pjsip_conf::{self, Endpoint};
use crate::core::NewChannel;
use crate::core::cause;
use crate::core::tech::{Inbound, MediaLeg};

/// The cause of a hang-up for `rtp_timeout` (Asterisk's REQUESTED_CHAN_UNAVAIL).
const RTP_TIMEOUT_CAUSE: u16 = 44;

/// The extension of a call whose Request-URI has no user (Asterisk's `s`).
const NO_EXTENSION: &str = "s";

/// Whether a request may proceed, or the challenge it gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Gate {
    Pass,
    Challenge { stale: bool },
}

/// Whether `request` from `endpoint` (None: no endpoint matched) passes digest auth.
pub(crate) fn gate(
    shared: &SipShared,
    request: &rsipstack::sip::Request,
    endpoint: Option<&Endpoint>,
    source: IpAddr,
    now: u64,
) -> Gate {
    let auth = match endpoint {
        Some(endpoint) => match &endpoint.auth {
            None => return Gate::Pass,
            Some(name) => shared.config.auth(name),
        },
        None => None,
    };
    let authorization = request.headers.iter().find_map(|h| match h {
        Header::Authorization(value) => Some(value.value()),
        _ => None,
    });
    let Some(authorization) = authorization else {
        return Gate::Challenge { stale: false };
    };
    let verdict = shared.challenger.verify(
        authorization,
        &request.method.to_string(),
        &request.uri.to_string(),
        auth,
        source,
        now,
    );
    match verdict {
        Verdict::Accepted => Gate::Pass,
        Verdict::Stale => Gate::Challenge { stale: true },
        Verdict::Rejected | Verdict::Malformed => Gate::Challenge { stale: false },
    }
}

/// Answers `tx` with `401` and a challenge for `endpoint` (None: the default realm).
pub(crate) async fn challenge(
    shared: &SipShared,
    tx: &mut Transaction,
    endpoint: Option<&Endpoint>,
    source: IpAddr,
    stale: bool,
) {
    let auth = endpoint
        .and_then(|e| e.auth.as_deref())
        .and_then(|name| shared.config.auth(name));
    let value = shared
        .challenger
        .challenge(auth, source, SipShared::unix_now(), stale);
    let header = Header::WwwAuthenticate(value.into());
    if let Err(error) = tx
        .reply_with(StatusCode::Unauthorized, vec![header], None)
        .await
    {
        tracing::debug!(%error, "SIP 401 not sent");
    }
}

/// What an endpoint says about a call's media bound at `local`, its SDP giving `advertised`.
pub(crate) fn media_policy(endpoint: &Endpoint, local: IpAddr, advertised: IpAddr) -> MediaPolicy {
    MediaPolicy {
        codecs: endpoint.codecs.clone(),
        dtmf_mode: match endpoint.dtmf_mode {
            pjsip_conf::DtmfMode::Rfc4733 => DtmfMode::Rfc4733,
            pjsip_conf::DtmfMode::Inband => DtmfMode::Inband,
            pjsip_conf::DtmfMode::Auto => DtmfMode::Auto,
        },
        rtp_symmetric: endpoint.rtp_symmetric,
        rtp_timeout: (endpoint.rtp_timeout > 0)
            .then(|| std::time::Duration::from_secs(u64::from(endpoint.rtp_timeout))),
        bind_ip: local,
        advertised_ip: advertised,
    }
}

/// The address wari answers on: the transport's, as the request reached it.
fn local_address(tx: &Transaction, shared: &SipShared) -> Option<SocketAddr> {
    tx.connection
        .as_ref()
        .and_then(|c| c.get_addr().get_socketaddr().ok())
        .or_else(|| shared.listening.first().map(|l| l.address))
}

/// Our Contact for a dialog: `sip:<user>@<local address>` (`;transport=tcp` on TCP,
/// `;transport=tls` on TLS).
pub(crate) fn contact_uri(user: &str, local: SocketAddr, transport: Transport) -> Option<Uri> {
    let transport = match transport {
        Transport::Tcp => ";transport=tcp",
        Transport::Tls => ";transport=tls",
        _ => "",
    };
    let user: String = user
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || "-_.!~*'()&=+$,;?/".contains(*c))
        .collect();
    let text = if user.is_empty() {
        format!("sip:{local}{transport}")
    } else {
        format!("sip:{user}@{local}{transport}")
    };
    Uri::try_from(text.as_str()).ok()
}

async fn reply(tx: &mut Transaction, status: u16) {
    if let Err(error) = tx.reply(StatusCode::from(status)).await {
        tracing::debug!(%error, status, "SIP answer not sent");
    }
}

/// A new INVITE: authenticated, answered by the media, made a channel.
pub(crate) async fn invite(shared: &Arc<SipShared>, mut tx: Transaction) {
    let parties::Sender {
        source,
        from_user,
        endpoint,
    } = parties::sender(
        &shared.config,
        &shared.identifier,
        &tx.original,
        tx.connection.as_ref(),
    );
    let source_ip = source
        .map(|s| s.ip())
        .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
    match gate(
        shared,
        &tx.original,
        endpoint,
        source_ip,
        SipShared::unix_now(),
    ) {
        Gate::Pass => {}
        Gate::Challenge { stale } => {
            tracing::debug!(source = ?source, from = ?from_user, known = endpoint.is_some(), "SIP INVITE challenged");
            challenge(shared, &mut tx, endpoint, source_ip, stale).await;
            return;
        }
    }
    let Some(endpoint) = endpoint else {
        // Unreachable: an unknown caller never passes the gate.
        reply(&mut tx, 403).await;
        return;
    };
    let Some(local) = local_address(&tx, shared) else {
        reply(&mut tx, 500).await;
        return;
    };
    let exten = parties::user_of(&tx.original.uri).unwrap_or_else(|| NO_EXTENSION.into());
    let Some(channel_id) = shared.core.with(|ctx| ctx.new_channel_id()) else {
        reply(&mut tx, 503).await;
        return;
    };
    let channel_id: Arc<str> = channel_id.into();
    let advertised = shared.media_address(local, local.ip(), source.map(|s| s.ip()));
    let policy = media_policy(endpoint, local.ip(), advertised);
    let mut media = match CallMedia::open(policy, channel_id.clone()) {
        Ok(media) => media,
        Err(error) => {
            tracing::warn!(endpoint = %endpoint.name, %error, "SIP call refused: no media");
            let status = if matches!(error, MediaSetupError::NoCodec) {
                488
            } else {
                500
            };
            reply(&mut tx, status).await;
            return;
        }
    };
    let offer = String::from_utf8_lossy(&tx.original.body).into_owned();
    // No SDP (a late offer): our offer goes in the 200, its answer comes in the ACK.
    let late_offer = offer.trim().is_empty();
    let local_sdp = if late_offer {
        media.create_offer()
    } else {
        match media.answer_offer(&offer) {
            Ok(answer) => answer,
            Err(error) => {
                tracing::debug!(endpoint = %endpoint.name, %error, "SIP offer refused");
                reply(&mut tx, error.sip_status()).await;
                return;
            }
        }
    };
    let transport = tx
        .connection
        .as_ref()
        .map_or(Transport::Udp, |c| c.transport());
    let (state_tx, state_rx) = shared.dialogs.new_dialog_state_channel();
    let dialog = match shared.dialogs.get_or_create_server_invite(
        &tx,
        state_tx,
        None,
        contact_uri(&exten, local, transport),
    ) {
        Ok(dialog) => dialog,
        Err(error) => {
            tracing::debug!(%error, "SIP dialog not created");
            reply(&mut tx, 500).await;
            return;
        }
    };
    let dialog_key = dialog.id().to_string();
    let (wish, reinvites) = HoldWish::new();
    let mut call = SipCall::new(
        dialog.clone(),
        shared.endpoint.clone(),
        media.control(),
        local_sdp,
    )
    .with_registrar(shared.registrar.clone())
    .with_invite_transaction(tx.tu_sender.clone());
    if endpoint.moh_passthrough {
        call = call.with_hold_reinvites(wish);
    }
    let call = Arc::new(call);
    if late_offer {
        call.expect_answer_in_ack();
    }
    let entry = Arc::new(CallEntry {
        channel: channel_id.clone(),
        far_cause: std::sync::Mutex::new(None),
    });
    shared.calls.insert(dialog_key.clone(), entry.clone());
    // Until answered, a CANCEL's `Reason` is kept for the channel's cause.
    shared.calls.insert_unanswered(caller_key(&dialog.id()));
    // The INVITE transaction: 100 Trying, our responses, the ACK or a CANCEL.
    let mut running = dialog.clone();
    tokio::spawn(async move {
        if let Err(error) = running.handle(&mut tx).await {
            tracing::debug!(%error, "SIP INVITE transaction ended");
        }
    });
    let name = shared.channel_name(&endpoint.name);
    let inbound = Inbound {
        channel: NewChannel {
            id: Some(channel_id.to_string()),
            name,
            driver: call.clone(),
            caller: parties::caller_of(&dialog.initial_request()),
            endpoint: Some(format!("{TECHNOLOGY}/{}", endpoint.name)),
            media: MediaLeg {
                edge: media.take_edge(),
                ..MediaLeg::default()
            },
            language: endpoint.language.clone(),
            ..NewChannel::default()
        },
        context: endpoint.context.clone(),
        exten,
    };
    let events = media.take_events();
    match shared.core.with(|ctx| ctx.inbound(inbound)) {
        Some(Ok(_)) => {}
        failed => {
            tracing::warn!(endpoint = %endpoint.name, ?failed, "SIP call refused: no channel");
            call.set_phase(Phase::Ended);
            call.media().close();
            let _ = dialog.reject(Some(StatusCode::ServiceUnavailable), None);
            shared.calls.remove(&dialog_key);
            shared.calls.remove_unanswered(&caller_key(&dialog.id()));
            return;
        }
    }
    tokio::spawn(follow(
        shared.clone(),
        call,
        media,
        state_rx,
        events,
        entry,
        reinvites,
    ));
}

/// How a CANCEL names the call of `dialog` (a dialog wari answers).
fn caller_key(dialog: &rsipstack::dialog::DialogId) -> super::CallerKey {
    (dialog.call_id.clone(), dialog.remote_tag.clone())
}

/// Follows one call until it ends: the dialog's states and the media's events, reported to
/// the core, and our hold's re-INVITEs.
pub(crate) async fn follow(
    shared: Arc<SipShared>,
    call: Arc<SipCall>,
    mut media: CallMedia,
    mut states: DialogStateReceiver,
    mut events: Option<UnboundedReceiver<MediaEvent>>,
    entry: Arc<CallEntry>,
    mut reinvites: HoldReinvites,
) {
    let id = entry.channel.clone();
    let caller = caller_key(&call.dialog().id());
    let mut held = false;
    // The ACK of our 200 came: a re-INVITE of ours may go.
    let mut confirmed = false;
    loop {
        let state = tokio::select! {
            state = states.recv() => state,
            outcome = reinvites.next() => {
                if let Some(outcome) = outcome {
                    reinvites.finished(outcome, &mut media, &id);
                }
                if confirmed && call.phase() == Phase::Answered {
                    reinvites.send_due(call.dialog(), &mut media, &id);
                }
                continue;
            }
            event = super::next_media_event(&mut events) => {
                match event {
                    Some(MediaEvent::Dtmf { digit, duration_ms }) => {
                        shared.core.with(|ctx| ctx.dtmf_received(&id, digit, duration_ms));
                    }
                    Some(MediaEvent::Timeout) => {
                        tracing::info!(channel = %id, "no RTP for rtp_timeout: hanging up");
                        let was = call.set_phase(Phase::Ended);
                        if was != Phase::Ended {
                            call.media().close();
                            // As Asterisk: cause 44, REQUESTED_CHAN_UNAVAIL.
                            shared.core.with(|ctx| ctx.hang_up(&id, RTP_TIMEOUT_CAUSE));
                            let ending = ending::ending(Side::Uas, was, RTP_TIMEOUT_CAUSE);
                            ending::send(&shared.endpoint, call.dialog(), ending, &id);
                        }
                    }
                    None => events = None,
                }
                continue;
            }
        };
        if matches!(
            state,
            None | Some(DialogState::Confirmed(..) | DialogState::Terminated(..))
        ) {
            call.dialog_settled();
        }
        match state {
            None => break,
            Some(DialogState::Terminated(_, reason)) => {
                let far_cause = match reason {
                    // As Asterisk: the CANCEL's `Reason` gives the cause, else 487's.
                    TerminatedReason::UacCancel => Some(
                        shared
                            .calls
                            .remove_unanswered(&caller)
                            .unwrap_or_else(|| causes::cause_from_sip_status(487)),
                    ),
                    TerminatedReason::UacBye => Some(
                        entry
                            .far_cause
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .unwrap_or(cause::NORMAL_CLEARING),
                    ),
                    TerminatedReason::Timeout => Some(cause::NORMAL_CLEARING),
                    _ => None,
                };
                if call.set_phase(Phase::Ended) != Phase::Ended {
                    call.media().close();
                    let cause = far_cause.unwrap_or(cause::NORMAL_CLEARING);
                    tracing::debug!(channel = %id, ?reason, cause, "SIP call ended by the far end");
                    shared.core.with(|ctx| ctx.hang_up(&id, cause));
                }
                break;
            }
            Some(DialogState::Confirmed(..)) if !call.take_late_offer() => {
                // Answered: a CANCEL now changes nothing.
                shared.calls.remove_unanswered(&caller);
                confirmed = true;
                if call.phase() == Phase::Answered {
                    reinvites.send_due(call.dialog(), &mut media, &id);
                }
            }
            Some(DialogState::Confirmed(..)) => {
                shared.calls.remove_unanswered(&caller);
                let answer = call
                    .dialog()
                    .last_remote_ack()
                    .map(|ack| String::from_utf8_lossy(&ack.body).into_owned())
                    .unwrap_or_default();
                if let Err(error) = media.accept_answer(&answer) {
                    // No usable answer to our offer: the call cannot carry media.
                    tracing::info!(channel = %id, %error, "SIP ACK without a usable answer: hanging up");
                    let cause = causes::cause_from_sip_status(488);
                    if call.set_phase(Phase::Ended) != Phase::Ended {
                        call.media().close();
                        shared.core.with(|ctx| ctx.hang_up(&id, cause));
                        let ending = ending::ending(Side::Uas, Phase::Answered, cause);
                        ending::send(&shared.endpoint, call.dialog(), ending, &id);
                    }
                } else {
                    confirmed = true;
                    if call.phase() == Phase::Answered {
                        reinvites.send_due(call.dialog(), &mut media, &id);
                    }
                }
            }
            Some(DialogState::Updated(_, request, handle)) => {
                let reoffered = reoffer::answer(
                    &request,
                    handle,
                    &mut media,
                    reinvites.in_flight(),
                    &mut held,
                    &id,
                )
                .await;
                if let Some(answer) = reoffered.answer {
                    call.set_local_sdp(answer);
                }
                if let Some(held) = reoffered.hold_changed {
                    shared.core.with(|ctx| ctx.far_end_hold(&id, held));
                }
            }
            Some(DialogState::Notify(_, _, handle)) => {
                // The progress of a transfer we asked for (REFER): taken, nothing to do.
                let _ = handle.reply(StatusCode::OK).await;
            }
            Some(DialogState::Refer(_, _, handle)) => {
                // A transfer the phone asks for: not taken (Asterisk would transfer).
                tracing::info!(channel = %id, "SIP REFER from the far end: 501, transfers are not taken");
                let _ = handle.reply(StatusCode::NotImplemented).await;
            }
            Some(DialogState::Info(_, request, handle)) => {
                if let Some((digit, duration_ms)) = info::answer(&request, handle, &id).await {
                    shared
                        .core
                        .with(|ctx| ctx.dtmf_received(&id, digit, duration_ms));
                }
            }
            Some(other) => {
                tracing::trace!(channel = %id, state = %other, "SIP dialog state");
            }
        }
    }
    let dialog = call.dialog().id();
    shared.calls.remove(&dialog.to_string());
    shared.calls.remove_unanswered(&caller);
    shared.dialogs.remove_dialog(&dialog);
    drop(media);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn our_contact_names_the_transport_address() {
        let local: SocketAddr = "127.0.0.1:5060".parse().expect("addr");
        let udp = contact_uri("100", local, Transport::Udp).expect("uri");
        assert_eq!(udp.to_string(), "sip:100@127.0.0.1:5060");
        let tcp = contact_uri("100", local, Transport::Tcp).expect("uri");
        assert_eq!(tcp.to_string(), "sip:100@127.0.0.1:5060;transport=TCP");
        let tls = contact_uri("100", local, Transport::Tls).expect("uri");
        assert_eq!(tls.to_string(), "sip:100@127.0.0.1:5060;transport=TLS");
        // Characters a URI user cannot hold are left out rather than breaking the header.
        let odd = contact_uri("1 0<0>", local, Transport::Udp).expect("uri");
        assert_eq!(odd.to_string(), "sip:100@127.0.0.1:5060");
        let none = contact_uri("", local, Transport::Udp).expect("uri");
        assert_eq!(none.to_string(), "sip:127.0.0.1:5060");
    }
}
