//! RTCP (RFC 3550 section 6) for a SIP call's stream, sans-IO: what we measure of the
//! stream we receive (interarrival jitter as appendix A.8 computes it, losses from the
//! sequence numbers), our report every [`INTERVAL`] (a sender report once we have sent RTP,
//! else a receiver report, each with a CNAME), and what the far end's reports tell: its
//! jitter and losses of our stream, and the round-trip time from LSR/DLSR. The figures end
//! up in the channel's `rtp_statistics` ([`RtpQuality`]).
//!
//! Wire format through `rtcp-types`. Times are inputs: `Instant` for intervals and arrival
//! times, the wall clock as a 64-bit NTP timestamp for the report fields.

use std::time::{Duration, Instant};

use rtcp_types::{
    Compound, CompoundBuilder, Packet, ReceiverReport, ReportBlock, RtcpPacketWriter,
    RtcpPacketWriterExt, Sdes, SdesChunk, SdesItem, SenderReport,
};

use crate::media::rtp_stats::{RtpQuality, RtpSnapshot, Spread};

/// How often we report.
pub(crate) const INTERVAL: Duration = Duration::from_secs(5);
/// The RTP clock rate of G.711 (and of what we report in).
const CLOCK: f64 = 8000.0;
/// Our CNAME.
const CNAME: &str = "wari";

/// A running minimum, maximum, mean and deviation (Welford).
#[derive(Debug, Clone, Copy, Default)]
struct Series {
    n: u64,
    min: f64,
    max: f64,
    mean: f64,
    m2: f64,
}

impl Series {
    fn add(&mut self, x: f64) {
        if !x.is_finite() {
            return;
        }
        self.n += 1;
        if self.n == 1 {
            (self.min, self.max) = (x, x);
        } else {
            self.min = self.min.min(x);
            self.max = self.max.max(x);
        }
        let delta = x - self.mean;
        self.mean += delta / self.n as f64;
        self.m2 += delta * (x - self.mean);
    }

    fn spread(&self) -> Spread {
        Spread {
            min: self.min,
            max: self.max,
            mean: self.mean,
            stdev: if self.n > 1 {
                (self.m2 / (self.n - 1) as f64).sqrt()
            } else {
                0.0
            },
        }
    }
}

/// What we know of the stream we receive.
#[derive(Debug, Clone, Copy)]
struct Reception {
    ssrc: u32,
    /// First and highest sequence numbers, extended past wrap-around.
    base: u64,
    highest: u64,
    received: u64,
    /// At our last report.
    expected_prior: u64,
    received_prior: u64,
    /// The previous packet's transit time (arrival minus RTP timestamp, in samples).
    transit: Option<i64>,
    /// Interarrival jitter in samples.
    jitter: f64,
}

/// RTCP of one call.
#[derive(Debug)]
pub(crate) struct Rtcp {
    local_ssrc: u32,
    /// Arrival times are counted in samples from here.
    epoch: Instant,
    next_report: Instant,
    reception: Option<Reception>,
    /// The middle 32 bits of the far end's last SR's NTP time, and when it arrived.
    last_sr: Option<(u32, Instant)>,
    tx_lost: u64,
    tx_jitter: f64,
    remote_jitter: Series,
    local_jitter: Series,
    remote_lost: Series,
    local_lost: Series,
    rtt: Option<f64>,
    rtts: Series,
    reports_seen: u64,
}

impl Rtcp {
    /// RTCP for a stream we send as `local_ssrc`, starting at `now` (first report one
    /// interval later).
    pub(crate) fn new(local_ssrc: u32, now: Instant) -> Rtcp {
        Rtcp {
            local_ssrc,
            epoch: now,
            next_report: now + INTERVAL,
            reception: None,
            last_sr: None,
            tx_lost: 0,
            tx_jitter: 0.0,
            remote_jitter: Series::default(),
            local_jitter: Series::default(),
            remote_lost: Series::default(),
            local_lost: Series::default(),
            rtt: None,
            rtts: Series::default(),
            reports_seen: 0,
        }
    }

    /// An RTP packet of the far end's stream arrived at `now`.
    pub(crate) fn received_rtp(&mut self, ssrc: u32, sequence: u16, timestamp: u32, now: Instant) {
        let arrival = (now.saturating_duration_since(self.epoch).as_micros() * 8 / 1000) as i64;
        let reception = match &mut self.reception {
            Some(r) if r.ssrc == ssrc => r,
            slot => slot.insert(Reception {
                ssrc,
                base: u64::from(sequence),
                highest: u64::from(sequence),
                received: 0,
                expected_prior: 0,
                received_prior: 0,
                transit: None,
                jitter: 0.0,
            }),
        };
        reception.received += 1;
        let step = sequence.wrapping_sub(reception.highest as u16);
        if step < 0x8000 {
            reception.highest += u64::from(step);
        }
        // Transit in the 32-bit timestamp space: the difference of two is what counts.
        let transit = i64::from((arrival as u32).wrapping_sub(timestamp) as i32);
        if let Some(previous) = reception.transit {
            let d = (transit - previous).abs() as f64;
            reception.jitter += (d - reception.jitter) / 16.0;
        }
        reception.transit = Some(transit);
    }

    /// Reads an RTCP datagram from the far end, received at `now` (`ntp_now`: the wall
    /// clock as NTP). Malformed datagrams are errors (the caller drops them).
    pub(crate) fn received_rtcp(
        &mut self,
        datagram: &[u8],
        now: Instant,
        ntp_now: u64,
    ) -> Result<(), rtcp_types::RtcpParseError> {
        let compound = Compound::parse(datagram)?;
        for packet in compound {
            match packet? {
                Packet::Sr(sr) => {
                    self.last_sr = Some(((sr.ntp_timestamp() >> 16) as u32, now));
                    for block in sr.report_blocks() {
                        self.report_block(&block, ntp_now);
                    }
                }
                Packet::Rr(rr) => {
                    for block in rr.report_blocks() {
                        self.report_block(&block, ntp_now);
                    }
                }
                _ => {}
            }
        }
        Ok(())
    }

    fn report_block(&mut self, block: &ReportBlock<'_>, ntp_now: u64) {
        if block.ssrc() != self.local_ssrc {
            return;
        }
        self.reports_seen += 1;
        self.tx_lost = u64::from(block.cumulative_lost());
        self.remote_lost.add(self.tx_lost as f64);
        self.tx_jitter = f64::from(block.interarrival_jitter()) / CLOCK;
        self.remote_jitter.add(self.tx_jitter);
        let lsr = block.last_sender_report_timestamp();
        if lsr != 0 {
            let now_mid = (ntp_now >> 16) as u32;
            let rtt = now_mid
                .wrapping_sub(lsr)
                .wrapping_sub(block.delay_since_last_sender_report_timestamp());
            // A negative round trip (clocks, or a report of an older SR) is no measure.
            if rtt < 0x8000_0000 {
                let seconds = f64::from(rtt) / 65536.0;
                self.rtt = Some(seconds);
                self.rtts.add(seconds);
            }
        }
    }

    /// Whether our report is due at `now`.
    pub(crate) fn due(&self, now: Instant) -> bool {
        now >= self.next_report
    }

    /// Our report when one is due at `now`: a sender report when we have sent RTP (with
    /// `rtp_timestamp`, the timestamp our stream is at), else a receiver report; `None`
    /// before it is due.
    pub(crate) fn report(
        &mut self,
        now: Instant,
        ntp_now: u64,
        sent: &RtpSnapshot,
        rtp_timestamp: u32,
    ) -> Option<Vec<u8>> {
        if now < self.next_report {
            return None;
        }
        self.next_report = now + INTERVAL;
        let block = self.reception.as_mut().map(|r| {
            let expected = r.highest - r.base + 1;
            let lost = expected.saturating_sub(r.received).min(0x7F_FFFF) as u32;
            let expected_interval = expected - r.expected_prior;
            let received_interval = r.received - r.received_prior;
            r.expected_prior = expected;
            r.received_prior = r.received;
            let lost_interval = expected_interval.saturating_sub(received_interval);
            let fraction = (lost_interval << 8)
                .checked_div(expected_interval)
                .map_or(0, |f| f.min(255) as u8);
            let (lsr, dlsr) = match self.last_sr {
                Some((lsr, at)) => {
                    let delay = now.saturating_duration_since(at);
                    (lsr, (delay.as_secs_f64() * 65536.0) as u32)
                }
                None => (0, 0),
            };
            self.local_jitter.add(r.jitter / CLOCK);
            self.local_lost.add(f64::from(lost));
            ReportBlock::builder(r.ssrc)
                .fraction_lost(fraction)
                .cumulative_lost(lost)
                .extended_sequence_number(r.highest as u32)
                .interarrival_jitter(r.jitter as u32)
                .last_sender_report_timestamp(lsr)
                .delay_since_last_sender_report_timestamp(dlsr)
        });
        let sdes = Sdes::builder().add_chunk(
            SdesChunk::builder(self.local_ssrc).add_item(SdesItem::builder(SdesItem::CNAME, CNAME)),
        );
        let compound = if sent.tx_packets > 0 {
            let mut sr = SenderReport::builder(self.local_ssrc)
                .ntp_timestamp(ntp_now)
                .rtp_timestamp(rtp_timestamp)
                .packet_count(sent.tx_packets as u32)
                .octet_count(sent.tx_octets as u32);
            if let Some(block) = block {
                sr = sr.add_report_block(block);
            }
            CompoundBuilder::default().add_packet(sr).add_packet(sdes)
        } else {
            let mut rr = ReceiverReport::builder(self.local_ssrc);
            if let Some(block) = block {
                rr = rr.add_report_block(block);
            }
            CompoundBuilder::default().add_packet(rr).add_packet(sdes)
        };
        let size = compound.calculate_size().ok()?;
        let mut out = vec![0; size];
        compound.write_into(&mut out).ok()?;
        Some(out)
    }

    /// What RTCP has told so far (`None` before anything: no report of ours or theirs).
    pub(crate) fn quality(&self) -> Option<RtpQuality> {
        if self.reports_seen == 0 && self.local_jitter.n == 0 {
            return None;
        }
        Some(RtpQuality {
            tx_lost: self.tx_lost,
            reported_jitter: self.tx_jitter,
            measured_jitter: self.reception.map_or(0.0, |r| r.jitter / CLOCK),
            remote_jitter: self.remote_jitter.spread(),
            local_jitter: self.local_jitter.spread(),
            remote_lost: self.remote_lost.spread(),
            local_lost: self.local_lost.spread(),
            rtt: self.rtt.map(|rtt| (rtt, self.rtts.spread())),
        })
    }
}

/// The wall clock `at` as a 64-bit NTP timestamp (seconds since 1900 . fraction).
pub(crate) fn ntp_time(at: std::time::SystemTime) -> u64 {
    const UNIX_TO_NTP: u64 = 2_208_988_800;
    let since = at.duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let seconds = since.as_secs() + UNIX_TO_NTP;
    let fraction = (u64::from(since.subsec_nanos()) << 32) / 1_000_000_000;
    (seconds << 32) | fraction
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::rtp_stats::RtpCounter;

    const MS: Duration = Duration::from_millis(1);

    fn sent(packets: u64) -> RtpSnapshot {
        let mut s = RtpCounter::new(1).stats().snapshot();
        s.tx_packets = packets;
        s.tx_octets = packets * 160;
        s
    }

    #[test]
    fn jitter_is_zero_for_a_steady_stream_and_grows_with_variation() {
        let t0 = Instant::now();
        let mut rtcp = Rtcp::new(1, t0);
        for n in 0..50u32 {
            rtcp.received_rtp(9, n as u16, 1000 + n * 160, t0 + MS * (20 * n));
        }
        assert!(rtcp.reception.unwrap().jitter.abs() < 1e-9);
        // Every other packet 10 ms late: |D| = 80 samples each time.
        let mut other = Rtcp::new(1, t0);
        for n in 0..200u32 {
            let late = if n % 2 == 1 { 10 } else { 0 };
            other.received_rtp(9, n as u16, n * 160, t0 + MS * (20 * n + late));
        }
        let jitter = other.reception.unwrap().jitter;
        assert!((jitter - 80.0).abs() < 1.0, "{jitter}");
    }

    #[test]
    fn reports_are_due_every_interval_rr_until_we_send_then_sr() {
        let t0 = Instant::now();
        let mut rtcp = Rtcp::new(0xAA, t0);
        assert!(rtcp.report(t0, 0, &sent(0), 0).is_none());
        let rr = rtcp.report(t0 + INTERVAL, 1 << 32, &sent(0), 0).unwrap();
        let kinds: Vec<bool> = Compound::parse(&rr)
            .unwrap()
            .map(|p| matches!(p.unwrap(), Packet::Rr(_)))
            .collect();
        assert_eq!(kinds, [true, false], "RR then SDES");
        assert!(rtcp.report(t0 + INTERVAL + MS, 0, &sent(0), 0).is_none());
        let sr = rtcp
            .report(t0 + INTERVAL * 2, 5 << 32, &sent(10), 1600)
            .unwrap();
        let first = Compound::parse(&sr).unwrap().next().unwrap().unwrap();
        let Packet::Sr(sr) = first else {
            panic!("a sender report");
        };
        assert_eq!(
            (sr.ssrc(), sr.packet_count(), sr.octet_count()),
            (0xAA, 10, 1600)
        );
        assert_eq!((sr.ntp_timestamp(), sr.rtp_timestamp()), (5 << 32, 1600));
    }

    #[test]
    fn our_report_block_counts_losses() {
        let t0 = Instant::now();
        let mut rtcp = Rtcp::new(1, t0);
        for seq in [10u16, 11, 13, 14] {
            rtcp.received_rtp(9, seq, u32::from(seq) * 160, t0);
        }
        let report = rtcp.report(t0 + INTERVAL, 0, &sent(0), 0).unwrap();
        let Some(Ok(Packet::Rr(rr))) = Compound::parse(&report).unwrap().next() else {
            panic!("a receiver report");
        };
        let block = rr.report_blocks().next().unwrap();
        assert_eq!(block.ssrc(), 9);
        assert_eq!(block.cumulative_lost(), 1);
        assert_eq!(u32::from(block.fraction_lost()), 256 / 5);
        assert_eq!(block.extended_sequence_number(), 14);
    }

    #[test]
    fn round_trip_time_and_far_end_figures_come_from_its_reports() {
        // Two sides: A sends an SR, B answers with an RR carrying LSR/DLSR, A reads it.
        let t0 = Instant::now();
        let ntp0: u64 = 3_900_000_000 << 32;
        let mut a = Rtcp::new(0xA, t0);
        let mut b = Rtcp::new(0xB, t0);
        b.received_rtp(0xA, 1, 0, t0);
        let sr = a.report(t0 + INTERVAL, ntp0, &sent(5), 800).unwrap();
        // 30 ms on the way, B holds it 100 ms, 30 ms back: RTT 60 ms.
        b.received_rtcp(&sr, t0 + INTERVAL + MS * 30, 0).unwrap();
        let rr = b.report(t0 + INTERVAL + MS * 130, 0, &sent(0), 0).unwrap();
        let back = ntp0 + ((160u64 << 32) / 1000);
        a.received_rtcp(&rr, t0 + INTERVAL + MS * 160, back)
            .unwrap();
        let quality = a.quality().unwrap();
        let (rtt, spread) = quality.rtt.unwrap();
        assert!((rtt - 0.060).abs() < 0.001, "{rtt}");
        assert_eq!(spread.min, rtt);
        assert_eq!(quality.tx_lost, 0);
        assert!(b.quality().unwrap().rtt.is_none());
        assert!(a.received_rtcp(&[0x80, 200], t0, 0).is_err());
    }

    #[test]
    fn ntp_time_counts_from_1900() {
        let t = std::time::UNIX_EPOCH + Duration::from_millis(1500);
        let ntp = ntp_time(t);
        assert_eq!(ntp >> 32, 2_208_988_801);
        assert_eq!((ntp & 0xFFFF_FFFF) as u32, 1 << 31);
    }
}
