//! Hostile test component: on StasisStart, tries to hang up the channel whose id is `args[0]`
//! (a channel of another session), logs the outcome, then answers its own channel.
//!
//! Log lines, for the host's tests to match:
//! - `other-channel: hangup of <id> refused: <status> <message>` (expected, at warn), or
//! - `other-channel: hangup of <id> succeeded` (a sandbox hole, at error), or
//! - `other-channel: no channel id given` (no argument, at error);
//!
//! then `other-channel: answered <own id>` or `other-channel: answer failed: <error>`.

use wari_guest_sdk::{App, Channel, HangupReason, call, log};

/// The app.
#[derive(Default)]
pub struct OtherChannel;

impl App for OtherChannel {
    fn on_stasis_start(&mut self, channel: &Channel, args: &[String]) {
        match args.first() {
            None => log::error("other-channel: no channel id given"),
            Some(victim) => match call::hangup(victim, HangupReason::Normal) {
                Err(e) => log::warn(&format!(
                    "other-channel: hangup of {victim} refused: {} {}",
                    e.status, e.message
                )),
                Ok(()) => log::error(&format!("other-channel: hangup of {victim} succeeded")),
            },
        }
        match call::answer(&channel.id) {
            Ok(()) => log::info(&format!("other-channel: answered {}", channel.id)),
            Err(e) => log::error(&format!("other-channel: answer failed: {e}")),
        }
    }
}

wari_guest_sdk::export_app!(OtherChannel);

#[cfg(test)]
mod tests {
    use super::*;
    use wari_guest_sdk::mock::{Call, MockHost, Reply};
    use wari_guest_sdk::{Error, Event, log::Level};

    #[test]
    fn tries_the_foreign_hangup_logs_the_status_and_answers_its_own_channel() {
        let mut host = MockHost::new();
        host.reply_with(|call| match call {
            Call::Hangup { .. } => Some(Reply::Err(Error::new(403, "not in this session"))),
            _ => None,
        });
        host.deliver(
            &mut OtherChannel,
            Event::StasisStart {
                channel: Channel::new("mine"),
                args: vec!["theirs".into()],
            },
        );
        assert_eq!(
            host.calls(),
            [
                Call::Hangup {
                    channel: "theirs".into(),
                    reason: HangupReason::Normal
                },
                Call::Answer {
                    channel: "mine".into()
                },
            ]
        );
        assert_eq!(
            host.logs(),
            [
                (
                    Level::Warn,
                    "other-channel: hangup of theirs refused: 403 not in this session".into()
                ),
                (Level::Info, "other-channel: answered mine".into()),
            ]
        );
    }
}
