//! The operator console with the keyboard alone, in a real headless Chromium: Tab reaches
//! the views' tabs, the filter and each live call's row and buttons in that order, with a
//! visible focus that stays on its row while the live view changes; Space or Enter on a
//! row opens the call's story, Escape closes it and gives the focus back to the call;
//! Enter on a row's Hang up ends the call (its ARI client gets StasisEnd); Escape cancels a
//! WebAssembly app's pending Remove. Keys are pressed as a keyboard does (WebDriver key
//! actions on whatever has the focus), never by calling the page's handlers.

use fantoccini::actions::{InputSource, KeyAction, KeyActions};
use serde_json::Value;

use crate::browser::Browser;
use crate::console::{cell, log_in};
use crate::support::{EventSocket, Wari};

const TAB: char = '\u{E004}';
const ENTER: char = '\u{E007}';
const ESCAPE: char = '\u{E00C}';
const SPACE: char = '\u{E00D}';

/// Most Tab presses to reach a control (the page has fewer focusable controls before it).
const MAX_TABS: usize = 60;

/// Presses `key` on whatever has the focus, as a keyboard does.
async fn press(browser: &Browser, key: char) {
    let keys = KeyActions::new("keyboard".to_string())
        .then(KeyAction::Down { value: key })
        .then(KeyAction::Up { value: key });
    browser
        .client
        .perform_actions(keys)
        .await
        .expect("press a key");
}

/// What has the focus: its tag, id, class, the `data-view` of a tab, the row it is in (its
/// data-id or data-name) and whether the browser shows it as focused (`:focus-visible`
/// with an outline).
async fn focused(browser: &Browser) -> Value {
    browser
        .client
        .execute(
            "const a = document.activeElement;\
             const tr = a.closest('tr');\
             return { tag: a.tagName, id: a.id, cls: String(a.className), view: a.dataset.view || null,\
                      row: tr ? (tr.dataset.id || tr.dataset.name || null) : null,\
                      visible: a.matches(':focus-visible') && getComputedStyle(a).outlineStyle !== 'none' };",
            vec![],
        )
        .await
        .expect("read the focus")
}

/// Presses Tab until `accept` holds for what has the focus (at most [`MAX_TABS`] times);
/// returns everything focused on the way, the last one accepted.
async fn tab_until(browser: &Browser, what: &str, accept: impl Fn(&Value) -> bool) -> Vec<Value> {
    let mut seen = Vec::new();
    for _ in 0..MAX_TABS {
        press(browser, TAB).await;
        let now = focused(browser).await;
        let done = accept(&now);
        seen.push(now);
        if done {
            return seen;
        }
    }
    panic!("Tab never reached {what}: {seen:?}");
}

/// Waits (bounded) until what has the focus satisfies `accept`.
async fn focus_until(browser: &Browser, what: &str, accept: impl Fn(&Value) -> bool) -> Value {
    let deadline = std::time::Instant::now() + crate::browser::UI_TIMEOUT;
    loop {
        let now = focused(browser).await;
        if accept(&now) {
            return now;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the focus never reached {what}: {now}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

fn is_row(f: &Value, id: &str) -> bool {
    f["tag"] == "TR" && f["row"] == id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_is_usable_with_the_keyboard_alone() {
    let wari = Wari::start_default();
    crate::wasm_apps::deploy(&wari, "kbd", "loop").await;
    let mut app = EventSocket::connect(&wari, "app=desk&api_key=asterisk:secret").await;
    let (status, body) = wari
        .post("/ari/channels?endpoint=Test/carol&app=desk&channelId=kbd-1")
        .await
        .parts();
    assert_eq!(status, 200, "{body}");
    app.next_for("StasisStart", "kbd-1").await;
    let browser = Browser::start(1280, 800).await;
    log_in(&browser, &wari, ("asterisk", "secret")).await;
    browser
        .text_until(&cell("kbd-1", "state"), |t| t == "Up")
        .await;

    // Logged in, the focus is on the view's tab; Tab goes through the other tabs, Log out,
    // the filter, then the call's row; the focus shows on each.
    focus_until(&browser, "the Live calls tab", |f| f["view"] == "calls").await;
    let path = tab_until(&browser, "the call's row", |f| is_row(f, "kbd-1")).await;
    let at = |accept: &dyn Fn(&Value) -> bool| path.iter().position(accept);
    let health = at(&|f| f["view"] == "health").expect("the Health tab is reached");
    let logout = at(&|f| f["id"] == "logout").expect("Log out is reached");
    let filter = at(&|f| f["id"] == "search").expect("the filter is reached");
    assert!(
        health < logout && logout < filter && filter < path.len() - 1,
        "{path:?}"
    );
    assert!(
        path.iter().all(|f| f["visible"] == true),
        "every focused control shows it: {path:?}"
    );

    // A change in the live view redraws the rows; the focus stays on the call's row.
    let (status, body) = wari
        .post("/ari/channels?endpoint=Test/dave&app=desk&channelId=kbd-2")
        .await
        .parts();
    assert_eq!(status, 200, "{body}");
    browser
        .text_until(&cell("kbd-2", "state"), |t| t == "Up")
        .await;
    let now = focused(&browser).await;
    assert!(is_row(&now, "kbd-1"), "the focus stayed on its row: {now}");

    // Space on the row opens the call's story; Escape closes it and the focus is back on
    // the call (now in Recent calls); Enter opens it again.
    press(&browser, SPACE).await;
    browser
        .find("#story:not([hidden]) #story-events li[data-type=\"StasisStart\"]")
        .await;
    browser.find("#recent tbody tr[data-id=\"kbd-1\"]").await;
    focus_until(&browser, "the story's heading", |f| f["id"] == "story-name").await;
    press(&browser, ESCAPE).await;
    let back = focus_until(&browser, "the call in Recent calls", |f| is_row(f, "kbd-1")).await;
    assert_eq!(back["visible"], serde_json::json!(true), "{back}");
    assert_eq!(browser.count("#story:not([hidden])").await, 0, "closed");
    press(&browser, ENTER).await;
    browser
        .find("#story:not([hidden]) #story-events li[data-type=\"StasisStart\"]")
        .await;
    press(&browser, ESCAPE).await;
    browser.find("#story[hidden]").await;

    // Space on the Live calls tab shows that view again.
    browser
        .find(".tab[data-view=\"calls\"]")
        .await
        .send_keys(&SPACE.to_string())
        .await
        .expect("Space on the Live calls tab");
    browser.find("#view-calls:not([hidden])").await;

    // Enter on the row's Hang up ends the call; its application hears StasisEnd.
    tab_until(&browser, "the call's Hang up", |f| {
        f["row"] == "kbd-1" && f["cls"].as_str().is_some_and(|c| c.contains("hangup"))
    })
    .await;
    press(&browser, ENTER).await;
    app.next_for("StasisEnd", "kbd-1").await;

    // Applications: Enter on Remove asks to confirm with the focus on Cancel; Escape
    // cancels, the focus back on Remove, and the app stays.
    browser
        .find(".tab[data-view=\"apps\"]")
        .await
        .send_keys(&ENTER.to_string())
        .await
        .expect("Enter on the Applications tab");
    browser
        .find("#wasm tbody tr[data-name=\"kbd\"] button.remove")
        .await;
    tab_until(&browser, "kbd's Remove", |f| {
        f["row"] == "kbd" && f["cls"].as_str().is_some_and(|c| c.starts_with("remove "))
    })
    .await;
    press(&browser, ENTER).await;
    focus_until(&browser, "Cancel", |f| {
        f["row"] == "kbd" && f["cls"] == "remove-cancel"
    })
    .await;
    press(&browser, ESCAPE).await;
    focus_until(&browser, "Remove again", |f| {
        f["row"] == "kbd" && f["cls"].as_str().is_some_and(|c| c.starts_with("remove "))
    })
    .await;
    assert_eq!(browser.count("#wasm button.remove-confirm").await, 0);
    assert_eq!(wari.get("/ari/wasm/kbd").await.status, 200, "kbd is kept");
    browser.close().await;
}
