//! A call's story in the operator console, in a real headless Chromium: a live call's
//! timeline follows its events as they happen, its recording plays in the page and
//! downloads, and once the call has ended the operator opens it again from the recent
//! calls (with the keyboard), its events in order with their timestamps. The list keeps
//! only as many ended calls as ari.conf's `console_calls` says.

use crate::browser::{Browser, UI_TIMEOUT};
use crate::console::screenshot;
use crate::console_page::{logged_in, started_call};
use crate::support::{EventSocket, HTTP_CONF, Wari, eventually};

/// ari.conf keeping one ended call's story.
const ARI_CONF: &str = "[general]\nenabled = yes\nconsole_calls = 1\nconsole_call_events = 100\n\n\
     [asterisk]\ntype = user\npassword = secret\n";

/// The timeline shown now: each event's type and timestamp.
async fn timeline(browser: &Browser) -> Vec<(String, String)> {
    let shown = browser
        .client
        .execute(
            "return [...document.querySelectorAll('#story-events li[data-type]')]\
               .map(li => [li.dataset.type, li.querySelector('time').dateTime]);",
            vec![],
        )
        .await
        .expect("read the timeline");
    serde_json::from_value(shown).expect("pairs of strings")
}

/// Whether `wanted` appear in `seen` in this order (others may come between).
fn in_order(seen: &[String], wanted: &[&str]) -> bool {
    let mut rest = seen.iter();
    wanted.iter().all(|w| rest.any(|s| s == w))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_calls_story_and_recording_are_seen_live_and_after_it_ended() {
    let wari = Wari::start(&[("http.conf", HTTP_CONF), ("ari.conf", ARI_CONF)]);
    let mut app = EventSocket::connect(&wari, "app=desk&api_key=asterisk:secret").await;
    let browser = logged_in(&wari, ("asterisk", "secret")).await;

    // A call in the application, answered.
    let id = started_call(
        &wari,
        &mut app,
        "endpoint=Test/carol&app=desk&callerId=Carol%20%3C200%3E",
    )
    .await;
    let row = format!("#channels tbody tr[data-id=\"{id}\"]");
    browser
        .text_until(&format!("{row} td.state"), |t| t == "Up")
        .await;

    // Clicking its live row opens its story, which follows the call.
    browser
        .find(&row)
        .await
        .click()
        .await
        .expect("click the row");
    browser.text_until("#story-state", |t| t == "live").await;
    browser
        .find("#story-events li[data-type=\"StasisStart\"]")
        .await;

    // It records for a second: the live story shows it, and lists the recording.
    let name = format!("story-{}", id.replace('.', "-"));
    let (status, recording) = wari
        .post(&format!(
            "/ari/channels/{id}/record?name={name}&format=wav&maxDurationSeconds=1"
        ))
        .await
        .parts();
    assert_eq!(status, 201, "{recording}");
    app.until(|e| e["type"] == "RecordingFinished" && e["recording"]["name"] == name)
        .await;
    browser
        .find("#story-events li[data-type=\"RecordingFinished\"]")
        .await;
    let listed = format!("#story-recordings li[data-name=\"{name}\"]");
    browser.text_until(&listed, |t| t.contains("done")).await;

    // Hung up: the live story ends with ChannelDestroyed.
    let (status, _) = wari.delete(&format!("/ari/channels/{id}")).await.parts();
    assert_eq!(status, 204);
    app.next_for("StasisEnd", &id).await;
    browser.text_until("#story-state", |t| t == "ended").await;
    browser
        .find("#story-events li[data-type=\"ChannelDestroyed\"]")
        .await;

    // The operator closes it and opens it again from the recent calls, with the keyboard.
    browser
        .find("#story-close")
        .await
        .click()
        .await
        .expect("close the story");
    let recent = format!("#recent tbody tr[data-id=\"{id}\"][data-ended=\"true\"]");
    browser.find(&recent).await;
    assert_eq!(browser.count("#story:not([hidden])").await, 0, "closed");
    browser
        .find(&recent)
        .await
        .send_keys("\u{E007}")
        .await
        .expect("press Enter on the recent call");
    browser
        .find("#story-events li[data-type=\"ChannelDestroyed\"]")
        .await;

    let shown = timeline(&browser).await;
    let kinds: Vec<String> = shown.iter().map(|(k, _)| k.clone()).collect();
    assert!(
        in_order(
            &kinds,
            &[
                "StasisStart",
                "RecordingStarted",
                "RecordingFinished",
                "StasisEnd",
                "ChannelDestroyed"
            ]
        ),
        "{kinds:?}"
    );
    assert_eq!(kinds.last().map(String::as_str), Some("ChannelDestroyed"));
    assert!(
        shown.iter().all(|(_, t)| t.len() >= 23),
        "every event has its timestamp: {shown:?}"
    );
    assert!(
        shown.windows(2).all(|p| p[0].1 <= p[1].1),
        "timestamps ascend: {shown:?}"
    );

    // An event expands to its full JSON.
    browser
        .find("#story-events li[data-type=\"ChannelDestroyed\"] summary")
        .await
        .click()
        .await
        .expect("expand");
    let json = browser
        .text_until(
            "#story-events li[data-type=\"ChannelDestroyed\"] pre",
            |t| !t.is_empty(),
        )
        .await;
    let event: serde_json::Value = serde_json::from_str(&json).expect("the event's JSON");
    assert_eq!(event["type"], "ChannelDestroyed");
    assert_eq!(event["channel"]["id"], id.as_str());
    assert_eq!(event["application"], "desk");

    // The recording plays in the page, and its download link answers with the WAV.
    eventually("the recording's audio loads", UI_TIMEOUT, || async {
        let ready = browser
            .client
            .execute(
                "const a = document.querySelector(arguments[0] + ' audio');\
                 return a ? [a.readyState, a.duration || 0] : [0, 0];",
                vec![serde_json::json!(listed)],
            )
            .await
            .map_err(|e| e.to_string())?;
        if ready[0].as_u64().unwrap_or(0) >= 1 && ready[1].as_f64().unwrap_or(0.0) > 0.0 {
            Ok(())
        } else {
            Err(ready.to_string())
        }
    })
    .await;
    let download = browser
        .client
        .execute_async(
            "const done = arguments[arguments.length - 1];\
             const a = document.querySelector(arguments[0] + ' a.download');\
             fetch(a.href).then(async r => done([r.status, r.headers.get('content-type'),\
               (await r.arrayBuffer()).byteLength, a.getAttribute('download')]));",
            vec![serde_json::json!(listed)],
        )
        .await
        .expect("download");
    assert_eq!(download[0], 200, "{download}");
    assert!(
        download[1]
            .as_str()
            .is_some_and(|t| t.starts_with("audio/wav")),
        "{download}"
    );
    assert!(download[2].as_u64().unwrap_or(0) > 44, "{download}");
    assert_eq!(download[3], format!("{name}.wav"), "{download}");
    browser
        .client
        .execute("document.querySelector('#story').scrollIntoView();", vec![])
        .await
        .expect("scroll to the story");
    screenshot(&browser, "story.png").await;

    // console_calls = 1: once another call has ended, the first one's story is gone.
    let (status, other) = wari
        .post("/ari/channels?endpoint=Test/dave&app=desk")
        .await
        .parts();
    assert_eq!(status, 200, "{other}");
    let other = other["id"].as_str().expect("channel id").to_string();
    app.next_for("StasisStart", &other).await;
    let (status, _) = wari.delete(&format!("/ari/channels/{other}")).await.parts();
    assert_eq!(status, 204);
    app.next_for("StasisEnd", &other).await;
    browser
        .find(&format!(
            "#recent tbody tr[data-id=\"{other}\"][data-ended=\"true\"]"
        ))
        .await;
    eventually(
        "the older ended call leaves the list",
        UI_TIMEOUT,
        || async {
            match browser
                .count(&format!("#recent tbody tr[data-id=\"{id}\"]"))
                .await
            {
                0 => Ok(()),
                n => Err(format!("{n} rows")),
            }
        },
    )
    .await;
    browser.close().await;
}

#[tokio::test]
async fn stories_need_a_session_are_read_only_and_answer_clearly() {
    let wari = Wari::start_default();
    let http = crate::support::client();
    let refused = http
        .get(wari.url("/console/api/stories"))
        .send()
        .await
        .expect("request");
    assert_eq!(refused.status(), 401, "no session, no stories");

    // A read-only user reads them (any ARI user may read every channel).
    let login = http
        .post(wari.url("/console/login"))
        .form(&[("user", "viewer"), ("password", "look")])
        .send()
        .await
        .expect("login");
    assert_eq!(login.status(), 200);
    let cookie = login
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .and_then(|c| c.split(';').next())
        .expect("a session cookie")
        .to_string();
    let get = |path: &str| http.get(wari.url(path)).header("cookie", &cookie).send();

    let mut app = EventSocket::connect(&wari, "app=desk&api_key=asterisk:secret").await;
    let (_, channel) = wari
        .post("/ari/channels?endpoint=Test/erin&app=desk")
        .await
        .parts();
    let id = channel["id"].as_str().expect("channel id").to_string();
    app.next_for("StasisStart", &id).await;
    let list: serde_json::Value = get("/console/api/stories")
        .await
        .expect("list")
        .json()
        .await
        .expect("json");
    let line = list["calls"]
        .as_array()
        .and_then(|calls| calls.iter().find(|c| c["id"] == id.as_str()))
        .unwrap_or_else(|| panic!("the live call is listed: {list}"));
    assert_eq!(line["ended"], false, "{line}");
    assert_eq!(line["app"], "desk", "{line}");

    // Following a live call: only the events after the last one the page has.
    let whole: serde_json::Value = get(&format!("/console/api/stories/{id}"))
        .await
        .expect("story")
        .json()
        .await
        .expect("json");
    let last = whole["events"]
        .as_array()
        .and_then(|e| e.last())
        .map(|e| e["seq"].clone())
        .expect("events");
    let (status, _) = wari
        .post(&format!(
            "/ari/channels/{id}/variable?variable=MOOD&value=calm"
        ))
        .await
        .parts();
    assert_eq!(status, 204);
    app.next_for("ChannelVarset", &id).await;
    let newer: serde_json::Value = get(&format!("/console/api/stories/{id}?after={last}"))
        .await
        .expect("story")
        .json()
        .await
        .expect("json");
    let kinds: Vec<&str> = newer["events"]
        .as_array()
        .map(|e| {
            e.iter()
                .filter_map(|e| e["event"]["type"].as_str())
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(kinds, ["ChannelVarset"], "{newer}");
    assert_eq!(newer["events"][0]["event"]["value"], "calm");

    // Clear answers for what is not there or not allowed.
    let unknown = get("/console/api/stories/no-such-call")
        .await
        .expect("request");
    assert_eq!(unknown.status(), 404);
    let body: serde_json::Value = unknown.json().await.expect("json");
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.contains("No story")),
        "{body}"
    );
    let bad = get(&format!("/console/api/stories/{id}?after=x"))
        .await
        .expect("request");
    assert_eq!(bad.status(), 400);
    let me: serde_json::Value = get("/console/api/session")
        .await
        .expect("session")
        .json()
        .await
        .expect("json");
    let delete = http
        .delete(wari.url(&format!("/console/api/stories/{id}")))
        .header("cookie", &cookie)
        .header("x-wari-csrf", me["csrf"].as_str().unwrap_or_default())
        .send()
        .await
        .expect("request");
    assert_eq!(delete.status(), 405, "stories are read-only");
}
