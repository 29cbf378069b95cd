//! The steps the console tests share: a browser logged in to the console, opening one of
//! its views, waiting for a named row of a table, whether the page fits the window's
//! width, logging in over plain HTTP (the session cookie and CSRF token), and a call that
//! fails in an application while a view is open.

use crate::browser::Browser;
use crate::console::log_in;
use crate::support::{EventSocket, Wari, client};

/// A desktop-sized browser (1280 x 800) logged in to `wari`'s console as `user`.
pub(crate) async fn logged_in(wari: &Wari, user: (&str, &str)) -> Browser {
    let browser = Browser::start(1280, 800).await;
    log_in(&browser, wari, user).await;
    browser
}

/// Clicks the tab of view `view` (its `data-view`, e.g. `apps`).
pub(crate) async fn open_view(browser: &Browser, view: &str) {
    browser
        .find(&format!(".tab[data-view=\"{view}\"]"))
        .await
        .click()
        .await
        .unwrap_or_else(|e| panic!("open {view}: {e}"));
}

/// The text of the row named `name` of table `table` (e.g. `#apps`), once it has some.
pub(crate) async fn row_text(browser: &Browser, table: &str, name: &str) -> String {
    browser
        .text_until(&format!("{table} tbody tr[data-name=\"{name}\"]"), |t| {
            !t.is_empty()
        })
        .await
}

/// Whether the page fits the window's width (it does not scroll sideways).
pub(crate) async fn fits_width(browser: &Browser) -> bool {
    browser
        .client
        .execute(
            "return document.documentElement.scrollWidth <= window.innerWidth + 1;",
            vec![],
        )
        .await
        .expect("measure")
        .as_bool()
        .unwrap_or(false)
}

/// `POST {path}` (the console's login, e.g. `/console/login`) with `user`'s name and
/// password as a form, which must answer 200: the `Set-Cookie` header it gave.
pub(crate) async fn post_login(wari: &Wari, path: &str, user: (&str, &str)) -> Option<String> {
    let login = client()
        .post(wari.url(path))
        .form(&[("user", user.0), ("password", user.1)])
        .send()
        .await
        .expect("login");
    assert_eq!(login.status(), 200, "{}", user.0);
    login
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// A call created with `POST /ari/channels?{query}` (200) into the application whose
/// events are `app`: its id, once the application has its StasisStart.
pub(crate) async fn started_call(wari: &Wari, app: &mut EventSocket, query: &str) -> String {
    let (status, channel) = wari.post(&format!("/ari/channels?{query}")).await.parts();
    assert_eq!(status, 200, "{channel}");
    let id = channel["id"].as_str().expect("channel id").to_string();
    app.next_for("StasisStart", &id).await;
    id
}

/// `GET /console/api/session` with session cookie `cookie` (`name=value`): its JSON.
pub(crate) async fn session(wari: &Wari, cookie: &str) -> serde_json::Value {
    client()
        .get(wari.url("/console/api/session"))
        .header("cookie", cookie)
        .send()
        .await
        .expect("session")
        .json()
        .await
        .expect("json")
}

/// Logs in over HTTP: the session cookie (`name=value`) and the CSRF token.
pub(crate) async fn http_log_in(wari: &Wari, user: &str, password: &str) -> (String, String) {
    let cookie = post_login(wari, "/console/login", (user, password))
        .await
        .as_deref()
        .and_then(|v| v.split(';').next())
        .expect("a session cookie")
        .to_string();
    let me = session(wari, &cookie).await;
    let csrf = me["csrf"].as_str().expect("csrf token").to_string();
    (cookie, csrf)
}

/// A call (channel `victim`, `Test/victim`) into application `app`, which fails it: waits
/// on `watcher` (subscribed to all) until the channel is destroyed.
pub(crate) async fn failed_call(wari: &Wari, watcher: &mut EventSocket, app: &str) {
    let (status, body) = wari
        .post(&format!(
            "/ari/channels?endpoint=Test/victim&app={app}&channelId=victim"
        ))
        .await
        .parts();
    assert_eq!(status, 200, "{body}");
    watcher
        .until(|e| e["type"] == "ChannelDestroyed" && e["channel"]["id"] == "victim")
        .await;
}
