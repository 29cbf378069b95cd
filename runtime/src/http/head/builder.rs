//! The slow path of the head normaliser: a head that is not already in hyper's form is
//! rebuilt from the lines Asterisk keeps (the method in its canonical spelling, the target
//! with the bytes the `http` crate refuses percent-encoded, the kept header lines and one
//! framing header).

use super::bytes::{is_plain_target_byte, is_token, is_value_byte};
use super::{Framing, REFUSED_HEADER, Refusal};

/// A head being rebuilt on the slow path.
#[derive(Debug)]
pub(super) struct Builder {
    method: &'static [u8],
    /// The client's method when it is an unknown one that is a valid token.
    other_method: Vec<u8>,
    target: Vec<u8>,
    /// Header lines to keep, CRLF-terminated.
    lines: Vec<u8>,
    /// Header lines counted as Asterisk counts them.
    pub(super) count: usize,
    content_length: Option<Vec<u8>>,
    transfer_encoding: Option<Vec<u8>>,
    pub(super) upgrade: bool,
}

/// The methods Asterisk knows, in their canonical spelling.
pub(super) const METHODS: [&[u8]; 6] = [b"GET", b"POST", b"HEAD", b"PUT", b"DELETE", b"OPTIONS"];

impl Builder {
    pub(super) fn new(method: &[u8], target: &[u8]) -> Builder {
        let known = METHODS.into_iter().find(|m| m.eq_ignore_ascii_case(method));
        let (method, other_method) = match known {
            Some(known) => (known, Vec::new()),
            // CONNECT means something else to hyper; other methods are all the same to
            // Asterisk ("unknown"), so a method that is not a token can stand as any other.
            None if method.iter().all(|&b| is_token(b))
                && !method.eq_ignore_ascii_case(b"CONNECT") =>
            {
                (&b""[..], method.to_vec())
            }
            None => (&b"UNKNOWN"[..], Vec::new()),
        };
        Builder {
            method,
            other_method,
            target: target.to_vec(),
            lines: Vec::new(),
            count: 0,
            content_length: None,
            transfer_encoding: None,
            upgrade: false,
        }
    }

    /// A counted header line: `name` trimmed at its end, `value` trimmed at both ends.
    pub(super) fn header(&mut self, name: &[u8], value: &[u8]) {
        if name.eq_ignore_ascii_case(b"content-length") {
            self.content_length.get_or_insert_with(|| value.to_vec());
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            self.transfer_encoding.get_or_insert_with(|| value.to_vec());
        } else if name.eq_ignore_ascii_case(REFUSED_HEADER.as_bytes()) {
            // Only the normaliser names refusals.
        } else if !name.is_empty()
            && name.iter().all(|&b| is_token(b))
            && value.iter().all(|&b| is_value_byte(b))
        {
            // A name that is not a token never equals one Asterisk looks up, and a value
            // with control bytes cannot be a header hyper reads: those lines are dropped.
            self.upgrade |= name.eq_ignore_ascii_case(b"upgrade");
            self.lines.extend_from_slice(name);
            self.lines.extend_from_slice(b": ");
            self.lines.extend_from_slice(value);
            self.lines.extend_from_slice(b"\r\n");
        }
    }

    /// The body framing, in Asterisk's order of checks.
    pub(super) fn framing(&self) -> Result<Framing, Refusal> {
        if let Some(encoding) = &self.transfer_encoding {
            if encoding.eq_ignore_ascii_case(b"chunked") {
                return Ok(Framing::Chunked);
            }
            if !encoding.eq_ignore_ascii_case(b"identity") {
                return Err(Refusal::UnsupportedTransferEncoding);
            }
        }
        match &self.content_length {
            None => Ok(Framing::Length(0)),
            Some(value) => content_length(value)
                .map(Framing::Length)
                .ok_or(Refusal::InvalidContentLength),
        }
    }

    pub(super) fn write(&self, framing: Framing, out: &mut Vec<u8>) {
        let origin = self.target.first() == Some(&b'/');
        if self.other_method.is_empty() {
            out.extend_from_slice(self.method);
        } else {
            out.extend_from_slice(&self.other_method);
        }
        out.push(b' ');
        if origin {
            for &b in &self.target {
                if is_plain_target_byte(b) {
                    out.push(b);
                } else {
                    const HEX: &[u8; 16] = b"0123456789ABCDEF";
                    out.extend_from_slice(&[
                        b'%',
                        HEX[usize::from(b >> 4)],
                        HEX[usize::from(b & 15)],
                    ]);
                }
            }
        } else {
            out.push(b'/');
        }
        out.extend_from_slice(b" HTTP/1.1\r\n");
        if origin {
            out.extend_from_slice(&self.lines);
        } else {
            // Nothing but the framing and whether to close matters for a 404, and the
            // marker must not take a request over hyper's header count.
            for line in self.lines.split_inclusive(|&b| b == b'\n') {
                if line.len() > 11 && line[..11].eq_ignore_ascii_case(b"connection:") {
                    out.extend_from_slice(line);
                }
            }
        }
        match framing {
            Framing::Length(0) => {}
            Framing::Length(n) => {
                out.extend_from_slice(b"Content-Length: ");
                out.extend_from_slice(n.to_string().as_bytes());
                out.extend_from_slice(b"\r\n");
            }
            Framing::Chunked => out.extend_from_slice(b"Transfer-Encoding: chunked\r\n"),
        }
        if !origin {
            out.extend_from_slice(REFUSED_HEADER.as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(Refusal::NotFound.code().as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"\r\n");
    }
}

/// A `Content-Length` value read as Asterisk reads it (`%d`: an optional sign, digits, and
/// whatever follows ignored); `None` when negative, missing digits or beyond an `int`.
pub(super) fn content_length(value: &[u8]) -> Option<u64> {
    let (negative, digits) = match value.first() {
        Some(b'-') => (true, &value[1..]),
        Some(b'+') => (false, &value[1..]),
        _ => (false, value),
    };
    let end = digits
        .iter()
        .position(|b| !b.is_ascii_digit())
        .unwrap_or(digits.len());
    if end == 0 {
        return None;
    }
    let mut n: u64 = 0;
    for &d in &digits[..end] {
        n = n.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
        if n > i32::MAX as u64 {
            return None;
        }
    }
    (!negative || n == 0).then_some(n)
}
