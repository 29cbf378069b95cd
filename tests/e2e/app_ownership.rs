//! Application names belong to their first registrant (issue 14, item 9; ari.conf
//! `app_ownership`, on by default). Attacks: a read-only user took over a read/write user's
//! application (`ApplicationReplaced`, and the owner's calls went to the thief), squatted a
//! name so that a later app upload got 409, and one user changed another user's event
//! filter so that it stopped seeing its own calls. Now another user's socket is refused
//! (with all its names), a read-only user's socket holds nothing anyone has to wait for, and
//! only the owner or an admin changes an application; `app_ownership = no` keeps Asterisk's
//! way for single-tenant installs.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{EventSocket, Reply, Wari, client};

/// `asterisk` and `tenantb` read/write, `viewer` and `peeker` read-only, `boss` an admin.
const USERS: &str = "\
[asterisk]\ntype = user\npassword = secret\n\
[tenantb]\ntype = user\npassword = bpw\n\
[viewer]\ntype = user\npassword = look\nread_only = yes\n\
[peeker]\ntype = user\npassword = peek\nread_only = yes\n\
[boss]\ntype = user\npassword = bosspw\nadmin = yes\n";

/// An `ari.conf` with `general` in its `[general]` section and the [`USERS`].
fn ari_conf(general: &str) -> String {
    format!("[general]\nenabled = yes\n{general}\n{USERS}")
}

/// The answer to an events WebSocket upgrade that must be refused: status and JSON body.
async fn refused_socket(wari: &Wari, query: &str) -> (u16, Value) {
    let url = format!("ws://{}/ari/events?{query}", wari.addr());
    match tokio_tungstenite::connect_async(url).await {
        Ok(_) => panic!("{query}: the socket was accepted"),
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            let body = response
                .body()
                .as_deref()
                .and_then(|b| serde_json::from_slice(b).ok())
                .unwrap_or(Value::Null);
            (response.status().as_u16(), body)
        }
        Err(other) => panic!("{query}: {other}"),
    }
}

/// Originates a Test channel into `app` as `asterisk` and returns once it is accepted.
async fn call_into(wari: &Wari, app: &str, id: &str) {
    let path = format!("/ari/channels?endpoint=Test/alice&app={app}&channelId={id}");
    let Reply { status, body, .. } = wari.ari_with_body(Method::POST, &path, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn another_users_socket_cannot_take_an_application() {
    let wari = Wari::with(&[("ari.conf", &ari_conf(""))]);
    let mut owner = EventSocket::connect(&wari, "app=hello&api_key=asterisk:secret").await;

    // The read-only thief and another read/write user are refused; none of the other
    // user's names is registered either.
    let (status, body) = refused_socket(&wari, "app=hello&api_key=viewer:look").await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(
        body["message"],
        "Application 'hello' belongs to another user"
    );
    let (status, body) = refused_socket(&wari, "app=mine,hello&api_key=tenantb:bpw").await;
    assert_eq!(
        (status, &body["message"]),
        (403, &json!("Application 'hello' belongs to another user"))
    );
    let Reply { status, .. } = wari
        .ari_as(
            ("tenantb", "bpw"),
            Method::GET,
            "/ari/applications/mine",
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "all or nothing");

    // The owner still gets its calls, and was never replaced.
    call_into(&wari, "hello", "c1").await;
    let seen = owner.until(|e| e["type"] == "StasisStart").await;
    assert_eq!(seen.last().map(|e| &e["channel"]["id"]), Some(&json!("c1")));
    assert!(
        !seen.iter().any(|e| e["type"] == "ApplicationReplaced"),
        "{seen:?}"
    );

    // An admin may take it over (Asterisk's ApplicationReplaced), and the owner back.
    let mut admin = EventSocket::connect(&wari, "app=hello&api_key=boss:bosspw").await;
    assert_eq!(
        owner.next_of("ApplicationReplaced").await["application"],
        "hello"
    );
    let _owner_again = EventSocket::connect(&wari, "app=hello&api_key=asterisk:secret").await;
    assert_eq!(
        admin.next_of("ApplicationReplaced").await["application"],
        "hello"
    );
    assert!(
        wari.log().contains("events WebSocket refused"),
        "refusals are logged"
    );
}

#[tokio::test]
async fn a_read_only_socket_holds_no_name_anyone_has_to_wait_for() {
    let wari = Wari::with(&[("ari.conf", &ari_conf(""))]);
    // A read-only user may listen on a name nobody owns ...
    let mut listener = EventSocket::connect(&wari, "app=dashboard&api_key=viewer:look").await;
    // ... which another user cannot take from it ...
    let (status, body) = refused_socket(&wari, "app=dashboard&api_key=peeker:peek").await;
    assert_eq!(
        (status, &body["message"]),
        (
            403,
            &json!("Application 'dashboard' is held by another user")
        )
    );
    // ... but a read/write user can, and owns it from then on.
    let _tenant = EventSocket::connect(&wari, "app=dashboard&api_key=tenantb:bpw").await;
    assert_eq!(
        listener.next_of("ApplicationReplaced").await["application"],
        "dashboard"
    );
    let (status, _) = refused_socket(&wari, "app=dashboard&api_key=viewer:look").await;
    assert_eq!(status, 403);

    // The squat: a read-only socket on billing_ivr does not block the app's upload.
    let mut squatter = EventSocket::connect(&wari, "app=billing_ivr&api_key=viewer:look").await;
    let component = crate::wasm_apps::component("ivr");
    let upload = |name: &'static str| {
        client()
            .put(wari.url(&format!("/ari/wasm/{name}")))
            .basic_auth("asterisk", Some("secret"))
            .header("Content-Type", "application/wasm")
            .body(component.clone())
            .send()
    };
    let response = upload("billing_ivr").await.expect("upload");
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(
        squatter.next_of("ApplicationReplaced").await["application"],
        "billing_ivr"
    );
    // A name its owner's socket serves still cannot be taken by an upload (409).
    let _held = EventSocket::connect(&wari, "app=held_app&api_key=asterisk:secret").await;
    let response = upload("held_app").await.expect("upload");
    assert_eq!(response.status(), StatusCode::CONFLICT);
}

#[tokio::test]
async fn only_the_owner_or_an_admin_changes_an_application() {
    let wari = Wari::with(&[("ari.conf", &ari_conf(""))]);
    let mut victim = EventSocket::connect(&wari, "app=victimapp&api_key=tenantb:bpw").await;
    let filter = json!({"allowed": [{"type": "NoSuchEvent"}]});
    let refusal = json!("Only the owner of application 'victimapp' or an admin may change it");
    for (method, path, body) in [
        (
            Method::PUT,
            "/ari/applications/victimapp/eventFilter",
            Some(filter.clone()),
        ),
        (
            Method::POST,
            "/ari/applications/victimapp/subscription?eventSource=channel:",
            None,
        ),
        (
            Method::DELETE,
            "/ari/applications/victimapp/subscription?eventSource=bridge:x",
            None,
        ),
    ] {
        let Reply {
            status,
            body: answer,
            ..
        } = wari.ari_with_body(method.clone(), path, body).await;
        assert_eq!(
            (status, &answer["message"]),
            (StatusCode::FORBIDDEN, &refusal),
            "{method} {path}"
        );
    }
    let Reply { status, .. } = wari
        .ari_with_body(Method::PUT, "/ari/applications/nothere/eventFilter", None)
        .await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "an unknown application is still 404"
    );
    // Nothing changed: the victim sees its calls.
    call_into(&wari, "victimapp", "v1").await;
    assert_eq!(victim.next_of("StasisStart").await["channel"]["id"], "v1");

    // The owner and an admin may.
    let own = json!({"allowed": [{"type": "StasisStart"}]});
    for user in ["tenantb:bpw", "boss:bosspw"] {
        let Reply {
            status, body: app, ..
        } = wari
            .ari_as(
                user.split_once(':').expect("name:password"),
                Method::PUT,
                "/ari/applications/victimapp/eventFilter",
                Some(own.clone()),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{user}: {app}");
        assert_eq!(app["events_allowed"], json!([{"type": "StasisStart"}]));
    }
    let Reply { status, .. } = wari
        .ari_as(
            ("boss", "bosspw"),
            Method::POST,
            "/ari/applications/victimapp/subscription?eventSource=channel:",
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn app_ownership_no_keeps_asterisks_way() {
    let wari = Wari::with(&[("ari.conf", &ari_conf("app_ownership = no"))]);
    let mut owner = EventSocket::connect(&wari, "app=hello&api_key=asterisk:secret").await;
    let _thief = EventSocket::connect(&wari, "app=hello&api_key=viewer:look").await;
    assert_eq!(
        owner.next_of("ApplicationReplaced").await["application"],
        "hello"
    );
    let Reply { status, .. } = wari
        .ari_as(
            ("tenantb", "bpw"),
            Method::PUT,
            "/ari/applications/hello/eventFilter",
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
}
