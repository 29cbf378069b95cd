//! RTP (RFC 3550) packets for external media: header build and parse, and a packetiser
//! that turns 20 ms frames into packets.
//!
//! Payload types: PCMU 0 and PCMA 8 (RFC 3551 static types), and `slin16` as 118 — the
//! type Asterisk assigns statically to 16 kHz signed linear and uses for externalMedia,
//! where nothing is negotiated. L16 samples travel in network byte order (big-endian).
//! 8 kHz `slin` has no such fixed type (Asterisk sends ulaw for it over externalMedia);
//! [`Packetizer::with_payload_type`] takes one explicitly.

use super::codec::{Codec, Endian};
use super::frame::{AudioFrame, Resampler};
use super::{MediaError, Result};

/// RFC 3551's static payload type for G.711 µ-law (`ulaw`).
pub const PT_PCMU: u8 = 0;
/// RFC 3551's static payload type for G.711 A-law (`alaw`).
pub const PT_PCMA: u8 = 8;
/// Asterisk's payload type for `slin16`.
pub const PT_SLIN16: u8 = 118;
/// Fixed part of the header.
pub const HEADER_LEN: usize = 12;

/// The fixed payload type of a codec, if it has one.
pub fn payload_type(codec: Codec) -> Option<u8> {
    match codec {
        Codec::Ulaw => Some(PT_PCMU),
        Codec::Alaw => Some(PT_PCMA),
        Codec::Slin16 => Some(PT_SLIN16),
        Codec::Slin => None,
    }
}

/// The codec of a fixed payload type.
pub fn codec_of(payload_type: u8) -> Option<Codec> {
    match payload_type {
        PT_PCMU => Some(Codec::Ulaw),
        PT_PCMA => Some(Codec::Alaw),
        PT_SLIN16 => Some(Codec::Slin16),
        _ => None,
    }
}

/// The fields of an RTP header wari uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RtpHeader {
    /// The M bit: first packet of the stream or of a talkspurt.
    pub marker: bool,
    /// 0..=127.
    pub payload_type: u8,
    /// Sequence number, one more per packet, wrapping at 65535.
    pub sequence: u16,
    /// Media timestamp in samples at the codec's clock rate (160 per 20 ms at 8 kHz).
    pub timestamp: u32,
    /// The sender's synchronisation source identifier.
    pub ssrc: u32,
}

impl RtpHeader {
    /// Appends the 12-byte header (version 2, no padding, extension or CSRCs).
    pub fn write(&self, out: &mut Vec<u8>) {
        out.push(0x80);
        out.push(((self.marker as u8) << 7) | (self.payload_type & 0x7F));
        out.extend_from_slice(&self.sequence.to_be_bytes());
        out.extend_from_slice(&self.timestamp.to_be_bytes());
        out.extend_from_slice(&self.ssrc.to_be_bytes());
    }
}

/// A parsed packet borrowing its payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RtpPacket<'a> {
    /// The fixed header's fields.
    pub header: RtpHeader,
    /// The payload, CSRCs, header extension and padding removed.
    pub payload: &'a [u8],
}

/// Parses a packet: version 2, CSRCs and a header extension skipped, padding removed.
pub fn parse(buf: &[u8]) -> Result<RtpPacket<'_>> {
    if buf.len() < HEADER_LEN {
        return Err(MediaError::BadRtp("shorter than the RTP header"));
    }
    if buf[0] >> 6 != 2 {
        return Err(MediaError::BadRtp("not RTP version 2"));
    }
    let padding = buf[0] & 0x20 != 0;
    let extension = buf[0] & 0x10 != 0;
    let csrc_count = (buf[0] & 0x0F) as usize;
    let header = RtpHeader {
        marker: buf[1] & 0x80 != 0,
        payload_type: buf[1] & 0x7F,
        sequence: u16::from_be_bytes([buf[2], buf[3]]),
        timestamp: u32::from_be_bytes([buf[4], buf[5], buf[6], buf[7]]),
        ssrc: u32::from_be_bytes([buf[8], buf[9], buf[10], buf[11]]),
    };
    let mut start = HEADER_LEN + 4 * csrc_count;
    if start > buf.len() {
        return Err(MediaError::BadRtp("CSRC list cut short"));
    }
    if extension {
        let ext = buf
            .get(start..start + 4)
            .ok_or(MediaError::BadRtp("extension header cut short"))?;
        let words = u16::from_be_bytes([ext[2], ext[3]]) as usize;
        start += 4 + 4 * words;
        if start > buf.len() {
            return Err(MediaError::BadRtp("extension cut short"));
        }
    }
    let mut end = buf.len();
    if padding {
        let pad = buf[end - 1] as usize;
        if pad == 0 || start + pad > end {
            return Err(MediaError::BadRtp("bad padding"));
        }
        end -= pad;
    }
    Ok(RtpPacket {
        header,
        payload: &buf[start..end],
    })
}

/// Appends the samples of an RTP payload in `codec` to `out` (L16 read big-endian).
pub fn decode_payload(codec: Codec, payload: &[u8], out: &mut Vec<i16>) {
    codec.decode(payload, Endian::Big, out);
}

/// Turns a stream of 20 ms frames into RTP packets with consecutive sequence numbers and
/// timestamps advancing by the samples of each frame at the codec's rate (160 at 8 kHz,
/// 320 at 16 kHz). Frames at another rate than the codec's are converted.
#[derive(Debug)]
pub struct Packetizer {
    codec: Codec,
    payload_type: u8,
    ssrc: u32,
    sequence: u16,
    timestamp: u32,
    /// Set the marker bit on the next packet (start of the stream or of a talkspurt).
    marker: bool,
    resampler: Option<Resampler>,
    buf: Vec<u8>,
}

impl Packetizer {
    /// A packetiser for a codec with a fixed payload type (`ulaw`, `alaw`, `slin16`).
    pub fn new(codec: Codec, ssrc: u32, first_sequence: u16, first_timestamp: u32) -> Result<Self> {
        let pt = payload_type(codec)
            .ok_or_else(|| MediaError::UnknownFormat(format!("{} over RTP", codec.name())))?;
        Ok(Self::with_payload_type(
            codec,
            pt,
            ssrc,
            first_sequence,
            first_timestamp,
        ))
    }

    /// A packetiser with an explicit payload type (masked to 7 bits).
    pub fn with_payload_type(
        codec: Codec,
        payload_type: u8,
        ssrc: u32,
        first_sequence: u16,
        first_timestamp: u32,
    ) -> Self {
        Self {
            codec,
            payload_type: payload_type & 0x7F,
            ssrc,
            sequence: first_sequence,
            timestamp: first_timestamp,
            marker: true,
            resampler: None,
            buf: Vec::with_capacity(HEADER_LEN + 640),
        }
    }

    /// The codec it encodes frames to.
    pub fn codec(&self) -> Codec {
        self.codec
    }

    /// The payload type it puts in every packet (0..=127).
    pub fn payload_type(&self) -> u8 {
        self.payload_type
    }

    /// Sequence number of the next packet.
    pub fn sequence(&self) -> u16 {
        self.sequence
    }

    /// Timestamp of the next packet.
    pub fn timestamp(&self) -> u32 {
        self.timestamp
    }

    /// The packet for `frame` (valid until the next call).
    pub fn packetize(&mut self, frame: &AudioFrame) -> &[u8] {
        let rate = self.codec.rate();
        let converted;
        let frame = if frame.rate() == rate {
            frame
        } else {
            let r = self
                .resampler
                .get_or_insert_with(|| Resampler::new(frame.rate(), rate));
            converted = r.frame(frame);
            &converted
        };
        self.buf.clear();
        RtpHeader {
            marker: self.marker,
            payload_type: self.payload_type,
            sequence: self.sequence,
            timestamp: self.timestamp,
            ssrc: self.ssrc,
        }
        .write(&mut self.buf);
        self.codec
            .encode(frame.samples(), Endian::Big, &mut self.buf);
        self.marker = false;
        self.sequence = self.sequence.wrapping_add(1);
        self.timestamp = self.timestamp.wrapping_add(rate.samples_per_frame() as u32);
        &self.buf
    }

    /// Accounts for a frame that is not sent (silence suppression): the timestamp moves
    /// on, the sequence does not, and the next packet carries the marker bit.
    pub fn skip_frame(&mut self) {
        self.timestamp = self
            .timestamp
            .wrapping_add(self.codec.rate().samples_per_frame() as u32);
        self.marker = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::codec::linear_to_ulaw;
    use crate::media::frame::Rate;

    #[test]
    fn timestamps_step_by_frame_samples() {
        let mut p = Packetizer::new(Codec::Ulaw, 0xDEADBEEF, 65534, 1000).unwrap();
        let frame = AudioFrame::from_samples(Rate::Narrow8k, &[1000; 160]).unwrap();
        let mut seen = Vec::new();
        for _ in 0..3 {
            let bytes = p.packetize(&frame).to_vec();
            assert_eq!(bytes.len(), HEADER_LEN + 160);
            let pkt = parse(&bytes).unwrap();
            assert_eq!(pkt.header.payload_type, PT_PCMU);
            assert_eq!(pkt.header.ssrc, 0xDEADBEEF);
            assert!(pkt.payload.iter().all(|&b| b == linear_to_ulaw(1000)));
            seen.push((pkt.header.sequence, pkt.header.timestamp, pkt.header.marker));
        }
        assert_eq!(
            seen,
            [(65534, 1000, true), (65535, 1160, false), (0, 1320, false)]
        );
        p.skip_frame();
        let pkt = parse(p.packetize(&frame)).unwrap().header;
        assert_eq!((pkt.sequence, pkt.timestamp, pkt.marker), (1, 1640, true));
    }

    #[test]
    fn slin16_is_big_endian_with_type_118_and_320_per_frame() {
        let mut p = Packetizer::new(Codec::Slin16, 1, 0, u32::MAX - 100).unwrap();
        let mut samples = vec![0i16; 320];
        samples[0] = 0x0102;
        let frame = AudioFrame::from_samples(Rate::Wide16k, &samples).unwrap();
        let first = p.packetize(&frame).to_vec();
        let pkt = parse(&first).unwrap();
        assert_eq!(pkt.header.payload_type, 118);
        assert_eq!(pkt.payload.len(), 640);
        assert_eq!(&pkt.payload[..2], &[1, 2]);
        let mut back = Vec::new();
        decode_payload(Codec::Slin16, pkt.payload, &mut back);
        assert_eq!(back, samples);
        let second = parse(p.packetize(&frame)).unwrap().header.timestamp;
        assert_eq!(second, (u32::MAX - 100).wrapping_add(320));
    }

    #[test]
    fn frames_at_another_rate_are_converted() {
        let mut p = Packetizer::new(Codec::Slin16, 1, 0, 0).unwrap();
        let pkt = p.packetize(&AudioFrame::silence(Rate::Narrow8k)).to_vec();
        assert_eq!(pkt.len(), HEADER_LEN + 640);
        let mut p = Packetizer::new(Codec::Alaw, 1, 0, 0).unwrap();
        let pkt = parse(p.packetize(&AudioFrame::silence(Rate::Wide16k))).unwrap();
        assert_eq!(pkt.header.payload_type, PT_PCMA);
        assert_eq!(pkt.payload.len(), 160);
        assert!(Packetizer::new(Codec::Slin, 1, 0, 0).is_err());
        let p = Packetizer::with_payload_type(Codec::Slin, 200, 1, 0, 0);
        assert_eq!(p.payload_type(), 200 & 0x7F);
    }

    #[test]
    fn parse_handles_csrc_extension_and_padding() {
        let mut pkt = vec![0x80 | 0x20 | 0x10 | 2, 0x80 | 8];
        pkt.extend_from_slice(&[0, 7, 0, 0, 0, 9, 0, 0, 0, 5]);
        pkt.extend_from_slice(&[0; 8]); // two CSRCs
        pkt.extend_from_slice(&[0xBE, 0xDE, 0, 1, 1, 2, 3, 4]); // one-word extension
        pkt.extend_from_slice(&[0xAA, 0xBB]); // payload
        pkt.extend_from_slice(&[0, 0, 3]); // three bytes of padding
        let p = parse(&pkt).unwrap();
        assert!(p.header.marker);
        assert_eq!(p.header.payload_type, 8);
        assert_eq!(p.header.sequence, 7);
        assert_eq!(p.header.timestamp, 9);
        assert_eq!(p.header.ssrc, 5);
        assert_eq!(p.payload, &[0xAA, 0xBB]);
        assert_eq!(codec_of(8), Some(Codec::Alaw));
        assert_eq!(codec_of(96), None);
    }

    #[test]
    fn malformed_packets_are_errors() {
        assert!(parse(&[]).is_err());
        assert!(parse(&[0x80; 11]).is_err());
        assert!(parse(&[0x40; 12]).is_err()); // version 1
        let mut csrc = vec![0x8F, 0];
        csrc.extend_from_slice(&[0; 10]);
        assert!(parse(&csrc).is_err());
        let mut ext = vec![0x90, 0];
        ext.extend_from_slice(&[0; 10]);
        ext.extend_from_slice(&[0, 0, 0xFF, 0xFF]);
        assert!(parse(&ext).is_err());
        let mut pad = vec![0xA0, 0];
        pad.extend_from_slice(&[0; 10]);
        pad.push(0);
        assert!(parse(&pad).is_err());
        // Every prefix and byte pattern of a valid packet parses or fails, never panics.
        let mut p = Packetizer::new(Codec::Ulaw, 1, 0, 0).unwrap();
        let good = p.packetize(&AudioFrame::silence(Rate::Narrow8k)).to_vec();
        for n in 0..good.len() {
            let _ = parse(&good[..n]);
        }
        for first in 0..=255u8 {
            let mut b = good.clone();
            b[0] = first;
            let _ = parse(&b);
        }
    }
}
