//! The `Location` of every 201: `/ari/playbacks/<id>` with the id as given, and
//! `/ari/recordings/live/<name>` with the name percent-encoded except letters, digits and
//! `-_.!~*'()` — what Asterisk 23.4.1 answered to the same requests (its Location carries
//! `/ari` but not the http.conf prefix). Creating a bridge or a channel answers 200 without
//! one.

use crate::media_support::{MediaApp, local_pair};

const DIALPLAN: &str = "\
[loc]
exten => s,1,Answer()
 same => n,Stasis(loc)
 same => n,Hangup()
";

/// A 201 and its `Location` (as bytes beyond ASCII came, UTF-8).
async fn created(wari: &crate::support::Wari, path: &str) -> String {
    let response = crate::support::client()
        .post(wari.url(path))
        .basic_auth("asterisk", Some("secret"))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 201, "{path}");
    let location = response
        .headers()
        .get("location")
        .unwrap_or_else(|| panic!("{path}: a Location"));
    String::from_utf8_lossy(location.as_bytes()).into_owned()
}

#[tokio::test]
async fn created_objects_are_located_as_asterisk_locates_them() {
    let MediaApp { wari, mut ws, .. } = MediaApp::start("loc", DIALPLAN).await;
    local_pair(&wari, &mut ws, "loc", "Local/s@loc", "c1", "c2").await;

    // Asterisk 23.4.1: `Location: /ari/playbacks/ha-pb:1 x(y)~é` for playbackId
    // `ha-pb:1 x(y)~é` (sent percent-encoded), the id raw.
    assert_eq!(
        created(
            &wari,
            "/ari/channels/c1/play?media=sound:nothing&playbackId=pb%3A1%20x%28y%29~%C3%A9"
        )
        .await,
        "/ari/playbacks/pb:1 x(y)~\u{e9}"
    );
    // `/ari/recordings/live/ha%20rec(1)~!*'%C3%A9` for name `ha rec(1)~!*'é`, and
    // `/ari/recordings/live/ha-sub%2Fdir` for `ha-sub/dir`.
    assert_eq!(
        created(
            &wari,
            "/ari/channels/c1/record?format=wav&name=rec%281%29~%21%2A%27%C3%A9%20x"
        )
        .await,
        "/ari/recordings/live/rec(1)~!*'%C3%A9%20x"
    );
    assert_eq!(
        created(&wari, "/ari/channels/c2/record?format=wav&name=sub%2Fdir").await,
        "/ari/recordings/live/sub%2Fdir"
    );

    // Bridges: 200 without a Location for the bridge, the same Locations for its media.
    let reply = wari.post("/ari/bridges?bridgeId=b1").await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(
        created(
            &wari,
            "/ari/bridges/b1/play?media=sound:nothing&playbackId=bpb"
        )
        .await,
        "/ari/playbacks/bpb"
    );
    assert_eq!(
        created(&wari, "/ari/bridges/b1/record?format=wav&name=brec").await,
        "/ari/recordings/live/brec"
    );
}
