//! A connection as hyper reads it: the client's bytes after the [`HeadNormalizer`].
//!
//! Bytes are read from the socket straight into hyper's buffer; whatever passes unchanged
//! (clean heads, bodies, upgraded traffic) stays there without a copy, and only heads that
//! must be rebuilt go through the normaliser's own buffer. Writes go to the socket as they
//! are. The connection's service tells, through [`UpgradeAnswers`], whether a request that
//! asked for an upgrade switched protocols, so the normaliser knows whether the bytes after
//! it are still HTTP.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::task::{Context, Poll, ready};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::head::HeadNormalizer;

/// What the service answered to the last request that asked for an upgrade.
#[derive(Debug, Default)]
pub struct UpgradeAnswers(AtomicU8);

const NONE: u8 = 0;
const SWITCHED: u8 = 1;
const NOT_SWITCHED: u8 = 2;

impl UpgradeAnswers {
    /// Records the answer to a request that asked for an upgrade.
    pub fn answered(&self, switched: bool) {
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
pub struct NormalizedIo<S> {
    inner: S,
    normalizer: HeadNormalizer,
    /// Rebuilt bytes hyper has not read yet, from `pending_at`.
    pending: Vec<u8>,
    pending_at: usize,
    answers: Arc<UpgradeAnswers>,
}

impl<S> NormalizedIo<S> {
    /// Wraps a freshly accepted connection.
    pub fn new(inner: S, answers: Arc<UpgradeAnswers>) -> NormalizedIo<S> {
        NormalizedIo {
            inner,
            normalizer: HeadNormalizer::new(),
            pending: Vec::new(),
            pending_at: 0,
            answers,
        }
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
        if this.normalizer.awaiting_upgrade()
            && let Some(switched) = this.answers.take()
        {
            this.normalizer.upgrade_answered(switched);
        }
        loop {
            if this.drain_pending(buf) {
                return Poll::Ready(Ok(()));
            }
            let before = buf.filled().len();
            ready!(Pin::new(&mut this.inner).poll_read(cx, buf))?;
            let filled = buf.filled().len();
            if filled == before {
                // End of the stream.
                return Poll::Ready(Ok(()));
            }
            let clean = this.normalizer.pass_through(&buf.filled()[before..]);
            if before + clean == filled {
                return Poll::Ready(Ok(()));
            }
            this.normalizer
                .feed(&buf.filled()[before + clean..], &mut this.pending);
            buf.set_filled(before + clean);
            if clean > 0 {
                return Poll::Ready(Ok(()));
            }
            // Nothing for hyper yet unless the rest was rebuilt: hand that out, or read on.
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for NormalizedIo<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, data)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, data)
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

    /// Reads everything the wrapped stream yields for `pieces` written one after another.
    async fn read_all(pieces: &[&[u8]], answers: Arc<UpgradeAnswers>) -> Vec<u8> {
        let (client, server) = tokio::io::duplex(64);
        let mut io = NormalizedIo::new(server, answers);
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
        let mut io = NormalizedIo::new(server, answers.clone());
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
