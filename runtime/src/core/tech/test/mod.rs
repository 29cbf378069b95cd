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
//! Each phone `NAME` is an endpoint `Test/NAME` (the configured ones from the start).
//! A Test phone echoes every text message it is sent straight back, as a
//! TextMessageReceived event from the phone; it accepts a REFER and does nothing with it.
//! Asked to redirect (`POST /channels/{id}/redirect`), it follows the redirect the way a
//! phone follows a SIP 302: it leaves the call, which is hung up with cause 16.
//!
//! Keys pressed (`dtmf=`) travel in band when media runs: the channel reads each key's
//! dual tone (100 ms, after 100 ms of quiet), so recordings and bridges hear it, and
//! ChannelDtmfReceived follows the tone's end. Digits sent to the phone
//! (`POST /channels/{id}/dtmf`) are played toward it as tones; it ignores them. The
//! operator console's keypad presses keys on a phone the same way, during the call
//! (`Driver::press_keys`).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use super::context::message_json;
use super::{Context, Driver, Handle, Redirected, Request, Technology};
use crate::core::channels::channel::{ChannelState, DialplanPosition};
use crate::core::endpoints::TextMessage;
use crate::core::{ControlReceiver, CoreError, NewChannel, cause};

/// How a simulated phone behaves when called.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Behaviour {
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

/// A Test phone option that cannot be applied (from a dial string: 400; from
/// `test_phones.conf`: a configuration problem).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum OptionError {
    /// `answer=` or `hangup=` without a number of milliseconds.
    #[error("Test phone option '{0}' needs a number of milliseconds")]
    NeedsMilliseconds(String),
    /// An option no Test phone has.
    #[error("Unknown Test phone option '{0}'")]
    Unknown(String),
}

impl Behaviour {
    /// Applies options (`answer=100`, `busy`, ...) on top of this behaviour.
    pub(crate) fn apply<'a>(
        &mut self,
        options: impl IntoIterator<Item = &'a str>,
    ) -> Result<(), OptionError> {
        for option in options {
            let (key, value) = match option.split_once('=') {
                Some((k, v)) => (k.trim(), Some(v.trim())),
                None => (option.trim(), None),
            };
            let millis = |v: Option<&str>| -> Result<Duration, OptionError> {
                v.and_then(|v| v.parse::<u64>().ok())
                    .map(Duration::from_millis)
                    .ok_or_else(|| OptionError::NeedsMilliseconds(key.to_string()))
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
                other => return Err(OptionError::Unknown(other.to_string())),
            }
        }
        Ok(())
    }
}

/// The Test technology.
#[derive(Debug, Default)]
pub(crate) struct TestPhones {
    sequence: AtomicU32,
    /// Behaviour per phone name from configuration.
    profiles: HashMap<String, Behaviour>,
}

impl TestPhones {
    /// Phones with configured behaviours.
    pub(crate) fn with_profiles(profiles: HashMap<String, Behaviour>) -> TestPhones {
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

    /// The configured phones are endpoints from the start.
    fn start(&self, ctx: &mut Context<'_>) -> Result<(), super::TechError> {
        for name in self.profiles.keys() {
            ctx.add_endpoint(self.name(), name);
        }
        Ok(())
    }

    fn takes_messages(&self) -> bool {
        true
    }

    /// The phone sends the message straight back.
    fn send_message(
        &self,
        ctx: &mut Context<'_>,
        endpoint: &str,
        uri: &str,
        message: &TextMessage,
    ) {
        let echo = message_json(uri, &message.from, &message.body, &message.variables);
        ctx.message_received(endpoint, echo);
    }

    fn request(
        &self,
        ctx: &mut Context<'_>,
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
        behaviour
            .apply(parts)
            .map_err(|e| CoreError::BadRequest(e.to_string()))?;
        let n = self.sequence.fetch_add(1, Ordering::Relaxed) + 1;
        let endpoint = format!("Test/{name}");
        let (id, rx) = ctx.add_channel(NewChannel {
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
            vars: request.vars.clone(),
            ..NewChannel::default()
        })?;
        Ok((id, rx))
    }
}

/// One simulated phone on one call.
#[derive(Debug)]
pub(crate) struct TestPhone {
    behaviour: Behaviour,
}

impl Driver for TestPhone {
    fn send_dtmf(&self, ctx: &mut Context<'_>, me: &Arc<str>, digit: char, duration_ms: u32) {
        // Played toward the phone, which ignores it (nothing without media).
        ctx.send_dtmf(me, digit, duration_ms);
    }

    /// The phone's user presses keys (the operator console's keypad), in band when media
    /// runs, as `dtmf=` does after answering.
    fn press_keys(&self, ctx: &mut Context<'_>, me: &Arc<str>, digits: &str) -> bool {
        let handle = ctx.handle();
        let me = me.clone();
        let digits = digits.to_string();
        tokio::spawn(async move { press_keys(&handle, &me, &digits).await });
        true
    }

    /// The phone leaves the call, as on a SIP 302.
    fn redirect(&self, ctx: &mut Context<'_>, me: &Arc<str>, _endpoint: &str) -> Redirected {
        ctx.hang_up(me, cause::NORMAL_CLEARING);
        Redirected::Followed
    }

    fn call(&self, ctx: &mut Context<'_>, me: &Arc<str>) -> Result<(), CoreError> {
        if let Some(cause) = self.behaviour.reject {
            ctx.hang_up(me, cause);
            return Ok(());
        }
        ctx.ringing(me);
        let Some(delay) = self.behaviour.answer_after else {
            return Ok(());
        };
        // A phone that answers at once does so while the call is placed: no task, no
        // timer (tokio's timer ticks in milliseconds, so even a zero sleep waits ~1 ms).
        let answered_now = delay.is_zero();
        if answered_now {
            ctx.answered(me);
            if self.behaviour.dtmf.is_empty() && self.behaviour.hangup_after.is_none() {
                return Ok(());
            }
        }
        let handle = ctx.handle();
        let me = me.clone();
        let behaviour = self.behaviour.clone();
        tokio::spawn(async move {
            if !answered_now {
                tokio::time::sleep(delay).await;
                if !with_phone(&handle, &me, |ctx| ctx.answered(&me)) {
                    return;
                }
            }
            press_keys(&handle, &me, &behaviour.dtmf).await;
            if let Some(after) = behaviour.hangup_after {
                tokio::time::sleep(after).await;
                with_phone(&handle, &me, |ctx| ctx.hang_up(&me, cause::NORMAL_CLEARING));
            }
        });
        Ok(())
    }
}

/// Runs `f` with a context if the phone's channel still exists; false when it (or the
/// core) is gone.
fn with_phone(handle: &Handle, me: &str, f: impl FnOnce(&mut Context<'_>)) -> bool {
    handle
        .with(|ctx| {
            let alive = ctx.exists(me);
            if alive {
                f(ctx);
            }
            alive
        })
        .unwrap_or(false)
}

/// How long each key is pressed, and the quiet before it.
const KEY_MS: u32 = 100;
/// The pause a `w` makes.
const WAIT_MS: u32 = 500;

/// The phone's user presses keys: through the media engine when it runs (the channel
/// reads each key's tone, then receives the digit), else directly. Returns once the keys
/// have been pressed.
async fn press_keys(handle: &Handle, me: &Arc<str>, digits: &str) {
    if digits.is_empty() {
        return;
    }
    let mut through_media = false;
    let alive = with_phone(handle, me, |ctx| {
        if !ctx.has_media() {
            return;
        }
        through_media = true;
        let mut quiet_ms = 0;
        for digit in digits.chars() {
            if digit == 'w' {
                quiet_ms += WAIT_MS;
                continue;
            }
            ctx.far_end_key(me, digit, KEY_MS, quiet_ms + KEY_MS);
            quiet_ms = 0;
        }
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
    press_keys_directly(handle, me, digits).await;
}

/// [`press_keys`] without media: each key arrives on the channel as received DTMF.
async fn press_keys_directly(handle: &Handle, me: &Arc<str>, digits: &str) {
    for digit in digits.chars() {
        let pause = if digit == 'w' { 500 } else { 100 };
        tokio::time::sleep(Duration::from_millis(pause)).await;
        if digit == 'w' {
            continue;
        }
        if !with_phone(handle, me, |ctx| ctx.dtmf_received(me, digit, 100)) {
            return;
        }
    }
}

/// Behaviours of the phones configured in `test_phones.conf`; invalid options are reported
/// at the phone's section and the phone keeps the default behaviour.
pub(crate) fn profiles(
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
