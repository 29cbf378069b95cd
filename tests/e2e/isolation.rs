//! One misbehaving client must not stall the others: a WebSocket that stops reading is cut
//! off (websocket_write_timeout or a full queue) while other applications keep receiving
//! their events, and a client flooding requests does not keep others from being served.

use std::time::Duration;

use reqwest::StatusCode;

use crate::support::{EventSocket, Wari, client};

const ARI: &str = "[general]\nenabled = yes\nwebsocket_write_timeout = 200\n\n[asterisk]\ntype = user\npassword = secret\n";

/// Opens an events WebSocket with a tiny receive buffer and never reads from it.
async fn stalled_socket(wari: &Wari, query: &str) -> impl Sized {
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket.set_recv_buffer_size(2048).expect("small buffer");
    let stream = socket.connect(wari.addr()).await.expect("connect");
    let url = format!("ws://{}/ari/events?{query}", wari.addr());
    let (ws, _) = tokio_tungstenite::client_async(url, stream)
        .await
        .expect("handshake");
    ws
}

#[tokio::test]
async fn a_websocket_that_stops_reading_is_dropped_without_stalling_others() {
    let wari = Wari::with(&[("ari.conf", ARI)]);
    let _stalled = stalled_socket(
        &wari,
        "app=sleepy&subscribeAll=true&api_key=asterisk:secret",
    )
    .await;
    let mut healthy = EventSocket::connect(&wari, "app=busy&api_key=asterisk:secret").await;
    // Each call's channel carries a reported 16 kB variable, so every event about it is big
    // and the stalled socket's buffers fill after a few dozen calls.
    const CALLS: usize = 200;
    let reader = tokio::spawn(async move {
        let mut started = 0;
        while started < CALLS {
            if healthy.next().await["type"] == "StasisStart" {
                started += 1;
            }
        }
        started
    });
    let big = "x".repeat(16 * 1024);
    let body =
        serde_json::json!({ "variables": { "BIG": { "value": big, "report_events": true } } });
    let http = client();
    for n in 0..CALLS {
        let response = http
            .post(wari.url(&format!(
                "/ari/channels?endpoint=Test/p{n}&app=busy&channelId=call-{n}"
            )))
            .basic_auth("asterisk", Some("secret"))
            .json(&body)
            .send()
            .await
            .expect("originate");
        assert_eq!(response.status(), StatusCode::OK);
    }
    // The healthy application saw every call start.
    assert_eq!(reader.await.expect("reader"), CALLS);
    // The stalled consumer has been cut off, and said so in the log.
    let log = wari.log();
    assert!(
        log.contains("websocket_write_timeout") || log.contains("too slow"),
        "{log}"
    );
    // Its application lost its handler and, subscribed to nothing of its own, is gone.
    let apps: serde_json::Value = http
        .get(wari.url("/ari/applications"))
        .basic_auth("asterisk", Some("secret"))
        .send()
        .await
        .expect("list apps")
        .json()
        .await
        .expect("json");
    assert!(
        apps.as_array()
            .is_some_and(|a| a.iter().all(|app| app["name"] != "sleepy")),
        "{apps}"
    );
}

#[tokio::test]
async fn a_request_flood_does_not_starve_other_clients() {
    let wari = Wari::with(&[("ari.conf", ARI)]);
    let url = wari.url("/ari/channels");
    // 16 keep-alive connections hammering GET /ari/channels, 200 requests each.
    let flooders: Vec<_> = (0..16)
        .map(|_| {
            let url = url.clone();
            tokio::spawn(async move {
                let http = client();
                for _ in 0..200 {
                    let status = http
                        .get(&url)
                        .basic_auth("asterisk", Some("secret"))
                        .send()
                        .await
                        .map(|r| r.status());
                    if status.is_err() {
                        return false;
                    }
                }
                true
            })
        })
        .collect();
    // Meanwhile another client runs a whole call.
    let mut app = EventSocket::connect(&wari, "app=calm&api_key=asterisk:secret").await;
    let other = crate::support::client_builder()
        .timeout(Duration::from_secs(20))
        .build()
        .expect("client");
    let response = other
        .post(wari.url("/ari/channels?endpoint=Test/quiet&app=calm&channelId=quiet"))
        .basic_auth("asterisk", Some("secret"))
        .send()
        .await
        .expect("originate during the flood");
    assert_eq!(response.status(), StatusCode::OK);
    let start = app.next_of("StasisStart").await;
    assert_eq!(start["channel"]["id"], "quiet");
    let hangup = other
        .delete(wari.url("/ari/channels/quiet"))
        .basic_auth("asterisk", Some("secret"))
        .send()
        .await
        .expect("hangup during the flood");
    assert_eq!(hangup.status(), StatusCode::NO_CONTENT);
    app.next_of("StasisEnd").await;
    for flooder in flooders {
        assert!(
            flooder.await.expect("flooder task"),
            "every flood request was answered"
        );
    }
}
