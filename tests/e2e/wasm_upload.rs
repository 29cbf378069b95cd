//! Uploading WebAssembly apps: every kind of bad upload is refused with a clear 4xx and
//! nothing is stored.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::support::{EventSocket, Reply, Wari, client};

/// `PUT /ari/wasm/{name}` of `body` as `user`.
pub(crate) async fn upload(wari: &Wari, name: &str, user: (&str, &str), body: Vec<u8>) -> Reply {
    let path = format!("/ari/wasm/{name}");
    wari.ari_bytes_as(user, Method::PUT, &path, "application/wasm", body)
        .await
}

const RW: (&str, &str) = ("asterisk", "secret");

async fn assert_nothing_stored(wari: &Wari, name: &str) {
    let response = client()
        .get(wari.url(&format!("/ari/wasm/{name}")))
        .basic_auth(RW.0, Some(RW.1))
        .send()
        .await
        .expect("get");
    assert_eq!(
        response.status(),
        StatusCode::NOT_FOUND,
        "{name} must not be deployed"
    );
    let apps_dir = wari.config_dir().join("data/apps").join(name);
    assert!(
        !apps_dir.join("current.json").exists(),
        "nothing stored for {name}"
    );
}

#[tokio::test]
async fn bad_uploads_are_refused_and_nothing_is_stored() {
    let wari = Wari::start_default();
    let no_exports = wat::parse_str("(component)").expect("component text");
    let unknown_import = wat::parse_str(
        r#"(component (import "example:nowhere/thing" (instance (export "f" (func)))))"#,
    )
    .expect("component text");
    let core_module = wat::parse_str("(module)").expect("module text");
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "garbage",
            b"definitely not wasm".to_vec(),
            "Invalid component",
        ),
        ("empty", Vec::new(), "Empty body"),
        ("core", core_module, "core WebAssembly module"),
        ("noexports", no_exports, "does not export"),
        ("imports", unknown_import, "cannot be satisfied"),
    ];
    for (name, body, expected) in cases {
        let Reply { status, body, .. } = upload(&wari, name, RW, body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{name}: {body}");
        let message = body["message"].as_str().unwrap_or_default();
        assert!(message.contains(expected), "{name}: {message}");
        assert_nothing_stored(&wari, name).await;
    }
    let Reply { status, body, .. } = upload(&wari, "bad/name", RW, b"x".to_vec()).await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "a slash is a path separator: {body}"
    );
    let Reply { status, body, .. } = upload(&wari, "bad%20name", RW, b"x".to_vec()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.contains("Invalid app name"))
    );
    assert!(
        wari.log().contains("ARI request refused"),
        "refusals are logged"
    );
}

#[tokio::test]
async fn read_only_users_cannot_upload_and_oversize_is_413() {
    let wari = Wari::start_default();
    let Reply { status, body, .. } =
        upload(&wari, "ro", ("viewer", "look"), b"\0asm".to_vec()).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body["message"], "Write access denied");
    assert_nothing_stored(&wari, "ro").await;
    let Reply { status, body, .. } = upload(&wari, "huge", RW, vec![0u8; 17 * 1024 * 1024]).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    assert_nothing_stored(&wari, "huge").await;
    // Ordinary ARI requests keep their 40 kB limit.
    let response = client()
        .post(wari.url("/ari/asterisk/variable?variable=X&value=1"))
        .basic_auth(RW.0, Some(RW.1))
        .header("Content-Type", "application/json")
        .body(vec![b' '; 50 * 1024])
        .send()
        .await
        .expect("post");
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test]
async fn unknown_apps_are_404_and_the_list_starts_empty() {
    let wari = Wari::start_default();
    let http = client();
    let list: Value = http
        .get(wari.url("/ari/wasm"))
        .basic_auth(RW.0, Some(RW.1))
        .send()
        .await
        .expect("list")
        .json()
        .await
        .expect("json");
    assert_eq!(list, serde_json::json!([]));
    let response = http
        .delete(wari.url("/ari/wasm/nothing"))
        .basic_auth(RW.0, Some(RW.1))
        .send()
        .await
        .expect("delete");
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    // A name held by a WebSocket cannot be taken by a component.
    let _socket = EventSocket::connect(&wari, "app=taken&api_key=asterisk:secret").await;
    let Reply { status, body, .. } =
        upload(&wari, "taken", RW, b"\0asm\x0d\0\x01\0".to_vec()).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_nothing_stored(&wari, "taken").await;
}

/// Attack (issue 14, item 2): unauthenticated `PUT /ari/wasm/{app}` requests declaring
/// 16 MB were buffered whole before the credentials were looked at. Now the head alone is
/// answered: without credentials, with wrong ones, or as a read-only user, the refusal comes
/// before a single body byte is sent, and the connection closes. A legitimate upload still
/// deploys, and one abandoned halfway leaves nothing in the spool folder.
#[tokio::test]
async fn uploads_are_refused_from_the_head_and_spooled_to_disk() {
    use base64::Engine as _;
    let wari = Wari::start_default();
    let basic = |user: &str| {
        format!(
            "Authorization: Basic {}\r\n",
            base64::engine::general_purpose::STANDARD.encode(user)
        )
    };
    for (who, authorization, status) in [
        ("nobody", String::new(), 401),
        ("wrong password", basic("asterisk:guess"), 401),
        ("read-only user", basic("viewer:look"), 403),
    ] {
        let head = format!(
            "PUT /ari/wasm/evil HTTP/1.1\r\nHost: x\r\n{authorization}\
             Content-Type: application/wasm\r\nContent-Length: 16777215\r\n\r\n"
        );
        let addr = wari.addr();
        // No body is ever sent: the answer (and the close) must come from the head alone.
        let response =
            tokio::task::spawn_blocking(move || crate::support::raw_request(addr, head.as_bytes()))
                .await
                .expect("request");
        assert_eq!(
            crate::support::raw_status(&response),
            status,
            "{who}: {response}"
        );
        assert!(
            response.to_ascii_lowercase().contains("connection: close"),
            "{who}: {response}"
        );
    }
    assert_nothing_stored(&wari, "evil").await;

    // An authorised upload abandoned halfway: its spool file goes with it.
    let head = format!(
        "PUT /ari/wasm/half HTTP/1.1\r\nHost: x\r\n{}Content-Type: application/wasm\r\n\
         Content-Length: 1000000\r\n\r\n",
        basic("asterisk:secret")
    );
    {
        use tokio::io::AsyncWriteExt;
        let mut stream = tokio::net::TcpStream::connect(wari.addr())
            .await
            .expect("connect");
        stream.write_all(head.as_bytes()).await.expect("head");
        stream.write_all(&[0u8; 300_000]).await.expect("body");
        stream.flush().await.expect("flush");
        let spool = wari.config_dir().join("data/uploads");
        crate::support::eventually(
            "the partial upload is spooled",
            Duration::from_secs(5),
            || {
                let spool = spool.clone();
                async move {
                    let files = spool_files(&spool);
                    files
                        .iter()
                        .any(|&n| n > 0)
                        .then_some(())
                        .ok_or(format!("{files:?}"))
                }
            },
        )
        .await;
    }
    let spool = wari.config_dir().join("data/uploads");
    crate::support::eventually("the spool is emptied", Duration::from_secs(5), || {
        let spool = spool.clone();
        async move {
            let files = spool_files(&spool);
            files.is_empty().then_some(()).ok_or(format!("{files:?}"))
        }
    })
    .await;
    assert_nothing_stored(&wari, "half").await;

    let Reply { status, body, .. } =
        upload(&wari, "legit", RW, crate::wasm_apps::component("ivr")).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert!(spool_files(&spool).is_empty(), "nothing left behind");
}

/// The sizes of the files in the spool folder.
fn spool_files(dir: &std::path::Path) -> Vec<u64> {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .filter_map(|e| e.metadata().ok().map(|m| m.len()))
                .collect()
        })
        .unwrap_or_default()
}
