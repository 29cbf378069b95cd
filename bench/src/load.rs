//! A minimal HTTP/1.1 keep-alive client for load: one request at a time per connection,
//! the response body counted and discarded. It parses only what it must (status line,
//! `Content-Length`, chunked encoding), so the load generator costs little CPU next to the
//! server it measures on the same machine.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::target::Target;

const BUFFER: usize = 256 * 1024;

/// One keep-alive connection sending the same GET request.
pub struct Connection {
    stream: TcpStream,
    request: Vec<u8>,
    buf: Vec<u8>,
    start: usize,
    end: usize,
}

/// A response: status and body size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub body_len: usize,
}

impl Connection {
    /// Connects to the target for `GET <ARI prefix><path>`.
    pub async fn connect(target: &Target, path: &str) -> anyhow::Result<Connection> {
        let stream = TcpStream::connect(&target.authority)
            .await
            .with_context(|| format!("connect {}", target.authority))?;
        stream.set_nodelay(true)?;
        let request = format!(
            "GET {}{path} HTTP/1.1\r\nHost: {}\r\nAuthorization: {}\r\n\r\n",
            target.prefix, target.authority, target.authorization
        );
        Ok(Connection {
            stream,
            request: request.into_bytes(),
            buf: vec![0; BUFFER],
            start: 0,
            end: 0,
        })
    }

    /// Sends the request and reads the whole response.
    pub async fn get(&mut self) -> anyhow::Result<Response> {
        self.stream.write_all(&self.request).await?;
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
        let body_len = if chunked {
            self.chunked_body().await?
        } else {
            let length = length.unwrap_or(0);
            self.skip(length).await?;
            length
        };
        Ok(Response { status, body_len })
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
            bail!("connection closed by the server");
        }
        self.end += n;
        Ok(())
    }
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
        conns.push(Connection::connect(target, path).await?);
    }
    let budget = Arc::new(AtomicU64::new(max_requests));
    let started = Instant::now();
    let deadline = started + duration;
    let mut tasks = Vec::with_capacity(connections);
    for mut conn in conns {
        let budget = budget.clone();
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
                let response = conn.get().await?;
                result.latencies.push(t0.elapsed());
                result.bytes += response.body_len as u64;
                if !(200..300).contains(&response.status) {
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
        let mut conn = Connection::connect(&target, "/x").await.expect("connect");
        assert_eq!(
            conn.get().await.expect("first"),
            Response {
                status: 200,
                body_len: 5
            }
        );
        assert_eq!(
            conn.get().await.expect("second"),
            Response {
                status: 404,
                body_len: 5
            }
        );
        server.await.expect("server");
    }
}
