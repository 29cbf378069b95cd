//! The byte classes of a request head: Asterisk's blanks, HTTP token bytes, the bytes
//! hyper keeps in a header value and the target bytes the `http` crate takes as they are.

/// Asterisk's blanks: every byte below `!`.
pub(super) fn is_blank(b: u8) -> bool {
    b < 33
}

pub(super) fn skip_blanks(s: &[u8]) -> &[u8] {
    let start = s.iter().position(|&b| !is_blank(b)).unwrap_or(s.len());
    &s[start..]
}

pub(super) fn trim_end_blanks(s: &[u8]) -> &[u8] {
    let end = s.iter().rposition(|&b| !is_blank(b)).map_or(0, |i| i + 1);
    &s[..end]
}

/// A byte table: `TABLE[b]` says whether byte `b` is in the class.
pub(super) type ByteClass = [bool; 256];

/// The [`ByteClass`] of the bytes a `const fn(u8) -> bool` accepts.
macro_rules! byte_class {
    ($member:ident) => {{
        let mut table = [false; 256];
        let mut b = 0;
        while b < 256 {
            table[b] = $member(b as u8);
            b += 1;
        }
        table
    }};
}

/// HTTP token bytes (header names, methods).
pub(super) const TOKEN: ByteClass = byte_class!(token_byte);
const fn token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric()
        || matches!(
            b,
            b'!' | b'#'
                | b'$'
                | b'%'
                | b'&'
                | b'\''
                | b'*'
                | b'+'
                | b'-'
                | b'.'
                | b'^'
                | b'_'
                | b'`'
                | b'|'
                | b'~'
        )
}

/// Bytes hyper keeps in a header value.
pub(super) const VALUE: ByteClass = byte_class!(value_byte);
const fn value_byte(b: u8) -> bool {
    b == b'\t' || (b >= b' ' && b <= b'~') || b >= 0x80
}

/// Target bytes the `http` crate takes as they are, in the path and in the query. The
/// others (`"`, `#`, `<`, `>`, `` ` ``, DEL and non-ASCII) are percent-encoded; ARI decodes
/// them back to the same bytes. Blanks never reach here: they end the target.
pub(super) const PLAIN_TARGET: ByteClass = byte_class!(plain_target_byte);
const fn plain_target_byte(b: u8) -> bool {
    b > b' ' && b < 0x7f && !matches!(b, b'"' | b'#' | b'<' | b'>' | b'`')
}

pub(super) fn is_token(b: u8) -> bool {
    TOKEN[usize::from(b)]
}

pub(super) fn is_value_byte(b: u8) -> bool {
    VALUE[usize::from(b)]
}

pub(super) fn is_plain_target_byte(b: u8) -> bool {
    PLAIN_TARGET[usize::from(b)]
}
