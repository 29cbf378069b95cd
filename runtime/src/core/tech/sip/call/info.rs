//! The far end's INFO requests inside a call: DTMF sent as SIP INFO
//! (`application/dtmf-relay` with `Signal=`/`Duration=` lines, or `application/dtmf` with
//! the event alone) is taken whatever the endpoint's `dtmf_mode`, as Asterisk's
//! res_pjsip_dtmf_info takes it, and answered as it answers: 200 for a digit (or an empty
//! body), 500 for a signal it cannot read; a hook flash is answered 200 and goes no
//! further. An INFO carrying anything else is answered 501 (not implemented).

use rsipstack::dialog::dialog::TransactionHandle;
use rsipstack::sip::{Header, Request, StatusCode};

use super::super::media::dtmf::digit_of;

/// What an INFO request's body says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum InfoContent {
    /// A DTMF digit and how long it was pressed.
    Digit { digit: char, duration_ms: u32 },
    /// A DTMF content type with no body (answered 200).
    Empty,
    /// A hook flash (`application/hook-flash`, or the signal `!`/16).
    Flash,
    /// A DTMF content type whose signal cannot be read (answered 500).
    Unreadable,
    /// Not DTMF at all (answered 501).
    Other,
}

/// The duration a DTMF INFO without `Duration=` stands for.
const DEFAULT_DURATION_MS: u32 = 100;

/// Reads an INFO body of `content_type` (its media type and subtype, parameters ignored).
pub(crate) fn read(content_type: Option<&str>, body: &str) -> InfoContent {
    let media = content_type
        .and_then(|value| value.split(';').next())
        .map(|value| value.trim().to_ascii_lowercase())
        .unwrap_or_default();
    let (dtmf, relay) = match media.as_str() {
        "application/dtmf" => (true, false),
        "application/dtmf-relay" => (false, true),
        "application/hook-flash" => return InfoContent::Flash,
        _ => return InfoContent::Other,
    };
    if body.is_empty() {
        return InfoContent::Empty;
    }
    let mut signal = None;
    let mut duration_ms = DEFAULT_DURATION_MS;
    if dtmf {
        signal = event_of(body.trim());
    } else if relay {
        for line in body.split(['\r', '\n']) {
            let Some((name, value)) = line.split_once('=') else {
                continue;
            };
            let value = value.trim();
            if name.trim().eq_ignore_ascii_case("signal") {
                signal = event_of(value);
                if signal.is_none() {
                    break;
                }
            } else if name.trim().eq_ignore_ascii_case("duration")
                && let Some(ms) = leading_number(value)
            {
                duration_ms = ms;
            }
        }
    }
    match signal {
        Some('!') => InfoContent::Flash,
        Some(digit) => InfoContent::Digit { digit, duration_ms },
        None => InfoContent::Unreadable,
    }
}

/// The DTMF event a signal names: a key (`0`-`9`, `*`, `#`, `A`-`D`, `!` for a flash) or
/// its RFC 4733 event number (0-16).
fn event_of(signal: &str) -> Option<char> {
    let first = signal.chars().next()?;
    match first {
        '!' | '*' | '#' => return Some(first),
        'A'..='D' | 'a'..='d' => return Some(first.to_ascii_uppercase()),
        _ => {}
    }
    match leading_number(signal)? {
        16 => Some('!'),
        event => digit_of(u8::try_from(event).ok()?),
    }
}

/// The decimal number a value begins with.
fn leading_number(value: &str) -> Option<u32> {
    let digits = value.len() - value.trim_start_matches(|c: char| c.is_ascii_digit()).len();
    value[..digits].parse().ok()
}

/// Answers the INFO `request` (its transaction's `handle`); the digit it carried, if any.
pub(crate) async fn answer(
    request: &Request,
    handle: TransactionHandle,
    me: &str,
) -> Option<(char, u32)> {
    let content_type = request.headers.iter().find_map(|header| match header {
        Header::ContentType(value) => Some(value.value().to_string()),
        _ => None,
    });
    let body = String::from_utf8_lossy(&request.body);
    let content = read(content_type.as_deref(), &body);
    let status = match content {
        InfoContent::Digit { .. } | InfoContent::Empty | InfoContent::Flash => StatusCode::OK,
        InfoContent::Unreadable => {
            tracing::info!(channel = %me, body = %body.escape_debug(), "SIP INFO with a DTMF signal that cannot be read");
            StatusCode::ServerInternalError
        }
        InfoContent::Other => {
            tracing::debug!(channel = %me, content_type = ?content_type, "SIP INFO not taken");
            StatusCode::NotImplemented
        }
    };
    let _ = handle.reply(status).await;
    match content {
        InfoContent::Digit { digit, duration_ms } => Some((digit, duration_ms)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dtmf_relay_gives_the_signal_and_its_duration() {
        assert_eq!(
            read(
                Some("application/dtmf-relay"),
                "Signal=5\r\nDuration=160\r\n"
            ),
            InfoContent::Digit {
                digit: '5',
                duration_ms: 160
            }
        );
        assert_eq!(
            read(
                Some("Application/DTMF-Relay; charset=x"),
                "signal= #\nduration= 250"
            ),
            InfoContent::Digit {
                digit: '#',
                duration_ms: 250
            }
        );
        // Without Duration: 100 ms.
        assert_eq!(
            read(Some("application/dtmf-relay"), "Signal=11"),
            InfoContent::Digit {
                digit: '#',
                duration_ms: 100
            }
        );
    }

    #[test]
    fn application_dtmf_is_the_event_alone_as_a_key_or_a_number() {
        for (body, digit) in [
            ("7", '7'),
            ("10", '*'),
            ("11", '#'),
            ("12", 'A'),
            ("15", 'D'),
            ("b", 'B'),
        ] {
            assert_eq!(
                read(Some("application/dtmf"), body),
                InfoContent::Digit {
                    digit,
                    duration_ms: 100
                },
                "{body}"
            );
        }
        assert_eq!(read(Some("application/dtmf"), "16"), InfoContent::Flash);
    }

    #[test]
    fn what_is_not_dtmf_or_cannot_be_read_is_told_apart() {
        assert_eq!(read(Some("application/dtmf-relay"), ""), InfoContent::Empty);
        assert_eq!(
            read(Some("application/dtmf-relay"), "Signal=17\r\n"),
            InfoContent::Unreadable
        );
        assert_eq!(read(Some("application/dtmf"), "x"), InfoContent::Unreadable);
        assert_eq!(
            read(Some("application/hook-flash"), "signal=hf"),
            InfoContent::Flash
        );
        assert_eq!(
            read(Some("application/media_control+xml"), "<x/>"),
            InfoContent::Other
        );
        assert_eq!(read(None, "Signal=1"), InfoContent::Other);
    }
}
