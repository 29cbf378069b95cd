//! `Test/NAME[/option...]`: simulated phones for development and tests. Options (also
//! settable per phone in a `test_phones.conf` section, dial-string options win):
//!
//! | option | effect |
//! |---|---|
//! | `answer=MS` | ring, then answer after MS milliseconds (default 0) |
//! | `noanswer` | ring forever (until hung up or the caller gives up) |
//! | `busy` | reject as busy (cause 17) |
//! | `congestion` | reject as congested (cause 34) |
//! | `dtmf=DIGITS` | after answering, press these keys (`w` waits 500 ms) |
//! | `hangup=MS` | hang up MS milliseconds after answering |
//!
//! Each phone `NAME` is an endpoint `Test/NAME`.
//!
//! Keys pressed (`dtmf=`) travel in band when media runs: the channel reads each key's
//! dual tone (100 ms, after 100 ms of quiet), so recordings and bridges hear it, and
//! ChannelDtmfReceived follows the tone's end. Digits sent to the phone
//! (`POST /channels/{id}/dtmf`) are played toward it as tones; it ignores them.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use super::{Driver, Request, Technology};
use crate::core::channel::{ChannelState, DialplanPosition};
use crate::core::hangup::HangupBy;
use crate::core::{ControlReceiver, Core, CoreError, NewChannel, State, cause};
use crate::media::engine::Command;

/// How a simulated phone behaves when called.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Behaviour {
    pub answer_after: Option<Duration>,
    pub reject: Option<u16>,
    pub dtmf: String,
    pub hangup_after: Option<Duration>,
}

impl Default for Behaviour {
    fn default() -> Self {
        Behaviour {
            answer_after: Some(Duration::ZERO),
            reject: None,
            dtmf: String::new(),
            hangup_after: None,
        }
    }
}

impl Behaviour {
    /// Applies options (`answer=100`, `busy`, ...) on top of this behaviour.
    pub fn apply<'a>(&mut self, options: impl IntoIterator<Item = &'a str>) -> Result<(), String> {
        for option in options {
            let (key, value) = match option.split_once('=') {
                Some((k, v)) => (k.trim(), Some(v.trim())),
                None => (option.trim(), None),
            };
            let millis = |v: Option<&str>| -> Result<Duration, String> {
                v.and_then(|v| v.parse::<u64>().ok())
                    .map(Duration::from_millis)
                    .ok_or_else(|| {
                        format!("Test phone option '{key}' needs a number of milliseconds")
                    })
            };
            match key {
                "" => {}
                "answer" => {
                    self.answer_after = Some(millis(value)?);
                    self.reject = None;
                }
                "noanswer" => self.answer_after = None,
                "busy" => self.reject = Some(cause::USER_BUSY),
                "congestion" => self.reject = Some(cause::CONGESTION),
                "dtmf" => self.dtmf = value.unwrap_or_default().to_string(),
                "hangup" => self.hangup_after = Some(millis(value)?),
                other => return Err(format!("Unknown Test phone option '{other}'")),
            }
        }
        Ok(())
    }
}

/// The Test technology.
#[derive(Debug, Default)]
pub struct TestPhones {
    sequence: AtomicU32,
    /// Behaviour per phone name from configuration.
    profiles: HashMap<String, Behaviour>,
}

impl TestPhones {
    /// Phones with configured behaviours.
    pub fn with_profiles(profiles: HashMap<String, Behaviour>) -> TestPhones {
        TestPhones {
            sequence: AtomicU32::new(0),
            profiles,
        }
    }
}

impl Technology for TestPhones {
    fn name(&self) -> &'static str {
        "Test"
    }

    fn request(
        &self,
        core: &Core,
        state: &mut State,
        request: &Request,
    ) -> Result<(Arc<str>, ControlReceiver), CoreError> {
        let mut parts = request.resource.split('/');
        let name = parts.next().unwrap_or_default().trim().to_string();
        if name.is_empty() {
            return Err(CoreError::BadRequest(
                "Test phone needs a name: Test/NAME".into(),
            ));
        }
        let mut behaviour = self.profiles.get(&name).cloned().unwrap_or_default();
        behaviour.apply(parts).map_err(CoreError::BadRequest)?;
        let n = self.sequence.fetch_add(1, Ordering::Relaxed) + 1;
        let endpoint = format!("Test/{name}");
        let (id, rx) = core.add_channel(
            state,
            NewChannel {
                id: request.id.clone(),
                name: format!("{endpoint}-{n:08x}"),
                state: ChannelState::Down,
                driver: Arc::new(TestPhone { behaviour }),
                // Where an outbound phone channel starts, as Asterisk's SIP channels do:
                // extension `s` of the endpoint's context.
                dialplan: DialplanPosition {
                    context: "default".to_string(),
                    exten: "s".to_string(),
                    priority: 1,
                    ..DialplanPosition::default()
                },
                endpoint: Some(endpoint),
                ..NewChannel::default()
            },
        )?;
        Ok((id, rx))
    }
}

/// One simulated phone on one call.
#[derive(Debug)]
pub struct TestPhone {
    behaviour: Behaviour,
}

impl Driver for TestPhone {
    fn send_dtmf(
        &self,
        core: &Core,
        _state: &mut State,
        me: &Arc<str>,
        digit: char,
        duration_ms: u32,
    ) {
        // Played toward the phone, which ignores it (nothing without media).
        core.media_send_dtmf(me, digit, duration_ms);
    }

    fn call(&self, core: &Core, state: &mut State, me: &Arc<str>) -> Result<(), CoreError> {
        if let Some(cause) = self.behaviour.reject {
            core.hangup_locked(state, me, cause, HangupBy::FarEnd);
            return Ok(());
        }
        core.far_end_ringing(state, me);
        let Some(delay) = self.behaviour.answer_after else {
            return Ok(());
        };
        // A phone that answers at once does so while the call is placed: no task, no
        // timer (tokio's timer ticks in milliseconds, so even a zero sleep waits ~1 ms).
        let answered_now = delay.is_zero();
        if answered_now {
            core.far_end_answered(state, me);
            if self.behaviour.dtmf.is_empty() && self.behaviour.hangup_after.is_none() {
                return Ok(());
            }
        }
        let weak = core.weak();
        let me = me.clone();
        let behaviour = self.behaviour.clone();
        tokio::spawn(async move {
            if !answered_now {
                tokio::time::sleep(delay).await;
                if !with_core(&weak, |core, state| {
                    if state.channels.contains_key(&me) {
                        core.far_end_answered(state, &me);
                        true
                    } else {
                        false
                    }
                }) {
                    return;
                }
            }
            press_keys(&weak, &me, &behaviour.dtmf).await;
            if let Some(after) = behaviour.hangup_after {
                tokio::time::sleep(after).await;
                with_core(&weak, |core, state| {
                    if state.channels.contains_key(&me) {
                        core.hangup_locked(state, &me, cause::NORMAL_CLEARING, HangupBy::FarEnd);
                    }
                    true
                });
            }
        });
        Ok(())
    }
}

/// Runs `f` with the core locked, if the core still exists.
fn with_core(weak: &Weak<Core>, f: impl FnOnce(&Core, &mut State) -> bool) -> bool {
    match weak.upgrade() {
        Some(core) => core.with_state(|state| f(&core, state)),
        None => false,
    }
}

/// How long each key is pressed, and the quiet before it.
const KEY_MS: u32 = 100;
/// The pause a `w` makes.
const WAIT_MS: u32 = 500;

/// The phone's user presses keys: through the media engine when it runs (the channel
/// reads each key's tone, then receives the digit), else directly. Returns once the keys
/// have been pressed.
async fn press_keys(weak: &Weak<Core>, me: &Arc<str>, digits: &str) {
    if digits.is_empty() {
        return;
    }
    let mut through_media = false;
    let alive = with_core(weak, |core, state| {
        if !state.channels.contains_key(me) {
            return false;
        }
        if let Ok(media) = core.media() {
            through_media = true;
            let mut quiet_ms = 0;
            for digit in digits.chars() {
                if digit == 'w' {
                    quiet_ms += WAIT_MS;
                    continue;
                }
                media.engine.send(Command::FarEndDtmf {
                    leg: me.clone(),
                    digit,
                    duration_ms: KEY_MS,
                    quiet_ms: quiet_ms + KEY_MS,
                });
                quiet_ms = 0;
            }
        }
        true
    });
    if !alive {
        return;
    }
    if through_media {
        // The engine paces the keys; whatever the phone does next comes after them.
        let total: u32 = digits
            .chars()
            .map(|d| if d == 'w' { WAIT_MS } else { 2 * KEY_MS })
            .sum();
        tokio::time::sleep(Duration::from_millis(u64::from(total))).await;
        return;
    }
    press_keys_directly(weak, me, digits).await;
}

/// [`press_keys`] without media: each key arrives on the channel as received DTMF.
async fn press_keys_directly(weak: &Weak<Core>, me: &Arc<str>, digits: &str) {
    for digit in digits.chars() {
        let pause = if digit == 'w' { 500 } else { 100 };
        tokio::time::sleep(Duration::from_millis(pause)).await;
        if digit == 'w' {
            continue;
        }
        let alive = with_core(weak, |core, state| {
            let alive = state.channels.contains_key(me);
            if alive {
                core.dtmf_received(state, me, digit, 100);
            }
            alive
        });
        if !alive {
            return;
        }
    }
}

/// Behaviours of the phones configured in `test_phones.conf`; invalid options are reported
/// at the phone's section and the phone keeps the default behaviour.
pub fn profiles(
    phones: &[crate::config::test_phones_conf::TestPhone],
    problems: &mut crate::config::Problems,
) -> HashMap<String, Behaviour> {
    let mut profiles = HashMap::new();
    for phone in phones {
        let mut behaviour = Behaviour::default();
        if let Err(e) = behaviour.apply(phone.options.iter().map(String::as_str)) {
            problems.error(&phone.location, format!("Test phone [{}]: {e}", phone.name));
            behaviour = Behaviour::default();
        }
        profiles.insert(phone.name.clone(), behaviour);
    }
    profiles
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_parse() {
        let mut b = Behaviour::default();
        b.apply(["answer=250", "dtmf=12#", "hangup=1000"])
            .expect("valid");
        assert_eq!(b.answer_after, Some(Duration::from_millis(250)));
        assert_eq!(b.dtmf, "12#");
        assert_eq!(b.hangup_after, Some(Duration::from_millis(1000)));
        let mut busy = Behaviour::default();
        busy.apply(["busy"]).expect("valid");
        assert_eq!(busy.reject, Some(17));
        assert!(Behaviour::default().apply(["bogus"]).is_err());
        assert!(Behaviour::default().apply(["answer=soon"]).is_err());
    }
}
