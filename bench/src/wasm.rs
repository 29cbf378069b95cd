//! `wasm-start` and `wasm-event` (wari only): a WebAssembly app driven over the public
//! interface, as any client would see it.
//!
//! The component (`--wasm-component`, by default the `ivr` example app built by
//! `scripts/build-guests`) is uploaded with `PUT /wasm/{app}`; a subscribeAll WebSocket
//! ([`crate::watch`]) watches what the app does to each call. The `ivr` app is used rather
//! than the `bench` test component because the latter's only action is a trace-level log
//! line, which cannot be seen from outside the process (`runtime/examples/wasm_bench.rs`
//! measures that one in-process, in microseconds).
//!
//! - `wasm-start`: from sending `POST /channels?endpoint=E&app=APP` to the app's first
//!   visible action, the `PlaybackStarted` (or an immediate `PlaybackFinished`) of its
//!   menu prompt. This includes the originate itself, StasisStart delivery to the host,
//!   instantiating the component, and the app's `answer` and `play` calls.
//! - `wasm-event`: a Local pair is originated (`Local/EXT@CTX` from `--wasm-dialplan`,
//!   whose dialplan must run `Stasis(APP)`, e.g. `exten => wasm,1,Stasis(wari-bench-wasm)`
//!   in context `wari-bench`); its `;1` half sits in the watcher's application and its
//!   `;2` half in the app. Once the menu plays on `;2`, from sending
//!   `POST /channels/{;1}/dtmf?dtmf=1` to the `ChannelVarset` of `IVR_CHOICE` the app
//!   performs on `;2`: the digit crossing the Local pair, delivery to the running session,
//!   the guest's handler and its `set-variable` call. (DTMF sent to a channel goes towards
//!   its far end, which is why a pair is needed: the app's own channel would not hear it.)
//!   The digit is sent with `duration=1`, yet measured figures are about 100 ms: the
//!   digit reaches the app at its end, after wari's minimum digit duration, so this
//!   scenario mostly measures DTMF timing; the host's own share is in `scripts/bench-wasm`.
//!
//! Calls are made one at a time and each is hung up (and seen destroyed) before the next;
//! the app is deleted at the end.

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE};

use crate::progress::Progress;
use crate::report::WasmReport;
use crate::scenarios::Settings;
use crate::stats::summarize;
use crate::target::encode;
use crate::watch::{Wanted, Watcher, within};

/// How long one visible action may take.
const ACTION_TIMEOUT: Duration = Duration::from_secs(10);

/// Runs `wasm-start` (or `wasm-event` when `event`) for `--count` calls.
pub async fn run(settings: &Settings, event: bool) -> anyhow::Result<WasmReport> {
    let component = settings
        .wasm_component
        .as_ref()
        .context("WebAssembly scenarios need --wasm-component")?;
    let client = settings.target.client()?;
    let app = &settings.wasm_app;
    upload(settings, &client, component).await?;
    let watcher = Watcher::connect(&settings.target, &format!("{app}-watch")).await?;
    let run_id = format!("wbw{}", std::process::id());
    let scenario = if event { "wasm-event" } else { "wasm-start" };
    let progress = Progress::new(scenario, settings.count);
    let deadline = Instant::now() + settings.duration_limit;
    let started = Instant::now();
    let mut latencies = Vec::with_capacity(settings.count);
    let mut outcome = Ok(());
    for i in 0..settings.count {
        if Instant::now() >= deadline {
            break;
        }
        let id = format!("{run_id}-{scenario}-{i}");
        match one_call(settings, &client, &watcher, &id, event).await {
            Ok(latency) => latencies.push(latency),
            Err(e) => {
                watcher.forget(&id);
                let _ = delete(settings, &client, &format!("/channels/{}", encode(&id))).await;
                outcome = Err(e);
                break;
            }
        }
        progress.step();
    }
    progress.finish();
    let seconds = started.elapsed().as_secs_f64();
    let removed = delete(settings, &client, &format!("/wasm/{}", encode(app))).await;
    outcome?;
    removed?;
    eprintln!("{scenario}: {} calls", latencies.len());
    Ok(WasmReport {
        scenario: scenario.into(),
        app: app.clone(),
        component_bytes: component.len(),
        requested: settings.count,
        calls: latencies.len(),
        seconds,
        measures: if event {
            "POST dtmf → the app's ChannelVarset".into()
        } else {
            "POST originate → the app's PlaybackStarted".into()
        },
        latency: summarize(&mut latencies),
    })
}

/// One call: originate, (for `event`) a digit, hang up. Returns the measured latency.
async fn one_call(
    settings: &Settings,
    client: &reqwest::Client,
    watcher: &Watcher,
    id: &str,
    event: bool,
) -> anyhow::Result<Duration> {
    let wanted = |kinds: Vec<&'static str>, variable: Option<&str>| Wanted {
        channel: id.to_string(),
        kinds,
        variable: variable.map(str::to_string),
    };
    if !event {
        let acted = watcher.wait(wanted(vec!["PlaybackStarted", "PlaybackFinished"], None));
        let destroyed = watcher.wait(wanted(vec!["ChannelDestroyed"], None));
        let t0 = Instant::now();
        let path = format!(
            "/channels?endpoint={}&app={}&channelId={}",
            encode(&settings.endpoint),
            encode(&settings.wasm_app),
            encode(id)
        );
        send(settings, client, reqwest::Method::POST, &path).await?;
        let at = within(acted, ACTION_TIMEOUT, &format!("the app's prompt on {id}")).await?;
        delete(settings, client, &format!("/channels/{}", encode(id))).await?;
        within(destroyed, ACTION_TIMEOUT, &format!("{id} destroyed")).await?;
        return Ok(at.saturating_duration_since(t0));
    }
    // The pair: `id` (;1, in the watcher's application) and `inner` (;2, in the app).
    let inner = format!("{id}-2");
    let on_inner = |kinds: Vec<&'static str>, variable: Option<&str>| Wanted {
        channel: inner.clone(),
        kinds,
        variable: variable.map(str::to_string),
    };
    let acted = watcher.wait(on_inner(vec!["PlaybackStarted", "PlaybackFinished"], None));
    let destroyed = [
        watcher.wait(wanted(vec!["ChannelDestroyed"], None)),
        watcher.wait(on_inner(vec!["ChannelDestroyed"], None)),
    ];
    let path = format!(
        "/channels?endpoint={}&app={}&channelId={}&otherChannelId={}",
        encode(&format!("Local/{}", settings.wasm_dialplan)),
        encode(&format!("{}-watch", settings.wasm_app)),
        encode(id),
        encode(&inner)
    );
    send(settings, client, reqwest::Method::POST, &path).await?;
    within(
        acted,
        ACTION_TIMEOUT,
        &format!("the app's prompt on {inner}"),
    )
    .await?;
    let reacted = watcher.wait(on_inner(vec!["ChannelVarset"], Some("IVR_CHOICE")));
    let t0 = Instant::now();
    let path = format!("/channels/{}/dtmf?dtmf=1&duration=1", encode(id));
    send(settings, client, reqwest::Method::POST, &path).await?;
    let at = within(reacted, ACTION_TIMEOUT, &format!("IVR_CHOICE on {inner}")).await?;
    for channel in [id, inner.as_str()] {
        delete(settings, client, &format!("/channels/{}", encode(channel))).await?;
    }
    for gone in destroyed {
        within(gone, ACTION_TIMEOUT, &format!("the pair {id} destroyed")).await?;
    }
    Ok(at.saturating_duration_since(t0))
}

async fn upload(
    settings: &Settings,
    client: &reqwest::Client,
    component: &[u8],
) -> anyhow::Result<()> {
    let request = client
        .put(
            settings
                .target
                .url(&format!("/wasm/{}", encode(&settings.wasm_app))),
        )
        .header(CONTENT_TYPE, "application/wasm")
        .body(component.to_vec());
    checked(
        settings,
        request,
        "upload the component (WebAssembly scenarios need wari)",
        false,
    )
    .await
}

/// A request that must succeed.
async fn send(
    settings: &Settings,
    client: &reqwest::Client,
    method: reqwest::Method,
    path: &str,
) -> anyhow::Result<()> {
    let request = client.request(method.clone(), settings.target.url(path));
    checked(settings, request, &format!("{method} {path}"), false).await
}

/// A DELETE; 404 (already gone) is fine.
async fn delete(settings: &Settings, client: &reqwest::Client, path: &str) -> anyhow::Result<()> {
    let request = client.delete(settings.target.url(path));
    checked(settings, request, &format!("DELETE {path}"), true).await
}

/// Sends `request` with the bench's credentials. Anything but a 2xx answer (or a 404 when
/// `gone_is_fine`) fails with `what`, the status and the server's message.
async fn checked(
    settings: &Settings,
    request: reqwest::RequestBuilder,
    what: &str,
    gone_is_fine: bool,
) -> anyhow::Result<()> {
    let response = request
        .header(AUTHORIZATION, &settings.target.authorization)
        .send()
        .await
        .with_context(|| what.to_string())?;
    let status = response.status();
    let body = response.bytes().await.unwrap_or_default();
    if status.is_success() || (gone_is_fine && status == reqwest::StatusCode::NOT_FOUND) {
        return Ok(());
    }
    bail!("{what}: {status} {}", String::from_utf8_lossy(&body))
}
