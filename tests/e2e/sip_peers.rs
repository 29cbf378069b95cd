//! Real SIP peers for the SIP tests, and the comparison of the audio they record.
//!
//! - [`Baresip`]: a headless baresip softphone with a configuration directory of its own
//!   (loopback only, a WAV file as microphone, what it hears recorded per call), driven over
//!   its `ctrl_tcp` socket (netstring-framed JSON commands and events).
//! - [`Sipp`]: SIPp running a built-in scenario (`uac`, `uas`, `uac_pcap`) or one the test
//!   writes, bounded by a call count and a global timeout; its outcome with the call counts.
//! - [`pjsua_call`]: `tests/clients/python/pjsua_call.py` (pjsua2, the PJSIP library inside
//!   Asterisk's chan_pjsip) calling a URI, playing a WAV, recording, sending RFC 4733 digits.
//! - [`audio_match`]: whether recorded audio contains a reference prompt, in 100 ms windows
//!   with a lag search (never sample for sample: jitter buffers drop and repeat 20 ms frames).
//!
//! The peers are installed by `scripts/setup-test-deps`; a missing one fails the test saying
//! so. Every peer runs in an isolated environment ([`support::isolate`]), binds 127.0.0.1 only,
//! and is killed when its value is dropped.

#![allow(dead_code)]

use crate::support;
use serde_json::Value;
use std::collections::VecDeque;
use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Where Debian's `asterisk-core-sounds-en-wav` puts the English prompts (8 kHz, 16 bit, mono).
pub(crate) const PROMPTS: &str = "/usr/share/asterisk/sounds/en_US_f_Allison";

/// The sample rate of the prompts and of every recording compared here.
pub(crate) const RATE: usize = 8000;

/// How long a peer may take to come up, and a test to wait for one peer event.
pub(crate) const PEER_TIMEOUT: Duration = Duration::from_secs(10);

/// The installed prompt `name` (e.g. `hello-world`) as a WAV path; fails the test, saying how
/// to install it, when it is not there.
pub(crate) fn prompt(name: &str) -> PathBuf {
    let path = Path::new(PROMPTS).join(format!("{name}.wav"));
    assert!(
        path.is_file(),
        "{} is missing: run scripts/setup-test-deps (Debian asterisk-core-sounds-en-wav)",
        path.display()
    );
    path
}

/// The samples of a 16-bit mono WAV file (empty when it is missing or unreadable: a recording
/// still being written).
pub(crate) fn read_wav(path: &Path) -> Vec<i16> {
    let Ok(reader) = hound::WavReader::open(path) else {
        return Vec::new();
    };
    reader.into_samples::<i16>().map_while(Result::ok).collect()
}

/// Writes `samples` as an 8 kHz 16-bit mono WAV file.
pub(crate) fn write_wav(path: &Path, samples: &[i16]) {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: RATE as u32,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut writer = hound::WavWriter::create(path, spec).expect("create WAV");
    for sample in samples {
        writer.write_sample(*sample).expect("write WAV");
    }
    writer.finalize().expect("finish WAV");
}

/// Prompt `name` repeated `times` times, written into `dir` (a source that outlasts a call:
/// baresip hangs up when its source file ends).
pub(crate) fn repeated_prompt(dir: &Path, name: &str, times: usize) -> PathBuf {
    let one = read_wav(&prompt(name));
    let path = dir.join(format!("{name}-x{times}.wav"));
    write_wav(&path, &one.repeat(times));
    path
}

/// A loopback port free for both UDP and TCP when asked (bounded retries): SIP peers listen
/// on both.
pub(crate) fn free_port() -> u16 {
    for _ in 0..100 {
        let tcp = TcpListener::bind("127.0.0.1:0").expect("bind a TCP port");
        let port = tcp.local_addr().expect("address").port();
        if UdpSocket::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no loopback port free for both UDP and TCP in 100 tries");
}

/// A loopback port for a baresip phone: free for UDP and TCP, and the next one free for TCP
/// too (baresip's SIP/TLS transport binds there).
fn free_sip_port() -> u16 {
    for _ in 0..100 {
        let port = free_port();
        if port < u16::MAX && TcpListener::bind(("127.0.0.1", port + 1)).is_ok() {
            return port;
        }
    }
    panic!("no loopback port pair free for baresip in 100 tries");
}

/// How many times a baresip phone is started on fresh ports when one was taken meanwhile.
const START_ATTEMPTS: u32 = 3;

/// An even loopback UDP port with the `count` - 1 ports after it free too (RTP/RTCP pairs).
pub(crate) fn free_rtp_ports(count: u16) -> u16 {
    for _ in 0..100 {
        let port = {
            let socket = UdpSocket::bind("127.0.0.1:0").expect("bind a UDP port");
            socket.local_addr().expect("address").port() & !1
        };
        if port <= 1024 || port.checked_add(count).is_none() {
            continue;
        }
        let held: Vec<_> = (port..port + count)
            .map_while(|p| UdpSocket::bind(("127.0.0.1", p)).ok())
            .collect();
        if held.len() == usize::from(count) {
            return port;
        }
    }
    panic!("no {count} free RTP ports in a row in 100 tries");
}

/// Fails the test, saying how to install it, when `program` is not on the `PATH`.
fn require(program: &str, package: &str) {
    let found = std::env::var_os("PATH")
        .map(|path| std::env::split_paths(&path).any(|dir| dir.join(program).is_file()))
        .unwrap_or(false);
    assert!(
        found,
        "{program} is not installed: run scripts/setup-test-deps (Debian {package})"
    );
}

/// Starts `command` with its output in `log` and returns the child.
fn spawn_logged(command: &mut Command, log: &Path) -> Child {
    let out = std::fs::File::create(log).expect("peer log file");
    let err = out.try_clone().expect("peer log file");
    command
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"))
}

/// How a [`Baresip`] phone's one account behaves.
#[derive(Clone, Debug)]
pub(crate) struct Account {
    /// The user part of its address (baresip answers 404 to a Request-URI with another user).
    pub user: String,
    /// Registers to this registrar (e.g. wari's SIP address) every `regint` seconds; `None`:
    /// does not register (its address is then `sip:USER@127.0.0.1:ITS_PORT`).
    pub registrar: Option<SocketAddr>,
    /// The password of digest authentication (REGISTER and INVITE challenges).
    pub password: Option<String>,
    /// Answers incoming calls at once (`answermode=auto`) or waits for [`Baresip::accept`].
    pub auto_answer: bool,
}

impl Account {
    /// An account that does not register.
    pub(crate) fn local(user: &str, auto_answer: bool) -> Account {
        Account {
            user: user.to_string(),
            registrar: None,
            password: None,
            auto_answer,
        }
    }

    /// An account registering to `registrar` with `password`.
    pub(crate) fn registering(
        user: &str,
        password: &str,
        registrar: SocketAddr,
        auto_answer: bool,
    ) -> Account {
        Account {
            user: user.to_string(),
            registrar: Some(registrar),
            password: Some(password.to_string()),
            auto_answer,
        }
    }
}

/// A running baresip phone, killed on drop.
pub(crate) struct Baresip {
    child: Child,
    dir: PathBuf,
    /// Its SIP address (UDP and TCP).
    pub sip: SocketAddr,
    /// The user of its account.
    pub user: String,
    ctrl: tokio::net::TcpStream,
    buffer: Vec<u8>,
    events: VecDeque<Value>,
    token: u64,
}

impl Baresip {
    /// Writes a configuration into `dir` (created) and starts baresip on it, with `source` as
    /// its microphone; returns once its control socket accepts.
    pub(crate) async fn start(dir: &Path, account: Account, source: &Path) -> Baresip {
        require("baresip", "baresip-core");
        std::fs::create_dir_all(dir.join("rec")).expect("baresip directory");
        let (child, sip_port, line, ctrl) = 'started: {
            'attempts: for attempt in 1..=START_ATTEMPTS {
                let sip_port = free_sip_port();
                let ctrl_port = free_port();
                let rtp = free_rtp_ports(10);
                let config = format!(
                    "poll_method epoll\n\
                     sip_listen 127.0.0.1:{sip_port}\n\
                     net_interface 127.0.0.1\n\
                     call_local_timeout 30\n\
                     call_max_calls 4\n\
                     audio_player alsa,null\n\
                     audio_alert alsa,null\n\
                     audio_source aufile,{source}\n\
                     audio_level no\n\
                     ausrc_format s16\n\
                     auplay_format s16\n\
                     auenc_format s16\n\
                     audec_format s16\n\
                     audio_buffer 20-160\n\
                     rtp_ports {rtp}-{rtp_end}\n\
                     rtcp_mux no\n\
                     jitter_buffer_delay 5-10\n\
                     module_path /usr/lib/baresip/modules\n\
                     module g711.so\n\
                     module alsa.so\n\
                     module aufile.so\n\
                     module sndfile.so\n\
                     module_app account.so\n\
                     module_app menu.so\n\
                     module_app ctrl_tcp.so\n\
                     ctrl_tcp_listen 127.0.0.1:{ctrl_port}\n\
                     snd_path {rec}\n",
                    source = source.display(),
                    rtp_end = rtp + 9,
                    rec = dir.join("rec").display(),
                );
                std::fs::write(dir.join("config"), config).expect("baresip config");
                let answer = if account.auto_answer {
                    "auto"
                } else {
                    "manual"
                };
                let mut line = match account.registrar {
                    Some(registrar) => format!(
                        "<sip:{user}@{registrar};transport=udp>;regint=60",
                        user = account.user
                    ),
                    None => format!(
                        "<sip:{user}@127.0.0.1:{sip_port}>;regint=0",
                        user = account.user
                    ),
                };
                if let Some(password) = &account.password {
                    line.push_str(&format!(";auth_pass={password}"));
                }
                line.push_str(&format!(";answermode={answer};audio_codecs=pcmu,pcma"));
                // The account is added over the control socket once it is connected (below), so that
                // no event of its registration is missed.
                std::fs::write(dir.join("accounts"), "").expect("baresip accounts");
                std::fs::write(dir.join("contacts"), "").expect("baresip contacts");

                let home = dir.join("home");
                std::fs::create_dir_all(&home).expect("baresip home");
                let mut command = Command::new("baresip");
                support::isolate(&mut command, &home)
                    .arg("-f")
                    .arg(dir)
                    .arg("-4")
                    .current_dir(dir);
                let mut child = spawn_logged(&mut command, &dir.join("baresip.log"));

                // The control socket accepts once baresip has loaded its modules; no event says so.
                let deadline = Instant::now() + PEER_TIMEOUT;
                loop {
                    match tokio::net::TcpStream::connect(("127.0.0.1", ctrl_port)).await {
                        Ok(stream) => break 'started (child, sip_port, line, stream),
                        Err(e) => {
                            if let Ok(Some(status)) = child.try_wait() {
                                let log = std::fs::read_to_string(dir.join("baresip.log"))
                                    .unwrap_or_default();
                                // A port picked as free can be taken by another test's socket
                                // before baresip binds it: start again on fresh ports.
                                if attempt < START_ATTEMPTS
                                    && log.contains("Address already in use")
                                {
                                    continue 'attempts;
                                }
                                panic!("baresip exited ({status}) before listening; log:\n{log}");
                            }
                            assert!(
                                Instant::now() < deadline,
                                "baresip's control socket did not accept within {PEER_TIMEOUT:?}: {e}"
                            );
                            tokio::time::sleep(Duration::from_millis(20)).await;
                        }
                    }
                }
            }
            panic!("baresip did not start in {START_ATTEMPTS} attempts");
        };
        let mut phone = Baresip {
            child,
            dir: dir.to_path_buf(),
            sip: SocketAddr::from(([127, 0, 0, 1], sip_port)),
            user: account.user,
            ctrl,
            buffer: Vec::new(),
            events: VecDeque::new(),
            token: 0,
        };
        let response = phone.command("uanew", &line).await;
        assert_eq!(response["ok"], true, "uanew {line}: {response}");
        phone
    }

    /// Its own address, `sip:USER@127.0.0.1:PORT`.
    pub(crate) fn uri(&self) -> String {
        format!("sip:{}@{}", self.user, self.sip)
    }

    /// What baresip printed so far.
    pub(crate) fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("baresip.log")).unwrap_or_default()
    }

    /// The next netstring message from the control socket before `deadline`.
    async fn read_message(&mut self, deadline: Instant) -> Option<Value> {
        loop {
            if let Some(colon) = self.buffer.iter().position(|b| *b == b':') {
                let length: usize = std::str::from_utf8(&self.buffer[..colon])
                    .ok()
                    .and_then(|n| n.parse().ok())
                    .expect("ctrl_tcp netstring length");
                let end = colon + 1 + length;
                if self.buffer.len() > end {
                    let message: Value = serde_json::from_slice(&self.buffer[colon + 1..end])
                        .expect("ctrl_tcp JSON");
                    self.buffer.drain(..=end); // the payload and its trailing ','
                    return Some(message);
                }
            }
            let mut chunk = [0u8; 4096];
            let left = deadline.saturating_duration_since(Instant::now());
            match tokio::time::timeout(left, self.ctrl.read(&mut chunk)).await {
                Ok(Ok(0)) => panic!("baresip closed its control socket; log:\n{}", self.log()),
                Ok(Ok(n)) => self.buffer.extend_from_slice(&chunk[..n]),
                Ok(Err(e)) => panic!("baresip control socket: {e}"),
                Err(_) => return None,
            }
        }
    }

    /// Sends a command (`dial`, `hangup`, `accept`, `sndcode` ...) and returns its response;
    /// events read meanwhile are kept for [`Baresip::wait_event`].
    pub(crate) async fn command(&mut self, command: &str, params: &str) -> Value {
        self.token += 1;
        let token = self.token.to_string();
        let body =
            serde_json::json!({"command": command, "params": params, "token": token}).to_string();
        let frame = format!("{}:{body},", body.len());
        self.ctrl
            .write_all(frame.as_bytes())
            .await
            .expect("send to baresip");
        let deadline = Instant::now() + PEER_TIMEOUT;
        loop {
            let Some(message) = self.read_message(deadline).await else {
                panic!("no response from baresip to {command} {params}");
            };
            if message["response"] == true && message["token"] == token.as_str() {
                return message;
            }
            if message["event"] == true {
                self.events.push_back(message);
            }
        }
    }

    /// Waits (up to `within`) for the next event of type `kind` (`REGISTER_OK`,
    /// `CALL_RINGING`, `CALL_ESTABLISHED`, `CALL_CLOSED`, `CALL_DTMF_START` ...), skipping
    /// others, and returns it.
    pub(crate) async fn wait_event(&mut self, kind: &str, within: Duration) -> Value {
        let mut seen = Vec::new();
        while let Some(event) = self.events.pop_front() {
            if event["type"] == kind {
                return event;
            }
            seen.push(event);
        }
        let deadline = Instant::now() + within;
        loop {
            match self.read_message(deadline).await {
                Some(message) if message["event"] == true && message["type"] == kind => {
                    return message;
                }
                Some(message) => seen.push(message),
                None => panic!(
                    "baresip {}: no {kind} within {within:?}; seen {seen:?}; log:\n{}",
                    self.user,
                    self.log()
                ),
            }
        }
    }

    /// Dials `uri`; the command must be accepted.
    pub(crate) async fn dial(&mut self, uri: &str) {
        let response = self.command("dial", uri).await;
        assert_eq!(response["ok"], true, "dial {uri}: {response}");
    }

    /// Answers the ringing call (an account with manual answer).
    pub(crate) async fn accept(&mut self) {
        let response = self.command("accept", "").await;
        assert_eq!(response["ok"], true, "accept: {response}");
    }

    /// Hangs the current call up.
    pub(crate) async fn hangup(&mut self) {
        let response = self.command("hangup", "").await;
        assert_eq!(response["ok"], true, "hangup: {response}");
    }

    /// Sends `digits` as RFC 4733 telephone events in the current call.
    pub(crate) async fn send_digits(&mut self, digits: &str) {
        let response = self.command("sndcode", digits).await;
        assert_eq!(response["ok"], true, "sndcode {digits}: {response}");
    }

    /// The recordings of what it heard, one per call (`...-dec.wav`), oldest first.
    pub(crate) fn heard(&self) -> Vec<PathBuf> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(self.dir.join("rec"))
            .map(|entries| {
                entries
                    .filter_map(|entry| entry.ok().map(|e| e.path()))
                    .filter(|path| path.to_string_lossy().ends_with("-dec.wav"))
                    .collect()
            })
            .unwrap_or_default();
        files.sort();
        files
    }
}

impl Drop for Baresip {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The scenario a [`Sipp`] runs.
pub(crate) enum Scenario<'a> {
    /// One of SIPp's own (`uac`, `uas`, `uac_pcap` ...).
    Builtin(&'a str),
    /// A scenario XML written by the test.
    Xml(&'a str),
}

/// A running SIPp, killed on drop; [`Sipp::finish`] waits for its outcome.
pub(crate) struct Sipp {
    child: Option<Child>,
    dir: tempfile::TempDir,
    /// Its SIP address (UDP).
    pub sip: SocketAddr,
}

/// How a SIPp run ended.
#[derive(Debug)]
pub(crate) struct SippOutcome {
    /// SIPp's exit code: 0 every call succeeded, 1 some failed, 97/99 stopped otherwise.
    pub exit: Option<i32>,
    /// Calls that ran the scenario to its end.
    pub successful: u64,
    /// Calls that did not.
    pub failed: u64,
    /// Its output and error messages, for failure reports.
    pub log: String,
}

impl Sipp {
    /// Starts `sipp` with `scenario` towards `remote` (none for a server scenario) for at most
    /// `calls` calls (`-m`) and `limit` in all (`-timeout`), plus `extra` arguments (e.g.
    /// `["-s", "bob"]`).
    pub(crate) fn start(
        scenario: Scenario<'_>,
        remote: Option<SocketAddr>,
        calls: u32,
        limit: Duration,
        extra: &[&str],
    ) -> Sipp {
        require("sipp", "sip-tester");
        let dir = tempfile::tempdir().expect("temp dir");
        // uac_pcap plays pcap/*.pcap relative to its working directory.
        let _ = std::os::unix::fs::symlink("/usr/share/sip-tester", dir.path().join("pcap"));
        let port = free_port();
        let media = free_rtp_ports(4);
        let mut command = Command::new("sipp");
        support::isolate(&mut command, dir.path()).current_dir(dir.path());
        match scenario {
            Scenario::Builtin(name) => {
                command.args(["-sn", name]);
            }
            Scenario::Xml(xml) => {
                let path = dir.path().join("scenario.xml");
                std::fs::write(&path, xml).expect("write scenario");
                command.arg("-sf").arg(path);
            }
        }
        if let Some(remote) = remote {
            command.arg(remote.to_string());
        }
        command
            .args(["-i", "127.0.0.1", "-p"])
            .arg(port.to_string())
            .arg("-mp")
            .arg(media.to_string())
            .arg("-m")
            .arg(calls.to_string())
            .arg("-timeout")
            .arg(format!("{}s", limit.as_secs().max(1)))
            .args(["-nostdin", "-trace_stat", "-stf"])
            .arg(dir.path().join("stat.csv"))
            .arg("-trace_err")
            .arg("-error_file")
            .arg(dir.path().join("errors.log"))
            .args(extra);
        let child = spawn_logged(&mut command, &dir.path().join("sipp.log"));
        Sipp {
            child: Some(child),
            dir,
            sip: SocketAddr::from(([127, 0, 0, 1], port)),
        }
    }

    /// Waits (up to `limit`, then kills it and fails the test) for SIPp to exit, and reads its
    /// call counts.
    pub(crate) async fn finish(mut self, limit: Duration) -> SippOutcome {
        let mut child = self.child.take().expect("running");
        let deadline = Instant::now() + limit;
        let status = loop {
            if let Some(status) = child.try_wait().expect("wait for sipp") {
                break status;
            }
            if Instant::now() >= deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("sipp did not finish within {limit:?}; log:\n{}", self.log());
            }
            // SIPp's exit is announced by nothing else a test can await.
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        let stats = std::fs::read_to_string(self.dir.path().join("stat.csv")).unwrap_or_default();
        SippOutcome {
            exit: status.code(),
            successful: stat_column(&stats, "SuccessfulCall(C)"),
            failed: stat_column(&stats, "FailedCall(C)"),
            log: self.log(),
        }
    }

    /// SIPp's output and error log so far.
    pub(crate) fn log(&self) -> String {
        let read =
            |name: &str| std::fs::read_to_string(self.dir.path().join(name)).unwrap_or_default();
        format!("{}\n{}", read("sipp.log"), read("errors.log"))
    }
}

impl Drop for Sipp {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The value of column `name` in the last row of SIPp's `;`-separated statistics file (0
/// when absent).
fn stat_column(stats: &str, name: &str) -> u64 {
    let mut lines = stats.lines().filter(|line| !line.trim().is_empty());
    let Some(header) = lines.next() else {
        return 0;
    };
    let Some(column) = header.split(';').position(|field| field == name) else {
        return 0;
    };
    lines
        .next_back()
        .and_then(|row| row.split(';').nth(column))
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or(0)
}

/// What `pjsua_call.py` reports of its call.
#[derive(Debug)]
pub(crate) struct PjsuaOutcome {
    /// The final SIP status of the INVITE (200 when the call was answered).
    pub status: u16,
    /// The RFC 4733 digits it received.
    pub digits_received: String,
    /// Everything it printed, for failure reports.
    pub output: String,
}

/// What [`pjsua_call`] does.
pub(crate) struct PjsuaCall<'a> {
    /// The URI to call.
    pub uri: &'a str,
    /// The WAV file it plays into the call once media is up.
    pub play: &'a Path,
    /// Where it records what it hears.
    pub record: &'a Path,
    /// RFC 4733 digits it sends once media is up (empty: none).
    pub digits: &'a str,
    /// Digest credentials (user, password) for a challenge.
    pub credentials: Option<(&'a str, &'a str)>,
    /// How long it keeps the call up after media is up, unless the far end hangs up first.
    pub hold: Duration,
}

/// [`pjsua_call`] on a blocking thread (with a copy of `call`), so that the test goes on
/// while the call runs.
pub(crate) fn spawn_pjsua_call(call: &PjsuaCall<'_>) -> tokio::task::JoinHandle<PjsuaOutcome> {
    let uri = call.uri.to_string();
    let play = call.play.to_path_buf();
    let record = call.record.to_path_buf();
    let digits = call.digits.to_string();
    let credentials = call
        .credentials
        .map(|(user, password)| (user.to_string(), password.to_string()));
    let hold = call.hold;
    tokio::task::spawn_blocking(move || {
        pjsua_call(&PjsuaCall {
            uri: &uri,
            play: &play,
            record: &record,
            digits: &digits,
            credentials: credentials
                .as_ref()
                .map(|(user, password)| (user.as_str(), password.as_str())),
            hold,
        })
    })
}

/// Runs `tests/clients/python/pjsua_call.py` with the test venv's Python (bounded in time).
pub(crate) fn pjsua_call(call: &PjsuaCall<'_>) -> PjsuaOutcome {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/clients/python");
    let python = dir.join(".venv/bin/python");
    let installed = dir.join(".venv/.installed-requirements");
    assert!(
        installed.is_file(),
        "the Python venv with pjsua2 is not installed ({} is missing): run scripts/setup-test-deps",
        installed.display()
    );
    let home = tempfile::tempdir().expect("temp dir");
    let mut command = Command::new(python);
    support::isolate(&mut command, home.path())
        .arg(dir.join("pjsua_call.py"))
        .args(["--uri", call.uri])
        .arg("--play")
        .arg(call.play)
        .arg("--record")
        .arg(call.record)
        .args(["--digits", call.digits])
        .arg("--hold")
        .arg(format!("{:.1}", call.hold.as_secs_f64()));
    if let Some((user, password)) = call.credentials {
        command.args(["--user", user, "--password", password]);
    }
    let finished = support::run_limited(command, call.hold + Duration::from_secs(20));
    let output = format!("{}\n{}", finished.stdout, finished.stderr);
    let result: Value = finished
        .stdout
        .lines()
        .filter_map(|line| line.strip_prefix("result: "))
        .next_back()
        .and_then(|json| serde_json::from_str(json).ok())
        .unwrap_or_else(|| panic!("pjsua_call.py reported no result:\n{output}"));
    PjsuaOutcome {
        status: result["status"].as_u64().unwrap_or(0) as u16,
        digits_received: result["digits_received"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        output,
    }
}

/// How much of a reference prompt a recording contains (see [`audio_match`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct AudioMatch {
    /// Reference windows with sound in them (silent ones are not compared).
    pub windows: usize,
    /// Of those, the ones found in the recording.
    pub matched: usize,
}

impl AudioMatch {
    /// The share of sounding reference windows found in the recording (0 when none sound).
    pub(crate) fn share(&self) -> f64 {
        if self.windows == 0 {
            0.0
        } else {
            self.matched as f64 / self.windows as f64
        }
    }
}

/// 100 ms windows at 8 kHz.
const WINDOW: usize = RATE / 10;
/// A window counts as sounding when its RMS level is at least this.
const SOUNDING_RMS: f64 = 200.0;
/// How far (samples) a window may have slipped from its predecessor's alignment: jitter
/// buffers drop or repeat 20 ms frames, a few of them between two windows.
const SLIP: usize = RATE * 60 / 1000;
/// The normalised correlation at which a window counts as found (G.711 twice and a clean
/// loopback path stay above 0.95; a different prompt stays far below).
const FOUND: f64 = 0.9;

/// Looks for each sounding 100 ms window of `reference` in `recorded`: at the alignment of the
/// previous found window +-60 ms first, else anywhere (a coarse scan, then refined), and
/// counts the windows whose best normalised correlation is at least 0.9. A recording that
/// contains the prompt, however delayed, with frames dropped or repeated, matches most
/// windows; other audio or silence matches almost none.
pub(crate) fn audio_match(reference: &[i16], recorded: &[i16]) -> AudioMatch {
    let got: Vec<f64> = recorded.iter().map(|s| f64::from(*s)).collect();
    // energy[i] = sum of got[..i]^2, for each candidate window's energy in O(1).
    let mut energy = Vec::with_capacity(got.len() + 1);
    energy.push(0.0);
    for sample in &got {
        energy.push(energy.last().copied().unwrap_or(0.0) + sample * sample);
    }
    let correlation = |window: &[f64], window_energy: f64, at: usize| -> f64 {
        let candidate = &got[at..at + WINDOW];
        let candidate_energy = energy[at + WINDOW] - energy[at];
        if candidate_energy <= 0.0 {
            return 0.0;
        }
        let dot: f64 = window.iter().zip(candidate).map(|(a, b)| a * b).sum();
        dot / (window_energy * candidate_energy).sqrt()
    };
    let best_in = |window: &[f64], window_energy: f64, from: usize, to: usize, step: usize| {
        let mut best = (0usize, f64::MIN);
        let mut at = from;
        while at <= to {
            let c = correlation(window, window_energy, at);
            if c > best.1 {
                best = (at, c);
            }
            at += step;
        }
        best
    };
    let mut result = AudioMatch {
        windows: 0,
        matched: 0,
    };
    if got.len() < WINDOW {
        result.windows = reference
            .chunks_exact(WINDOW)
            .filter(|w| rms(w) >= SOUNDING_RMS)
            .count();
        return result;
    }
    let last = got.len() - WINDOW;
    // recorded position minus reference position of the last window found
    let mut offset: Option<isize> = None;
    for (index, chunk) in reference.chunks_exact(WINDOW).enumerate() {
        if rms(chunk) < SOUNDING_RMS {
            continue;
        }
        result.windows += 1;
        let window: Vec<f64> = chunk.iter().map(|s| f64::from(*s)).collect();
        let window_energy: f64 = window.iter().map(|s| s * s).sum();
        let start = (index * WINDOW) as isize;
        let mut best = (0usize, f64::MIN);
        if let Some(offset) = offset {
            let centre = start + offset;
            let from = (centre - SLIP as isize).clamp(0, last as isize) as usize;
            let to = (centre + SLIP as isize).clamp(0, last as isize) as usize;
            best = best_in(&window, window_energy, from, to, 1);
        }
        if best.1 < FOUND {
            let coarse = best_in(&window, window_energy, 0, last, 4);
            let refined = best_in(
                &window,
                window_energy,
                coarse.0.saturating_sub(4),
                (coarse.0 + 4).min(last),
                1,
            );
            if refined.1 > best.1 {
                best = refined;
            }
        }
        if best.1 >= FOUND {
            result.matched += 1;
            offset = Some(best.0 as isize - start);
        }
    }
    result
}

/// The RMS level of `samples`.
fn rms(samples: &[i16]) -> f64 {
    if samples.is_empty() {
        return 0.0;
    }
    let sum: f64 = samples.iter().map(|s| f64::from(*s).powi(2)).sum();
    (sum / samples.len() as f64).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `samples` delayed by `delay_ms` of silence, with the 20 ms frame at `drop_at_ms` (of
    /// the original) left out: what a jitter buffer may make of a played prompt.
    fn delayed_with_dropped_frame(samples: &[i16], delay_ms: usize, drop_at_ms: usize) -> Vec<i16> {
        let frame = RATE / 50;
        let drop_at = drop_at_ms * RATE / 1000;
        let mut out = vec![0i16; delay_ms * RATE / 1000];
        out.extend_from_slice(&samples[..drop_at]);
        out.extend_from_slice(&samples[drop_at + frame..]);
        out
    }

    #[test]
    fn a_prompt_matches_itself_delayed_with_a_dropped_frame() {
        let hello = read_wav(&prompt("hello-world"));
        let heard = delayed_with_dropped_frame(&hello, 37, 600);
        let found = audio_match(&hello, &heard);
        assert!(found.windows >= 8, "{found:?}");
        // Only the window holding the dropped frame may be missed.
        assert!(found.matched + 1 >= found.windows, "{found:?}");
    }

    #[test]
    fn a_prompt_survives_g711_and_a_repeated_frame() {
        let hello = read_wav(&prompt("hello-world"));
        // µ-law round trip, then a 20 ms frame played twice (a jitter buffer's concealment).
        let coded: Vec<i16> = hello.iter().map(|s| ulaw_round_trip(*s)).collect();
        let frame = RATE / 50;
        let at = 5 * frame * 5;
        let mut heard = vec![0i16; 1200];
        heard.extend_from_slice(&coded[..at]);
        heard.extend_from_slice(&coded[at - frame..]);
        let found = audio_match(&hello, &heard);
        assert!(found.share() >= 0.85, "{found:?}");
    }

    #[test]
    fn a_different_prompt_or_silence_does_not_match() {
        let hello = read_wav(&prompt("hello-world"));
        let other = read_wav(&prompt("demo-congrats"));
        let found = audio_match(&hello, &other);
        assert!(found.windows >= 8, "{found:?}");
        assert!(found.share() <= 0.2, "{found:?}");
        let silence = vec![0i16; hello.len() * 2];
        assert_eq!(audio_match(&hello, &silence).matched, 0);
        assert_eq!(audio_match(&hello, &[]).matched, 0);
    }

    /// A sample through G.711 µ-law and back (wari's codec).
    fn ulaw_round_trip(sample: i16) -> i16 {
        use wari::media::codec::{linear_to_ulaw, ulaw_to_linear};
        ulaw_to_linear(linear_to_ulaw(sample))
    }

    #[test]
    fn sipp_statistics_are_read_from_the_last_row() {
        let stats = "StartTime;SuccessfulCall(P);SuccessfulCall(C);FailedCall(C)\n\
                     t0;0;0;0\n\
                     t1;1;3;2\n";
        assert_eq!(stat_column(stats, "SuccessfulCall(C)"), 3);
        assert_eq!(stat_column(stats, "FailedCall(C)"), 2);
        assert_eq!(stat_column(stats, "Missing"), 0);
        assert_eq!(stat_column("", "FailedCall(C)"), 0);
    }

    // The harness against the peers themselves (no wari): proves the peers, their
    // configuration and the control paths work before any test leans on them.

    #[tokio::test]
    async fn harness_baresip_calls_a_sipp_answering_machine() {
        let dir = tempfile::tempdir().expect("temp dir");
        let uas = Sipp::start(
            Scenario::Builtin("uas"),
            None,
            1,
            Duration::from_secs(15),
            &[],
        );
        let source = repeated_prompt(dir.path(), "hello-world", 5);
        let mut alice = Baresip::start(
            &dir.path().join("alice"),
            Account::local("alice", true),
            &source,
        )
        .await;
        alice.dial(&format!("sip:service@{}", uas.sip)).await;
        alice.wait_event("CALL_ESTABLISHED", PEER_TIMEOUT).await;
        alice.hangup().await;
        alice.wait_event("CALL_CLOSED", PEER_TIMEOUT).await;
        let outcome = uas.finish(Duration::from_secs(15)).await;
        assert_eq!(
            (outcome.exit, outcome.successful, outcome.failed),
            (Some(0), 1, 0),
            "{}",
            outcome.log
        );
    }

    #[tokio::test]
    async fn harness_baresip_hears_and_gets_digits_from_baresip() {
        let dir = tempfile::tempdir().expect("temp dir");
        let hello = prompt("hello-world");
        let long = repeated_prompt(dir.path(), "demo-congrats", 3);
        let mut bob =
            Baresip::start(&dir.path().join("bob"), Account::local("bob", true), &long).await;
        // alice's source ends after one prompt, and baresip then hangs up by itself.
        let mut alice = Baresip::start(
            &dir.path().join("alice"),
            Account::local("alice", true),
            &hello,
        )
        .await;
        alice.dial(&bob.uri()).await;
        alice.wait_event("CALL_ESTABLISHED", PEER_TIMEOUT).await;
        alice.send_digits("42#").await;
        let mut digits = String::new();
        for _ in 0..3 {
            let event = bob.wait_event("CALL_DTMF_START", PEER_TIMEOUT).await;
            digits.push_str(event["param"].as_str().unwrap_or("?"));
        }
        assert_eq!(digits, "42#");
        bob.wait_event("CALL_CLOSED", PEER_TIMEOUT).await;
        let reference = read_wav(&hello);
        let found = support::eventually("bob's recording of alice", PEER_TIMEOUT, || {
            let files = bob.heard();
            let found = files.first().map(|f| audio_match(&reference, &read_wav(f)));
            async move {
                match found {
                    Some(found) if found.share() >= 0.8 => Ok(found),
                    other => Err(format!("{files:?}: {other:?}")),
                }
            }
        })
        .await;
        assert!(found.windows >= 8, "{found:?}");
    }

    #[tokio::test]
    async fn harness_pjsua_calls_baresip_with_digits_and_hears_it() {
        let dir = tempfile::tempdir().expect("temp dir");
        let hello = prompt("hello-world");
        let long = repeated_prompt(dir.path(), "hello-world", 4);
        let mut bob =
            Baresip::start(&dir.path().join("bob"), Account::local("bob", true), &long).await;
        let record = dir.path().join("pjsua-heard.wav");
        let uri = bob.uri();
        let call = spawn_pjsua_call(&PjsuaCall {
            uri: &uri,
            play: &prompt("demo-congrats"),
            record: &record,
            digits: "1984",
            credentials: None,
            hold: Duration::from_secs(3),
        });
        let mut digits = String::new();
        for _ in 0..4 {
            let event = bob.wait_event("CALL_DTMF_START", PEER_TIMEOUT).await;
            digits.push_str(event["param"].as_str().unwrap_or("?"));
        }
        assert_eq!(digits, "1984");
        let outcome = call.await.expect("pjsua call");
        assert_eq!(outcome.status, 200, "{}", outcome.output);
        let heard = read_wav(&record);
        let found = audio_match(&read_wav(&hello), &heard);
        assert!(
            found.share() >= 0.8,
            "{found:?} in {} samples ({:?} bytes)\n{}",
            heard.len(),
            std::fs::metadata(&record).map(|m| m.len()),
            outcome.output
        );
    }
}
