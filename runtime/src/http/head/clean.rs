//! The fast path of the head normaliser: recognising, in one pass and without a copy, a
//! head that hyper reads exactly as Asterisk does, so that it passes unchanged.

use super::builder::METHODS;
use super::bytes::{PLAIN_TARGET, TOKEN, VALUE};
use super::{MAX_HEADERS, MAX_LINE, REFUSED_HEADER};

/// A head that may go to hyper unchanged.
pub(super) struct CleanHead {
    pub(super) len: usize,
    pub(super) content_length: u64,
    pub(super) upgrade: bool,
}

/// `input` starts with a whole head that hyper reads exactly as Asterisk does: a known
/// method, a target with nothing to encode, `HTTP/1.1`, CRLF line ends, well-formed header
/// lines (none dropped, at most one plain `Content-Length`, no `Transfer-Encoding`, no
/// refusal marker), all within the limits. One pass over the bytes, no copy.
pub(super) fn clean_head(input: &[u8]) -> Option<CleanHead> {
    let space = input.iter().take(8).position(|&b| b == b' ')?;
    if !METHODS.contains(&&input[..space]) || input.get(space + 1) != Some(&b'/') {
        return None;
    }
    let mut i = space + 1;
    while i < input.len() && PLAIN_TARGET[usize::from(input[i])] {
        i += 1;
    }
    if input.get(i..i + 11)? != b" HTTP/1.1\r\n" {
        return None;
    }
    i += 11;
    if i > MAX_LINE {
        return None;
    }
    let mut count = 0;
    let mut content_length = None;
    let mut upgrade = false;
    loop {
        let line_start = i;
        if input.get(i..i + 2)? == b"\r\n" {
            i += 2;
            break;
        }
        while i < input.len() && TOKEN[usize::from(input[i])] {
            i += 1;
        }
        let name = &input[line_start..i];
        if name.is_empty() || input.get(i) != Some(&b':') {
            return None;
        }
        i += 1;
        while matches!(input.get(i), Some(b' ' | b'\t')) {
            i += 1;
        }
        let value_start = i;
        while i < input.len() && VALUE[usize::from(input[i])] {
            i += 1;
        }
        let value = &input[value_start..i];
        if value.is_empty()
            || matches!(value.last(), Some(b' ' | b'\t'))
            || input.get(i..i + 2)? != b"\r\n"
        {
            return None;
        }
        i += 2;
        count += 1;
        if i - line_start > MAX_LINE || count > MAX_HEADERS {
            return None;
        }
        match name.len() {
            14 if name.eq_ignore_ascii_case(b"content-length") => {
                if content_length.is_some()
                    || value.len() > 10
                    || (value.len() > 1 && value[0] == b'0')
                    || !value.iter().all(u8::is_ascii_digit)
                {
                    return None;
                }
                content_length = Some(content_length_digits(value)?);
            }
            17 if name.eq_ignore_ascii_case(b"transfer-encoding") => return None,
            7 if name.eq_ignore_ascii_case(b"upgrade") => upgrade = true,
            _ if name.eq_ignore_ascii_case(REFUSED_HEADER.as_bytes()) => return None,
            _ => {}
        }
    }
    Some(CleanHead {
        len: i,
        content_length: content_length.unwrap_or(0),
        upgrade,
    })
}

/// Plain digits within an `int`.
fn content_length_digits(digits: &[u8]) -> Option<u64> {
    let n = digits
        .iter()
        .fold(0u64, |n, &d| n * 10 + u64::from(d - b'0'));
    (n <= i32::MAX as u64).then_some(n)
}
