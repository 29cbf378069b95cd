//! A guest's WASI stdout and stderr, written line by line into wari's log under the app's
//! name and session (and into the app's own log, [`super::app_log`]), with a rate limit so
//! a chatty (or hostile) app cannot flood the log.
//! A Rust panic report on stderr is not logged line by line: it is kept (see
//! [`GuestOutput::take_panic`]) for the failure it announces, which logs it once.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::io::AsyncWrite;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamResult};

/// Longest line kept before it is logged anyway.
const MAX_LINE: usize = 4096;
/// Longest panic report kept for the failure.
const MAX_PANIC: usize = 1024;

#[derive(Debug)]
struct State {
    partial: Vec<u8>,
    window_start: Instant,
    lines_in_window: u32,
    dropped: u64,
    /// A panic report being read: `thread '...' panicked at FILE:LINE:COL:` and the message
    /// lines after it.
    panic: Option<String>,
    /// Lines still belong to the panic report (until Rust's backtrace hint).
    in_panic: bool,
}

/// Where the first line of a Rust panic report (`thread '<unnamed>' (1) panicked at
/// FILE:LINE:COL:`) names the place.
const PANICKED_AT: &str = " panicked at ";

fn is_panic_start(line: &str) -> bool {
    line.starts_with("thread '") && line.contains(PANICKED_AT)
}

/// Rust's hint after a panic report; it is about the guest's own (absent) environment and
/// does not apply to wari.
fn is_backtrace_hint(line: &str) -> bool {
    line.starts_with("note: run with `RUST_BACKTRACE=")
}

/// One guest output stream (stdout or stderr) of one session.
#[derive(Debug, Clone)]
pub(crate) struct GuestOutput {
    app: Arc<str>,
    /// The app version (sha256 prefix) the session runs.
    version: Arc<str>,
    session: u64,
    stream: &'static str,
    lines_per_second: u32,
    state: Arc<Mutex<State>>,
    /// The app's own log, which gets each line the rate limit lets through.
    app_log: Option<Arc<super::app_log::AppLog>>,
}

impl GuestOutput {
    /// A stream named `stream` (`stdout`, `stderr`) for a session of `app` at `version`.
    pub(crate) fn new(
        app: &str,
        version: &str,
        session: u64,
        stream: &'static str,
        lines_per_second: u32,
    ) -> GuestOutput {
        GuestOutput {
            app: Arc::from(app),
            version: Arc::from(version),
            session,
            stream,
            lines_per_second,
            state: Arc::new(Mutex::new(State {
                partial: Vec::new(),
                window_start: Instant::now(),
                lines_in_window: 0,
                dropped: 0,
                panic: None,
                in_panic: false,
            })),
            app_log: None,
        }
    }

    /// Lines also go to the app's own log.
    pub(crate) fn feeding(mut self, log: Arc<super::app_log::AppLog>) -> GuestOutput {
        self.app_log = Some(log);
        self
    }

    /// Lines dropped by the rate limit so far.
    pub(crate) fn dropped(&self) -> u64 {
        self.state.lock().map(|s| s.dropped).unwrap_or(0)
    }

    /// The guest's panic report, if it wrote one (`panicked at FILE:LINE:COL: message`):
    /// the failure that follows logs it, once.
    pub(crate) fn take_panic(&self) -> Option<String> {
        self.state.lock().ok()?.panic.take()
    }

    /// A line of a panic report (kept, not logged); false for any other line.
    fn panic_line(state: &mut State, text: &str) -> bool {
        if is_panic_start(text) {
            let report = text.split_once(PANICKED_AT).map_or(text, |(_, at)| at);
            state.panic = Some(format!("panicked at {report}"));
            state.in_panic = true;
            return true;
        }
        if !state.in_panic {
            return false;
        }
        if is_backtrace_hint(text) {
            state.in_panic = false;
            return true;
        }
        let Some(report) = state.panic.as_mut() else {
            return false;
        };
        if !text.is_empty() && report.len() < MAX_PANIC {
            report.push(' ');
            let room = MAX_PANIC.saturating_sub(report.len());
            let end = (0..=room.min(text.len()))
                .rev()
                .find(|i| text.is_char_boundary(*i))
                .unwrap_or(0);
            report.push_str(&text[..end]);
        }
        true
    }

    fn emit(&self, state: &mut State, line: &[u8]) {
        let text = String::from_utf8_lossy(line);
        let text = text.trim_end_matches(['\r', '\n']);
        // A blank line says nothing (Rust starts a panic report with one).
        if text.trim().is_empty() || (self.stream == "stderr" && Self::panic_line(state, text)) {
            return;
        }
        let now = Instant::now();
        if now.duration_since(state.window_start) >= Duration::from_secs(1) {
            state.window_start = now;
            state.lines_in_window = 0;
        }
        if state.lines_in_window >= self.lines_per_second {
            state.dropped += 1;
            return;
        }
        state.lines_in_window += 1;
        if let Some(log) = &self.app_log {
            log.push(super::app_log::LogEntry::now(
                &self.version,
                Some(self.session),
                super::app_log::EntryKind::Log {
                    stream: self.stream,
                    level: None,
                },
                text.to_string(),
            ));
        }
        let text = crate::log_text::Escaped(text);
        tracing::info!(app = %self.app, version = %self.version, session = self.session, stream = self.stream, "{text}");
    }

    fn write_bytes(&self, bytes: &[u8]) {
        let Ok(mut state) = self.state.lock() else {
            return;
        };
        state.partial.extend_from_slice(bytes);
        while let Some(end) = state.partial.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = state.partial.drain(..=end).collect();
            self.emit(&mut state, &line);
        }
        if state.partial.len() > MAX_LINE {
            let line = std::mem::take(&mut state.partial);
            self.emit(&mut state, &line);
        }
    }
}

impl IsTerminal for GuestOutput {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for GuestOutput {
    fn async_stream(&self) -> Box<dyn AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }

    /// Written at once (not through a background task, as the default adapter does): a
    /// panic report is complete by the time the trap that follows it is handled.
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }
}

#[async_trait::async_trait]
impl Pollable for GuestOutput {
    async fn ready(&mut self) {}
}

impl OutputStream for GuestOutput {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        self.write_bytes(&bytes);
        Ok(())
    }

    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        Ok(MAX_LINE)
    }
}

impl AsyncWrite for GuestOutput {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.write_bytes(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_split_and_rate_limited() {
        let out = GuestOutput::new("app", "0123456789ab", 1, "stdout", 2);
        out.write_bytes(b"one\ntw");
        out.write_bytes(b"o\nthree\nfour\n");
        assert_eq!(
            out.dropped(),
            2,
            "the third and fourth line exceed 2 per second"
        );
        out.write_bytes(&vec![b'x'; MAX_LINE + 1]);
        assert_eq!(
            out.dropped(),
            3,
            "an over-long partial line is emitted (and limited)"
        );
    }

    #[test]
    fn a_panic_report_is_kept_for_the_failure_not_logged() {
        let err = GuestOutput::new("app", "0123456789ab", 1, "stderr", 2);
        err.write_bytes(b"before\n\nthread '<unnamed>' (1) panicked at src/lib.rs:14:9:\n");
        err.write_bytes(b"it broke\nnote: run with `RUST_BACKTRACE=1` environment variable to display a backtrace\n");
        assert_eq!(
            err.take_panic().as_deref(),
            Some("panicked at src/lib.rs:14:9: it broke")
        );
        err.write_bytes(b"after\nand more\n");
        assert_eq!(
            err.dropped(),
            1,
            "`before`, `after` logged; the report was not"
        );
        assert_eq!(err.take_panic(), None, "taken once");
    }
}
