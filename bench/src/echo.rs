//! `loopback-echo`: the floor under every sequential round trip on this machine. One thread
//! echoes single bytes back over a loopback TCP connection while another sends a byte and
//! blocks until it returns, `--count` times (bounded by `--duration-limit`). Both sides
//! sleep in the kernel between bytes exactly as a server and a client do between requests,
//! so the rate is what any sequential request/response exchange here can at most reach,
//! whatever the server does; it puts the sequential originate figure in proportion. No
//! server is involved. With `--client-wait poll` the sending thread spins on a
//! non-blocking socket instead (the echo thread still sleeps), the floor under a polling
//! bench's sequential rows.

use std::io::{ErrorKind, Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use anyhow::Context;

use crate::client_wait::ClientWait;
use crate::report::EchoReport;
use crate::stats::{rate, summarize};

/// How long a polling sender waits for one byte before giving up.
const POLL_TIMEOUT: Duration = Duration::from_secs(5);

/// Runs `count` echoes (fewer when `limit` passes first).
pub fn run(count: usize, limit: Duration, wait: ClientWait) -> anyhow::Result<EchoReport> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).context("echo listener")?;
    let address = listener.local_addr().context("echo listener address")?;
    let echo = std::thread::spawn(move || -> std::io::Result<()> {
        let (mut stream, _) = listener.accept()?;
        stream.set_nodelay(true)?;
        let mut byte = [0u8; 1];
        // Ends when the client closes its side.
        while stream.read(&mut byte)? == 1 {
            stream.write_all(&byte)?;
        }
        Ok(())
    });
    let mut stream = TcpStream::connect(address).context("echo connect")?;
    stream.set_nodelay(true).context("echo nodelay")?;
    stream
        .set_read_timeout(Some(POLL_TIMEOUT))
        .context("echo read timeout")?;
    stream
        .set_nonblocking(wait == ClientWait::Poll)
        .context("echo non-blocking")?;
    let mut latencies = Vec::with_capacity(count);
    let mut byte = [0u8; 1];
    let started = Instant::now();
    let deadline = started + limit;
    while latencies.len() < count && Instant::now() < deadline {
        let t0 = Instant::now();
        stream.write_all(b"x").context("echo send")?;
        match wait {
            ClientWait::Block => stream.read_exact(&mut byte).context("echo receive")?,
            ClientWait::Poll => poll_one(&mut stream, &mut byte)?,
        }
        latencies.push(t0.elapsed());
    }
    let elapsed = started.elapsed();
    drop(stream);
    echo.join()
        .map_err(|_| anyhow::anyhow!("the echo thread panicked"))?
        .context("echo thread")?;
    Ok(EchoReport {
        client_wait: wait,
        requested: count,
        round_trips: latencies.len(),
        seconds: elapsed.as_secs_f64(),
        rate: rate(latencies.len(), elapsed),
        latency: summarize(&mut latencies),
    })
}

/// Reads one byte from a non-blocking stream, spinning until it arrives.
fn poll_one(stream: &mut TcpStream, byte: &mut [u8; 1]) -> anyhow::Result<()> {
    let deadline = Instant::now() + POLL_TIMEOUT;
    loop {
        match stream.read(byte) {
            Ok(1) => return Ok(()),
            Ok(_) => anyhow::bail!("echo receive: the echo thread closed the connection"),
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                if Instant::now() >= deadline {
                    anyhow::bail!("echo receive: nothing within {POLL_TIMEOUT:?}");
                }
                std::hint::spin_loop();
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(anyhow::anyhow!(e).context("echo receive")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_round_trip_is_counted() {
        for wait in [ClientWait::Block, ClientWait::Poll] {
            let report = run(50, Duration::from_secs(10), wait).expect("echo");
            assert_eq!(report.client_wait, wait);
            assert_eq!(report.round_trips, 50);
            assert_eq!(report.latency.count, 50);
            assert!(report.rate > 0.0);
        }
    }
}
