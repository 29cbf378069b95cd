//! Hostile test component: on StasisStart, answers its channel and then makes each request
//! its arguments describe, on its own channel, naming applications and recordings that may
//! belong to other tenants:
//!
//! - `ari <METHOD> <suffix> <query>`: `ari.request(METHOD, /channels/<own id><suffix>)` with
//!   the query `k=v&k=v` (no percent-decoding);
//! - `move <app>`, `record <name>`, `play <media>`: the typed calls on its own channel.
//!
//! Each gets one log line, for the host's tests to match:
//! `foreign-names: <argument> -> <status>` (2xx: done; else the refusal's status and message).

use wari_guest_sdk::{App, Channel, ari, call, log};

/// The app.
#[derive(Default)]
pub struct ForeignNames;

/// What one argument asks for, done on channel `own`: the status and the message.
fn attempt(own: &str, argument: &str) -> (u16, String) {
    let words: Vec<&str> = argument.splitn(4, ' ').collect();
    let typed = |result: Result<(), wari_guest_sdk::Error>| match result {
        Ok(()) => (200, String::new()),
        Err(e) => (e.status, e.message),
    };
    match words.as_slice() {
        ["ari", method, suffix, rest @ ..] => {
            let query: Vec<(&str, &str)> = rest
                .first()
                .map(|q| {
                    q.split('&')
                        .filter_map(|pair| pair.split_once('='))
                        .collect()
                })
                .unwrap_or_default();
            let response = ari::request(method, &format!("/channels/{own}{suffix}"), &query, None);
            (response.status, response.body)
        }
        ["move", app] => typed(call::move_to_app(own, app, &[])),
        ["record", name] => typed(call::record_channel(own, name, "wav", 1).map(|_| ())),
        ["play", media] => typed(call::play(own, &[media]).map(|_| ())),
        _ => (0, "unknown argument".to_string()),
    }
}

impl App for ForeignNames {
    fn on_stasis_start(&mut self, channel: &Channel, args: &[String]) {
        if let Err(e) = call::answer(&channel.id) {
            log::error(&format!("foreign-names: answer failed: {e}"));
        }
        for argument in args {
            let (status, message) = attempt(&channel.id, argument);
            log::warn(&format!("foreign-names: {argument} -> {status} {message}"));
        }
    }
}

wari_guest_sdk::export_app!(ForeignNames);

#[cfg(test)]
mod tests {
    use super::*;
    use wari_guest_sdk::Event;
    use wari_guest_sdk::mock::{Call, MockHost};

    #[test]
    fn makes_each_request_on_its_own_channel_and_logs_the_status() {
        let mut host = MockHost::new();
        host.deliver(
            &mut ForeignNames,
            Event::StasisStart {
                channel: Channel::new("mine"),
                args: vec![
                    "move victimapp".into(),
                    "ari POST /snoop app=victimapp".into(),
                ],
            },
        );
        let calls = host.calls();
        assert_eq!(
            calls[1],
            Call::MoveToApp {
                channel: "mine".into(),
                app: "victimapp".into(),
                args: vec![],
            }
        );
        assert_eq!(host.logs().len(), 2, "{:?}", host.logs());
    }
}
