//! The request-head normaliser: a sans-IO filter between a connection's bytes and hyper, so
//! that every request head Asterisk accepts is one hyper accepts too, and every head
//! Asterisk refuses reaches the front door as a marked request it answers like Asterisk.
//!
//! Asterisk reads a head line by line (a line ends at LF; trailing bytes below `!`, CR
//! included, are blanks). The request line's first blank-delimited token is the method
//! (GET, POST, HEAD, PUT, DELETE and OPTIONS case-insensitively, anything else "unknown"),
//! the next token the target; the rest, HTTP version included, is ignored. A header line
//! without `:`, or with an empty name or value, is skipped. A line of 4095 bytes without
//! its LF is refused (400), so is a request line without a target (400); a 101st header is
//! refused (413); a `Transfer-Encoding` other than `identity` or `chunked` is refused (501);
//! a `Content-Length` that is not a non-negative number is refused (400). A target that does
//! not start with `/` is not found (404). hyper (through the `http` crate) is stricter about
//! all of that, and answers what it refuses with an empty 400.
//!
//! So each head is rebuilt in the form hyper reads the same way: the method as a token, the
//! target with the bytes the `http` crate refuses percent-encoded (they decode back to the
//! same bytes), `HTTP/1.1`, the header lines Asterisk keeps, and one canonical framing header.
//! A head that is refused becomes `GET / HTTP/1.1` with the [`REFUSED_HEADER`] naming the
//! [`Refusal`]; that header is dropped from what clients send, so it cannot be forged.
//! Heads already in that form pass unchanged and without being copied
//! ([`HeadNormalizer::pass_through`]); only the others are rebuilt ([`HeadNormalizer::feed`]).
//!
//! Bodies pass unchanged; their framing (`Content-Length` or chunked) is followed so that the
//! next head of a keep-alive or pipelined connection is found. After a request that asks for
//! an upgrade, bytes pass untouched until the transport says whether the connection switched
//! protocols ([`HeadNormalizer::upgrade_answered`]). After a refusal nothing more is
//! forwarded: the front answers and closes, as Asterisk does.

use http::StatusCode;

mod builder;
mod bytes;
mod chunked;
mod clean;
#[cfg(test)]
mod tests;

use builder::Builder;
use bytes::{is_blank, skip_blanks, trim_end_blanks};
use chunked::{ChunkProgress, ChunkScan};
use clean::clean_head;

/// Whether `bytes` contain [`REFUSED_HEADER`] (any case): a stream the normaliser marked,
/// or one that names the marker itself.
pub fn contains_marker(bytes: &[u8]) -> bool {
    bytes
        .windows(REFUSED_HEADER.len())
        .any(|w| w.eq_ignore_ascii_case(REFUSED_HEADER.as_bytes()))
}

/// The longest line Asterisk reads, its LF included.
pub const MAX_LINE: usize = 4095;
/// The most header lines a request may keep.
pub const MAX_HEADERS: usize = 100;
/// The header the normaliser adds to a head it refused (never taken from a client); such a
/// head always asks for `/`, so the front looks for it on those requests only.
pub const REFUSED_HEADER: &str = "x-wari-refused";

/// Why a request head is not served as sent. The front answers each with Asterisk's status
/// and message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The request line has no target.
    InvalidRequest,
    /// The request line does not fit in [`MAX_LINE`] bytes.
    RequestLineTooLong,
    /// A header line does not fit in [`MAX_LINE`] bytes.
    HeaderLineTooLong,
    /// More than [`MAX_HEADERS`] header lines.
    TooManyHeaders,
    /// A `Transfer-Encoding` other than `identity` or `chunked`.
    UnsupportedTransferEncoding,
    /// A `Content-Length` that is not a non-negative number.
    InvalidContentLength,
    /// A target that is not a path (`*`, `http://...`, `ari/...`): nothing is served there.
    /// The only one after which the connection stays open.
    NotFound,
}

impl Refusal {
    const ALL: [Refusal; 7] = [
        Refusal::InvalidRequest,
        Refusal::RequestLineTooLong,
        Refusal::HeaderLineTooLong,
        Refusal::TooManyHeaders,
        Refusal::UnsupportedTransferEncoding,
        Refusal::InvalidContentLength,
        Refusal::NotFound,
    ];

    /// The value of [`REFUSED_HEADER`] that names this refusal.
    pub fn code(self) -> &'static str {
        match self {
            Refusal::InvalidRequest => "invalid-request",
            Refusal::RequestLineTooLong => "request-line-too-long",
            Refusal::HeaderLineTooLong => "header-line-too-long",
            Refusal::TooManyHeaders => "too-many-headers",
            Refusal::UnsupportedTransferEncoding => "unsupported-transfer-encoding",
            Refusal::InvalidContentLength => "invalid-content-length",
            Refusal::NotFound => "not-found",
        }
    }

    /// The refusal a [`REFUSED_HEADER`] value names.
    pub fn from_code(code: &[u8]) -> Option<Refusal> {
        Refusal::ALL
            .into_iter()
            .find(|r| r.code().as_bytes() == code)
    }

    /// The status Asterisk answers with.
    pub fn status(self) -> StatusCode {
        match self {
            Refusal::TooManyHeaders => StatusCode::PAYLOAD_TOO_LARGE,
            Refusal::UnsupportedTransferEncoding => StatusCode::NOT_IMPLEMENTED,
            Refusal::NotFound => StatusCode::NOT_FOUND,
            _ => StatusCode::BAD_REQUEST,
        }
    }

    /// The reason phrase Asterisk's status line carries.
    pub fn reason(self) -> &'static str {
        match self {
            Refusal::TooManyHeaders => "Request Entity Too Large",
            Refusal::UnsupportedTransferEncoding => "Unimplemented",
            Refusal::NotFound => "Not Found",
            _ => "Bad Request",
        }
    }

    /// The message Asterisk's error page carries.
    pub fn message(self) -> &'static str {
        match self {
            Refusal::InvalidRequest => "Invalid Request",
            Refusal::RequestLineTooLong => "Request line too long",
            Refusal::HeaderLineTooLong => "Header line too long",
            Refusal::TooManyHeaders => "Too many headers",
            Refusal::UnsupportedTransferEncoding => "Unsupported Transfer-Encoding.",
            Refusal::InvalidContentLength => "Invalid Content-Length in request!",
            Refusal::NotFound => "The requested URL was not found on this server.",
        }
    }

    /// Whether the connection closes after the answer.
    pub fn closes(self) -> bool {
        self != Refusal::NotFound
    }
}

/// How a request's body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    Length(u64),
    Chunked,
}

/// Where a connection stands, as far as reading requests goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// No part of a request has arrived since the last one was read whole.
    Between,
    /// Part of a request (head or body) has arrived, not all of it.
    Request,
    /// Not reading HTTP requests: waiting for an upgrade's answer, upgraded, or refused.
    Untimed,
}

/// Where the normaliser is in the connection's byte stream.
#[derive(Debug)]
enum State {
    /// At or inside a request head.
    Head,
    /// Inside a `Content-Length` body.
    Body { remaining: u64, upgrade: bool },
    /// Inside a chunked body.
    Chunked { scan: ChunkScan, upgrade: bool },
    /// After a request asking for an upgrade, until its answer is known: bytes pass untouched.
    AwaitingUpgrade,
    /// For good: bytes pass untouched (the connection switched protocols, or a chunked body
    /// could not be followed).
    Raw,
    /// A head was refused: nothing more is forwarded.
    Closed,
}

/// The normaliser of one connection's request heads.
#[derive(Debug)]
pub struct HeadNormalizer {
    state: State,
    /// The line being read, while a head does not arrive whole and clean.
    line: Vec<u8>,
    /// The head being rebuilt, once its request line has been read.
    head: Option<Builder>,
    /// The lines of that head as they came, while it may still prove clean (then they go
    /// to hyper unchanged, exactly as when the head arrives whole).
    raw: Vec<u8>,
    /// The head is too long to be clean: its raw lines are no longer kept.
    raw_dropped: bool,
}

/// The longest head that can be clean: a request line, [`MAX_HEADERS`] header lines and
/// the blank line.
const MAX_CLEAN_HEAD: usize = (MAX_HEADERS + 2) * MAX_LINE;

impl Default for HeadNormalizer {
    fn default() -> HeadNormalizer {
        HeadNormalizer::new()
    }
}

impl HeadNormalizer {
    /// A normaliser at the start of a connection.
    pub fn new() -> HeadNormalizer {
        HeadNormalizer {
            state: State::Head,
            line: Vec::new(),
            head: None,
            raw: Vec::new(),
            raw_dropped: false,
        }
    }

    /// How many leading bytes of `input` go to hyper unchanged: body bytes, bytes after an
    /// upgrade, and whole heads that are already clean. The state moves past them; the rest
    /// of `input` must go through [`HeadNormalizer::feed`].
    pub fn pass_through(&mut self, input: &[u8]) -> usize {
        let mut pos = 0;
        while pos < input.len() {
            let rest = &input[pos..];
            match &mut self.state {
                State::Head => {
                    if !self.line.is_empty() || self.head.is_some() {
                        break;
                    }
                    let Some(clean) = clean_head(rest) else {
                        break;
                    };
                    pos += clean.len;
                    self.start_body(Framing::Length(clean.content_length), clean.upgrade);
                }
                State::Body { remaining, upgrade } => {
                    let n = (*remaining).min(rest.len() as u64);
                    *remaining -= n;
                    pos += n as usize;
                    if *remaining == 0 {
                        let upgrade = *upgrade;
                        self.end_body(upgrade);
                    }
                }
                State::Chunked { scan, upgrade } => {
                    let (n, progress) = scan.advance(rest);
                    pos += n;
                    match progress {
                        ChunkProgress::More => {}
                        ChunkProgress::Done => {
                            let upgrade = *upgrade;
                            self.end_body(upgrade);
                        }
                        ChunkProgress::Broken => self.state = State::Raw,
                    }
                }
                State::AwaitingUpgrade | State::Raw => pos = input.len(),
                State::Closed => break,
            }
        }
        pos
    }

    /// Takes bytes from the client and appends what hyper is to read to `out`.
    pub fn feed(&mut self, input: &[u8], out: &mut Vec<u8>) {
        let mut pos = 0;
        while pos < input.len() {
            let n = self.pass_through(&input[pos..]);
            out.extend_from_slice(&input[pos..pos + n]);
            pos += n;
            if pos == input.len() {
                break;
            }
            match self.state {
                State::Closed => return,
                State::Head => pos += self.head_bytes(&input[pos..], out),
                // pass_through takes every byte in the other states; were it not to, the
                // bytes would still reach hyper, as they are.
                _ => {
                    out.extend_from_slice(&input[pos..]);
                    return;
                }
            }
        }
    }

    /// True between a request asking for an upgrade and [`HeadNormalizer::upgrade_answered`].
    pub fn awaiting_upgrade(&self) -> bool {
        matches!(self.state, State::AwaitingUpgrade)
    }

    /// The answer to the request that asked for an upgrade: when the connection switched
    /// protocols, every later byte passes untouched; otherwise the next head is read.
    pub fn upgrade_answered(&mut self, switched: bool) {
        if self.awaiting_upgrade() {
            self.state = if switched { State::Raw } else { State::Head };
        }
    }

    /// Where the connection stands between and within requests (for its read deadlines).
    pub fn phase(&self) -> Phase {
        match self.state {
            State::Head if self.line.is_empty() && self.head.is_none() => Phase::Between,
            State::Head | State::Body { .. } | State::Chunked { .. } => Phase::Request,
            State::AwaitingUpgrade | State::Raw | State::Closed => Phase::Untimed,
        }
    }

    /// True once a refusal was produced: the connection is to close.
    pub fn closed(&self) -> bool {
        matches!(self.state, State::Closed)
    }

    fn start_body(&mut self, framing: Framing, upgrade: bool) {
        match framing {
            Framing::Length(0) => self.end_body(upgrade),
            Framing::Length(remaining) => self.state = State::Body { remaining, upgrade },
            Framing::Chunked => {
                self.state = State::Chunked {
                    scan: ChunkScan::default(),
                    upgrade,
                }
            }
        }
    }

    fn end_body(&mut self, upgrade: bool) {
        self.state = if upgrade {
            State::AwaitingUpgrade
        } else {
            State::Head
        };
    }

    /// Reads head bytes line by line (the slow path); returns how many were consumed.
    fn head_bytes(&mut self, input: &[u8], out: &mut Vec<u8>) -> usize {
        let room = MAX_LINE - self.line.len();
        let window = &input[..input.len().min(room)];
        match window.iter().position(|&b| b == b'\n') {
            Some(lf) => {
                self.line.extend_from_slice(&window[..lf]);
                let line = std::mem::take(&mut self.line);
                if !self.raw_dropped {
                    if self.raw.len() + line.len() < MAX_CLEAN_HEAD {
                        self.raw.extend_from_slice(&line);
                        self.raw.push(b'\n');
                    } else {
                        self.raw_dropped = true;
                        self.raw = Vec::new();
                    }
                }
                self.line_done(&line, out);
                // Keep the allocation for the next line.
                self.line = line;
                self.line.clear();
                lf + 1
            }
            None if input.len() >= room => {
                let refusal = if self.head.is_some() {
                    Refusal::HeaderLineTooLong
                } else {
                    Refusal::RequestLineTooLong
                };
                self.refuse(refusal, out);
                input.len()
            }
            None => {
                self.line.extend_from_slice(input);
                input.len()
            }
        }
    }

    /// One whole line of a head, without its LF.
    fn line_done(&mut self, line: &[u8], out: &mut Vec<u8>) {
        // Asterisk handles lines as C strings: a NUL ends them.
        let line = match line.iter().position(|&b| b == 0) {
            Some(nul) => &line[..nul],
            None => line,
        };
        if self.head.is_none() {
            let method = skip_blanks(line);
            let method_end = method
                .iter()
                .position(|&b| is_blank(b))
                .unwrap_or(method.len());
            let target = skip_blanks(&method[method_end..]);
            let target = &target[..target
                .iter()
                .position(|&b| is_blank(b))
                .unwrap_or(target.len())];
            if target.is_empty() {
                self.refuse(Refusal::InvalidRequest, out);
            } else {
                self.head = Some(Builder::new(&method[..method_end], target));
            }
            return;
        };
        let line = trim_end_blanks(line);
        if line.is_empty() {
            self.head_done(out);
            return;
        }
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            return;
        };
        let value = skip_blanks(&line[colon + 1..]);
        if colon == 0 || value.is_empty() {
            return;
        }
        let Some(head) = &mut self.head else {
            return;
        };
        head.count += 1;
        if head.count <= MAX_HEADERS {
            head.header(trim_end_blanks(&line[..colon]), value);
        } else {
            self.refuse(Refusal::TooManyHeaders, out);
        }
    }

    fn head_done(&mut self, out: &mut Vec<u8>) {
        let Some(head) = self.head.take() else {
            return;
        };
        // A clean head that came in pieces goes to hyper as it came, as a whole one does.
        let raw = std::mem::take(&mut self.raw);
        let dropped = std::mem::replace(&mut self.raw_dropped, false);
        if !dropped && let Some(clean) = clean_head(&raw).filter(|clean| clean.len == raw.len()) {
            out.extend_from_slice(&raw);
            self.start_body(Framing::Length(clean.content_length), clean.upgrade);
            self.raw = raw;
            self.raw.clear();
            return;
        }
        self.raw = raw;
        self.raw.clear();
        match head.framing() {
            Ok(framing) => {
                head.write(framing, out);
                self.start_body(framing, head.upgrade);
            }
            Err(refusal) => self.refuse(refusal, out),
        }
    }

    fn refuse(&mut self, refusal: Refusal, out: &mut Vec<u8>) {
        self.head = None;
        self.line.clear();
        self.raw = Vec::new();
        self.raw_dropped = false;
        self.state = State::Closed;
        out.extend_from_slice(b"GET / HTTP/1.1\r\n");
        out.extend_from_slice(REFUSED_HEADER.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(refusal.code().as_bytes());
        out.extend_from_slice(b"\r\n\r\n");
    }
}
