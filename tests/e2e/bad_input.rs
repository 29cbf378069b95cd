//! Requests wari must refuse, and how: the documented status with a `{"message": ...}` body,
//! a log line about it, and a server that keeps serving. Also bad configuration values
//! (logged with file:line, the server still starts) and the `/asterisk` resource's own
//! error cases.
//!
//! The refused requests that differ only in method, target and body are rows of a table
//! ([`Case`]) that one loop ([`refuse_all`]) sends and checks, each row's name in its
//! failure messages.
//!
//! Integer parameters that are not integers are refused (a conscious difference from
//! Asterisk, which reads them as 0).

use std::future::Future;

use base64::Engine;
use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use reqwest::{Method, RequestBuilder, StatusCode};
use serde_json::{Value, json};

use crate::support::{Reply, Wari, client, raw_body, raw_request, raw_status, send};

const USER: &str = "asterisk";
const PASSWORD: &str = "secret";
/// Largest body ARI accepts (ari-transport.md §1 "Bodies").
const MAX_BODY: usize = 40960;

fn authed(request: RequestBuilder) -> RequestBuilder {
    request.basic_auth(USER, Some(PASSWORD))
}

fn basic(credentials: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(credentials)
}

/// Sends `METHOD target HTTP/1.1` with `headers` (Host and `Connection: close` added) and
/// `body` over a fresh connection, byte for byte as given.
fn raw(wari: &Wari, method: &str, target: &str, headers: &[String], body: &[u8]) -> Reply {
    let mut request = format!(
        "{method} {target} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n",
        wari.addr()
    );
    for header in headers {
        request.push_str(header);
        request.push_str("\r\n");
    }
    request.push_str("\r\n");
    let mut bytes = request.into_bytes();
    bytes.extend_from_slice(body);
    let text = raw_request(wari.addr(), &bytes);
    let head = text.split("\r\n\r\n").next().unwrap_or("");
    let mut reply_headers = HeaderMap::new();
    for (name, value) in head.lines().skip(1).filter_map(|l| l.split_once(':')) {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.trim().as_bytes()),
            HeaderValue::from_str(value.trim()),
        ) {
            reply_headers.append(name, value);
        }
    }
    let body = raw_body(&text).to_string();
    Reply {
        status: StatusCode::from_u16(raw_status(&text)).expect("a status code"),
        headers: reply_headers,
        body: serde_json::from_str(&body).unwrap_or(Value::Null),
        text: body,
    }
}

fn auth_header() -> String {
    format!(
        "Authorization: Basic {}",
        basic(&format!("{USER}:{PASSWORD}"))
    )
}

/// Lines of `log` containing every needle (case-insensitively).
fn count_lines(log: &str, needles: &[&str]) -> usize {
    let needles: Vec<String> = needles.iter().map(|n| n.to_lowercase()).collect();
    log.lines()
        .map(str::to_lowercase)
        .filter(|line| needles.iter().all(|n| line.contains(n.as_str())))
        .count()
}

/// Lines of wari's log so far containing every needle (case-insensitively).
fn log_lines_with(wari: &Wari, needles: &[&str]) -> usize {
    count_lines(&wari.log(), needles)
}

async fn assert_still_up(wari: &Wari, after: &str) {
    let reply = send(authed(client().get(wari.url("/ari/asterisk/ping")))).await;
    assert_eq!(reply.status, 200, "ping after {after}: {reply:?}");
    assert_eq!(reply.body["ping"], "pong", "ping after {after}");
}

/// Runs one request that must be refused and checks everything a user sees: the status, a
/// body that is exactly `{"message": <text>}` (equal to `message` when given), a new log line
/// naming `path` and the message, and a server still answering pings.
async fn expect_refused(
    wari: &Wari,
    what: &str,
    request: impl Future<Output = Reply>,
    status: u16,
    message: Option<&str>,
    path: &str,
) -> Reply {
    let log_before = wari.log();
    let reply = request.await;
    assert_eq!(reply.status, status, "{what}: {reply:?}");
    let text = reply
        .message()
        .unwrap_or_else(|| panic!("{what}: body is not {{\"message\": ...}}: {reply:?}"));
    assert!(!text.is_empty(), "{what}: empty message");
    assert_eq!(
        reply.body.as_object().map(|o| o.len()),
        Some(1),
        "{what}: the error body has only `message`: {}",
        reply.body
    );
    assert_eq!(
        reply.header("content-type"),
        Some("application/json"),
        "{what}"
    );
    if let Some(expected) = message {
        assert_eq!(text, expected, "{what}");
    }
    let needles = [path, text];
    let before = count_lines(&log_before, &needles);
    assert!(
        log_lines_with(wari, &needles) > before,
        "{what}: no new log line with {needles:?}; log:\n{}",
        wari.log()
    );
    assert_still_up(wari, what).await;
    reply
}

/// The body of a [`Case`].
enum Body {
    None,
    /// A content type and text.
    Text(&'static str, String),
    Json(Value),
}

/// One request that must be refused: a row of a test's table, sent and checked by
/// [`refuse_all`].
struct Case {
    /// Names the row in failure messages.
    name: String,
    method: Method,
    /// Path and query under `/ari`; its path is what the log line must name.
    target: String,
    /// The test user's credentials (`Basic`) unless `false`.
    authed: bool,
    /// Extra request headers.
    headers: Vec<(&'static str, String)>,
    body: Body,
    status: u16,
    /// The exact message, when the row pins it.
    message: Option<&'static str>,
    /// A header the answer must carry (name, value).
    answer_header: Option<(&'static str, &'static str)>,
}

/// A row: `method` on `/ari{target}` as the test user, refused with `status` (and `message`
/// when given).
fn case(
    name: impl Into<String>,
    method: Method,
    target: impl Into<String>,
    status: u16,
    message: Option<&'static str>,
) -> Case {
    Case {
        name: name.into(),
        method,
        target: target.into(),
        authed: true,
        headers: Vec::new(),
        body: Body::None,
        status,
        message,
        answer_header: None,
    }
}

impl Case {
    /// Without the test user's credentials.
    fn anonymous(mut self) -> Case {
        self.authed = false;
        self
    }

    /// With an extra header.
    fn header(mut self, name: &'static str, value: impl Into<String>) -> Case {
        self.headers.push((name, value.into()));
        self
    }

    /// With `text` as the body, of `content_type`.
    fn text(mut self, content_type: &'static str, text: impl Into<String>) -> Case {
        self.body = Body::Text(content_type, text.into());
        self
    }

    /// The answer must carry header `name` with `value`.
    fn answers_header(mut self, name: &'static str, value: &'static str) -> Case {
        self.answer_header = Some((name, value));
        self
    }

    /// With a JSON body.
    fn json(mut self, value: Value) -> Case {
        self.body = Body::Json(value);
        self
    }

    fn request(&self, wari: &Wari) -> RequestBuilder {
        let mut request = client().request(
            self.method.clone(),
            wari.url(&format!("/ari{}", self.target)),
        );
        if self.authed {
            request = authed(request);
        }
        for (name, value) in &self.headers {
            request = request.header(*name, value.as_str());
        }
        match &self.body {
            Body::None => request,
            Body::Text(content_type, text) => request
                .header(CONTENT_TYPE, *content_type)
                .body(text.clone()),
            Body::Json(value) => request.json(value),
        }
    }
}

/// Sends every row of `cases` and checks it with [`expect_refused`] (the log line naming
/// the row's path) and its `answer_header`; the replies, in the rows' order.
async fn refuse_all(wari: &Wari, cases: &[Case]) -> Vec<Reply> {
    let mut replies = Vec::with_capacity(cases.len());
    for case in cases {
        let path = case.target.split('?').next().unwrap_or_default();
        let reply = expect_refused(
            wari,
            &case.name,
            send(case.request(wari)),
            case.status,
            case.message,
            path,
        )
        .await;
        if let Some((name, value)) = case.answer_header {
            assert_eq!(reply.header(name), Some(value), "{}", case.name);
        }
        replies.push(reply);
    }
    replies
}

#[tokio::test]
async fn malformed_authorization_headers_are_ignored_and_refused() {
    let wari = Wari::start_default();
    let url = wari.url("/ari/asterisk/ping");
    let malformed = |what: &str, header: String| {
        case(
            what,
            Method::GET,
            "/asterisk/ping",
            401,
            Some("Authentication required"),
        )
        .anonymous()
        .header("authorization", header)
        .answers_header(
            "www-authenticate",
            "Basic realm=\"Asterisk REST Interface\"",
        )
    };
    let cases = [
        malformed("not base64", "Basic !!!".to_string()),
        malformed("no colon", format!("Basic {}", basic("asterisksecret"))),
        malformed("not Basic", format!("Bearer {}", basic("asterisk:secret"))),
        malformed("no payload", "Basic".to_string()),
    ];
    for case in &cases {
        refuse_all(&wari, std::slice::from_ref(case)).await;
        // The log also says why the header did not count.
        let ignored = log_lines_with(&wari, &["authorization header ignored"]);
        assert!(ignored > 0, "{}: log:\n{}", case.name, wari.log());
    }
    assert_eq!(
        log_lines_with(&wari, &["authorization header ignored"]),
        4,
        "one line per malformed header: {}",
        wari.log()
    );
    // A malformed header counts as no header: a valid api_key still authenticates.
    let reply = send(
        client()
            .get(format!("{url}?api_key={USER}:{PASSWORD}"))
            .header("authorization", "Basic !!!"),
    )
    .await;
    assert_eq!(reply.status, 200, "{reply:?}");
}

#[tokio::test]
async fn bodies_over_the_limit_get_413_with_or_without_content_length() {
    let wari = Wari::start_default();
    let target = "/ari/asterisk/variable?variable=BIG&value=1";

    let over = vec![b' '; MAX_BODY + 1];
    // Chunked: no length up front; the limit applies while reading.
    let mut chunked = Vec::new();
    for _ in 0..11 {
        chunked.extend_from_slice(b"1000\r\n");
        chunked.extend_from_slice(&[b' '; 0x1000]);
        chunked.extend_from_slice(b"\r\n");
    }
    chunked.extend_from_slice(b"0\r\n\r\n");
    let json = "Content-Type: application/json".to_string();
    let too_large: [(&str, Vec<String>, &[u8]); 4] = [
        // Declared too large: refused at once, without waiting for the body.
        (
            "Content-Length over the limit, body not sent",
            vec![
                auth_header(),
                json.clone(),
                format!("Content-Length: {}", MAX_BODY * 2),
            ],
            b"",
        ),
        (
            "Content-Length one byte over",
            vec![
                auth_header(),
                json.clone(),
                format!("Content-Length: {}", over.len()),
            ],
            &over,
        ),
        (
            "chunked body over the limit",
            vec![
                auth_header(),
                json.clone(),
                "Transfer-Encoding: chunked".to_string(),
            ],
            &chunked,
        ),
        // Body problems come before authentication.
        (
            "too large without credentials",
            vec![json.clone(), format!("Content-Length: {}", MAX_BODY * 2)],
            b"",
        ),
    ];
    for (what, headers, body) in &too_large {
        expect_refused(
            &wari,
            what,
            async { raw(&wari, "POST", target, headers, body) },
            413,
            Some("Request body too large"),
            "/asterisk/variable",
        )
        .await;
    }
    let headers = &too_large[2].1;
    // Nothing was set by the refused requests.
    let reply = send(authed(
        client().get(wari.url("/ari/asterisk/variable?variable=BIG")),
    ))
    .await;
    assert_eq!(reply.body, json!({"value": ""}));

    // A body that is neither JSON nor a form is not read, whatever its size: Asterisk 23.4.1
    // answers 401 without credentials and 204 with them.
    let unread = |auth: bool| {
        let mut headers = vec![
            "Content-Type: text/plain".to_string(),
            format!("Content-Length: {}", MAX_BODY * 2),
        ];
        if auth {
            headers.push(auth_header());
        }
        raw(
            &wari,
            "POST",
            "/ari/asterisk/variable?variable=UNREAD&value=1",
            &headers,
            &vec![b'x'; MAX_BODY * 2],
        )
    };
    assert_eq!(unread(false).status, 401);
    assert_eq!(unread(true).status, 204);

    // Exactly at the limit is fine, chunked or not.
    let value = "v".repeat(MAX_BODY - r#"{"variable":"BIG","value":""}"#.len());
    let exact = format!(r#"{{"variable":"BIG","value":"{value}"}}"#);
    assert_eq!(exact.len(), MAX_BODY);
    let reply = send(authed(
        client()
            .post(wari.url("/ari/asterisk/variable"))
            .header(CONTENT_TYPE, "application/json")
            .body(exact.clone()),
    ))
    .await;
    assert_eq!(reply.status, 204, "{reply:?}");
    let reply = send(authed(
        client().get(wari.url("/ari/asterisk/variable?variable=BIG")),
    ))
    .await;
    assert_eq!(
        reply.body["value"].as_str().map(str::len),
        Some(value.len())
    );

    let small = br#"{"variable":"CHUNKED","value":"yes"}"#;
    let mut chunked = format!("{:x}\r\n", small.len()).into_bytes();
    chunked.extend_from_slice(small);
    chunked.extend_from_slice(b"\r\n0\r\n\r\n");
    let reply = raw(&wari, "POST", "/ari/asterisk/variable", headers, &chunked);
    assert_eq!(reply.status, 204, "{reply:?}");
    let reply = send(authed(
        client().get(wari.url("/ari/asterisk/variable?variable=CHUNKED")),
    ))
    .await;
    assert_eq!(reply.body, json!({"value": "yes"}));
}

#[tokio::test]
async fn json_bodies_invalid_refused_arrays_and_empty_accepted() {
    let wari = Wari::start_default();
    let url = wari.url("/ari/asterisk/variable?variable=X&value=1");
    let target = "/asterisk/variable?variable=X&value=1";
    let unparsable = |what: &str, content_type: &'static str, body: &str| {
        case(
            what,
            Method::POST,
            target,
            400,
            Some("Error parsing request body"),
        )
        .text(content_type, body)
    };
    let json = "application/json";
    // Asterisk 23.4.1 reads only an object or an array at the top of a JSON body: a scalar,
    // null or a body of blanks is "Error parsing request body" too.
    refuse_all(
        &wari,
        &[
            unparsable("truncated object", json, "{\"variable\":"),
            unparsable("not JSON at all", json, "variable=X"),
            unparsable("trailing garbage", json, "{} {"),
            unparsable("JSON string", json, "\"x\""),
            unparsable("JSON null", json, "null"),
            unparsable("JSON number", json, "5"),
            unparsable("only blanks", json, "  "),
            // Parameters after `;` do not change that it is JSON.
            unparsable(
                "charset parameter",
                "Application/JSON; charset=utf-8",
                "{oops",
            ),
            // Reported before authentication.
            unparsable("invalid JSON without credentials", json, "{oops").anonymous(),
        ],
    )
    .await;
    // Not JSON content: the body is not parsed.
    let reply = send(authed(
        client()
            .post(&url)
            .header(CONTENT_TYPE, "text/plain")
            .body("{oops"),
    ))
    .await;
    assert_eq!(reply.status, 204, "text/plain body is ignored: {reply:?}");

    for (what, body) in [("JSON array", "[1, 2, 3]"), ("empty body", "")] {
        let reply = send(authed(
            client()
                .post(&url)
                .header(CONTENT_TYPE, "application/json")
                .body(body),
        ))
        .await;
        assert_eq!(reply.status, 204, "{what}: {reply:?}");
        assert_eq!(reply.body, Value::Null, "{what}: 204 has no body");
    }
    let reply = send(authed(
        client().get(wari.url("/ari/asterisk/variable?variable=X")),
    ))
    .await;
    assert_eq!(reply.body, json!({"value": "1"}));
}

#[tokio::test]
async fn percent_signs_that_are_not_escapes_are_kept_as_sent() {
    let wari = Wari::start_default();
    let auth = [auth_header()];
    // Asterisk 23.4.1 decodes `%` followed by two hex digits and keeps any other `%`: the
    // unknown modules are 404 "Module could not be found in running modules", the variable
    // named `%zz` is unset (200), and `vari%g1ble` is no `variable` parameter (400).
    for target in [
        "/ari/asterisk/modules/%zz",
        "/ari/asterisk/modules/abc%4",
        "/ari/asterisk/modules/%ff%fe",
    ] {
        let reply = raw(&wari, "GET", target, &auth, b"");
        assert_eq!(reply.status, 404, "{target}: {reply:?}");
        assert_eq!(
            reply.message(),
            Some("Module could not be found in running modules"),
            "{target}"
        );
    }
    let reply = raw(
        &wari,
        "GET",
        "/ari/asterisk/variable?variable=%zz",
        &auth,
        b"",
    );
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply.body, json!({"value": ""}));
    expect_refused(
        &wari,
        "a query name that does not decode",
        async {
            raw(
                &wari,
                "GET",
                "/ari/asterisk/variable?vari%g1ble=A",
                &auth,
                b"",
            )
        },
        400,
        Some("Variable name is required"),
        "/asterisk/variable",
    )
    .await;
    // Well-formed escapes are decoded per segment: %2F does not split the path.
    let reply = raw(
        &wari,
        "GET",
        "/ari/asterisk/modules/wari%5Fcore",
        &auth,
        b"",
    );
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply.body["name"], "wari_core");
    let reply = raw(
        &wari,
        "GET",
        "/ari/asterisk/modules/wari%2Fcore",
        &auth,
        b"",
    );
    assert_eq!(reply.status, 404, "{reply:?}");
    assert_ne!(
        reply.message(),
        Some("Resource not found"),
        "one segment, an unknown module"
    );
}

#[tokio::test]
async fn routing_errors_have_their_documented_messages() {
    let wari = Wari::start_default();
    let not_found =
        |path: &'static str| case(path, Method::GET, path, 404, Some("Resource not found"));
    let invalid_method = |method: Method, path: &'static str, allow: &'static str| {
        case(
            format!("{method} {path}"),
            method,
            path,
            405,
            Some("Invalid method"),
        )
        .answers_header("allow", allow)
    };
    refuse_all(
        &wari,
        &[
            case(
                "trailing slash",
                Method::GET,
                "/asterisk/info/",
                404,
                Some("ARI URLs do not end with a slash. Try /ari/asterisk/info"),
            ),
            case(
                "trailing slash on a variable path",
                Method::GET,
                "/asterisk/modules/x/",
                404,
                Some("ARI URLs do not end with a slash. Try /ari/asterisk/modules/x"),
            ),
            not_found("/no/such/thing"),
            not_found("/asterisk/nothing"),
            not_found("/asterisk/info/more"),
            invalid_method(Method::DELETE, "/asterisk/ping", "OPTIONS,GET"),
            invalid_method(Method::POST, "/asterisk/info", "OPTIONS,GET"),
            invalid_method(Method::PATCH, "/asterisk/variable", "OPTIONS,GET,POST"),
            invalid_method(
                Method::GET,
                "/asterisk/logging/console/rotate",
                "OPTIONS,PUT",
            ),
        ],
    )
    .await;

    // Every declared operation has a handler now, so no request can reach the pipeline's
    // "501 Method not implemented" for a declared operation without one.

    // Asterisk 23.4.1: the WebSocket layer's bare 426 page.
    let reply = send(authed(client().get(wari.url("/ari/events?app=demo")))).await;
    assert_eq!(reply.status, 426, "{reply:?}");
    assert_eq!(reply.header("content-type"), Some("text/html"), "{reply:?}");
}

#[tokio::test]
async fn list_parameters_are_limited_to_127_values() {
    let wari = Wari::start_default();
    let many = |n: usize| vec!["system"; n].join(",");
    let too_many = Some("Too many values for only");
    refuse_all(
        &wari,
        &[
            case(
                "128 values",
                Method::GET,
                format!("/asterisk/info?only={}", many(128)),
                400,
                too_many,
            ),
            case(
                "128 values in a JSON body",
                Method::GET,
                "/asterisk/info",
                400,
                too_many,
            )
            .json(json!({ "only": vec!["system"; 128] })),
        ],
    )
    .await;
    let reply = send(authed(
        client().get(wari.url(&format!("/ari/asterisk/info?only={}", many(127)))),
    ))
    .await;
    assert_eq!(reply.status, 200, "127 values are fine: {reply:?}");
    assert_eq!(reply.body.as_object().map(|o| o.len()), Some(1));
    assert!(reply.body.get("system").is_some());
}

#[tokio::test]
async fn bad_config_values_are_logged_and_the_server_still_serves() {
    let http = "[general]\nenabled = yes\nbindaddr = 127.0.0.1:0\nbindport = 99999\nsessionlimit = lots\nsession_inactivity = soon\n";
    let ari = "[general]\nenabled = yes\npretty = maybe\n\n\
               [asterisk]\ntype = user\npassword = secret\n\n\
               [nopass]\ntype = user\nread_only = yes\n\n\
               [sloppy]\ntype = user\npassword = sloppy\nread_only = sometimes\n";
    let wari = Wari::start(&[("http.conf", http), ("ari.conf", ari)]);
    let dir = wari.config_dir().to_path_buf();
    let http_conf = dir.join("http.conf").display().to_string();
    let ari_conf = dir.join("ari.conf").display().to_string();
    let log = wari.log();
    for (file, line, option) in [
        (&http_conf, 4, "bindport"),
        (&http_conf, 5, "sessionlimit"),
        (&http_conf, 6, "session_inactivity"),
        (&ari_conf, 3, "pretty"),
        (&ari_conf, 9, "password"),
        (&ari_conf, 16, "read_only"),
    ] {
        let place = format!("{file}:{line}:");
        assert!(
            log.lines()
                .any(|l| l.contains(&place) && l.contains(option) && l.contains("error")),
            "expected an error at {place} naming {option}; log:\n{log}"
        );
    }

    // Still serving, with the defaults in place of the bad values: compact JSON.
    let response = authed(client().get(wari.url("/ari/asterisk/ping")))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status().as_u16(), 200);
    let text = response.text().await.expect("body");
    assert!(
        !text.contains('\n') && !text.contains(": "),
        "pretty = maybe must not turn pretty printing on: {text}"
    );
    // Invalid users do not exist.
    for (user, password) in [("nopass", ""), ("nopass", "anything"), ("sloppy", "sloppy")] {
        let reply = send(
            client()
                .get(wari.url("/ari/asterisk/ping"))
                .basic_auth(user, Some(password)),
        )
        .await;
        assert_eq!(reply.status, 401, "{user}:{password}");
        let reply =
            send(client().get(wari.url(&format!("/ari/asterisk/ping?api_key={user}:{password}"))))
                .await;
        assert_eq!(reply.status, 401, "api_key {user}:{password}");
    }
    let banner = wari.banner.join("\n");
    assert!(
        !banner.contains("nopass") && !banner.contains("sloppy"),
        "{banner}"
    );
}

#[tokio::test]
async fn global_variables_via_query_json_and_form() {
    let wari = Wari::start_default();
    let get = |name: &str| {
        send(authed(client().get(
            wari.url(&format!("/ari/asterisk/variable?variable={name}")),
        )))
    };

    refuse_all(
        &wari,
        &[
            case("no variable", Method::GET, "/asterisk/variable", 400, None),
            case(
                "empty variable",
                Method::GET,
                "/asterisk/variable?variable=",
                400,
                None,
            ),
            case(
                "set without variable",
                Method::POST,
                "/asterisk/variable?value=1",
                400,
                None,
            ),
        ],
    )
    .await;
    // Unset reads as empty.
    let reply = get("A").await;
    assert_eq!(reply.parts(), (200, json!({"value": ""})));

    // JSON body.
    let reply = send(authed(
        client()
            .post(wari.url("/ari/asterisk/variable"))
            .json(&json!({"variable": "A", "value": "b"})),
    ))
    .await;
    assert_eq!(reply.status, 204, "{reply:?}");
    assert_eq!(get("A").await.body, json!({"value": "b"}));

    // Form body.
    let reply = send(authed(
        client()
            .post(wari.url("/ari/asterisk/variable"))
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body("variable=F&value=from+form%21"),
    ))
    .await;
    assert_eq!(reply.status, 204, "{reply:?}");
    assert_eq!(get("F").await.body, json!({"value": "from form!"}));

    // Precedence: query over form, JSON over query.
    let reply = send(authed(
        client()
            .post(wari.url("/ari/asterisk/variable?value=query"))
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body("variable=P&value=form"),
    ))
    .await;
    assert_eq!(reply.status, 204);
    assert_eq!(get("P").await.body, json!({"value": "query"}));
    let reply = send(authed(
        client()
            .post(wari.url("/ari/asterisk/variable?variable=P&value=query"))
            .json(&json!({"value": "json"})),
    ))
    .await;
    assert_eq!(reply.status, 204);
    assert_eq!(get("P").await.body, json!({"value": "json"}));

    // POST without a value unsets.
    let reply = send(authed(
        client().post(wari.url("/ari/asterisk/variable?variable=A")),
    ))
    .await;
    assert_eq!(reply.status, 204);
    assert_eq!(get("A").await.body, json!({"value": ""}));
    assert_eq!(get("F").await.body, json!({"value": "from form!"}));
}

#[tokio::test]
async fn modules_list_get_load_unload() {
    let wari = Wari::start_default();
    let reply = send(authed(client().get(wari.url("/ari/asterisk/modules")))).await;
    assert_eq!(reply.status, 200);
    let modules = reply.body.as_array().expect("Module[]").clone();
    assert!(!modules.is_empty());
    for module in &modules {
        for field in ["name", "description", "status", "support_level"] {
            assert!(module[field].is_string(), "{field} in {module}");
        }
        assert!(module["use_count"].is_i64(), "use_count in {module}");
    }
    let name = modules[0]["name"].as_str().expect("name").to_string();

    let reply = send(authed(
        client().get(wari.url(&format!("/ari/asterisk/modules/{name}"))),
    ))
    .await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body, modules[0]);

    let nosuch = "/asterisk/modules/no_such_module";
    refuse_all(
        &wari,
        &[
            case("get unknown module", Method::GET, nosuch, 404, None),
            case("load unknown module", Method::POST, nosuch, 409, None),
            case(
                "load a loaded module",
                Method::POST,
                format!("/asterisk/modules/{name}"),
                409,
                None,
            ),
            case("unload unknown module", Method::DELETE, nosuch, 404, None),
            case("reload unknown module", Method::PUT, nosuch, 404, None),
        ],
    )
    .await;
    // Still listed after the refusals.
    let reply = send(authed(client().get(wari.url("/ari/asterisk/modules")))).await;
    assert_eq!(reply.body.as_array().map(Vec::len), Some(modules.len()));
}

#[tokio::test]
async fn log_channels() {
    let wari = Wari::start_default();
    let reply = send(authed(client().get(wari.url("/ari/asterisk/logging")))).await;
    assert_eq!(reply.status, 200);
    let channels = reply.body.as_array().expect("LogChannel[]");
    let console = channels
        .iter()
        .find(|c| c["channel"] == "console")
        .unwrap_or_else(|| panic!("console in {}", reply.body));
    for field in ["type", "status", "configuration"] {
        assert!(console[field].is_string(), "{field} in {console}");
    }
    refuse_all(
        &wari,
        &[
            case(
                "delete unknown log channel",
                Method::DELETE,
                "/asterisk/logging/no_such_channel",
                404,
                None,
            ),
            case(
                "rotate unknown log channel",
                Method::PUT,
                "/asterisk/logging/no_such_channel/rotate",
                404,
                None,
            ),
            case(
                "add without configuration",
                Method::POST,
                "/asterisk/logging/newchannel",
                400,
                None,
            ),
            case(
                "add an existing channel",
                Method::POST,
                "/asterisk/logging/console?configuration=notice,warning",
                409,
                None,
            ),
        ],
    )
    .await;
}

#[tokio::test]
async fn dynamic_config_is_readable_without_passwords_and_read_only() {
    let wari = Wari::start_default();
    let reply = send(authed(
        client().get(wari.url("/ari/asterisk/config/dynamic/res_ari/user/asterisk")),
    ))
    .await;
    assert_eq!(reply.status, 200, "{reply:?}");
    let tuples = reply.body.as_array().expect("ConfigTuple[]");
    assert!(!tuples.is_empty());
    for tuple in tuples {
        let object = tuple.as_object().expect("ConfigTuple object");
        assert_eq!(object.len(), 2, "{tuple}");
        assert!(tuple["attribute"].is_string() && tuple["value"].is_string());
        assert_ne!(tuple["attribute"], "password", "{}", reply.body);
    }
    assert!(
        !reply.body.to_string().contains(PASSWORD),
        "the password leaks: {}",
        reply.body
    );
    assert!(
        tuples
            .iter()
            .any(|t| t["attribute"] == "read_only" && t["value"] == "no"),
        "{}",
        reply.body
    );

    let path = "/asterisk/config/dynamic/res_ari/user/asterisk";
    refuse_all(
        &wari,
        &[
            case(
                "unknown class",
                Method::GET,
                "/asterisk/config/dynamic/res_nothing/user/asterisk",
                404,
                None,
            ),
            case(
                "unknown type",
                Method::GET,
                "/asterisk/config/dynamic/res_ari/nothing/asterisk",
                404,
                None,
            ),
            case(
                "unknown id",
                Method::GET,
                "/asterisk/config/dynamic/res_ari/user/nobody",
                404,
                None,
            ),
            case("update", Method::PUT, path, 403, None)
                .json(json!({"fields": [{"attribute": "password", "value": "x"}]})),
        ],
    )
    .await;
    // The password did not change.
    let reply = send(authed(client().get(wari.url("/ari/asterisk/ping")))).await;
    assert_eq!(reply.status, 200);
}

#[tokio::test]
async fn harness_default_config_is_valid() {
    // The configuration the other tests rely on carries no problems at all.
    let wari = Wari::start_default();
    let log = wari.log();
    assert!(
        !log.contains("error:") && !log.contains("warning:"),
        "{log}"
    );
}

#[tokio::test]
async fn integer_parameters_must_be_integers() {
    let wari = Wari::start_default();
    refuse_all(
        &wari,
        &[
            case(
                "text where an integer belongs",
                Method::PUT,
                "/mailboxes/1000?oldMessages=abc&newMessages=1",
                400,
                None,
            ),
            case(
                "a fraction",
                Method::PUT,
                "/mailboxes/1000?oldMessages=1&newMessages=2.5",
                400,
                None,
            ),
        ],
    )
    .await;
    let reply = send(authed(
        client().put(wari.url("/ari/mailboxes/1000?oldMessages=1&newMessages=2")),
    ))
    .await;
    assert_eq!(reply.status, 204, "{reply:?}");
    let reply = send(authed(client().get(wari.url("/ari/mailboxes/1000")))).await;
    assert_eq!(reply.body["old_messages"], 1);
    assert_eq!(reply.body["new_messages"], 2);
}
