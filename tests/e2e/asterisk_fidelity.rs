//! `/asterisk` as Asterisk 23.4.1 answers it: global variables (set through `GLOBAL()`,
//! function names read as nothing, the values computed without a channel, the
//! ChannelVarset an application subscribed to every channel hears), `ping`'s keys, and the
//! words of the module, log channel and dynamic configuration errors.
//!
//! Every expected value was observed on the reference Asterisk 23.4.1; the comments quote
//! it.

use serde_json::{Value, json};

use crate::support::{EventSocket, Wari, key_order, refused};

async fn value(wari: &Wari, variable: &str) -> Value {
    let reply = wari
        .get(&format!("/ari/asterisk/variable?variable={variable}"))
        .await;
    assert_eq!(reply.status, 200, "{variable}: {}", reply.body);
    reply.body["value"].clone()
}

#[tokio::test]
async fn global_variables_behave_as_in_asterisk() {
    let wari = Wari::start_default();
    let mut all =
        EventSocket::connect(&wari, "app=all&subscribeAll=true&api_key=asterisk:secret").await;
    let mut one = EventSocket::connect(&wari, "app=one&api_key=asterisk:secret").await;

    refused(
        wari.get("/ari/asterisk/variable").await,
        400,
        "Variable name is required",
    );
    refused(
        wari.post("/ari/asterisk/variable?variable=").await,
        400,
        "Variable name is required",
    );
    assert_eq!(value(&wari, "UNSET").await, "");

    // Set, read (the name as given: " A " is another name), unset without a value.
    let set = |query: &'static str| {
        let wari = &wari;
        async move {
            let reply = wari.post(&format!("/ari/asterisk/variable?{query}")).await;
            assert_eq!(reply.status, 204, "{query}: {}", reply.body);
        }
    };
    set("variable=A&value=1").await;
    assert_eq!(value(&wari, "A").await, "1");
    assert_eq!(value(&wari, "%20A%20").await, "");
    set("variable=A").await;
    assert_eq!(value(&wari, "A").await, "");
    // GLOBAL(G) writes G; a function name reads as nothing; other functions write
    // nothing.
    set("variable=GLOBAL(G)&value=2").await;
    assert_eq!(value(&wari, "G").await, "2");
    assert_eq!(value(&wari, "GLOBAL(G)").await, "");
    assert_eq!(value(&wari, "LEN(abcd)").await, "");
    set("variable=LEN(x)&value=1").await;
    assert_eq!(value(&wari, "LEN(x)").await, "");
    // Values computed without a channel.
    let epoch: i64 = value(&wari, "EPOCH")
        .await
        .as_str()
        .and_then(|e| e.parse().ok())
        .expect("EPOCH is a number");
    assert!(
        (epoch - chrono::Utc::now().timestamp()).abs() < 60,
        "{epoch}"
    );
    let ping = wari.get("/ari/asterisk/ping").await.body;
    assert_eq!(value(&wari, "ENTITYID").await, ping["asterisk_id"]);

    // The application subscribed to every channel hears each change (the removal of a
    // variable that had a value too); the other does not.
    set("variable=A&value=").await;
    let reply = wari.post("/ari/events/user/fence?application=one").await;
    assert_eq!(reply.status, 204);
    let first = one.next().await;
    assert_eq!(first["type"], "ChannelUserevent", "{first}");
    let reply = wari.post("/ari/events/user/fence?application=all").await;
    assert_eq!(reply.status, 204);
    let heard: Vec<(Value, Value)> = all
        .until(|e| e["type"] == "ChannelUserevent")
        .await
        .into_iter()
        .filter(|e| e["type"] == "ChannelVarset")
        .map(|e| {
            assert!(e.get("channel").is_none(), "{e}");
            (e["variable"].clone(), e["value"].clone())
        })
        .collect();
    assert_eq!(
        heard,
        [
            (json!("A"), json!("1")),
            (json!("A"), json!("")),
            (json!("G"), json!("2")),
            (json!("A"), json!("")),
        ]
    );
}

#[tokio::test]
async fn ping_modules_logging_and_configuration_answer_in_asterisks_words() {
    let wari = Wari::start_default();
    // Asterisk 23.4.1: {"ping":"pong","timestamp":...,"asterisk_id":...}.
    let ping = wari.get("/ari/asterisk/ping").await.body;
    let keys = key_order(&ping);
    assert_eq!(keys, ["ping", "timestamp", "asterisk_id"]);

    let module = wari.get("/ari/asterisk/modules").await.body[0]["name"]
        .as_str()
        .expect("a module")
        .to_string();
    refused(
        wari.get("/ari/asterisk/modules/nosuch.so").await,
        404,
        "Module could not be found in running modules",
    );
    refused(
        wari.post("/ari/asterisk/modules/nosuch.so").await,
        409,
        "Module load declined",
    );
    refused(
        wari.post(&format!("/ari/asterisk/modules/{module}")).await,
        409,
        "Module is already loaded",
    );
    for method in [reqwest::Method::PUT, reqwest::Method::DELETE] {
        refused(
            wari.ari(method, "/ari/asterisk/modules/nosuch.so").await,
            404,
            "Module not found in running modules",
        );
    }

    refused(
        wari.post("/ari/asterisk/logging/newone").await,
        400,
        "Configuration levels are required",
    );
    refused(
        wari.delete("/ari/asterisk/logging/nolog").await,
        404,
        "Log channel does not exist",
    );

    let config = "/ari/asterisk/config/dynamic";
    for method in [
        reqwest::Method::GET,
        reqwest::Method::PUT,
        reqwest::Method::DELETE,
    ] {
        refused(
            wari.ari(method.clone(), &format!("{config}/nosuch/endpoint/x"))
                .await,
            404,
            "configClass 'nosuch' not found",
        );
        refused(
            wari.ari(method, &format!("{config}/res_ari/bogustype/x"))
                .await,
            404,
            "objectType 'bogustype' not found",
        );
    }
    refused(
        wari.get(&format!("{config}/res_ari/user/nope")).await,
        404,
        "Object with id 'nope' not found",
    );
    refused(
        wari.delete(&format!("{config}/res_ari/user/nope")).await,
        404,
        "Object with id 'nope' not found",
    );
    let general = wari.get(&format!("{config}/res_ari/general/general")).await;
    let attributes: Vec<&Value> = general
        .body
        .as_array()
        .expect("ConfigTuple[]")
        .iter()
        .map(|t| &t["attribute"])
        .collect();
    assert_eq!(
        attributes,
        [
            "websocket_write_timeout",
            "allowed_origins",
            "pretty",
            "auth_realm",
            "channelvars",
            "enabled"
        ]
    );
    // Creating an ARI user over ARI: Asterisk 23.4.1 answers 403 `Cannot create sorcery
    // objects of type 'user'`.
    let fields = json!({"fields": [{"attribute": "password", "value": "x"}]});
    refused(
        wari.ari_with_body(
            reqwest::Method::PUT,
            &format!("{config}/res_ari/user/newuser"),
            Some(fields.clone()),
        )
        .await,
        403,
        "Cannot create sorcery objects of type 'user'",
    );
    refused(
        wari.ari_with_body(
            reqwest::Method::PUT,
            &format!("{config}/res_ari/user/asterisk"),
            Some(fields),
        )
        .await,
        403,
        "Cannot update sorcery objects of type 'user'",
    );
    refused(
        wari.ari(
            reqwest::Method::PUT,
            &format!("{config}/res_ari/user/asterisk"),
        )
        .await,
        400,
        "Fields must be provided to update object 'asterisk'",
    );
    refused(
        wari.ari_with_body(
            reqwest::Method::PUT,
            &format!("{config}/res_ari/user/asterisk"),
            Some(json!({"fields": [{"attribute": "colour", "value": "x"}]})),
        )
        .await,
        400,
        "Update of object 'asterisk' failed field value validation",
    );
    refused(
        wari.delete(&format!("{config}/res_ari/user/asterisk"))
            .await,
        403,
        "Could not delete object with id 'asterisk'",
    );
}

#[tokio::test]
async fn the_dialplan_writes_globals_through_global() {
    let dialplan = "\
[default]
exten => setg,1,Set(GLOBAL(FROM_DIALPLAN)=yes)
 same => n,Set(LOCAL_ONLY=1)
 same => n,Stasis(g)
 same => n,Hangup()
";
    let wari = Wari::with(&[("extensions.conf", dialplan)]);
    let mut ws = EventSocket::connect(&wari, "app=g&api_key=asterisk:secret").await;
    let reply = wari
        .post("/ari/channels?endpoint=Local/setg@default&app=g&channelId=caller")
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    // The ;2 half runs the dialplan and enters the application after the Set()s.
    ws.until(|e| e["type"] == "StasisStart" && e["channel"]["id"] != "caller")
        .await;
    // Asterisk 23.4.1: Set(GLOBAL(X)=v) sets global X, read back over ARI.
    assert_eq!(value(&wari, "FROM_DIALPLAN").await, "yes");
    assert_eq!(value(&wari, "LOCAL_ONLY").await, "");
}
