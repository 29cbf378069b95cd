//! Conference rooms.
//!
//! A call enters the app with a room number as its first argument
//! (`Stasis(conference,42)`). Callers of the same room talk in one `mixing` bridge, which
//! the app keeps in its kv store (shared by all its sessions):
//!
//! - `room:<n>` holds the room's bridge id, `room:<n>:count` how many callers are in it;
//! - each caller is answered and added to the room's bridge; the first one creates it (and
//!   so does a caller who finds a stored bridge that no longer exists: a `404` when adding);
//! - when a caller leaves the app (`StasisEnd`), the count goes down; the last one out
//!   destroys the bridge and deletes both keys.
//!
//! A call without a room number, or that cannot be answered or added, is logged and hung
//! up. Caveats: kv offers no atomic update, so two callers joining or leaving at the very same
//! moment may miscount; and the bridge is created by one session and used by the others,
//! which needs wari to let an app's sessions share its bridges.
//!
//! ```ini
//! [default]
//! exten => _4XX,1,Stasis(conference,${EXTEN:1})
//! ```

use wari_guest_sdk::{App, Channel, HangupReason, call, kv, log};

/// The kv key holding a room's bridge id.
pub fn bridge_key(room: &str) -> String {
    format!("room:{room}")
}

/// The kv key holding a room's caller count.
pub fn count_key(room: &str) -> String {
    format!("room:{room}:count")
}

/// The app: one caller of one room.
#[derive(Debug, Default)]
pub struct Conference {
    /// The caller's channel.
    channel: Option<String>,
    /// The room joined, once the caller is in its bridge (and counted).
    room: Option<String>,
}

/// Creates a bridge for `room` and claims the room for it. When another caller's session
/// claimed the room first (both arrived at once), its bridge wins and ours is destroyed.
fn create_room(room: &str) -> Result<String, wari_guest_sdk::Error> {
    let bridge = call::create_bridge("mixing")?;
    match kv::set_if_absent(&bridge_key(room), &bridge.id) {
        None => {
            log::info(&format!("conference: room {room} opened in {}", bridge.id));
            Ok(bridge.id)
        }
        Some(winner) => {
            if let Err(e) = call::destroy_bridge(&bridge.id) {
                log::warn(&format!("conference: cannot destroy {}: {e}", bridge.id));
            }
            Ok(winner)
        }
    }
}

/// Adds `channel` to `room`'s bridge, creating the bridge if there is none (or the stored
/// one is gone).
fn join(room: &str, channel: &str) -> Result<String, wari_guest_sdk::Error> {
    if let Some(bridge) = kv::get(&bridge_key(room)) {
        match call::add_to_bridge(&bridge, channel) {
            Ok(()) => return Ok(bridge),
            Err(e) if e.status == 404 => {
                log::warn(&format!(
                    "conference: room {room}'s bridge {bridge} is gone; opening a new one"
                ));
                kv::delete(&bridge_key(room));
                kv::delete(&count_key(room));
            }
            Err(e) => return Err(e),
        }
    }
    let bridge = create_room(room)?;
    call::add_to_bridge(&bridge, channel)?;
    Ok(bridge)
}

impl App for Conference {
    fn on_stasis_start(&mut self, channel: &Channel, args: &[String]) {
        if self.channel.is_some() {
            log::warn(&format!(
                "conference: ignoring a second channel {}",
                channel.id
            ));
            return;
        }
        let id = channel.id.as_str();
        self.channel = Some(id.to_owned());
        let Some(room) = args.first().filter(|r| !r.is_empty()) else {
            log::error(&format!("conference: no room number for {id}"));
            if let Err(e) = call::hangup(id, HangupReason::Unallocated) {
                log::warn(&format!("conference: cannot hang up {id}: {e}"));
            }
            return;
        };
        let joined = call::answer(id).and_then(|()| join(room, id));
        match joined {
            Ok(bridge) => {
                let n = kv::increment(&count_key(room), 1);
                log::info(&format!(
                    "conference: {id} joined room {room} ({bridge}), {n} in the room"
                ));
                self.room = Some(room.clone());
            }
            Err(e) => {
                log::error(&format!("conference: {id} cannot join room {room}: {e}"));
                if let Err(e) = call::hangup(id, HangupReason::Failure) {
                    log::warn(&format!("conference: cannot hang up {id}: {e}"));
                }
            }
        }
    }

    fn on_stasis_end(&mut self, channel: &Channel) {
        if self.channel.as_deref() != Some(channel.id.as_str()) {
            return;
        }
        let Some(room) = self.room.take() else {
            return;
        };
        let left = kv::increment(&count_key(&room), -1);
        if left > 0 {
            log::info(&format!(
                "conference: {} left room {room}, {left} still in it",
                channel.id
            ));
            return;
        }
        if let Some(bridge) = kv::get(&bridge_key(&room))
            && let Err(e) = call::destroy_bridge(&bridge)
        {
            log::warn(&format!("conference: cannot destroy {bridge}: {e}"));
        }
        kv::delete(&bridge_key(&room));
        kv::delete(&count_key(&room));
        log::info(&format!("conference: room {room} closed"));
    }
}

wari_guest_sdk::export_app!(Conference);

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;
    use wari_guest_sdk::mock::{Call, CallKind, MockHost};
    use wari_guest_sdk::{Error, Event};

    fn enter(host: &mut MockHost, app: &mut Conference, channel: &str, args: &[&str]) {
        host.deliver(
            app,
            Event::StasisStart {
                channel: Channel::new(channel),
                args: args.iter().map(|s| s.to_string()).collect(),
            },
        );
    }

    fn leave(host: &mut MockHost, app: &mut Conference, channel: &str) {
        host.deliver(
            app,
            Event::StasisEnd {
                channel: Channel::new(channel),
            },
        );
    }

    fn kv(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn the_first_caller_opens_the_room() {
        let mut host = MockHost::new();
        let mut alice = Conference::default();
        enter(&mut host, &mut alice, "alice", &["42"]);
        assert_eq!(
            host.control_calls(),
            [
                Call::Answer {
                    channel: "alice".into()
                },
                Call::CreateBridge {
                    bridge_type: "mixing".into()
                },
                Call::AddToBridge {
                    bridge: "bridge-1".into(),
                    channel: "alice".into()
                },
            ]
        );
        assert_eq!(
            host.kv(),
            kv(&[("room:42", "bridge-1"), ("room:42:count", "1")])
        );
    }

    #[test]
    fn later_callers_join_the_same_bridge_and_the_last_one_closes_the_room() {
        let mut host = MockHost::new();
        let (mut alice, mut bob, mut carol) = Default::default();
        enter(&mut host, &mut alice, "alice", &["42"]);
        host.take_calls();
        enter(&mut host, &mut bob, "bob", &["42"]);
        assert_eq!(
            host.take_calls()
                .into_iter()
                .filter(Call::is_call_control)
                .collect::<Vec<_>>(),
            [
                Call::Answer {
                    channel: "bob".into()
                },
                Call::AddToBridge {
                    bridge: "bridge-1".into(),
                    channel: "bob".into()
                },
            ]
        );
        enter(&mut host, &mut carol, "carol", &["42"]);
        assert_eq!(host.kv()["room:42:count"], "3");

        leave(&mut host, &mut alice, "alice");
        leave(&mut host, &mut carol, "carol");
        assert_eq!(
            host.kv(),
            kv(&[("room:42", "bridge-1"), ("room:42:count", "1")])
        );
        host.take_calls();
        leave(&mut host, &mut bob, "bob");
        assert_eq!(
            host.control_calls(),
            [Call::DestroyBridge {
                bridge: "bridge-1".into()
            }]
        );
        assert!(host.kv().is_empty());
    }

    #[test]
    fn rooms_are_separate() {
        let mut host = MockHost::new();
        let (mut a, mut b) = (Conference::default(), Conference::default());
        enter(&mut host, &mut a, "a", &["1"]);
        enter(&mut host, &mut b, "b", &["2"]);
        assert_eq!(
            host.kv(),
            kv(&[
                ("room:1", "bridge-1"),
                ("room:1:count", "1"),
                ("room:2", "bridge-2"),
                ("room:2:count", "1"),
            ])
        );
        leave(&mut host, &mut a, "a");
        assert_eq!(
            host.kv(),
            kv(&[("room:2", "bridge-2"), ("room:2:count", "1")])
        );
    }

    #[test]
    fn a_stale_bridge_is_replaced() {
        let mut host = MockHost::new();
        host.kv_set("room:7", "old-bridge");
        host.kv_set("room:7:count", "3");
        host.fail_once(CallKind::AddToBridge, Error::new(404, "Bridge not found"));
        let mut app = Conference::default();
        enter(&mut host, &mut app, "dave", &["7"]);
        assert_eq!(
            host.control_calls()[1..],
            [
                Call::AddToBridge {
                    bridge: "old-bridge".into(),
                    channel: "dave".into()
                },
                Call::CreateBridge {
                    bridge_type: "mixing".into()
                },
                Call::AddToBridge {
                    bridge: "bridge-1".into(),
                    channel: "dave".into()
                },
            ]
        );
        assert_eq!(
            host.kv(),
            kv(&[("room:7", "bridge-1"), ("room:7:count", "1")])
        );
    }

    #[test]
    fn a_caller_who_cannot_join_is_hung_up_and_not_counted() {
        let mut host = MockHost::new();
        host.fail(CallKind::CreateBridge, Error::new(500, "no bridges today"));
        let mut app = Conference::default();
        enter(&mut host, &mut app, "erin", &["9"]);
        assert_eq!(
            host.control_calls().last(),
            Some(&Call::Hangup {
                channel: "erin".into(),
                reason: HangupReason::Failure
            })
        );
        assert!(host.kv().is_empty());
        host.take_calls();
        leave(&mut host, &mut app, "erin");
        assert!(host.calls().is_empty());
    }

    #[test]
    fn a_caller_who_cannot_be_answered_is_hung_up() {
        let mut host = MockHost::new();
        host.fail(CallKind::Answer, Error::new(409, "Channel not in Stasis"));
        let mut app = Conference::default();
        enter(&mut host, &mut app, "erin", &["9"]);
        assert_eq!(host.control_calls().len(), 2);
        assert!(host.kv().is_empty());
    }

    #[test]
    fn no_room_number_hangs_up() {
        let mut host = MockHost::new();
        let mut app = Conference::default();
        enter(&mut host, &mut app, "frank", &[]);
        assert_eq!(
            host.calls(),
            [Call::Hangup {
                channel: "frank".into(),
                reason: HangupReason::Unallocated
            }]
        );
    }

    #[test]
    fn other_channels_leaving_do_not_count() {
        let mut host = MockHost::new();
        let mut app = Conference::default();
        enter(&mut host, &mut app, "gina", &["5"]);
        leave(&mut host, &mut app, "someone-else");
        assert_eq!(host.kv()["room:5:count"], "1");
    }
}
