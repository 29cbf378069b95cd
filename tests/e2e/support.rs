//! Starting the real `wari` binary for a test and talking to it.
//!
//! [`Wari::start`] writes the given configuration files into a fresh directory, runs
//! `wari --config-dir DIR`, waits for the banner's `ready` line and reads the addresses it
//! listens on from the `listening:` lines. Its log (stderr) goes to a file the test can read.
//! The process is killed when the value is dropped.
//!
//! Nothing of the machine leaks into a test: every wari (and every client program a test
//! runs, see [`isolate`]) gets an environment of its own instead of the developer's shell,
//! with `HOME` in the test's directory; every wari gets its own `--data-dir`, and its own
//! empty `astdatadir` unless the test writes an `asterisk.conf` (so sounds installed on the
//! machine, e.g. Debian's in /usr/share/asterisk/sounds, are never seen); every listener is
//! on an ephemeral loopback port (the embedded demo too, with `--bind 127.0.0.1:0`); and the
//! HTTP clients ([`client_builder`]) never go through a proxy from the environment.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// How long wari may take to print its banner.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// The wari binary built by cargo for these tests.
pub(crate) fn wari_bin() -> &'static str {
    env!("CARGO_BIN_EXE_wari")
}

/// The log filter of every wari a test starts (whatever `RUST_LOG` the shell has).
const WARI_LOG: &str = "info,wari=debug";

/// Gives `command` an environment of its own instead of the test's: only `PATH` (so
/// programs are found as the shell finds them) and `HOME` set to `home` (a directory of the
/// test), so that nothing the developer's shell exports (`RUST_LOG`, `RUST_BACKTRACE`,
/// `WASMTIME_BACKTRACE_DETAILS`, `MIMALLOC_*`, `http_proxy`, `XDG_DATA_HOME`, `NODE_OPTIONS`,
/// `PYTHONPATH`, ...) changes what the program does, and nothing reaches the user's home.
pub(crate) fn isolate<'c>(command: &'c mut Command, home: &Path) -> &'c mut Command {
    command.env_clear().env("HOME", home);
    if let Some(path) = std::env::var_os("PATH") {
        command.env("PATH", path);
    }
    command
}

/// A `wari` command with an isolated environment ([`isolate`], `HOME` = `home`), logging at
/// [`WARI_LOG`] with backtraces on panic.
pub(crate) fn wari_command(home: &Path) -> Command {
    let mut command = Command::new(wari_bin());
    isolate(&mut command, home)
        .env("RUST_LOG", WARI_LOG)
        .env("RUST_BACKTRACE", "1");
    command
}

/// Where the guest components are: `WARI_GUESTS_DIR` (scripts/test exports it), else
/// `target/guests/components`.
pub(crate) fn guests_dir() -> PathBuf {
    std::env::var_os("WARI_GUESTS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/guests/components")
        })
}

/// The path of guest component `name` (e.g. `ivr`); panics, saying how to build them, when
/// it is not there.
pub(crate) fn component_path(name: &str) -> PathBuf {
    let path = guests_dir().join(format!("{name}.wasm"));
    assert!(
        path.is_file(),
        "{}: build the guest components with scripts/build-guests (scripts/test does)",
        path.display()
    );
    path
}

/// Lets an isolated `wari` command (see [`wari_command`]) build app crates: in the guest
/// build directory `scripts/build-guests` uses (the parent of [`guests_dir`], so std is
/// built once), with this test's Rust toolchain and downloaded crates.
pub(crate) fn builds_in(command: &mut Command) {
    let target = guests_dir()
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/guests"));
    command.env("WARI_GUEST_TARGET_DIR", target);
    for (var, below_home) in [("CARGO_HOME", ".cargo"), ("RUSTUP_HOME", ".rustup")] {
        let dir = std::env::var_os(var)
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(below_home)));
        if let Some(dir) = dir {
            command.env(var, dir);
        }
    }
}

/// The directory (in the test's) that [`Wari::start`] makes wari's `astdatadir`, with an
/// empty `sounds` directory, when the test writes no `asterisk.conf`.
const OWN_ASTDATADIR: &str = "astdata";

/// A running wari process.
pub(crate) struct Wari {
    child: Child,
    pub dir: tempfile::TempDir,
    /// The `astdatadir` [`Wari::start`] made for this wari (`None` when the test wrote its
    /// own `asterisk.conf`, and for the embedded demo).
    astdatadir: Option<PathBuf>,
    /// The plain HTTP listener, if any.
    pub http: Option<SocketAddr>,
    /// The HTTPS listener, if any.
    pub https: Option<SocketAddr>,
    /// The first SIP UDP transport (pjsip.conf), if any.
    pub sip_udp: Option<SocketAddr>,
    /// The first SIP TCP transport (pjsip.conf), if any.
    pub sip_tcp: Option<SocketAddr>,
    /// The first SIP TLS transport (pjsip.conf), if any.
    pub sip_tls: Option<SocketAddr>,
    /// Every banner line up to and including `ready`.
    pub banner: Vec<String>,
    log: PathBuf,
    args: Vec<String>,
}

/// A plain HTTP listener on an ephemeral loopback port, ARI on, the `asterisk`/`secret`
/// read/write user and the `viewer`/`look` read-only user.
pub(crate) const HTTP_CONF: &str = "[general]\nenabled = yes\nbindaddr = 127.0.0.1\nbindport = 0\n";
pub(crate) const ARI_CONF: &str = "[general]\nenabled = yes\n\n[asterisk]\ntype = user\npassword = secret\n\n[viewer]\ntype = user\npassword = look\nread_only = yes\n";

impl Wari {
    /// Starts wari on a configuration directory holding `files` (name, contents), with
    /// `DIR/data` as its `--data-dir`. Unless `files` has an `asterisk.conf`, one is added
    /// whose `astdatadir` is an empty directory of this test ([`Wari::astdatadir`]): no
    /// sound or music-on-hold file of the machine is ever played.
    pub(crate) fn start(files: &[(&str, &str)]) -> Wari {
        let dir = tempfile::tempdir().expect("temp dir");
        for (name, text) in files {
            std::fs::write(dir.path().join(name), text).expect("write config file");
        }
        let astdatadir = if files.iter().any(|(name, _)| *name == "asterisk.conf") {
            None
        } else {
            let astdatadir = dir.path().join(OWN_ASTDATADIR);
            std::fs::create_dir_all(astdatadir.join("sounds")).expect("sounds directory");
            let asterisk = format!("[directories]\nastdatadir => {}\n", astdatadir.display());
            std::fs::write(dir.path().join("asterisk.conf"), asterisk).expect("asterisk.conf");
            Some(astdatadir)
        };
        let args = vec![
            "--config-dir".to_string(),
            dir.path().display().to_string(),
            "--data-dir".to_string(),
            dir.path().join("data").display().to_string(),
        ];
        let mut wari = Wari::spawn(dir, &args);
        wari.astdatadir = astdatadir;
        wari
    }

    /// Starts wari with the default test configuration ([`HTTP_CONF`], [`ARI_CONF`]).
    pub(crate) fn start_default() -> Wari {
        Wari::with(&[])
    }

    /// Starts wari ([`Wari::start`]) on `files` plus the standard `http.conf`
    /// ([`HTTP_CONF`]) and `ari.conf` ([`ARI_CONF`]) unless `files` has its own.
    pub(crate) fn with(files: &[(&str, &str)]) -> Wari {
        let mut all: Vec<(&str, &str)> = Vec::with_capacity(files.len() + 2);
        for standard in [("http.conf", HTTP_CONF), ("ari.conf", ARI_CONF)] {
            if !files.iter().any(|(name, _)| *name == standard.0) {
                all.push(standard);
            }
        }
        all.extend_from_slice(files);
        Wari::start(&all)
    }

    /// Starts wari with no configuration (the embedded demo), moved off its default
    /// 127.0.0.1:8088 to an ephemeral loopback port (`--bind 127.0.0.1:0`), with
    /// `DIR/data` as its `--data-dir`.
    pub(crate) fn start_embedded() -> Wari {
        let dir = tempfile::tempdir().expect("temp dir");
        let args = vec![
            "--bind".to_string(),
            "127.0.0.1:0".to_string(),
            "--data-dir".to_string(),
            dir.path().join("data").display().to_string(),
        ];
        Wari::spawn(dir, &args)
    }

    /// Stops this wari and starts a new one on the same configuration and data directory.
    pub(crate) fn restart(mut self) -> Wari {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let dir = tempfile::TempDir::new().expect("placeholder");
        let dir = std::mem::replace(&mut self.dir, dir);
        let args = self.args.clone();
        let astdatadir = self.astdatadir.take();
        drop(self);
        let mut wari = Wari::spawn(dir, &args);
        wari.astdatadir = astdatadir;
        wari
    }

    fn spawn(dir: tempfile::TempDir, args: &[String]) -> Wari {
        let log = dir.path().join("wari.log");
        let log_file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .expect("log file");
        let home = dir.path().join("home");
        std::fs::create_dir_all(&home).expect("home directory");
        let mut child = wari_command(&home)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log_file))
            .spawn()
            .expect("start wari");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut wari = Wari {
            child,
            dir,
            astdatadir: None,
            http: None,
            https: None,
            sip_udp: None,
            sip_tcp: None,
            sip_tls: None,
            banner: Vec::new(),
            log,
            args: args.to_vec(),
        };
        loop {
            let line = match rx.recv_timeout(START_TIMEOUT) {
                Ok(line) => line,
                Err(_) => panic!(
                    "wari did not become ready; banner so far: {:?}; log:\n{}",
                    wari.banner,
                    wari.log()
                ),
            };
            if let Some(rest) = line.strip_prefix("listening: ") {
                let mut parts = rest.split_whitespace();
                let scheme = parts.next().unwrap_or_default();
                let url = parts.next().unwrap_or_default();
                let authority = url
                    .split("://")
                    .nth(1)
                    .and_then(|u| u.split('/').next())
                    .unwrap_or_default();
                let address: SocketAddr = authority.parse().expect("listening address");
                match scheme {
                    "http" => wari.http = Some(address),
                    "https" => wari.https = Some(address),
                    "sip-udp" => {
                        wari.sip_udp.get_or_insert(address);
                    }
                    "sip-tcp" => {
                        wari.sip_tcp.get_or_insert(address);
                    }
                    "sip-tls" => {
                        wari.sip_tls.get_or_insert(address);
                    }
                    other => panic!("unknown scheme {other}"),
                }
            }
            let ready = line.starts_with("ready");
            wari.banner.push(line);
            if ready {
                break;
            }
        }
        wari
    }

    /// The plain HTTP address (panics when there is none).
    pub(crate) fn addr(&self) -> SocketAddr {
        self.http.expect("wari has a plain HTTP listener")
    }

    /// `http://127.0.0.1:PORT` + `path`.
    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr())
    }

    /// Everything wari has logged so far.
    pub(crate) fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The configuration directory.
    pub(crate) fn config_dir(&self) -> &Path {
        self.dir.path()
    }

    /// The `--data-dir` wari was started with.
    pub(crate) fn data_dir(&self) -> Option<PathBuf> {
        let flag = self.args.iter().position(|a| a == "--data-dir")?;
        self.args.get(flag + 1).map(PathBuf::from)
    }

    /// The `astdatadir` [`Wari::start`] gave this wari (its own, `sounds/` empty unless the
    /// test put files there); `None` when the test wrote its own `asterisk.conf`.
    pub(crate) fn astdatadir(&self) -> Option<&Path> {
        self.astdatadir.as_deref()
    }

    /// The process id.
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// True while the process is running.
    pub(crate) fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Sends `signal` (`TERM`, as a service manager stops a service; `KILL`, a crash) and
    /// waits (bounded) until the process has exited; true when it exited successfully.
    pub(crate) fn stop_with(&mut self, signal: &str) -> bool {
        let sent = Command::new("kill")
            .args([&format!("-{signal}"), &self.pid().to_string()])
            .status()
            .expect("run kill");
        assert!(sent.success(), "kill -{signal} {}", self.pid());
        let deadline = std::time::Instant::now() + START_TIMEOUT;
        loop {
            match self.child.try_wait() {
                Ok(Some(status)) => return status.success(),
                Ok(None) => assert!(
                    std::time::Instant::now() < deadline,
                    "wari did not stop within {START_TIMEOUT:?} of SIG{signal}"
                ),
                Err(e) => panic!("wait for wari: {e}"),
            }
            // Polled, not spun: the kernel reaps a killed process within microseconds.
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}

impl Drop for Wari {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What every test's HTTP client starts from: no proxy, whatever `http_proxy`,
/// `HTTPS_PROXY` or `ALL_PROXY` the environment has (the tests only talk to loopback).
pub(crate) fn client_builder() -> reqwest::ClientBuilder {
    reqwest::Client::builder().no_proxy()
}

/// A loopback TCP port that is bound but never listens: connecting to it is refused, and
/// while the value lives no other program can take the port, nor can an outgoing
/// connection pick it as its source port (and so connect to itself). For a server that is
/// not there, without the race of a port closed and then hoped to stay free.
pub(crate) struct RefusingPort {
    socket: tokio::net::TcpSocket,
    address: SocketAddr,
}

impl RefusingPort {
    /// A fresh ephemeral port on 127.0.0.1.
    pub(crate) fn new() -> RefusingPort {
        RefusingPort::at(SocketAddr::from(([127, 0, 0, 1], 0)))
    }

    /// Takes `address` (e.g. that of a listener just dropped) back at once.
    pub(crate) fn at(address: SocketAddr) -> RefusingPort {
        let socket = tokio::net::TcpSocket::new_v4().expect("socket");
        // As a listener would: a connection closed on this port may still be in TIME_WAIT.
        socket.set_reuseaddr(true).expect("SO_REUSEADDR");
        socket.bind(address).expect("bind the refusing port");
        let address = socket.local_addr().expect("address");
        RefusingPort { socket, address }
    }

    /// The bound address.
    pub(crate) fn address(&self) -> SocketAddr {
        self.address
    }

    /// The server comes back: listens on the same port (within a tokio runtime).
    pub(crate) fn listen(self) -> tokio::net::TcpListener {
        self.socket.listen(128).expect("listen")
    }
}

/// An async HTTP client without connection reuse surprises.
pub(crate) fn client() -> reqwest::Client {
    client_builder()
        .timeout(Duration::from_secs(20))
        .build()
        .expect("client")
}

/// Sends raw bytes over a fresh TCP connection and returns the whole response text
/// (the request should carry `Connection: close`).
pub(crate) fn raw_request(addr: SocketAddr, request: &[u8]) -> String {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    stream.write_all(request).expect("send");
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response);
    String::from_utf8_lossy(&response).into_owned()
}

/// The status code of a raw HTTP response.
pub(crate) fn raw_status(response: &str) -> u16 {
    response
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

/// The body of a raw HTTP response.
pub(crate) fn raw_body(response: &str) -> &str {
    response.split("\r\n\r\n").nth(1).unwrap_or("")
}

/// Runs `wari` with arguments to completion, in an isolated environment ([`wari_command`]
/// with a fresh `HOME`): (exit success, stdout, stderr).
pub(crate) fn run_wari(args: &[&str]) -> (bool, String, String) {
    let home = tempfile::tempdir().expect("temp dir");
    let output = wari_command(home.path())
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run wari");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// A client of the events WebSocket, as an ARI application.
pub(crate) struct EventSocket {
    stream: tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
}

/// How long a test waits for one expected event.
pub(crate) const EVENT_TIMEOUT: Duration = Duration::from_secs(10);

/// At most this many events are read by [`EventSocket::until`].
pub(crate) const EVENT_BUDGET: usize = 200;

impl EventSocket {
    /// Connects `/ari/events?{query}` (e.g. `app=hello&api_key=asterisk:secret`); the
    /// applications are registered when this returns.
    pub(crate) async fn connect(wari: &Wari, query: &str) -> EventSocket {
        let url = format!("ws://{}/ari/events?{query}", wari.addr());
        let (stream, _) = tokio_tungstenite::connect_async(url)
            .await
            .expect("events WebSocket handshake");
        EventSocket { stream }
    }

    /// Connects as the test user for application `app`, subscribed to every event source
    /// (`subscribeAll`: a channel's ChannelDestroyed after it left the application too).
    pub(crate) async fn watching(wari: &Wari, app: &str) -> EventSocket {
        EventSocket::connect(
            wari,
            &format!("app={app}&subscribeAll=true&api_key=asterisk:secret"),
        )
        .await
    }

    /// The next event (panics after [`EVENT_TIMEOUT`]).
    pub(crate) async fn next(&mut self) -> serde_json::Value {
        use futures_util::StreamExt;
        loop {
            let message = tokio::time::timeout(EVENT_TIMEOUT, self.stream.next())
                .await
                .expect("an event within the timeout")
                .expect("socket open")
                .expect("valid frame");
            if let tokio_tungstenite::tungstenite::Message::Text(text) = message {
                return serde_json::from_str(text.as_str()).expect("event JSON");
            }
        }
    }

    /// Skips events until one of type `kind` arrives, and returns it.
    pub(crate) async fn next_of(&mut self, kind: &str) -> serde_json::Value {
        loop {
            let event = self.next().await;
            if event["type"] == kind {
                return event;
            }
        }
    }

    /// Skips events until one of type `kind` for channel `id` arrives.
    pub(crate) async fn next_for(&mut self, kind: &str, channel: &str) -> serde_json::Value {
        loop {
            let event = self.next().await;
            if event["type"] == kind && event["channel"]["id"] == channel {
                return event;
            }
        }
    }

    /// The events up to and including the first one `done` accepts (panics after
    /// [`EVENT_BUDGET`] events, or [`EVENT_TIMEOUT`] without an event).
    pub(crate) async fn until(
        &mut self,
        mut done: impl FnMut(&serde_json::Value) -> bool,
    ) -> Vec<serde_json::Value> {
        let mut seen = Vec::new();
        for _ in 0..EVENT_BUDGET {
            let event = self.next().await;
            let last = done(&event);
            seen.push(event);
            if last {
                return seen;
            }
        }
        panic!("not the awaited event among {EVENT_BUDGET}: {seen:?}");
    }

    /// Sends a text frame.
    pub(crate) async fn send_text(&mut self, text: &str) {
        use futures_util::SinkExt;
        self.stream
            .send(tokio_tungstenite::tungstenite::Message::Text(text.into()))
            .await
            .expect("send");
    }

    /// Closes the socket and waits until the server has closed its side (so the server
    /// has finished with the session when this returns).
    pub(crate) async fn close(mut self) {
        use futures_util::StreamExt;
        let _ = self.stream.close(None).await;
        let _ = tokio::time::timeout(EVENT_TIMEOUT, async {
            while let Some(Ok(_)) = self.stream.next().await {}
        })
        .await;
    }
}

impl EventSocket {
    /// Sends a WebSocket ping and waits for the pong with the same payload (events that
    /// arrive first are skipped).
    pub(crate) async fn ping(&mut self, payload: &[u8]) {
        use futures_util::{SinkExt, StreamExt};
        use tokio_tungstenite::tungstenite::Message;
        self.stream
            .send(Message::Ping(payload.to_vec().into()))
            .await
            .expect("send ping");
        loop {
            let message = tokio::time::timeout(EVENT_TIMEOUT, self.stream.next())
                .await
                .expect("a pong within the timeout")
                .expect("socket open")
                .expect("valid frame");
            if let Message::Pong(data) = message {
                assert_eq!(&data[..], payload);
                return;
            }
        }
    }
}

/// A response as tests look at it: the status, the headers, the body text and the JSON
/// body (`Null` when empty or not JSON).
#[derive(Debug)]
pub(crate) struct Reply {
    pub status: reqwest::StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub text: String,
    pub body: serde_json::Value,
}

impl Reply {
    /// Reads a whole response.
    pub(crate) async fn of(response: reqwest::Response) -> Reply {
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await.expect("body");
        Reply {
            status,
            headers,
            body: serde_json::from_str(&text).unwrap_or(serde_json::Value::Null),
            text,
        }
    }

    /// The status code and the JSON body, to compare with an expected pair.
    pub(crate) fn parts(self) -> (u16, serde_json::Value) {
        (self.status.as_u16(), self.body)
    }

    /// The `message` of an ARI error answer.
    pub(crate) fn message(&self) -> Option<&str> {
        self.body.get("message").and_then(serde_json::Value::as_str)
    }

    /// The value of header `name` (`None` when absent or not text).
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// Sends `request` (made from [`client`] or [`client_builder`]) and reads the reply.
pub(crate) async fn send(request: reqwest::RequestBuilder) -> Reply {
    Reply::of(request.send().await.expect("request")).await
}

/// The read/write test user of [`ARI_CONF`].
pub(crate) const RW_USER: (&str, &str) = ("asterisk", "secret");

/// Asserts the status and `message` of an ARI error answer.
#[track_caller]
pub(crate) fn refused(reply: Reply, status: u16, message: &str) {
    assert_eq!(
        (reply.status.as_u16(), reply.body["message"].as_str()),
        (status, Some(message)),
        "{}",
        reply.body
    );
}

/// The keys of a JSON object in the order they were sent (serde_json keeps it); none for
/// anything else.
pub(crate) fn key_order(value: &serde_json::Value) -> Vec<&str> {
    value
        .as_object()
        .map(|o| o.keys().map(String::as_str).collect())
        .unwrap_or_default()
}

impl Wari {
    /// Sends an ARI request as the read/write test user (`asterisk`/`secret`) and returns the
    /// status and JSON body.
    pub(crate) async fn ari(&self, method: reqwest::Method, path: &str) -> Reply {
        self.ari_with_body(method, path, None).await
    }

    /// Like [`Wari::ari`], with a JSON body when `body` is given.
    pub(crate) async fn ari_with_body(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> Reply {
        self.ari_as(RW_USER, method, path, body).await
    }

    /// An ARI request as `user` (name, password), with a JSON body when `body` is given.
    pub(crate) async fn ari_as(
        &self,
        user: (&str, &str),
        method: reqwest::Method,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> Reply {
        let mut request = client()
            .request(method, self.url(path))
            .basic_auth(user.0, Some(user.1));
        if let Some(body) = body {
            request = request.json(&body);
        }
        send(request).await
    }

    /// An ARI request as `user` whose body is `bytes` of type `content_type`.
    pub(crate) async fn ari_bytes_as(
        &self,
        user: (&str, &str),
        method: reqwest::Method,
        path: &str,
        content_type: &str,
        bytes: Vec<u8>,
    ) -> Reply {
        let request = client()
            .request(method, self.url(path))
            .basic_auth(user.0, Some(user.1))
            .header("Content-Type", content_type)
            .body(bytes);
        send(request).await
    }

    /// `GET` as the test user.
    pub(crate) async fn get(&self, path: &str) -> Reply {
        self.ari(reqwest::Method::GET, path).await
    }

    /// `POST` as the test user.
    pub(crate) async fn post(&self, path: &str) -> Reply {
        self.ari(reqwest::Method::POST, path).await
    }

    /// `DELETE` as the test user.
    pub(crate) async fn delete(&self, path: &str) -> Reply {
        self.ari(reqwest::Method::DELETE, path).await
    }

    /// `PUT` as the test user.
    pub(crate) async fn put(&self, path: &str) -> Reply {
        self.ari(reqwest::Method::PUT, path).await
    }

    /// `POST` as the test user, which must succeed (2xx); returns the body.
    pub(crate) async fn post_ok(&self, path: &str) -> serde_json::Value {
        let reply = self.post(path).await;
        assert!(
            reply.status.is_success(),
            "POST {path}: {} {}",
            reply.status,
            reply.text
        );
        reply.body
    }

    /// `DELETE` as the test user, which must succeed (2xx).
    pub(crate) async fn delete_ok(&self, path: &str) {
        let reply = self.delete(path).await;
        assert!(
            reply.status.is_success(),
            "DELETE {path}: {} {}",
            reply.status,
            reply.text
        );
    }
}

/// What a finished command did.
#[derive(Debug)]
pub(crate) struct Finished {
    pub success: bool,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `command` to completion (stdin closed; stdout and stderr go to files, so no pipe can
/// fill up). If it is still running after `limit` it is killed and the test fails with its
/// stderr so far.
pub(crate) fn run_limited(mut command: Command, limit: Duration) -> Finished {
    let dir = tempfile::tempdir().expect("temp dir");
    let stdout = dir.path().join("stdout");
    let stderr = dir.path().join("stderr");
    let mut child = command
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&stdout).expect("stdout file"))
        .stderr(std::fs::File::create(&stderr).expect("stderr file"))
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"));
    let pid = child.id();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait());
    });
    let read = |path: &Path| std::fs::read_to_string(path).unwrap_or_default();
    match rx.recv_timeout(limit) {
        Ok(status) => Finished {
            success: status.expect("wait for the command").success(),
            stdout: read(&stdout),
            stderr: read(&stderr),
        },
        Err(_) => {
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
            panic!(
                "{command:?} did not finish within {limit:?}; stderr so far:\n{}",
                read(&stderr)
            );
        }
    }
}

/// How often [`eventually`] looks again.
const POLL_EVERY: Duration = Duration::from_millis(20);

/// Polls `check` (every 20 ms) until it answers `Ok`, for state that no event announces
/// (a log line, a metric, a list emptied by asynchronous teardown). Fails the test with
/// `what` and the last `Err` it answered once `within` has passed.
pub(crate) async fn eventually<T, F, Fut>(what: &str, within: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, String>>,
{
    let deadline = std::time::Instant::now() + within;
    loop {
        match check().await {
            Ok(value) => return value,
            Err(last) => assert!(
                std::time::Instant::now() < deadline,
                "{what} did not happen within {within:?}; last seen:\n{last}"
            ),
        }
        tokio::time::sleep(POLL_EVERY).await;
    }
}
