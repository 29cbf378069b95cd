//! WebAssembly apps belong to the ARI user who deployed them: another read/write user can
//! neither replace nor delete one (403, refused from the request head before any of an
//! upload's body is read), an ari.conf admin can; every deploy, replacement and removal,
//! refused ones included, leaves an audit line (user, peer, app, sha256); the owner is
//! shown and survives a restart, and apps stored without an owner are left to admins.

use base64::Engine;
use reqwest::StatusCode;
use serde_json::Value;

use crate::support::{Reply, Wari, raw_request, raw_status};
use crate::wasm_apps::component;
use crate::wasm_upload::upload;
use reqwest::Method;

const ARI_CONF: &str = "[general]\nenabled = yes\n\
[alice]\ntype = user\npassword = alicepw\n\
[bob]\ntype = user\npassword = bobpw\n\
[root]\ntype = user\npassword = rootpw\nadmin = yes\n";

const ALICE: (&str, &str) = ("alice", "alicepw");
const BOB: (&str, &str) = ("bob", "bobpw");
const ROOT: (&str, &str) = ("root", "rootpw");

async fn owner(wari: &Wari, name: &str) -> Value {
    wari.ari_as(BOB, Method::GET, &format!("/ari/wasm/{name}"), None)
        .await
        .body["owner"]
        .clone()
}

/// The audit lines of the log that mention all of `words`.
fn audit_lines(wari: &Wari, words: &[&str]) -> usize {
    wari.log()
        .lines()
        .filter(|l| l.contains("wari::audit") && words.iter().all(|w| l.contains(w)))
        .count()
}

#[tokio::test]
async fn only_the_owner_or_an_admin_replaces_or_deletes_an_app() {
    let wari = Wari::with(&[("ari.conf", ARI_CONF)]);
    let ivr = component("ivr");
    let sha = wari_sha(&ivr);
    let Reply { status, body, .. } = upload(&wari, "ivr", ALICE, ivr.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["owner"], "alice");
    assert_eq!(audit_lines(&wari, &["alice", "deploy", "done", &sha]), 1);

    // Bob cannot replace it: refused from the head, before the body (which never comes).
    let credentials = base64::engine::general_purpose::STANDARD.encode("bob:bobpw");
    let head = format!(
        "PUT /ari/wasm/ivr HTTP/1.1\r\nHost: x\r\nAuthorization: Basic {credentials}\r\n\
         Content-Type: application/wasm\r\nContent-Length: 1000000\r\n\r\n"
    );
    let response = raw_request(wari.addr(), head.as_bytes());
    assert_eq!(raw_status(&response), 403, "{response}");
    assert!(response.contains("belongs to user 'alice'"), "{response}");
    // Nor with a whole body, nor delete it.
    let Reply { status, body, .. } = upload(&wari, "ivr", BOB, component("forward")).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let Reply { status, body, .. } = wari
        .ari_as(BOB, Method::DELETE, "/ari/wasm/ivr", None)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(
        body["message"],
        "WebAssembly app 'ivr' belongs to user 'alice': only its owner or an admin may change it"
    );
    assert_eq!(
        wari.ari_as(BOB, Method::GET, "/ari/wasm/ivr", None)
            .await
            .body["sha256"],
        sha.as_str()
    );
    assert!(audit_lines(&wari, &["bob", "replace", "refused", "127.0.0.1:"]) >= 2);
    assert_eq!(audit_lines(&wari, &["bob", "remove", "refused", &sha]), 1);

    // Bob deploys his own app; the list shows each owner.
    let Reply { status, .. } = upload(&wari, "fwd", BOB, component("forward")).await;
    assert_eq!(status, StatusCode::CREATED);
    let list = wari.ari_as(BOB, Method::GET, "/ari/wasm", None).await.body;
    let owners: Vec<(&str, &str)> = list
        .as_array()
        .expect("list")
        .iter()
        .map(|a| {
            (
                a["name"].as_str().unwrap_or("?"),
                a["owner"].as_str().unwrap_or("?"),
            )
        })
        .collect();
    assert_eq!(owners, [("fwd", "bob"), ("ivr", "alice")]);

    // The owner replaces her app; an admin replaces it too and it stays hers.
    let Reply { status, .. } = upload(&wari, "ivr", ALICE, component("forward")).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(audit_lines(&wari, &["alice", "replace", "done"]), 1);
    let Reply { status, body, .. } = upload(&wari, "ivr", ROOT, ivr).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["owner"], "alice");

    // The owner survives a restart, and so does the refusal.
    let wari = wari.restart();
    assert_eq!(owner(&wari, "ivr").await, "alice");
    let Reply { status, .. } = wari
        .ari_as(BOB, Method::DELETE, "/ari/wasm/ivr", None)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let Reply { status, .. } = wari
        .ari_as(ALICE, Method::DELETE, "/ari/wasm/ivr", None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(audit_lines(&wari, &["alice", "remove", "done", &sha]), 1);
    let Reply { status, .. } = wari
        .ari_as(ROOT, Method::DELETE, "/ari/wasm/fwd", None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "an admin removes any app");
}

#[tokio::test]
async fn an_app_stored_without_an_owner_is_left_to_admins() {
    let wari = Wari::with(&[("ari.conf", ARI_CONF)]);
    let Reply { status, .. } = upload(&wari, "old", ALICE, component("ivr")).await;
    assert_eq!(status, StatusCode::CREATED);
    // As stored by a wari that did not record owners.
    let current = wari.config_dir().join("data/apps/old/current.json");
    let mut record: Value =
        serde_json::from_slice(&std::fs::read(&current).expect("read")).expect("json");
    record.as_object_mut().expect("object").remove("owner");
    std::fs::write(&current, record.to_string()).expect("write");
    let wari = wari.restart();
    assert!(
        wari.log()
            .contains("has no owner (stored before owners were recorded"),
        "said at start-up"
    );
    assert_eq!(owner(&wari, "old").await, Value::Null);
    let Reply { status, body, .. } = wari
        .ari_as(ALICE, Method::DELETE, "/ari/wasm/old", None)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(
        body["message"],
        "WebAssembly app 'old' has no owner: only an admin may change it"
    );
    let Reply { status, .. } = upload(&wari, "old", ALICE, component("forward")).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let Reply { status, .. } = wari
        .ari_as(ROOT, Method::DELETE, "/ari/wasm/old", None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
}

/// The hex SHA-256 wari reports for a component.
fn wari_sha(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
