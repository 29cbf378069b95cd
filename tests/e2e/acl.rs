//! IP access control: per-user `permit`/`deny`/`acl` in ari.conf, named lists from acl.conf,
//! and http.conf `type = restriction` sections.
//!
//! Every address in 127.0.0.0/8 is local on Linux, so a client socket bound to 127.0.0.2
//! reaches the listener on 127.0.0.1 from a second source address.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;

use crate::support::{HTTP_CONF, Reply, Wari, send};

const FROM_ONE: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1));
const FROM_TWO: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));

/// A client whose connections come from `source`.
fn client_from(source: IpAddr) -> reqwest::Client {
    crate::support::client_builder()
        .timeout(Duration::from_secs(20))
        .local_address(source)
        .build()
        .expect("client")
}

/// GET `path` as `user`/`password` from `source`.
async fn get_as(wari: &Wari, source: IpAddr, path: &str, user: &str, password: &str) -> Reply {
    send(
        client_from(source)
            .get(wari.url(path))
            .basic_auth(user, Some(password)),
    )
    .await
}

fn assert_acl_denied(status: StatusCode, body: &str, what: &str) {
    assert_eq!(status, StatusCode::FORBIDDEN, "{what}: {body}");
    let json: Value = serde_json::from_str(body).unwrap_or_else(|_| panic!("{what}: {body}"));
    assert_eq!(
        json,
        serde_json::json!({"message": "Access denied by ACL"}),
        "{what}"
    );
}

#[tokio::test]
async fn user_permit_and_deny_whitelist_one_address() {
    let ari = "[general]\nenabled = yes\n\n\
               [local]\ntype = user\npassword = pw\ndeny = 0.0.0.0/0\npermit = 127.0.0.1/32\n\n\
               [anywhere]\ntype = user\npassword = pw\n";
    let wari = Wari::with(&[("ari.conf", ari)]);

    let Reply {
        status, text: body, ..
    } = get_as(&wari, FROM_ONE, "/ari/asterisk/info", "local", "pw").await;
    assert_eq!(status, StatusCode::OK, "from 127.0.0.1: {body}");

    let reply = get_as(&wari, FROM_TWO, "/ari/asterisk/info", "local", "pw").await;
    assert_acl_denied(reply.status, &reply.text, "from 127.0.0.2");
    assert_eq!(
        reply.header("content-type").unwrap_or_default(),
        "application/json"
    );

    // The ACL belongs to the user: another user is served from the same address.
    let Reply {
        status, text: body, ..
    } = get_as(&wari, FROM_TWO, "/ari/asterisk/info", "anywhere", "pw").await;
    assert_eq!(status, StatusCode::OK, "user without an ACL: {body}");

    // Authentication comes first: bad credentials from a denied address are still a 401.
    let Reply { status, .. } =
        get_as(&wari, FROM_TWO, "/ari/asterisk/info", "local", "wrong").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let log = wari.log();
    assert!(
        log.contains("denied by the user's ACL") && log.contains("127.0.0.2"),
        "the refusal is logged with the client address:\n{log}"
    );
}

#[tokio::test]
async fn named_acl_from_acl_conf_applies_to_a_user() {
    let acl = "[office]\ndeny = 0.0.0.0/0.0.0.0\npermit = 127.0.0.1\n";
    let ari = "[general]\nenabled = yes\n\n\
               [clerk]\ntype = user\npassword = pw\nacl = office\n";
    let wari = Wari::with(&[("ari.conf", ari), ("acl.conf", acl)]);

    let Reply {
        status, text: body, ..
    } = get_as(&wari, FROM_ONE, "/ari/asterisk/ping", "clerk", "pw").await;
    assert_eq!(status, StatusCode::OK, "from 127.0.0.1: {body}");
    let Reply {
        status, text: body, ..
    } = get_as(&wari, FROM_TWO, "/ari/asterisk/ping", "clerk", "pw").await;
    assert_acl_denied(status, &body, "from 127.0.0.2");
    assert!(
        wari.log().contains("denied by the user's ACL"),
        "{}",
        wari.log()
    );
}

#[tokio::test]
async fn an_undefined_named_acl_locks_the_user_out() {
    let acl = "[office]\npermit = 127.0.0.0/8\n";
    let ari = "[general]\nenabled = yes\n\n\
               [ghost]\ntype = user\npassword = pw\nacl = nosuchlist\n\n\
               [clerk]\ntype = user\npassword = pw\nacl = office\n";
    let wari = Wari::with(&[("ari.conf", ari), ("acl.conf", acl)]);

    for source in [FROM_ONE, FROM_TWO] {
        let Reply {
            status, text: body, ..
        } = get_as(&wari, source, "/ari/asterisk/ping", "ghost", "pw").await;
        assert_acl_denied(status, &body, &format!("ghost from {source}"));
        // A user whose list exists is unaffected.
        let Reply {
            status, text: body, ..
        } = get_as(&wari, source, "/ari/asterisk/ping", "clerk", "pw").await;
        assert_eq!(status, StatusCode::OK, "clerk from {source}: {body}");
    }
    let log = wari.log();
    assert!(
        log.contains("nosuchlist") && log.contains("WARN"),
        "a warning names the missing ACL:\n{log}"
    );
    assert!(log.contains("denied by the user's ACL"), "{log}");
}

#[tokio::test]
async fn http_conf_restriction_guards_a_path_prefix() {
    let http = format!(
        "{HTTP_CONF}\n[/ari/asterisk]\ntype = restriction\ndeny = 0.0.0.0/0\npermit = 127.0.0.1\n"
    );
    let ari = "[general]\nenabled = yes\n\n[asterisk]\ntype = user\npassword = secret\n";
    let wari = Wari::start(&[("http.conf", &http), ("ari.conf", ari)]);

    let Reply {
        status, text: body, ..
    } = get_as(&wari, FROM_ONE, "/ari/asterisk/info", "asterisk", "secret").await;
    assert_eq!(status, StatusCode::OK, "from 127.0.0.1: {body}");

    let reply = get_as(&wari, FROM_TWO, "/ari/asterisk/info", "asterisk", "secret").await;
    let (content_type, body) = (
        reply.header("content-type").unwrap_or_default(),
        &reply.text,
    );
    assert_eq!(reply.status, StatusCode::FORBIDDEN, "{body}");
    assert!(
        content_type.starts_with("text/html"),
        "the HTTP core answers restrictions in HTML, not {content_type}"
    );
    assert!(body.contains("Access denied by ACL"), "{body}");

    // The restriction is checked before authentication.
    let response = client_from(FROM_TWO)
        .get(wari.url("/ari/asterisk/ping"))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::FORBIDDEN);

    // Paths outside the prefix are not restricted.
    let Reply {
        status, text: body, ..
    } = get_as(
        &wari,
        FROM_TWO,
        "/ari/api-docs/resources.json",
        "asterisk",
        "secret",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "api-docs from 127.0.0.2: {body}");

    let log = wari.log();
    assert!(
        log.contains("denied by restriction") && log.contains("127.0.0.2"),
        "the refusal is logged with the client address:\n{log}"
    );
}

/// Attack (issue 14, item 11): a restriction compared with the raw path was bypassed by
/// spelling the path another way routing still understands: another case, or a segment
/// percent-encoded. Every spelling is refused from outside the ACL, and still served inside.
#[tokio::test]
async fn restriction_holds_for_every_spelling_of_the_path() {
    let http = format!(
        "{HTTP_CONF}\n[/ari/recordings]\ntype = restriction\ndeny = 0.0.0.0/0\npermit = 127.0.0.1\n\n\
         [/metrics]\ntype = restriction\ndeny = 0.0.0.0/0\npermit = 127.0.0.1\n"
    );
    let ari = "[general]\nenabled = yes\n\n[asterisk]\ntype = user\npassword = secret\n";
    let wari = Wari::start(&[("http.conf", &http), ("ari.conf", ari)]);

    for path in [
        "/ari/recordings/stored",
        "/ARI/recordings/stored",
        "/ari/%72ecordings/stored",
        "/Ari/%72ecording%73/stored",
        "/metrics",
        "/METRICS",
    ] {
        let Reply {
            status, text: body, ..
        } = get_as(&wari, FROM_ONE, path, "asterisk", "secret").await;
        assert_eq!(
            status,
            StatusCode::OK,
            "{path} from 127.0.0.1 is served: {body}"
        );
        let Reply {
            status, text: body, ..
        } = get_as(&wari, FROM_TWO, path, "asterisk", "secret").await;
        assert_eq!(
            status,
            StatusCode::FORBIDDEN,
            "{path} from 127.0.0.2 is restricted: {body}"
        );
        assert!(body.contains("Access denied by ACL"), "{path}: {body}");
    }
    // The legitimate user outside the restricted prefixes keeps working from anywhere.
    let Reply {
        status, text: body, ..
    } = get_as(&wari, FROM_TWO, "/ari/asterisk/info", "asterisk", "secret").await;
    assert_eq!(status, StatusCode::OK, "{body}");
}
