//! chan_websocket's media protocol without the socket: the text messages wari sends
//! (`MEDIA_START`, `MEDIA_XOFF`/`MEDIA_XON`, `STATUS`, `MEDIA_MARK_PROCESSED`, ...) in the
//! plain-text or JSON form, the commands the application sends (`ANSWER`, `HANGUP`,
//! `MARK_MEDIA`, `GET_STATUS`, ...), and [`InboundQueue`], the queue of audio the
//! application sent, which the channel reads one 20 ms frame per tick.
//!
//! The queue holds at most [`QUEUE_MAX`] frames (20 s): past [`XOFF_LEVEL`] the application
//! is told `MEDIA_XOFF`, and `MEDIA_XON` once the channel has read it down below
//! [`XON_LEVEL`]; audio arriving while it is full is dropped and counted (as Asterisk
//! does). A binary message is cut into frames of the format's optimal size; a trailing
//! part is kept for the next message only while buffering (`START_MEDIA_BUFFERING`), else
//! dropped. Marks (`MARK_MEDIA`) and the end of buffering are answered when the channel
//! reaches them in the queue.

use std::collections::VecDeque;

use serde_json::{Value, json};

/// Most frames queued (20 s at 20 ms).
pub(crate) const QUEUE_MAX: usize = 1000;
/// Queue length at which `MEDIA_XOFF` is sent.
pub(crate) const XOFF_LEVEL: usize = 900;
/// Queue length below which `MEDIA_XON` is sent after an XOFF.
pub(crate) const XON_LEVEL: usize = 800;
/// Longest command accepted, in bytes; longer text messages are ignored.
pub(crate) const MAX_COMMAND: usize = 128;

/// The form of control messages (chan_websocket.conf `control_message_format`, or the
/// `f()` dial option).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum ControlFormat {
    #[default]
    PlainText,
    Json,
}

impl ControlFormat {
    /// `plain-text` or `json`.
    pub(crate) fn from_name(name: &str) -> Option<ControlFormat> {
        match name {
            "plain-text" => Some(ControlFormat::PlainText),
            "json" => Some(ControlFormat::Json),
            _ => None,
        }
    }
}

/// Which way media flows, seen from the application (`d()` option, `direction`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum Direction {
    /// Both ways.
    #[default]
    Both,
    /// The application only receives: what it sends is dropped.
    In,
    /// The application only sends: the channel's audio is not sent to it.
    Out,
}

impl Direction {
    pub(crate) fn from_name(name: &str) -> Option<Direction> {
        match name {
            "both" => Some(Direction::Both),
            "in" => Some(Direction::In),
            "out" => Some(Direction::Out),
            _ => None,
        }
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Direction::Both => "both",
            Direction::In => "in",
            Direction::Out => "out",
        }
    }
}

/// What the `MEDIA_START` message describes.
#[derive(Debug, Clone)]
pub(crate) struct MediaStart<'a> {
    pub connection_id: &'a str,
    pub channel: &'a str,
    pub channel_id: &'a str,
    pub format: &'a str,
    pub optimal_frame_size: usize,
    pub ptime: u32,
    /// The channel's variables (JSON form only).
    pub variables: &'a [(String, String)],
}

/// Builds the text messages sent to one application.
#[derive(Debug, Clone)]
pub(crate) struct Messages {
    pub format: ControlFormat,
    pub channel_id: String,
}

impl Messages {
    /// `MEDIA_START`, first message on every connection.
    pub(crate) fn media_start(&self, start: &MediaStart<'_>) -> String {
        match self.format {
            ControlFormat::Json => {
                let variables: serde_json::Map<String, Value> = start
                    .variables
                    .iter()
                    .map(|(name, value)| (name.clone(), json!(value)))
                    .collect();
                json!({
                    "event": "MEDIA_START",
                    "connection_id": start.connection_id,
                    "channel": start.channel,
                    "channel_id": start.channel_id,
                    "format": start.format,
                    "optimal_frame_size": start.optimal_frame_size,
                    "ptime": start.ptime,
                    "channel_variables": variables,
                })
                .to_string()
            }
            ControlFormat::PlainText => format!(
                "MEDIA_START connection_id:{} channel:{} channel_id:{} format:{} optimal_frame_size:{} ptime:{}",
                start.connection_id,
                start.channel,
                start.channel_id,
                start.format,
                start.optimal_frame_size,
                start.ptime
            ),
        }
    }

    /// An event without data: `MEDIA_XON`, `MEDIA_XOFF`, `QUEUE_DRAINED`.
    pub(crate) fn plain_event(&self, event: &str) -> String {
        match self.format {
            ControlFormat::Json => {
                json!({"event": event, "channel_id": self.channel_id}).to_string()
            }
            ControlFormat::PlainText => event.to_string(),
        }
    }

    /// An event answering a command with a correlation id: `MEDIA_MARK_PROCESSED`,
    /// `MEDIA_BUFFERING_COMPLETED`.
    pub(crate) fn correlated(&self, event: &str, id: &str) -> String {
        match self.format {
            ControlFormat::Json => {
                json!({"event": event, "channel_id": self.channel_id, "correlation_id": id})
                    .to_string()
            }
            ControlFormat::PlainText if id.is_empty() => event.to_string(),
            ControlFormat::PlainText => format!("{event} {id}"),
        }
    }

    /// `DTMF_END`: a digit sent on the channel.
    pub(crate) fn dtmf_end(&self, digit: char) -> String {
        match self.format {
            ControlFormat::Json => {
                json!({"event": "DTMF_END", "channel_id": self.channel_id, "digit": digit.to_string()})
                    .to_string()
            }
            ControlFormat::PlainText => {
                format!("DTMF_END digit:{digit} channel_id:{}", self.channel_id)
            }
        }
    }

    /// `STATUS`, the answer to `GET_STATUS`.
    pub(crate) fn status(&self, status: &Status) -> String {
        match self.format {
            ControlFormat::Json => json!({
                "event": "STATUS",
                "channel_id": self.channel_id,
                "queue_length": status.queue_length,
                "xon_level": XON_LEVEL,
                "xoff_level": XOFF_LEVEL,
                "queue_full": status.queue_full,
                "bulk_media": status.bulk_media,
                "media_paused": status.media_paused,
            })
            .to_string(),
            ControlFormat::PlainText => format!(
                "STATUS channel_id:{} queue_length:{} xon_level:{XON_LEVEL} xoff_level:{XOFF_LEVEL} queue_full:{} bulk_media:{} media_paused:{}",
                self.channel_id,
                status.queue_length,
                status.queue_full,
                status.bulk_media,
                status.media_paused
            ),
        }
    }

    /// `ERROR` with a text.
    pub(crate) fn error(&self, text: &str) -> String {
        match self.format {
            ControlFormat::Json => {
                json!({"event": "ERROR", "channel_id": self.channel_id, "error_text": text})
                    .to_string()
            }
            ControlFormat::PlainText => {
                format!("ERROR channel_id:{} error_text:{text}", self.channel_id)
            }
        }
    }
}

/// A command from the application.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Command {
    Answer,
    Hangup,
    StartBuffering,
    /// With its correlation id (may be empty).
    StopBuffering(String),
    MarkMedia(String),
    FlushMedia,
    ReportQueueDrained,
    GetStatus,
    PauseMedia,
    ContinueMedia,
    /// `SET_MEDIA_DIRECTION` with its `direction` (JSON only).
    SetDirection(Option<String>),
    /// A command no one knows, as sent.
    Unknown(String),
}

/// Why a text message is not a command.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum CommandError {
    #[error("empty text message")]
    Empty,
    #[error("text message of {0} bytes is longer than {MAX_COMMAND}")]
    TooLong(usize),
    #[error("Unable to parse JSON command")]
    Json,
}

/// Reads one text message as a command in `format`.
pub(crate) fn parse_command(text: &str, format: ControlFormat) -> Result<Command, CommandError> {
    if text.is_empty() {
        return Err(CommandError::Empty);
    }
    if text.len() > MAX_COMMAND {
        return Err(CommandError::TooLong(text.len()));
    }
    let text = text.trim();
    let (name, data, direction) = match format {
        ControlFormat::Json => {
            let value: Value = serde_json::from_str(text).map_err(|_| CommandError::Json)?;
            let field = |key: &str| value.get(key).and_then(Value::as_str).map(str::to_string);
            (
                field("command").unwrap_or_default(),
                field("correlation_id").unwrap_or_default(),
                field("direction"),
            )
        }
        ControlFormat::PlainText => {
            let (name, data) = text.split_once(' ').unwrap_or((text, ""));
            (name.to_string(), data.to_string(), None)
        }
    };
    Ok(match name.as_str() {
        "ANSWER" => Command::Answer,
        "HANGUP" => Command::Hangup,
        "START_MEDIA_BUFFERING" => Command::StartBuffering,
        "STOP_MEDIA_BUFFERING" => Command::StopBuffering(data),
        "MARK_MEDIA" => Command::MarkMedia(data),
        "FLUSH_MEDIA" => Command::FlushMedia,
        "REPORT_QUEUE_DRAINED" => Command::ReportQueueDrained,
        "GET_STATUS" => Command::GetStatus,
        "PAUSE_MEDIA" => Command::PauseMedia,
        "CONTINUE_MEDIA" => Command::ContinueMedia,
        "SET_MEDIA_DIRECTION" => Command::SetDirection(direction),
        _ => Command::Unknown(name),
    })
}

/// The queue's state, for `STATUS`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Status {
    pub queue_length: usize,
    pub queue_full: bool,
    pub bulk_media: bool,
    pub media_paused: bool,
}

/// One queued item: a frame of audio, or a message sent when the channel reaches it.
#[derive(Debug)]
enum Item {
    Audio(Vec<u8>),
    Notice(String),
}

/// The audio an application sent, waiting for the channel to read it.
#[derive(Debug)]
pub(crate) struct InboundQueue {
    frame_bytes: usize,
    items: VecDeque<Item>,
    /// Audio frames in `items`.
    frames: usize,
    leftover: Vec<u8>,
    bulk: bool,
    paused: bool,
    full: bool,
    report_drained: bool,
    /// Whether a partial frame always waits for the next bytes (a byte stream, as
    /// AudioSocket is), not only while buffering.
    stream: bool,
    dropped: u64,
}

impl InboundQueue {
    /// A queue of frames of `frame_bytes` bytes (the format's 20 ms).
    pub(crate) fn new(frame_bytes: usize) -> InboundQueue {
        InboundQueue {
            frame_bytes: frame_bytes.max(1),
            items: VecDeque::new(),
            frames: 0,
            leftover: Vec::new(),
            bulk: false,
            paused: false,
            full: false,
            report_drained: false,
            stream: false,
            dropped: 0,
        }
    }

    /// A queue for a byte stream: bytes are framed across messages.
    pub(crate) fn for_stream(frame_bytes: usize) -> InboundQueue {
        InboundQueue {
            stream: true,
            ..InboundQueue::new(frame_bytes)
        }
    }

    /// Takes the bytes of one binary message; messages to send right away (XOFF) are
    /// added to `out`.
    pub(crate) fn push_audio(
        &mut self,
        mut bytes: &[u8],
        messages: &Messages,
        out: &mut Vec<String>,
    ) {
        if self.frames >= QUEUE_MAX {
            self.dropped += 1;
            return;
        }
        let keep_partial = self.bulk || self.stream;
        if !keep_partial {
            self.leftover.clear();
        }
        if !self.leftover.is_empty() {
            let needed = self.frame_bytes - self.leftover.len();
            let take = needed.min(bytes.len());
            self.leftover.extend_from_slice(&bytes[..take]);
            bytes = &bytes[take..];
            if self.leftover.len() < self.frame_bytes {
                return;
            }
            let frame = std::mem::take(&mut self.leftover);
            self.queue_frame(frame, messages, out);
        }
        let mut chunks = bytes.chunks_exact(self.frame_bytes);
        for chunk in chunks.by_ref() {
            if self.frames >= QUEUE_MAX {
                self.dropped += 1;
                return;
            }
            self.queue_frame(chunk.to_vec(), messages, out);
        }
        if keep_partial {
            self.leftover.extend_from_slice(chunks.remainder());
        }
    }

    fn queue_frame(&mut self, frame: Vec<u8>, messages: &Messages, out: &mut Vec<String>) {
        self.items.push_back(Item::Audio(frame));
        self.frames += 1;
        if !self.full && self.frames >= XOFF_LEVEL {
            self.full = true;
            out.push(messages.plain_event("MEDIA_XOFF"));
        }
    }

    /// The next frame for the channel (one per tick), and the messages reached on the way
    /// (marks, end of buffering, XON, QUEUE_DRAINED) in `out`. `None`: silence this tick.
    pub(crate) fn pop(&mut self, messages: &Messages, out: &mut Vec<String>) -> Option<Vec<u8>> {
        if self.paused {
            return None;
        }
        if self.full && self.frames < XON_LEVEL {
            self.full = false;
            out.push(messages.plain_event("MEDIA_XON"));
        }
        loop {
            match self.items.pop_front() {
                Some(Item::Notice(text)) => out.push(text),
                Some(Item::Audio(frame)) => {
                    self.frames -= 1;
                    return Some(frame);
                }
                None => {
                    if self.report_drained {
                        self.report_drained = false;
                        out.push(messages.plain_event("QUEUE_DRAINED"));
                    }
                    return None;
                }
            }
        }
    }

    /// `START_MEDIA_BUFFERING`.
    pub(crate) fn start_buffering(&mut self) {
        self.bulk = true;
    }

    /// `STOP_MEDIA_BUFFERING`: a partial frame left is queued as it is, and
    /// `MEDIA_BUFFERING_COMPLETED` follows the audio.
    pub(crate) fn stop_buffering(&mut self, id: &str, messages: &Messages, out: &mut Vec<String>) {
        self.bulk = false;
        if !self.leftover.is_empty() {
            let frame = std::mem::take(&mut self.leftover);
            self.queue_frame(frame, messages, out);
        }
        self.items.push_back(Item::Notice(
            messages.correlated("MEDIA_BUFFERING_COMPLETED", id),
        ));
    }

    /// `MARK_MEDIA`: `MEDIA_MARK_PROCESSED` once the audio before it is read.
    pub(crate) fn mark(&mut self, id: &str, messages: &Messages) {
        self.items.push_back(Item::Notice(
            messages.correlated("MEDIA_MARK_PROCESSED", id),
        ));
    }

    /// `FLUSH_MEDIA`: everything queued is dropped.
    pub(crate) fn flush(&mut self) {
        self.items.clear();
        self.frames = 0;
        self.bulk = false;
        self.leftover.clear();
    }

    pub(crate) fn report_drained(&mut self) {
        self.report_drained = true;
    }

    pub(crate) fn set_paused(&mut self, paused: bool) {
        self.paused = paused;
    }

    pub(crate) fn status(&self) -> Status {
        Status {
            queue_length: self.frames,
            queue_full: self.full,
            bulk_media: self.bulk,
            media_paused: self.paused,
        }
    }

    /// Messages dropped because the queue was full.
    pub(crate) fn dropped(&self) -> u64 {
        self.dropped
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn messages(format: ControlFormat) -> Messages {
        Messages {
            format,
            channel_id: "c1".into(),
        }
    }

    #[test]
    fn media_start_in_both_forms() {
        let vars = vec![("A".to_string(), "1".to_string())];
        let start = MediaStart {
            connection_id: "abc",
            channel: "WebSocket/INCOMING/0x1",
            channel_id: "c1",
            format: "ulaw",
            optimal_frame_size: 160,
            ptime: 20,
            variables: &vars,
        };
        assert_eq!(
            messages(ControlFormat::PlainText).media_start(&start),
            "MEDIA_START connection_id:abc channel:WebSocket/INCOMING/0x1 channel_id:c1 format:ulaw optimal_frame_size:160 ptime:20"
        );
        let json: Value =
            serde_json::from_str(&messages(ControlFormat::Json).media_start(&start)).unwrap();
        assert_eq!(json["event"], "MEDIA_START");
        assert_eq!(json["optimal_frame_size"], 160);
        assert_eq!(json["channel_variables"]["A"], "1");
    }

    #[test]
    fn commands_in_both_forms() {
        let plain = |t| parse_command(t, ControlFormat::PlainText);
        assert_eq!(plain("HANGUP"), Ok(Command::Hangup));
        assert_eq!(
            plain(" MARK_MEDIA m1 "),
            Ok(Command::MarkMedia("m1".into()))
        );
        assert_eq!(plain("NOPE x"), Ok(Command::Unknown("NOPE".into())));
        assert_eq!(plain(""), Err(CommandError::Empty));
        assert_eq!(plain(&"A".repeat(200)), Err(CommandError::TooLong(200)));
        let json = |t| parse_command(t, ControlFormat::Json);
        assert_eq!(
            json(r#"{"command":"MARK_MEDIA","correlation_id":"x"}"#),
            Ok(Command::MarkMedia("x".into()))
        );
        assert_eq!(json("HANGUP"), Err(CommandError::Json));
    }

    #[test]
    fn messages_are_cut_into_frames_and_partial_frames_wait_only_while_buffering() {
        let m = messages(ControlFormat::PlainText);
        let mut out = Vec::new();
        let mut q = InboundQueue::new(4);
        q.push_audio(&[1, 1, 1, 1, 2, 2, 2, 2, 3], &m, &mut out);
        assert_eq!(q.status().queue_length, 2);
        q.push_audio(&[3, 3, 3], &m, &mut out);
        assert_eq!(q.status().queue_length, 2, "the lone byte was dropped");
        q.start_buffering();
        q.push_audio(&[4, 4], &m, &mut out);
        q.push_audio(&[4, 4, 5], &m, &mut out);
        q.stop_buffering("b", &m, &mut out);
        q.mark("m", &m);
        let mut frames = Vec::new();
        for _ in 0..6 {
            frames.push(q.pop(&m, &mut out));
        }
        assert_eq!(
            frames,
            [
                Some(vec![1; 4]),
                Some(vec![2; 4]),
                Some(vec![4; 4]),
                Some(vec![5]),
                None,
                None
            ]
        );
        assert_eq!(
            out,
            ["MEDIA_BUFFERING_COMPLETED b", "MEDIA_MARK_PROCESSED m"]
        );
    }

    #[test]
    fn a_full_queue_says_xoff_then_xon_and_drops_what_comes_while_full() {
        let m = messages(ControlFormat::PlainText);
        let mut out = Vec::new();
        let mut q = InboundQueue::new(2);
        q.push_audio(&vec![0; 2 * 1100], &m, &mut out);
        assert_eq!(out, ["MEDIA_XOFF"]);
        assert_eq!(q.status().queue_length, QUEUE_MAX);
        assert_eq!(q.dropped(), 1);
        q.push_audio(&[0, 0], &m, &mut out);
        assert_eq!(q.dropped(), 2);
        out.clear();
        // XON once a tick finds the queue below the XON level.
        for _ in 0..=(QUEUE_MAX - XON_LEVEL) {
            assert!(q.pop(&m, &mut out).is_some());
        }
        assert!(out.is_empty(), "{out:?}");
        assert!(q.pop(&m, &mut out).is_some());
        assert_eq!(out, ["MEDIA_XON"]);
        q.flush();
        q.report_drained();
        out.clear();
        assert_eq!(q.pop(&m, &mut out), None);
        assert_eq!(out, ["QUEUE_DRAINED"]);
    }

    #[test]
    fn a_stream_queue_frames_across_messages() {
        let m = messages(ControlFormat::PlainText);
        let mut out = Vec::new();
        let mut q = InboundQueue::for_stream(4);
        q.push_audio(&[1, 1, 1], &m, &mut out);
        q.push_audio(&[1, 2, 2], &m, &mut out);
        assert_eq!(q.pop(&m, &mut out), Some(vec![1; 4]));
        assert_eq!(q.pop(&m, &mut out), None);
        q.set_paused(true);
        q.push_audio(&[2, 2], &m, &mut out);
        assert_eq!(q.pop(&m, &mut out), None, "paused");
        q.set_paused(false);
        assert_eq!(q.pop(&m, &mut out), Some(vec![2; 4]));
    }
}
