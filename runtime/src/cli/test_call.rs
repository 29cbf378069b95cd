//! The test call of `wari app run --call SPEC`: placed into the run's Stasis extension,
//! followed on an ARI event WebSocket (the read-only watch user, subscribed to everything)
//! until its channel is destroyed, and judged: handled when the app started a session for it
//! and no failure of the app names its channel.
//!
//! A channel's own events (state, keys, playbacks, hangup cause) are all an outside observer
//! can see; what the app saw and logged comes from the app's log stream (`app_run`).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use futures_util::StreamExt;
use http::{HeaderValue, Method, header};
use serde_json::Value;
use tokio::sync::broadcast;
use tokio_tungstenite::tungstenite::{self, client::IntoClientRequest};

use super::client::Server;

/// The application name the watch socket listens on (it takes no calls).
const WATCH_APP: &str = "wari-run-watch";
/// The `type` the watcher gives its calls when its socket has closed.
const CLOSED: &str = "wari-run:closed";
/// Events kept for a call that reads slowly (a terminal that blocks).
const BACKLOG: usize = 4096;
/// How long the app's session may take to end once its channel is gone.
const SESSION_END_WAIT: Duration = Duration::from_secs(5);
/// How often the session's end is looked for.
const SESSION_END_POLL: Duration = Duration::from_millis(50);

/// Every event of the host, as the watch user's socket receives it.
pub(super) struct Watcher {
    events: broadcast::Sender<Arc<Value>>,
    reader: tokio::task::JoinHandle<()>,
}

impl Drop for Watcher {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

impl Watcher {
    /// Connects to the host at `address` as `user` (read-only is enough) and subscribes to
    /// every channel, bridge and endpoint.
    pub(super) async fn connect(
        address: std::net::SocketAddr,
        user: &str,
        password: &str,
    ) -> anyhow::Result<Watcher> {
        let url = format!("ws://{address}/ari/events?app={WATCH_APP}&subscribeAll=true");
        let mut request = url
            .as_str()
            .into_client_request()
            .context("cannot build the events WebSocket request")?;
        request.headers_mut().insert(
            header::AUTHORIZATION,
            HeaderValue::from_str(&wari::ari::auth::basic_authorization(user, password))
                .context("the watch user's credentials cannot be sent in a header")?,
        );
        let stream = tokio::net::TcpStream::connect(address)
            .await
            .with_context(|| format!("cannot connect to {address}"))?;
        let (mut socket, _) = tokio_tungstenite::client_async(request, stream)
            .await
            .context("cannot open the events WebSocket")?;
        let (events, _) = broadcast::channel(BACKLOG);
        let sender = events.clone();
        let reader = tokio::spawn(async move {
            while let Some(Ok(message)) = socket.next().await {
                if let tungstenite::Message::Text(text) = message
                    && let Ok(event) = serde_json::from_str::<Value>(&text)
                {
                    let _ = sender.send(Arc::new(event));
                }
            }
            let _ = sender.send(Arc::new(serde_json::json!({"type": CLOSED})));
        });
        Ok(Watcher { events, reader })
    }

    fn subscribe(&self) -> broadcast::Receiver<Arc<Value>> {
        self.events.subscribe()
    }
}

/// How a test call went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Outcome {
    /// The app took the call, and the call ended without a failure of the app.
    Handled,
    /// The app took the call and failed: the failure.
    Failed(String),
    /// The call never reached the app, or did not end in time: why.
    NotHandled(String),
}

/// The app's counters that judge a call (`GET /ari/wasm/{app}`).
#[derive(Debug, Clone, Default)]
struct Stats {
    started: u64,
    live: u64,
    failures: u64,
    last_failure: Value,
}

async fn stats(server: &Server, app: &str) -> anyhow::Result<Stats> {
    let reply = server
        .send(Method::GET, &super::app::app_path(app), None)
        .await?;
    if !reply.status.is_success() {
        bail!("cannot read {app}'s state: {}", reply.error());
    }
    let body = reply.json()?;
    let number = |v: &Value| v.as_u64().unwrap_or(0);
    Ok(Stats {
        started: number(&body["sessions_started"]),
        live: number(&body["sessions_live"]),
        failures: number(&body["failures"]["total"]),
        last_failure: body["failures"]["last"].clone(),
    })
}

/// Numbers the calls of a run (and makes their channel ids unique).
static CALLS: AtomicU64 = AtomicU64::new(1);

/// Places a call from `spec` (e.g. `Test/alice/dtmf=42`) into the run's Stasis extension,
/// prints its progress, and judges it once its channel is gone (hung up after `timeout`).
pub(super) async fn place(
    server: &Server,
    watcher: &Watcher,
    app: &str,
    spec: &str,
    timeout: Duration,
) -> anyhow::Result<Outcome> {
    let number = CALLS.fetch_add(1, Ordering::Relaxed);
    let channel = format!("wari-run-{}-{number}", std::process::id());
    let tag = format!("[call {number}]");
    let before = stats(server, app).await?;
    let mut events = watcher.subscribe();
    let query = form_urlencoded::Serializer::new(String::new())
        .append_pair("endpoint", spec)
        .append_pair("context", super::run_host::CONTEXT)
        .append_pair("extension", super::run_host::EXTENSION)
        .append_pair("priority", "1")
        .append_pair("channelId", &channel)
        .finish();
    let reply = server
        .send(Method::POST, &format!("/channels?{query}"), None)
        .await?;
    if !reply.status.is_success() {
        bail!("cannot place the call {spec}: {}", reply.error());
    }
    println!(
        "{tag} {spec} -> {}@{} (channel {channel})",
        super::run_host::EXTENSION,
        super::run_host::CONTEXT
    );
    let deadline = Instant::now() + timeout;
    let cause = loop {
        let event = match tokio::time::timeout_at(deadline.into(), events.recv()).await {
            Ok(Ok(event)) => event,
            Ok(Err(broadcast::error::RecvError::Lagged(missed))) => {
                println!("{tag} ({missed} events missed: the terminal is slow)");
                continue;
            }
            Ok(Err(broadcast::error::RecvError::Closed)) => {
                bail!("the events WebSocket closed during the call")
            }
            Err(_) => {
                let _ = server
                    .send(Method::DELETE, &format!("/channels/{channel}"), None)
                    .await;
                return Ok(Outcome::NotHandled(format!(
                    "the call did not end within {} s: hung up (give more time with --timeout)",
                    timeout.as_secs()
                )));
            }
        };
        if event["type"] == CLOSED {
            bail!("the events WebSocket closed during the call");
        }
        if !concerns(&event, &channel) {
            continue;
        }
        if let Some(line) = describe(&event) {
            println!("{tag} {line}");
        }
        if event["type"] == "ChannelDestroyed" {
            break (
                event["cause"].as_u64().unwrap_or(0),
                event["cause_txt"].as_str().unwrap_or("").to_string(),
            );
        }
    };
    let after = settled(server, app, &before).await?;
    let outcome = judge(&before, &after, &channel, app, &cause);
    match &outcome {
        Outcome::Handled => println!("{tag} handled by {app}"),
        Outcome::Failed(why) | Outcome::NotHandled(why) => println!("{tag} NOT handled: {why}"),
    }
    Ok(outcome)
}

/// The app's counters once the sessions live before the call are all that is left (the
/// call's session may still be handling StasisEnd when its channel is gone); bounded.
async fn settled(server: &Server, app: &str, before: &Stats) -> anyhow::Result<Stats> {
    let deadline = Instant::now() + SESSION_END_WAIT;
    loop {
        let now = stats(server, app).await?;
        if now.live <= before.live || Instant::now() >= deadline {
            return Ok(now);
        }
        tokio::time::sleep(SESSION_END_POLL).await;
    }
}

fn judge(
    before: &Stats,
    after: &Stats,
    channel: &str,
    app: &str,
    cause: &(u64, String),
) -> Outcome {
    let failed = after.failures > before.failures
        && after.last_failure["channels"]
            .as_array()
            .is_some_and(|channels| channels.iter().any(|c| c == channel));
    if failed {
        let message = after.last_failure["message"]
            .as_str()
            .unwrap_or("the app failed");
        let version = after.last_failure["version"].as_str().unwrap_or("?");
        return Outcome::Failed(format!("{app} (version {version}): {message}"));
    }
    if after.started <= before.started {
        return Outcome::NotHandled(format!(
            "the call never reached {app} (it ended with cause {} {})",
            cause.0, cause.1
        ));
    }
    Outcome::Handled
}

/// Whether `event` is about `channel` (or a playback on it).
fn concerns(event: &Value, channel: &str) -> bool {
    event["channel"]["id"] == channel
        || event["playback"]["target_uri"]
            .as_str()
            .is_some_and(|uri| uri.strip_prefix("channel:") == Some(channel))
}

/// One short line for an event about the call's channel; `None` for what says nothing new.
fn describe(event: &Value) -> Option<String> {
    let text = |v: &Value| v.as_str().unwrap_or("").to_string();
    let kind = event["type"].as_str().unwrap_or("?");
    Some(match kind {
        "ChannelCreated" => return None,
        "ChannelStateChange" => format!("{kind} {}", text(&event["channel"]["state"])),
        "ChannelDialplan" => {
            let application = text(&event["dialplan_app"]);
            // AppDial: the dialled side's own marker, nothing the app did.
            if application.is_empty() || application.starts_with("AppDial") {
                return None;
            }
            format!(
                "{kind} {application}({})",
                text(&event["dialplan_app_data"])
            )
        }
        "ChannelDtmfReceived" => format!("{kind} digit={}", text(&event["digit"])),
        "ChannelVarset" => format!(
            "{kind} {}={}",
            text(&event["variable"]),
            text(&event["value"])
        ),
        "PlaybackStarted" => format!("{kind} {}", text(&event["playback"]["media_uri"])),
        "PlaybackFinished" => format!(
            "{kind} {} {}",
            text(&event["playback"]["media_uri"]),
            text(&event["playback"]["state"])
        ),
        "ChannelHangupRequest" => match event["cause"].as_u64() {
            Some(cause) => format!("{kind} cause={cause}"),
            None => kind.to_string(),
        },
        "ChannelDestroyed" => format!(
            "{kind} cause={} ({})",
            event["cause"].as_u64().unwrap_or(0),
            text(&event["cause_txt"])
        ),
        other => other.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn stats(started: u64, failures: u64, last: Value) -> Stats {
        Stats {
            started,
            live: 0,
            failures,
            last_failure: last,
        }
    }

    #[test]
    fn a_call_is_handled_when_a_session_started_and_no_failure_names_it() {
        let cause = (16, "Normal Clearing".to_string());
        let before = stats(3, 1, json!({"channels": ["c"], "message": "old"}));
        assert_eq!(
            judge(
                &before,
                &stats(4, 1, before.last_failure.clone()),
                "c",
                "ivr",
                &cause
            ),
            Outcome::Handled
        );
        // Another call's failure is not this call's.
        let other = json!({"channels": ["other"], "message": "boom", "version": "abc"});
        assert_eq!(
            judge(&before, &stats(5, 2, other), "c", "ivr", &cause),
            Outcome::Handled
        );
        let mine = json!({"channels": ["c"], "message": "trapped: boom", "version": "abc"});
        assert_eq!(
            judge(&before, &stats(4, 2, mine), "c", "ivr", &cause),
            Outcome::Failed("ivr (version abc): trapped: boom".into())
        );
        assert_eq!(
            judge(&before, &before, "c", "ivr", &(17, "User busy".into())),
            Outcome::NotHandled(
                "the call never reached ivr (it ended with cause 17 User busy)".into()
            )
        );
    }

    #[test]
    fn events_of_the_channel_and_its_playbacks_concern_the_call() {
        assert!(concerns(&json!({"channel": {"id": "c"}}), "c"));
        assert!(concerns(
            &json!({"playback": {"target_uri": "channel:c"}}),
            "c"
        ));
        assert!(!concerns(&json!({"channel": {"id": "cc"}}), "c"));
        assert!(!concerns(
            &json!({"playback": {"target_uri": "bridge:c"}}),
            "c"
        ));
    }

    #[test]
    fn event_lines_are_short() {
        assert_eq!(
            describe(&json!({"type": "ChannelDtmfReceived", "digit": "4"})).as_deref(),
            Some("ChannelDtmfReceived digit=4")
        );
        assert_eq!(
            describe(&json!({"type": "ChannelDestroyed", "cause": 16,
                              "cause_txt": "Normal Clearing"}))
            .as_deref(),
            Some("ChannelDestroyed cause=16 (Normal Clearing)")
        );
        assert_eq!(describe(&json!({"type": "ChannelCreated"})), None);
    }
}
