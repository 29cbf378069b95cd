//! How channels live and die, event by event, as Asterisk 23.4.1 tells an application:
//! originate (Local and Test) with `Dial` progress and failures, caller id, create then
//! dial, STASISSTATUS, continue and move, hangups from every side, hold, and what a
//! subscribeAll socket sees that the originating application does not. Each expectation
//! was observed on the live Asterisk 23.4.1 with the same dialplan (or is in the
//! conformance kit's golden captures, named where so).

use serde_json::{Value, json};

use crate::support::{EVENT_BUDGET, EventSocket, Reply, Wari};

/// The conformance dialplan's extensions (the reference Asterisk's, without its Verbose
/// lines).
const DIALPLAN: &str = "\
[default]
exten => 100,1,NoOp(entering Stasis hello)
 same => n,Stasis(hello,arg1,arg2)
 same => n,Set(GLOBAL(LAST_STATUS)=${STASISSTATUS})
 same => n,Hangup()

exten => 200,1,NoOp(answer-and-wait target)
 same => n,Answer()
 same => n,Wait(3600)
 same => n,Hangup()

exten => 300,1,NoOp(entering Stasis noapp)
 same => n,Stasis(noapp)
 same => n,Set(GLOBAL(LAST_STATUS)=${STASISSTATUS})
 same => n,Hangup()

exten => hold,1,Answer()
 same => n,Wait(120)
 same => n,Hangup()

exten => busy,1,NoOp(busy target)
 same => n,Hangup(17)

exten => ring,1,NoOp(ring target)
 same => n,Ringing()
 same => n,Wait(30)

exten => slow,1,Answer(1200)
 same => n,Wait(30)
";

async fn socket(wari: &Wari, query: &str) -> EventSocket {
    EventSocket::connect(wari, &format!("{query}&api_key=asterisk:secret")).await
}

/// One event about a channel, written with the fields that tell it apart:
/// `Dial RINGING ring@default`, `ChannelHangupRequest 32 soft`, `ChannelVarset X=1`, ...
fn step(event: &Value) -> String {
    let kind = event["type"].as_str().unwrap_or_default();
    let text = |key: &str| event[key].as_str().unwrap_or_default().to_string();
    match kind {
        "Dial" => format!("Dial '{}' {}", text("dialstatus"), text("dialstring")),
        "ChannelHangupRequest" => {
            let soft = if event["soft"] == true { " soft" } else { "" };
            format!("{kind} {}{soft}", event["cause"])
        }
        "ChannelDestroyed" => format!("{kind} {}", event["cause"]),
        "ChannelVarset" => format!("{kind} {}={}", text("variable"), text("value")),
        "ChannelDialplan" => format!(
            "{kind} {}({})",
            text("dialplan_app"),
            text("dialplan_app_data")
        ),
        "ChannelStateChange" => format!(
            "{kind} {}",
            event["channel"]["state"].as_str().unwrap_or_default()
        ),
        _ => kind.to_string(),
    }
}

/// True when the event is about channel `id` (as `channel`, or as a Dial's `peer`).
fn about(event: &Value, id: &str) -> bool {
    event["channel"]["id"] == id || event["peer"]["id"] == id
}

/// The steps of channel `id` among `events`, in order.
fn steps(events: &[Value], id: &str) -> Vec<String> {
    events.iter().filter(|e| about(e, id)).map(step).collect()
}

/// The events up to and including the first that `done` accepts.
async fn until(ws: &mut EventSocket, done: impl Fn(&Value) -> bool) -> Vec<Value> {
    ws.until(|e| done(e)).await
}

/// The events until two ChannelDestroyed have come (both halves of a Local pair, or a
/// call's two channels), at most [`EVENT_BUDGET`].
async fn until_both_destroyed(ws: &mut EventSocket) -> Vec<Value> {
    let mut events = Vec::new();
    let mut destroyed = 0;
    for _ in 0..EVENT_BUDGET {
        let event = ws.next().await;
        destroyed += usize::from(event["type"] == "ChannelDestroyed");
        events.push(event);
        if destroyed == 2 {
            return events;
        }
    }
    panic!("two ChannelDestroyed never came: {events:#?}");
}

/// `POST {path}` (an originate or a create), which must answer 200: the channel.
async fn created(wari: &Wari, path: &str) -> Value {
    let Reply { status, body, .. } = wari.post(path).await;
    assert_eq!(status, 200, "{body}");
    body
}

fn is(kind: &'static str, id: &'static str) -> impl Fn(&Value) -> bool {
    move |e| e["type"] == kind && e["channel"]["id"] == id
}

#[tokio::test]
async fn a_local_originate_with_caller_id_goes_as_in_asterisk() {
    let wari = Wari::with(&[("extensions.conf", DIALPLAN)]);
    let mut ws = socket(&wari, "app=hello").await;
    // Golden originate_local_100, without otherChannelId: the second half is `<id>;2`.
    let Reply { status, body: channel, .. } =  wari.post("/ari/channels?endpoint=Local/100@default&app=hello&appArgs=origArg1,origArg2&channelId=c1&callerId=Oracle%20%3C1000%3E")
    .await;
    assert_eq!(status, 200, "{channel}");
    assert_eq!(
        channel["dialplan"],
        json!({"context": "default", "exten": "100", "priority": 1,
            "app_name": "AppDial2", "app_data": "(Outgoing Line)"})
    );
    assert_eq!(
        channel["caller"],
        json!({"name": "Oracle", "number": "1000"})
    );
    assert_eq!(channel["connected"], channel["caller"]);

    let events = until(&mut ws, is("StasisStart", "c1;2")).await;
    assert_eq!(steps(&events, "c1"), ["Dial '' 100@default"], "{events:?}");
    assert_eq!(
        steps(&events, "c1;2"),
        [
            "ChannelCallerId",
            "ChannelConnectedLine",
            "ChannelDialplan NoOp(entering Stasis hello)",
            "ChannelDialplan Stasis(hello,arg1,arg2)",
            "ChannelVarset STASISSTATUS=",
            "StasisStart"
        ],
        "{events:?}"
    );
    let caller_id = &events[0];
    assert_eq!(caller_id["caller_presentation"], 0, "{caller_id}");
    assert_eq!(
        caller_id["caller_presentation_txt"],
        "Presentation Allowed, Not Screened"
    );
    assert_eq!(
        caller_id["channel"]["connected"],
        json!({"name": "Oracle", "number": "1000"}),
        "both identities are set before the first event: {caller_id}"
    );
    let dial = events
        .iter()
        .find(|e| e["type"] == "Dial")
        .cloned()
        .unwrap_or_default();
    assert_eq!(dial["forward"], "");
    assert!(dial.get("caller").is_none(), "{dial}");
    // The application is subscribed to both halves.
    let app = wari.get("/ari/applications/hello").await.body;
    assert_eq!(app["channel_ids"], json!(["c1", "c1;2"]));

    // Golden answer: answering ;2 answers ;1, which enters the application.
    assert_eq!(wari.post("/ari/channels/c1;2/answer").await.status, 204);
    let events = until(&mut ws, is("StasisStart", "c1")).await;
    assert_eq!(
        steps(&events, "c1"),
        [
            "ChannelStateChange Up",
            "Dial 'ANSWER' 100@default",
            "ChannelVarset STASISSTATUS=",
            "StasisStart"
        ],
        "{events:?}"
    );
    let started = events.last().cloned().unwrap_or_default();
    assert_eq!(started["args"], json!(["origArg1", "origArg2"]));
    assert_eq!(started["channel"]["dialplan"]["app_name"], "Stasis");
    assert_eq!(
        started["channel"]["dialplan"]["app_data"],
        "hello,origArg1,origArg2"
    );

    // Golden hangup.
    let reply = wari.delete("/ari/channels/c1?reason=normal").await;
    assert_eq!(reply.status.as_u16(), 204);
    let events = until_both_destroyed(&mut ws).await;
    assert_eq!(
        steps(&events, "c1"),
        [
            "ChannelHangupRequest 32 soft",
            "StasisEnd",
            "ChannelVarset STASISSTATUS=SUCCESS",
            "ChannelDestroyed 16"
        ],
        "{events:?}"
    );
    assert_eq!(
        steps(&events, "c1;2"),
        [
            "ChannelHangupRequest 16",
            "StasisEnd",
            "ChannelVarset STASISSTATUS=SUCCESS",
            "ChannelHangupRequest 16 soft",
            "ChannelDestroyed 16"
        ],
        "{events:?}"
    );
    // The originated half shows AppDial2 again once done with the application.
    let last = events
        .iter()
        .find(|e| is("ChannelDestroyed", "c1")(e))
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        last["channel"]["dialplan"]["app_name"], "AppDial2",
        "{last}"
    );
}

#[tokio::test]
async fn failed_originates_report_why_in_their_last_dial() {
    let wari = Wari::with(&[("extensions.conf", DIALPLAN)]);
    let mut ws = socket(&wari, "app=watch").await;
    // Local/busy@default: the dialplan hangs ;2 up with cause 17.
    created(
        &wari,
        "/ari/channels?endpoint=Local/busy@default&app=watch&channelId=b1&otherChannelId=b2",
    )
    .await;
    let events = until_both_destroyed(&mut ws).await;
    assert_eq!(
        steps(&events, "b1"),
        [
            "Dial '' busy@default",
            "ChannelHangupRequest 17",
            "Dial 'BUSY' busy@default",
            "ChannelDestroyed 17"
        ],
        "{events:?}"
    );
    assert_eq!(
        steps(&events, "b2"),
        [
            "ChannelDialplan NoOp(busy target)",
            "ChannelDialplan Hangup(17)",
            "ChannelHangupRequest 16 soft",
            "ChannelDestroyed 17"
        ],
        "{events:?}"
    );

    // A Test phone that refuses the call ends the same way for its channel, as a SIP
    // channel whose far end answers 486 (or 503 for congestion) does.
    for (endpoint, id, status, cause) in [
        ("Test/bob/busy", "t1", "BUSY", 17),
        ("Test/dave/congestion", "t2", "CONGESTION", 34),
    ] {
        let Reply {
            status: code,
            body: channel,
            ..
        } = wari
            .post(&format!(
                "/ari/channels?endpoint={endpoint}&app=watch&channelId={id}"
            ))
            .await;
        assert_eq!(code, 200, "{channel}");
        assert_eq!(
            channel["dialplan"],
            json!({"context": "default", "exten": "s", "priority": 1,
                "app_name": "AppDial2", "app_data": "(Outgoing Line)"}),
            "a phone's channel starts at s@default, as a SIP channel does"
        );
        let dialstring = endpoint.trim_start_matches("Test/");
        let events = until(&mut ws, |e| e["type"] == "ChannelDestroyed").await;
        assert_eq!(
            steps(&events, id),
            [
                format!("Dial '' {dialstring}"),
                format!("ChannelHangupRequest {cause}"),
                format!("Dial '{status}' {dialstring}"),
                format!("ChannelDestroyed {cause}"),
            ],
            "{events:?}"
        );
    }
}

#[tokio::test]
async fn an_originate_that_rings_out_ends_without_a_status() {
    let wari = Wari::with(&[("extensions.conf", DIALPLAN)]);
    let mut ws = socket(&wari, "app=watch").await;
    created(
        &wari,
        "/ari/channels?endpoint=Local/ring@default&app=watch&channelId=r1&timeout=1",
    )
    .await;
    let events = until_both_destroyed(&mut ws).await;
    // The given-up channel just goes (no request, no NOANSWER); its other half is hung
    // up by it with cause 19.
    assert_eq!(
        steps(&events, "r1"),
        [
            "Dial '' ring@default",
            "ChannelStateChange Ringing",
            "Dial 'RINGING' ring@default",
            "ChannelDestroyed 19"
        ],
        "{events:?}"
    );
    assert_eq!(
        steps(&events, "r1;2"),
        [
            "ChannelDialplan NoOp(ring target)",
            "ChannelDialplan Ringing()",
            "ChannelDialplan Wait(30)",
            "ChannelHangupRequest 19",
            "ChannelHangupRequest 16 soft",
            "ChannelDestroyed 19"
        ],
        "{events:?}"
    );

    // A phone that never answers: the same for its channel.
    created(
        &wari,
        "/ari/channels?endpoint=Test/carol/noanswer&app=watch&channelId=r3&timeout=1",
    )
    .await;
    let events = until(&mut ws, is("ChannelDestroyed", "r3")).await;
    assert_eq!(
        steps(&events, "r3"),
        [
            "Dial '' carol/noanswer",
            "ChannelStateChange Ringing",
            "Dial 'RINGING' carol/noanswer",
            "ChannelDestroyed 19"
        ],
        "{events:?}"
    );
}

#[tokio::test]
async fn created_channels_are_dialed_and_hung_up_as_in_asterisk() {
    let wari = Wari::with(&[("extensions.conf", DIALPLAN)]);
    let mut ws = socket(&wari, "app=hello").await;
    let channel = created(
        &wari,
        "/ari/channels/create?endpoint=Local/200@default&app=hello&channelId=k1",
    )
    .await;
    assert_eq!(
        channel["dialplan"],
        json!({"context": "default", "exten": "200", "priority": 1,
            "app_name": "", "app_data": ""})
    );
    let events = until(&mut ws, is("StasisStart", "k1")).await;
    assert_eq!(
        steps(&events, "k1"),
        [
            "ChannelDialplan Stasis(hello)",
            "ChannelVarset STASISSTATUS=",
            "StasisStart"
        ],
        "{events:?}"
    );
    // The other half exists before the call, ringing, not running yet.
    let second = wari.get("/ari/channels/k1;2").await;
    assert_eq!(second.status.as_u16(), 200);
    assert_eq!(second.body["state"], "Ring");
    assert_eq!(second.body["dialplan"]["priority"], 1);

    assert_eq!(
        wari.post("/ari/channels/k1/dial?timeout=5").await.status,
        204
    );
    let events = until(&mut ws, |e| {
        e["type"] == "Dial" && e["dialstatus"] == "ANSWER"
    })
    .await;
    // Only the first Dial of /dial names what was dialed.
    assert_eq!(
        steps(&events, "k1"),
        [
            "Dial '' 200@default",
            "ChannelStateChange Up",
            "Dial 'ANSWER' "
        ],
        "{events:?}"
    );
    // The application was subscribed to the created channel only.
    assert!(steps(&events, "k1;2").is_empty(), "{events:?}");

    assert_eq!(wari.delete("/ari/channels/k1").await.status.as_u16(), 204);
    let events = until(&mut ws, is("ChannelDestroyed", "k1")).await;
    assert_eq!(
        steps(&events, "k1"),
        [
            "ChannelHangupRequest 32 soft",
            "StasisEnd",
            "ChannelVarset STASISSTATUS=SUCCESS",
            "ChannelDestroyed 16"
        ],
        "{events:?}"
    );
    let destroyed = events.last().cloned().unwrap_or_default();
    assert_eq!(destroyed["channel"]["dialplan"]["app_name"], "");

    // A dial that times out is hung up as if asked over ARI, with cause 19.
    created(
        &wari,
        "/ari/channels/create?endpoint=Local/ring@default&app=hello&channelId=k2",
    )
    .await;
    ws.until(is("StasisStart", "k2")).await;
    assert_eq!(
        wari.post("/ari/channels/k2/dial?timeout=1").await.status,
        204
    );
    let events = until(&mut ws, is("ChannelDestroyed", "k2")).await;
    assert_eq!(
        steps(&events, "k2"),
        [
            "Dial '' ring@default",
            "ChannelStateChange Ringing",
            "Dial 'RINGING' ",
            "ChannelHangupRequest 32 soft",
            "StasisEnd",
            "ChannelVarset STASISSTATUS=SUCCESS",
            "ChannelDestroyed 19"
        ],
        "{events:?}"
    );
}

#[tokio::test]
async fn stasis_without_a_consumer_leaves_stasisstatus_failed() {
    let wari = Wari::with(&[("extensions.conf", DIALPLAN)]);
    let mut all = socket(&wari, "app=watcher&subscribeAll=true").await;
    // As the conformance kit's stasis_no_websocket: ;2 runs Stasis(noapp), which nobody
    // serves; the dialplan copies STASISSTATUS into a global.
    created(
        &wari,
        "/ari/channels?endpoint=Local/300@default&extension=hold&context=default&channelId=n1",
    )
    .await;
    let events = until(&mut all, |e| {
        e["type"] == "ChannelVarset" && e["channel"]["id"] == "n1;2" && e["value"] == "FAILED"
    })
    .await;
    let statuses: Vec<String> = steps(&events, "n1;2")
        .into_iter()
        .filter(|s| s.starts_with("ChannelVarset"))
        .collect();
    assert_eq!(
        statuses,
        [
            "ChannelVarset STASISSTATUS=",
            "ChannelVarset STASISSTATUS=FAILED"
        ]
    );
    // The next priority announced means Set(GLOBAL(LAST_STATUS)=...) has run.
    until(&mut all, |e| {
        e["type"] == "ChannelDialplan"
            && e["channel"]["id"] == "n1;2"
            && e["dialplan_app"] == "Hangup"
    })
    .await;
    let last = wari
        .get("/ari/asterisk/variable?variable=LAST_STATUS")
        .await
        .body;
    let last = &last["value"];
    assert_eq!(last, "FAILED");
}

#[tokio::test]
async fn continue_and_move_end_the_application_as_in_asterisk() {
    let wari = Wari::with(&[("extensions.conf", DIALPLAN)]);
    let mut a = socket(&wari, "app=first").await;
    let mut b = socket(&wari, "app=second").await;
    created(
        &wari,
        "/ari/channels?endpoint=Local/200@default&app=first&channelId=d1",
    )
    .await;
    a.until(is("StasisStart", "d1")).await;
    // Continuing ends the application at once; STASISSTATUS follows when the channel is
    // done, after the dialplan, and it shows AppDial2 again.
    assert_eq!(wari.post("/ari/channels/d1/continue").await.status, 204);
    let events = until(&mut a, |e| {
        e["type"] == "ChannelDialplan" && e["channel"]["id"] == "d1" && e["dialplan_app"] == "Wait"
    })
    .await;
    assert_eq!(
        steps(&events, "d1"),
        [
            "StasisEnd",
            "ChannelDialplan Answer()",
            "ChannelDialplan Wait(3600)"
        ],
        "{events:?}"
    );
    assert_eq!(wari.delete("/ari/channels/d1").await.status.as_u16(), 204);
    let events = until(&mut a, is("ChannelDestroyed", "d1")).await;
    assert_eq!(
        steps(&events, "d1"),
        [
            "ChannelHangupRequest 32 soft",
            "ChannelVarset STASISSTATUS=SUCCESS",
            "ChannelDestroyed 16"
        ],
        "{events:?}"
    );
    let destroyed = events.last().cloned().unwrap_or_default();
    assert_eq!(
        destroyed["channel"]["dialplan"],
        json!({"context": "default", "exten": "200", "priority": 3,
            "app_name": "AppDial2", "app_data": "(Outgoing Line)"})
    );

    // Moving: the first application's StasisEnd, the second's StasisStart; the first
    // keeps the subscription its originate made, the second loses its own at StasisEnd.
    created(
        &wari,
        "/ari/channels?endpoint=Local/200@default&app=first&appArgs=x&channelId=m1",
    )
    .await;
    a.until(is("StasisStart", "m1")).await;
    assert_eq!(
        wari.post("/ari/channels/m1/move?app=second&appArgs=y,z")
            .await
            .status,
        204
    );
    let started = b.until(is("StasisStart", "m1")).await;
    let started = started.last().cloned().unwrap_or_default();
    assert_eq!(started["args"], json!(["y", "z"]));
    assert_eq!(started["channel"]["dialplan"]["app_data"], "first,x");
    a.until(is("StasisEnd", "m1")).await;
    assert_eq!(wari.delete("/ari/channels/m1").await.status.as_u16(), 204);
    let to_second = until(&mut b, is("StasisEnd", "m1")).await;
    assert_eq!(
        steps(&to_second, "m1"),
        ["ChannelHangupRequest 32 soft", "StasisEnd"],
        "{to_second:?}"
    );
    let to_first = until(&mut a, is("ChannelDestroyed", "m1")).await;
    assert_eq!(
        steps(&to_first, "m1"),
        [
            "ChannelHangupRequest 32 soft",
            "ChannelVarset STASISSTATUS=SUCCESS",
            "ChannelDestroyed 16"
        ],
        "{to_first:?}"
    );
}

#[tokio::test]
async fn hanging_up_the_second_half_ends_the_first_with_its_cause() {
    let wari = Wari::with(&[("extensions.conf", DIALPLAN)]);
    let mut ws = socket(&wari, "app=watch").await;
    created(
        &wari,
        "/ari/channels?endpoint=Local/200@default&app=watch&channelId=h1",
    )
    .await;
    ws.until(is("StasisStart", "h1")).await;
    let reply = wari.delete("/ari/channels/h1;2?reason_code=17").await;
    assert_eq!(reply.status.as_u16(), 204);
    let events = until_both_destroyed(&mut ws).await;
    let second: Vec<String> = steps(&events, "h1;2")
        .into_iter()
        .filter(|s| !s.starts_with("ChannelDialplan"))
        .collect();
    assert_eq!(
        second,
        [
            "ChannelHangupRequest 32 soft",
            "ChannelHangupRequest 16 soft",
            "ChannelDestroyed 17"
        ],
        "{events:?}"
    );
    assert_eq!(
        steps(&events, "h1"),
        [
            "ChannelHangupRequest 17",
            "StasisEnd",
            "ChannelVarset STASISSTATUS=SUCCESS",
            "ChannelDestroyed 17"
        ],
        "{events:?}"
    );
}

#[tokio::test]
async fn the_dialplan_answer_waits_before_going_on() {
    let wari = Wari::with(&[("extensions.conf", DIALPLAN)]);
    let mut ws = socket(&wari, "app=watch").await;
    created(
        &wari,
        "/ari/channels?endpoint=Local/200@default&app=watch&channelId=w1",
    )
    .await;
    // ;2 answers (and ;1 enters the application) before ;2's Answer() lets it go on to
    // Wait(): Asterisk waits for media after answering a ringing channel.
    let events = until(&mut ws, |e| {
        e["type"] == "ChannelDialplan" && e["dialplan_app"] == "Wait"
    })
    .await;
    let order: Vec<String> = events
        .iter()
        .filter(|e| e["type"] != "Dial")
        .map(|e| {
            format!(
                "{} {}",
                step(e),
                e["channel"]["id"].as_str().unwrap_or_default()
            )
        })
        .collect();
    assert_eq!(
        order,
        [
            "ChannelDialplan NoOp(answer-and-wait target) w1;2",
            "ChannelDialplan Answer() w1;2",
            "ChannelStateChange Up w1;2",
            "ChannelStateChange Up w1",
            "ChannelVarset STASISSTATUS= w1",
            "StasisStart w1",
            "ChannelDialplan Wait(3600) w1;2"
        ]
    );
}

/// Milliseconds between two events' timestamps (`2026-12-06T18:00:36.483+0000`).
fn millis_between(earlier: &Value, later: &Value) -> i64 {
    let at = |event: &Value| {
        let text = event["timestamp"].as_str().unwrap_or_default();
        chrono::DateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.3f%z")
            .map(|t| t.timestamp_millis())
            .unwrap_or_else(|e| panic!("timestamp {text}: {e}"))
    };
    at(later) - at(earlier)
}

/// Asterisk 23.4.1 goes on from Answer() of a ringing Local `;2` about 500 ms after
/// answering (observed: its next ChannelDialplan); Answer(delay) waits the delay when
/// longer (Asterisk's documentation of Answer(); the reference dialplan has no such
/// extension to observe).
#[tokio::test]
async fn answer_waits_for_media_or_its_delay() {
    let wari = Wari::with(&[("extensions.conf", DIALPLAN)]);
    let mut ws = socket(&wari, "app=watch").await;
    for (endpoint, id, at_least) in [
        ("Local/200@default", "a1", 500),
        ("Local/slow@default", "a2", 1200),
    ] {
        created(
            &wari,
            &format!("/ari/channels?endpoint={endpoint}&app=watch&channelId={id}"),
        )
        .await;
        let second = format!("{id};2");
        let events = until(&mut ws, |e| {
            e["type"] == "ChannelDialplan"
                && e["channel"]["id"] == second.as_str()
                && e["dialplan_app"] == "Wait"
        })
        .await;
        let up = events
            .iter()
            .find(|e| e["type"] == "ChannelStateChange" && e["channel"]["id"] == second.as_str())
            .cloned()
            .unwrap_or_default();
        let next = events.last().cloned().unwrap_or_default();
        let waited = millis_between(&up, &next);
        assert!(waited >= at_least, "{id}: {waited} ms: {events:?}");
    }
}

#[tokio::test]
async fn holding_asks_the_far_end_and_tells_no_one() {
    let wari = Wari::with(&[("extensions.conf", DIALPLAN)]);
    let mut ws = socket(&wari, "app=watch").await;
    created(
        &wari,
        "/ari/channels?endpoint=Local/200@default&app=watch&channelId=p1",
    )
    .await;
    ws.until(is("StasisStart", "p1")).await;
    // Golden channel_get: hold and unhold on a Local ;1 give no ChannelHold/ChannelUnhold
    // for either half (the other half, in the dialplan, is in no bridge).
    assert_eq!(wari.post("/ari/channels/p1/hold").await.status, 204);
    let unhold = wari.delete("/ari/channels/p1/hold").await;
    assert_eq!(unhold.status.as_u16(), 204);
    let marker = wari
        .post("/ari/channels/p1/variable?variable=MARK&value=1")
        .await;
    assert_eq!(marker.status, 204);
    let events = until(&mut ws, |e| {
        e["type"] == "ChannelVarset" && e["variable"] == "MARK"
    })
    .await;
    assert!(
        !events
            .iter()
            .any(|e| e["type"] == "ChannelHold" || e["type"] == "ChannelUnhold"),
        "{events:?}"
    );
}

#[tokio::test]
async fn a_bridged_far_half_hears_no_hold_and_a_channel_watcher_no_bridge_events() {
    let wari = Wari::with(&[("extensions.conf", DIALPLAN)]);
    let mut watch = socket(&wari, "app=watch").await;
    let mut hello = socket(&wari, "app=hello").await;
    // Observed on Asterisk 23.4.1: h1;2 runs Stasis(hello) and waits in a bridge; once it
    // answers, h1 enters watch. watch follows h1;2 (it originated the pair) but not the
    // bridge, so it hears neither h1;2 entering nor leaving it; holding h1 announces
    // nothing, to either application.
    created(
        &wari,
        "/ari/channels?endpoint=Local/100@default&app=watch&channelId=h1",
    )
    .await;
    hello.until(is("StasisStart", "h1;2")).await;
    assert_eq!(wari.post("/ari/bridges/hb?type=mixing").await.status, 200);
    assert_eq!(
        wari.post("/ari/bridges/hb/addChannel?channel=h1;2")
            .await
            .status,
        204
    );
    hello.until(is("ChannelEnteredBridge", "h1;2")).await;
    assert_eq!(wari.post("/ari/channels/h1;2/answer").await.status, 204);
    let before_hold = watch.until(is("StasisStart", "h1")).await;
    assert_eq!(wari.post("/ari/channels/h1/hold").await.status, 204);
    assert_eq!(
        wari.delete("/ari/channels/h1/hold").await.status.as_u16(),
        204
    );
    assert_eq!(wari.delete("/ari/channels/h1").await.status.as_u16(), 204);
    let after_hold = watch.until(is("ChannelDestroyed", "h1;2")).await;
    let heard_by_hello = hello.until(is("StasisEnd", "h1;2")).await;
    let kinds = |events: &[Value]| -> Vec<String> {
        events
            .iter()
            .map(|e| {
                format!(
                    "{} {}",
                    e["type"].as_str().unwrap_or_default(),
                    e["channel"]["id"].as_str().unwrap_or_default()
                )
            })
            .collect()
    };
    let watched: Vec<String> = kinds(&before_hold)
        .into_iter()
        .chain(kinds(&after_hold))
        .collect();
    assert!(
        !watched
            .iter()
            .any(|e| e.contains("Bridge") || e.contains("Hold")),
        "watch heard {watched:?}"
    );
    let bridged = kinds(&heard_by_hello);
    assert!(
        !bridged.iter().any(|e| e.contains("Hold")),
        "hello heard {bridged:?}"
    );
    assert!(
        bridged.contains(&"ChannelLeftBridge h1;2".to_string()),
        "hello heard {bridged:?}"
    );
}

#[tokio::test]
async fn subscribe_all_sees_what_the_originating_application_does_not() {
    let wari = Wari::with(&[("extensions.conf", DIALPLAN)]);
    let mut own = socket(&wari, "app=own").await;
    let mut all = socket(&wari, "app=watcher&subscribeAll=true").await;
    created(
        &wari,
        "/ari/channels?endpoint=Local/200@default&app=own&channelId=s1&callerId=Bob%20%3C42%3E",
    )
    .await;
    let seen = until(&mut all, |e| e["type"] == "Dial").await;
    // Creation, the dial's AppDial2 and the originate's identity come before the
    // application is subscribed: only a subscribeAll socket hears them.
    assert_eq!(
        steps(&seen, "s1"),
        [
            "ChannelCreated",
            "ChannelDialplan AppDial2((Outgoing Line))",
            "ChannelCallerId",
            "ChannelConnectedLine",
            "Dial '' 200@default"
        ],
        "{seen:?}"
    );
    assert_eq!(
        steps(&seen, "s1;2"),
        ["ChannelCreated", "ChannelCallerId", "ChannelConnectedLine"],
        "{seen:?}"
    );
    let created = seen
        .iter()
        .find(|e| is("ChannelCreated", "s1;2")(e))
        .cloned()
        .unwrap_or_default();
    assert_eq!(created["channel"]["state"], "Ring");
    let mine = own.until(is("StasisStart", "s1")).await;
    assert!(
        !mine.iter().any(|e| e["type"] == "ChannelCreated"),
        "{mine:?}"
    );
}

#[tokio::test]
async fn originate_variables_pass_to_the_second_half() {
    let wari = Wari::with(&[("extensions.conf", DIALPLAN)]);
    let mut ws = socket(&wari, "app=hello").await;
    // Golden originate_json_body: CALLERID(name) is a function (the first half's caller),
    // MYVAR a variable the second half inherits when called.
    let reply = wari
        .ari_with_body(
            reqwest::Method::POST,
            "/ari/channels",
            Some(
                json!({"endpoint": "Local/200@default", "app": "hello", "appArgs": "j1,j2",
                "channelId": "j1", "otherChannelId": "j1-2",
                "variables": {"MYVAR": "myval", "CALLERID(name)": "Json Caller"}}),
            ),
        )
        .await;
    assert_eq!(reply.status.as_u16(), 200, "{}", reply.body);
    assert_eq!(
        reply.body["caller"],
        json!({"name": "Json Caller", "number": ""})
    );
    assert_eq!(reply.body["connected"], json!({"name": "", "number": ""}));
    let events = until(&mut ws, is("StasisStart", "j1")).await;
    let second: Vec<String> = steps(&events, "j1-2");
    assert_eq!(
        second[..2],
        ["ChannelVarset MYVAR=myval", "ChannelConnectedLine"],
        "{events:?}"
    );
    let connected = events
        .iter()
        .find(|e| is("ChannelConnectedLine", "j1-2")(e))
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        connected["channel"]["connected"],
        json!({"name": "Json Caller", "number": ""})
    );
    assert_eq!(
        connected["channel"]["caller"],
        json!({"name": "", "number": ""})
    );
    assert_eq!(
        steps(&events, "j1"),
        [
            "Dial '' 200@default",
            "ChannelStateChange Up",
            "Dial 'ANSWER' 200@default",
            "ChannelVarset STASISSTATUS=",
            "StasisStart"
        ],
        "{events:?}"
    );
    let value = wari.get("/ari/channels/j1/variable?variable=MYVAR").await;
    assert_eq!(value.body, json!({"value": "myval"}));
}
