//! Timestamps in ARI's wire format: `YYYY-MM-DDTHH:MM:SS.mmm±hhmm` in local time.

use std::cell::RefCell;
use std::fmt::Write;

use chrono::{DateTime, Datelike, Local, Offset, TimeZone, Timelike};

/// What a formatted timestamp shows: seconds, millisecond, UTC offset in seconds.
type Shown = (i64, u32, i32);

thread_local! {
    /// The last two timestamps formatted on this thread: the events published together
    /// mostly fall in the same millisecond, and concern a channel whose `creationtime` is
    /// formatted in between.
    static RECENT: RefCell<[Option<(Shown, String)>; 2]> = const { RefCell::new([None, None]) };
}

/// Formats a time the way ARI emits `timestamp` and `creationtime`, reusing the text of a
/// recent call that showed the same millisecond.
pub(crate) fn ari_timestamp(time: &DateTime<Local>) -> String {
    let shown = (
        time.timestamp(),
        time.nanosecond() / 1_000_000,
        time.offset().fix().local_minus_utc(),
    );
    RECENT.with_borrow_mut(|recent| {
        if let Some((_, text)) = recent.iter().flatten().find(|(s, _)| *s == shown) {
            return text.clone();
        }
        let text = format_timestamp(time);
        recent.swap(0, 1);
        recent[0] = Some((shown, text.clone()));
        text
    })
}

/// The current time in ARI's wire format.
pub(crate) fn now() -> String {
    ari_timestamp(&Local::now())
}

/// `%Y-%m-%dT%H:%M:%S%.3f%z`, written directly: every event and channel snapshot carries a
/// timestamp, and interpreting the strftime pattern each time was a measurable cost
/// (docs/benchmarks.md). Years outside 0-9999 and offsets with seconds, which the direct
/// form does not cover, go through chrono's formatter.
fn format_timestamp<Tz: TimeZone>(time: &DateTime<Tz>) -> String {
    let offset = time.offset().fix().local_minus_utc();
    let year = time.year();
    if !(0..=9999).contains(&year) || offset % 60 != 0 {
        return time
            .fixed_offset()
            .format("%Y-%m-%dT%H:%M:%S%.3f%z")
            .to_string();
    }
    let sign = if offset < 0 { '-' } else { '+' };
    let minutes = offset.unsigned_abs() / 60;
    let mut out = String::with_capacity(28);
    let _ = write!(
        out,
        "{year:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}{sign}{:02}{:02}",
        time.month(),
        time.day(),
        time.hour(),
        time.minute(),
        time.second(),
        (time.nanosecond() % 1_000_000_000) / 1_000_000,
        minutes / 60,
        minutes % 60,
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::FixedOffset;

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

    #[test]
    fn direct_format_matches_chrono() {
        let chrono_format =
            |t: &DateTime<FixedOffset>| t.format("%Y-%m-%dT%H:%M:%S%.3f%z").to_string();
        let base = DateTime::from_timestamp(1_790_000_000, 987_654_321).expect("time");
        for offset in [
            0,
            3600,
            -8 * 3600,
            5 * 3600 + 1800,
            -(9 * 3600 + 1800),
            45,
            13 * 3600 + 45 * 60,
        ] {
            let zone = FixedOffset::east_opt(offset).expect("offset");
            for t in [
                base.with_timezone(&zone),
                DateTime::from_timestamp(0, 0)
                    .expect("epoch")
                    .with_timezone(&zone),
                DateTime::from_timestamp(1_790_000_000, 999_999_999)
                    .expect("time")
                    .with_timezone(&zone),
            ] {
                assert_eq!(format_timestamp(&t), chrono_format(&t));
            }
        }
        let local = Local::now();
        assert_eq!(
            ari_timestamp(&local),
            local.format("%Y-%m-%dT%H:%M:%S%.3f%z").to_string()
        );
    }

    #[test]
    fn reused_texts_are_those_of_the_same_millisecond() {
        let at = |secs: i64, nanos: u32| {
            DateTime::from_timestamp(secs, nanos)
                .expect("time")
                .with_timezone(&Local)
        };
        let times = [
            at(1_790_000_000, 1_000_000),
            at(1_790_000_000, 1_400_000),
            at(1_700_000_000, 0),
            at(1_790_000_000, 1_999_999),
            at(1_790_000_000, 2_000_000),
            at(1_700_000_000, 999_999),
            at(1_790_000_001, 2_000_000),
            at(1_790_000_000, 1_000_000),
        ];
        for t in times {
            assert_eq!(ari_timestamp(&t), format_timestamp(&t));
        }
    }
}
