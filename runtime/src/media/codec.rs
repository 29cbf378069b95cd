//! Codecs between signed-linear samples and bytes: G.711 µ-law and A-law (ITU-T G.711,
//! written out here from the segment/mantissa definition), and 16-bit linear in either byte
//! order (`slin` at 8 kHz, `slin16` at 16 kHz; little-endian in files, big-endian on RTP).

use super::frame::Rate;

/// µ-law bias added before finding the segment (33 in 14-bit units, scaled to 16 bits).
const ULAW_BIAS: i32 = 0x84;
/// Largest magnitude µ-law can carry before the bias is added.
const ULAW_CLIP: i32 = 32635;

/// Encodes one sample as G.711 µ-law.
pub fn linear_to_ulaw(sample: i16) -> u8 {
    let value = sample as i32;
    let (sign, magnitude) = if value < 0 {
        (0x80u8, (-value).min(ULAW_CLIP))
    } else {
        (0u8, value.min(ULAW_CLIP))
    };
    let biased = magnitude + ULAW_BIAS;
    // biased is in 0x84..=0x7FFF: its top bit is bit 7 ..= 14, giving segments 0..=7.
    let segment = (31 - biased.leading_zeros()) as i32 - 7;
    let mantissa = (biased >> (segment + 3)) & 0x0F;
    !(sign | ((segment as u8) << 4) | mantissa as u8)
}

const fn ulaw_decode_one(byte: u8) -> i16 {
    let b = !byte;
    let segment = ((b >> 4) & 0x07) as i32;
    let mantissa = (b & 0x0F) as i32;
    let magnitude = (((mantissa << 3) + ULAW_BIAS) << segment) - ULAW_BIAS;
    if b & 0x80 != 0 {
        -magnitude as i16
    } else {
        magnitude as i16
    }
}

const fn alaw_decode_one(byte: u8) -> i16 {
    let b = byte ^ 0x55;
    let segment = ((b >> 4) & 0x07) as i32;
    let mantissa = (b & 0x0F) as i32;
    let magnitude = if segment == 0 {
        (mantissa << 4) + 8
    } else {
        ((mantissa << 4) + 0x108) << (segment - 1)
    };
    // After the even-bit inversion a set top bit means a positive sample.
    if b & 0x80 != 0 {
        magnitude as i16
    } else {
        -magnitude as i16
    }
}

const fn ulaw_table() -> [i16; 256] {
    let mut t = [0i16; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = ulaw_decode_one(i as u8);
        i += 1;
    }
    t
}

const fn alaw_table() -> [i16; 256] {
    let mut t = [0i16; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = alaw_decode_one(i as u8);
        i += 1;
    }
    t
}

static ULAW_TO_LINEAR: [i16; 256] = ulaw_table();
static ALAW_TO_LINEAR: [i16; 256] = alaw_table();

/// Decodes one G.711 µ-law byte.
pub fn ulaw_to_linear(byte: u8) -> i16 {
    ULAW_TO_LINEAR[byte as usize]
}

/// Encodes one sample as G.711 A-law.
pub fn linear_to_alaw(sample: i16) -> u8 {
    let value = sample as i32;
    // Positive samples get the sign bit; then every even bit is inverted (0x55).
    let (mask, magnitude) = if value >= 0 {
        (0xD5u8, value)
    } else {
        (0x55u8, -value - 1)
    };
    let code = if magnitude < 256 {
        (magnitude >> 4) as u8
    } else {
        let segment = (31 - magnitude.leading_zeros()) as i32 - 7; // 1..=7
        let mantissa = (magnitude >> (segment + 3)) & 0x0F;
        ((segment as u8) << 4) | mantissa as u8
    };
    code ^ mask
}

/// Decodes one G.711 A-law byte.
pub fn alaw_to_linear(byte: u8) -> i16 {
    ALAW_TO_LINEAR[byte as usize]
}

/// A way of carrying samples as bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Codec {
    /// G.711 µ-law, 8 kHz, one byte per sample.
    Ulaw,
    /// G.711 A-law, 8 kHz, one byte per sample.
    Alaw,
    /// 16-bit linear at 8 kHz (`slin`).
    Slin,
    /// 16-bit linear at 16 kHz (`slin16`).
    Slin16,
}

/// Byte order of 16-bit linear samples.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endian {
    /// Files (`.sln`, `.sln16`, WAV).
    Little,
    /// Network byte order (RTP L16).
    Big,
}

impl Codec {
    /// Parses a codec name as ARI clients give it (`ulaw`, `alaw`, `slin`, `slin16`; also
    /// `pcmu`, `pcma`, `g711u`, `g711a`, `sln`, `sln16`), ignoring case.
    pub fn from_name(name: &str) -> Option<Codec> {
        match name.trim().to_ascii_lowercase().as_str() {
            "ulaw" | "pcmu" | "g711u" | "mulaw" => Some(Codec::Ulaw),
            "alaw" | "pcma" | "g711a" => Some(Codec::Alaw),
            "slin" | "sln" | "slin8" => Some(Codec::Slin),
            "slin16" | "sln16" => Some(Codec::Slin16),
            _ => None,
        }
    }

    /// The Asterisk name of the codec.
    pub fn name(self) -> &'static str {
        match self {
            Codec::Ulaw => "ulaw",
            Codec::Alaw => "alaw",
            Codec::Slin => "slin",
            Codec::Slin16 => "slin16",
        }
    }

    /// The rate a frame of this codec carries: 16 kHz for `slin16`, 8 kHz for the others.
    pub fn rate(self) -> Rate {
        match self {
            Codec::Slin16 => Rate::Wide16k,
            _ => Rate::Narrow8k,
        }
    }

    /// Bytes per sample.
    pub fn sample_bytes(self) -> usize {
        match self {
            Codec::Ulaw | Codec::Alaw => 1,
            Codec::Slin | Codec::Slin16 => 2,
        }
    }

    /// Appends the encoding of `samples` to `out` (linear codecs in `endian` order).
    pub fn encode(self, samples: &[i16], endian: Endian, out: &mut Vec<u8>) {
        match self {
            Codec::Ulaw => out.extend(samples.iter().map(|&s| linear_to_ulaw(s))),
            Codec::Alaw => out.extend(samples.iter().map(|&s| linear_to_alaw(s))),
            Codec::Slin | Codec::Slin16 => encode_linear(samples, endian, out),
        }
    }

    /// Appends the samples in `bytes` to `out`. A trailing odd byte of a linear codec is
    /// ignored.
    pub fn decode(self, bytes: &[u8], endian: Endian, out: &mut Vec<i16>) {
        match self {
            Codec::Ulaw => out.extend(bytes.iter().map(|&b| ulaw_to_linear(b))),
            Codec::Alaw => out.extend(bytes.iter().map(|&b| alaw_to_linear(b))),
            Codec::Slin | Codec::Slin16 => decode_linear(bytes, endian, out),
        }
    }
}

/// Appends 16-bit samples to `out` in the given byte order.
pub fn encode_linear(samples: &[i16], endian: Endian, out: &mut Vec<u8>) {
    out.reserve(samples.len() * 2);
    for &s in samples {
        match endian {
            Endian::Little => out.extend_from_slice(&s.to_le_bytes()),
            Endian::Big => out.extend_from_slice(&s.to_be_bytes()),
        }
    }
}

/// Appends the 16-bit samples in `bytes` to `out`; an odd trailing byte is ignored.
pub fn decode_linear(bytes: &[u8], endian: Endian, out: &mut Vec<i16>) {
    out.reserve(bytes.len() / 2);
    for pair in bytes.chunks_exact(2) {
        let b = [pair[0], pair[1]];
        out.push(match endian {
            Endian::Little => i16::from_le_bytes(b),
            Endian::Big => i16::from_be_bytes(b),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Half a G.711 quantisation step at the magnitude of `x` (decoded values sit in the
    /// middle of their step), plus one for rounding.
    fn ulaw_tolerance(x: i32) -> i32 {
        (x.abs() + ULAW_BIAS) / 32 + 1
    }

    fn alaw_tolerance(x: i32) -> i32 {
        (x.abs() / 32).max(8) + 1
    }

    #[test]
    fn ulaw_round_trip_is_within_quantisation_error() {
        for s in (i16::MIN..=i16::MAX).step_by(7) {
            let back = ulaw_to_linear(linear_to_ulaw(s)) as i32;
            let s32 = (s as i32).clamp(-ULAW_CLIP, ULAW_CLIP);
            let err = (back - s32).abs();
            assert!(err <= ulaw_tolerance(s32), "ulaw {s} -> {back} (err {err})");
        }
    }

    #[test]
    fn alaw_round_trip_is_within_quantisation_error() {
        for s in (i16::MIN..=i16::MAX).step_by(7) {
            let back = alaw_to_linear(linear_to_alaw(s)) as i32;
            let err = (back - s as i32).abs();
            assert!(
                err <= alaw_tolerance(s as i32),
                "alaw {s} -> {back} (err {err})"
            );
        }
    }

    #[test]
    fn known_code_points() {
        // Silence: µ-law 0xFF (and 0x7F), A-law 0xD5 (and 0x55).
        assert_eq!(linear_to_ulaw(0), 0xFF);
        assert_eq!(ulaw_to_linear(0xFF), 0);
        assert_eq!(ulaw_to_linear(0x7F), 0);
        assert_eq!(linear_to_alaw(0), 0xD5);
        assert_eq!(alaw_to_linear(0xD5), 8);
        assert_eq!(alaw_to_linear(0x55), -8);
        // Extremes.
        assert_eq!(ulaw_to_linear(0x80), 32124);
        assert_eq!(ulaw_to_linear(0x00), -32124);
        assert_eq!(linear_to_ulaw(i16::MAX), 0x80);
        assert_eq!(linear_to_ulaw(i16::MIN), 0x00);
        assert_eq!(alaw_to_linear(0xAA), 32256);
        assert_eq!(alaw_to_linear(0x2A), -32256);
        assert_eq!(linear_to_alaw(i16::MAX), 0xAA);
        assert_eq!(linear_to_alaw(i16::MIN), 0x2A);
    }

    #[test]
    fn every_code_decodes_and_re_encodes_to_itself() {
        for b in 0..=255u8 {
            let u = ulaw_to_linear(b);
            // 0x7F (negative zero) re-encodes as 0xFF.
            if b != 0x7F {
                assert_eq!(linear_to_ulaw(u), b, "ulaw code {b:#x}");
            }
            assert_eq!(linear_to_alaw(alaw_to_linear(b)), b, "alaw code {b:#x}");
        }
    }

    #[test]
    fn decoding_is_monotonic() {
        let mut ulaw: Vec<i16> = (0..=255u8).map(ulaw_to_linear).collect();
        let mut alaw: Vec<i16> = (0..=255u8).map(alaw_to_linear).collect();
        ulaw.sort();
        ulaw.dedup();
        alaw.sort();
        alaw.dedup();
        assert_eq!(ulaw.len(), 255); // both zeros are the same value
        assert_eq!(alaw.len(), 256);
    }

    #[test]
    fn codecs_encode_and_decode_buffers() {
        let samples: Vec<i16> = vec![0, 1000, -1000, 32767, -32768, 12345];
        for codec in [Codec::Ulaw, Codec::Alaw, Codec::Slin, Codec::Slin16] {
            let mut bytes = Vec::new();
            codec.encode(&samples, Endian::Big, &mut bytes);
            assert_eq!(bytes.len(), samples.len() * codec.sample_bytes());
            let mut back = Vec::new();
            codec.decode(&bytes, Endian::Big, &mut back);
            assert_eq!(back.len(), samples.len());
            if codec.sample_bytes() == 2 {
                assert_eq!(back, samples);
            }
        }
        let mut be = Vec::new();
        encode_linear(&[0x0102], Endian::Big, &mut be);
        assert_eq!(be, [1, 2]);
        let mut le = Vec::new();
        encode_linear(&[0x0102], Endian::Little, &mut le);
        assert_eq!(le, [2, 1]);
        let mut odd = Vec::new();
        decode_linear(&[1, 2, 3], Endian::Big, &mut odd);
        assert_eq!(odd, [0x0102]);
    }

    #[test]
    fn names() {
        assert_eq!(Codec::from_name("ULAW"), Some(Codec::Ulaw));
        assert_eq!(Codec::from_name("slin16"), Some(Codec::Slin16));
        assert_eq!(Codec::from_name("g729"), None);
        assert_eq!(Codec::Slin16.rate(), Rate::Wide16k);
        assert_eq!(Codec::Alaw.name(), "alaw");
    }
}
