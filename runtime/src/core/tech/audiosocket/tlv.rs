//! AudioSocket's wire format without the socket: every message is a kind byte, a 16-bit
//! big-endian payload length and the payload. Kinds: hang-up 0x00, the session UUID 0x01
//! (16 bytes, sent first), DTMF 0x03 (one ASCII digit), audio 0x10 (16-bit linear 8 kHz,
//! little-endian), 0x12 (the same at 16 kHz), error 0xff.

/// Hang up (no payload).
pub(crate) const HANGUP: u8 = 0x00;
/// The session UUID, 16 bytes.
pub(crate) const UUID: u8 = 0x01;
/// A DTMF digit.
pub(crate) const DTMF: u8 = 0x03;
/// Audio, 8 kHz 16-bit linear (Asterisk also labels other 8 kHz formats so).
pub(crate) const AUDIO: u8 = 0x10;
/// Audio, 16 kHz 16-bit linear.
pub(crate) const AUDIO_SLIN16: u8 = 0x12;
/// An error from the far end.
pub(crate) const ERROR: u8 = 0xff;

/// Bytes of a message's header.
pub(crate) const HEADER: usize = 3;

/// Appends one message to `out`; a payload longer than 65535 bytes is cut.
pub(crate) fn encode(kind: u8, payload: &[u8], out: &mut Vec<u8>) {
    let payload = &payload[..payload.len().min(usize::from(u16::MAX))];
    out.push(kind);
    out.extend_from_slice(&(payload.len() as u16).to_be_bytes());
    out.extend_from_slice(payload);
}

/// A message's kind and payload length, from its header.
pub(crate) fn header(bytes: [u8; HEADER]) -> (u8, usize) {
    (
        bytes[0],
        usize::from(u16::from_be_bytes([bytes[1], bytes[2]])),
    )
}

/// A DTMF payload's digit, when it is one a phone has.
pub(crate) fn digit(payload: &[u8]) -> Option<char> {
    match payload {
        [b] if b.is_ascii_digit() || matches!(b, b'*' | b'#' | b'A'..=b'D') => Some(char::from(*b)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip() {
        let mut out = Vec::new();
        encode(UUID, &[7; 16], &mut out);
        encode(DTMF, b"5", &mut out);
        assert_eq!(&out[..3], &[0x01, 0x00, 0x10]);
        assert_eq!(header([out[0], out[1], out[2]]), (UUID, 16));
        assert_eq!(&out[19..], &[0x03, 0x00, 0x01, b'5']);
        assert_eq!(digit(b"5"), Some('5'));
        assert_eq!(digit(b"x"), None);
        assert_eq!(digit(b"12"), None);
    }
}
