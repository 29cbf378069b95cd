//! Listening in on a live call from the console: in a real headless Chromium
//! ([`crate::browser`]) an operator clicks Listen on a call playing a tone and the page
//! receives audio with energy in it; Stop and the call's hang-up end the snoop channel (an
//! ARI client subscribed to everything sees it destroyed); a read-only user has no Listen
//! button and is refused. Over plain HTTP: the listen WebSocket needs the same session, an
//! `Origin` that is this wari and the CSRF token, the channels count against the user's
//! `max_channels`, and the call's own application hears nothing of the listen.

use futures_util::StreamExt;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use crate::browser::{Browser, UI_TIMEOUT};
use crate::console::{cell, screenshot};
use crate::console_page::{http_log_in, logged_in, started_call};
use crate::support::{ARI_CONF, EventSocket, Wari, client, eventually};

/// The id of the live channel whose name starts with `prefix`.
async fn channel_named(wari: &Wari, prefix: &str) -> String {
    eventually(&format!("a {prefix} channel"), UI_TIMEOUT, || async {
        let (_, channels) = wari.get("/ari/channels").await.parts();
        channels
            .as_array()
            .into_iter()
            .flatten()
            .find(|c| c["name"].as_str().is_some_and(|n| n.starts_with(prefix)))
            .and_then(|c| c["id"].as_str())
            .map(str::to_string)
            .ok_or_else(|| channels.to_string())
    })
    .await
}

/// The player's counts: samples received and samples with energy.
async fn received(browser: &Browser) -> (u64, u64) {
    let counts = browser
        .client
        .execute(
            "const p = document.querySelector('#listen-player'); return [Number(p.dataset.samples), Number(p.dataset.loud)];",
            vec![],
        )
        .await
        .expect("read the player");
    (
        counts[0].as_u64().unwrap_or(0),
        counts[1].as_u64().unwrap_or(0),
    )
}

/// Clicks Listen on channel `id`'s row and waits until the page has received half a
/// second of audio with energy in it.
async fn listen_until_heard(browser: &Browser, id: &str) {
    // The live view redraws its rows as the feed changes them: a button found just
    // before a redraw is gone when clicked, so find it again then (bounded).
    let button = format!("#channels tbody tr[data-id=\"{id}\"] button.listen");
    eventually("Listen is clicked", UI_TIMEOUT, || async {
        browser
            .find(&button)
            .await
            .click()
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    })
    .await;
    browser
        .text_until("#listen-status", |t| t.starts_with("Listening to"))
        .await;
    let (samples, loud) = eventually("the page hears the tone", UI_TIMEOUT, || async {
        match received(browser).await {
            (samples, loud) if loud >= 4000 => Ok((samples, loud)),
            counts => Err(format!("{counts:?}")),
        }
    })
    .await;
    assert!(samples >= loud, "{samples} {loud}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_hears_a_call_from_the_page_and_stops_listening() {
    let wari = Wari::start_default();
    let mut ari =
        EventSocket::connect(&wari, "app=desk&api_key=asterisk:secret&subscribeAll=true").await;
    let browser = logged_in(&wari, ("asterisk", "secret")).await;

    let id = started_call(
        &wari,
        &mut ari,
        "endpoint=Test/alice&app=desk&callerId=Alice%20%3C100%3E",
    )
    .await;
    let (status, playback) = wari
        .post(&format!("/ari/channels/{id}/play?media=tone:1000"))
        .await
        .parts();
    assert_eq!(status, 201, "{playback}");
    browser.text_until(&cell(&id, "state"), |t| t == "Up").await;

    // Listen: the page receives the tone.
    listen_until_heard(&browser, &id).await;
    let snoop = channel_named(&wari, &format!("Snoop/{id}-")).await;
    let media = channel_named(&wari, "WebSocket/INCOMING/").await;
    browser
        .text_until("#listen-received", |t| t.starts_with("received "))
        .await;
    screenshot(&browser, "listen.png").await;

    // Stop: the snoop channel is destroyed, the media channel too, the call goes on.
    browser
        .find("#listen-stop")
        .await
        .click()
        .await
        .expect("click Stop");
    ari.next_for("ChannelDestroyed", &snoop).await;
    browser
        .text_until("#listen-status", |t| t.starts_with("Stopped listening"))
        .await;
    eventually("the media channel is gone", UI_TIMEOUT, || async {
        match wari.get(&format!("/ari/channels/{media}")).await.parts() {
            (404, _) => Ok(()),
            (status, body) => Err(format!("{status} {body}")),
        }
    })
    .await;
    let (status, target) = wari.get(&format!("/ari/channels/{id}")).await.parts();
    assert_eq!(status, 200, "the call goes on");
    assert_eq!(target["state"], "Up", "{target}");

    // Listening again, then the call hangs up: listening ends and the page says so.
    listen_until_heard(&browser, &id).await;
    let snoop = channel_named(&wari, &format!("Snoop/{id}-")).await;
    let (status, _) = wari.delete(&format!("/ari/channels/{id}")).await.parts();
    assert_eq!(status, 204);
    ari.next_for("ChannelDestroyed", &snoop).await;
    browser
        .text_until("#listen-status", |t| t.starts_with("The call ended"))
        .await;
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_only_user_has_no_listen_button_and_is_refused() {
    let wari = Wari::start_default();
    let mut ari = EventSocket::connect(&wari, "app=desk&api_key=asterisk:secret").await;
    let browser = logged_in(&wari, ("viewer", "look")).await;
    let id = started_call(&wari, &mut ari, "endpoint=Test/bob&app=desk").await;
    browser.text_until(&cell(&id, "state"), |t| t == "Up").await;
    assert_eq!(browser.count("button.listen").await, 0, "no Listen button");
    let script = r#"
        const done = arguments[arguments.length - 1];
        (async () => {
          const me = await (await fetch('api/session')).json();
          const r = await fetch('api/listen', { method: 'POST',
            headers: { 'X-Wari-Csrf': me.csrf, 'Content-Type': 'application/json' },
            body: JSON.stringify({ channel: arguments[0] }) });
          done([r.status, await r.json()]);
        })();
    "#;
    let answer = browser
        .client
        .execute_async(script, vec![serde_json::json!(id)])
        .await
        .expect("script");
    assert_eq!(answer[0], 403, "{answer}");
    assert_eq!(answer[1]["message"], "Write access denied", "{answer}");
    let (_, channels) = wari.get("/ari/channels").await.parts();
    assert_eq!(channels.as_array().map(Vec::len), Some(1), "{channels}");
    browser.close().await;
}

/// `POST /console/api/listen` for `channel`: the status and body.
async fn ask_to_listen(
    wari: &Wari,
    (cookie, csrf): &(String, String),
    channel: &str,
) -> (u16, serde_json::Value) {
    let response = client()
        .post(wari.url("/console/api/listen"))
        .header("cookie", cookie)
        .header("x-wari-csrf", csrf)
        .json(&serde_json::json!({ "channel": channel }))
        .send()
        .await
        .expect("listen");
    let status = response.status().as_u16();
    (status, response.json().await.expect("json"))
}

/// Opens the listen WebSocket `id` with these credentials; the HTTP status of a refusal.
async fn open_socket(
    wari: &Wari,
    id: &str,
    cookie: &str,
    origin: &str,
    csrf: &str,
) -> Result<
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>,
    u16,
> {
    let url = format!("ws://{}/console/api/listen/{id}", wari.addr());
    let mut request = url.into_client_request().expect("request");
    let headers = request.headers_mut();
    headers.insert("cookie", cookie.parse().expect("cookie"));
    headers.insert("origin", origin.parse().expect("origin"));
    let protocols = format!("media, wari-csrf.{csrf}");
    headers.insert(
        "sec-websocket-protocol",
        protocols.parse().expect("protocols"),
    );
    match tokio_tungstenite::connect_async(request).await {
        Ok((socket, _)) => Ok(socket),
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            Err(response.status().as_u16())
        }
        Err(other) => panic!("listen WebSocket: {other}"),
    }
}

#[tokio::test]
async fn the_listen_socket_needs_its_session_origin_and_token_and_the_quota_counts() {
    let ari_conf = format!("{ARI_CONF}\n[small]\ntype = user\npassword = tiny\nmax_channels = 2\n");
    let wari = Wari::with(&[("ari.conf", &ari_conf)]);
    let mut ari =
        EventSocket::connect(&wari, "app=all&api_key=asterisk:secret&subscribeAll=true").await;
    // The call's own application subscribes to its channel only.
    let mut desk = EventSocket::connect(&wari, "app=desk&api_key=asterisk:secret").await;
    let (_, channel) = wari
        .post("/ari/channels?endpoint=Test/dave&app=desk")
        .await
        .parts();
    let target = channel["id"].as_str().expect("channel id").to_string();
    desk.next_for("StasisStart", &target).await;

    let viewer = http_log_in(&wari, "viewer", "look").await;
    let (status, body) = ask_to_listen(&wari, &viewer, &target).await;
    assert_eq!(
        (status, &body["message"]),
        (403, &"Write access denied".into())
    );
    let small = http_log_in(&wari, "small", "tiny").await;
    let no_token = (small.0.clone(), "wrong".to_string());
    let (status, _) = ask_to_listen(&wari, &no_token, &target).await;
    assert_eq!(status, 403, "no CSRF token");
    let (status, body) = ask_to_listen(&wari, &small, "nobody").await;
    assert_eq!(
        (status, &body["message"]),
        (404, &"Channel not found".into())
    );

    // The two channels of a listen are the user's: a second one is over max_channels = 2.
    let (status, made) = ask_to_listen(&wari, &small, &target).await;
    assert_eq!(status, 200, "{made}");
    let (id, snoop) = (
        made["id"].as_str().expect("id").to_string(),
        made["snoop"].as_str().expect("snoop").to_string(),
    );
    let (status, body) = ask_to_listen(&wari, &small, &target).await;
    assert_eq!(status, 403, "{body}");
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.contains("max_channels")),
        "{body}"
    );

    // The upgrade: another origin, a wrong token, another session are refused.
    let origin = format!("http://{}", wari.addr());
    assert_eq!(
        open_socket(&wari, &id, &small.0, "http://evil.example", &small.1)
            .await
            .err(),
        Some(403)
    );
    assert_eq!(
        open_socket(&wari, &id, &small.0, &origin, "wrong")
            .await
            .err(),
        Some(403)
    );
    assert_eq!(
        open_socket(&wari, &id, &viewer.0, &origin, &viewer.1)
            .await
            .err(),
        Some(404)
    );

    // The right one hears MEDIA_START, then 20 ms of µ-law per message.
    let mut socket = open_socket(&wari, &id, &small.0, &origin, &small.1)
        .await
        .expect("the listen WebSocket");
    let mut text = None;
    let mut frames = 0;
    while frames < 5 {
        let message = tokio::time::timeout(UI_TIMEOUT, socket.next())
            .await
            .expect("a message in time")
            .expect("open")
            .expect("a message");
        match message {
            Message::Text(t) if text.is_none() => text = Some(t.to_string()),
            Message::Binary(b) => {
                assert_eq!(b.len(), 160);
                frames += 1;
            }
            _ => {}
        }
    }
    assert!(
        text.as_deref()
            .is_some_and(|t| t.starts_with("MEDIA_START") && t.contains("format:ulaw")),
        "{text:?}"
    );
    // The id was good for one connection.
    assert_eq!(
        open_socket(&wari, &id, &small.0, &origin, &small.1)
            .await
            .err(),
        Some(404)
    );

    // Closing the socket ends the snoop; the call goes on in its application.
    drop(socket);
    ari.next_for("ChannelDestroyed", &snoop).await;
    let (status, call) = wari.get(&format!("/ari/channels/{target}")).await.parts();
    assert_eq!(status, 200);
    assert_eq!(call["state"], "Up", "{call}");
    // The call's application heard nothing of it: the next event it gets is the one
    // this test causes now.
    let (status, _) = wari
        .post(&format!(
            "/ari/channels/{target}/variable?variable=MARK&value=1"
        ))
        .await
        .parts();
    assert_eq!(status, 204);
    let next = desk.next().await;
    assert_eq!(next["type"], "ChannelVarset", "{next}");
    assert_eq!(next["variable"], "MARK", "{next}");
    let (status, made) = ask_to_listen(&wari, &small, &target).await;
    assert_eq!(status, 200, "the quota is given back: {made}");
}
