//! What one RTP stream has carried, for `GET /channels/{id}/rtp_statistics`: packets and
//! payload octets each way, both sources' SSRCs, and the packets lost on the way in,
//! counted from gaps in the sequence numbers (RFC 3550 appendix A.3: expected minus
//! received, never below zero). The media thread counts what arrives ([`RtpCounter`]) and
//! an edge's I/O thread what it sent ([`RtpStats::sent`]); readers take a
//! [`RtpSnapshot`] of the shared [`RtpStats`] at any time without stopping it.
//!
//! What only RTCP tells (interarrival jitter both ways, the far end's losses, round-trip
//! times) is an [`RtpQuality`], filled by a technology that exchanges RTCP (SIP); without
//! it (external media) `txploss` is 0 and those fields are left out, as Asterisk leaves
//! out what its engine does not have.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use serde_json::{Value, json};

/// The counters shared between the media thread and readers.
#[derive(Debug)]
pub struct RtpStats {
    local_ssrc: u32,
    tx_packets: AtomicU64,
    tx_octets: AtomicU64,
    rx_packets: AtomicU64,
    rx_octets: AtomicU64,
    rx_lost: AtomicU64,
    /// The far end's SSRC, 0 until a packet came.
    remote_ssrc: AtomicU32,
}

/// Minimum, maximum, mean and standard deviation of a series of measurements (seconds).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Spread {
    /// The smallest.
    pub min: f64,
    /// The largest.
    pub max: f64,
    /// The mean (Asterisk's "normdev").
    pub mean: f64,
    /// The standard deviation.
    pub stdev: f64,
}

/// What RTCP reports told about a stream (times in seconds).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct RtpQuality {
    /// Packets of ours the far end reports lost.
    pub tx_lost: u64,
    /// The far end's interarrival jitter of our stream, as last reported (Asterisk's
    /// `rxjitter`, its `reported_jitter`).
    pub reported_jitter: f64,
    /// Our interarrival jitter of its stream (RFC 3550 A.8; Asterisk's `txjitter`, its
    /// `rxjitter`).
    pub measured_jitter: f64,
    /// The far end's reported jitter over its reports.
    pub remote_jitter: Spread,
    /// Our jitter over our reports.
    pub local_jitter: Spread,
    /// The losses the far end reported (cumulative, per report).
    pub remote_lost: Spread,
    /// Our losses (cumulative, per report of ours).
    pub local_lost: Spread,
    /// The last round-trip time, and over all measured; `None` until one is.
    pub rtt: Option<(f64, Spread)>,
}

/// The statistics at one moment.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RtpSnapshot {
    /// The SSRC wari sends with.
    pub local_ssrc: u32,
    /// The far end's SSRC; 0 until a packet came.
    pub remote_ssrc: u32,
    /// Packets sent.
    pub tx_packets: u64,
    /// Payload bytes sent (RTP headers not counted).
    pub tx_octets: u64,
    /// Packets received.
    pub rx_packets: u64,
    /// Payload bytes received (RTP headers not counted).
    pub rx_octets: u64,
    /// Packets lost on the way in: expected from the sequence numbers minus received, never
    /// below zero.
    pub rx_lost: u64,
    /// What RTCP told, for a stream that exchanges it.
    pub quality: Option<RtpQuality>,
}

impl RtpStats {
    /// The counters now; each is read on its own, so a snapshot taken while packets flow may
    /// mix two moments by a packet or so.
    pub fn snapshot(&self) -> RtpSnapshot {
        let read = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        RtpSnapshot {
            local_ssrc: self.local_ssrc,
            remote_ssrc: self.remote_ssrc.load(Ordering::Relaxed),
            tx_packets: read(&self.tx_packets),
            tx_octets: read(&self.tx_octets),
            rx_packets: read(&self.rx_packets),
            rx_octets: read(&self.rx_octets),
            rx_lost: read(&self.rx_lost),
            quality: None,
        }
    }

    /// A packet with `payload_octets` of payload was sent (counted where it is sent: the
    /// edge's I/O thread).
    pub fn sent(&self, payload_octets: usize) {
        self.tx_packets.fetch_add(1, Ordering::Relaxed);
        self.tx_octets
            .fetch_add(payload_octets as u64, Ordering::Relaxed);
    }
}

impl RtpSnapshot {
    /// The ARI `RTPstat` object of channel `channel_uniqueid`.
    pub fn json(&self, channel_uniqueid: &str) -> Value {
        let mut object = json!({
            "txcount": self.tx_packets,
            "rxcount": self.rx_packets,
            "txploss": self.quality.map_or(0, |q| q.tx_lost),
            "rxploss": self.rx_lost,
            "local_ssrc": self.local_ssrc,
            "remote_ssrc": self.remote_ssrc,
            "txoctetcount": self.tx_octets,
            "rxoctetcount": self.rx_octets,
            "channel_uniqueid": channel_uniqueid,
        });
        if let (Some(quality), Some(fields)) = (self.quality, object.as_object_mut()) {
            // Asterisk's names: `txjitter` is its own measure of the stream it receives,
            // `rxjitter` what the far end reports.
            fields.insert("txjitter".into(), quality.measured_jitter.into());
            fields.insert("rxjitter".into(), quality.reported_jitter.into());
            for (side, spread) in [
                ("remote", quality.remote_lost),
                ("local", quality.local_lost),
            ] {
                fields.insert(format!("{side}_maxrxploss"), spread.max.into());
                fields.insert(format!("{side}_minrxploss"), spread.min.into());
                fields.insert(format!("{side}_normdevrxploss"), spread.mean.into());
                fields.insert(format!("{side}_stdevrxploss"), spread.stdev.into());
            }
            for (side, spread) in [
                ("remote", quality.remote_jitter),
                ("local", quality.local_jitter),
            ] {
                fields.insert(format!("{side}_maxjitter"), spread.max.into());
                fields.insert(format!("{side}_minjitter"), spread.min.into());
                fields.insert(format!("{side}_normdevjitter"), spread.mean.into());
                fields.insert(format!("{side}_stdevjitter"), spread.stdev.into());
            }
            if let Some((rtt, spread)) = quality.rtt {
                fields.insert("rtt".into(), rtt.into());
                fields.insert("maxrtt".into(), spread.max.into());
                fields.insert("minrtt".into(), spread.min.into());
                fields.insert("normdevrtt".into(), spread.mean.into());
                fields.insert("stdevrtt".into(), spread.stdev.into());
            }
        }
        object
    }
}

/// The media thread's side: counts packets into the shared [`RtpStats`].
#[derive(Debug)]
pub struct RtpCounter {
    stats: Arc<RtpStats>,
    /// The first and the highest sequence numbers received, extended past wrap-around.
    sequences: Option<(u64, u64)>,
    received: u64,
}

impl RtpCounter {
    /// Counters for a stream that sends as `local_ssrc`.
    pub fn new(local_ssrc: u32) -> RtpCounter {
        RtpCounter {
            stats: Arc::new(RtpStats {
                local_ssrc,
                tx_packets: AtomicU64::new(0),
                tx_octets: AtomicU64::new(0),
                rx_packets: AtomicU64::new(0),
                rx_octets: AtomicU64::new(0),
                rx_lost: AtomicU64::new(0),
                remote_ssrc: AtomicU32::new(0),
            }),
            sequences: None,
            received: 0,
        }
    }

    /// The shared statistics, for readers.
    pub fn stats(&self) -> Arc<RtpStats> {
        self.stats.clone()
    }

    /// A packet with `payload_octets` of payload was sent.
    pub fn sent(&self, payload_octets: usize) {
        self.stats.sent(payload_octets);
    }

    /// A packet of the stream arrived: from `ssrc`, numbered `sequence`.
    pub fn received(&mut self, ssrc: u32, sequence: u16, payload_octets: usize) {
        self.received += 1;
        let (first, highest) = match self.sequences {
            None => (u64::from(sequence), u64::from(sequence)),
            Some((first, highest)) => {
                // A step forward of less than half the sequence space moves the highest
                // number on (across a wrap too); anything else came late or again.
                let step = sequence.wrapping_sub(highest as u16);
                if step < 0x8000 {
                    (first, highest + u64::from(step))
                } else {
                    (first, highest)
                }
            }
        };
        self.sequences = Some((first, highest));
        let expected = highest - first + 1;
        let stats = &self.stats;
        stats.rx_packets.fetch_add(1, Ordering::Relaxed);
        stats
            .rx_octets
            .fetch_add(payload_octets as u64, Ordering::Relaxed);
        stats
            .rx_lost
            .store(expected.saturating_sub(self.received), Ordering::Relaxed);
        stats.remote_ssrc.store(ssrc, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packets_and_octets_are_counted_both_ways() {
        let mut counter = RtpCounter::new(42);
        counter.sent(160);
        counter.sent(160);
        counter.received(7, 10, 160);
        let stats = counter.stats().snapshot();
        assert_eq!(
            stats,
            RtpSnapshot {
                local_ssrc: 42,
                remote_ssrc: 7,
                tx_packets: 2,
                tx_octets: 320,
                rx_packets: 1,
                rx_octets: 160,
                rx_lost: 0,
                quality: None,
            }
        );
        let object = stats.json("chan");
        assert_eq!(object["txcount"], 2);
        assert_eq!(object["txploss"], 0);
        assert_eq!(object["channel_uniqueid"], "chan");
        assert!(object.get("rxjitter").is_none(), "no RTCP, no jitter");
    }

    #[test]
    fn rtcp_figures_are_reported_when_known() {
        let mut stats = RtpCounter::new(1).stats().snapshot();
        stats.quality = Some(RtpQuality {
            tx_lost: 3,
            reported_jitter: 0.002,
            measured_jitter: 0.001,
            rtt: Some((
                0.05,
                Spread {
                    min: 0.04,
                    max: 0.06,
                    mean: 0.05,
                    stdev: 0.01,
                },
            )),
            ..RtpQuality::default()
        });
        let object = stats.json("c");
        assert_eq!(object["txploss"], 3);
        assert_eq!(
            object["txjitter"], 0.001,
            "our own measure, as Asterisk names it"
        );
        assert_eq!(object["rxjitter"], 0.002, "the far end's report");
        assert_eq!(object["rtt"], 0.05);
        assert_eq!(object["minrtt"], 0.04);
        assert_eq!(object["stdevrtt"], 0.01);
        assert_eq!(object["local_maxjitter"], 0.0);
        assert_eq!(object["remote_maxrxploss"], 0.0);
    }

    #[test]
    fn gaps_in_sequence_numbers_are_losses_across_a_wrap_and_late_packets_make_up() {
        let mut counter = RtpCounter::new(1);
        for sequence in [65533u16, 65534, 1, 2] {
            counter.received(9, sequence, 10);
        }
        // 65535 and 0 are missing.
        assert_eq!(counter.stats().snapshot().rx_lost, 2);
        counter.received(9, 65535, 10);
        assert_eq!(
            counter.stats().snapshot().rx_lost,
            1,
            "a late packet counts"
        );
        counter.received(9, 2, 10);
        assert_eq!(
            counter.stats().snapshot().rx_lost,
            0,
            "a duplicate never below 0"
        );
        assert_eq!(counter.stats().snapshot().rx_packets, 6);
    }
}
