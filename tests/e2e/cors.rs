//! CORS for browser clients: ari.conf `allowed_origins`, simple requests and preflights.

use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};

use crate::support::{Reply, Wari, client, send};

const ALLOW_ORIGIN: &str = "access-control-allow-origin";
const ALLOW_CREDENTIALS: &str = "access-control-allow-credentials";
const ALLOW_METHODS: &str = "access-control-allow-methods";
const ALLOW_HEADERS: &str = "access-control-allow-headers";

/// An `ari.conf` allowing `origins`, with the `asterisk` user.
fn ari_conf(origins: &str) -> String {
    format!(
        "[general]\nenabled = yes\nallowed_origins = {origins}\n\n\
         [asterisk]\ntype = user\npassword = secret\n"
    )
}

fn header<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn assert_no_cors(headers: &HeaderMap, what: &str) {
    for name in [
        ALLOW_ORIGIN,
        ALLOW_CREDENTIALS,
        ALLOW_METHODS,
        ALLOW_HEADERS,
    ] {
        assert!(
            headers.get(name).is_none(),
            "{what}: unexpected {name}: {:?}",
            headers.get(name)
        );
    }
}

/// A preflight for `path` as a browser would send it (plus `api_key` when given).
fn preflight(wari: &Wari, path: &str, origin: &str, method: &str) -> reqwest::RequestBuilder {
    client()
        .request(Method::OPTIONS, wari.url(path))
        .header("Origin", origin)
        .header("Access-Control-Request-Method", method)
        .header("Access-Control-Request-Headers", "content-type")
}

#[tokio::test]
async fn simple_request_from_an_allowed_origin_gets_cors_headers() {
    let wari = Wari::with(&[("ari.conf", &ari_conf("http://good.example"))]);
    let Reply {
        status,
        headers,
        text: body,
        ..
    } = send(
        client()
            .get(wari.url("/ari/asterisk/info"))
            .basic_auth("asterisk", Some("secret"))
            .header("Origin", "http://good.example"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(header(&headers, ALLOW_ORIGIN), Some("http://good.example"));
    assert_eq!(header(&headers, ALLOW_CREDENTIALS), Some("true"));
    assert!(headers.get(ALLOW_METHODS).is_none(), "not a preflight");

    // CORS headers are added before authentication, so errors carry them too.
    let Reply {
        status, headers, ..
    } = send(
        client()
            .get(wari.url("/ari/asterisk/info"))
            .header("Origin", "http://good.example"),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(header(&headers, ALLOW_ORIGIN), Some("http://good.example"));
    assert_eq!(header(&headers, ALLOW_CREDENTIALS), Some("true"));
}

#[tokio::test]
async fn a_disallowed_origin_is_served_without_cors_headers() {
    let wari = Wari::with(&[("ari.conf", &ari_conf("http://good.example"))]);
    for origin in [
        "http://evil.example",
        "http://GOOD.example",
        "https://good.example",
    ] {
        let Reply {
            status,
            headers,
            text: body,
            ..
        } = send(
            client()
                .get(wari.url("/ari/asterisk/info"))
                .basic_auth("asterisk", Some("secret"))
                .header("Origin", origin),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{origin}: {body}");
        assert!(
            body.contains("\"system\""),
            "{origin}: a normal answer: {body}"
        );
        assert_no_cors(&headers, origin);

        let Reply {
            status, headers, ..
        } = send(preflight(
            &wari,
            "/ari/asterisk/variable?api_key=asterisk:secret",
            origin,
            "POST",
        ))
        .await;
        assert_eq!(status, StatusCode::NO_CONTENT, "{origin}");
        assert_no_cors(&headers, &format!("preflight from {origin}"));
    }
    // No Origin at all: no CORS headers either.
    let Reply {
        status, headers, ..
    } = send(
        client()
            .get(wari.url("/ari/asterisk/info"))
            .basic_auth("asterisk", Some("secret")),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_no_cors(&headers, "no Origin");
}

#[tokio::test]
async fn preflight_with_api_key_lists_methods_and_echoes_headers() {
    let wari = Wari::with(&[("ari.conf", &ari_conf("http://good.example"))]);
    let Reply {
        status,
        headers,
        text: body,
        ..
    } = send(preflight(
        &wari,
        "/ari/asterisk/variable?api_key=asterisk:secret",
        "http://good.example",
        "POST",
    ))
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(body, "");
    assert_eq!(header(&headers, "allow"), Some("OPTIONS,GET,POST"));
    assert_eq!(header(&headers, ALLOW_METHODS), Some("OPTIONS,GET,POST"));
    assert_eq!(header(&headers, ALLOW_HEADERS), Some("content-type"));
    assert_eq!(header(&headers, ALLOW_ORIGIN), Some("http://good.example"));
    assert_eq!(header(&headers, ALLOW_CREDENTIALS), Some("true"));
}

#[tokio::test]
async fn preflight_without_credentials_is_401_but_keeps_origin_headers() {
    let wari = Wari::with(&[("ari.conf", &ari_conf("http://good.example"))]);
    let Reply {
        status, headers, ..
    } = send(preflight(
        &wari,
        "/ari/asterisk/variable",
        "http://good.example",
        "POST",
    ))
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(headers.get("www-authenticate").is_some());
    assert_eq!(header(&headers, ALLOW_ORIGIN), Some("http://good.example"));
    assert_eq!(header(&headers, ALLOW_CREDENTIALS), Some("true"));
    assert!(headers.get(ALLOW_METHODS).is_none());
    assert!(headers.get(ALLOW_HEADERS).is_none());
}

#[tokio::test]
async fn preflight_for_an_unbound_method_gets_no_allow_methods() {
    let wari = Wari::with(&[("ari.conf", &ari_conf("http://good.example"))]);
    for method in ["DELETE", "PUT", "post"] {
        let Reply {
            status, headers, ..
        } = send(preflight(
            &wari,
            "/ari/asterisk/variable?api_key=asterisk:secret",
            "http://good.example",
            method,
        ))
        .await;
        assert_eq!(status, StatusCode::NO_CONTENT, "{method}");
        assert_eq!(
            header(&headers, "allow"),
            Some("OPTIONS,GET,POST"),
            "{method}"
        );
        assert!(headers.get(ALLOW_METHODS).is_none(), "{method}");
        assert!(headers.get(ALLOW_HEADERS).is_none(), "{method}");
        // Still an allowed origin.
        assert_eq!(
            header(&headers, ALLOW_ORIGIN),
            Some("http://good.example"),
            "{method}"
        );
    }
    // A resource with GET only.
    let Reply {
        status, headers, ..
    } = send(preflight(
        &wari,
        "/ari/asterisk/ping?api_key=asterisk:secret",
        "http://good.example",
        "POST",
    ))
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(header(&headers, "allow"), Some("OPTIONS,GET"));
    assert!(headers.get(ALLOW_METHODS).is_none());
    let Reply { headers, .. } = send(preflight(
        &wari,
        "/ari/asterisk/ping?api_key=asterisk:secret",
        "http://good.example",
        "GET",
    ))
    .await;
    assert_eq!(header(&headers, ALLOW_METHODS), Some("OPTIONS,GET"));
}

#[tokio::test]
async fn star_allows_any_origin_and_echoes_it() {
    let wari = Wari::with(&[("ari.conf", &ari_conf("*"))]);
    for origin in ["http://anything.example", "https://other.example:8443"] {
        let Reply {
            status, headers, ..
        } = send(
            client()
                .get(wari.url("/ari/asterisk/ping"))
                .basic_auth("asterisk", Some("secret"))
                .header("Origin", origin),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(header(&headers, ALLOW_ORIGIN), Some(origin), "never *");
        assert_eq!(header(&headers, ALLOW_CREDENTIALS), Some("true"));
    }
}

#[tokio::test]
async fn one_origin_of_several_is_allowed() {
    let wari = Wari::with(&[(
        "ari.conf",
        &ari_conf("http://one.example,http://two.example"),
    )]);
    for origin in ["http://one.example", "http://two.example"] {
        let Reply { headers, .. } = send(
            client()
                .get(wari.url("/ari/asterisk/ping"))
                .basic_auth("asterisk", Some("secret"))
                .header("Origin", origin),
        )
        .await;
        assert_eq!(header(&headers, ALLOW_ORIGIN), Some(origin));
    }
    let Reply { headers, .. } = send(
        client()
            .get(wari.url("/ari/asterisk/ping"))
            .basic_auth("asterisk", Some("secret"))
            .header("Origin", "http://three.example"),
    )
    .await;
    assert_no_cors(&headers, "unlisted origin");
}
