//! The `/channels` resource over HTTP: every error status ari-rest.md §2.1 gives for its
//! operations (unknown ids 404, channels outside Stasis 409, un-answered channels 412, bad
//! parameters 400, redirect targets 422, id collisions 409, unknown technologies 400), the
//! media operations' 501, and the successful paths that go with them (originate into an
//! application or the dialplan, create then dial, hangup causes, variables, redirect,
//! continue, move).

use reqwest::Method;
use serde_json::{Value, json};

use crate::support::{EventSocket, Reply, Wari};

/// 300 answers and waits long enough for a test to poke at a channel outside Stasis.
const DIALPLAN: &str = "\
[default]
exten => 300,1,Answer()
 same => n(waiting),Wait(30)
 same => n,Hangup()
";

/// The application the tests register.
const APP: &str = "rest";

/// Sends a request to `/ari{path}` as the read/write user.
async fn call_with(wari: &Wari, method: Method, path: &str, body: Option<Value>) -> Reply {
    wari.ari_with_body(method, &format!("/ari{path}"), body)
        .await
}

async fn call(wari: &Wari, method: Method, path: &str) -> Reply {
    call_with(wari, method, path, None).await
}

/// Asserts a status (and, when given, the exact message) for one request.
async fn expect(wari: &Wari, method: Method, path: &str, status: u16, message: Option<&str>) {
    let Reply {
        status: got, body, ..
    } = call(wari, method.clone(), path).await;
    assert_eq!(got, status, "{method} {path}: {body}");
    if let Some(message) = message {
        assert_eq!(body["message"], message, "{method} {path}");
    }
}

async fn app_socket(wari: &Wari) -> EventSocket {
    EventSocket::connect(wari, &format!("app={APP}&api_key=asterisk:secret")).await
}

/// Skips events until `matches` accepts one.
async fn wait_for(ws: &mut EventSocket, matches: impl Fn(&Value) -> bool) -> Value {
    loop {
        let event = ws.next().await;
        if matches(&event) {
            return event;
        }
    }
}

/// `GET {path}` (a channel's `/variables`) answers 200 with `expected`.
async fn assert_variables(wari: &Wari, path: &str, expected: Value) {
    let Reply { status, body, .. } = call(wari, Method::GET, path).await;
    assert_eq!((status.as_u16(), body), (200, expected), "{path}");
}

/// Sets variable `MARK` on channel `id` (204) and checks that the channel's next event
/// is its ChannelVarset: nothing came between (e.g. for a hold, or unsetting a variable).
async fn assert_mark_is_next(wari: &Wari, ws: &mut EventSocket, id: &str) {
    let path = format!("/channels/{id}/variable?variable=MARK&value=1");
    expect(wari, Method::POST, &path, 204, None).await;
    let next = wait_for(ws, |e| e["channel"]["id"] == id).await;
    assert_eq!(
        (&next["type"], &next["variable"]),
        (&json!("ChannelVarset"), &json!("MARK")),
        "{next}"
    );
}

/// Originates `Test/NAME` into the application with id `id` and waits for its StasisStart.
async fn in_stasis(wari: &Wari, ws: &mut EventSocket, endpoint: &str, id: &str) -> Value {
    let Reply { status, body, .. } = call(
        wari,
        Method::POST,
        &format!("/channels?endpoint={endpoint}&app={APP}&channelId={id}"),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    ws.next_for("StasisStart", id).await
}

/// The operations that act on one channel, with parameters valid enough to reach the
/// channel lookup.
fn channel_operations(id: &str) -> Vec<(Method, String)> {
    [
        (Method::GET, ""),
        (Method::DELETE, ""),
        (Method::POST, "/continue"),
        (Method::POST, "/move?app=elsewhere"),
        (Method::POST, "/redirect?endpoint=Test/bob"),
        (Method::POST, "/answer"),
        (Method::POST, "/ring"),
        (Method::DELETE, "/ring"),
        (Method::POST, "/progress"),
        (Method::POST, "/dtmf?dtmf=1"),
        (Method::POST, "/mute?direction=both"),
        (Method::DELETE, "/mute?direction=both"),
        (Method::POST, "/hold"),
        (Method::DELETE, "/hold"),
        (Method::POST, "/moh"),
        (Method::DELETE, "/moh"),
        (Method::POST, "/silence"),
        (Method::DELETE, "/silence"),
        (Method::POST, "/play?media=sound:hello"),
        (Method::POST, "/play/pb1?media=sound:hello"),
        (Method::POST, "/record?name=r&format=wav"),
        (Method::GET, "/variable?variable=X"),
        (Method::POST, "/variable?variable=X&value=1"),
        (Method::GET, "/variables?variables=X"),
        (Method::POST, "/snoop?app=spy&spy=in"),
        (Method::POST, "/snoop/s1?app=spy&spy=in"),
        (Method::POST, "/dial"),
        (Method::GET, "/rtp_statistics"),
        (Method::POST, "/transfer_progress?states=channel_answered"),
    ]
    .into_iter()
    .map(|(method, suffix)| (method, format!("/channels/{id}{suffix}")))
    .collect()
}

#[tokio::test]
async fn unknown_channels_are_404() {
    let wari = Wari::with(&[("extensions.conf", DIALPLAN)]);
    for (method, path) in channel_operations("nosuch") {
        let Reply { status, body, .. } = call(&wari, method.clone(), &path).await;
        assert_eq!(status, 404, "{method} {path}: {body}");
        let message = body["message"].as_str().unwrap_or_default();
        // Asterisk 23.4.1 words it differently where variables are read.
        let expected = if method == Method::GET && path.contains("/variable") {
            "Provided channel was not found"
        } else {
            "Channel not found"
        };
        assert!(
            message.eq_ignore_ascii_case(expected),
            "{method} {path}: {message}"
        );
    }
    let Reply { status, body, .. } = call_with(
        &wari,
        Method::POST,
        "/channels/nosuch/variables",
        Some(json!({"variables": {"A": "1"}})),
    )
    .await;
    assert_eq!(
        (status.as_u16(), body["message"].clone()),
        (404, json!("Provided channel was not found"))
    );
    // Without a body, the missing field is reported before the channel is looked up.
    expect(
        &wari,
        Method::POST,
        "/channels/nosuch/variables",
        400,
        Some("The 'variables' field is required"),
    )
    .await;
    // The channel is looked up before the hangup reason is checked.
    expect(
        &wari,
        Method::DELETE,
        "/channels/nosuch?reason=bogus",
        404,
        None,
    )
    .await;
}

#[tokio::test]
async fn channels_running_dialplan_are_409_but_readable_and_hangable() {
    let wari = Wari::with(&[("extensions.conf", DIALPLAN)]);
    let mut watcher = EventSocket::connect(
        &wari,
        "app=watcher&subscribeAll=true&api_key=asterisk:secret",
    )
    .await;
    // Priority from a label: the channel starts at 300,2 (`waiting`), not at Answer().
    let Reply { status, body: channel, .. } =  call(
        &wari,
        Method::POST,
        "/channels?endpoint=Test/phone&extension=300&label=waiting&channelId=dp&callerId=%22Ann%22%20%3C555%3E",
    )
    .await;
    assert_eq!(status, 200, "{channel}");
    assert_eq!(channel["id"], "dp");
    assert_eq!(channel["caller"], json!({"name": "Ann", "number": "555"}));
    // While it is dialed, the channel shows Asterisk's AppDial2 (a subscribeAll socket
    // sees it change, as on Asterisk 23.4.1); once answered it runs the dialplan.
    let dialed = watcher.next_for("ChannelDialplan", "dp").await;
    assert_eq!(
        (&dialed["dialplan_app"], &dialed["dialplan_app_data"]),
        (&json!("AppDial2"), &json!("(Outgoing Line)")),
        "{dialed}"
    );
    let first = watcher.next_for("ChannelDialplan", "dp").await;
    assert_eq!(first["dialplan_app"], "Wait", "{first}");
    assert_eq!(first["channel"]["dialplan"]["priority"], 2, "{first}");

    for (method, path) in channel_operations("dp") {
        let expected = match (method.as_str(), path.trim_start_matches("/channels/dp")) {
            // Reading and hanging up need no Stasis: checked below.
            ("GET", "") | ("GET", "/variable?variable=X") | ("GET", "/variables?variables=X") => {
                continue;
            }
            ("DELETE", "") => continue,
            // Snooping needs no Stasis (tests/e2e/snoop.rs); RTP statistics need an RTP
            // channel (tests/e2e/external_media.rs), whatever its state.
            (_, p) if p.starts_with("/snoop") => 200,
            (_, "/rtp_statistics") => 403,
            _ => 409,
        };
        let Reply { status, body, .. } = call(&wari, method.clone(), &path).await;
        assert_eq!(status, expected, "{method} {path}: {body}");
        if expected == 409 {
            assert_eq!(
                body["message"], "Channel not in Stasis application",
                "{path}"
            );
        }
    }
    let Reply { status, .. } = call_with(
        &wari,
        Method::POST,
        "/channels/dp/variables",
        Some(json!({"variables": {"A": "1"}})),
    )
    .await;
    assert_eq!(status, 409);

    // Reading variables needs no Stasis; unknown ones are 404.
    let Reply { status, body, .. } =
        call(&wari, Method::GET, "/channels/dp/variable?variable=EXTEN").await;
    assert_eq!((status.as_u16(), body), (200, json!({"value": "300"})));
    assert_variables(
        &wari,
        "/channels/dp/variables?variables=EXTEN,%20CONTEXT",
        json!({"variables": {"EXTEN": "300", "CONTEXT": "default"}}),
    )
    .await;
    expect(
        &wari,
        Method::GET,
        "/channels/dp/variable?variable=NOPE",
        404,
        Some("Provided variable was not found"),
    )
    .await;
    expect(
        &wari,
        Method::GET,
        "/channels/dp/variables?variables=EXTEN,NOPE",
        404,
        None,
    )
    .await;

    // Hangup works on any channel.
    expect(&wari, Method::DELETE, "/channels/dp", 204, None).await;
    let destroyed = watcher.next_for("ChannelDestroyed", "dp").await;
    assert_eq!(destroyed["cause"], 16);
}

#[tokio::test]
async fn created_channels_are_412_until_dialed_and_answered() {
    let wari = Wari::with(&[("extensions.conf", DIALPLAN)]);
    let mut ws = app_socket(&wari).await;
    let Reply {
        status,
        body: channel,
        ..
    } = call(
        &wari,
        Method::POST,
        &format!("/channels/create?endpoint=Test/alice&app={APP}&appArgs=x,y&channelId=c1"),
    )
    .await;
    assert_eq!(status, 200, "{channel}");
    assert_eq!(channel["state"], "Down");
    let start = ws.next_for("StasisStart", "c1").await;
    assert_eq!(start["args"], json!(["x", "y"]));

    let media_ops = [
        (Method::POST, "/answer"),
        (Method::POST, "/ring"),
        (Method::DELETE, "/ring"),
        (Method::POST, "/progress"),
        (Method::POST, "/dtmf?dtmf=1"),
        (Method::POST, "/mute?direction=both"),
        (Method::DELETE, "/mute?direction=both"),
        (Method::POST, "/hold"),
        (Method::DELETE, "/hold"),
        (Method::POST, "/continue"),
        (Method::POST, "/redirect?endpoint=Test/bob"),
        (Method::POST, "/moh"),
        (Method::DELETE, "/moh"),
        (Method::POST, "/silence"),
        (Method::DELETE, "/silence"),
        (Method::POST, "/play?media=sound:hello"),
        (Method::POST, "/play/pb1?media=sound:hello"),
    ];
    for (method, suffix) in &media_ops {
        expect(
            &wari,
            method.clone(),
            &format!("/channels/c1{suffix}"),
            412,
            Some("Channel in invalid state"),
        )
        .await;
    }
    // Operations without a state check work before dialing.
    expect(
        &wari,
        Method::POST,
        "/channels/c1/variable?variable=COLOR&value=red",
        204,
        None,
    )
    .await;
    expect(
        &wari,
        Method::POST,
        "/channels/c1/transfer_progress?states=channel_progress",
        204,
        None,
    )
    .await;
    expect(
        &wari,
        Method::POST,
        "/channels/c1/record?name=r&format=wav",
        201,
        None,
    )
    .await;
    // Recording does not answer a channel that has not been dialed yet.
    let Reply { body: channel, .. } = call(&wari, Method::GET, "/channels/c1").await;
    assert_eq!(channel["state"], "Down");

    expect(
        &wari,
        Method::POST,
        "/channels/c1/dial?timeout=10",
        204,
        None,
    )
    .await;
    wait_for(&mut ws, |e| {
        e["type"] == "ChannelStateChange"
            && e["channel"]["id"] == "c1"
            && e["channel"]["state"] == "Up"
    })
    .await;
    expect(
        &wari,
        Method::POST,
        "/channels/c1/dial",
        409,
        Some("Channel is not in the 'Down' state"),
    )
    .await;

    for (method, suffix) in [
        (Method::POST, "/answer"),
        (Method::POST, "/ring"),
        (Method::DELETE, "/ring"),
        (Method::POST, "/progress"),
        (Method::POST, "/mute?direction=in"),
        (Method::DELETE, "/mute?direction=out"),
        (
            Method::POST,
            "/dtmf?dtmf=12&before=0&between=50&duration=80&after=0",
        ),
    ] {
        expect(&wari, method, &format!("/channels/c1{suffix}"), 204, None).await;
    }
    // Holding asks the phone to hold; as on Asterisk 23.4.1 no ChannelHold/ChannelUnhold
    // follows (those tell of a far end that holds): the next event is the marker's.
    expect(&wari, Method::POST, "/channels/c1/hold", 204, None).await;
    expect(&wari, Method::DELETE, "/channels/c1/hold", 204, None).await;
    assert_mark_is_next(&wari, &mut ws, "c1").await;

    // Music on hold (an unknown class falls back to the default one) and silence.
    for (method, suffix) in [
        (Method::POST, "/moh?mohClass=nonesuch"),
        (Method::DELETE, "/moh"),
        (Method::POST, "/silence"),
        (Method::DELETE, "/silence"),
    ] {
        expect(&wari, method, &format!("/channels/c1{suffix}"), 204, None).await;
    }

    // Snooping is implemented (tests/e2e/snoop.rs): the snoop channel comes back.
    for suffix in ["/snoop?app=spy&spy=in", "/snoop/s1?app=spy&spy=in"] {
        let Reply { status, body, .. } =
            call(&wari, Method::POST, &format!("/channels/c1{suffix}")).await;
        assert_eq!(status, 200, "{suffix}: {body}");
        let name = body["name"].as_str().unwrap_or_default();
        assert!(name.starts_with("Snoop/c1-"), "{suffix}: {body}");
    }
    // (play and record are implemented too: tests/e2e/media.rs)
    expect(
        &wari,
        Method::GET,
        "/channels/c1/rtp_statistics",
        403,
        Some("Unsupported channel type"),
    )
    .await;
    expect(
        &wari,
        Method::POST,
        &format!(
            "/channels/externalMedia?app={APP}&external_host=127.0.0.1:9&format=ulaw&channelId=c1"
        ),
        409,
        None,
    )
    .await;
    // (RTP over UDP, AudioSocket and WebSocket media are implemented:
    // tests/e2e/external_media.rs, audiosocket.rs, external_media_ws.rs.) An id in use is
    // 409 for AudioSocket too, before any connection is tried.
    expect(
        &wari,
        Method::POST,
        &format!(
            "/channels/externalMedia?app={APP}&external_host=127.0.0.1:9&format=ulaw&encapsulation=audiosocket&transport=tcp&data=3f2504e0-4f89-11d3-9a0c-0305e82c3301&channelId=c1"
        ),
        409,
        None,
    )
    .await;
}

#[tokio::test]
async fn bad_parameters_are_400_in_asterisks_order() {
    let wari = Wari::with(&[("extensions.conf", DIALPLAN)]);
    let long_id = "x".repeat(150);
    let cases: Vec<(String, &str)> = vec![
        (
            format!("/channels?channelId={long_id}"),
            "Channel id is longer than 149 characters",
        ),
        (
            format!("/channels?endpoint=Test/a&app={APP}&otherChannelId={long_id}"),
            "Channel id is longer than 149 characters",
        ),
        ("/channels?app=x".into(), "Endpoint must be specified"),
        (
            "/channels?endpoint=&app=x".into(),
            "Endpoint must be specified",
        ),
        (
            "/channels?endpoint=Test&originator=a&formats=ulaw".into(),
            "Originator and formats can't both be specified",
        ),
        (
            "/channels?endpoint=Test&app=x".into(),
            "Invalid endpoint specified",
        ),
        (
            "/channels?endpoint=Test/".into(),
            "Invalid endpoint specified",
        ),
        (
            "/channels?endpoint=Test/a".into(),
            "Application or extension must be specified",
        ),
        (
            "/channels?endpoint=Test/a&extension=300&label=0".into(),
            "Requested priority is illegal",
        ),
        (
            "/channels?endpoint=Test/a&app=x&originator=ghost".into(),
            "Provided originator channel was not found",
        ),
        (
            "/channels?endpoint=Test/a&app=x&formats=ulaw,mp3".into(),
            "Provided format (mp3) was not found",
        ),
        (
            "/channels/withid?endpoint=Test/a&app=x&formats=vp9".into(),
            "Provided format (vp9) was not found",
        ),
        (
            "/channels?endpoint=Test/a&app=x&timeout=soon".into(),
            "Invalid value for parameter timeout: expected an integer",
        ),
        (
            "/channels?endpoint=Test/a&extension=300&priority=first".into(),
            "Invalid value for parameter priority: expected an integer",
        ),
        (
            "/channels?endpoint=Test/a/bogus&app=x".into(),
            "Unknown Test phone option 'bogus'",
        ),
        (
            "/channels/create?app=x".into(),
            "Endpoint must be specified",
        ),
        (
            "/channels/create?endpoint=Test/a".into(),
            "Missing required parameter: app",
        ),
        (
            "/channels/create?endpoint=Test&app=x".into(),
            "Invalid endpoint specified",
        ),
        (
            "/channels/create?endpoint=Test/a&app=x&formats=ulaw,nope".into(),
            "Provided format (nope) was not found",
        ),
    ];
    for (path, message) in &cases {
        expect(&wari, Method::POST, path, 400, Some(message)).await;
    }

    // An unknown technology says which ones exist.
    let Reply { status, body, .. } =
        call(&wari, Method::POST, "/channels?endpoint=SIP/alice&app=x").await;
    assert_eq!(status, 400, "{body}");
    let message = body["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("Unknown channel technology 'SIP'")
            && message.contains("Local")
            && message.contains("Test"),
        "{message}"
    );

    // A label that names nothing is a 404.
    expect(
        &wari,
        Method::POST,
        "/channels?endpoint=Test/a&extension=300&label=nowhere",
        404,
        Some("Requested label can not be found"),
    )
    .await;

    // `variables` in the JSON body: strings or {"value", "report_events"} only, with
    // the messages Asterisk 23.4.1 gives.
    for (bad, message) in [
        (
            json!({"variables": {"A": 1}}),
            "Each value in 'variables' must be a string or an object with 'value' and optional 'report_events'",
        ),
        (
            json!({"variables": {"A": {"report_events": true}}}),
            "Each object value in 'variables' must include string field 'value'",
        ),
        (
            json!({"variables": {"A": {"value": "1", "report_events": "yes"}}}),
            "Field 'report_events' in 'variables' entries must be boolean",
        ),
    ] {
        for path in [
            "/channels?endpoint=Test/a&app=x",
            "/channels/create?endpoint=Test/a&app=x",
        ] {
            let Reply { status, body, .. } =
                call_with(&wari, Method::POST, path, Some(bad.clone())).await;
            assert_eq!(
                (status.as_u16(), body["message"].as_str()),
                (400, Some(message)),
                "{path} {bad}"
            );
        }
    }
    // Nothing was created by any of these.
    let Reply { body: channels, .. } = call(&wari, Method::GET, "/channels").await;
    assert_eq!(channels, json!([]));
    // `variables` that is no object holds no variables: Asterisk 23.4.1 originates anyway.
    let Reply { status, body, .. } = call_with(
        &wari,
        Method::POST,
        "/channels?endpoint=Test/a&extension=300&channelId=novars",
        Some(json!({"variables": ["A=1"]})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    expect(
        &wari,
        Method::GET,
        "/channels/novars/variable?variable=A",
        404,
        Some("Provided variable was not found"),
    )
    .await;
}

#[tokio::test]
async fn channel_ids_in_use_are_409() {
    let wari = Wari::with(&[("extensions.conf", DIALPLAN)]);
    let Reply { status, .. } = call(
        &wari,
        Method::POST,
        "/channels?endpoint=Test/held&extension=300&channelId=taken",
    )
    .await;
    assert_eq!(status, 200);
    // Asterisk 23.4.1 answers 409 for each, the same channelId for both halves included.
    let message = Some("Channel with given unique ID already exists");
    for path in [
        "/channels?endpoint=Test/a&app=x&channelId=taken",
        "/channels/taken?endpoint=Test/a&app=x",
        "/channels?endpoint=Local/300@default&app=x&channelId=one&otherChannelId=taken",
        "/channels?endpoint=Local/300@default&app=x&channelId=same&otherChannelId=same",
        "/channels/create?endpoint=Test/a&app=x&channelId=taken",
        "/channels/create?endpoint=Local/300@default&app=x&channelId=one&otherChannelId=taken",
    ] {
        expect(&wari, Method::POST, path, 409, message).await;
    }
    // Nothing was created by the refused requests.
    expect(&wari, Method::GET, "/channels/one", 404, None).await;
    // The path id wins over a channelId parameter.
    let Reply {
        status,
        body: channel,
        ..
    } = call(
        &wari,
        Method::POST,
        "/channels/fresh?endpoint=Test/b&extension=300&channelId=taken",
    )
    .await;
    assert_eq!(
        (status.as_u16(), channel["id"].clone()),
        (200, json!("fresh"))
    );
    let Reply { body: channels, .. } = call(&wari, Method::GET, "/channels").await;
    let mut ids: Vec<&str> = channels
        .as_array()
        .expect("a list")
        .iter()
        .filter_map(|c| c["id"].as_str())
        .collect();
    ids.sort_unstable();
    assert_eq!(ids, ["fresh", "taken"]);
    let Reply {
        status, body: got, ..
    } = call(&wari, Method::GET, "/channels/fresh").await;
    assert_eq!(
        (status.as_u16(), got["name"].as_str().is_some()),
        (200, true)
    );

    // otherChannelId counts only with a channelId (Asterisk 23.4.1 ignores it alone):
    // the second half gets an id of its own.
    let Reply {
        status,
        body: channel,
        ..
    } = call(
        &wari,
        Method::POST,
        "/channels/create?endpoint=Local/300@default&app=x&otherChannelId=taken",
    )
    .await;
    assert_eq!(status, 200, "{channel}");
    let Reply { body: taken, .. } = call(&wari, Method::GET, "/channels/taken").await;
    assert!(
        taken["name"]
            .as_str()
            .is_some_and(|n| n.starts_with("Test/held-")),
        "{taken}"
    );
}

#[tokio::test]
async fn hangup_reasons_become_causes() {
    let wari = Wari::with(&[("extensions.conf", DIALPLAN)]);
    let mut ws = app_socket(&wari).await;
    in_stasis(&wari, &mut ws, "Test/h", "h1").await;

    for (query, message) in [
        ("reason=bogus", "Invalid reason for hangup reason provided"),
        (
            "reason=busy&reason_code=17",
            "The reason and reason_code can't both be specified",
        ),
        (
            "reason_code=loud",
            "Invalid reason for hangup reason code provided",
        ),
    ] {
        expect(
            &wari,
            Method::DELETE,
            &format!("/channels/h1?{query}"),
            400,
            Some(message),
        )
        .await;
    }

    expect(&wari, Method::DELETE, "/channels/h1?reason=busy", 204, None).await;
    let request = ws.next_for("ChannelHangupRequest", "h1").await;
    assert_eq!(
        (request["cause"].clone(), request["soft"].clone()),
        (json!(32), json!(true))
    );
    assert_eq!(ws.next_for("ChannelDestroyed", "h1").await["cause"], 17);

    in_stasis(&wari, &mut ws, "Test/h", "h2").await;
    expect(
        &wari,
        Method::DELETE,
        "/channels/h2?reason_code=21",
        204,
        None,
    )
    .await;
    assert_eq!(ws.next_for("ChannelDestroyed", "h2").await["cause"], 21);

    in_stasis(&wari, &mut ws, "Test/h", "h3").await;
    expect(&wari, Method::DELETE, "/channels/h3", 204, None).await;
    let destroyed = ws.next_for("ChannelDestroyed", "h3").await;
    assert_eq!(destroyed["cause"], 16);
    assert_eq!(destroyed["cause_txt"], "Normal Clearing");
}

#[tokio::test]
async fn originate_into_an_app_with_variables_and_args() {
    let wari = Wari::with(&[("extensions.conf", DIALPLAN)]);
    let mut ws = app_socket(&wari).await;
    let Reply {
        status,
        body: channel,
        ..
    } = call_with(
        &wari,
        Method::POST,
        &format!(
            "/channels/v1?endpoint=Test/vera&app={APP}&appArgs=one,%22two,three%22&timeout=-1"
        ),
        Some(json!({"variables": {"PLAIN": "p", "SHOWN": {"value": "s", "report_events": true}}})),
    )
    .await;
    assert_eq!(status, 200, "{channel}");
    assert_eq!(channel["state"], "Down");
    assert_eq!(channel["channelvars"], json!({"SHOWN": "s"}));
    let start = ws.next_for("StasisStart", "v1").await;
    assert_eq!(start["args"], json!(["one", "two,three"]));
    assert_eq!(start["channel"]["state"], "Up");

    let Reply { status, body, .. } =
        call(&wari, Method::GET, "/channels/v1/variable?variable=PLAIN").await;
    assert_eq!((status.as_u16(), body), (200, json!({"value": "p"})));

    // setChannelVars: validated as a whole, then set in order. Asterisk 23.4.1 answers
    // 400 with these messages.
    let not_object = "The 'variables' field must be a JSON object";
    let bad_entry = "Each value in 'variables' must be a string or an object with 'value' and optional 'report_events'";
    for (bad, message) in [
        (json!({}), not_object),
        (json!({"variables": null}), not_object),
        (json!({"variables": "A=1"}), not_object),
        (json!({"variables": {"A": "1", "B": 2}}), bad_entry),
        (
            json!({"variables": {"A": {"report_events": true}}}),
            "Each object value in 'variables' must include string field 'value'",
        ),
        (
            json!({"variables": {"A": {"value": "1", "report_events": "yes"}}}),
            "Field 'report_events' in 'variables' entries must be boolean",
        ),
    ] {
        let Reply { status, body, .. } = call_with(
            &wari,
            Method::POST,
            "/channels/v1/variables",
            Some(bad.clone()),
        )
        .await;
        assert_eq!(
            (status.as_u16(), body["message"].as_str()),
            (400, Some(message)),
            "{bad}"
        );
    }
    expect(
        &wari,
        Method::POST,
        "/channels/v1/variables",
        400,
        Some("The 'variables' field is required"),
    )
    .await;
    expect(
        &wari,
        Method::GET,
        "/channels/v1/variable?variable=A",
        404,
        Some("Provided variable was not found"),
    )
    .await;
    let Reply { status, .. } = call_with(
        &wari,
        Method::POST,
        "/channels/v1/variables",
        Some(json!({"variables": {"A": "1", "B": {"value": "2", "report_events": true}}})),
    )
    .await;
    assert_eq!(status, 204);
    let varset = ws.next_for("ChannelVarset", "v1").await;
    assert_eq!(
        (varset["variable"].clone(), varset["value"].clone()),
        (json!("A"), json!("1"))
    );
    let varset = ws.next_for("ChannelVarset", "v1").await;
    assert_eq!(varset["variable"], "B");
    assert_eq!(varset["channel"]["channelvars"]["B"], "2");
    assert_variables(
        &wari,
        "/channels/v1/variables?variables=A,B,PLAIN",
        json!({"variables": {"A": "1", "B": "2", "PLAIN": "p"}}),
    )
    .await;

    // Parameter errors of the single-variable operations.
    expect(
        &wari,
        Method::GET,
        "/channels/v1/variable",
        400,
        Some("Variable name is required"),
    )
    .await;
    expect(
        &wari,
        Method::POST,
        "/channels/v1/variable?value=1",
        400,
        Some("Variable name is required"),
    )
    .await;
    expect(
        &wari,
        Method::GET,
        "/channels/v1/variables",
        400,
        Some("At least one variable name is required"),
    )
    .await;
    expect(
        &wari,
        Method::GET,
        "/channels/v1/variables?variables=A,%20",
        400,
        Some("Variable names are required"),
    )
    .await;
    // Unsetting: value omitted. Asterisk 23.4.1 publishes nothing for it: the next event
    // of the channel is the marker's.
    expect(
        &wari,
        Method::POST,
        "/channels/v1/variable?variable=A",
        204,
        None,
    )
    .await;
    expect(
        &wari,
        Method::GET,
        "/channels/v1/variable?variable=A",
        404,
        Some("Provided variable was not found"),
    )
    .await;
    assert_mark_is_next(&wari, &mut ws, "v1").await;

    // Functions: CALLERID(...) is one (no variable is set: ChannelCallerId tells of it),
    // one wari does not have cannot be read (500) nor written (400), as in Asterisk 23.4.1.
    expect(
        &wari,
        Method::POST,
        "/channels/v1/variable?variable=CALLERID(name)&value=Zed",
        204,
        None,
    )
    .await;
    let changed = wait_for(&mut ws, |e| e["channel"]["id"] == "v1").await;
    assert_eq!(changed["type"], "ChannelCallerId", "{changed}");
    assert_eq!(changed["channel"]["caller"]["name"], "Zed");
    let Reply { status, body, .. } = call(
        &wari,
        Method::GET,
        "/channels/v1/variable?variable=CALLERID(all)",
    )
    .await;
    assert_eq!(
        (status.as_u16(), body),
        (200, json!({"value": "\"Zed\" <>"}))
    );
    // Asterisk 23.4.1 answers 500 with this message; wari answers a client's mistake 400.
    expect(
        &wari,
        Method::GET,
        "/channels/v1/variable?variable=NOSUCH(x)",
        400,
        Some("Unable to read provided function"),
    )
    .await;
    expect(
        &wari,
        Method::POST,
        "/channels/v1/variable?variable=NOSUCH(x)&value=1",
        400,
        Some("Failed to execute function"),
    )
    .await;

    // Other parameter errors on a channel in Stasis and Up.
    for (method, suffix, message) in [
        (Method::POST, "/dtmf", "DTMF is required"),
        (
            Method::POST,
            "/dtmf?dtmf=1&before=soon",
            "Invalid value for parameter before: expected an integer",
        ),
        (Method::POST, "/mute", "Direction is required"),
        (
            Method::DELETE,
            "/mute?direction=sideways",
            "Invalid direction specified",
        ),
        // Asterisk 23.4.1 crashes on a move without an application: wari refuses it.
        (Method::POST, "/move", "Missing required parameter: app"),
        (
            Method::POST,
            "/transfer_progress",
            "states must not be empty",
        ),
        (
            Method::POST,
            "/transfer_progress?states=channel_bored",
            "Invalid states value",
        ),
        (
            Method::POST,
            "/continue?label=0",
            "Requested priority is illegal",
        ),
        (
            Method::POST,
            "/continue?priority=next",
            "Invalid value for parameter priority: expected an integer",
        ),
    ] {
        expect(
            &wari,
            method,
            &format!("/channels/v1{suffix}"),
            400,
            Some(message),
        )
        .await;
    }
    expect(
        &wari,
        Method::POST,
        "/channels/v1/continue?context=default&extension=300&label=nowhere",
        404,
        Some("Requested label can not be found"),
    )
    .await;
    expect(
        &wari,
        Method::POST,
        "/channels/v1/transfer_progress?states=Channel_Answered",
        204,
        None,
    )
    .await;

    // move to an application nobody registered: 204, then ApplicationMoveFailed.
    expect(
        &wari,
        Method::POST,
        "/channels/v1/move?app=ghost&appArgs=a",
        204,
        None,
    )
    .await;
    let failed = ws.next_for("ApplicationMoveFailed", "v1").await;
    assert_eq!(failed["destination"], "ghost");
    assert_eq!(failed["args"], json!(["a"]));

    // continue at a label: the channel leaves Stasis and waits in 300,2.
    expect(
        &wari,
        Method::POST,
        "/channels/v1/continue?context=default&extension=300&label=waiting",
        204,
        None,
    )
    .await;
    ws.next_for("StasisEnd", "v1").await;
    expect(
        &wari,
        Method::POST,
        "/channels/v1/answer",
        409,
        Some("Channel not in Stasis application"),
    )
    .await;
    // It is still there, waiting in the dialplan.
    let Reply { status, .. } = call(&wari, Method::GET, "/channels/v1").await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn redirect_checks_the_endpoint_and_test_phones_leave() {
    let wari = Wari::with(&[("extensions.conf", DIALPLAN)]);
    let mut ws = app_socket(&wari).await;
    in_stasis(&wari, &mut ws, "Test/red", "r1").await;
    for (query, status, message) in [
        ("", 400, "Required parameter 'endpoint' not provided."),
        (
            "?endpoint=Test",
            422,
            "Endpoint parameter 'Test' does not contain tech/resource",
        ),
        (
            "?endpoint=Test/",
            422,
            "Endpoint parameter 'Test/' does not contain tech/resource",
        ),
        (
            "?endpoint=Local/100@default",
            422,
            "Endpoint technology 'Local' does not match channel technology 'Test'",
        ),
    ] {
        expect(
            &wari,
            Method::POST,
            &format!("/channels/r1/redirect{query}"),
            status,
            Some(message),
        )
        .await;
    }
    // Technology names match case-insensitively; the phone follows the redirect and the
    // call ends normally.
    expect(
        &wari,
        Method::POST,
        "/channels/r1/redirect?endpoint=test/elsewhere",
        204,
        None,
    )
    .await;
    let destroyed = ws.next_for("ChannelDestroyed", "r1").await;
    assert_eq!(destroyed["cause"], 16);

    // A Local channel cannot transfer: Asterisk 23.4.1 accepts the request (204) and
    // nothing happens to the channel.
    let Reply { status, body, .. } = call(
        &wari,
        Method::POST,
        &format!("/channels?endpoint=Local/300@default&app={APP}&channelId=l1&otherChannelId=l2"),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    ws.next_for("StasisStart", "l1").await;
    expect(
        &wari,
        Method::POST,
        "/channels/l1/redirect?endpoint=Local/200@default",
        204,
        None,
    )
    .await;
    let Reply {
        status,
        body: channel,
        ..
    } = call(&wari, Method::GET, "/channels/l1").await;
    assert_eq!(
        (status.as_u16(), channel["state"].clone()),
        (200, json!("Up"))
    );
    assert_eq!(channel["dialplan"]["app_name"], "Stasis");
}
