//! The console's Health view in a real headless Chromium ([`crate::browser`]): with
//! http.conf `console_health_step = 1`, the charts take a point a second while shown; calls
//! originated while the view is open show in the calls-per-second and channels charts, and
//! the memory chart shows wari's resident memory. The history's API needs a session.

use crate::browser::{Browser, UI_TIMEOUT};
use crate::console::screenshot;
use crate::console_page::{fits_width, open_view};
use crate::support::{EventSocket, HTTP_CONF, Wari, client, eventually};

/// One chart as the page drew it: its data attributes and the current value it shows.
#[derive(Debug, Default)]
struct Chart {
    points: u64,
    max: f64,
    last: f64,
    current: String,
}

/// Reads the chart of `series` from the page (`None` until it is drawn).
async fn chart(browser: &Browser, series: &str) -> Option<Chart> {
    let script = "const f = document.querySelector('#health-charts figure[data-series=\"' + arguments[0] + '\"]');\
                  if (!f) return null;\
                  return [f.dataset.points, f.dataset.max, f.dataset.last, f.querySelector('.current').textContent,\
                          f.querySelectorAll('svg polyline').length];";
    let value = browser
        .client
        .execute(script, vec![serde_json::json!(series)])
        .await
        .expect("read a chart");
    let fields = value.as_array()?;
    let number = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.as_str())
            .and_then(|s| s.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    let drawn = fields.get(4).and_then(|v| v.as_u64()).unwrap_or(0);
    Some(Chart {
        points: if drawn > 0 { number(0) as u64 } else { 0 },
        max: number(1),
        last: number(2),
        current: fields
            .get(3)
            .and_then(|v| v.as_str())
            .unwrap_or("")
            .to_string(),
    })
}

/// Waits until the chart of `series` satisfies `accept`.
async fn chart_until(browser: &Browser, series: &str, accept: impl Fn(&Chart) -> bool) -> Chart {
    eventually(&format!("the {series} chart"), UI_TIMEOUT, || async {
        match chart(browser, series).await {
            Some(c) if accept(&c) => Ok(c),
            other => Err(format!("{other:?}")),
        }
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_health_view_charts_calls_channels_and_memory() {
    let http = format!("{HTTP_CONF}console_health_step = 1\n");
    let wari = Wari::with(&[("http.conf", &http)]);
    let mut app = EventSocket::connect(&wari, "app=desk&api_key=asterisk:secret").await;

    // The history is for logged-in users only.
    let anonymous = client()
        .get(wari.url("/console/api/health"))
        .send()
        .await
        .expect("request");
    assert_eq!(anonymous.status(), 401);

    let mut browser = Browser::start(1280, 800).await;
    browser
        .client
        .goto(&wari.url("/console/"))
        .await
        .expect("open the console");
    browser
        .find("#login-user")
        .await
        .send_keys("viewer")
        .await
        .expect("type the user");
    let password = browser.find("#login-password").await;
    password.send_keys("look").await.expect("type the password");
    password.send_keys("\u{E007}").await.expect("press Enter");
    browser.text_until("#user", |t| t == "viewer").await;
    open_view(&browser, "health").await;
    browser
        .text_until("#health-step", |t| t.starts_with("a point every 1 s"))
        .await;

    // The view is drawn and keeps taking points while shown.
    let first = chart_until(&browser, "channels", |c| c.points >= 1).await;
    chart_until(&browser, "channels", |c| c.points > first.points).await;
    let memory = chart_until(&browser, "memory_bytes", |c| c.last > 0.0).await;
    assert!(
        memory.current.ends_with("MiB") || memory.current.ends_with("GiB"),
        "{memory:?}"
    );

    // Calls while the page looks: calls per second and live channels rise above 0.
    let mut ids = Vec::new();
    for i in 0..4 {
        let reply = wari
            .post(&format!("/ari/channels?endpoint=Test/h{i}&app=desk"))
            .await;
        let (status, channel) = reply.parts();
        assert_eq!(status, 200, "{channel}");
        ids.push(channel["id"].as_str().expect("id").to_string());
    }
    for id in &ids {
        app.next_for("StasisStart", id).await;
    }
    let calls = chart_until(&browser, "calls_per_second", |c| c.max > 0.0).await;
    assert!(
        calls.max <= 8.0,
        "4 calls in a step of about a second: {calls:?}"
    );
    let channels = chart_until(&browser, "channels", |c| c.last >= 4.0).await;
    assert_eq!(channels.current, "4", "{channels:?}");
    chart_until(&browser, "http_per_second", |c| c.max > 0.0).await;
    chart_until(&browser, "events_sent_per_second", |c| c.max > 0.0).await;
    screenshot(&browser, "health.png").await;

    // At phone width the charts stack and the page does not scroll sideways.
    browser.resize(390, 844).await;
    let fits = fits_width(&browser).await;
    assert!(fits, "the Health view scrolls sideways at phone width");
    chart_until(&browser, "channels", |c| c.last >= 4.0).await;
    browser.resize(1280, 800).await;

    for id in &ids {
        let reply = wari.delete(&format!("/ari/channels/{id}")).await;
        assert_eq!(reply.status, 204, "{}", reply.body);
    }
    browser.close().await;
}
