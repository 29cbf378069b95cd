//! `/metrics`: the Prometheus text for any ARI user (read-only too), 401 without
//! credentials, and gauges that follow channels and bridges as they come and go.

use crate::support::{EventSocket, Reply, Wari, client, send};

/// GET /metrics as `user`/`password` (no credentials when `None`).
async fn metrics(wari: &Wari, user: Option<(&str, &str)>) -> Reply {
    let mut request = client().get(format!("http://{}/metrics", wari.addr()));
    if let Some((user, password)) = user {
        request = request.basic_auth(user, Some(password));
    }
    send(request).await
}

/// The value of an unlabelled sample.
fn sample(text: &str, name: &str) -> Option<u64> {
    text.lines()
        .find_map(|line| line.strip_prefix(&format!("{name} ")))
        .and_then(|v| v.trim().parse().ok())
}

#[tokio::test]
async fn metrics_need_credentials_and_follow_channels_and_bridges() {
    let wari = Wari::start_default();
    let Reply { status, .. } = metrics(&wari, None).await;
    assert_eq!(status, 401);
    let Reply { status, .. } = metrics(&wari, Some(("asterisk", "wrong"))).await;
    assert_eq!(status, 401);

    let Reply { status, text, .. } = metrics(&wari, Some(("viewer", "look"))).await;
    assert_eq!(status, 200, "{text}");
    assert_eq!(sample(&text, "wari_channels"), Some(0), "{text}");
    assert_eq!(sample(&text, "wari_bridges"), Some(0), "{text}");
    assert!(text.contains("# TYPE wari_http_request_duration_seconds histogram"));
    assert!(text.contains("wari_http_request_duration_seconds_bucket{le=\"+Inf\"}"));

    let mut socket = EventSocket::connect(&wari, "app=metrics&api_key=asterisk:secret").await;
    let reply = wari
        .post("/ari/channels?endpoint=Test/alice&app=metrics&channelId=m1")
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    socket.next_for("StasisStart", "m1").await;
    let reply = wari.post("/ari/bridges/mb?type=mixing").await;
    assert_eq!(reply.status, 200, "{}", reply.body);

    let Reply { text, .. } = metrics(&wari, Some(("asterisk", "secret"))).await;
    assert_eq!(sample(&text, "wari_channels"), Some(1), "{text}");
    assert_eq!(sample(&text, "wari_bridges"), Some(1), "{text}");
    assert_eq!(sample(&text, "wari_stasis_applications"), Some(1), "{text}");
    let requests = sample(&text, "wari_http_request_duration_seconds_count").unwrap_or(0);
    assert!(requests >= 5, "{text}");

    let reply = wari.delete("/ari/channels/m1").await;
    assert_eq!(reply.status, 204, "{}", reply.body);
    socket.next_for("StasisEnd", "m1").await;
    let reply = wari.delete("/ari/bridges/mb").await;
    assert_eq!(reply.status, 204, "{}", reply.body);
    let Reply { text, .. } = metrics(&wari, Some(("asterisk", "secret"))).await;
    assert_eq!(sample(&text, "wari_bridges"), Some(0), "{text}");
    // The channel is gone once its StasisEnd has been sent (a hangup completes
    // asynchronously); allow the core a moment, bounded.
    let mut channels = sample(&text, "wari_channels");
    for _ in 0..50 {
        if channels == Some(0) {
            break;
        }
        let Reply { text, .. } = metrics(&wari, Some(("asterisk", "secret"))).await;
        channels = sample(&text, "wari_channels");
    }
    assert_eq!(channels, Some(0));
}

/// The value of the per-socket series `name` for the open socket serving `apps`.
fn socket_sample(text: &str, name: &str, apps: &str) -> Option<u64> {
    let needle = format!("apps=\"{apps}\"}} ");
    text.lines()
        .filter(|line| line.starts_with(&format!("{name}{{")))
        .find_map(|line| line.split_once(&needle).map(|(_, value)| value))
        .and_then(|v| v.trim().parse().ok())
}

/// Polls /metrics (bounded) until `done` holds for its text, which is returned.
async fn metrics_until(wari: &Wari, done: impl Fn(&str) -> bool) -> String {
    crate::support::eventually(
        "the awaited metrics",
        crate::support::EVENT_TIMEOUT,
        || async {
            let Reply { status, text, .. } = metrics(wari, Some(("asterisk", "secret"))).await;
            assert_eq!(status, 200, "{text}");
            if done(&text) { Ok(text) } else { Err(text) }
        },
    )
    .await
}

#[tokio::test]
async fn events_sent_and_dropped_are_counted_per_socket() {
    let wari = Wari::start_default();
    let mut socket = EventSocket::connect(&wari, "app=counted&api_key=asterisk:secret").await;
    let reply = wari
        .post("/ari/channels?endpoint=Test/alice&app=counted&channelId=c1")
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    socket.next_for("StasisStart", "c1").await;
    let text = metrics_until(&wari, |text| {
        socket_sample(text, "wari_socket_events_sent_total", "counted").is_some_and(|n| n >= 1)
    })
    .await;
    assert!(
        text.contains("kind=\"inbound\",apps=\"counted\"}"),
        "{text}"
    );
    assert_eq!(
        socket_sample(&text, "wari_socket_events_dropped_total", "counted"),
        Some(0),
        "{text}"
    );
    assert!(
        sample(&text, "wari_event_sockets").is_some_and(|n| n >= 1),
        "{text}"
    );

    // A consumer that never reads: its events are dropped once its socket backs up.
    let (stalled, _) = tokio_tungstenite::connect_async(format!(
        "ws://{}/ari/events?app=stalled&api_key=asterisk:secret",
        wari.addr()
    ))
    .await
    .expect("stalled socket");
    let payload = serde_json::json!({"variables": {"filler": "x".repeat(8 * 1024)}});
    for _ in 0..4_000 {
        let reply = wari
            .ari_with_body(
                reqwest::Method::POST,
                "/ari/events/user/flood?application=stalled",
                Some(payload.clone()),
            )
            .await;
        if reply.status != 204 {
            // The socket was closed for being too slow: the application is gone.
            break;
        }
        let Reply { text, .. } = metrics(&wari, Some(("asterisk", "secret"))).await;
        if sample(&text, "wari_events_dropped_total").is_some_and(|n| n > 0) {
            break;
        }
    }
    // The check itself: metrics_until fails the test unless the dropped total rises above
    // 0 (the loop above only stops flooding once it has).
    metrics_until(&wari, |text| {
        sample(text, "wari_events_dropped_total").is_some_and(|n| n > 0)
    })
    .await;
    drop(stalled);

    // Closed sockets leave the listing; their counts stay in the totals.
    let sent_before = sample(&text, "wari_events_sent_total").unwrap_or(0);
    socket.close().await;
    let text = metrics_until(&wari, |text| {
        socket_sample(text, "wari_socket_events_sent_total", "counted").is_none()
            && socket_sample(text, "wari_socket_events_sent_total", "stalled").is_none()
    })
    .await;
    assert!(
        sample(&text, "wari_events_sent_total").is_some_and(|n| n >= sent_before),
        "{text}"
    );
    assert!(
        sample(&text, "wari_events_dropped_total").is_some_and(|n| n > 0),
        "{text}"
    );
}

#[tokio::test]
async fn the_media_clock_and_sip_rtp_are_counted() {
    let wari = Wari::start_default();
    // The engine ticks every 20 ms from start-up, with or without channels.
    let text = metrics_until(&wari, |text| {
        sample(text, "wari_media_ticks_total").is_some_and(|n| n >= 3)
    })
    .await;
    assert!(
        sample(&text, "wari_media_late_ticks_total").is_some(),
        "{text}"
    );
    assert!(
        text.contains("# TYPE wari_media_busy_seconds_total counter"),
        "{text}"
    );
    // No SIP call yet: every RTP count is there, at 0.
    for name in [
        "wari_sip_rtp_received_packets_total",
        "wari_sip_rtp_sent_packets_total",
        "wari_sip_rtp_queue_dropped_total{direction=\"in\"}",
        "wari_sip_rtp_queue_dropped_total{direction=\"out\"}",
        "wari_sip_rtp_jitter_dropped_total",
        "wari_sip_rtp_jitter_lost_total",
    ] {
        assert_eq!(sample(&text, name), Some(0), "{name}: {text}");
    }
}
