//! Every view of the operator console at phone width (390 px), in a real headless
//! Chromium: the tabs wrap, and no view scrolls sideways, even with long content (a
//! failing app's backtrace unfolded, a call's story with an event's JSON open).

use crate::browser::Browser;
use crate::console::{cell, log_in, screenshot};
use crate::support::{EventSocket, Wari};

/// Whether the page fits the window's width (no sideways scrolling).
async fn fits(browser: &Browser) -> bool {
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

async fn show(browser: &Browser, view: &str) {
    browser
        .find(&format!(".tab[data-view=\"{view}\"]"))
        .await
        .click()
        .await
        .expect("open the view");
    browser.find(&format!("#view-{view}:not([hidden])")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_view_fits_a_phone() {
    let wari = Wari::start_default();
    crate::wasm_apps::deploy(&wari, "trap", "trap").await;
    let mut watcher =
        EventSocket::connect(&wari, "app=desk&subscribeAll=true&api_key=asterisk:secret").await;
    let (status, body) = wari
        .post("/ari/channels?endpoint=Test/victim&app=trap&channelId=victim")
        .await
        .parts();
    assert_eq!(status, 200, "{body}");
    watcher
        .until(|e| e["type"] == "ChannelDestroyed" && e["channel"]["id"] == "victim")
        .await;
    let (status, body) = wari
        .post("/ari/channels?endpoint=Test/a-rather-long-phone-name-for-a-small-screen&app=desk&channelId=phone-1")
        .await
        .parts();
    assert_eq!(status, 200, "{body}");

    let browser = Browser::start(390, 844).await;
    log_in(&browser, &wari, ("asterisk", "secret")).await;
    browser
        .text_until(&cell("phone-1", "state"), |t| t == "Up")
        .await;
    // The six tabs wrap: the last one is below the first.
    let wrapped = browser
        .client
        .execute(
            "const t = [...document.querySelectorAll('.tab')].filter(b => b.offsetParent);\
             return t[t.length - 1].getBoundingClientRect().top > t[0].getBoundingClientRect().top;",
            vec![],
        )
        .await
        .expect("measure the tabs");
    assert_eq!(wrapped, serde_json::json!(true), "the tabs wrap");
    assert!(fits(&browser).await, "Live calls scrolls sideways");

    show(&browser, "apps").await;
    let summary = "#wasm tbody tr[data-name=\"trap\"] td.last-failure summary";
    browser.find(summary).await.click().await.expect("unfold");
    browser
        .text_until("#wasm tbody tr[data-name=\"trap\"] pre.backtrace", |t| {
            t.contains("wasm backtrace")
        })
        .await;
    assert!(fits(&browser).await, "Applications scrolls sideways");
    browser
        .client
        .execute(
            "document.querySelector('#wasm td.last-failure').scrollIntoView();",
            vec![],
        )
        .await
        .expect("scroll to the failure");
    screenshot(&browser, "applications-phone.png").await;

    show(&browser, "story").await;
    let recent = "#recent tbody tr[data-id=\"victim\"]";
    browser
        .find(recent)
        .await
        .click()
        .await
        .expect("open the story");
    let destroyed = "#story-events li[data-type=\"ChannelDestroyed\"] summary";
    browser
        .find(destroyed)
        .await
        .click()
        .await
        .expect("open the event");
    browser
        .text_until(
            "#story-events li[data-type=\"ChannelDestroyed\"] pre",
            |t| t.contains("\"cause\""),
        )
        .await;
    assert!(fits(&browser).await, "a call's story scrolls sideways");

    for view in ["endpoints", "health", "test"] {
        show(&browser, view).await;
        assert!(fits(&browser).await, "{view} scrolls sideways");
    }
    browser.close().await;
}
