//! Event WebSockets against the connection limits (issue 14, item 3). Attack: a read-only
//! user opened 300 sockets, which did not count against http.conf `sessionlimit`, until
//! wari ran out of file descriptors and locked everyone out. Now a socket holds its session
//! slot until it closes, each user has caps on sockets and application names (ari.conf
//! `max_websockets`, `max_app_registrations`; 429 over them), and when descriptors run out
//! anyway the waiting connections are closed and wari serves again once some are free.

use std::time::Duration;

use serde_json::Value;

use crate::support::{EventSocket, Wari, client, eventually};

/// `asterisk` read/write; `flood` read-only with the defaults of `[general]` (3 sockets, 4
/// names); `bulk` read-only without caps.
const ARI: &str = "[general]\nenabled = yes\nmax_websockets = 3\nmax_app_registrations = 4\n\
                   [asterisk]\ntype = user\npassword = secret\n\
                   [flood]\ntype = user\npassword = f\nread_only = yes\n\
                   [bulk]\ntype = user\npassword = b\nread_only = yes\n\
                   max_websockets = 0\nmax_app_registrations = 0\n";

fn http_conf(session_limit: u32) -> String {
    format!(
        "[general]\nenabled = yes\nbindaddr = 127.0.0.1\nbindport = 0\nsessionlimit = {session_limit}\n"
    )
}

/// Opens an events WebSocket: the socket, or the refusal's status and JSON body (status 0:
/// the connection was closed without an answer).
async fn open(
    wari: &Wari,
    query: &str,
) -> Result<
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>,
    (u16, Value),
> {
    let url = format!("ws://{}/ari/events?{query}", wari.addr());
    let attempt = tokio::time::timeout(
        Duration::from_secs(5),
        tokio_tungstenite::connect_async(url),
    )
    .await
    .expect("an answer or a close within 5 s, not a hang");
    match attempt {
        Ok((socket, _)) => Ok(socket),
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            let body = response
                .body()
                .as_deref()
                .and_then(|b| serde_json::from_slice(b).ok())
                .unwrap_or(Value::Null);
            Err((response.status().as_u16(), body))
        }
        Err(_) => Err((0, Value::Null)),
    }
}

/// Waits (5 s at most) until a ping as `asterisk` is answered 200 again.
async fn serves_again(wari: &Wari, why: &str) {
    eventually(why, Duration::from_secs(5), || async {
        match ping(wari).await {
            200 => Ok(()),
            other => Err(format!("ping {other}")),
        }
    })
    .await;
}

/// A ping as `asterisk`: the status, or 0 when the connection failed.
async fn ping(wari: &Wari) -> u16 {
    client()
        .get(wari.url("/ari/asterisk/ping"))
        .basic_auth("asterisk", Some("secret"))
        .timeout(Duration::from_secs(5))
        .send()
        .await
        .map_or(0, |r| r.status().as_u16())
}

#[tokio::test]
async fn each_user_has_caps_on_sockets_and_application_names() {
    let wari = Wari::start(&[("http.conf", &http_conf(100)), ("ari.conf", ARI)]);
    // The flooding user's names stop at 4 (429), its sockets at 3 (429).
    let mut held = Vec::new();
    for query in ["app=f0,f1&api_key=flood:f", "app=f2&api_key=flood:f"] {
        held.push(open(&wari, query).await.expect("within the caps"));
    }
    let (status, body) = open(&wari, "app=a,b&api_key=flood:f")
        .await
        .expect_err("too many names");
    assert_eq!(status, 429, "{body}");
    assert_eq!(
        body["message"],
        "Too many application registrations for this user (max_app_registrations = 4; 3 held, 2 asked for)"
    );
    held.push(
        open(&wari, "app=f3&api_key=flood:f")
            .await
            .expect("the fourth name"),
    );
    let (status, body) = open(&wari, "app=f4&api_key=flood:f")
        .await
        .expect_err("over the cap");
    assert_eq!(status, 429, "{body}");
    assert_eq!(
        body["message"],
        "Too many event WebSockets for this user (max_websockets = 3)"
    );
    drop(held.pop());
    // The closed socket's slot comes back (its session ends shortly after the close).
    let third = eventually(
        "the closed socket's slot is free",
        Duration::from_secs(5),
        || async {
            open(&wari, "app=f9&api_key=flood:f")
                .await
                .map_err(|e| format!("{e:?}"))
        },
    )
    .await;
    held.push(third);
    // Meanwhile everyone else is served.
    assert_eq!(ping(&wari).await, 200);
    let mut legit = EventSocket::connect(&wari, "app=legit&api_key=asterisk:secret").await;
    legit.ping(b"alive").await;
    assert!(
        wari.log().contains("over the user's limit"),
        "refusals are logged"
    );
}

#[tokio::test]
async fn sockets_hold_their_sessionlimit_slot_until_they_close() {
    // An uncapped user runs into sessionlimit (4): the next connection is closed
    // unanswered, as an HTTP client is at the limit, until a socket closes.
    let wari = Wari::start(&[("http.conf", &http_conf(4)), ("ari.conf", ARI)]);
    let mut bulk = Vec::new();
    for i in 0..4 {
        bulk.push(
            open(&wari, &format!("app=b{i}&api_key=bulk:b"))
                .await
                .expect("under sessionlimit"),
        );
    }
    assert_eq!(
        open(&wari, "app=b4&api_key=bulk:b")
            .await
            .err()
            .map(|e| e.0),
        Some(0)
    );
    assert_eq!(
        ping(&wari).await,
        0,
        "every session slot is held by a socket"
    );
    drop(bulk.pop());
    serves_again(&wari, "a closed socket gives its session slot back").await;
    assert!(
        wari.log().contains("HTTP session limit reached"),
        "{}",
        wari.log()
    );
}

/// wari running short of descriptors (its limit lowered under it to a few more than it
/// uses): connections beyond are closed at once instead of hanging, and once sockets close
/// it serves again. At start-up, the limit is raised to the hard one and logged.
#[cfg(target_os = "linux")]
#[tokio::test]
async fn running_out_of_descriptors_closes_connections_and_keeps_serving() {
    use rustix::process::{Pid, Resource, Rlimit, prlimit};
    let wari = Wari::start(&[("http.conf", &http_conf(1000)), ("ari.conf", ARI)]);
    assert!(
        wari.log().contains("open files limit (RLIMIT_NOFILE)"),
        "{}",
        wari.log()
    );
    let pid = Pid::from_raw(i32::try_from(wari.pid()).expect("pid")).expect("a pid");
    let in_use = std::fs::read_dir(format!("/proc/{}/fd", wari.pid()))
        .expect("wari's descriptors")
        .count() as u64;
    let low = Rlimit {
        current: Some(in_use + 12),
        maximum: Some(in_use + 12),
    };
    prlimit(Some(pid), Resource::Nofile, low).expect("lower wari's limit");

    let mut sockets = Vec::new();
    let mut refused = None;
    for i in 0..40 {
        match open(&wari, &format!("app=x{i}&api_key=bulk:b")).await {
            Ok(socket) => sockets.push(socket),
            Err(answer) => {
                refused = Some(answer);
                break;
            }
        }
    }
    assert_eq!(
        refused.map(|r| r.0),
        Some(0),
        "closed unanswered after {} sockets",
        sockets.len()
    );
    assert!(
        sockets.len() < 20,
        "about 12 descriptors were free: {} sockets",
        sockets.len()
    );
    assert_eq!(ping(&wari).await, 0, "no descriptor left");
    sockets.truncate(sockets.len().saturating_sub(3));
    serves_again(&wari, "wari serves again once sockets close").await;
    assert!(
        wari.log().contains("out of file descriptors"),
        "{}",
        wari.log()
    );
}
