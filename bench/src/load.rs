//! A minimal HTTP/1.1 keep-alive client for load, originates and hang-ups: one request
//! at a time per connection, the response body counted and discarded (kept only for an
//! error's message). It parses only what it must (status line, `Content-Length`, chunked
//! encoding), so the load generator costs little CPU next to the server it measures on the
//! same machine: a sequential measurement has the client's own work on its round trip.

use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::target::Target;

const BUFFER: usize = 256 * 1024;

/// One keep-alive connection to the target.
pub struct Connection {
    target: Target,
    stream: TcpStream,
    /// The request being sent (reused).
    request: String,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// Responses read on this connection so far.
    answered: u64,
}

/// A response: status, body size, and the body of a non-2xx answer (for its message).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub body_len: usize,
    pub error_body: Option<String>,
}

impl Response {
    /// A 2xx status.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

impl Connection {
    /// Connects to the target.
    pub async fn connect(target: &Target) -> anyhow::Result<Connection> {
        Ok(Connection {
            target: target.clone(),
            stream: Self::open(target).await?,
            request: String::with_capacity(512),
            buf: vec![0; BUFFER],
            start: 0,
            end: 0,
            answered: 0,
        })
    }

    async fn open(target: &Target) -> anyhow::Result<TcpStream> {
        let stream = TcpStream::connect(&target.authority)
            .await
            .with_context(|| format!("connect {}", target.authority))?;
        stream.set_nodelay(true)?;
        Ok(stream)
    }

    /// Sends `METHOD <ARI prefix><path>` with no body and reads the whole response. A
    /// keep-alive connection the server closed while it was idle (the request got no byte
    /// of answer) is opened again and the request sent once more, as HTTP clients do.
    pub async fn request(&mut self, method: &str, path: &str) -> anyhow::Result<Response> {
        self.request.clear();
        let t = &self.target;
        // Writing to a String cannot fail.
        let _ = write!(
            self.request,
            "{method} {}{path} HTTP/1.1\r\nHost: {}\r\nAuthorization: {}\r\nContent-Length: 0\r\n\r\n",
            t.prefix, t.authority, t.authorization
        );
        match self.exchange().await {
            Err(e) if self.answered > 0 && self.end == 0 && is_closed(&e) => {
                self.stream = Self::open(&self.target).await?;
                (self.start, self.end) = (0, 0);
                self.exchange().await
            }
            result => result,
        }
    }

    /// Writes the prepared request and reads its response.
    async fn exchange(&mut self) -> anyhow::Result<Response> {
        self.stream
            .write_all(self.request.as_bytes())
            .await
            .context("send")?;
        let head_end = loop {
            if let Some(i) = find(&self.buf[self.start..self.end], b"\r\n\r\n") {
                break self.start + i + 4;
            }
            self.fill().await?;
        };
        let head = std::str::from_utf8(&self.buf[self.start..head_end]).context("response head")?;
        let mut lines = head.split("\r\n");
        let status = lines
            .next()
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|s| s.parse::<u16>().ok())
            .context("status line")?;
        let mut length = None;
        let mut chunked = false;
        for line in lines {
            let Some((name, value)) = line.split_once(':') else {
                continue;
            };
            if name.eq_ignore_ascii_case("content-length") {
                length = Some(value.trim().parse::<usize>().context("Content-Length")?);
            } else if name.eq_ignore_ascii_case("transfer-encoding")
                && value.to_ascii_lowercase().contains("chunked")
            {
                chunked = true;
            }
        }
        self.start = head_end;
        let success = (200..300).contains(&status);
        let (body_len, error_body) = if chunked {
            (self.chunked_body().await?, None)
        } else {
            let length = length.unwrap_or(0);
            let kept = (!success).then(|| {
                let available = &self.buf[self.start..self.end.min(self.start + length)];
                String::from_utf8_lossy(available).into_owned()
            });
            self.skip(length).await?;
            (length, kept)
        };
        self.answered += 1;
        if self.start == self.end {
            (self.start, self.end) = (0, 0);
        }
        Ok(Response {
            status,
            body_len,
            error_body,
        })
    }

    async fn chunked_body(&mut self) -> anyhow::Result<usize> {
        let mut total = 0;
        loop {
            let line = self.line().await?;
            let size = usize::from_str_radix(line.split(';').next().unwrap_or("").trim(), 16)
                .context("chunk size")?;
            if size == 0 {
                // Trailers, up to the empty line.
                while !self.line().await?.is_empty() {}
                return Ok(total);
            }
            self.skip(size).await?;
            total += size;
            let end = self.line().await?;
            if !end.is_empty() {
                bail!("malformed chunk");
            }
        }
    }

    /// Reads one CRLF-terminated line.
    async fn line(&mut self) -> anyhow::Result<String> {
        loop {
            if let Some(i) = find(&self.buf[self.start..self.end], b"\r\n") {
                let line =
                    String::from_utf8_lossy(&self.buf[self.start..self.start + i]).into_owned();
                self.start += i + 2;
                return Ok(line);
            }
            self.fill().await?;
        }
    }

    /// Discards `n` bytes of body.
    async fn skip(&mut self, mut n: usize) -> anyhow::Result<()> {
        while n > 0 {
            if self.start == self.end {
                self.fill().await?;
            }
            let take = n.min(self.end - self.start);
            self.start += take;
            n -= take;
        }
        Ok(())
    }

    /// Reads more bytes into the buffer (compacting it first).
    async fn fill(&mut self) -> anyhow::Result<()> {
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        } else if self.end == self.buf.len() {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
            if self.end == self.buf.len() {
                bail!("response head larger than {BUFFER} bytes");
            }
        }
        let n = self.stream.read(&mut self.buf[self.end..]).await?;
        if n == 0 {
            return Err(Closed.into());
        }
        self.end += n;
        Ok(())
    }
}

/// The server closed the connection (end of stream while an answer was expected).
#[derive(Debug)]
struct Closed;

impl std::fmt::Display for Closed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection closed by the server")
    }
}

impl std::error::Error for Closed {}

/// The server closed the connection or reset it.
fn is_closed(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause.is::<Closed>()
            || cause.downcast_ref::<std::io::Error>().is_some_and(|e| {
                matches!(
                    e.kind(),
                    std::io::ErrorKind::BrokenPipe
                        | std::io::ErrorKind::ConnectionReset
                        | std::io::ErrorKind::ConnectionAborted
                )
            })
    })
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// What a load run measured.
#[derive(Debug, Default)]
pub struct LoadResult {
    pub latencies: Vec<Duration>,
    pub elapsed: Duration,
    pub errors: u64,
    pub bytes: u64,
    /// The first non-2xx status seen, if any.
    pub first_error: Option<u16>,
}

/// Sends `GET path` from `connections` keep-alive connections, each as fast as it gets
/// answers, for `duration` or until `max_requests` were sent in all.
pub async fn run(
    target: &Target,
    path: &str,
    connections: usize,
    duration: Duration,
    max_requests: u64,
) -> anyhow::Result<LoadResult> {
    let mut conns = Vec::with_capacity(connections);
    for _ in 0..connections {
        conns.push(Connection::connect(target).await?);
    }
    let budget = Arc::new(AtomicU64::new(max_requests));
    let started = Instant::now();
    let deadline = started + duration;
    let mut tasks = Vec::with_capacity(connections);
    for mut conn in conns {
        let budget = budget.clone();
        let path = path.to_string();
        tasks.push(tokio::spawn(async move {
            let mut result = LoadResult {
                latencies: Vec::with_capacity(1 << 16),
                ..LoadResult::default()
            };
            while Instant::now() < deadline
                && budget
                    .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |b| b.checked_sub(1))
                    .is_ok()
            {
                let t0 = Instant::now();
                let response = conn.request("GET", &path).await?;
                result.latencies.push(t0.elapsed());
                result.bytes += response.body_len as u64;
                if !response.is_success() {
                    result.errors += 1;
                    result.first_error.get_or_insert(response.status);
                }
            }
            anyhow::Ok(result)
        }));
    }
    let mut total = LoadResult::default();
    for task in tasks {
        let result = task.await.context("load task")??;
        total.latencies.extend(result.latencies);
        total.errors += result.errors;
        total.bytes += result.bytes;
        if total.first_error.is_none() {
            total.first_error = result.first_error;
        }
    }
    total.elapsed = started.elapsed();
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::net::TcpListener;

    /// The client reads Content-Length and chunked responses, split across reads.
    #[tokio::test]
    async fn parses_responses() {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let server = tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.expect("accept");
            let mut buf = vec![0u8; 4096];
            let replies: [&[u8]; 2] = [
                b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
                b"HTTP/1.1 404 Not Found\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n",
            ];
            for reply in replies {
                let _ = socket.read(&mut buf).await.expect("request");
                for part in reply.chunks(7) {
                    socket.write_all(part).await.expect("reply");
                    socket.flush().await.expect("flush");
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
            }
        });
        let target = Target::new(&format!("http://{addr}"), "u", "p").expect("target");
        let mut conn = Connection::connect(&target).await.expect("connect");
        assert_eq!(
            conn.request("GET", "/x").await.expect("first"),
            Response {
                status: 200,
                body_len: 5,
                error_body: None,
            }
        );
        assert_eq!(
            conn.request("GET", "/x").await.expect("second"),
            Response {
                status: 404,
                body_len: 5,
                error_body: None,
            }
        );
        server.await.expect("server");
    }

    /// A request on a connection the server closed after its last answer is sent again on
    /// a new connection; a non-2xx answer keeps its body for the error message.
    #[tokio::test]
    async fn reopens_a_closed_keep_alive_connection_and_keeps_error_bodies() {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let server = tokio::spawn(async move {
            let replies: [&[u8]; 2] = [
                b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n[]",
                b"HTTP/1.1 400 Bad Request\r\nContent-Length: 16\r\n\r\n{\"message\":\"no\"}",
            ];
            let mut requests = Vec::new();
            for reply in replies {
                // One answer per connection, then the server closes it.
                let (mut socket, _) = listener.accept().await.expect("accept");
                let mut buf = vec![0u8; 4096];
                let n = socket.read(&mut buf).await.expect("request");
                requests.push(String::from_utf8_lossy(&buf[..n]).into_owned());
                socket.write_all(reply).await.expect("reply");
            }
            requests
        });
        let target = Target::new(&format!("http://{addr}"), "u", "p").expect("target");
        let mut conn = Connection::connect(&target).await.expect("connect");
        let first = conn.request("POST", "/channels?x=1").await.expect("first");
        assert_eq!((first.status, first.body_len), (200, 2));
        let second = conn.request("DELETE", "/channels/a").await.expect("second");
        assert_eq!(
            (second.status, second.error_body.as_deref()),
            (400, Some("{\"message\":\"no\"}"))
        );
        assert!(!second.is_success());
        let requests = server.await.expect("server");
        assert!(
            requests[0].starts_with("POST /ari/channels?x=1 HTTP/1.1\r\n"),
            "{requests:?}"
        );
        assert!(
            requests[1].starts_with("DELETE /ari/channels/a HTTP/1.1\r\n"),
            "{requests:?}"
        );
        assert!(
            requests[1].contains("Authorization: Basic dTpw\r\n"),
            "{requests:?}"
        );
    }
}
