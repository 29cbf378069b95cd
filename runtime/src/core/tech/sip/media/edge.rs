//! The media engine's side of a SIP call: the [`Edge`] the channel's leg gets. Each tick
//! the engine hands it what the leg wrote and asks what the leg hears; the edge runs the
//! call's [`Session`] on that and exchanges datagrams with the SIP media I/O thread through the
//! [`Link`]'s bounded queues. It never waits: no socket, no lock held for more than a
//! copy, no allocation beyond a datagram's bytes.
//!
//! What signalling decides (a new offer/answer, digits to send) reaches it through
//! [`Shared`], looked at only when a flag says something changed. Events (digits received,
//! `rtp_timeout`) leave through an unbounded channel that never blocks the tick.

use std::sync::Arc;
use std::time::{Instant, SystemTime};

use tokio::sync::mpsc::UnboundedSender;

use super::io::{Link, Port};
use super::rtcp::ntp_time;
use super::session::Session;
use super::{MediaEvent, Shared};
use crate::media::external::Edge;
use crate::media::frame::{AudioFrame, Rate};

/// Most datagrams taken from each incoming queue in one tick.
const MAX_PER_TICK: usize = 16;

/// A SIP call's media edge.
pub(crate) struct SipEdge {
    session: Session,
    shared: Arc<Shared>,
    link: Arc<Link>,
    events: UnboundedSender<MediaEvent>,
}

impl SipEdge {
    pub(crate) fn new(
        session: Session,
        shared: Arc<Shared>,
        link: Arc<Link>,
        events: UnboundedSender<MediaEvent>,
    ) -> SipEdge {
        SipEdge {
            session,
            shared,
            link,
            events,
        }
    }

    /// Takes what signalling changed since the last tick.
    fn update(&mut self, now: Instant) {
        if !self.shared.take_pending() {
            return;
        }
        let (negotiated, digits) = self.shared.take_update();
        if let Some(negotiated) = negotiated {
            self.session.negotiated(negotiated, now);
        }
        for (digit, duration_ms) in digits {
            if !self.session.queue_dtmf(digit, duration_ms) {
                tracing::debug!(channel = %self.shared.channel, %digit, "DTMF digit not sent: no telephone-event negotiated");
            }
        }
    }

    fn forward_events(&mut self) {
        for event in self.session.take_events() {
            // The receiver gone means the call is being torn down: nothing to tell.
            let _ = self.events.send(event);
        }
    }
}

impl Edge for SipEdge {
    fn send(&mut self, frame: &AudioFrame) {
        if self.link.is_closed() {
            return;
        }
        let now = Instant::now();
        self.update(now);
        if let Some((datagram, to)) = self.session.send(frame) {
            self.link.send(Port::Rtp, datagram, to);
        }
        let up = self.shared.up.load(std::sync::atomic::Ordering::Relaxed);
        if let Some((report, to)) = self.session.poll(now, up, || ntp_time(SystemTime::now())) {
            self.link.send(Port::Rtcp, &report, to);
            self.shared.set_quality(self.session.quality());
        }
        self.forward_events();
    }

    fn receive(&mut self, rate: Rate) -> Option<AudioFrame> {
        if self.link.is_closed() {
            return None;
        }
        let now = Instant::now();
        for _ in 0..MAX_PER_TICK {
            let Some((datagram, from)) = self.link.receive_rtp() else {
                break;
            };
            self.session.receive_rtp(&datagram, from, now);
        }
        let mut rtcp = false;
        for _ in 0..MAX_PER_TICK {
            let Some((datagram, from)) = self.link.receive_rtcp() else {
                break;
            };
            self.session
                .receive_rtcp(&datagram, from, now, ntp_time(SystemTime::now()));
            rtcp = true;
        }
        if rtcp {
            self.shared.set_quality(self.session.quality());
        }
        let frame = self.session.receive_frame(rate, now);
        self.forward_events();
        frame
    }
}

impl Drop for SipEdge {
    /// The leg is gone: so is the call's media.
    fn drop(&mut self) {
        let ignored = self.session.ignored();
        let (dropped_out, dropped_in) = self.link.dropped();
        tracing::debug!(channel = %self.shared.channel, wrong_source = ignored.wrong_source, other_payload = ignored.other_payload, malformed = ignored.malformed, dropped_out, dropped_in, "SIP media ended");
        self.link.close();
    }
}
