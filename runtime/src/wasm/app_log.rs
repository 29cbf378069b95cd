//! An app's own log, as `GET /ari/wasm/{app}/logs` serves it: a bounded ring of the app's
//! most recent entries (guest log lines after their rate limit, events delivered to its
//! sessions, sessions started and ended, failures, deployments) and a broadcast of each new
//! entry to live followers.
//!
//! Writing an entry never waits for a reader: the ring drops its oldest entry, and a
//! follower that falls more than [`FOLLOW_BUFFER`] entries behind misses the oldest ones
//! and is told how many (a `dropped` entry). The broadcast ends when the app's runtime is
//! gone (deleted, its last session ended): followers then see their stream end.

use std::collections::VecDeque;
use std::fmt::Write;
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use tokio::sync::broadcast;

use crate::core::event::{Event, Field};

/// Entries kept per app; `?lines=` asks for at most this many.
pub(crate) const HISTORY: usize = 1000;
/// Entries a follower may fall behind before it misses some.
pub(crate) const FOLLOW_BUFFER: usize = 256;
/// How many entries `?lines=` gives when not asked.
pub(crate) const DEFAULT_LINES: usize = 100;
/// The longest text an entry keeps, in bytes (a guest's WASI line is cut there too); the
/// ring's memory is bounded by it.
pub(crate) const MAX_TEXT: usize = 4096;

/// What an entry is about (other than an event, see [`LogEntry::event`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryKind {
    /// A guest log line: its stream (`stdout`, `stderr`) and, for the `wari:stasis/log`
    /// interface, its level.
    Log {
        stream: &'static str,
        level: Option<&'static str>,
    },
    /// A session started or ended.
    Session,
    /// A failure, as `failures.last` keeps it.
    Failure,
    /// A version deployed, replaced, loaded or removed.
    Deploy,
    /// Entries a slow follower missed.
    Dropped,
}

impl EntryKind {
    fn name(&self) -> &'static str {
        match self {
            EntryKind::Log { .. } => "log",
            EntryKind::Session => "session",
            EntryKind::Failure => "failure",
            EntryKind::Deploy => "deploy",
            EntryKind::Dropped => "dropped",
        }
    }
}

/// One entry of an app's log.
#[derive(Debug, Clone, PartialEq)]
pub struct LogEntry {
    /// The app version (12-hex sha256 prefix).
    pub version: Arc<str>,
    pub session: Option<u64>,
    what: What,
}

/// An entry's own content. An event is kept as it is (shared with its other receivers) and
/// described only when read, and other entries' times are written only when read, so that
/// logging costs a session next to nothing.
#[derive(Debug, Clone, PartialEq)]
enum What {
    Event(Arc<Event>),
    Other {
        at: std::time::SystemTime,
        kind: EntryKind,
        text: String,
    },
}

impl LogEntry {
    /// An entry stamped now; its text is cut at [`MAX_TEXT`] bytes (marked with `…`).
    pub fn now(version: &str, session: Option<u64>, kind: EntryKind, mut text: String) -> LogEntry {
        if text.len() > MAX_TEXT {
            let end = (0..=MAX_TEXT)
                .rev()
                .find(|i| text.is_char_boundary(*i))
                .unwrap_or(0);
            text.truncate(end);
            text.push('…');
        }
        LogEntry {
            version: Arc::from(version),
            session,
            what: What::Other {
                at: std::time::SystemTime::now(),
                kind,
                text,
            },
        }
    }

    /// An event delivered to `session`.
    pub fn event(version: Arc<str>, session: u64, event: Arc<Event>) -> LogEntry {
        LogEntry {
            version,
            session: Some(session),
            what: What::Event(event),
        }
    }

    /// When it happened (ARI timestamp).
    pub fn time(&self) -> std::borrow::Cow<'_, str> {
        match &self.what {
            What::Event(event) => event.timestamp.as_str().into(),
            What::Other { at, .. } => {
                crate::core::time::ari_timestamp(&chrono::DateTime::<chrono::Local>::from(*at))
                    .into()
            }
        }
    }

    /// One line for humans.
    pub fn text(&self) -> std::borrow::Cow<'_, str> {
        match &self.what {
            What::Event(event) => event_text(event).into(),
            What::Other { text, .. } => text.as_str().into(),
        }
    }

    /// The entry as the endpoint sends it, for app `app`.
    pub fn to_json(&self, app: &str) -> Value {
        let kind = match &self.what {
            What::Event(_) => "event",
            What::Other { kind, .. } => kind.name(),
        };
        let mut value = json!({
            "time": self.time(),
            "app": app,
            "version": &*self.version,
            "session": self.session,
            "kind": kind,
        });
        if let Some(object) = value.as_object_mut() {
            match &self.what {
                What::Other {
                    kind: EntryKind::Log { stream, level },
                    ..
                } => {
                    object.insert("stream".into(), (*stream).into());
                    if let Some(level) = level {
                        object.insert("level".into(), (*level).into());
                    }
                }
                What::Event(event) => {
                    object.insert("event".into(), event.kind.into());
                }
                What::Other { .. } => {}
            }
            object.insert("text".into(), self.text().into_owned().into());
        }
        value
    }
}

/// One app's recent entries and live followers.
#[derive(Debug)]
pub struct AppLog {
    ring: Mutex<VecDeque<Arc<LogEntry>>>,
    tx: broadcast::Sender<Arc<LogEntry>>,
}

impl Default for AppLog {
    fn default() -> Self {
        AppLog {
            ring: Mutex::new(VecDeque::new()),
            tx: broadcast::Sender::new(FOLLOW_BUFFER),
        }
    }
}

impl AppLog {
    fn ring(&self) -> std::sync::MutexGuard<'_, VecDeque<Arc<LogEntry>>> {
        self.ring.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Adds an entry: kept in the ring (the oldest dropped beyond [`HISTORY`]) and sent to
    /// every follower. Under the ring's lock, so that a follower starting now sees each
    /// entry exactly once.
    pub fn push(&self, entry: LogEntry) {
        let oldest = self.push_untrimmed(entry);
        drop(oldest);
    }

    /// [`AppLog::push`] for a session about to hand an event to its guest: the entry the
    /// ring lets go of (and the event it may hold the last reference to) is returned, to be
    /// dropped once the guest has the event.
    pub fn push_untrimmed(&self, entry: LogEntry) -> Option<Arc<LogEntry>> {
        let entry = Arc::new(entry);
        let mut ring = self.ring();
        let oldest = if ring.len() >= HISTORY {
            ring.pop_front()
        } else {
            None
        };
        ring.push_back(entry.clone());
        if self.tx.receiver_count() > 0 {
            let _ = self.tx.send(entry);
        }
        oldest
    }

    /// The most recent `lines` entries (at most [`HISTORY`]), oldest first.
    pub fn recent(&self, lines: usize) -> Vec<Arc<LogEntry>> {
        let ring = self.ring();
        let skip = ring.len().saturating_sub(lines);
        ring.iter().skip(skip).cloned().collect()
    }

    /// The most recent `lines` entries and a receiver of every entry after them.
    pub fn follow(&self, lines: usize) -> (Vec<Arc<LogEntry>>, broadcast::Receiver<Arc<LogEntry>>) {
        let ring = self.ring();
        let rx = self.tx.subscribe();
        let skip = ring.len().saturating_sub(lines);
        (ring.iter().skip(skip).cloned().collect(), rx)
    }

    /// Followers listening now.
    pub fn followers(&self) -> usize {
        self.tx.receiver_count()
    }
}

/// A negative `lines` in a request for an app's log.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Invalid value for parameter lines: {0} (give 0 to {HISTORY})")]
pub(crate) struct NegativeLines(pub i64);

/// The `lines` a request asks for: [`DEFAULT_LINES`] when absent, at most [`HISTORY`]; a
/// negative number is refused.
pub(crate) fn lines(asked: Option<i64>) -> Result<usize, NegativeLines> {
    match asked {
        None => Ok(DEFAULT_LINES),
        Some(n) if n < 0 => Err(NegativeLines(n)),
        Some(n) => Ok(usize::try_from(n).unwrap_or(HISTORY).min(HISTORY)),
    }
}

/// A short line for an event: its type and the few fields that say what happened
/// (`DtmfReceived digit=4 channel=<id>`), never its whole JSON.
pub(crate) fn event_text(event: &Event) -> String {
    let mut text = String::from(event.kind);
    let mut put = |key: &str, value: &str| {
        let _ = write!(text, " {key}={value}");
    };
    let string = |key: &str| event.json(key).and_then(Value::as_str);
    if let Some(digit) = string("digit") {
        put("digit", digit);
    }
    if let Some(channel) = event.channel_id() {
        put("channel", channel);
    }
    if event.kind == "ChannelStateChange"
        && let Some(Field::Channel(snapshot)) = event.field("channel")
    {
        put("state", snapshot.state.as_str());
    }
    for (key, object, field) in [
        ("bridge", "bridge", "id"),
        ("playback", "playback", "id"),
        ("recording", "recording", "name"),
    ] {
        if let Some(id) = event
            .json(object)
            .and_then(|o| o.get(field))
            .and_then(Value::as_str)
        {
            put(key, id);
        }
    }
    for (object, field) in [("playback", "state"), ("recording", "state")] {
        if let Some(state) = event
            .json(object)
            .and_then(|o| o.get(field))
            .and_then(Value::as_str)
        {
            put("state", state);
        }
    }
    if let Some(peer) = event
        .json("peer")
        .and_then(|p| p.get("id"))
        .and_then(Value::as_str)
    {
        put("peer", peer);
    }
    if let Some(variable) = string("variable") {
        put("variable", variable);
        put("value", string("value").unwrap_or_default());
    }
    if let Some(cause) = event.json("cause").and_then(Value::as_i64) {
        put("cause", &cause.to_string());
    }
    if let Some(args) = event.json("args").filter(|a| a.is_array()) {
        put("args", &args.to_string());
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::event::Scope;

    fn entry(text: &str) -> LogEntry {
        LogEntry::now("0123456789ab", Some(1), EntryKind::Session, text.into())
    }

    #[test]
    fn the_ring_keeps_the_latest_entries_and_followers_get_new_ones() {
        let log = AppLog::default();
        for n in 0..HISTORY + 5 {
            log.push(entry(&n.to_string()));
        }
        let recent = log.recent(3);
        let texts: Vec<String> = recent.iter().map(|e| e.text().into_owned()).collect();
        let last = HISTORY + 4;
        assert_eq!(
            texts,
            [
                (last - 2).to_string(),
                (last - 1).to_string(),
                last.to_string()
            ]
        );
        assert_eq!(log.recent(usize::MAX).len(), HISTORY);
        let (backlog, mut rx) = log.follow(1);
        assert_eq!(backlog.len(), 1);
        log.push(entry("new"));
        assert_eq!(
            rx.try_recv().map(|e| e.text().into_owned()).ok().as_deref(),
            Some("new")
        );
        for _ in 0..FOLLOW_BUFFER + 3 {
            log.push(entry("x"));
        }
        assert!(matches!(
            rx.try_recv(),
            Err(broadcast::error::TryRecvError::Lagged(3))
        ));
        drop(log);
        let mut rest = 0;
        while rx.try_recv().is_ok() {
            rest += 1;
        }
        assert_eq!(rest, FOLLOW_BUFFER);
        assert!(matches!(
            rx.try_recv(),
            Err(broadcast::error::TryRecvError::Closed)
        ));
    }

    #[test]
    fn long_texts_are_cut() {
        let long = format!("é{}", "x".repeat(MAX_TEXT * 3));
        let entry = LogEntry::now("v", None, EntryKind::Session, long);
        let text = entry.text();
        assert!(text.len() <= MAX_TEXT + '…'.len_utf8(), "{}", text.len());
        assert!(text.starts_with("éxx") && text.ends_with("x…"));
    }

    #[test]
    fn lines_are_defaulted_clamped_and_checked() {
        assert_eq!(lines(None), Ok(DEFAULT_LINES));
        assert_eq!(lines(Some(5)), Ok(5));
        assert_eq!(lines(Some(1_000_000)), Ok(HISTORY));
        assert_eq!(lines(Some(-1)), Err(NegativeLines(-1)));
    }

    #[test]
    fn entries_and_event_lines_are_short_json() {
        let event = Event::new("DtmfReceived", Scope::default())
            .with("digit", json!("4"))
            .with("channel", json!({"id": "c1"}));
        assert_eq!(event_text(&event), "DtmfReceived digit=4 channel=c1");
        let start = Event::new("StasisStart", Scope::default())
            .with("args", json!(["a", "b"]))
            .with("channel", json!({"id": "c2"}));
        assert_eq!(
            event_text(&start),
            r#"StasisStart channel=c2 args=["a","b"]"#
        );
        let line = LogEntry::now(
            "0123456789ab",
            Some(7),
            EntryKind::Log {
                stream: "stdout",
                level: None,
            },
            "hi\u{1b}[2J".into(),
        );
        let value = line.to_json("ivr");
        assert_eq!(value["kind"], "log");
        assert_eq!(value["stream"], "stdout");
        assert_eq!(value["app"], "ivr");
        assert_eq!(value["session"], 7);
        assert_eq!(value["text"], "hi\u{1b}[2J");
        assert!(value.to_string().contains("\\u001b"), "JSON-encoded");
    }
}
