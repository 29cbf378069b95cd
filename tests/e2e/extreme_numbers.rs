//! Numbers at the edge of their type, from a client or from the dialplan: an originate
//! `timeout` of `i64::MAX`, a `Dial` timeout of `inf` or `1e300`, `Wait(inf)`, and the media
//! durations of ARI. None may break the task that owns a channel: every such channel is
//! hung up by `DELETE` (its application hears it end), and a normal call goes on working.

use reqwest::StatusCode;

use crate::support::{EventSocket, Wari};

const DIALPLAN: &str = "[default]\n\
    exten => dialinf,1,Dial(Test/bob,inf)\n\
    exten => dialbig,1,Dial(Test/bob,1e300)\n\
    exten => dialvar,1,Dial(Test/bob,${DT})\n\
    exten => waitinf,1,Answer()\n same => n,Wait(inf)\n\
    exten => answerbig,1,Answer(18446744073709551615)\n same => n,Wait(1e300)\n";

const HUGE: &str = "9223372036854775807";

/// Hangs `id` up and waits until its application (or the all-seeing socket) hears it
/// destroyed; then it is gone from the REST view.
async fn hang_up_and_see_it_gone(wari: &Wari, events: &mut EventSocket, id: &str) {
    let reply = wari.delete(&format!("/ari/channels/{id}")).await;
    assert_eq!(
        reply.status,
        StatusCode::NO_CONTENT,
        "DELETE {id}: {}",
        reply.body
    );
    events.next_for("ChannelDestroyed", id).await;
    let reply = wari.get(&format!("/ari/channels/{id}")).await;
    assert_eq!(
        reply.status,
        StatusCode::NOT_FOUND,
        "{id} is gone: {}",
        reply.body
    );
}

#[tokio::test]
async fn extreme_timeouts_leave_no_channel_that_cannot_be_hung_up() {
    let wari = Wari::with(&[("extensions.conf", DIALPLAN)]);
    let mut events =
        EventSocket::connect(&wari, "app=guard&subscribeAll=true&api_key=asterisk:secret").await;
    let reply = wari
        .post("/ari/asterisk/variable?variable=DT&value=-inf")
        .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);

    // Into an application, ringing for i64::MAX seconds.
    let reply = wari
        .post(&format!(
            "/ari/channels?endpoint=Test/alice&app=guard&timeout={HUGE}&channelId=huge_app"
        ))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    events.next_for("StasisStart", "huge_app").await;
    // The media durations of ARI at their limit, on that call.
    for path in [
        format!("/ari/channels/huge_app/play?media=tone:440&offsetms={HUGE}&skipms={HUGE}"),
        format!(
            "/ari/channels/huge_app/record?name=huge&format=wav&maxDurationSeconds={HUGE}&maxSilenceSeconds={HUGE}"
        ),
        format!("/ari/channels/huge_app/dtmf?dtmf=1&before={HUGE}&between={HUGE}&duration={HUGE}"),
    ] {
        let reply = wari.post(&path).await;
        assert!(
            reply.status.is_success() || reply.status == StatusCode::BAD_REQUEST,
            "{path}: {} {}",
            reply.status,
            reply.body
        );
    }
    hang_up_and_see_it_gone(&wari, &mut events, "huge_app").await;

    // Into the dialplan, with the same timeout and with Dial / Wait / Answer given
    // numbers no duration can hold.
    for (id, exten, timeout) in [
        ("huge_dialplan", "waitinf", HUGE),
        ("dial_inf", "dialinf", "30"),
        ("dial_big", "dialbig", "30"),
        ("dial_var", "dialvar", "30"),
        ("wait_inf", "waitinf", "30"),
        ("answer_big", "answerbig", "30"),
    ] {
        let reply = wari
            .post(&format!(
                "/ari/channels?endpoint=Test/alice&extension={exten}&context=default\
                 &timeout={timeout}&channelId={id}"
            ))
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{id}: {}", reply.body);
        events.next_for("ChannelStateChange", id).await;
        hang_up_and_see_it_gone(&wari, &mut events, id).await;
    }

    // Created, then dialled with a ring timeout of i64::MAX seconds.
    let reply = wari
        .post("/ari/channels/create?endpoint=Test/alice&app=guard&channelId=huge_dial")
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let reply = wari
        .post(&format!("/ari/channels/huge_dial/dial?timeout={HUGE}"))
        .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{}", reply.body);
    hang_up_and_see_it_gone(&wari, &mut events, "huge_dial").await;

    // A normal call still works, and nothing panicked.
    let reply = wari
        .post("/ari/channels?endpoint=Test/alice&app=guard&timeout=30&channelId=normal")
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    events.next_for("StasisStart", "normal").await;
    hang_up_and_see_it_gone(&wari, &mut events, "normal").await;
    let log = wari.log();
    assert!(!log.contains("panicked"), "no task panicked:\n{log}");
    assert!(
        log.contains("Invalid Dial timeout"),
        "the invalid Dial timeouts are logged:\n{log}"
    );
}
