//! The dialplan's `Dial()`: calling each target through its technology, the Dial events
//! on the way, waiting for the first to answer (or the timeout, or the caller hanging up),
//! and bridging the caller with the winner until one of them hangs up.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use crate::core::cause;
use crate::core::channels::channel::{ChannelState, Control};
use crate::core::channels::hangup::HangupBy;
use crate::core::channels::snapshot::ChannelSnapshot;
use crate::core::dialplan::expr;
use crate::core::event;
use crate::core::tech::Request;

use super::{Next, Runner, Start, ampersand_items, deadline_after};

enum DialOutcome {
    Answered(Arc<str>),
    Failed(&'static str),
    CallerHungUp,
}

/// A `Dial` timeout in seconds: positive and finite. Anything else means no timeout, as in
/// Asterisk, which warns about it the same way.
fn dial_timeout(text: &str) -> Option<Duration> {
    let seconds = text.trim().parse::<f64>().ok()?;
    if seconds.is_nan() || seconds <= 0.0 {
        return None;
    }
    match Duration::try_from_secs_f64(seconds) {
        Ok(timeout) => Some(timeout),
        Err(_) => {
            tracing::warn!(timeout = %text.escape_debug(), "Invalid Dial timeout: no timeout");
            None
        }
    }
}

impl Runner {
    /// Dial(Tech/res[&Tech/res...][,timeout]): calls every target; the first to answer is
    /// bridged with this channel, the others are hung up. Sets DIALSTATUS.
    pub(super) async fn dial(&mut self, data: &str) -> Next {
        let args = expr::split_args(data);
        let targets = ampersand_items(&args);
        let timeout = args.get(1).and_then(|t| dial_timeout(t));
        let core = self.core.clone();
        let (legs, snapshots) = core.with_state(|state| {
            let caller_json = core.channel_snapshot(state, &self.id);
            // The legs count against the quota of the user who made the caller.
            let owner = state
                .channels
                .get(&self.id)
                .and_then(|c| c.charge.as_ref())
                .map(|c| c.account().clone());
            let mut legs: Vec<Arc<str>> = Vec::new();
            let mut snapshots = std::collections::HashMap::new();
            for target in &targets {
                let requested =
                    core.request_channel(state, target, Request::default(), owner.as_ref());
                let (leg, rx) = match requested {
                    Ok(requested) => requested,
                    Err(e) => {
                        tracing::info!(channel = %self.id, target, error = %e, "Dial target unavailable");
                        continue;
                    }
                };
                core.spawn_runner(leg.clone(), rx, Start::Idle);
                state.dialers.insert(leg.clone(), self.id.clone());
                if let Some(channel) = state.channels.get_mut(&leg) {
                    channel.dialplan.app_name = "AppDial".to_string();
                    channel.dialplan.app_data = "(Outgoing Line)".to_string();
                }
                // The Dial events name what follows the technology (`200@default`).
                let dialstring = target
                    .split_once('/')
                    .map_or(target.as_str(), |(_, resource)| resource)
                    .to_string();
                let peer_json = core.channel_snapshot(state, &leg);
                snapshots.insert(leg.clone(), (peer_json.clone(), dialstring.clone()));
                core.publish(
                    state,
                    event::dial(
                        Some((&self.id, caller_json.clone())),
                        (&leg, peer_json.map(Arc::new)),
                        &dialstring,
                        "",
                    ),
                );
                if let Err(e) = core.call_locked(state, &leg) {
                    tracing::info!(channel = %self.id, target, error = %e, "Dial call failed");
                    core.hangup_locked(state, &leg, cause::FAILURE, HangupBy::Silent);
                }
                legs.push(leg);
            }
            (legs, snapshots)
        });
        if legs.is_empty() {
            self.set_var("DIALSTATUS", "CHANUNAVAIL");
            return Next::Step;
        }
        let outcome = self.await_legs(&legs, timeout, snapshots).await;
        core.with_state(|state| {
            for leg in &legs {
                state.dialers.remove(leg);
                state.leg_causes.remove(leg);
                state.legs_rang.remove(leg);
            }
        });
        match outcome {
            DialOutcome::CallerHungUp => Next::Stop,
            DialOutcome::Failed(status) => {
                self.set_var("DIALSTATUS", status);
                Next::Step
            }
            DialOutcome::Answered(winner) => {
                self.set_var("DIALSTATUS", "ANSWER");
                self.bridged_call(winner).await;
                Next::Stop
            }
        }
    }

    async fn await_legs(
        &mut self,
        legs: &[Arc<str>],
        timeout: Option<Duration>,
        mut snapshots: std::collections::HashMap<Arc<str>, (Option<ChannelSnapshot>, String)>,
    ) -> DialOutcome {
        let deadline = deadline_after(timeout);
        let mut reported: HashSet<(Arc<str>, &'static str)> = HashSet::new();
        // The last snapshot of each leg: a leg that fails may be gone before its final Dial
        // status is reported, which still names it.
        let core = self.core.clone();
        loop {
            let verdict = core.with_state(|state| {
                for leg in legs {
                    if state.channels.contains_key(leg)
                        && let Some(entry) = snapshots.get_mut(leg)
                    {
                        entry.0 = core.channel_snapshot(state, leg);
                    }
                }
                let caller_json = core.channel_snapshot(state, &self.id);
                let mut live = 0;
                // The causes of the legs that failed, for DIALSTATUS.
                let mut failures: Vec<u16> = Vec::with_capacity(legs.len());
                let mut winner = None;
                for leg in legs {
                    let channel = state.channels.get(leg);
                    let failed = match channel {
                        Some(c) if c.hanging_up => {
                            Some(state.leg_causes.get(leg).copied().unwrap_or(c.hangup_cause))
                        }
                        Some(_) => None,
                        None => Some(state.leg_causes.get(leg).copied().unwrap_or(0)),
                    };
                    let status = match (failed, channel) {
                        (Some(cause), _) => cause::dial_status(cause),
                        (None, Some(c)) if c.state == ChannelState::Up => "ANSWER",
                        (None, Some(c)) if c.state == ChannelState::Ringing => "RINGING",
                        (None, _) => "",
                    };
                    match failed {
                        Some(cause) => failures.push(cause),
                        None => live += 1,
                    }
                    if status == "ANSWER" && winner.is_none() {
                        winner = Some(leg.clone());
                    }
                    // A leg that rang says so before what became of it, even when both
                    // happened before this look.
                    let rang = state.legs_rang.contains(leg).then_some("RINGING");
                    for status in rang.into_iter().chain([status]) {
                        if !status.is_empty()
                            && let Some((peer_json, dialstring)) = snapshots.get(leg).cloned()
                            && reported.insert((leg.clone(), status))
                        {
                            core.publish(
                                state,
                                event::dial(
                                    Some((&self.id, caller_json.clone())),
                                    (leg, peer_json.map(Arc::new)),
                                    &dialstring,
                                    status,
                                ),
                            );
                        }
                    }
                }
                if let Some(winner) = winner {
                    // As Asterisk's Dial: the others still ringing are told CANCEL, and
                    // hang up as answered elsewhere.
                    let losers: Vec<Arc<str>> =
                        legs.iter().filter(|l| **l != winner).cloned().collect();
                    Self::end_live_legs(&core, state, &self.id, &losers, &snapshots, "CANCEL");
                    for leg in &losers {
                        core.hangup_locked(state, leg, 26, HangupBy::Silent);
                    }
                    return Some(DialOutcome::Answered(winner));
                }
                (live == 0).then(|| DialOutcome::Failed(cause::dial_outcome(&failures)))
            });
            if let Some(outcome) = verdict {
                return outcome;
            }
            let message = match deadline {
                Some(deadline) => {
                    match tokio::time::timeout_at(deadline, self.control.recv()).await {
                        Ok(message) => message,
                        Err(_) => {
                            core.with_state(|state| {
                                Self::end_live_legs(
                                    &core, state, &self.id, legs, &snapshots, "NOANSWER",
                                );
                                for leg in legs {
                                    core.hangup_locked(
                                        state,
                                        leg,
                                        cause::NO_ANSWER,
                                        HangupBy::Silent,
                                    );
                                }
                            });
                            return DialOutcome::Failed("NOANSWER");
                        }
                    }
                }
                None => self.control.recv().await,
            };
            if matches!(message, None | Some(Control::Hangup)) {
                core.with_state(|state| {
                    Self::end_live_legs(&core, state, &self.id, legs, &snapshots, "CANCEL");
                    for leg in legs {
                        core.hangup_locked(state, leg, cause::NORMAL_CLEARING, HangupBy::Silent);
                    }
                });
                return DialOutcome::CallerHungUp;
            }
        }
    }

    /// The final Dial event (`status`) of each of `legs` still in progress, as Asterisk's
    /// Dial sends one to the legs it ends itself (the ones that failed had theirs).
    fn end_live_legs(
        core: &crate::core::Core,
        state: &mut crate::core::State,
        caller: &Arc<str>,
        legs: &[Arc<str>],
        snapshots: &std::collections::HashMap<Arc<str>, (Option<ChannelSnapshot>, String)>,
        status: &str,
    ) {
        let caller_json = core.channel_snapshot(state, caller);
        for leg in legs {
            if state.channels.get(leg).is_none_or(|c| c.hanging_up) {
                continue;
            }
            if let Some((_, dialstring)) = snapshots.get(leg) {
                let peer_json = core.channel_snapshot(state, leg);
                core.publish(
                    state,
                    event::dial(
                        Some((caller, caller_json.clone())),
                        (leg, peer_json.map(Arc::new)),
                        dialstring,
                        status,
                    ),
                );
            }
        }
    }

    /// Caller and answered leg share a basic bridge until either hangs up.
    async fn bridged_call(&mut self, winner: Arc<str>) {
        let core = self.core.clone();
        core.with_state(|state| {
            state.dialers.insert(winner.clone(), self.id.clone());
            core.answer_locked(state, &self.id);
            let bridge = core.create_basic_bridge_locked(state);
            core.join_bridge_locked(state, &bridge, &self.id);
            core.join_bridge_locked(state, &bridge, &winner);
        });
        loop {
            let peer_gone =
                core.with_state(|state| state.channels.get(&winner).is_none_or(|c| c.hanging_up));
            if peer_gone {
                break;
            }
            match self.control.recv().await {
                None | Some(Control::Hangup) => {
                    core.with_state(|state| {
                        core.hangup_locked(state, &winner, cause::NORMAL_CLEARING, HangupBy::Silent)
                    });
                    break;
                }
                Some(_) => {}
            }
        }
        core.with_state(|state| {
            state.dialers.remove(&winner);
        });
    }
}
