//! A connection as hyper reads it: the client's bytes after the [`HeadNormalizer`].
//!
//! Bytes are read from the socket straight into hyper's buffer; whatever passes unchanged
//! (clean heads, bodies, upgraded traffic) stays there without a copy, and only heads that
//! must be rebuilt go through the normaliser's own buffer. Writes go to the socket as they
//! are. The connection's service tells, through [`UpgradeAnswers`], whether a request that
//! asked for an upgrade switched protocols, so the normaliser knows whether the bytes after
//! it are still HTTP.
//!
//! It also keeps http.conf's read deadlines, which it can because the normaliser knows
//! where each request begins and ends: a request (head and body) must arrive whole within
//! `session_inactivity` of its first byte, a new connection must start its first request
//! within `session_inactivity`, and once a response has been written the connection may
//! wait `session_keep_alive` for the next request. A read past a deadline fails with
//! `TimedOut`, and hyper closes the connection. While a request is being served (read whole,
//! no response yet), after an upgrade, and while a streamed response (a log follower) is
//! written, nothing is timed.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

use super::head::{HeadNormalizer, Phase};

/// http.conf's limits on how long reading may take.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ReadLimits {
    /// `session_inactivity`: a whole request, and the wait for a connection's first one.
    pub request: Duration,
    /// `session_keep_alive`: the wait for the next request once a response was written.
    pub keep_alive: Duration,
}

/// What the service answered to the last request that asked for an upgrade.
#[derive(Debug, Default)]
pub(crate) struct UpgradeAnswers(AtomicU8);

const NONE: u8 = 0;
const SWITCHED: u8 = 1;
const NOT_SWITCHED: u8 = 2;

impl UpgradeAnswers {
    /// Records the answer to a request that asked for an upgrade.
    pub(crate) fn answered(&self, switched: bool) {
        let answer = if switched { SWITCHED } else { NOT_SWITCHED };
        self.0.store(answer, Ordering::Release);
    }

    fn take(&self) -> Option<bool> {
        match self.0.swap(NONE, Ordering::Acquire) {
            SWITCHED => Some(true),
            NOT_SWITCHED => Some(false),
            _ => None,
        }
    }
}

/// A client connection whose request heads are normalised on the way to hyper.
#[derive(Debug)]
pub(crate) struct NormalizedIo<S> {
    inner: S,
    normalizer: HeadNormalizer,
    /// Rebuilt bytes hyper has not read yet, from `pending_at`.
    pending: Vec<u8>,
    pending_at: usize,
    answers: Arc<UpgradeAnswers>,
    limits: ReadLimits,
    /// When the current read must be done by; `None`: not timed.
    deadline: Option<Instant>,
    /// A request is being read (its deadline is set).
    in_request: bool,
    timer: Option<Pin<Box<Sleep>>>,
    /// A deadline passed: every later read fails too.
    timed_out: bool,
    /// The http.conf `sessionlimit` slot the connection takes, given back when it closes,
    /// upgraded to a WebSocket or not (as Asterisk counts a WebSocket until it closes).
    session: Option<tokio::sync::OwnedSemaphorePermit>,
    /// Set by the service when its response is streamed for as long as the client stays:
    /// from then on no deadline is kept (the connection closes after that response).
    untimed: Option<Arc<std::sync::atomic::AtomicBool>>,
}

impl<S> NormalizedIo<S> {
    /// Wraps a freshly accepted connection.
    pub(crate) fn new(
        inner: S,
        answers: Arc<UpgradeAnswers>,
        limits: ReadLimits,
    ) -> NormalizedIo<S> {
        NormalizedIo {
            inner,
            normalizer: HeadNormalizer::new(),
            pending: Vec::new(),
            pending_at: 0,
            answers,
            limits,
            deadline: Some(Instant::now() + limits.request),
            in_request: false,
            timer: None,
            timed_out: false,
            session: None,
            untimed: None,
        }
    }

    /// No deadline is kept once `flag` is set.
    pub(crate) fn untimed_when(
        mut self,
        flag: Arc<std::sync::atomic::AtomicBool>,
    ) -> NormalizedIo<S> {
        self.untimed = Some(flag);
        self
    }

    /// The connection holds `session` for as long as it lives.
    pub(crate) fn holding(mut self, session: tokio::sync::OwnedSemaphorePermit) -> NormalizedIo<S> {
        self.session = Some(session);
        self
    }

    /// Moves the deadlines on after bytes were handed to hyper.
    fn after_read(&mut self) {
        match self.normalizer.phase() {
            Phase::Request => {
                if !self.in_request {
                    self.in_request = true;
                    self.deadline = Some(Instant::now() + self.limits.request);
                }
            }
            Phase::Between => {
                // Read whole: being served, untimed until the response is written.
                self.in_request = false;
                self.deadline = None;
            }
            Phase::Untimed => {
                self.in_request = false;
                self.deadline = None;
            }
        }
    }

    /// A response is being written: once the request was read whole, the keep-alive wait
    /// starts (its timer armed now, as hyper may not read again before the client writes).
    fn responding(&mut self, cx: &mut Context<'_>) {
        if self.deadline.is_none() && !self.in_request && self.normalizer.phase() == Phase::Between
        {
            self.deadline = Some(Instant::now() + self.limits.keep_alive);
            let _ = self.expired(cx);
        }
    }

    /// Whether the deadline has passed, arming the timer to wake this task at it.
    fn expired(&mut self, cx: &mut Context<'_>) -> bool {
        if self
            .untimed
            .as_ref()
            .is_some_and(|flag| flag.load(Ordering::Acquire))
        {
            self.deadline = None;
            self.timer = None;
            return false;
        }
        let Some(deadline) = self.deadline else {
            return false;
        };
        let timer = self
            .timer
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
        if timer.deadline() != deadline {
            timer.as_mut().reset(deadline);
        }
        timer.as_mut().poll(cx).is_ready()
    }

    /// Moves rebuilt bytes into `buf`; true if there were any.
    fn drain_pending(&mut self, buf: &mut ReadBuf<'_>) -> bool {
        let available = self.pending.len() - self.pending_at;
        if available == 0 {
            return false;
        }
        let n = available.min(buf.remaining());
        buf.put_slice(&self.pending[self.pending_at..self.pending_at + n]);
        self.pending_at += n;
        if self.pending_at == self.pending.len() {
            self.pending.clear();
            self.pending_at = 0;
        }
        true
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for NormalizedIo<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if buf.remaining() == 0 {
            return Poll::Ready(Ok(()));
        }
        if this.timed_out {
            return Poll::Ready(Err(timed_out()));
        }
        if this.normalizer.awaiting_upgrade()
            && let Some(switched) = this.answers.take()
        {
            this.normalizer.upgrade_answered(switched);
        }
        loop {
            if this.drain_pending(buf) {
                this.after_read();
                return Poll::Ready(Ok(()));
            }
            let before = buf.filled().len();
            match Pin::new(&mut this.inner).poll_read(cx, buf) {
                Poll::Ready(Ok(())) => {}
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => {
                    if this.expired(cx) {
                        this.timed_out = true;
                        return Poll::Ready(Err(timed_out()));
                    }
                    return Poll::Pending;
                }
            }
            let filled = buf.filled().len();
            if filled == before {
                // End of the stream.
                return Poll::Ready(Ok(()));
            }
            let clean = this.normalizer.pass_through(&buf.filled()[before..]);
            if before + clean == filled {
                this.after_read();
                return Poll::Ready(Ok(()));
            }
            this.normalizer
                .feed(&buf.filled()[before + clean..], &mut this.pending);
            buf.set_filled(before + clean);
            if clean > 0 {
                this.after_read();
                return Poll::Ready(Ok(()));
            }
            // Nothing for hyper yet unless the rest was rebuilt: hand that out, or read on.
        }
    }
}

/// The error of a read past its deadline.
fn timed_out() -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, "request not received in time")
}

impl<S: AsyncWrite + Unpin> AsyncWrite for NormalizedIo<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        this.responding(cx);
        Pin::new(&mut this.inner).poll_write(cx, data)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        this.responding(cx);
        Pin::new(&mut this.inner).poll_write_vectored(cx, data)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    const LONG: ReadLimits = ReadLimits {
        request: Duration::from_secs(60),
        keep_alive: Duration::from_secs(60),
    };

    /// Reads everything the wrapped stream yields for `pieces` written one after another.
    async fn read_all(pieces: &[&[u8]], answers: Arc<UpgradeAnswers>) -> Vec<u8> {
        let (client, server) = tokio::io::duplex(64);
        let mut io = NormalizedIo::new(server, answers, LONG);
        let pieces: Vec<Vec<u8>> = pieces.iter().map(|p| p.to_vec()).collect();
        let writer = tokio::spawn(async move {
            let mut client = client;
            for piece in pieces {
                client.write_all(&piece).await.expect("write");
            }
            client.shutdown().await.expect("shutdown");
        });
        let mut out = Vec::new();
        io.read_to_end(&mut out).await.expect("read");
        writer.await.expect("writer");
        out
    }

    #[tokio::test]
    async fn clean_and_rebuilt_heads_come_out_in_order() {
        let answers = Arc::new(UpgradeAnswers::default());
        let out = read_all(
            &[
                b"GET /a HTTP/1.1\r\n\r\nGET /b?x=<",
                b"1> HTTP/1.1\r\n\r\nPOST /c HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc",
            ],
            answers,
        )
        .await;
        assert_eq!(
            String::from_utf8_lossy(&out),
            "GET /a HTTP/1.1\r\n\r\nGET /b?x=%3C1%3E HTTP/1.1\r\n\r\nPOST /c HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc"
        );
    }

    #[tokio::test]
    async fn a_refused_upgrade_resumes_normalising() {
        let answers = Arc::new(UpgradeAnswers::default());
        let (client, server) = tokio::io::duplex(1024);
        let mut io = NormalizedIo::new(server, answers.clone(), LONG);
        let mut client = client;
        client
            .write_all(b"GET /ws HTTP/1.1\r\nUpgrade: websocket\r\n\r\n")
            .await
            .expect("write");
        let mut buf = [0u8; 256];
        let n = io.read(&mut buf).await.expect("read");
        assert!(buf[..n].ends_with(b"Upgrade: websocket\r\n\r\n"));
        answers.answered(false);
        client
            .write_all(b"GET /<x> HTTP/1.1\r\n\r\n")
            .await
            .expect("write");
        let n = io.read(&mut buf).await.expect("read");
        assert_eq!(&buf[..n], b"GET /%3Cx%3E HTTP/1.1\r\n\r\n");
    }
}

#[cfg(test)]
mod deadline_tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn idle_after_a_response_times_out_at_keep_alive() {
        let limits = ReadLimits {
            request: Duration::from_secs(5),
            keep_alive: Duration::from_millis(200),
        };
        let (mut client, server) = tokio::io::duplex(1024);
        let mut io = NormalizedIo::new(server, Arc::new(UpgradeAnswers::default()), limits);
        client
            .write_all(b"GET / HTTP/1.1\r\n\r\n")
            .await
            .expect("write");
        let mut buf = [0u8; 256];
        let n = io.read(&mut buf).await.expect("read");
        assert_eq!(n, 18);
        io.write_all(b"HTTP/1.1 200 OK\r\n\r\n")
            .await
            .expect("respond");
        let started = Instant::now();
        let error = io.read(&mut buf).await.expect_err("times out");
        assert_eq!(error.kind(), io::ErrorKind::TimedOut);
        assert!(started.elapsed() < Duration::from_secs(2));
    }
}
