//! A guest's WASI stdout and stderr, written line by line into wari's log under the app's
//! name and session, with a rate limit so a chatty (or hostile) app cannot flood the log.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tokio::io::AsyncWrite;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};

/// Longest line kept before it is logged anyway.
const MAX_LINE: usize = 4096;

#[derive(Debug)]
struct State {
    partial: Vec<u8>,
    window_start: Instant,
    lines_in_window: u32,
    dropped: u64,
}

/// One guest output stream (stdout or stderr) of one session.
#[derive(Debug, Clone)]
pub struct GuestOutput {
    app: Arc<str>,
    session: u64,
    stream: &'static str,
    lines_per_second: u32,
    state: Arc<Mutex<State>>,
}

impl GuestOutput {
    /// A stream named `stream` (`stdout`, `stderr`) for a session of `app`.
    pub fn new(
        app: &str,
        session: u64,
        stream: &'static str,
        lines_per_second: u32,
    ) -> GuestOutput {
        GuestOutput {
            app: Arc::from(app),
            session,
            stream,
            lines_per_second,
            state: Arc::new(Mutex::new(State {
                partial: Vec::new(),
                window_start: Instant::now(),
                lines_in_window: 0,
                dropped: 0,
            })),
        }
    }

    /// Lines dropped by the rate limit so far.
    pub fn dropped(&self) -> u64 {
        self.state.lock().map(|s| s.dropped).unwrap_or(0)
    }

    fn emit(&self, state: &mut State, line: &[u8]) {
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
        let text = String::from_utf8_lossy(line);
        let text = text.trim_end_matches(['\r', '\n']);
        let text = crate::log_text::Escaped(text);
        tracing::info!(app = %self.app, session = self.session, stream = self.stream, "{text}");
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
        let out = GuestOutput::new("app", 1, "stdout", 2);
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
}
