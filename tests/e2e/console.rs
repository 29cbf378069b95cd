//! The operator console (`/console/`) in a real headless Chromium ([`crate::browser`]):
//! logging in, live calls appearing and changing state, hang-up from the page reaching an
//! ARI client as StasisEnd, a read-only user with no buttons whom the server refuses
//! anyway, and a test call whose keypad reaches the application as DTMF. Plus the HTTP
//! rules a browser does not show: cookie attributes, the CSRF guard, no credentials in
//! URLs.
//!
//! With `WARI_CONSOLE_SCREENSHOTS=<dir>` the tests also save the views they reach as PNGs
//! there (how `docs/console/` is made).

use crate::browser::{Browser, UI_TIMEOUT};
use crate::console_page::{
    failed_call, fits_width, logged_in, open_view, post_login, row_text, session, started_call,
};
use crate::support::{EventSocket, Wari, client, eventually};

/// Saves a screenshot of the browser's viewport when screenshots are asked for.
pub(crate) async fn screenshot(browser: &Browser, name: &str) {
    let Ok(dir) = std::env::var("WARI_CONSOLE_SCREENSHOTS") else {
        return;
    };
    let png = browser.screenshot().await;
    std::fs::create_dir_all(&dir).expect("screenshot directory");
    std::fs::write(std::path::Path::new(&dir).join(name), png).expect("write screenshot");
}

/// Opens the console and logs in as `user`; the live feed is connected when this returns.
pub(crate) async fn log_in(browser: &Browser, wari: &Wari, user: (&str, &str)) {
    browser
        .client
        .goto(&wari.url("/console/"))
        .await
        .expect("open the console");
    let name = browser.find("#login-user").await;
    name.send_keys(user.0).await.expect("type the user");
    let password = browser.find("#login-password").await;
    password.send_keys(user.1).await.expect("type the password");
    password.send_keys("\u{E007}").await.expect("press Enter");
    browser.text_until("#feed-state", |t| t == "live").await;
    browser.text_until("#user", |t| t == user.0).await;
}

/// The text of a cell of channel `id`'s row.
pub(crate) fn cell(id: &str, class: &str) -> String {
    format!("#channels tbody tr[data-id=\"{id}\"] td.{class}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_appears_goes_up_and_is_hung_up_from_the_page() {
    let wari = Wari::start_default();
    let mut app = EventSocket::connect(&wari, "app=desk&api_key=asterisk:secret").await;
    let mut browser = Browser::start(1280, 800).await;

    // A wrong password is refused without saying which part was wrong, and logged.
    browser
        .client
        .goto(&wari.url("/console/"))
        .await
        .expect("open the console");
    screenshot(&browser, "login.png").await;
    // The login form is in the HTML the server sends: nothing is fetched before it shows.
    let html = reqwest::get(wari.url("/console/"))
        .await
        .expect("page")
        .text()
        .await
        .expect("page text");
    assert!(
        html.contains("id=\"login-user\"") && html.contains("id=\"login-password\""),
        "the login form is in the page's HTML: {html}"
    );
    browser
        .find("#login-user")
        .await
        .send_keys("asterisk")
        .await
        .expect("type");
    let password = browser.find("#login-password").await;
    password.send_keys("wrong").await.expect("type");
    password.send_keys("\u{E007}").await.expect("Enter");
    let refused = browser.text_until("#login-error", |t| !t.is_empty()).await;
    assert!(refused.starts_with("Login failed"), "{refused}");
    assert!(!refused.contains("password is wrong"), "{refused}");
    eventually("the failed login is logged", UI_TIMEOUT, || async {
        let log = wari.log();
        if log.contains("console login failed") {
            Ok(())
        } else {
            Err(log)
        }
    })
    .await;
    assert!(
        !browser
            .find("#tabs")
            .await
            .is_displayed()
            .await
            .expect("shown?")
    );

    // The right password: the live view.
    let password = browser.find("#login-password").await;
    password.clear().await.expect("clear");
    password.send_keys("secret").await.expect("type");
    password.send_keys("\u{E007}").await.expect("Enter");
    browser.text_until("#feed-state", |t| t == "live").await;

    // A call that rings for a moment, then answers: the row shows it ringing (before it is
    // in any application: the console sees the core), then Up in its application.
    let reply = wari
        .post("/ari/channels?endpoint=Test/alice/answer=1500&app=desk&callerId=Alice%20%3C100%3E")
        .await;
    let (status, channel) = reply.parts();
    assert_eq!(status, 200, "{channel}");
    let id = channel["id"].as_str().expect("channel id").to_string();
    let ringing = browser
        .text_until(&cell(&id, "state"), |t| !t.is_empty())
        .await;
    assert_ne!(ringing, "Up", "the call shows before it is answered");
    browser.text_until(&cell(&id, "state"), |t| t == "Up").await;
    app.next_for("StasisStart", &id).await;
    browser
        .text_until(&cell(&id, "app"), |t| t == "desk (WebSocket)")
        .await;
    let row = browser
        .text_until(&format!("#channels tbody tr[data-id=\"{id}\"]"), |t| {
            t.contains("Test/alice") && t.contains("Test")
        })
        .await;
    assert!(row.contains("Test/alice"), "{row}");

    // The filter hides rows that do not match and shows those that do.
    let search = browser.find("#search").await;
    search.send_keys("nobody-matches-this").await.expect("type");
    assert_eq!(browser.count("#channels tbody tr").await, 0);
    search.clear().await.expect("clear");
    search.send_keys("alice").await.expect("type");
    assert_eq!(browser.count("#channels tbody tr").await, 1);
    screenshot(&browser, "calls.png").await;

    // At phone width the page still fits and the row is readable.
    browser.resize(390, 844).await;
    let fits = fits_width(&browser).await;
    assert!(fits, "the page scrolls sideways at phone width");
    screenshot(&browser, "calls-phone.png").await;
    browser.resize(1280, 800).await;

    // Hang up from the page: the application hears StasisEnd, the row goes.
    browser
        .find(&format!(
            "#channels tbody tr[data-id=\"{id}\"] button.hangup"
        ))
        .await
        .click()
        .await
        .expect("click Hang up");
    app.next_for("StasisEnd", &id).await;
    eventually("the row leaves the page", UI_TIMEOUT, || async {
        match browser
            .count(&format!("#channels tbody tr[data-id=\"{id}\"]"))
            .await
        {
            0 => Ok(()),
            n => Err(format!("{n} rows")),
        }
    })
    .await;
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_only_user_sees_no_buttons_and_the_server_refuses_anyway() {
    let wari = Wari::start_default();
    let mut app = EventSocket::connect(&wari, "app=desk&api_key=asterisk:secret").await;
    let browser = logged_in(&wari, ("viewer", "look")).await;
    browser.text_until("#role", |t| t == "read-only").await;

    let id = started_call(&wari, &mut app, "endpoint=Test/bob&app=desk").await;
    browser.text_until(&cell(&id, "state"), |t| t == "Up").await;
    assert_eq!(browser.count("button.hangup").await, 0, "no Hang up button");
    let test_tab = browser.find(".tab[data-view=\"test\"]").await;
    assert!(
        !test_tab.is_displayed().await.expect("shown?"),
        "no test call"
    );

    // The page's own session asks anyway: 403 with a message, and the call stays.
    let script = r#"
        const done = arguments[arguments.length - 1];
        (async () => {
          const me = await (await fetch('api/session')).json();
          const r = await fetch('api/ari/channels/' + encodeURIComponent(arguments[0]),
            { method: 'DELETE', headers: { 'X-Wari-Csrf': me.csrf } });
          const k = await fetch('api/keys', { method: 'POST',
            headers: { 'X-Wari-Csrf': me.csrf, 'Content-Type': 'application/json' },
            body: JSON.stringify({ channel: arguments[0], keys: '1' }) });
          done([r.status, await r.json(), k.status, await k.json()]);
        })();
    "#;
    let answer = browser
        .client
        .execute_async(script, vec![serde_json::json!(id)])
        .await
        .expect("script");
    assert_eq!(answer[0], 403, "{answer}");
    assert_eq!(answer[1]["message"], "Write access denied", "{answer}");
    assert_eq!(answer[2], 403, "{answer}");
    assert_eq!(answer[3]["message"], "Write access denied", "{answer}");
    let (status, _) = wari.get(&format!("/ari/channels/{id}")).await.parts();
    assert_eq!(status, 200, "the channel is still there");
    screenshot(&browser, "calls-read-only.png").await;
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_test_call_from_the_page_presses_keys_the_app_receives() {
    let wari = Wari::start_default();
    let mut app = EventSocket::connect(&wari, "app=ivr&api_key=asterisk:secret").await;
    let browser = logged_in(&wari, ("asterisk", "secret")).await;

    // The applications view lists the WebSocket application.
    open_view(&browser, "apps").await;
    let row = row_text(&browser, "#apps", "ivr").await;
    assert!(row.contains("ivr") && row.contains("WebSocket"), "{row}");

    open_view(&browser, "test").await;
    browser
        .find("#test-app")
        .await
        .send_keys("ivr")
        .await
        .expect("type the app");
    browser
        .find("#test-call")
        .await
        .click()
        .await
        .expect("click Call");
    let start = app.next_of("StasisStart").await;
    let id = start["channel"]["id"].as_str().expect("id").to_string();
    assert!(
        start["channel"]["name"]
            .as_str()
            .is_some_and(|n| n.starts_with("Test/console-")),
        "{start}"
    );
    browser.text_until("#test-state", |t| t == "Up").await;
    browser
        .find("#keypad button[data-key=\"5\"]")
        .await
        .click()
        .await
        .expect("press 5");
    let dtmf = app.next_for("ChannelDtmfReceived", &id).await;
    assert_eq!(dtmf["digit"], "5", "{dtmf}");
    browser.text_until("#test-keys", |t| t == "5").await;
    screenshot(&browser, "test-call.png").await;
    browser
        .find("#test-hangup")
        .await
        .click()
        .await
        .expect("hang up");
    app.next_for("StasisEnd", &id).await;
    browser.close().await;
}

/// What a browser does not show: the session cookie's attributes, the CSRF guard, no
/// credentials in console URLs, and every API refusing a request without a session.
#[tokio::test]
async fn console_requests_need_a_session_and_writes_the_csrf_token() {
    let wari = Wari::start_default();
    let http = client();
    for path in [
        "/console/api/session",
        "/console/api/feed",
        "/console/api/ari/channels",
    ] {
        let response = http.get(wari.url(path)).send().await.expect("request");
        assert_eq!(response.status(), 401, "{path}");
    }
    let page = http.get(wari.url("/console/")).send().await.expect("page");
    assert_eq!(page.status(), 200);
    let csp = page
        .headers()
        .get("content-security-policy")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    assert!(csp.contains("default-src 'self'"), "{csp}");
    let html = page.text().await.expect("html");
    assert!(html.contains("id=\"login-form\""));

    let set_cookie = post_login(&wari, "/console/login", ("asterisk", "secret"))
        .await
        .expect("a session cookie");
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/console/", "Max-Age="] {
        assert!(set_cookie.contains(attribute), "{set_cookie}");
    }
    let cookie = set_cookie
        .split(';')
        .next()
        .expect("name=value")
        .to_string();

    let me = session(&wari, &cookie).await;
    assert_eq!(me["user"], "asterisk");
    let csrf = me["csrf"].as_str().expect("csrf token").to_string();

    let mut app = EventSocket::connect(&wari, "app=desk&api_key=asterisk:secret").await;
    let (_, channel) = wari
        .post("/ari/channels?endpoint=Test/carol&app=desk")
        .await
        .parts();
    let id = channel["id"].as_str().expect("channel id").to_string();
    app.next_for("StasisStart", &id).await;
    let delete = |token: Option<&str>, site: Option<&str>| {
        let mut request = http
            .delete(wari.url(&format!("/console/api/ari/channels/{id}")))
            .header("cookie", &cookie);
        if let Some(token) = token {
            request = request.header("x-wari-csrf", token);
        }
        if let Some(site) = site {
            request = request.header("sec-fetch-site", site);
        }
        request.send()
    };
    for (token, site) in [
        (None, None),
        (Some("not-the-token"), None),
        (Some(csrf.as_str()), Some("cross-site")),
    ] {
        let refused = delete(token, site).await.expect("delete");
        assert_eq!(refused.status(), 403, "{token:?} {site:?}");
        let body: serde_json::Value = refused.json().await.expect("json");
        assert!(body["message"].as_str().is_some_and(|m| m.contains("CSRF")));
    }
    let (status, _) = wari.get(&format!("/ari/channels/{id}")).await.parts();
    assert_eq!(status, 200, "refused requests change nothing");

    let with_key = http
        .get(wari.url("/console/api/ari/channels?api_key=asterisk:secret"))
        .header("cookie", &cookie)
        .send()
        .await
        .expect("get");
    assert_eq!(with_key.status(), 400, "no credentials in console URLs");

    let done = delete(Some(&csrf), Some("same-origin"))
        .await
        .expect("delete");
    assert_eq!(done.status(), 204);
    app.next_for("StasisEnd", &id).await;

    let logout = http
        .post(wari.url("/console/logout"))
        .header("cookie", &cookie)
        .header("x-wari-csrf", &csrf)
        .send()
        .await
        .expect("logout");
    assert_eq!(logout.status(), 204);
    let after = http
        .get(wari.url("/console/api/session"))
        .header("cookie", &cookie)
        .send()
        .await
        .expect("session");
    assert_eq!(after.status(), 401, "the session ended");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_applications_view_shows_a_failing_webassembly_app() {
    let wari = Wari::start_default();
    let deployed = crate::wasm_apps::deploy(&wari, "hostile", "loop").await;
    let sha256 = deployed["sha256"].as_str().expect("sha256").to_string();
    let mut watcher = EventSocket::watching(&wari, "watcher").await;
    failed_call(&wari, &mut watcher, "hostile").await;
    let app = wari.get("/ari/wasm/hostile").await.body;
    assert_eq!(app["failures"]["timeouts"], 1, "{app}");

    let browser = logged_in(&wari, ("asterisk", "secret")).await;
    open_view(&browser, "apps").await;
    let row = row_text(&browser, "#wasm", "hostile").await;
    for shown in [
        "asterisk",
        &sha256[..16],
        "0 live / 1 started",
        // The loop ran out of its CPU budget: shown as CPU, not as a wall-clock timeout.
        "CPU 1 · timeouts 0",
        "CPU budget of 100 ms per event exceeded",
    ] {
        assert!(row.contains(shown), "{shown:?} not in {row:?}");
    }
    let stasis = row_text(&browser, "#apps", "hostile").await;
    assert!(stasis.contains("WebAssembly"), "{stasis}");
    screenshot(&browser, "applications.png").await;
    browser.close().await;
}

/// Under http.conf's `prefix` the console moves with ARI, its cookie with it; an http.conf
/// restriction on the console's path applies to it.
#[tokio::test]
async fn the_console_follows_the_prefix_and_restrictions() {
    let http_conf = format!(
        "{}prefix = asterisk\n\n[/asterisk/console/api]\ntype = restriction\ndeny = 127.0.0.1/32\n",
        crate::support::HTTP_CONF
    );
    let wari = Wari::with(&[("http.conf", &http_conf)]);
    let http = crate::support::client_builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let unprefixed = http.get(wari.url("/console/")).send().await.expect("page");
    assert_eq!(unprefixed.status(), 404);
    let moved = http
        .get(wari.url("/asterisk/console"))
        .send()
        .await
        .expect("redirect");
    assert_eq!(moved.status(), 302);
    assert_eq!(
        moved
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok()),
        Some("/asterisk/console/")
    );
    let page = http
        .get(wari.url("/asterisk/console/"))
        .send()
        .await
        .expect("page");
    assert_eq!(page.status(), 200);
    let set_cookie = post_login(&wari, "/asterisk/console/login", ("asterisk", "secret"))
        .await
        .unwrap_or_default();
    assert!(
        set_cookie.contains("Path=/asterisk/console/"),
        "{set_cookie}"
    );
    let cookie = set_cookie.split(';').next().unwrap_or_default().to_string();
    let denied = http
        .get(wari.url("/asterisk/console/api/session"))
        .header("cookie", &cookie)
        .send()
        .await
        .expect("session");
    assert_eq!(denied.status(), 403, "the restriction applies");
}
