//! http.conf presentation options: `prefix`, `servername`, `redirect`, the headers every
//! response carries, api-docs `basePath`, and ari.conf switching ARI off.

use reqwest::StatusCode;
use serde_json::Value;

use crate::support::{ARI_CONF, HTTP_CONF, Wari, client, raw_body, raw_request, raw_status};

#[tokio::test]
async fn prefix_moves_ari_under_it() {
    let wari = Wari::with(&[("http.conf", &format!("{HTTP_CONF}prefix = asterisk\n"))]);
    assert!(
        wari.banner
            .iter()
            .any(|l| l.starts_with("listening: http ") && l.ends_with("/asterisk/ari")),
        "{:?}",
        wari.banner
    );

    let response = wari.get("/asterisk/ari/asterisk/info").await;
    assert_eq!(response.status, StatusCode::OK);
    let info: Value = response.body;
    assert!(info["system"]["version"].is_string(), "{info}");

    // The prefix compares case-insensitively.
    let response = wari.get("/ASTERISK/ari/asterisk/ping").await;
    assert_eq!(response.status, StatusCode::OK);

    for path in [
        "/ari/asterisk/info",
        "/asteriskari/asterisk/info",
        "/asterisk/asterisk/info",
    ] {
        let response = wari.get(path).await;
        assert_eq!(response.status, StatusCode::NOT_FOUND, "{path}");
    }

    let response = wari.get("/asterisk/ari/api-docs/asterisk.json").await;
    assert_eq!(response.status, StatusCode::OK);
    let doc: Value = response.body;
    assert_eq!(
        doc["basePath"],
        format!("http://{}/asterisk/ari", wari.addr()),
        "basePath is built from the Host header and the prefix"
    );
}

#[tokio::test]
async fn base_path_follows_the_host_header() {
    let wari = Wari::start_default();
    let response = wari.get("/ari/api-docs/asterisk.json").await;
    assert_eq!(response.status, StatusCode::OK);
    let doc: Value = response.body;
    assert_eq!(doc["basePath"], format!("http://{}/ari", wari.addr()));
    let listing = wari.get("/ari/api-docs/resources.json").await.body;
    assert_eq!(listing["basePath"], format!("http://{}/ari", wari.addr()));

    let response = raw_request(
        wari.addr(),
        b"GET /ari/api-docs/asterisk.json?api_key=asterisk:secret HTTP/1.1\r\n\
          Host: pbx.example.com:8088\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(raw_status(&response), 200, "{response}");
    let body = raw_body(&response);
    let doc: Value = serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"));
    assert_eq!(doc["basePath"], "http://pbx.example.com:8088/ari");
}

#[tokio::test]
async fn servername_sets_the_server_header() {
    let wari = Wari::with(&[("http.conf", &format!("{HTTP_CONF}servername = Test/1.0\n"))]);
    for (path, expected) in [
        ("/ari/asterisk/ping", StatusCode::OK),
        ("/ari/no/such/resource", StatusCode::NOT_FOUND),
        ("/not-ari", StatusCode::NOT_FOUND),
    ] {
        let response = wari.get(path).await;
        assert_eq!(response.status, expected, "{path}");
        assert_eq!(
            response.headers.get("server").and_then(|v| v.to_str().ok()),
            Some("Test/1.0"),
            "{path}"
        );
    }
}

#[tokio::test]
async fn an_empty_servername_removes_the_server_header() {
    let wari = Wari::with(&[("http.conf", &format!("{HTTP_CONF}servername =\n"))]);
    for path in ["/ari/asterisk/ping", "/not-ari"] {
        let response = wari.get(path).await;
        assert!(
            response.headers.get("server").is_none(),
            "{path}: {:?}",
            response.headers.get("server")
        );
        assert!(response.headers.get("date").is_some(), "{path}");
    }
    // Without servername there is a default Server header.
    let default = Wari::start_default();
    let response = default.get("/ari/asterisk/ping").await;
    let server = response
        .headers
        .get("server")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    assert!(!server.is_empty(), "a default Server header");
}

#[tokio::test]
async fn every_response_says_no_cache() {
    let wari = Wari::start_default();
    let cases = [
        ("/ari/asterisk/info", true, StatusCode::OK),
        ("/ari/asterisk/info", false, StatusCode::UNAUTHORIZED),
        ("/ari/no/such/resource", true, StatusCode::NOT_FOUND),
        ("/not-ari", true, StatusCode::NOT_FOUND),
        ("/ari/api-docs/resources.json", true, StatusCode::OK),
    ];
    for (path, authenticated, expected) in cases {
        let mut request = client().get(wari.url(path));
        if authenticated {
            request = request.basic_auth("asterisk", Some("secret"));
        }
        let response = request.send().await.expect("request");
        assert_eq!(response.status(), expected, "{path}");
        assert_eq!(
            response
                .headers()
                .get("cache-control")
                .and_then(|v| v.to_str().ok()),
            Some("no-cache, no-store"),
            "{path}"
        );
    }
}

#[tokio::test]
async fn redirect_answers_302_with_location() {
    let wari = Wari::with(&[(
        "http.conf",
        &format!("{HTTP_CONF}redirect = /old /ari/asterisk/ping\n"),
    )]);
    let no_follow = crate::support::client_builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(std::time::Duration::from_secs(20))
        .build()
        .expect("client");
    // Exact, case-insensitive match on the path, query ignored, before authentication.
    for path in ["/old", "/OLD", "/old?x=1"] {
        let response = no_follow.get(wari.url(path)).send().await.expect("request");
        assert_eq!(response.status(), StatusCode::FOUND, "{path}");
        assert_eq!(
            response
                .headers()
                .get("location")
                .and_then(|v| v.to_str().ok()),
            Some("/ari/asterisk/ping"),
            "{path}"
        );
    }
    for path in ["/old/", "/older"] {
        let response = no_follow.get(wari.url(path)).send().await.expect("request");
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
    }
    // A following client ends up at the target.
    let response = client()
        .get(wari.url("/old"))
        .basic_auth("asterisk", Some("secret"))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["ping"], "pong");
}

#[tokio::test]
async fn ari_disabled_in_ari_conf_is_404() {
    let disabled = ARI_CONF.replace("enabled = yes", "enabled = no");
    let no_general = ARI_CONF.replace("[general]\nenabled = yes\n", "");
    assert_ne!(disabled, ARI_CONF);
    assert_ne!(no_general, ARI_CONF);
    for (what, ari) in [("enabled = no", &disabled), ("no [general]", &no_general)] {
        let wari = Wari::with(&[("ari.conf", ari)]);
        for path in ["/ari/asterisk/info", "/ari/api-docs/resources.json"] {
            let response = wari.get(path).await;
            assert_eq!(response.status, StatusCode::NOT_FOUND, "{what}: {path}");
        }
        assert!(
            wari.log().contains("ARI is disabled"),
            "{what}: {}",
            wari.log()
        );
    }
    // The same files with ARI on answer 200.
    let wari = Wari::start_default();
    assert_eq!(wari.get("/ari/asterisk/info").await.status, StatusCode::OK);
}
