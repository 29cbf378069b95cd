//! The console's Applications view tells how each Stasis application is served: by a
//! WebSocket client that connected in, by an outbound WebSocket connection of ari.conf
//! (wari connects out, here to a port that refuses, so its events wait in the queue), or by
//! a WebAssembly app; a live call in the outbound application says so too. Its route
//! (`GET /console/api/outbound`) needs a session and names no URI or credentials.

use crate::browser::Browser;
use crate::console::{cell, log_in, screenshot};
use crate::support::{ARI_CONF, EventSocket, RefusingPort, Wari, client};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_applications_view_tells_outbound_connections_from_websocket_clients() {
    let nobody = RefusingPort::new();
    let clients = format!(
        "[app-server]\ntype = websocket_client\nuri = ws://wari:pw-not-shown@127.0.0.1:{}/ari\n\
         connection_type = persistent\nreconnect_interval = 500\n",
        nobody.address().port()
    );
    let ari = format!(
        "{ARI_CONF}\n[remote]\ntype = outbound_websocket\nwebsocket_client_id = app-server\n\
         apps = outbound-app\nlocal_ari_user = asterisk\n"
    );
    let wari = Wari::with(&[("ari.conf", &ari), ("websocket_client.conf", &clients)]);
    crate::wasm_apps::deploy(&wari, "looper", "loop").await;
    let _desk = EventSocket::connect(&wari, "app=desk&api_key=asterisk:secret").await;
    let (status, body) = wari
        .post("/ari/channels?endpoint=Test/out&app=outbound-app&channelId=out-1")
        .await
        .parts();
    assert_eq!(status, 200, "{body}");

    // The route needs a session.
    let anonymous = client()
        .get(wari.url("/console/api/outbound"))
        .send()
        .await
        .expect("outbound");
    assert_eq!(anonymous.status(), 401);

    let browser = Browser::start(1280, 800).await;
    log_in(&browser, &wari, ("asterisk", "secret")).await;
    browser
        .text_until(&cell("out-1", "app"), |t| {
            t == "outbound-app (outbound WebSocket)"
        })
        .await;
    browser
        .find(".tab[data-view=\"apps\"]")
        .await
        .click()
        .await
        .expect("open Applications");
    for (name, handler) in [
        ("outbound-app", "outbound WebSocket (connection remote)"),
        ("desk", "WebSocket"),
        ("looper", "WebAssembly"),
    ] {
        browser
            .text_until(
                &format!("#apps tbody tr[data-name=\"{name}\"] td.handler"),
                |t| t == handler,
            )
            .await;
    }
    screenshot(&browser, "applications-outbound.png").await;

    // What the page read: the connection, its client section and applications, and
    // neither the URI nor its password.
    let answer = browser
        .client
        .execute_async(
            "const done = arguments[arguments.length - 1];\
             fetch('api/outbound').then(r => r.text()).then(done);",
            vec![],
        )
        .await
        .expect("script");
    let text = answer.as_str().expect("text");
    let outbound: serde_json::Value = serde_json::from_str(text).expect("JSON");
    assert_eq!(
        outbound,
        serde_json::json!({ "connections": [
            { "name": "remote", "client": "app-server", "per_call": false, "apps": ["outbound-app"] }
        ] })
    );
    assert!(
        !text.contains("pw-not-shown") && !text.contains("ws://"),
        "{text}"
    );
    browser.close().await;
}
