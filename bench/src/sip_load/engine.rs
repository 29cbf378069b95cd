//! The load generator's calls, all on one thread: one signalling socket for every call,
//! one RTP socket per call, and one 20 ms timer that starts calls at the set rate, sends
//! every answered call's frame, retransmits unanswered requests and hangs calls up at the
//! same rate. Each call's RTP socket has a small receive loop on this thread (a local
//! task) that counts wari's packets into the call's [`Receiver`].
//!
//! The controller ([`super::run`]) steers it with [`Command`]s and watches [`Progress`].

use std::cell::RefCell;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::{Duration, Instant};

use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::MissedTickBehavior;

use super::message::{Dialog, Message};
use super::rtp::{self, Counts, Receiver, Sender};

/// The media clock of every call: one frame per call per tick.
pub const TICK: Duration = Duration::from_millis(20);
/// A generator tick this much behind its schedule counts as late.
pub const GENERATOR_LATE: Duration = Duration::from_millis(10);
/// First retransmission interval of a request without an answer (RFC 3261's T1).
const T1: Duration = Duration::from_millis(500);
/// Longest retransmission interval (T2).
const T2: Duration = Duration::from_secs(4);
/// A request without a final answer this long has failed (Timer B / F).
const GIVE_UP: Duration = Duration::from_secs(32);
/// Failure reasons kept for the report.
const REASONS_KEPT: usize = 5;

/// What the controller asks.
#[derive(Debug)]
pub enum Command {
    /// The counts since the last `Window` (or the start), and a fresh start.
    Window(oneshot::Sender<Window>),
    /// Hang every answered call up with BYE, at the set rate.
    HangUp,
}

/// Where the calls are.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Progress {
    pub started: usize,
    pub answered: usize,
    pub failed: usize,
    /// Calls that ended: the generator's BYE answered (or given up), or wari's BYE.
    pub ended: usize,
    /// Of those, calls wari hung up.
    pub ended_by_wari: usize,
    /// BYEs without a final answer.
    pub bye_unanswered: usize,
    /// Requests the generator retransmitted.
    pub retransmissions: usize,
    /// The first few failures.
    pub reasons: Vec<String>,
}

impl Progress {
    /// Notes a failure; `over`: it ended a call.
    fn fail(&mut self, over: bool, reason: String) {
        if over {
            self.failed += 1;
        }
        if self.reasons.len() < REASONS_KEPT {
            self.reasons.push(reason);
        }
    }
}

/// The signalling socket and where it sends.
struct Sip {
    socket: UdpSocket,
    server: SocketAddr,
}

impl Sip {
    fn send(&self, text: &str) {
        // A full send buffer loses this datagram; the retransmission timer covers it.
        let _ = self.socket.try_send_to(text.as_bytes(), self.server);
    }
}

/// The generator's figures over one window.
#[derive(Debug, Clone, Default)]
pub struct Window {
    /// What every call received, summed.
    pub received: Counts,
    /// Calls with at least one lost / late packet.
    pub calls_with_loss: usize,
    pub calls_with_late: usize,
    /// Calls up (answered, not ending) when the window closed.
    pub calls_up: usize,
    pub sent: u64,
    /// Frames the kernel did not take (full send buffer).
    pub send_errors: u64,
    pub ticks: u64,
    pub late_ticks: u64,
    pub max_tick_late: Duration,
}

/// The plan: where, how many, how fast.
#[derive(Debug, Clone)]
pub struct Plan {
    /// wari's SIP UDP address.
    pub server: SocketAddr,
    pub calls: usize,
    /// New calls (and hang-ups) per second.
    pub rate: f64,
    /// Room of call `i` is `first_room + i / 2`: two consecutive calls share one.
    pub first_room: u32,
    /// A received packet this much later than its predecessor's spacing says is late.
    pub late_after: Duration,
}

#[derive(Debug)]
enum State {
    Inviting {
        first: Instant,
        last: Instant,
        interval: Duration,
        provisional: bool,
    },
    Up,
    Ending {
        first: Instant,
        last: Instant,
        interval: Duration,
    },
    Done,
}

struct Call {
    dialog: Dialog,
    state: State,
    rtp: Rc<UdpSocket>,
    rtp_local: SocketAddr,
    remote: Option<SocketAddr>,
    sender: Sender,
    receiver: Rc<RefCell<Receiver>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Call {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The generator.
pub struct Engine {
    plan: Plan,
    sip: Sip,
    local: SocketAddr,
    calls: Vec<Call>,
    by_call_id: HashMap<String, usize>,
    frame: Vec<u8>,
    progress: Progress,
    window: Window,
    hang_up_from: Option<Instant>,
    hung_up: usize,
}

impl Engine {
    /// Binds the signalling socket on loopback.
    pub async fn bind(plan: Plan) -> anyhow::Result<Engine> {
        let signalling = UdpSocket::bind("127.0.0.1:0").await?;
        let local = signalling.local_addr()?;
        Ok(Engine {
            calls: Vec::with_capacity(plan.calls),
            sip: Sip {
                socket: signalling,
                server: plan.server,
            },
            plan,
            local,
            by_call_id: HashMap::new(),
            frame: rtp::tone_frame(),
            progress: Progress::default(),
            window: Window::default(),
            hang_up_from: None,
            hung_up: 0,
        })
    }

    /// Runs until the controller drops its command sender. Must run inside a
    /// [`tokio::task::LocalSet`] (the calls' receive loops are local tasks).
    pub async fn run(
        mut self,
        mut commands: mpsc::UnboundedReceiver<Command>,
        progress: watch::Sender<Progress>,
    ) {
        let began = Instant::now();
        let mut timer = tokio::time::interval(TICK);
        timer.set_missed_tick_behavior(MissedTickBehavior::Burst);
        let mut buffer = vec![0u8; 65_536];
        loop {
            // Unbiased: a timer that is behind (and so always ready) must not starve the
            // signalling or the controller.
            tokio::select! {
                due = timer.tick() => {
                    let now = Instant::now();
                    self.note_tick(now.saturating_duration_since(due.into_std()));
                    self.tick(began, now);
                }
                received = self.sip.socket.recv_from(&mut buffer) => {
                    if let Ok((length, _)) = received
                        && let Some(message) = Message::parse(&buffer[..length])
                    {
                        self.on_message(&message);
                    }
                }
                command = commands.recv() => match command {
                    Some(Command::Window(reply)) => {
                        let _ = reply.send(self.take_window());
                    }
                    Some(Command::HangUp) => {
                        self.hang_up_from.get_or_insert_with(Instant::now);
                    }
                    None => break,
                },
            }
            progress.send_if_modified(|shown| {
                let changed = *shown != self.progress;
                if changed {
                    shown.clone_from(&self.progress);
                }
                changed
            });
        }
    }

    fn note_tick(&mut self, late: Duration) {
        self.window.ticks += 1;
        if late > GENERATOR_LATE {
            self.window.late_ticks += 1;
        }
        self.window.max_tick_late = self.window.max_tick_late.max(late);
    }

    fn tick(&mut self, began: Instant, now: Instant) {
        let rate = self.plan.rate;
        let due =
            |from: Instant| (now.saturating_duration_since(from).as_secs_f64() * rate) as usize + 1;
        let starts = due(began).min(self.plan.calls);
        while self.calls.len() < starts {
            if let Err(e) = self.start_call(now) {
                self.progress
                    .fail(false, format!("call {}: {e}", self.calls.len()));
                break;
            }
        }
        if let Some(from) = self.hang_up_from {
            let byes = due(from);
            while self.hung_up < byes && self.hung_up < self.calls.len() {
                let index = self.hung_up;
                self.hung_up += 1;
                if matches!(self.calls[index].state, State::Up) {
                    self.calls[index].state = State::Ending {
                        first: now,
                        last: now,
                        interval: T1,
                    };
                    let bye = self.calls[index].dialog.bye();
                    self.sip.send(&bye);
                }
            }
        }
        for index in 0..self.calls.len() {
            self.serve(index, now);
        }
    }

    /// One tick of one call: its frame, or its retransmission.
    fn serve(&mut self, index: usize, now: Instant) {
        let call = &mut self.calls[index];
        match &mut call.state {
            State::Up => {
                if let Some(remote) = call.remote {
                    let packet = call.sender.next(&self.frame);
                    match call.rtp.try_send_to(packet, remote) {
                        Ok(_) => self.window.sent += 1,
                        Err(_) => self.window.send_errors += 1,
                    }
                }
            }
            State::Inviting {
                first,
                last,
                interval,
                provisional,
            } => {
                if now.saturating_duration_since(*first) >= GIVE_UP {
                    call.state = State::Done;
                    self.progress
                        .fail(true, format!("call {index}: no final answer"));
                } else if !*provisional && now.saturating_duration_since(*last) >= *interval {
                    *last = now;
                    *interval = (*interval * 2).min(T2);
                    let invite = call.dialog.invite(call.rtp_local);
                    self.progress.retransmissions += 1;
                    self.sip.send(&invite);
                }
            }
            State::Ending {
                first,
                last,
                interval,
            } => {
                if now.saturating_duration_since(*first) >= GIVE_UP {
                    call.state = State::Done;
                    self.progress.ended += 1;
                    self.progress.bye_unanswered += 1;
                } else if now.saturating_duration_since(*last) >= *interval {
                    *last = now;
                    *interval = (*interval * 2).min(T2);
                    let bye = call.dialog.bye();
                    self.progress.retransmissions += 1;
                    self.sip.send(&bye);
                }
            }
            State::Done => {}
        }
    }

    fn start_call(&mut self, now: Instant) -> anyhow::Result<()> {
        let index = self.calls.len();
        let socket = std::net::UdpSocket::bind("127.0.0.1:0")?;
        socket.set_nonblocking(true)?;
        let rtp_local = socket.local_addr()?;
        let rtp = Rc::new(UdpSocket::from_std(socket)?);
        let receiver = Rc::new(RefCell::new(Receiver::new(self.plan.late_after)));
        let task = tokio::task::spawn_local(receive(rtp.clone(), receiver.clone()));
        let room = self.plan.first_room + (index / 2) as u32;
        let dialog = Dialog::new(index, room, self.plan.server, self.local);
        let invite = dialog.invite(rtp_local);
        self.by_call_id.insert(dialog.call_id.clone(), index);
        self.calls.push(Call {
            dialog,
            state: State::Inviting {
                first: now,
                last: now,
                interval: T1,
                provisional: false,
            },
            rtp,
            rtp_local,
            remote: None,
            sender: Sender::new(0x5741_0000 + index as u32),
            receiver,
            task,
        });
        self.progress.started += 1;
        self.sip.send(&invite);
        Ok(())
    }

    fn on_message(&mut self, message: &Message) {
        let index = message
            .call_id()
            .and_then(|id| self.by_call_id.get(id))
            .copied();
        match (message.status(), message.method()) {
            (Some(status), _) => {
                if let Some(index) = index {
                    self.on_response(index, status, message);
                }
            }
            (None, Some("ACK")) => {}
            (None, Some("BYE")) => {
                self.sip.send(&message.response("200 OK"));
                if let Some(index) = index
                    && matches!(self.calls[index].state, State::Up | State::Ending { .. })
                {
                    self.calls[index].state = State::Done;
                    self.progress.ended += 1;
                    self.progress.ended_by_wari += 1;
                }
            }
            (None, Some("OPTIONS")) => self.sip.send(&message.response("200 OK")),
            (None, _) => self.sip.send(&message.response("501 Not Implemented")),
        }
    }

    fn on_response(&mut self, index: usize, status: u16, message: &Message) {
        let call = &mut self.calls[index];
        match (message.cseq_method(), &mut call.state) {
            (Some("INVITE"), State::Inviting { provisional, .. }) => {
                if status < 200 {
                    *provisional = true;
                    return;
                }
                let success = status < 300;
                call.dialog.to_tag = message.to_tag().map(str::to_string);
                let ack = call.dialog.ack(success);
                if success {
                    call.remote = message.rtp_address();
                    call.state = State::Up;
                    self.progress.answered += 1;
                    self.sip.send(&ack);
                    if self.calls[index].remote.is_none() {
                        self.progress.fail(
                            false,
                            format!("call {index}: answer without an RTP address"),
                        );
                    }
                } else {
                    call.state = State::Done;
                    self.sip.send(&ack);
                    let line = message.first_line.clone();
                    self.progress.fail(true, format!("call {index}: {line}"));
                }
            }
            // wari repeats its 200 until the ACK arrives: repeat the ACK.
            (Some("INVITE"), _) if (200..300).contains(&status) => {
                let ack = call.dialog.ack(true);
                self.sip.send(&ack);
            }
            (Some("BYE"), State::Ending { .. }) if status >= 200 => {
                call.state = State::Done;
                self.progress.ended += 1;
            }
            _ => {}
        }
    }

    fn take_window(&mut self) -> Window {
        let mut window = std::mem::take(&mut self.window);
        for call in &self.calls {
            let counts = call.receiver.borrow_mut().take();
            if counts.lost > 0 {
                window.calls_with_loss += 1;
            }
            if counts.late > 0 {
                window.calls_with_late += 1;
            }
            window.received.add(&counts);
            if matches!(call.state, State::Up) {
                window.calls_up += 1;
            }
        }
        window
    }
}

/// One call's receive loop: every datagram on its RTP socket, with its arrival time.
async fn receive(socket: Rc<UdpSocket>, receiver: Rc<RefCell<Receiver>>) {
    let mut buffer = [0u8; 2048];
    let mut errors = 0;
    while errors < 100 {
        match socket.recv_from(&mut buffer).await {
            Ok((length, _)) => receiver
                .borrow_mut()
                .receive(&buffer[..length], Instant::now()),
            Err(_) => errors += 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stand-in for wari on loopback: answers each INVITE with `status` (200 with an SDP
    /// pointing at an RTP socket that echoes every packet back), and each BYE with 200.
    async fn fake_server(status: u16) -> (SocketAddr, tokio::task::JoinHandle<()>) {
        let sip = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
        let address = sip.local_addr().expect("address");
        let echo = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
        let echo_address = echo.local_addr().expect("address");
        let task = tokio::task::spawn_local(async move {
            let mut buffer = vec![0u8; 65_536];
            let mut packet = [0u8; 2048];
            loop {
                tokio::select! {
                    Ok((n, from)) = sip.recv_from(&mut buffer) => {
                        let Some(request) = Message::parse(&buffer[..n]) else { continue };
                        let reply = match request.method() {
                            Some("INVITE") if status == 200 => {
                                let body = super::super::message::sdp_offer(echo_address);
                                let ok = request.response("200 OK");
                                let head = ok.trim_end_matches("content-length: 0\r\n\r\n");
                                format!(
                                    "{head}content-type: application/sdp\r\n\
                                     content-length: {}\r\n\r\n{body}",
                                    body.len()
                                )
                            }
                            Some("INVITE") => request.response(&format!("{status} Busy Here")),
                            Some("BYE") => request.response("200 OK"),
                            _ => continue,
                        };
                        let _ = sip.send_to(reply.as_bytes(), from).await;
                    }
                    Ok((n, from)) = echo.recv_from(&mut packet) => {
                        let _ = echo.send_to(&packet[..n], from).await;
                    }
                }
            }
        });
        (address, task)
    }

    fn plan(server: SocketAddr, calls: usize) -> Plan {
        Plan {
            server,
            calls,
            rate: 1000.0,
            first_room: 1000,
            late_after: Duration::from_millis(20),
        }
    }

    async fn until(
        progress: &mut watch::Receiver<Progress>,
        done: impl FnMut(&Progress) -> bool,
    ) -> Progress {
        tokio::time::timeout(Duration::from_secs(5), progress.wait_for(done))
            .await
            .expect("in time")
            .expect("engine running")
            .clone()
    }

    async fn take(commands: &mpsc::UnboundedSender<Command>) -> Window {
        let (reply, answer) = oneshot::channel();
        commands.send(Command::Window(reply)).expect("engine");
        answer.await.expect("window")
    }

    #[tokio::test(flavor = "current_thread")]
    async fn calls_send_and_count_media_then_hang_up() {
        let local = tokio::task::LocalSet::new();
        local
            .run_until(async {
                let (server, _server) = fake_server(200).await;
                let engine = Engine::bind(plan(server, 4)).await.expect("engine");
                let (commands, receiver) = mpsc::unbounded_channel();
                let (sender, mut progress) = watch::channel(Progress::default());
                let _engine = tokio::task::spawn_local(engine.run(receiver, sender));
                let up = until(&mut progress, |p| p.answered == 4).await;
                assert_eq!((up.started, up.failed), (4, 0));
                take(&commands).await;
                // Five ticks' worth of media each way, bounded by the timeout.
                let mut seen = Counts::default();
                let last = tokio::time::timeout(Duration::from_secs(5), async {
                    loop {
                        tokio::time::sleep(TICK).await;
                        let window = take(&commands).await;
                        seen.add(&window.received);
                        if seen.packets >= 20 {
                            break window;
                        }
                    }
                })
                .await
                .expect("echoed media");
                assert_eq!((seen.lost, seen.malformed, seen.restarts), (0, 0, 0));
                assert_eq!(last.calls_up, 4);
                commands.send(Command::HangUp).expect("engine");
                let done = until(&mut progress, |p| p.ended == 4).await;
                assert_eq!((done.ended_by_wari, done.bye_unanswered), (0, 0));
            })
            .await;
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_refused_call_is_a_failure_with_its_reason() {
        let local = tokio::task::LocalSet::new();
        local
            .run_until(async {
                let (server, _server) = fake_server(486).await;
                let engine = Engine::bind(plan(server, 2)).await.expect("engine");
                let (_commands, receiver) = mpsc::unbounded_channel::<Command>();
                let (sender, mut progress) = watch::channel(Progress::default());
                let _engine = tokio::task::spawn_local(engine.run(receiver, sender));
                let over = until(&mut progress, |p| p.failed == 2).await;
                assert_eq!(over.answered, 0);
                assert!(over.reasons[0].contains("486"), "{:?}", over.reasons);
            })
            .await;
    }
}
