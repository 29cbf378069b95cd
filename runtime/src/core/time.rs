//! Timestamps in ARI's wire format: `YYYY-MM-DDTHH:MM:SS.mmm±hhmm` in local time.

use chrono::{DateTime, Local};

/// Formats a time the way ARI emits `timestamp` and `creationtime`.
pub fn ari_timestamp(time: &DateTime<Local>) -> String {
    time.format("%Y-%m-%dT%H:%M:%S%.3f%z").to_string()
}

/// The current time in ARI's wire format.
pub fn now() -> String {
    ari_timestamp(&Local::now())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_has_millis_and_colonless_offset() {
        let t = now();
        // 2026-11-23T00:12:27.123+0000
        assert_eq!(t.len(), 28, "{t}");
        assert_eq!(&t[10..11], "T");
        assert_eq!(&t[19..20], ".");
        assert!(t[23..24] == *"+" || t[23..24] == *"-", "{t}");
        assert!(!t[24..].contains(':'), "{t}");
    }
}
