//! Authentication and authorisation: the embedded default, Basic and api_key, crypt
//! passwords, read-only users, OPTIONS.

use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::support::{ARI_CONF, Reply, Wari, client, send};

#[tokio::test]
async fn embedded_default_serves_info_to_the_banner_user() {
    // The demo runs here on an ephemeral loopback port (`--bind 127.0.0.1:0`), so that
    // whatever else uses 127.0.0.1:8088 on this machine (an Asterisk, another wari) cannot
    // get in the way; that 8088 is its default is checked in tests/e2e/demo.rs.
    let wari = Wari::start_embedded();
    let address = wari.addr();
    assert!(address.ip().is_loopback(), "{address}");
    let banner = wari.banner.join("\n");
    assert!(banner.contains("configuration: embedded demo"), "{banner}");
    assert!(
        banner.contains("user: asterisk password asterisk (read/write)"),
        "{banner}"
    );
    assert!(
        banner.contains("user: viewer password viewer (read-only)"),
        "{banner}"
    );
    assert!(
        banner.contains(&format!(
            "try: curl -u asterisk:asterisk http://{address}/ari/asterisk/info"
        )),
        "{banner}"
    );

    let response = client()
        .get(wari.url("/ari/asterisk/info"))
        .basic_auth("asterisk", Some("asterisk"))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()["content-type"].to_str().ok(),
        Some("application/json")
    );
    let info: Value = response.json().await.expect("json");
    for section in ["build", "system", "config", "status"] {
        assert!(
            info.get(section).is_some(),
            "AsteriskInfo.{section} in {info}"
        );
    }
    assert!(info["system"]["version"].is_string());
    assert!(info["system"]["entity_id"].is_string());
    assert!(info["config"]["setid"]["user"].is_string());
    assert!(info["status"]["startup_time"].is_string());

    let with_key = client()
        .get(wari.url("/ari/asterisk/info?api_key=asterisk:asterisk&only=system"))
        .send()
        .await
        .expect("request");
    assert_eq!(with_key.status(), StatusCode::OK);
    let only: Value = with_key.json().await.expect("json");
    assert_eq!(only.as_object().map(|o| o.len()), Some(1), "{only}");
    assert!(only.get("system").is_some());

    // The same demo server refuses bad credentials and keeps the viewer read-only.
    let info = wari.url("/ari/asterisk/info");
    for request in [
        client().get(&info),
        client().get(&info).basic_auth("asterisk", Some("wrong")),
        client().get(&info).basic_auth("nobody", Some("asterisk")),
    ] {
        let Reply {
            status, headers, ..
        } = send(request).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert!(headers.contains_key("www-authenticate"));
    }
    let Reply { status, .. } = send(client().get(&info).basic_auth("viewer", Some("viewer"))).await;
    assert_eq!(status, StatusCode::OK);
    let variable = wari.url("/ari/asterisk/variable?variable=X&value=1");
    for method in [Method::POST, Method::PUT, Method::DELETE] {
        let Reply { status, body, .. } = send(
            client()
                .request(method.clone(), &variable)
                .basic_auth("viewer", Some("viewer")),
        )
        .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{method}");
        assert_eq!(body["message"], "Write access denied");
    }
    let Reply {
        status, headers, ..
    } = send(
        client()
            .request(Method::OPTIONS, &info)
            .basic_auth("viewer", Some("viewer")),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(headers["allow"].to_str().ok(), Some("OPTIONS,GET"));
}

#[tokio::test]
async fn missing_or_wrong_credentials_get_401_with_a_challenge() {
    let wari = Wari::start_default();
    let url = wari.url("/ari/asterisk/info");
    let cases = [
        ("no credentials", client().get(&url)),
        (
            "wrong password",
            client().get(&url).basic_auth("asterisk", Some("nope")),
        ),
        (
            "unknown user",
            client().get(&url).basic_auth("mallory", Some("secret")),
        ),
        (
            "wrong api_key",
            client().get(format!("{url}?api_key=asterisk:nope")),
        ),
        (
            "api_key without password",
            client().get(format!("{url}?api_key=asterisk:")),
        ),
    ];
    for (what, request) in cases {
        let Reply {
            status,
            headers,
            body,
            ..
        } = send(request).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{what}");
        assert_eq!(
            headers["www-authenticate"].to_str().ok(),
            Some("Basic realm=\"Asterisk REST Interface\""),
            "{what}"
        );
        assert_eq!(body["message"], "Authentication required", "{what}");
    }
    // Unknown paths are still behind authentication.
    let Reply { status, .. } = send(client().get(wari.url("/ari/no/such/thing"))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(
        wari.log().contains("ARI authentication failed"),
        "{}",
        wari.log()
    );
}

#[tokio::test]
async fn auth_realm_is_configurable() {
    let ari = ARI_CONF.replace(
        "[general]\nenabled = yes\n",
        "[general]\nenabled = yes\nauth_realm = Test Realm\n",
    );
    let wari = Wari::with(&[("ari.conf", &ari)]);
    let Reply {
        status, headers, ..
    } = send(client().get(wari.url("/ari/asterisk/info"))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        headers["www-authenticate"].to_str().ok(),
        Some("Basic realm=\"Test Realm\"")
    );
}

#[tokio::test]
async fn read_only_users_may_read_but_not_write() {
    let wari = Wari::start_default();
    let url = wari.url("/ari/asterisk/variable?variable=FOO&value=bar");
    let Reply { status, .. } = send(client().get(&url).basic_auth("viewer", Some("look"))).await;
    assert_eq!(status, StatusCode::OK);
    for method in [Method::POST, Method::PUT, Method::DELETE] {
        let Reply { status, body, .. } = send(
            client()
                .request(method.clone(), &url)
                .basic_auth("viewer", Some("look")),
        )
        .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{method}");
        assert_eq!(body["message"], "Write access denied", "{method}");
    }
    // Nothing was changed by the refused writes.
    let Reply { body, .. } = send(
        client()
            .get(wari.url("/ari/asterisk/variable?variable=FOO"))
            .basic_auth("asterisk", Some("secret")),
    )
    .await;
    assert_eq!(body["value"], "");
    // The read/write user may write.
    let Reply { status, .. } =
        send(client().post(&url).basic_auth("asterisk", Some("secret"))).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let Reply { body, .. } = send(
        client()
            .get(wari.url("/ari/asterisk/variable?variable=FOO"))
            .basic_auth("viewer", Some("look")),
    )
    .await;
    assert_eq!(body["value"], "bar");
}

#[tokio::test]
async fn options_lists_the_allowed_methods() {
    let wari = Wari::start_default();
    let Reply {
        status,
        headers,
        body,
        ..
    } = send(
        client()
            .request(Method::OPTIONS, wari.url("/ari/asterisk/variable"))
            .basic_auth("viewer", Some("look")),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(headers["allow"].to_str().ok(), Some("OPTIONS,GET,POST"));
    assert_eq!(body, Value::Null);
    let Reply {
        status,
        headers,
        body,
        ..
    } = send(
        client()
            .delete(wari.url("/ari/asterisk/variable"))
            .basic_auth("asterisk", Some("secret")),
    )
    .await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(headers["allow"].to_str().ok(), Some("OPTIONS,GET,POST"));
    assert_eq!(body["message"], "Invalid method");
}

/// Hashes `password` with the system's mkpasswd (Debian package `whois`, installed by
/// scripts/test).
fn mkpasswd(method: &str, password: &str) -> String {
    let output = std::process::Command::new("mkpasswd")
        .args(["-m", method, password])
        .output()
        .expect("mkpasswd is needed for crypt tests (apt-get install whois; scripts/test does)");
    assert!(output.status.success(), "mkpasswd -m {method} failed");
    String::from_utf8_lossy(&output.stdout).trim().to_string()
}

#[tokio::test]
async fn crypt_passwords_from_mkpasswd_authenticate() {
    let sha512 = mkpasswd("sha-512", "pw512");
    let sha256 = mkpasswd("sha-256", "pw256");
    let md5 = mkpasswd("md5", "pwmd5");
    assert!(sha512.starts_with("$6$") && sha256.starts_with("$5$") && md5.starts_with("$1$"));
    let ari = format!(
        "[general]\nenabled = yes\n\n\
         [u512]\ntype = user\npassword_format = crypt\npassword = {sha512}\n\n\
         [u256]\ntype = user\npassword_format = crypt\npassword = {sha256}\n\n\
         [umd5]\ntype = user\npassword_format = crypt\npassword = {md5}\n"
    );
    let wari = Wari::with(&[("ari.conf", &ari)]);
    let url = wari.url("/ari/asterisk/ping");
    for (user, password) in [("u512", "pw512"), ("u256", "pw256"), ("umd5", "pwmd5")] {
        let Reply { status, body, .. } =
            send(client().get(&url).basic_auth(user, Some(password))).await;
        assert_eq!(status, StatusCode::OK, "{user}");
        assert_eq!(body["ping"], "pong");
        let Reply { status, .. } = send(client().get(&url).basic_auth(user, Some("wrong"))).await;
        assert_eq!(
            status,
            StatusCode::UNAUTHORIZED,
            "{user} with a wrong password"
        );
        let Reply { status, .. } =
            send(client().get(format!("{url}?api_key={user}:{password}"))).await;
        assert_eq!(status, StatusCode::OK, "{user} via api_key");
    }
}

/// Attack (issue 14, item 4): passwords were guessed at 13,000 a second, and a user name
/// with a line break forged a log line. Now an address is locked out (429) after
/// `max_login_failures` wrong passwords for `login_lockout`, whatever it sends, while
/// clients at other addresses keep working; the lockout ends; the name is logged escaped.
#[tokio::test]
async fn failed_logins_lock_the_address_out_and_names_are_logged_escaped() {
    use std::net::{IpAddr, Ipv4Addr};
    use std::time::Duration;
    let ari = ARI_CONF.replace(
        "[general]\n",
        "[general]\nmax_login_failures = 5\nlogin_lockout = 1000\n",
    );
    let wari = Wari::with(&[("ari.conf", &ari)]);
    let from = |last: u8| {
        crate::support::client_builder()
            .local_address(IpAddr::V4(Ipv4Addr::new(127, 0, 0, last)))
            .build()
            .expect("client")
    };
    let (attacker, neighbour) = (from(2), from(1));
    let ping = |client: &reqwest::Client, user: &str, password: &str| {
        client
            .get(wari.url("/ari/asterisk/ping"))
            .basic_auth(user, Some(password))
            .send()
    };

    let mut statuses = Vec::new();
    for guess in 0..20 {
        let reply = ping(&attacker, "asterisk", &format!("guess{guess}"))
            .await
            .expect("guess");
        if reply.status() == StatusCode::TOO_MANY_REQUESTS {
            assert!(reply.headers().contains_key("retry-after"));
        }
        statuses.push(reply.status().as_u16());
    }
    assert_eq!(&statuses[..5], [401; 5], "{statuses:?}");
    assert!(statuses[5..].iter().all(|&s| s == 429), "{statuses:?}");
    // Locked out: even the right password is refused from that address...
    let reply = ping(&attacker, "asterisk", "secret").await.expect("ping");
    assert_eq!(reply.status(), StatusCode::TOO_MANY_REQUESTS);
    // ...but not from another one.
    let reply = ping(&neighbour, "asterisk", "secret").await.expect("ping");
    assert_eq!(reply.status(), StatusCode::OK);
    // The lockout ends.
    crate::support::eventually("the lockout ends", Duration::from_secs(5), || async {
        let status = ping(&attacker, "asterisk", "secret")
            .await
            .map_err(|e| e.to_string())?
            .status();
        (status == StatusCode::OK)
            .then_some(())
            .ok_or(format!("{status}"))
    })
    .await;

    // A line break in a user name does not start a log line of its own.
    let reply = ping(&neighbour, "bob\nINFO forged: admin logged in", "x")
        .await
        .expect("ping");
    assert_eq!(reply.status(), StatusCode::UNAUTHORIZED);
    let log = crate::support::eventually("the failure is logged", Duration::from_secs(5), || {
        let log = wari.log();
        async move {
            log.contains("bob\\nINFO forged")
                .then_some(log)
                .ok_or("not yet".to_string())
        }
    })
    .await;
    assert!(
        !log.lines()
            .any(|l| l.trim_start().starts_with("INFO forged")),
        "{log}"
    );
}
