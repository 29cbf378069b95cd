//! REST over the inbound events WebSocket: `RESTRequest` frames run through the same
//! pipeline as HTTP with the socket's credentials and are answered with `RESTResponse`;
//! malformed frames get 400s and the socket stays open.

use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use tokio::net::TcpStream;
use tokio_tungstenite::MaybeTlsStream;

use crate::ari_ws::{AriSocket, body, request};
use crate::support::{ARI_CONF, HTTP_CONF, Wari};

type Client = AriSocket<MaybeTlsStream<TcpStream>>;

async fn connect(wari: &Wari, query: &str) -> Client {
    let url = format!("ws://{}/ari/events?{query}", wari.addr());
    connect_request(url.into_client_request().expect("request")).await
}

async fn connect_request(
    request: tokio_tungstenite::tungstenite::handshake::client::Request,
) -> Client {
    let (stream, _) = tokio_tungstenite::connect_async(request)
        .await
        .expect("events WebSocket handshake");
    AriSocket::new(stream)
}

#[tokio::test]
async fn requests_over_the_events_socket_control_a_call() {
    let wari = Wari::start_default();
    let mut ws = connect(&wari, "app=hello&api_key=asterisk:secret").await;

    let info = ws
        .rest(request("1", "GET", "asterisk/info?only=system"))
        .await;
    assert_eq!(info["status_code"], 200, "{info}");
    assert_eq!(info["reason_phrase"], "OK");
    assert_eq!(info["uri"], "asterisk/info", "query stripped");
    assert_eq!(info["transaction_id"], "t");
    assert_eq!(info["content_type"], "application/json");
    assert_eq!(info["application"], "hello");
    assert!(info["message_body"].is_string(), "body is a JSON string");
    let over_http = wari.get("/ari/asterisk/info?only=system").await.body;
    assert_eq!(body(&info)["system"], over_http["system"]);

    let mut originate = request("2", "POST", "channels");
    originate["query_strings"] = json!([
        {"name": "endpoint", "value": "Test/alice"},
        {"name": "app", "value": "hello"},
    ]);
    let mut events = Vec::new();
    let created = ws.rest_collecting(originate, &mut events).await;
    assert_eq!(created["status_code"], 200, "{created}");
    let id = body(&created)["id"]
        .as_str()
        .expect("channel id")
        .to_string();
    if !events.iter().any(|e| e["type"] == "StasisStart") {
        let start = ws.next_of("StasisStart").await;
        assert_eq!(start["channel"]["id"], id.as_str());
    }
    let answer = ws
        .rest(request("2a", "POST", &format!("channels/{id}/answer")))
        .await;
    assert_eq!(answer["status_code"], 204, "{answer}");

    let mut json_body = request("3", "POST", &format!("channels/{id}/variable"));
    json_body["content_type"] = json!("application/json");
    json_body["message_body"] = json!(r#"{"variable":"COLOUR","value":"blue"}"#);
    let set = ws.rest(json_body).await;
    assert_eq!(set["status_code"], 204, "{set}");
    assert_eq!(set["reason_phrase"], "No Content");
    assert!(set.get("message_body").is_none() && set.get("content_type").is_none());

    let mut form_body = request("4", "POST", &format!("channels/{id}/variable"));
    form_body["content_type"] = json!("application/x-www-form-urlencoded");
    form_body["message_body"] = json!("variable=SHAPE&value=round");
    assert_eq!(ws.rest(form_body).await["status_code"], 204);
    let got = ws
        .rest(request(
            "5",
            "GET",
            &format!("channels/{id}/variable?variable=SHAPE"),
        ))
        .await;
    assert_eq!(body(&got)["value"], "round", "{got}");

    let mut events = Vec::new();
    let hangup = ws
        .rest_collecting(
            request("6", "DELETE", &format!("channels/{id}")),
            &mut events,
        )
        .await;
    assert_eq!(hangup["status_code"], 204, "{hangup}");
    // The 204 starts the hangup (as in Asterisk, the channel lives on until it is torn
    // down): StasisEnd, then ChannelDestroyed, after which the id is unknown.
    for kind in ["StasisEnd", "ChannelDestroyed"] {
        let seen = events
            .iter()
            .find(|e| e["type"] == kind && e["channel"]["id"] == id.as_str())
            .cloned();
        let event = match seen {
            Some(event) => event,
            None => ws.next_of(kind).await,
        };
        assert_eq!(event["channel"]["id"], id.as_str(), "{event}");
    }
    let missing = ws
        .rest(request("7", "DELETE", &format!("channels/{id}")))
        .await;
    assert_eq!(missing["status_code"], 404, "{missing}");
    assert_eq!(missing["reason_phrase"], "Not Found");
    assert!(body(&missing)["message"].is_string());
    ws.close().await;
}

#[tokio::test]
async fn malformed_frames_are_answered_and_the_socket_stays_open() {
    let wari = Wari::start_default();
    let mut ws = connect(&wari, "app=hello&api_key=asterisk:secret").await;
    // Asterisk 23.4.1 answers a frame that is not JSON with a RESTResponse whose reason
    // phrase carries the message, without content_type or message_body.
    ws.send_text("{not json").await;
    let response = ws.next_of("RESTResponse").await;
    assert_eq!(response["status_code"], 400, "{response}");
    assert_eq!(
        response["reason_phrase"],
        "Failed to parse request message JSON"
    );
    assert!(response.get("message_body").is_none(), "{response}");
    assert!(response.get("content_type").is_none(), "{response}");
    let cases: [(&str, u16, &str); 8] = [
        (r#"["a"]"#, 400, "No 'type' property."),
        (r#"{"request_id":"a"}"#, 400, "No 'type' property."),
        (
            r#"{"type":"Banana","request_id":"b"}"#,
            400,
            "Unknown request type.",
        ),
        (
            r#"{"type":"RESTRequest","request_id":"c","method":"GET"}"#,
            400,
            "Empty or missing 'uri' property.",
        ),
        (
            r#"{"type":"RESTRequest","request_id":"d","uri":"asterisk/info"}"#,
            400,
            "Unknown or missing 'method' property.",
        ),
        // A leading slash makes an empty first segment: the root, which has no GET.
        (
            r#"{"type":"RESTRequest","request_id":"e","uri":"/asterisk/info","method":"GET"}"#,
            405,
            "Invalid method",
        ),
        (
            r#"{"type":"RESTRequest","request_id":"f","uri":"events?app=x","method":"GET"}"#,
            400,
            "Can't upgrade to websocket from a websocket",
        ),
        (
            r#"{"type":"RESTRequest","request_id":"g","uri":"asterisk/info","method":"POST","message_body":"{}"}"#,
            400,
            "No 'content_type' for 'message_body'.",
        ),
    ];
    for (frame, status, message) in cases {
        ws.send_text(frame).await;
        let response = ws.next_of("RESTResponse").await;
        assert_eq!(response["status_code"], status, "{frame}: {response}");
        assert_eq!(body(&response)["message"], message, "{frame}");
        let sent: Value = serde_json::from_str(frame).unwrap_or(Value::Null);
        let echoed = sent["request_id"].as_str().unwrap_or_default();
        assert_eq!(response["request_id"], echoed, "{frame}");
        if status == 400 && message != "Can't upgrade to websocket from a websocket" {
            assert_eq!(response["reason_phrase"], "Bad request");
        }
    }
    let info = ws.rest(request("ok", "GET", "asterisk/info")).await;
    assert_eq!(info["status_code"], 200, "socket still serves requests");
    ws.close().await;
}

#[tokio::test]
async fn a_read_only_socket_stays_read_only() {
    let wari = Wari::start_default();
    // api_key on the upgrade URL.
    let mut ws = connect(&wari, "app=peek&api_key=viewer:look").await;
    let read = ws.rest(request("r", "GET", "channels")).await;
    assert_eq!(read["status_code"], 200, "{read}");
    let mut write = request("w", "POST", "channels");
    write["query_strings"] =
        json!([{"name": "endpoint", "value": "Test/x"}, {"name": "app", "value": "peek"}]);
    let refused = ws.rest(write.clone()).await;
    assert_eq!(refused["status_code"], 403, "{refused}");
    assert_eq!(body(&refused)["message"], "Write access denied");
    ws.close().await;

    // Basic credentials on the upgrade request.
    let mut upgrade = format!("ws://{}/ari/events?app=peek2", wari.addr())
        .into_client_request()
        .expect("request");
    upgrade.headers_mut().insert(
        "Authorization",
        "Basic dmlld2VyOmxvb2s=".parse().expect("header"), // viewer:look
    );
    let mut ws = connect_request(upgrade).await;
    let refused = ws.rest(write).await;
    assert_eq!(refused["status_code"], 403, "{refused}");
    let read = ws.rest(request("r2", "GET", "applications/peek2")).await;
    assert_eq!(read["status_code"], 200, "{read}");
    assert_eq!(body(&read)["name"], "peek2");
    ws.close().await;
    let channels = wari.get("/ari/channels").await.body;
    assert_eq!(channels, json!([]), "no channel was created");
}

#[tokio::test]
async fn unsolicited_pongs_and_binary_frames_are_ignored() {
    use futures_util::SinkExt;
    use tokio_tungstenite::tungstenite::Message;
    let wari = Wari::start_default();
    let mut ws = connect(&wari, "app=hello&api_key=asterisk:secret").await;
    ws.stream
        .send(Message::Pong(b"unasked".to_vec().into()))
        .await
        .expect("send pong");
    ws.stream
        .send(Message::Binary(b"\x00\x01".to_vec().into()))
        .await
        .expect("send binary");
    let info = ws.rest(request("after", "GET", "asterisk/ping")).await;
    assert_eq!(info["status_code"], 200, "{info}");
    ws.close().await;
}

#[tokio::test]
async fn frames_are_read_as_asterisk_reads_them() {
    let wari = Wari::start_default();
    let mut ws = connect(&wari, "app=frames&api_key=asterisk:secret").await;
    // Asterisk 23.4.1: a frame that is JSON but not an object or an array is as unparsable
    // as one that is not JSON.
    for frame in ["\"str\"", "null", "5"] {
        ws.send_text(frame).await;
        let response = ws.next_of("RESTResponse").await;
        assert_eq!(
            response["reason_phrase"], "Failed to parse request message JSON",
            "{frame}"
        );
        assert!(response.get("message_body").is_none(), "{frame}");
    }
    // Ids that are not strings are echoed as ""; a `type` that is not a string is no type;
    // `query_strings` that are not an array and a `message_body` that is not a string are
    // ignored (Asterisk answers these as if they were absent).
    ws.send_text(r#"{"type":"RESTRequest","transaction_id":5,"request_id":{"a":1},"method":"GET","uri":"asterisk/ping"}"#)
        .await;
    let response = ws.next_of("RESTResponse").await;
    assert_eq!(response["status_code"], 200, "{response}");
    assert_eq!(response["transaction_id"], "");
    assert_eq!(response["request_id"], "");
    ws.send_text(r#"{"type":5,"request_id":"t5","method":"GET","uri":"asterisk/ping"}"#)
        .await;
    let response = ws.next_of("RESTResponse").await;
    assert_eq!(body(&response)["message"], "No 'type' property.");
    let mut frame = request("q", "GET", "asterisk/info");
    frame["query_strings"] = json!({"only": "build"});
    let response = ws.rest(frame).await;
    assert_eq!(response["status_code"], 200, "{response}");
    assert!(
        body(&response)["system"].is_object(),
        "all sections: {response}"
    );
    let mut frame = request("b", "POST", "asterisk/variable");
    frame["content_type"] = json!("application/json");
    frame["message_body"] = json!({"variable": "X", "value": "1"});
    let response = ws.rest(frame).await;
    assert_eq!(response["status_code"], 400, "{response}");
    assert_eq!(body(&response)["message"], "Variable name is required");
    // A JSON message_body must be an object or an array.
    let mut frame = request("n", "POST", "asterisk/variable");
    frame["content_type"] = json!("application/json");
    frame["message_body"] = json!("null");
    let response = ws.rest(frame).await;
    assert_eq!(
        body(&response)["message"],
        "Unable to parse 'message_body' as 'application/json'."
    );
    // The root over the socket: `/` is the slash message, `/channels` the root's 405.
    let response = ws.rest(request("r", "GET", "/")).await;
    assert_eq!(response["status_code"], 404);
    assert_eq!(
        body(&response)["message"],
        "ARI URLs do not end with a slash. Try /ari/"
    );
    let response = ws.rest(request("c", "GET", "/channels")).await;
    assert_eq!(response["status_code"], 405);
    assert_eq!(response["reason_phrase"], "Method Not Allowed");
    assert_eq!(body(&response)["message"], "Invalid method");
    // API documents carry Asterisk's header keys over the socket too.
    let response = ws
        .rest(request("d", "GET", "api-docs/resources.json"))
        .await;
    let docs = body(&response);
    for key in ["_copyright", "_author", "_svn_revision"] {
        assert!(docs[key].is_string(), "{key}: {response}");
    }
    // Asterisk 23.4.1's listing says ARI 11.0.0, and its basePath names the Host of the
    // socket's upgrade request.
    assert_eq!(docs["apiVersion"], "11.0.0");
    assert_eq!(docs["basePath"], format!("http://{}/ari", wari.addr()));
    ws.close().await;
}

/// Attack (issue 14, item 10): a frame carried `api_key` of a user whose ACL never allows
/// this address, and wrote a global variable as that user; and frames of many megabytes were
/// read whole. Every frame now runs as the socket's own user (under its ACL), its body is held
/// to HTTP's 40 kB, and a message larger than Asterisk's 64 KiB frame closes the socket.
#[tokio::test]
async fn frames_run_as_the_socket_user_within_http_limits() {
    let ari = format!(
        "{ARI_CONF}\n[officeonly]\ntype = user\npassword = officepw\ndeny = 0.0.0.0/0.0.0.0\n\
         permit = 10.9.9.9/255.255.255.255\n"
    );
    let wari = Wari::with(&[("ari.conf", &ari)]);
    let global = |wari: &Wari| {
        let url = wari.url("/ari/asterisk/variable?variable=ACL_BYPASS");
        async move {
            let reply: Value = crate::support::client()
                .get(url)
                .basic_auth("asterisk", Some("secret"))
                .send()
                .await
                .expect("GET variable")
                .json()
                .await
                .expect("JSON");
            reply["value"].clone()
        }
    };

    // The user whose key is in the frame may not connect from here at all.
    let over_http = crate::support::client()
        .post(wari.url("/ari/asterisk/variable?variable=ACL_BYPASS&value=http"))
        .basic_auth("officeonly", Some("officepw"))
        .send()
        .await
        .expect("POST");
    assert_eq!(over_http.status(), 403);

    let mut viewer = connect(&wari, "app=peek&api_key=viewer:look").await;
    for (id, uri) in [
        (
            "k1",
            "asterisk/variable?variable=ACL_BYPASS&value=x&api_key=officeonly:officepw",
        ),
        (
            "k2",
            "asterisk/variable?variable=ACL_BYPASS&value=x&api_key=asterisk:secret",
        ),
    ] {
        let reply = viewer.rest(request(id, "POST", uri)).await;
        assert_eq!(reply["status_code"], 403, "{id}: {reply}");
        assert_eq!(body(&reply)["message"], "Write access denied", "{id}");
    }
    let mut in_query_strings = request("k3", "POST", "asterisk/variable");
    in_query_strings["query_strings"] = json!([
        {"name": "variable", "value": "ACL_BYPASS"},
        {"name": "value", "value": "x"},
        {"name": "api_key", "value": "officeonly:officepw"},
    ]);
    assert_eq!(viewer.rest(in_query_strings).await["status_code"], 403);
    assert_eq!(global(&wari).await, "", "no frame wrote the variable");
    // The socket's own user still reads.
    let info = viewer.rest(request("r", "GET", "asterisk/info")).await;
    assert_eq!(info["status_code"], 200, "{info}");

    // A body HTTP would refuse is refused in a frame too; the socket stays usable.
    let mut writer = connect(&wari, "app=writer&api_key=asterisk:secret").await;
    let mut big = request("b1", "POST", "asterisk/variable");
    big["content_type"] = json!("application/json");
    big["message_body"] =
        json!(json!({"variable": "ACL_BYPASS", "value": "v".repeat(50_000)}).to_string());
    let reply = writer.rest(big).await;
    assert_eq!(reply["status_code"], 413, "{reply}");
    assert_eq!(body(&reply)["message"], "Request body too large");
    assert_eq!(global(&wari).await, "");
    let mut fine = request("b2", "POST", "asterisk/variable");
    fine["query_strings"] = json!([
        {"name": "variable", "value": "ACL_BYPASS"},
        {"name": "value", "value": "legit"},
    ]);
    assert_eq!(writer.rest(fine).await["status_code"], 204);
    assert_eq!(global(&wari).await, "legit");

    // A message beyond the frame limit is not read: the socket closes (1009).
    let mut huge = request("b3", "POST", "asterisk/variable");
    huge["content_type"] = json!("application/json");
    huge["message_body"] = json!("x".repeat(1024 * 1024));
    writer.send_text(&huge.to_string()).await;
    let close = tokio::time::timeout(crate::support::EVENT_TIMEOUT, async {
        use futures_util::StreamExt;
        use tokio_tungstenite::tungstenite::Message;
        for _ in 0..crate::support::EVENT_BUDGET {
            match writer.stream.next().await {
                Some(Ok(Message::Close(frame))) => return frame,
                Some(Ok(Message::Text(text))) => {
                    assert!(!text.contains("\"b3\""), "never answered: {text}")
                }
                None | Some(Err(_)) => return None,
                Some(Ok(_)) => {}
            }
        }
        None
    })
    .await
    .expect("the socket closes");
    let code = close.map(|f| u16::from(f.code));
    assert_eq!(code, Some(1009), "closed as 'message too big'");
    assert_eq!(global(&wari).await, "legit");
    // Other sockets are unaffected.
    let info = viewer.rest(request("r2", "GET", "asterisk/info")).await;
    assert_eq!(info["status_code"], 200, "{info}");
}

/// http.conf restrictions hold for frames as for HTTP: a socket opened from an address a
/// restriction refuses cannot reach the restricted path through a `RESTRequest`.
#[tokio::test]
async fn frames_meet_http_restrictions() {
    let http = format!(
        "{HTTP_CONF}\n[/ari/asterisk/variable]\ntype = restriction\ndeny = 0.0.0.0/0\npermit = 127.0.0.1\n"
    );
    let wari = Wari::with(&[("http.conf", &http)]);
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket
        .bind("127.0.0.2:0".parse().expect("address"))
        .expect("bind 127.0.0.2");
    let stream = socket.connect(wari.addr()).await.expect("connect");
    let url = format!(
        "ws://{}/ari/events?app=far&api_key=asterisk:secret",
        wari.addr()
    );
    let (stream, _) = tokio_tungstenite::client_async(url, MaybeTlsStream::Plain(stream))
        .await
        .expect("handshake");
    let mut far = AriSocket::new(stream);
    let mut set = request("v", "POST", "asterisk/%76ariable");
    set["query_strings"] = json!([
        {"name": "variable", "value": "FAR"},
        {"name": "value", "value": "x"},
    ]);
    let reply = far.rest(set.clone()).await;
    assert_eq!(reply["status_code"], 403, "{reply}");
    assert_eq!(body(&reply)["message"], "Access denied by ACL");
    let info = far.rest(request("i", "GET", "asterisk/info")).await;
    assert_eq!(
        info["status_code"], 200,
        "unrestricted paths still work: {info}"
    );

    let mut near = connect(&wari, "app=near&api_key=asterisk:secret").await;
    assert_eq!(near.rest(set).await["status_code"], 204, "from 127.0.0.1");
}
