//! A SIP call's media: SDP offer/answer, the RTP/RTCP session (G.711, RFC 4733 events,
//! symmetric latching, jitter buffer, timeout) and the media edge the engine runs.
//!
//! The signalling side (the channel driver) holds a [`CallMedia`] per call:
//!
//! 1. [`CallMedia::open`] binds the RTP/RTCP port pair and hands it to the I/O thread; the
//!    edge exists from here on ([`CallMedia::take_edge`], for the channel's `MediaLeg`),
//!    silent until an offer/answer settles where to send and which codec.
//! 2. Inbound calls: [`CallMedia::answer_offer`] (the INVITE's body; its error says 488 or
//!    400: [`SdpError::sip_status`]). Outbound: [`CallMedia::create_offer`], then
//!    [`CallMedia::accept_answer`].
//! 3. Mid-call: [`CallMedia::answer_reoffer`] (says whether the far end holds us) and
//!    [`CallMedia::hold_offer`] (our hold/unhold of the far end, then `accept_answer`).
//! 4. [`CallMedia::control`] is what the driver keeps to act from anywhere: DTMF out,
//!    `rtp_statistics`, `answered` when the channel is up (`rtp_timeout` counts from
//!    then), close at hang-up. [`CallMedia::take_events`] gives the digits received and the
//!    `rtp_timeout`.
//!
//! Files: `sdp` (parse, offer/answer), `session` (sans-IO RTP both ways), `jitter`,
//! `dtmf` (RFC 4733 and in-band), `rtcp`, `io` (sockets and the I/O thread), `received`
//! (received RTP waiting for the clock: audio bounded, RFC 4733 events kept), `edge`,
//! `totals` (process-wide counts for `/metrics`).

// The SIP channel driver calls in; until it is merged only the tests do.
#![allow(
    dead_code,
    reason = "used by the SIP channel driver, merged separately"
)]

use std::collections::VecDeque;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::mpsc::{UnboundedReceiver, unbounded_channel};

pub(crate) mod dtmf;
mod edge;
mod io;
mod jitter;
mod received;
mod rtcp;
pub(crate) mod sdp;
mod session;
pub(crate) mod totals;

pub(crate) use sdp::{Direction, FarEndHold, SdpError};

pub(crate) use crate::media::codec::Codec;
use crate::media::engine::LegId;
use crate::media::external::Edge;
use crate::media::rtp_stats::{RtpQuality, RtpSnapshot, RtpStats};
use sdp::{Negotiated, Negotiator};

/// Digits waiting for the edge at most (more are refused and logged).
const MAX_QUEUED_DIGITS: usize = 32;

/// How DTMF travels on an endpoint's calls (`dtmf_mode` in pjsip.conf).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum DtmfMode {
    /// RFC 4733 `telephone-event` packets (Asterisk's default, `rfc4733`).
    #[default]
    Rfc4733,
    /// Tones in the audio, detected in what is received.
    Inband,
    /// RFC 4733 when the far end negotiates `telephone-event`, else in band.
    Auto,
}

/// What an endpoint's configuration says about media (filled from pjsip.conf).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MediaPolicy {
    /// `ulaw`/`alaw` in preference order (other codecs are left out of offers).
    pub codecs: Vec<Codec>,
    pub dtmf_mode: DtmfMode,
    /// Latch on the first packet from the signalled address and send back there.
    pub rtp_symmetric: bool,
    /// Hang-up (a [`MediaEvent::Timeout`]) after this long without RTP.
    pub rtp_timeout: Option<Duration>,
    /// Where the RTP/RTCP sockets are bound.
    pub bind_ip: IpAddr,
    /// The address our SDP gives (`external_media_address`, else `bind_ip`).
    pub advertised_ip: IpAddr,
}

/// Why a call's media could not be set up (the call is refused: 500 or 488).
#[derive(Debug, thiserror::Error)]
pub(crate) enum MediaSetupError {
    /// The policy has neither ulaw nor alaw.
    #[error("no codec wari can carry (ulaw, alaw) is allowed")]
    NoCodec,
    /// No RTP/RTCP port pair could be bound.
    #[error("no RTP port pair free on {ip}: {source}")]
    Ports {
        ip: IpAddr,
        #[source]
        source: std::io::Error,
    },
    /// The sockets could not be served (the I/O thread could not start, or the sockets
    /// refused non-blocking mode).
    #[error("cannot serve the RTP sockets: {0}")]
    Task(#[source] std::io::Error),
}

/// What a call's media tells signalling.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MediaEvent {
    /// A digit arrived (RFC 4733 or in band), reported once, when it ended.
    Dtmf { digit: char, duration_ms: u32 },
    /// No RTP for `rtp_timeout` while the call is up and not held (reported once). Asterisk
    /// then hangs the channel up with cause 44 (`REQUESTED_CHAN_UNAVAIL`).
    Timeout,
}

/// How [`MediaControl::send_dtmf`] sent a digit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DtmfSent {
    /// As RFC 4733 events (queued for the edge).
    Rfc4733,
    /// Not sent: the call carries DTMF in band. The caller plays the digit into the
    /// channel's audio with `Context::send_dtmf` (the engine writes its tones to the leg,
    /// which the edge sends).
    Inband,
    /// Refused: too many digits waiting.
    Refused,
}

/// What signalling changed for the edge to take.
#[derive(Debug, Default)]
struct Update {
    negotiated: Option<Negotiated>,
    digits: VecDeque<(char, u32)>,
}

/// What a call's signalling side and its edge share.
#[derive(Debug)]
pub(crate) struct Shared {
    channel: LegId,
    /// Set when `update` holds something new (the edge looks at it only then).
    pending: AtomicBool,
    update: Mutex<Update>,
    /// Whether digits go out as RFC 4733 events (else in band).
    rfc4733: AtomicBool,
    /// The channel is up: `rtp_timeout` counts (as Asterisk, only then).
    up: AtomicBool,
    stats: Arc<RtpStats>,
    quality: Mutex<Option<RtpQuality>>,
    link: Arc<io::Link>,
}

impl Shared {
    fn take_pending(&self) -> bool {
        self.pending.swap(false, Ordering::AcqRel)
    }

    fn take_update(&self) -> (Option<Negotiated>, VecDeque<(char, u32)>) {
        let mut update = self.update.lock().unwrap_or_else(|p| p.into_inner());
        (update.negotiated.take(), std::mem::take(&mut update.digits))
    }

    fn set_quality(&self, quality: Option<RtpQuality>) {
        *self.quality.lock().unwrap_or_else(|p| p.into_inner()) = quality;
    }
}

/// What the driver keeps to act on a call's media from anywhere (cheap to clone).
#[derive(Debug, Clone)]
pub(crate) struct MediaControl {
    shared: Arc<Shared>,
}

impl MediaControl {
    /// Sends a digit towards the far end: as RFC 4733 events when negotiated (and the DTMF
    /// mode allows), else the caller plays it in band (see [`DtmfSent::Inband`]).
    pub(crate) fn send_dtmf(&self, digit: char, duration_ms: u32) -> DtmfSent {
        if !self.shared.rfc4733.load(Ordering::Acquire) {
            return DtmfSent::Inband;
        }
        let mut update = self.shared.update.lock().unwrap_or_else(|p| p.into_inner());
        if update.digits.len() >= MAX_QUEUED_DIGITS {
            tracing::debug!(channel = %self.shared.channel, %digit, "DTMF digit refused: too many waiting");
            return DtmfSent::Refused;
        }
        update.digits.push_back((digit, duration_ms));
        self.shared.pending.store(true, Ordering::Release);
        DtmfSent::Rfc4733
    }

    /// What the call's RTP stream has carried, with what RTCP told.
    pub(crate) fn statistics(&self) -> RtpSnapshot {
        let mut snapshot = self.shared.stats.snapshot();
        snapshot.quality = *self
            .shared
            .quality
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        snapshot
    }

    /// The channel is up (answered either way): from now on `rtp_timeout` counts.
    pub(crate) fn answered(&self) {
        self.shared.up.store(true, Ordering::Relaxed);
    }

    /// Ends the call's media: the sockets close, nothing more is sent.
    pub(crate) fn close(&self) {
        self.shared.link.close();
    }
}

/// One call's media: sockets, negotiated parameters, the edge the engine runs.
pub(crate) struct CallMedia {
    channel: LegId,
    local: SocketAddr,
    negotiator: Negotiator,
    /// The direction we want (sendonly while we hold the far end).
    ours: Direction,
    /// The far end's last offer took no audio from us (it holds us).
    remotely_held: bool,
    dtmf_mode: DtmfMode,
    shared: Arc<Shared>,
    edge: Option<Box<dyn Edge>>,
    events: Option<UnboundedReceiver<MediaEvent>>,
}

impl std::fmt::Debug for CallMedia {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallMedia")
            .field("channel", &self.channel)
            .field("local", &self.local)
            .field("edge_taken", &self.edge.is_none())
            .finish()
    }
}

impl CallMedia {
    /// Binds the call's RTP/RTCP ports on `policy.bind_ip` and hands them to the SIP media
    /// I/O thread. `channel` names the call in logs.
    pub(crate) fn open(policy: MediaPolicy, channel: LegId) -> Result<CallMedia, MediaSetupError> {
        if !policy
            .codecs
            .iter()
            .any(|c| matches!(c, Codec::Ulaw | Codec::Alaw))
        {
            return Err(MediaSetupError::NoCodec);
        }
        let random = uuid::Uuid::new_v4().as_u128();
        let (rtp, rtcp) = io::bind_pair(policy.bind_ip, random as u64).map_err(|source| {
            MediaSetupError::Ports {
                ip: policy.bind_ip,
                source,
            }
        })?;
        let local = rtp.local_addr().map_err(MediaSetupError::Task)?;
        let start = session::Start {
            ssrc: (random >> 64) as u32,
            sequence: (random >> 96) as u16,
            timestamp: (random >> 32) as u32,
        };
        let session = session::Session::new(
            start,
            policy.dtmf_mode,
            policy.rtp_symmetric,
            policy.rtp_timeout,
            Instant::now(),
        );
        let stats = session.stats();
        let link = Arc::new(io::Link::new(channel.clone(), stats.clone()));
        io::start(link.clone(), rtp, rtcp).map_err(MediaSetupError::Task)?;
        let shared = Arc::new(Shared {
            channel: channel.clone(),
            pending: AtomicBool::new(false),
            update: Mutex::new(Update::default()),
            rfc4733: AtomicBool::new(false),
            up: AtomicBool::new(false),
            stats,
            quality: Mutex::new(None),
            link: link.clone(),
        });
        let (events_tx, events_rx) = unbounded_channel();
        let edge = edge::SipEdge::new(session, shared.clone(), link, events_tx);
        let negotiator = Negotiator::new(
            &policy.codecs,
            policy.dtmf_mode != DtmfMode::Inband,
            policy.advertised_ip,
            local.port(),
            (random >> 80) as u64,
        );
        tracing::debug!(channel = %channel, %local, "SIP media opened");
        Ok(CallMedia {
            channel,
            local,
            negotiator,
            ours: Direction::SendRecv,
            remotely_held: false,
            dtmf_mode: policy.dtmf_mode,
            shared,
            edge: Some(Box::new(edge)),
            events: Some(events_rx),
        })
    }

    /// The local RTP address (the RTCP port is the one above).
    pub(crate) fn local_rtp(&self) -> SocketAddr {
        self.local
    }

    fn settle(&mut self, negotiated: Negotiated) {
        let rfc4733 = self.dtmf_mode != DtmfMode::Inband && negotiated.telephone_event.is_some();
        self.shared.rfc4733.store(rfc4733, Ordering::Release);
        self.shared
            .link
            .set_event_type(negotiated.telephone_event.filter(|_| rfc4733));
        let mut update = self.shared.update.lock().unwrap_or_else(|p| p.into_inner());
        update.negotiated = Some(negotiated);
        self.shared.pending.store(true, Ordering::Release);
        tracing::debug!(channel = %self.channel, remote = %SocketAddr::new(negotiated.remote_ip, negotiated.remote_port), codec = negotiated.codec.name(), payload_type = negotiated.payload_type, telephone_event = ?negotiated.telephone_event, direction = negotiated.direction.name(), "SIP media negotiated");
    }

    /// Our offer (the body of our INVITE).
    pub(crate) fn create_offer(&mut self) -> String {
        self.negotiator.offer(self.ours)
    }

    /// Our answer to an inbound INVITE's offer.
    pub(crate) fn answer_offer(&mut self, offer: &str) -> Result<String, SdpError> {
        let (answer, negotiated) = self.negotiator.answer(offer, self.ours)?;
        self.remotely_held = !negotiated.direction.sends();
        self.settle(negotiated);
        Ok(answer)
    }

    /// Takes the far end's answer to our offer (a 183's or 200's body).
    pub(crate) fn accept_answer(&mut self, answer: &str) -> Result<(), SdpError> {
        let negotiated = self.negotiator.accept(answer)?;
        self.settle(negotiated);
        Ok(())
    }

    /// Our answer to a re-INVITE's offer, and whether the far end now holds us.
    pub(crate) fn answer_reoffer(&mut self, offer: &str) -> Result<(String, FarEndHold), SdpError> {
        let (answer, negotiated) = self.negotiator.answer(offer, self.ours)?;
        // `ours` always sends: we send nothing only when they take nothing.
        self.remotely_held = !negotiated.direction.sends();
        self.settle(negotiated);
        // We send nothing because they take nothing, unless we hold them ourselves.
        let hold = if self.ours.sends() {
            negotiated.far_end_hold()
        } else {
            FarEndHold::Active
        };
        Ok((answer, hold))
    }

    /// Our re-offer holding the far end (`held`: `sendonly`, `inactive` when it holds us
    /// too) or taking it back (`sendrecv`, `recvonly` when it holds us): same address,
    /// port and codecs, the `o=` version one more. Its answer goes to
    /// [`CallMedia::accept_answer`]; our answers to the far end's offers keep the hold.
    pub(crate) fn hold_offer(&mut self, held: bool) -> String {
        self.ours = if held {
            Direction::SendOnly
        } else {
            Direction::SendRecv
        };
        self.negotiator
            .offer(Direction::of_holds(held, self.remotely_held))
    }

    /// The edge for the channel's `MediaLeg` (once).
    pub(crate) fn take_edge(&mut self) -> Option<Box<dyn Edge>> {
        self.edge.take()
    }

    /// The handle to act on the call's media from anywhere.
    pub(crate) fn control(&self) -> MediaControl {
        MediaControl {
            shared: self.shared.clone(),
        }
    }

    /// The events of the call's media (once).
    pub(crate) fn take_events(&mut self) -> Option<UnboundedReceiver<MediaEvent>> {
        self.events.take()
    }
}

impl Drop for CallMedia {
    /// Without its edge taken nobody else can end the call's media: it ends here.
    fn drop(&mut self) {
        if self.edge.is_some() {
            self.shared.link.close();
        }
    }
}

/// Runs the SDP parser and answerer on arbitrary input (the `sdp` fuzz target).
#[doc(hidden)]
pub fn fuzz_sdp(input: &[u8]) {
    sdp::fuzz(input);
}

#[cfg(test)]
mod tests;
