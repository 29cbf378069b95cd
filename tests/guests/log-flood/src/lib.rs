//! Hostile test component: on StasisStart, logs 100,000 lines (`log-flood: line <n>`), then
//! answers its channel and logs `log-flood: answered <id>`. The host's log rate limit must
//! hold without stalling the session or others.

use wari_guest_sdk::{App, Channel, call, log};

/// How many lines are logged.
pub const LINES: u32 = 100_000;

/// The app.
#[derive(Default)]
pub struct LogFlood;

impl App for LogFlood {
    fn on_stasis_start(&mut self, channel: &Channel, _args: &[String]) {
        for n in 0..LINES {
            log::info(&format!("log-flood: line {n}"));
        }
        match call::answer(&channel.id) {
            Ok(()) => log::info(&format!("log-flood: answered {}", channel.id)),
            Err(e) => log::error(&format!("log-flood: answer failed: {e}")),
        }
    }
}

wari_guest_sdk::export_app!(LogFlood);

#[cfg(test)]
mod tests {
    use super::*;
    use wari_guest_sdk::Event;
    use wari_guest_sdk::mock::{Call, MockHost};

    #[test]
    fn logs_every_line_then_answers() {
        let mut host = MockHost::new();
        host.deliver(
            &mut LogFlood,
            Event::StasisStart {
                channel: Channel::new("c1"),
                args: vec![],
            },
        );
        assert_eq!(host.logs().len(), LINES as usize + 1);
        assert_eq!(
            host.calls(),
            [Call::Answer {
                channel: "c1".into()
            }]
        );
    }
}
