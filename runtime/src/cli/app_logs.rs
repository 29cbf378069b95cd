//! `wari app logs NAME [-f]`: an app's log from a running wari (`GET /ari/wasm/{app}/logs`),
//! one human line per entry. [`follow`] and [`format_entry`] are for any command that
//! streams an app's log (`wari app run`).

use anyhow::{Context, bail};
use http::StatusCode;
use http_body_util::BodyExt;
use serde_json::Value;

use super::client::{Reply, Server};

/// The longest line a followed log may send (wari's entries are far shorter).
const MAX_LINE: usize = 1024 * 1024;
/// How long the body of a refusal may take.
const ERROR_BODY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// `/wasm/{app}/logs?...`
fn logs_path(app: &str, query: &str) -> String {
    format!("{}/logs?{query}", super::app::app_path(app))
}

/// One entry as a line for a terminal: time, version, session, kind and text, e.g.
/// `2026-12-07T01:02:03.456 3f2a9c1b0d4e #7 event DtmfReceived digit=4 channel=c1`.
/// Control characters in the text are escaped.
pub(crate) fn format_entry(entry: &Value) -> String {
    let field = |key: &str| entry.get(key).and_then(Value::as_str).unwrap_or_default();
    let time = field("time");
    // ARI's timestamp ends in the UTC offset (`+0000`): the local time is enough here.
    let time = match time.len().checked_sub(5).map(|at| time.split_at(at)) {
        Some((head, offset))
            if offset.starts_with(['+', '-'])
                && offset[1..].chars().all(|c| c.is_ascii_digit()) =>
        {
            head
        }
        _ => time,
    };
    let session = entry
        .get("session")
        .and_then(Value::as_u64)
        .map_or("-".to_string(), |s| format!("#{s}"));
    let kind = field("kind");
    let detail = match kind {
        "log" => entry
            .get("level")
            .and_then(Value::as_str)
            .unwrap_or(field("stream")),
        _ => "",
    };
    let mut line = format!(
        "{} {} {session} {}",
        time,
        wari::log_text::Escaped(field("version")),
        wari::log_text::Escaped(kind)
    );
    if !detail.is_empty() {
        line.push(' ');
        line.push_str(&wari::log_text::Escaped(detail).to_string());
    }
    line.push(' ');
    line.push_str(&wari::log_text::Escaped(field("text")).to_string());
    line
}

/// What a refusal of the log request means.
async fn refused(server: &Server, app: &str, opened: super::client::Opened) -> anyhow::Error {
    let status = opened.status;
    let _driver = opened.driver;
    let body = match tokio::time::timeout(ERROR_BODY_TIMEOUT, opened.body.collect()).await {
        Ok(Ok(body)) => body.to_bytes(),
        _ => bytes::Bytes::new(),
    };
    let reply = Reply { status, body };
    if status == StatusCode::NOT_FOUND && reply.message().as_deref() != Some("Resource not found") {
        return anyhow::anyhow!(
            "{app} is not deployed at {} ({})",
            server.url(),
            reply.error()
        );
    }
    super::app::failure(&format!("reading the log of {app}"), server, &reply)
}

/// The app's most recent `lines` entries, oldest first.
pub(crate) async fn recent(server: &Server, app: &str, lines: usize) -> anyhow::Result<Vec<Value>> {
    let opened = server
        .open(&logs_path(app, &format!("lines={lines}")))
        .await?;
    if opened.status != StatusCode::OK {
        return Err(refused(server, app, opened).await);
    }
    let _driver = opened.driver;
    let body = opened
        .body
        .collect()
        .await
        .context("reading the log")?
        .to_bytes();
    let entries: Value = serde_json::from_slice(&body).with_context(|| {
        format!(
            "wari answered the log request with something that is not JSON: {}",
            String::from_utf8_lossy(&body).trim()
        )
    })?;
    match entries {
        Value::Array(entries) => Ok(entries),
        other => bail!("wari answered the log request with something other than a list: {other}"),
    }
}

/// Follows the app's log: its most recent `lines` entries, then each new one as it
/// happens, each given to `out`, until the server ends the stream (the app is gone);
/// an error if the request is refused or the connection breaks.
pub(crate) async fn follow(
    server: &Server,
    app: &str,
    lines: usize,
    mut out: impl FnMut(&Value),
) -> anyhow::Result<()> {
    let opened = server
        .open(&logs_path(app, &format!("follow=true&lines={lines}")))
        .await?;
    if opened.status != StatusCode::OK {
        return Err(refused(server, app, opened).await);
    }
    let mut body = opened;
    let mut pending: Vec<u8> = Vec::new();
    while let Some(frame) = body.body.frame().await {
        let frame = frame.context("the log stream broke")?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        pending.extend_from_slice(&data);
        while let Some(end) = pending.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = pending.drain(..=end).collect();
            let line = line.trim_ascii();
            if line.is_empty() {
                continue;
            }
            let entry: Value = serde_json::from_slice(line).with_context(|| {
                format!(
                    "wari sent a log line that is not JSON: {}",
                    String::from_utf8_lossy(line)
                )
            })?;
            out(&entry);
        }
        if pending.len() > MAX_LINE {
            bail!("wari sent a log line longer than {MAX_LINE} bytes");
        }
    }
    Ok(())
}

/// `wari app logs NAME [-f] [--lines N]`.
pub(crate) async fn run(
    server: &Server,
    app: &str,
    follow_it: bool,
    lines: usize,
) -> anyhow::Result<()> {
    use std::io::Write;
    let print = |entry: &Value| {
        let mut stdout = std::io::stdout().lock();
        let _ = writeln!(stdout, "{}", format_entry(entry));
        let _ = stdout.flush();
    };
    if follow_it {
        follow(server, app, lines, print).await?;
        eprintln!("the log of {app} ended: the app is gone");
    } else {
        for entry in recent(server, app, lines).await? {
            print(&entry);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn entries_print_as_one_escaped_line() {
        let event = json!({"time": "2026-12-07T01:02:03.456+0100", "app": "ivr",
            "version": "3f2a9c1b0d4e", "session": 7, "kind": "event",
            "event": "DtmfReceived", "text": "DtmfReceived digit=4 channel=c1"});
        assert_eq!(
            format_entry(&event),
            "2026-12-07T01:02:03.456 3f2a9c1b0d4e #7 event DtmfReceived digit=4 channel=c1"
        );
        let log = json!({"time": "2026-12-07T01:02:03.456-0500", "version": "3f2a9c1b0d4e",
            "session": 8, "kind": "log", "stream": "stdout", "text": "hi\u{1b}[2J\nthere"});
        assert_eq!(
            format_entry(&log),
            "2026-12-07T01:02:03.456 3f2a9c1b0d4e #8 log stdout hi\\u{1b}[2J\\nthere"
        );
        let deploy = json!({"time": "t", "version": "v", "session": null, "kind": "deploy",
            "text": "version v deployed"});
        assert_eq!(format_entry(&deploy), "t v - deploy version v deployed");
    }
}
