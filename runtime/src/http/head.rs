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

/// A head being rebuilt on the slow path.
#[derive(Debug)]
struct Builder {
    method: &'static [u8],
    /// The client's method when it is an unknown one that is a valid token.
    other_method: Vec<u8>,
    target: Vec<u8>,
    /// Header lines to keep, CRLF-terminated.
    lines: Vec<u8>,
    /// Header lines counted as Asterisk counts them.
    count: usize,
    content_length: Option<Vec<u8>>,
    transfer_encoding: Option<Vec<u8>>,
    upgrade: bool,
}

/// The methods Asterisk knows, in their canonical spelling.
const METHODS: [&[u8]; 6] = [b"GET", b"POST", b"HEAD", b"PUT", b"DELETE", b"OPTIONS"];

impl Builder {
    fn new(method: &[u8], target: &[u8]) -> Builder {
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
    fn header(&mut self, name: &[u8], value: &[u8]) {
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
    fn framing(&self) -> Result<Framing, Refusal> {
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

    fn write(&self, framing: Framing, out: &mut Vec<u8>) {
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
fn content_length(value: &[u8]) -> Option<u64> {
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

/// A head that may go to hyper unchanged.
struct CleanHead {
    len: usize,
    content_length: u64,
    upgrade: bool,
}

/// `input` starts with a whole head that hyper reads exactly as Asterisk does: a known
/// method, a target with nothing to encode, `HTTP/1.1`, CRLF line ends, well-formed header
/// lines (none dropped, at most one plain `Content-Length`, no `Transfer-Encoding`, no
/// refusal marker), all within the limits. One pass over the bytes, no copy.
fn clean_head(input: &[u8]) -> Option<CleanHead> {
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

/// Asterisk's blanks: every byte below `!`.
fn is_blank(b: u8) -> bool {
    b < 33
}

fn skip_blanks(s: &[u8]) -> &[u8] {
    let start = s.iter().position(|&b| !is_blank(b)).unwrap_or(s.len());
    &s[start..]
}

fn trim_end_blanks(s: &[u8]) -> &[u8] {
    let end = s.iter().rposition(|&b| !is_blank(b)).map_or(0, |i| i + 1);
    &s[..end]
}

/// A byte table: `TABLE[b]` says whether byte `b` is in the class.
type ByteClass = [bool; 256];

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
const TOKEN: ByteClass = byte_class!(token_byte);
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
const VALUE: ByteClass = byte_class!(value_byte);
const fn value_byte(b: u8) -> bool {
    b == b'\t' || (b >= b' ' && b <= b'~') || b >= 0x80
}

/// Target bytes the `http` crate takes as they are, in the path and in the query. The
/// others (`"`, `#`, `<`, `>`, `` ` ``, DEL and non-ASCII) are percent-encoded; ARI decodes
/// them back to the same bytes. Blanks never reach here: they end the target.
const PLAIN_TARGET: ByteClass = byte_class!(plain_target_byte);
const fn plain_target_byte(b: u8) -> bool {
    b > b' ' && b < 0x7f && !matches!(b, b'"' | b'#' | b'<' | b'>' | b'`')
}

fn is_token(b: u8) -> bool {
    TOKEN[usize::from(b)]
}

fn is_value_byte(b: u8) -> bool {
    VALUE[usize::from(b)]
}

fn is_plain_target_byte(b: u8) -> bool {
    PLAIN_TARGET[usize::from(b)]
}

/// Following a chunked body to its end, as Asterisk reads one: a size line (hex digits up to
/// CR or `;`, the line ending at LF), the data and CRLF, until a zero size; then trailer
/// lines up to a blank one.
#[derive(Debug, Default)]
struct ChunkScan {
    phase: ChunkPhase,
    /// Bytes of the current size or trailer line so far.
    line_len: usize,
}

#[derive(Debug, Default)]
enum ChunkPhase {
    /// At the start of a size line.
    #[default]
    SizeStart,
    /// Reading the size's hex digits.
    Size(u64),
    /// In a chunk extension (after `;`), up to CR.
    Extension(u64),
    /// After the size line's CR, up to LF.
    SizeEnd(u64),
    Data(u64),
    /// The CR after the data.
    DataCr,
    /// The LF after the data.
    DataLf,
    /// In a trailer line; `content` once a non-blank byte came before any NUL.
    Trailer {
        content: bool,
        nul: bool,
    },
}

/// What [`ChunkScan::advance`] found.
enum ChunkProgress {
    /// The body goes on.
    More,
    /// The body ended (the count returned includes its last byte).
    Done,
    /// Not a chunked body Asterisk would read: framing cannot be followed any more.
    Broken,
}

impl ChunkScan {
    /// Scans `input`; returns how many bytes belong to the body and whether it ended.
    fn advance(&mut self, input: &[u8]) -> (usize, ChunkProgress) {
        let mut i = 0;
        while i < input.len() {
            if let ChunkPhase::Data(remaining) = &mut self.phase {
                let n = (*remaining).min((input.len() - i) as u64);
                *remaining -= n;
                i += n as usize;
                if *remaining == 0 {
                    self.phase = ChunkPhase::DataCr;
                }
                continue;
            }
            let b = input[i];
            i += 1;
            match self.step(b) {
                ChunkProgress::More => {}
                done => return (i, done),
            }
        }
        (i, ChunkProgress::More)
    }

    fn step(&mut self, b: u8) -> ChunkProgress {
        let in_line = matches!(
            self.phase,
            ChunkPhase::SizeStart
                | ChunkPhase::Size(_)
                | ChunkPhase::Extension(_)
                | ChunkPhase::SizeEnd(_)
                | ChunkPhase::Trailer { .. }
        );
        if in_line {
            self.line_len += 1;
            if self.line_len >= MAX_LINE && b != b'\n' {
                return ChunkProgress::Broken;
            }
        }
        self.phase = match (std::mem::take(&mut self.phase), b) {
            (ChunkPhase::SizeStart, b) if b < b'0' => return ChunkProgress::Broken,
            (ChunkPhase::SizeStart, b) => match hex(b) {
                Some(d) => ChunkPhase::Size(u64::from(d)),
                None => return ChunkProgress::Broken,
            },
            (ChunkPhase::Size(n), b'\r') | (ChunkPhase::Extension(n), b'\r') => {
                ChunkPhase::SizeEnd(n)
            }
            (ChunkPhase::Size(n), b';') => ChunkPhase::Extension(n),
            (ChunkPhase::Size(n), b) => match hex(b) {
                Some(d) if n < (1 << 31) => ChunkPhase::Size(n * 16 + u64::from(d)),
                _ => return ChunkProgress::Broken,
            },
            (ChunkPhase::Extension(_), b'\n') => return ChunkProgress::Broken,
            (ChunkPhase::Extension(n), _) => ChunkPhase::Extension(n),
            (ChunkPhase::SizeEnd(n), b'\n') => {
                self.line_len = 0;
                if n == 0 {
                    ChunkPhase::Trailer {
                        content: false,
                        nul: false,
                    }
                } else {
                    ChunkPhase::Data(n)
                }
            }
            (ChunkPhase::SizeEnd(n), _) => ChunkPhase::SizeEnd(n),
            (ChunkPhase::DataCr, b'\r') => ChunkPhase::DataLf,
            (ChunkPhase::DataLf, b'\n') => ChunkPhase::SizeStart,
            (ChunkPhase::DataCr | ChunkPhase::DataLf, _) => return ChunkProgress::Broken,
            (ChunkPhase::Trailer { content, .. }, b'\n') => {
                self.line_len = 0;
                if !content {
                    return ChunkProgress::Done;
                }
                ChunkPhase::Trailer {
                    content: false,
                    nul: false,
                }
            }
            (ChunkPhase::Trailer { content, nul }, b) => ChunkPhase::Trailer {
                content: content || (!nul && !is_blank(b)),
                nul: nul || b == 0,
            },
            (ChunkPhase::Data(n), _) => ChunkPhase::Data(n),
        };
        ChunkProgress::More
    }
}

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).and_then(|d| u8::try_from(d).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Everything hyper reads for `input` fed at once.
    fn normalized(input: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        HeadNormalizer::new().feed(input, &mut out);
        out
    }

    /// What hyper reads when the connection delivers `input` in the given pieces, using the
    /// fast path first on each piece as the transport does.
    fn normalized_in_pieces(pieces: &[&[u8]]) -> Vec<u8> {
        let mut normalizer = HeadNormalizer::new();
        let mut out = Vec::new();
        for piece in pieces {
            let n = normalizer.pass_through(piece);
            out.extend_from_slice(&piece[..n]);
            normalizer.feed(&piece[n..], &mut out);
        }
        out
    }

    /// The output is the same however the input is split: at every byte boundary, and one
    /// byte at a time.
    fn assert_split_invariant(input: &[u8]) -> Vec<u8> {
        let whole = normalized(input);
        for split in 0..=input.len() {
            let (a, b) = input.split_at(split);
            assert_eq!(
                normalized_in_pieces(&[a, b]),
                whole,
                "split at {split} of {:?}",
                String::from_utf8_lossy(input)
            );
        }
        let bytes: Vec<&[u8]> = input.chunks(1).collect();
        assert_eq!(normalized_in_pieces(&bytes), whole, "byte by byte");
        // Rebuilt lines may outgrow Asterisk's limit (an added version, percent-encoding),
        // which only the client's lines are held to.
        if !contains_marker(&whole) && whole.split(|&b| b == b'\n').all(|l| l.len() < MAX_LINE) {
            assert_eq!(
                normalized(&whole),
                whole,
                "normalising twice changes nothing"
            );
        }
        whole
    }

    fn text(bytes: &[u8]) -> String {
        String::from_utf8_lossy(bytes).into_owned()
    }

    fn refused(refusal: Refusal) -> String {
        format!(
            "GET / HTTP/1.1\r\n{REFUSED_HEADER}: {}\r\n\r\n",
            refusal.code()
        )
    }

    #[test]
    fn a_clean_head_passes_unchanged_without_copying() {
        let request = b"POST /ari/channels?endpoint=Test/1&app=x HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nabcde";
        let mut normalizer = HeadNormalizer::new();
        assert_eq!(normalizer.pass_through(request), request.len());
        assert_eq!(assert_split_invariant(request), request);
        let pipelined = [&request[..], &request[..]].concat();
        assert_eq!(
            HeadNormalizer::new().pass_through(&pipelined),
            pipelined.len()
        );
    }

    #[test]
    fn raw_bytes_in_the_target_are_percent_encoded() {
        let out = assert_split_invariant(
            b"POST /ari/channels?callerId=Oracle <1000>&x=\"a#b\"`\x7f\xc3\xa9 HTTP/1.1\r\nHost: h\r\n\r\n",
        );
        assert_eq!(
            text(&out),
            "POST /ari/channels?callerId=Oracle HTTP/1.1\r\nHost: h\r\n\r\n",
            "a raw space ends the target"
        );
        let out = assert_split_invariant(
            b"POST /ari/channels?callerId=Oracle%20<1000>&x=\"a#b\"`\x7f\xc3\xa9|{}^\\ HTTP/1.1\r\n\r\n",
        );
        assert_eq!(
            text(&out),
            "POST /ari/channels?callerId=Oracle%20%3C1000%3E&x=%22a%23b%22%60%7F%C3%A9|{}^\\ HTTP/1.1\r\n\r\n"
        );
        assert!(
            http::Uri::try_from(
                "/ari/channels?callerId=Oracle%20%3C1000%3E&x=%22a%23b%22%60%7F%C3%A9|{}^\\"
            )
            .is_ok()
        );
    }

    #[test]
    fn the_request_line_is_read_as_asterisk_reads_it() {
        for (input, expected) in [
            ("get /ari/x HTTP/1.1\r\n\r\n", "GET /ari/x HTTP/1.1\r\n\r\n"),
            (
                "  Options   /ari/x   GARBAGE MORE\r\n\r\n",
                "OPTIONS /ari/x HTTP/1.1\r\n\r\n",
            ),
            ("GET /ari/x\r\n\r\n", "GET /ari/x HTTP/1.1\r\n\r\n"),
            ("GET /ari/x HTTP/1.0\r\n\r\n", "GET /ari/x HTTP/1.1\r\n\r\n"),
            ("GET /ari/x HTTP/1.1\n\n", "GET /ari/x HTTP/1.1\r\n\r\n"),
            (
                "GET\t/ari/x\tHTTP/1.1\r\n\r\n",
                "GET /ari/x HTTP/1.1\r\n\r\n",
            ),
            (
                "FROB /ari/x HTTP/1.1\r\n\r\n",
                "FROB /ari/x HTTP/1.1\r\n\r\n",
            ),
            (
                "G(T /ari/x HTTP/1.1\r\n\r\n",
                "UNKNOWN /ari/x HTTP/1.1\r\n\r\n",
            ),
            (
                "connect /ari/x HTTP/1.1\r\n\r\n",
                "UNKNOWN /ari/x HTTP/1.1\r\n\r\n",
            ),
            (
                "GET /ari/x\0 junk HTTP/1.1\r\n\r\n",
                "GET /ari/x HTTP/1.1\r\n\r\n",
            ),
        ] {
            assert_eq!(
                text(&assert_split_invariant(input.as_bytes())),
                expected,
                "{input:?}"
            );
        }
    }

    #[test]
    fn targets_that_are_not_paths_are_not_found_and_keep_the_connection() {
        for target in [
            "*",
            "http://127.0.0.1:8088/ari/asterisk/info",
            "ari/asterisk/info",
        ] {
            let input = format!(
                "OPTIONS {target} HTTP/1.1\r\nHost: h\r\nConnection: close\r\nContent-Length: 2\r\n\r\nabGET /ari HTTP/1.1\r\n\r\n"
            );
            let out = assert_split_invariant(input.as_bytes());
            assert_eq!(
                text(&out),
                format!(
                    "OPTIONS / HTTP/1.1\r\nConnection: close\r\nContent-Length: 2\r\n{REFUSED_HEADER}: not-found\r\n\r\nabGET /ari HTTP/1.1\r\n\r\n"
                ),
                "{target}"
            );
        }
    }

    #[test]
    fn header_lines_are_kept_dropped_or_trimmed_as_asterisk_does() {
        let input = b"GET /ari HTTP/1.1\r\nbogus line\r\n: novalue\r\nX-Empty:\r\nX-Blank:   \r\nSpace Name: x\r\n Leading: y\r\nCtl: a\x01b\r\nTrail : z  \r\nNul: ab\0cd\r\nX-Wari-Refused: not-found\r\nOk:\tv a l\r\n\r\n";
        let out = assert_split_invariant(input);
        assert_eq!(
            text(&out),
            "GET /ari HTTP/1.1\r\nTrail: z\r\nNul: ab\r\nOk: v a l\r\n\r\n"
        );
        // A line that is blank up to a NUL ends the head.
        let out = assert_split_invariant(
            b"GET /ari HTTP/1.1\r\nA: b\r\n\0C: d\r\nGET /x HTTP/1.1\r\n\r\n",
        );
        assert_eq!(
            text(&out),
            "GET /ari HTTP/1.1\r\nA: b\r\n\r\nGET /x HTTP/1.1\r\n\r\n"
        );
    }

    #[test]
    fn lines_of_4095_bytes_pass_and_longer_ones_are_refused() {
        for (total, ok) in [(4094, true), (4095, true), (4096, false), (5000, false)] {
            let base = "GET /ari/asterisk/info?x=";
            let line = format!("{base}{}\r\n", "a".repeat(total - base.len() - 2));
            assert_eq!(line.len(), total);
            let out = assert_split_invariant(format!("{line}Host: h\r\n\r\n").as_bytes());
            if ok {
                assert!(text(&out).starts_with(base), "{total}");
            } else {
                assert_eq!(text(&out), refused(Refusal::RequestLineTooLong), "{total}");
            }
            let header = format!("X-Long: {}\r\n", "a".repeat(total - 10));
            assert_eq!(header.len(), total);
            let out = normalized(format!("GET /ari HTTP/1.1\r\n{header}\r\n").as_bytes());
            if ok {
                assert!(text(&out).contains("X-Long: aaa"), "{total}");
            } else {
                assert_eq!(text(&out), refused(Refusal::HeaderLineTooLong), "{total}");
            }
        }
        // Refused as soon as the line is too long, without waiting for its end.
        let mut normalizer = HeadNormalizer::new();
        let mut out = Vec::new();
        normalizer.feed(&[b'a'; MAX_LINE], &mut out);
        assert_eq!(text(&out), refused(Refusal::RequestLineTooLong));
        assert!(normalizer.closed());
        normalizer.feed(b"\r\nGET / HTTP/1.1\r\n\r\n", &mut out);
        assert_eq!(
            text(&out),
            refused(Refusal::RequestLineTooLong),
            "nothing after a refusal"
        );
    }

    #[test]
    fn a_request_line_without_a_target_is_invalid() {
        for input in ["GET\r\n", "\r\n", "   \r\n", "\0GET /ari HTTP/1.1\r\n"] {
            let out = assert_split_invariant(format!("{input}Host: h\r\n\r\n").as_bytes());
            assert_eq!(text(&out), refused(Refusal::InvalidRequest), "{input:?}");
        }
    }

    #[test]
    fn the_101st_counted_header_is_refused() {
        let head = |n: usize| {
            let mut s = String::from("GET /ari HTTP/1.1\r\nskipped line\r\n");
            for i in 0..n {
                s.push_str(&format!("X-{i}: v\r\n"));
            }
            s + "\r\n"
        };
        let out = normalized(head(100).as_bytes());
        assert!(text(&out).contains("X-99: v\r\n\r\n"));
        assert_eq!(
            text(&normalized(head(101).as_bytes())),
            refused(Refusal::TooManyHeaders)
        );
    }

    #[test]
    fn framing_follows_asterisk() {
        for (headers, expected) in [
            ("Content-Length: 3xyz", Ok("Content-Length: 3\r\n")),
            ("Content-Length: +3", Ok("Content-Length: 3\r\n")),
            ("Content-Length: 003", Ok("Content-Length: 3\r\n")),
            ("Content-Length: 0", Ok("Content-Length: 0\r\n")),
            ("Content-Length: -0", Ok("")),
            (
                "Content-Length: 3\r\nContent-Length: 9",
                Ok("Content-Length: 3\r\n"),
            ),
            ("Content-Length: abc", Err(Refusal::InvalidContentLength)),
            ("Content-Length: -3", Err(Refusal::InvalidContentLength)),
            (
                "Content-Length: 2147483648",
                Err(Refusal::InvalidContentLength),
            ),
            (
                "Transfer-Encoding: identity\r\nContent-Length: 3",
                Ok("Content-Length: 3\r\n"),
            ),
            (
                "Transfer-Encoding: CHUNKED\r\nContent-Length: 3",
                Ok("Transfer-Encoding: chunked\r\n"),
            ),
            (
                "Transfer-Encoding: gzip",
                Err(Refusal::UnsupportedTransferEncoding),
            ),
            (
                "Transfer-Encoding: gzip, chunked",
                Err(Refusal::UnsupportedTransferEncoding),
            ),
            (
                "Transfer-Encoding: gzip\r\nContent-Length: abc",
                Err(Refusal::UnsupportedTransferEncoding),
            ),
        ] {
            let input = format!("POST /ari/x HTTP/1.1\r\n{headers}\r\n\r\n");
            let out = text(&normalized(input.as_bytes()));
            match expected {
                Ok(framing) => assert_eq!(
                    out,
                    format!("POST /ari/x HTTP/1.1\r\n{framing}\r\n"),
                    "{headers}"
                ),
                Err(refusal) => assert_eq!(out, refused(refusal), "{headers}"),
            }
        }
    }

    #[test]
    fn bodies_pass_unchanged_and_the_next_head_is_found() {
        let input = b"POST /a?<1> HTTP/1.1\r\nContent-Length: 22\r\n\r\nGET /b<2> HTTP/1.1\r\n\r\nGET /c?<3> HTTP/1.1\r\n\r\n";
        let out = assert_split_invariant(input);
        assert_eq!(
            text(&out),
            "POST /a?%3C1%3E HTTP/1.1\r\nContent-Length: 22\r\n\r\nGET /b<2> HTTP/1.1\r\n\r\nGET /c?%3C3%3E HTTP/1.1\r\n\r\n"
        );
    }

    #[test]
    fn chunked_bodies_are_followed_to_their_end() {
        let input = b"POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nGET /\r\nA\r\n0123456789\r\n0\r\nTrailer: x\r\n\r\nGET /<b> HTTP/1.1\r\n\r\n";
        let out = assert_split_invariant(input);
        assert_eq!(
            text(&out),
            "POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nGET /\r\nA\r\n0123456789\r\n0\r\nTrailer: x\r\n\r\nGET /%3Cb%3E HTTP/1.1\r\n\r\n"
        );
        // A chunk size Asterisk cannot read: the rest passes untouched.
        let input = b"POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nGET /<b> HTTP/1.1\r\n\r\n";
        let out = assert_split_invariant(input);
        assert!(text(&out).ends_with("zz\r\nGET /<b> HTTP/1.1\r\n\r\n"));
    }

    #[test]
    fn after_an_upgrade_request_bytes_pass_until_the_answer() {
        let head = b"GET /ari/events?app=a HTTP/1.1\r\nUpgrade: websocket\r\n\r\n";
        let mut normalizer = HeadNormalizer::new();
        assert_eq!(normalizer.pass_through(head), head.len());
        assert!(normalizer.awaiting_upgrade());
        assert_eq!(normalizer.pass_through(b"\x81\x05<raw>"), 7);
        normalizer.upgrade_answered(false);
        let mut out = Vec::new();
        normalizer.feed(b"GET /<x> HTTP/1.1\r\nUpgrade: websocket\r\n\r\n", &mut out);
        assert_eq!(
            text(&out),
            "GET /%3Cx%3E HTTP/1.1\r\nUpgrade: websocket\r\n\r\n"
        );
        normalizer.upgrade_answered(true);
        assert_eq!(
            normalizer.pass_through(b"GET <x>\r\n\r\n"),
            11,
            "switched: raw for good"
        );
        assert!(!normalizer.awaiting_upgrade());
    }

    /// Found by fuzz/http_head: a clean head split across reads was rebuilt (`Name: value`
    /// for `Name:value`, the framing header moved last) while a whole one passed unchanged.
    #[test]
    fn a_clean_head_in_pieces_comes_out_as_a_whole_one() {
        for input in [
            &b"POST /a HTTP/1.1\r\nTransfer-Enciodng:!chunke\x9a\r\n\r\n5;x\r\n\0hGellET"[..],
            b"POST /a HTTP/1.1\r\nContent-Length: 3\r\nHost:  h\r\n\r\nabcGET /b HTTP/1.1\r\n\r\n",
        ] {
            let out = assert_split_invariant(input);
            assert!(out.starts_with(&input[..input.iter().position(|&b| b == b'\n').unwrap_or(0)]));
        }
        assert_eq!(
            text(&normalized(
                b"POST /a HTTP/1.1\r\nContent-Length: 3\r\nHost:  h\r\n\r\nabc"
            )),
            "POST /a HTTP/1.1\r\nContent-Length: 3\r\nHost:  h\r\n\r\nabc"
        );
    }

    #[test]
    fn refusal_codes_round_trip() {
        for refusal in Refusal::ALL {
            assert_eq!(Refusal::from_code(refusal.code().as_bytes()), Some(refusal));
        }
        assert_eq!(Refusal::from_code(b"bogus"), None);
    }
}
