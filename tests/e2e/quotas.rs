//! Per-user quotas (ari.conf `max_channels`, `max_bridges`, `max_apps`,
//! `max_recordings_kb`) and the global `maxcalls` brake (asterisk.conf): a tenant over its
//! quota gets 403 `{"message": ...}` and nothing is created; once its channels hang up (or
//! bridges go, or recordings are deleted), new ones succeed; another user keeps working all
//! along.

use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::support::{EventSocket, Reply, Wari, client};
use crate::wasm_apps::component;

const ARI_CONF: &str = "[general]\nenabled = yes\nmax_bridges = 2\n\
[tenant]\ntype = user\npassword = tenantpw\nmax_channels = 3\nmax_apps = 1\n\
max_recordings_kb = 32\n\
[calm]\ntype = user\npassword = calmpw\n";

const DIALPLAN: &str = "[default]\n\
exten => 200,1,Answer()\n same => n,Wait(30)\n\
exten => 300,1,Dial(Test/leg1&Test/leg2)\n";

const TENANT: (&str, &str) = ("tenant", "tenantpw");
const CALM: (&str, &str) = ("calm", "calmpw");

async fn ari(wari: &Wari, user: (&str, &str), method: Method, path: &str) -> Reply {
    let body = if path.starts_with("/ari/wasm/") {
        component("ivr")
    } else {
        Vec::new()
    };
    wari.ari_bytes_as(user, method, path, "application/wasm", body)
        .await
}

async fn originate(wari: &Wari, user: (&str, &str), endpoint: &str, id: &str) -> Reply {
    let path = format!("/ari/channels?endpoint={endpoint}&app=q&channelId={id}");
    ari(wari, user, Method::POST, &path).await
}

/// Hangs a channel up and waits until it is destroyed.
async fn hang_up(wari: &Wari, ws: &mut EventSocket, id: &str) {
    let reply = ari(wari, TENANT, Method::DELETE, &format!("/ari/channels/{id}")).await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{}", reply.body);
    ws.next_for("ChannelDestroyed", id).await;
}

async fn channel_ids(wari: &Wari) -> Vec<String> {
    let mut ids: Vec<String> = ari(wari, CALM, Method::GET, "/ari/channels")
        .await
        .body
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|c| c["id"].as_str().map(str::to_string))
        .collect();
    ids.sort();
    ids
}

#[tokio::test]
async fn a_tenant_over_max_channels_is_refused_until_its_channels_hang_up() {
    let wari = Wari::with(&[("ari.conf", ARI_CONF), ("extensions.conf", DIALPLAN)]);
    let mut ws = EventSocket::connect(&wari, "app=q&subscribeAll=true&api_key=calm:calmpw").await;
    for id in ["t1", "t2", "t3"] {
        let reply = originate(&wari, TENANT, &format!("Test/{id}"), id).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    }
    let reply = originate(&wari, TENANT, "Test/t4", "t4").await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN, "{}", reply.body);
    assert_eq!(
        reply.body["message"],
        "Quota exceeded: user 'tenant' has 3 live channels (max_channels = 3)"
    );
    // Nothing was made, by originate or by any other way to make a channel.
    let reply = ari(
        &wari,
        TENANT,
        Method::POST,
        "/ari/channels/create?endpoint=Test/t5&app=q&channelId=t5",
    )
    .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN, "{}", reply.body);
    let reply = ari(
        &wari,
        TENANT,
        Method::POST,
        "/ari/channels/t1/snoop?spy=in&app=q&snoopId=t6",
    )
    .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN, "{}", reply.body);
    assert_eq!(channel_ids(&wari).await, ["t1", "t2", "t3"]);

    // Another user is not affected.
    let reply = originate(&wari, CALM, "Test/c1", "c1").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);

    // A Local pair takes two: refused with one free, made with two.
    hang_up(&wari, &mut ws, "t1").await;
    let local = "/ari/channels?endpoint=Local/200@default&app=q&channelId=l1&otherChannelId=l2";
    let reply = ari(&wari, TENANT, Method::POST, local).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN, "{}", reply.body);
    hang_up(&wari, &mut ws, "t2").await;
    let reply = ari(&wari, TENANT, Method::POST, local).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let reply = originate(&wari, TENANT, "Test/t7", "t7").await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN, "{}", reply.body);

    // Once everything hangs up, the whole quota is there again.
    for id in ["t3", "l1"] {
        hang_up(&wari, &mut ws, id).await;
    }
    ws.next_for("ChannelDestroyed", "l2").await;
    for id in ["n1", "n2", "n3"] {
        let reply = originate(&wari, TENANT, &format!("Test/{id}"), id).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    }
}

#[tokio::test]
async fn dial_legs_count_against_the_user_who_made_the_caller() {
    let wari = Wari::with(&[("ari.conf", ARI_CONF), ("extensions.conf", DIALPLAN)]);
    let mut ws = EventSocket::connect(&wari, "app=q&subscribeAll=true&api_key=calm:calmpw").await;
    // The Local pair takes two units; of the Dial's two legs only one fits.
    let path = "/ari/channels?endpoint=Local/300@default&app=q&channelId=d1&otherChannelId=d2";
    let reply = ari(&wari, TENANT, Method::POST, path).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let created: Vec<Value> = ws
        .until(|e| e["type"] == "Dial" && e["dialstatus"] == "ANSWER")
        .await;
    let legs: Vec<&str> = created
        .iter()
        .filter(|e| e["type"] == "ChannelCreated")
        .filter_map(|e| e["channel"]["name"].as_str())
        .filter(|name| name.starts_with("Test/leg"))
        .collect();
    assert_eq!(legs.len(), 1, "{legs:?}");
    assert!(
        wari.log().contains("Quota exceeded: user 'tenant'"),
        "the refused leg is logged"
    );
}

#[tokio::test]
async fn max_bridges_and_max_apps_hold_per_user() {
    let wari = Wari::with(&[("ari.conf", ARI_CONF), ("extensions.conf", DIALPLAN)]);
    for id in ["b1", "b2"] {
        let reply = ari(&wari, TENANT, Method::POST, &format!("/ari/bridges/{id}")).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    }
    let reply = ari(&wari, TENANT, Method::POST, "/ari/bridges/b3").await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN, "{}", reply.body);
    assert_eq!(
        reply.body["message"],
        "Quota exceeded: user 'tenant' has 2 live bridges (max_bridges = 2)"
    );
    let reply = ari(&wari, CALM, Method::GET, "/ari/bridges/b3").await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND, "nothing was made");
    let reply = ari(&wari, CALM, Method::POST, "/ari/bridges/c1").await;
    assert_eq!(reply.status, StatusCode::OK, "another user is not affected");
    let reply = ari(&wari, TENANT, Method::DELETE, "/ari/bridges/b1").await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    let reply = ari(&wari, TENANT, Method::POST, "/ari/bridges/b3").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);

    let reply = ari(&wari, TENANT, Method::PUT, "/ari/wasm/first").await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    let reply = ari(&wari, TENANT, Method::PUT, "/ari/wasm/second").await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN, "{}", reply.body);
    assert_eq!(
        reply.body["message"],
        "User 'tenant' already owns 1 WebAssembly apps (max_apps = 1)"
    );
    let reply = ari(&wari, TENANT, Method::PUT, "/ari/wasm/first").await;
    assert_eq!(reply.status, StatusCode::CREATED, "replacing is no new app");
    let reply = ari(&wari, CALM, Method::PUT, "/ari/wasm/second").await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
}

#[tokio::test]
async fn maxcalls_stops_calls_running_the_dialplan_as_asterisk_does() {
    let wari = Wari::with(&[
        ("ari.conf", ARI_CONF),
        ("extensions.conf", DIALPLAN),
        ("asterisk.conf", "[options]\nmaxcalls = 1\n"),
    ]);
    let mut ws = EventSocket::connect(&wari, "app=q&subscribeAll=true&api_key=calm:calmpw").await;
    let first = "/ari/channels?endpoint=Local/200@default&app=q&channelId=m1&otherChannelId=m2";
    let reply = ari(&wari, CALM, Method::POST, first).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    ws.next_for("StasisStart", "m1").await;
    // The second call's dialplan half is refused: the originate is answered 200, then the
    // pair is hung up with no cause, as in Asterisk 23.4.1 (checked against it).
    let second = "/ari/channels?endpoint=Local/200@default&app=q&channelId=m3&otherChannelId=m4";
    let reply = ari(&wari, CALM, Method::POST, second).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let mut causes = std::collections::BTreeMap::new();
    ws.until(|e| {
        if let ("ChannelDestroyed", Some(id @ ("m3" | "m4"))) = (
            e["type"].as_str().unwrap_or(""),
            e["channel"]["id"].as_str(),
        ) {
            causes.insert(id.to_string(), e["cause"].clone());
        }
        causes.len() == 2
    })
    .await;
    assert_eq!(causes["m3"], 0, "{causes:?}");
    assert_eq!(causes["m4"], 0, "{causes:?}");
    assert!(wari.log().contains("maxcalls reached"));
    // Channels that do not run the dialplan are not counted.
    let reply = originate(&wari, CALM, "Test/s1", "s1").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    ws.next_for("StasisStart", "s1").await;
    // Once the first call ends, a new one runs.
    let reply = ari(&wari, CALM, Method::DELETE, "/ari/channels/m1").await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    ws.next_for("ChannelDestroyed", "m2").await;
    let third = "/ari/channels?endpoint=Local/200@default&app=q&channelId=m5&otherChannelId=m6";
    let reply = ari(&wari, CALM, Method::POST, third).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    ws.next_for("StasisStart", "m5").await;
}

#[tokio::test]
async fn an_apps_channels_count_against_its_owner() {
    let ari_conf = "[general]\nenabled = yes\n\
        [tenant]\ntype = user\npassword = tenantpw\nmax_channels = 1\n\
        [calm]\ntype = user\npassword = calmpw\n";
    let wari = Wari::with(&[("ari.conf", ari_conf)]);
    let response = client()
        .put(wari.url("/ari/wasm/forward"))
        .basic_auth(TENANT.0, Some(TENANT.1))
        .header("Content-Type", "application/wasm")
        .body(component("forward"))
        .send()
        .await
        .expect("deploy");
    assert_eq!(response.status(), StatusCode::CREATED);
    let mut ws =
        EventSocket::connect(&wari, "app=watch&subscribeAll=true&api_key=calm:calmpw").await;
    let call = |caller: &'static str, callee: &'static str| {
        format!(
            "/ari/channels?endpoint=Test/{caller}&app=forward&appArgs=Test/{callee}&channelId={caller}"
        )
    };
    // The first call's callee is the tenant's one channel: the call is bridged.
    let reply = ari(&wari, CALM, Method::POST, &call("first", "bob")).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    ws.until(|e| {
        e["type"] == "ChannelEnteredBridge"
            && e["channel"]["name"]
                .as_str()
                .is_some_and(|n| n.starts_with("Test/bob"))
    })
    .await;
    // The second call's callee would be a second: the app's originate is refused and it
    // hangs its caller up; no callee is made.
    let reply = ari(&wari, CALM, Method::POST, &call("second", "dave")).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let seen = ws
        .until(|e| e["type"] == "ChannelDestroyed" && e["channel"]["id"] == "second")
        .await;
    assert!(
        !seen.iter().any(|e| e["channel"]["name"]
            .as_str()
            .is_some_and(|n| n.starts_with("Test/dave"))),
        "no callee made"
    );
    assert!(wari.log().contains("Quota exceeded: user 'tenant'"));
    // Once the first call ends, the tenant's app can place a callee again.
    let reply = ari(&wari, CALM, Method::DELETE, "/ari/channels/first").await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    ws.until(|e| {
        e["type"] == "ChannelDestroyed"
            && e["channel"]["name"]
                .as_str()
                .is_some_and(|n| n.starts_with("Test/bob"))
    })
    .await;
    let reply = ari(&wari, CALM, Method::POST, &call("third", "erin")).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    ws.until(|e| {
        e["type"] == "ChannelEnteredBridge"
            && e["channel"]["name"]
                .as_str()
                .is_some_and(|n| n.starts_with("Test/erin"))
    })
    .await;
}

/// Records `name` (8 kHz 16-bit, 16000 bytes a second) on `channel` as `user`.
async fn record(wari: &Wari, user: (&str, &str), channel: &str, name: &str, max_s: u32) -> Reply {
    let path =
        format!("/ari/channels/{channel}/record?name={name}&format=sln&maxDurationSeconds={max_s}");
    ari(wari, user, Method::POST, &path).await
}

/// The RecordingFinished of `name` (other events skipped).
async fn finished(ws: &mut EventSocket, name: &str) -> Value {
    let events = ws
        .until(|e| e["type"] == "RecordingFinished" && e["recording"]["name"] == name)
        .await;
    events.last().expect("the event").clone()
}

fn stored_len(wari: &Wari, name: &str) -> Option<u64> {
    let dir = wari.data_dir().expect("data dir").join("recordings");
    std::fs::metadata(dir.join(format!("{name}.sln")))
        .ok()
        .map(|m| m.len())
}

#[tokio::test]
async fn a_tenant_over_max_recordings_kb_is_stopped_then_refused_until_it_deletes() {
    let mut wari = Wari::with(&[("ari.conf", ARI_CONF), ("extensions.conf", DIALPLAN)]);
    let mut ws = EventSocket::connect(&wari, "app=q&subscribeAll=true&api_key=calm:calmpw").await;
    for (user, id) in [(TENANT, "t1"), (CALM, "c1")] {
        let reply = originate(&wari, user, &format!("Test/{id}"), id).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    }

    // The tenant's 32 KiB are about two seconds of audio: a recording asked to run 30 s
    // is stopped when it reaches them, finished and kept, as at its maximum duration.
    let reply = record(&wari, TENANT, "t1", "big", 30).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    let event = finished(&mut ws, "big").await;
    assert_eq!(event["recording"]["state"], "done", "{event}");
    assert!(
        event["recording"]["duration"].as_u64().expect("duration") < 30,
        "{event}"
    );
    let big = stored_len(&wari, "big").expect("the file is kept");
    assert!((32 * 1024..32 * 1024 + 1000).contains(&big), "{big} bytes");

    // At the quota: refused, nothing starts; the other user still records.
    let refused = |reply: &Reply| {
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "{}", reply.body);
        assert_eq!(
            reply.body["message"],
            "Quota exceeded: user 'tenant' has 33 KiB of recordings (max_recordings_kb = 32)"
        );
    };
    refused(&record(&wari, TENANT, "t1", "more", 1).await);
    let live = ari(&wari, TENANT, Method::GET, "/ari/recordings/live/more").await;
    assert_eq!(live.status, StatusCode::NOT_FOUND, "{}", live.body);
    assert_eq!(stored_len(&wari, "more"), None);
    let reply = record(&wari, CALM, "c1", "calm1", 1).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    assert_eq!(finished(&mut ws, "calm1").await["recording"]["duration"], 1);
    // A copy counts against the user who makes it: the tenant cannot copy the other's.
    refused(
        &ari(
            &wari,
            TENANT,
            Method::POST,
            "/ari/recordings/stored/calm1/copy?destinationRecordingName=mine",
        )
        .await,
    );
    assert_eq!(stored_len(&wari, "mine"), None);

    // A restart (a kill) keeps the count: the owner is on disk.
    drop(ws);
    wari = wari.restart();
    let mut ws = EventSocket::connect(&wari, "app=q&subscribeAll=true&api_key=calm:calmpw").await;
    let reply = originate(&wari, TENANT, "Test/t2", "t2").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    refused(&record(&wari, TENANT, "t2", "more", 1).await);

    // Deleting frees the quota.
    let reply = ari(&wari, TENANT, Method::DELETE, "/ari/recordings/stored/big").await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{}", reply.body);
    let reply = record(&wari, TENANT, "t2", "small", 1).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    let event = finished(&mut ws, "small").await;
    assert_eq!(event["recording"]["duration"], 1, "not cut short: {event}");
    assert_eq!(stored_len(&wari, "small"), Some(16000));
}

#[tokio::test]
async fn an_apps_recordings_count_against_its_owner() {
    let wari = Wari::with(&[("ari.conf", ARI_CONF), ("extensions.conf", DIALPLAN)]);
    let response = client()
        .put(wari.url("/ari/wasm/rec"))
        .basic_auth(TENANT.0, Some(TENANT.1))
        .header("Content-Type", "application/wasm")
        .body(component("foreign-names"))
        .send()
        .await
        .expect("deploy");
    assert_eq!(response.status(), StatusCode::CREATED);
    let mut ws = EventSocket::connect(&wari, "app=q&subscribeAll=true&api_key=calm:calmpw").await;
    let call = |id: &str, argument: &str| {
        format!("/ari/channels?endpoint=Test/{id}&app=rec&channelId={id}&appArgs={argument}")
    };
    // The app records through `ari.request` (as wari's own identity): the tenant's quota
    // still stops it.
    let argument = "ari POST /record name=rec/a%26format=sln%26maxDurationSeconds=30";
    let reply = ari(&wari, CALM, Method::POST, &call("a1", argument)).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let event = finished(&mut ws, "rec/a").await;
    assert!(
        event["recording"]["duration"].as_u64().expect("duration") < 30,
        "{event}"
    );
    // Its typed call is refused now, and so is the tenant itself.
    let reply = ari(&wari, CALM, Method::POST, &call("a2", "record rec/b")).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    crate::support::eventually(
        "the app's refusal is logged",
        std::time::Duration::from_secs(10),
        || {
            let log = wari.log();
            async move {
                if log.contains("foreign-names: record rec/b -> 403 Quota exceeded: user 'tenant'")
                {
                    Ok(())
                } else {
                    Err(log)
                }
            }
        },
    )
    .await;
    let reply = originate(&wari, TENANT, "Test/t1", "t1").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let reply = record(&wari, TENANT, "t1", "mine", 1).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN, "{}", reply.body);
}
