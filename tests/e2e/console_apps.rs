//! The console's Applications and Endpoints views in a real headless Chromium
//! ([`crate::browser`]): a component deployed through the page's file input (with its
//! upload progress and result), counted when a call runs through it, rolled back, removed
//! while it drains; a failing guest's failure kind, message and backtrace appearing while
//! the view is open; the server's refusals shown as its messages (too large, not a
//! component); a read-only user with no deploy controls whom the server refuses anyway;
//! the endpoints and device states, refreshed while shown and filtered; and a phone's SIP
//! registration (its contact URI and user agent) shown until it unregisters.

use crate::browser::{Browser, UI_TIMEOUT};
use crate::console::screenshot;
use crate::console_page::{failed_call, logged_in, open_view};
use crate::sip_raw::{Peer, Register, register};
use crate::support::{EventSocket, Wari, client, eventually};

const RW: (&str, &str) = ("asterisk", "secret");
const VIEWER: (&str, &str) = ("viewer", "look");

/// The absolute path of a built guest component, as a user picks it in the file dialog.
fn guest_file(name: &str) -> String {
    crate::support::component_path(name)
        .canonicalize()
        .expect("component path")
        .display()
        .to_string()
}

/// Chooses `file` in the deploy form's file input, names the app `name` (when given;
/// otherwise the name the page proposes stays), and presses Deploy.
async fn deploy_from_page(browser: &Browser, file: &str, name: Option<&str>) {
    browser
        .find("#deploy-file")
        .await
        .send_keys(file)
        .await
        .expect("choose the file");
    if let Some(name) = name {
        let field = browser.find("#deploy-name").await;
        field.clear().await.expect("clear the name");
        field.send_keys(name).await.expect("type the name");
    }
    browser
        .find("#deploy-submit")
        .await
        .click()
        .await
        .expect("click Deploy");
}

/// The text of a cell (by class) of WebAssembly app `name`'s row.
fn wasm_cell(name: &str, class: &str) -> String {
    format!("#wasm tbody tr[data-name=\"{name}\"] td.{class}")
}

async fn click(browser: &Browser, css: &str) {
    browser
        .find(css)
        .await
        .click()
        .await
        .unwrap_or_else(|e| panic!("click {css}: {e}"));
}

async fn row_gone(browser: &Browser, css: &str) {
    eventually("the row leaves the page", UI_TIMEOUT, || async {
        match browser.count(css).await {
            0 => Ok(()),
            n => Err(format!("{n} rows match {css}")),
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_component_deployed_from_the_page_takes_a_call_rolls_back_and_drains_away() {
    let wari = Wari::start_default();
    let mut watcher = EventSocket::watching(&wari, "watcher").await;
    let browser = logged_in(&wari, RW).await;
    open_view(&browser, "apps").await;

    // Chosen through the file input: the name defaults to the file's, the upload's
    // progress bar fills, and the result names the version the server stored.
    browser
        .find("#deploy-file")
        .await
        .send_keys(&guest_file("conference"))
        .await
        .expect("choose conference.wasm");
    let proposed = browser
        .find("#deploy-name")
        .await
        .prop("value")
        .await
        .expect("name")
        .unwrap_or_default();
    assert_eq!(proposed, "conference", "the name defaults to the file's");
    click(&browser, "#deploy-submit").await;
    let result = browser
        .text_until("#deploy-result", |t| t.starts_with("Deployed"))
        .await;
    let stored = wari.get("/ari/wasm/conference").await.body;
    let sha256 = stored["sha256"].as_str().expect("deployed").to_string();
    assert_eq!(stored["owner"], "asterisk", "{stored}");
    assert!(
        result.contains(&format!("Deployed conference: version {}", &sha256[..12]))
            && result.contains(&sha256),
        "{result}"
    );
    let progress = browser
        .client
        .execute(
            "const p = document.querySelector('#deploy-progress'); return [p.hidden, p.value];",
            vec![],
        )
        .await
        .expect("progress");
    assert_eq!(
        progress,
        serde_json::json!([false, 1]),
        "the progress bar shows, full"
    );
    browser
        .text_until(&wasm_cell("conference", "sessions"), |t| {
            t == "0 live / 0 started"
        })
        .await;

    // A call into it: its session is counted while the call lasts.
    let (status, channel) = wari
        .post("/ari/channels?endpoint=Test/caller&app=conference&appArgs=7&channelId=caller")
        .await
        .parts();
    assert_eq!(status, 200, "{channel}");
    browser
        .text_until(&wasm_cell("conference", "sessions"), |t| {
            t == "1 live / 1 started"
        })
        .await;
    let stasis = browser
        .text_until("#apps tbody tr[data-name=\"conference\"]", |t| {
            !t.is_empty()
        })
        .await;
    assert!(stasis.contains("WebAssembly"), "{stasis}");
    screenshot(&browser, "applications-deploy.png").await;

    // A second version under the same name, then back to the first.
    deploy_from_page(&browser, &guest_file("ivr"), Some("conference")).await;
    browser
        .text_until("#deploy-result", |t| {
            t.starts_with("Deployed conference") && !t.contains(&sha256)
        })
        .await;
    let replaced = wari.get("/ari/wasm/conference").await.body;
    assert_ne!(replaced["sha256"], sha256.as_str(), "{replaced}");
    browser
        .text_until(&wasm_cell("conference", "versions"), |t| t == "2")
        .await;
    click(
        &browser,
        "#wasm tbody tr[data-name=\"conference\"] button.rollback",
    )
    .await;
    browser
        .text_until("#deploy-result", |t| {
            t == format!("conference rolled back to version {}.", &sha256[..12])
        })
        .await;
    assert_eq!(
        wari.get("/ari/wasm/conference").await.body["sha256"],
        sha256.as_str()
    );

    // Remove asks first; with the call still in progress the app drains.
    click(
        &browser,
        "#wasm tbody tr[data-name=\"conference\"] button.remove",
    )
    .await;
    assert_eq!(
        wari.get("/ari/wasm/conference").await.status,
        200,
        "nothing is removed before the confirmation"
    );
    click(
        &browser,
        "#wasm tbody tr[data-name=\"conference\"] button.remove-confirm",
    )
    .await;
    let draining = browser
        .text_until("#deploy-result", |t| t.contains("draining"))
        .await;
    assert!(
        draining.starts_with("conference is draining: its 1 call(s) in progress finish first"),
        "{draining}"
    );
    browser
        .text_until(&wasm_cell("conference", "actions"), |t| {
            t.starts_with("draining")
        })
        .await;
    let (status, _) = wari.delete("/ari/channels/caller").await.parts();
    assert_eq!(status, 204);
    watcher
        .until(|e| e["type"] == "ChannelDestroyed" && e["channel"]["id"] == "caller")
        .await;
    row_gone(&browser, "#wasm tbody tr[data-name=\"conference\"]").await;
    assert_eq!(wari.get("/ari/wasm/conference").await.status, 404);
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_guest_shows_its_failure_kind_message_and_backtrace_then_is_removed() {
    let wari = Wari::start_default();
    crate::wasm_apps::deploy(&wari, "trap", "trap").await;
    let mut watcher = EventSocket::watching(&wari, "watcher").await;
    let browser = logged_in(&wari, RW).await;
    open_view(&browser, "apps").await;
    browser
        .text_until(&wasm_cell("trap", "failures"), |t| t.starts_with("0 ("))
        .await;

    // The call fails while the view is open: the row changes without a reload.
    failed_call(&wari, &mut watcher, "trap").await;
    let failures = browser
        .text_until(&wasm_cell("trap", "failures"), |t| t.starts_with("1 ("))
        .await;
    assert_eq!(
        failures,
        "1 (traps 1 · CPU 0 · timeouts 0 · memory 0 · other limits 0)"
    );
    let message = "trap: panicking on purpose in StasisStart of victim";
    let summary = browser
        .text_until(
            &format!("{} summary", wasm_cell("trap", "last-failure")),
            |t| !t.is_empty(),
        )
        .await;
    assert!(summary.contains(message), "{summary}");
    let reported = wari.get("/ari/wasm/trap").await.body;
    let backtrace = reported["failures"]["last"]["backtrace"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(backtrace.contains("wasm backtrace"), "{reported}");

    // The backtrace is behind the summary: one click shows it.
    let pre = format!("{} pre.backtrace", wasm_cell("trap", "last-failure"));
    assert!(
        !browser
            .find(&pre)
            .await
            .is_displayed()
            .await
            .expect("shown?"),
        "folded at first"
    );
    click(
        &browser,
        &format!("{} summary", wasm_cell("trap", "last-failure")),
    )
    .await;
    let shown = browser.text_until(&pre, |t| !t.is_empty()).await;
    assert!(shown.contains("wasm backtrace"), "{shown}");
    let details = browser
        .text_until(&wasm_cell("trap", "last-failure"), |t| t.contains("victim"))
        .await;
    assert!(details.contains("session #"), "{details}");
    screenshot(&browser, "applications-failure.png").await;

    // No call in progress: removed at once.
    click(&browser, "#wasm tbody tr[data-name=\"trap\"] button.remove").await;
    click(
        &browser,
        "#wasm tbody tr[data-name=\"trap\"] button.remove-confirm",
    )
    .await;
    browser
        .text_until("#deploy-result", |t| t == "trap removed.")
        .await;
    row_gone(&browser, "#wasm tbody tr[data-name=\"trap\"]").await;
    assert_eq!(wari.get("/ari/wasm/trap").await.status, 404);
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_shows_why_the_server_refused_an_upload() {
    let wari = Wari::with(&[("wasm.conf", "[general]\nmax_upload_mb = 1\n")]);
    let browser = logged_in(&wari, RW).await;
    open_view(&browser, "apps").await;

    // Larger than wasm.conf max_upload_mb.
    deploy_from_page(&browser, &guest_file("bench-2mb"), None).await;
    let refused = browser
        .text_until("#deploy-result", |t| t.starts_with("Deploy refused"))
        .await;
    assert_eq!(
        refused,
        "Deploy refused (413): Request body too large: the component is larger than wasm.conf max_upload_mb (1 MB)"
    );
    assert_eq!(wari.get("/ari/wasm/bench-2mb").await.status, 404);

    // Not a component.
    let dir = tempfile::tempdir().expect("temp dir");
    let text = dir.path().join("notes.wasm");
    std::fs::write(&text, "not a component").expect("write");
    deploy_from_page(&browser, &text.display().to_string(), None).await;
    let refused = browser
        .text_until("#deploy-result", |t| t.starts_with("Deploy refused (400)"))
        .await;
    assert!(
        refused.starts_with("Deploy refused (400): Invalid component:"),
        "{refused}"
    );
    assert_eq!(wari.get("/ari/wasm/notes").await.status, 404);
    screenshot(&browser, "applications-refused.png").await;
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_only_user_has_no_deploy_controls_and_the_server_refuses_anyway() {
    let wari = Wari::start_default();
    crate::wasm_apps::deploy(&wari, "trap", "trap").await;
    let browser = logged_in(&wari, VIEWER).await;
    open_view(&browser, "apps").await;
    browser
        .text_until(&wasm_cell("trap", "sessions"), |t| !t.is_empty())
        .await;
    assert!(
        !browser
            .find("#deploy")
            .await
            .is_displayed()
            .await
            .expect("shown?"),
        "no deploy form"
    );
    assert_eq!(
        browser.count("#wasm button").await,
        0,
        "no Remove, no Roll back"
    );

    // The page's own session asks anyway: an upload, a removal and a rollback are refused.
    let script = r#"
        const done = arguments[arguments.length - 1];
        (async () => {
          const me = await (await fetch('api/session')).json();
          const headers = { 'X-Wari-Csrf': me.csrf };
          const put = await fetch('api/ari/wasm/mine', { method: 'PUT',
            headers: { ...headers, 'Content-Type': 'application/wasm' },
            body: new Uint8Array([0, 97, 115, 109]) });
          const del = await fetch('api/ari/wasm/trap', { method: 'DELETE', headers });
          const back = await fetch('api/ari/wasm/trap/rollback', { method: 'POST', headers });
          done([put.status, await put.json(), del.status, await del.json(),
            back.status, await back.json()]);
        })();
    "#;
    let answer = browser
        .client
        .execute_async(script, vec![])
        .await
        .expect("script");
    for (status, body) in [(0, 1), (2, 3), (4, 5)] {
        assert_eq!(answer[status], 403, "{answer}");
        assert_eq!(answer[body]["message"], "Write access denied", "{answer}");
    }
    assert_eq!(wari.get("/ari/wasm/mine").await.status, 404);
    assert_eq!(wari.get("/ari/wasm/trap").await.status, 200);
    browser.close().await;
}

const PJSIP_CONF: &str = "\
[udp]
type = transport
protocol = udp
bind = 127.0.0.1:0

[alice]
type = endpoint
context = default
aors = alice

[alice]
type = aor
max_contacts = 1
";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_endpoints_view_lists_pjsip_endpoints_and_device_states_as_they_change() {
    let wari = Wari::with(&[("pjsip.conf", PJSIP_CONF)]);
    let (status, body) = wari
        .put("/ari/deviceStates/Stasis:x?deviceState=BUSY")
        .await
        .parts();
    assert_eq!(status, 204, "{body}");
    let browser = logged_in(&wari, VIEWER).await;
    open_view(&browser, "endpoints").await;

    let alice = "#endpoints tbody tr[data-id=\"PJSIP/alice\"]";
    let row = browser.text_until(alice, |t| !t.is_empty()).await;
    assert!(
        row.contains("PJSIP/alice") && row.contains("PJSIP"),
        "{row}"
    );
    let state = browser
        .text_until(&format!("{alice} td.state"), |t| !t.is_empty())
        .await;
    assert_eq!(
        state,
        wari.get("/ari/endpoints/PJSIP/alice").await.body["state"]
            .as_str()
            .unwrap_or_default()
    );
    let device = "#device-states tbody tr[data-id=\"Stasis:x\"] td.state";
    browser.text_until(device, |t| t == "BUSY").await;

    // Changes show while the view is open: a device state set over ARI, a Test phone's
    // call with its channel.
    let (status, _) = wari
        .put("/ari/deviceStates/Stasis:x?deviceState=NOT_INUSE")
        .await
        .parts();
    assert_eq!(status, 204);
    browser.text_until(device, |t| t == "NOT_INUSE").await;
    let mut app = EventSocket::connect(&wari, "app=desk&api_key=asterisk:secret").await;
    let (status, channel) = wari
        .post("/ari/channels?endpoint=Test/bob&app=desk&channelId=bob-call")
        .await
        .parts();
    assert_eq!(status, 200, "{channel}");
    app.next_for("StasisStart", "bob-call").await;
    browser
        .text_until(
            "#endpoints tbody tr[data-id=\"Test/bob\"] td.channels",
            |t| t == "bob-call",
        )
        .await;
    screenshot(&browser, "endpoints.png").await;

    // The filter box narrows both tables.
    let search = browser.find("#endpoint-search").await;
    search.send_keys("alice").await.expect("type");
    assert_eq!(browser.count("#endpoints tbody tr").await, 1);
    assert_eq!(browser.count("#device-states tbody tr").await, 0);
    search.clear().await.expect("clear");
    search.send_keys("stasis").await.expect("type");
    assert_eq!(browser.count("#endpoints tbody tr").await, 0);
    assert_eq!(browser.count("#device-states tbody tr").await, 1);
    browser.close().await;
}

/// A raw SIP phone's REGISTER of `alice` (no auth on her endpoint) with `expires`: its
/// final status.
async fn register_alice(phone: &Peer, cseq: u32, expires: u32) -> u16 {
    let local = phone.local();
    phone
        .send(register(&Register {
            uri: &format!("sip:{}", phone.wari()),
            user: "alice",
            local,
            transport: "UDP",
            call_id: &format!("console-register-{}", local.port()),
            cseq,
            expires,
            authorization: None,
        }))
        .await;
    phone.final_response("REGISTER").await.status()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registered_phone_shows_its_contact_and_user_agent_until_it_unregisters() {
    let wari = Wari::with(&[("pjsip.conf", PJSIP_CONF)]);
    // The contacts are for logged-in users only, and only to read.
    let anonymous = client()
        .get(wari.url("/console/api/contacts"))
        .send()
        .await
        .expect("request");
    assert_eq!(anonymous.status(), 401);
    let post = client()
        .post(wari.url("/console/api/contacts"))
        .send()
        .await
        .expect("request");
    assert_eq!(post.status(), 405);

    let browser = logged_in(&wari, VIEWER).await;
    open_view(&browser, "endpoints").await;
    let contacts = "#endpoints tbody tr[data-id=\"PJSIP/alice\"] td.contacts";
    browser.text_until(contacts, str::is_empty).await;
    assert_eq!(browser.count("#registrations tbody tr").await, 0);

    let phone = Peer::of(&wari).await;
    let uri = format!("sip:alice@{}", phone.local());
    assert_eq!(register_alice(&phone, 1, 120).await, 200);
    browser.text_until(contacts, |t| t.contains(&uri)).await;
    let row = "#registrations tbody tr[data-aor=\"alice\"]";
    browser
        .text_until(&format!("{row} td.uri"), |t| t == uri)
        .await;
    browser
        .text_until(&format!("{row} td.user-agent"), |t| t == "wari-e2e")
        .await;
    let status = browser
        .text_until(&format!("{row} td.state"), |t| !t.is_empty())
        .await;
    assert_eq!(
        status, "NonQualified",
        "not qualified: alice's AOR has no qualify"
    );
    let expires = browser
        .text_until(&format!("{row} td.expires"), |t| !t.is_empty())
        .await;
    assert!(
        expires == "2 min 0 s" || expires.starts_with("1 min 5"),
        "{expires}"
    );
    screenshot(&browser, "registrations.png").await;

    // An unregister (Expires: 0) takes it off the page.
    assert_eq!(register_alice(&phone, 2, 0).await, 200);
    row_gone(&browser, row).await;
    browser.text_until(contacts, str::is_empty).await;
    browser.close().await;
}
