//! `/bridges` as Asterisk 23.4.1 answers it: the order of each operation's checks and
//! their wording, the `BRIDGEPEER` variable and the `technology` a bridge reports as its
//! members change, video sources, and which bridge events an application keeps hearing.
//!
//! Every expected value was observed on the reference Asterisk 23.4.1 with the same
//! dialplan (Local channels into `200`, answered and waiting, and `hold`, outside Stasis):
//! the comments quote what it answered.

use serde_json::{Value, json};

use crate::support::{EventSocket, Wari, refused};

const APP: &str = "fid";

/// The reference dialplan's `200` (answer and wait) and `hold` (not in Stasis).
const DIALPLAN: &str = "\
[default]
exten => 200,1,NoOp(answer-and-wait target)
 same => n,Answer()
 same => n,Wait(3600)
 same => n,Hangup()
exten => hold,1,Answer()
 same => n,Wait(120)
 same => n,Hangup()
";

async fn start() -> (Wari, EventSocket) {
    let wari = Wari::with(&[("extensions.conf", DIALPLAN)]);
    let ws = EventSocket::connect(&wari, &format!("app={APP}&api_key=asterisk:secret")).await;
    (wari, ws)
}

/// `Local/200@default` into the application as `id`; returns the channel's name.
async fn stasis_channel(wari: &Wari, ws: &mut EventSocket, id: &str) -> String {
    let reply = wari
        .post(&format!(
            "/ari/channels?endpoint=Local/200@default&app={APP}&channelId={id}"
        ))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let started = ws.next_for("StasisStart", id).await;
    started["channel"]["name"]
        .as_str()
        .expect("a name")
        .to_string()
}

/// A channel that runs dialplan (`hold`) and is not in any application.
async fn dialplan_channel(wari: &Wari, id: &str) {
    let reply = wari
        .post(&format!(
            "/ari/channels?endpoint=Local/hold@default&context=default&extension=200&channelId={id}"
        ))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
}

/// The events up to and including the user event `name` (sent to the application as a
/// fence: whatever the application would hear from earlier requests comes before it).
async fn until_fence(wari: &Wari, ws: &mut EventSocket, name: &str) -> Vec<Value> {
    let reply = wari
        .post(&format!("/ari/events/user/{name}?application={APP}"))
        .await;
    assert_eq!(reply.status, 204, "{}", reply.body);
    ws.until(|e| e["type"] == "ChannelUserevent" && e["eventname"] == name)
        .await
}

/// `type`, `channel.id`, and for ChannelVarset `variable=value` and for bridge events
/// the bridge's technology and members, of each event.
fn summary(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .filter(|e| e["type"] != "ChannelUserevent")
        .map(|e| {
            let mut line = format!(
                "{} {}",
                e["type"].as_str().unwrap_or_default(),
                e["channel"]["id"].as_str().unwrap_or_default()
            );
            if e["type"] == "ChannelVarset" {
                line += &format!(" {}={}", e["variable"], e["value"]);
            }
            if e["bridge"].is_object() {
                line += &format!(" {} {}", e["bridge"]["technology"], e["bridge"]["channels"]);
            }
            line.trim_end().to_string()
        })
        .collect()
}

#[tokio::test]
async fn each_bridge_operation_checks_in_asterisks_order_with_its_words() {
    let (wari, mut ws) = start().await;
    stasis_channel(&wari, &mut ws, "c1").await;
    stasis_channel(&wari, &mut ws, "c2").await;
    dialplan_channel(&wari, "h1").await;

    // Creating: a type that makes no bridge gets Asterisk's message (with `(null)` for a
    // missing id, as Asterisk prints it) as a 400 (Asterisk: 500; wari answers a client's
    // mistake with a 4xx); an id already taken is a 409 before the type is looked at.
    let unable = "Unable to create bridge. Possible duplicate bridge id '(null)'";
    refused(wari.post("/ari/bridges?type=bogus").await, 400, unable);
    refused(
        wari.post("/ari/bridges?type=mixing,holding").await,
        400,
        unable,
    );
    refused(
        wari.post("/ari/bridges?type=dtmf_events").await,
        400,
        unable,
    );
    refused(
        wari.post("/ari/bridges?type=bogus&bridgeId=b0").await,
        400,
        "Unable to create bridge. Possible duplicate bridge id 'b0'",
    );
    refused(
        wari.post("/ari/bridges/b0?type=bogus").await,
        400,
        "Unable to create bridge",
    );
    let b1 = wari
        .post("/ari/bridges?type=mixing&bridgeId=b1&name=n1")
        .await;
    assert_eq!(b1.status, 200);
    assert_eq!(
        (&b1.body["technology"], &b1.body["video_mode"]),
        (&json!("simple_bridge"), &json!("talker"))
    );
    let conflict = "Bridge with id 'b1' already exists";
    refused(
        wari.post("/ari/bridges?bridgeId=b1&type=bogus").await,
        409,
        conflict,
    );
    refused(
        wari.post("/ari/bridges/b1?type=holding").await,
        409,
        conflict,
    );
    // "holding,dtmf_events": a holding bridge whose video mode is still "talker".
    let held = wari.post("/ari/bridges/b2?type=holding,dtmf_events").await;
    assert_eq!(
        (&held.body["technology"], &held.body["video_mode"]),
        (&json!("holding_bridge"), &json!("talker")),
        "{}",
        held.body
    );
    let sfu = wari.post("/ari/bridges/b3?type=video_sfu").await;
    assert_eq!(
        (
            &sfu.body["bridge_type"],
            &sfu.body["technology"],
            &sfu.body["video_mode"]
        ),
        (&json!("mixing"), &json!("softmix"), &json!("sfu")),
        "{}",
        sfu.body
    );

    // Adding and removing: the bridge first (even without `channel`), then the list, then
    // each channel, with no id in the messages.
    for op in ["addChannel", "removeChannel"] {
        refused(
            wari.post(&format!("/ari/bridges/nope/{op}")).await,
            404,
            "Bridge not found",
        );
        refused(
            wari.post(&format!("/ari/bridges/b1/{op}")).await,
            400,
            "Missing parameter channel",
        );
        refused(
            wari.post(&format!("/ari/bridges/b1/{op}?channel=,")).await,
            400,
            "Missing parameter channel",
        );
        refused(
            wari.post(&format!("/ari/bridges/b1/{op}?channel=nope"))
                .await,
            400,
            "Channel not found",
        );
        refused(
            wari.post(&format!("/ari/bridges/b1/{op}?channel=h1")).await,
            422,
            "Channel not in Stasis application",
        );
        refused(
            wari.post(&format!("/ari/bridges/b1/{op}?channel=c1,nope"))
                .await,
            400,
            "Channel not found",
        );
    }
    assert_eq!(
        wari.post("/ari/bridges/b1/addChannel?channel=c1")
            .await
            .status,
        204
    );
    refused(
        wari.post("/ari/bridges/b1/removeChannel?channel=c1,c2")
            .await,
        422,
        "Channel not in this bridge",
    );

    // Video source: the bridge, the channel, then membership.
    refused(
        wari.post("/ari/bridges/nope/videoSource/c1").await,
        404,
        "Bridge not found",
    );
    refused(
        wari.post("/ari/bridges/b1/videoSource/nope").await,
        400,
        "Channel not found",
    );
    refused(
        wari.post("/ari/bridges/b1/videoSource/h1").await,
        422,
        "Channel not in Stasis application",
    );
    refused(
        wari.post("/ari/bridges/b1/videoSource/c2").await,
        422,
        "Channel not in this bridge",
    );

    // Music on hold that is not playing.
    refused(
        wari.delete("/ari/bridges/b1/moh").await,
        409,
        "Bridge isn't playing music",
    );

    // Variables.
    refused(
        wari.get("/ari/bridges/b1/variable").await,
        400,
        "Variable name is required",
    );
    refused(
        wari.get("/ari/bridges/nope/variable?variable=X").await,
        404,
        "Bridge not found",
    );
    refused(
        wari.get("/ari/bridges/b1/variable?variable=X").await,
        404,
        "Provided variable was not found",
    );
    refused(
        wari.get("/ari/bridges/b1/variables").await,
        400,
        "At least one variable name is required",
    );
    refused(
        wari.get("/ari/bridges/nope/variables?variables=X").await,
        404,
        "Provided bridge was not found",
    );
    refused(
        wari.get("/ari/bridges/b1/variables?variables=X").await,
        404,
        "Provided variable was not found",
    );
    refused(
        wari.post("/ari/bridges/b1/variables").await,
        400,
        "The 'variables' field is required",
    );
    let set_vars = |id: &'static str, body: Value| {
        let wari = &wari;
        async move {
            wari.ari_with_body(
                reqwest::Method::POST,
                &format!("/ari/bridges/{id}/variables"),
                Some(body),
            )
            .await
        }
    };
    refused(
        set_vars("nope", json!({"variables": {"A": "1"}})).await,
        404,
        "Provided bridge was not found",
    );
    let not_object = "The 'variables' field must be a JSON object";
    refused(
        set_vars("b1", json!({"variables": 5})).await,
        400,
        not_object,
    );
    refused(set_vars("b1", json!({"x": 5})).await, 400, not_object);
    refused(
        set_vars("b1", json!({"variables": {"A": "1", "B": 5}})).await,
        400,
        "Each value in 'variables' must be a string or an object with 'value' and optional 'report_events'",
    );
    refused(
        set_vars("b1", json!({"variables": {"A": {"v": "1"}}})).await,
        400,
        "Each object value in 'variables' must include string field 'value'",
    );
    refused(
        set_vars(
            "b1",
            json!({"variables": {"A": {"value": "1", "report_events": "yes"}}}),
        )
        .await,
        400,
        "Field 'report_events' in 'variables' entries must be boolean",
    );
    // None of the refused requests set anything; an entry without a name is skipped.
    refused(
        wari.get("/ari/bridges/b1/variables?variables=A").await,
        404,
        "Provided variable was not found",
    );
    let body =
        json!({"variables": {"A": "1", "": "2", "B": {"value": "2", "report_events": true}}});
    assert_eq!(set_vars("b1", body).await.status, 204);
    let both = wari.get("/ari/bridges/b1/variables?variables=A,B").await;
    assert_eq!(both.body, json!({"variables": {"A": "1", "B": "2"}}));
    refused(
        wari.get("/ari/bridges/b1/variables?variables=A,%20").await,
        400,
        "Variable names are required",
    );
    // Functions are read without a channel; an unknown one is refused (Asterisk: 500).
    let length = wari
        .get("/ari/bridges/b1/variables?variables=LEN(abc)")
        .await;
    assert_eq!(length.body, json!({"variables": {"LEN(abc)": "3"}}));
    refused(
        wari.get("/ari/bridges/b1/variables?variables=NOSUCHFN(abc)")
            .await,
        400,
        "Unable to read provided function",
    );
    // An empty value unsets (and stops reporting) a variable.
    assert_eq!(
        wari.get("/ari/bridges/b1").await.body["bridgevars"],
        json!({"B": "2"})
    );
    assert_eq!(
        wari.post("/ari/bridges/b1/variable?variable=B&value=")
            .await
            .status,
        204
    );
    refused(
        wari.get("/ari/bridges/b1/variable?variable=B").await,
        404,
        "Provided variable was not found",
    );
    assert!(
        wari.get("/ari/bridges/b1")
            .await
            .body
            .get("bridgevars")
            .is_none()
    );

    // Media.
    refused(
        wari.post("/ari/bridges/b1/play?media=sound:beep&announcer_format=bogus")
            .await,
        422,
        "specified announcer_format is unknown on this system",
    );
    for (query, status, message) in [
        (
            "name=r&format=bogus",
            422,
            "specified format is unknown on this system",
        ),
        (
            "name=r&format=wav&recorder_format=bogus",
            422,
            "specified recorder_format is unknown on this system",
        ),
        ("name=r&format=wav&ifExists=bogus", 400, "ifExists invalid"),
        (
            "name=r&format=wav&terminateOn=bogus",
            400,
            "terminateOn invalid",
        ),
        // Asterisk answers the next four 500 `Error parsing request`; a 400 here.
        ("format=wav", 400, "Error parsing request"),
        (
            "name=r&format=wav&maxDurationSeconds=-1",
            400,
            "Error parsing request",
        ),
        (
            "name=r&format=wav&maxSilenceSeconds=-1",
            400,
            "Error parsing request",
        ),
        ("name=../x&format=wav", 400, "Error parsing request"),
    ] {
        refused(
            wari.post(&format!("/ari/bridges/b1/record?{query}")).await,
            status,
            message,
        );
    }
    refused(
        wari.delete("/ari/bridges/nope").await,
        404,
        "Bridge not found",
    );
}

#[tokio::test]
async fn bridgepeer_and_the_technology_follow_the_members() {
    let (wari, mut ws) = start().await;
    let n1 = stasis_channel(&wari, &mut ws, "c1").await;
    let n2 = stasis_channel(&wari, &mut ws, "c2").await;
    let n3 = stasis_channel(&wari, &mut ws, "c3").await;
    until_fence(&wari, &mut ws, "ready").await;
    assert_eq!(wari.post("/ari/bridges/b1?type=mixing").await.status, 200);
    assert_eq!(wari.post("/ari/bridges/b2?type=holding").await.status, 200);
    let peer = |id: &str, value: &str| format!("ChannelVarset {id} \"BRIDGEPEER\"=\"{value}\"");

    // Asterisk 23.4.1: alone, a channel gets no BRIDGEPEER; with a second party both get
    // the other's name; a third party still enters a "simple_bridge" and then every party
    // gets the names of the two others.
    assert_eq!(
        wari.post("/ari/bridges/b1/addChannel?channel=c1")
            .await
            .status,
        204
    );
    assert_eq!(
        wari.post("/ari/bridges/b1/addChannel?channel=c2")
            .await
            .status,
        204
    );
    assert_eq!(
        wari.post("/ari/bridges/b1/addChannel?channel=c3")
            .await
            .status,
        204
    );
    let events = until_fence(&wari, &mut ws, "three").await;
    assert_eq!(
        summary(&events),
        [
            "ChannelEnteredBridge c1 \"simple_bridge\" [\"c1\"]".to_string(),
            "ChannelEnteredBridge c2 \"simple_bridge\" [\"c1\",\"c2\"]".to_string(),
            peer("c1", &n2),
            peer("c2", &n1),
            "ChannelEnteredBridge c3 \"simple_bridge\" [\"c1\",\"c2\",\"c3\"]".to_string(),
            peer("c1", &format!("{n2},{n3}")),
            peer("c2", &format!("{n1},{n3}")),
            peer("c3", &format!("{n1},{n2}")),
        ]
    );
    assert_eq!(
        wari.get("/ari/bridges/b1").await.body["technology"],
        "softmix"
    );
    let value = wari
        .get("/ari/channels/c3/variable?variable=BRIDGEPEER")
        .await;
    assert_eq!(value.body["value"], format!("{n1},{n2}"));

    // Leaving: the variable is emptied before ChannelLeftBridge, which still shows
    // "softmix"; the two left get each other's name again.
    assert_eq!(
        wari.post("/ari/bridges/b1/removeChannel?channel=c3")
            .await
            .status,
        204
    );
    // Moving to a holding bridge: no BRIDGEPEER there.
    assert_eq!(
        wari.post("/ari/bridges/b2/addChannel?channel=c2")
            .await
            .status,
        204
    );
    let events = until_fence(&wari, &mut ws, "moved").await;
    assert_eq!(
        summary(&events),
        [
            peer("c3", ""),
            "ChannelLeftBridge c3 \"softmix\" [\"c1\",\"c2\"]".to_string(),
            peer("c1", &n2),
            peer("c2", &n1),
            peer("c2", ""),
            "ChannelLeftBridge c2 \"simple_bridge\" [\"c1\"]".to_string(),
            "ChannelEnteredBridge c2 \"holding_bridge\" [\"c2\"]".to_string(),
        ]
    );
    assert_eq!(
        wari.get("/ari/bridges/b1").await.body["technology"],
        "simple_bridge"
    );

    // Adding a channel to the bridge it is in: it leaves and enters again.
    assert_eq!(
        wari.post("/ari/bridges/b2/addChannel?channel=c2")
            .await
            .status,
        204
    );
    let events = until_fence(&wari, &mut ws, "again").await;
    assert_eq!(
        summary(&events),
        [
            "ChannelLeftBridge c2 \"holding_bridge\" []",
            "ChannelEnteredBridge c2 \"holding_bridge\" [\"c2\"]",
        ]
    );

    // c1, alone in b1, kept the name of its last peer; hanging up empties it first.
    assert_eq!(wari.delete("/ari/channels/c1").await.status, 204);
    let events = ws
        .until(|e| e["type"] == "ChannelDestroyed" && e["channel"]["id"] == "c1")
        .await;
    let seen = summary(&events);
    let at = |line: &str| seen.iter().position(|s| s == line);
    let (cleared, left, ended) = (
        at(&peer("c1", "")),
        at("ChannelLeftBridge c1 \"simple_bridge\" []"),
        at("StasisEnd c1"),
    );
    let (Some(cleared), Some(left), Some(ended)) = (cleared, left, ended) else {
        panic!("BRIDGEPEER emptied, left, ended: {seen:?}");
    };
    assert!(cleared < left && left < ended, "{seen:?}");
}

#[tokio::test]
async fn an_application_keeps_hearing_a_bridge_its_channel_hung_up_in() {
    let (wari, mut ws) = start().await;
    stasis_channel(&wari, &mut ws, "stays").await;
    stasis_channel(&wari, &mut ws, "goes").await;
    for bridge in ["kept", "left"] {
        assert_eq!(
            wari.post(&format!("/ari/bridges/{bridge}")).await.status,
            200
        );
    }
    assert_eq!(
        wari.post("/ari/bridges/kept/addChannel?channel=goes")
            .await
            .status,
        204
    );
    assert_eq!(
        wari.post("/ari/bridges/left/addChannel?channel=stays")
            .await
            .status,
        204
    );
    // Asterisk 23.4.1: a channel that leaves its application while bridged (here, it
    // hangs up) leaves the application subscribed to the bridge, which then hears the
    // bridge's destruction; a channel taken out of a bridge over ARI does not.
    assert_eq!(wari.delete("/ari/channels/goes").await.status, 204);
    ws.next_for("ChannelDestroyed", "goes").await;
    assert_eq!(
        wari.post("/ari/bridges/left/removeChannel?channel=stays")
            .await
            .status,
        204
    );
    for bridge in ["kept", "left"] {
        assert_eq!(
            wari.delete(&format!("/ari/bridges/{bridge}")).await.status,
            204
        );
    }
    let events = until_fence(&wari, &mut ws, "done").await;
    let destroyed: Vec<&Value> = events
        .iter()
        .filter(|e| e["type"] == "BridgeDestroyed")
        .map(|e| &e["bridge"]["id"])
        .collect();
    assert_eq!(destroyed, [&json!("kept")], "{events:?}");
    let apps = wari.get(&format!("/ari/applications/{APP}")).await;
    assert_eq!(apps.body["bridge_ids"], json!([]), "{}", apps.body);
}

#[tokio::test]
async fn choosing_a_video_source_is_announced_and_shown() {
    let (wari, mut ws) = start().await;
    stasis_channel(&wari, &mut ws, "cam").await;
    stasis_channel(&wari, &mut ws, "other").await;
    assert_eq!(wari.post("/ari/bridges/v").await.status, 200);
    assert_eq!(
        wari.post("/ari/bridges/v/addChannel?channel=cam")
            .await
            .status,
        204
    );
    assert_eq!(
        wari.post("/ari/bridges/v/videoSource/cam").await.status,
        204
    );
    // Asterisk 23.4.1: BridgeVideoSourceChanged with video_mode "single" and the source.
    let changed = ws.next_of("BridgeVideoSourceChanged").await;
    assert_eq!(changed["bridge"]["video_mode"], "single", "{changed}");
    assert_eq!(changed["bridge"]["video_source_id"], "cam", "{changed}");
    assert!(changed.get("old_video_source_id").is_none(), "{changed}");
    let shown = wari.get("/ari/bridges/v").await.body;
    assert_eq!(
        (&shown["video_mode"], &shown["video_source_id"]),
        (&json!("single"), &json!("cam"))
    );
    // Clearing announces nothing by itself; the bridge's next change of members does,
    // with the old source.
    assert_eq!(wari.delete("/ari/bridges/v/videoSource").await.status, 204);
    let events = until_fence(&wari, &mut ws, "cleared").await;
    assert_eq!(summary(&events), Vec::<String>::new());
    assert_eq!(
        wari.post("/ari/bridges/v/addChannel?channel=other")
            .await
            .status,
        204
    );
    let changed = ws.next_of("BridgeVideoSourceChanged").await;
    assert_eq!(changed["bridge"]["video_mode"], "talker", "{changed}");
    assert!(
        changed["bridge"].get("video_source_id").is_none(),
        "{changed}"
    );
    assert_eq!(changed["old_video_source_id"], "cam", "{changed}");
}
