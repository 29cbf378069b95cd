//! `/metrics`: the Prometheus text for any ARI user (read-only too), 401 without
//! credentials, and gauges that follow channels and bridges as they come and go.

use crate::support::{EventSocket, Wari, client};

/// GET /metrics as `user`/`password` (no credentials when `None`): status and body.
async fn metrics(wari: &Wari, user: Option<(&str, &str)>) -> (u16, String) {
    let mut request = client().get(format!("http://{}/metrics", wari.addr()));
    if let Some((user, password)) = user {
        request = request.basic_auth(user, Some(password));
    }
    let response = request.send().await.expect("GET /metrics");
    let status = response.status().as_u16();
    (status, response.text().await.expect("body"))
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
    let (status, _) = metrics(&wari, None).await;
    assert_eq!(status, 401);
    let (status, _) = metrics(&wari, Some(("asterisk", "wrong"))).await;
    assert_eq!(status, 401);

    let (status, text) = metrics(&wari, Some(("viewer", "look"))).await;
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

    let (_, text) = metrics(&wari, Some(("asterisk", "secret"))).await;
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
    let (_, text) = metrics(&wari, Some(("asterisk", "secret"))).await;
    assert_eq!(sample(&text, "wari_bridges"), Some(0), "{text}");
    // The channel is gone once its StasisEnd has been sent (a hangup completes
    // asynchronously); allow the core a moment, bounded.
    let mut channels = sample(&text, "wari_channels");
    for _ in 0..50 {
        if channels == Some(0) {
            break;
        }
        let (_, text) = metrics(&wari, Some(("asterisk", "secret"))).await;
        channels = sample(&text, "wari_channels");
    }
    assert_eq!(channels, Some(0));
}
