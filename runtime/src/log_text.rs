//! Text a client or guest controls, made safe for one log line: control characters (line
//! breaks, escape sequences) are written as Rust escapes, so such text cannot start a forged
//! line or rewrite a terminal; everything else is written as it is.

use std::fmt;

/// Displays `self.0` with its control characters escaped.
#[derive(Debug, Clone, Copy)]
pub struct Escaped<'a>(pub &'a str);

impl fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut rest = self.0;
        while let Some(at) = rest.find(char::is_control) {
            f.write_str(&rest[..at])?;
            let c = rest[at..].chars().next().unwrap_or_default();
            write!(f, "{}", c.escape_default())?;
            rest = &rest[at + c.len_utf8()..];
        }
        f.write_str(rest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_escaped_and_the_rest_kept() {
        assert_eq!(
            Escaped("bob\nINFO forged\r\x1b[2J").to_string(),
            "bob\\nINFO forged\\r\\u{1b}[2J"
        );
        assert_eq!(Escaped("José \"x\"").to_string(), "José \"x\"");
    }
}
