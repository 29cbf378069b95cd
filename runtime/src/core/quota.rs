//! Per-user quotas of live channels and bridges (ari.conf `max_channels`, `max_bridges`),
//! the per-user count of stored recordings' bytes (`max_recordings_kb`, charged by
//! [`super::media::recording_quota`]) and Asterisk's global brake on calls running the dialplan
//! (asterisk.conf `maxcalls`).
//!
//! Each ARI user has an [`Account`] with one atomic counter per kind, fixed at start-up
//! (no lock, no allocation when a channel is created). A request takes its units before it
//! changes anything ([`Account::take_channels`]); the [`Held`] units ride on the channel
//! (or bridge) they paid for and are given back when it is destroyed, however it ends.
//! A Local channel pair takes two units, one on each half: each half is a live channel.
//! Nothing is persisted: channels and bridges do not outlive the process.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use super::CoreError;
use crate::config::user_limits::{Quota, UserLimits};

/// What a quota counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Channels,
    Bridges,
}

/// One user's live channels and bridges, and the limits on them.
#[derive(Debug)]
pub struct Account {
    user: String,
    max_channels: Quota,
    max_bridges: Quota,
    channels: AtomicU32,
    bridges: AtomicU32,
    /// `max_recordings_kb` in bytes (`None`: no limit).
    max_recording_bytes: Option<u64>,
    /// Bytes of the user's stored recordings and of its live ones written so far.
    recording_bytes: AtomicU64,
}

impl Account {
    /// An account with these limits (`None`: no limit).
    pub fn new(user: &str, max_channels: Quota, max_bridges: Quota) -> Arc<Account> {
        Account::with_recordings(user, max_channels, max_bridges, None)
    }

    /// An account with these limits and a recordings' disk quota in bytes.
    pub fn with_recordings(
        user: &str,
        max_channels: Quota,
        max_bridges: Quota,
        max_recording_bytes: Option<u64>,
    ) -> Arc<Account> {
        Arc::new(Account {
            user: user.to_string(),
            max_channels,
            max_bridges,
            channels: AtomicU32::new(0),
            bridges: AtomicU32::new(0),
            max_recording_bytes,
            recording_bytes: AtomicU64::new(0),
        })
    }

    /// The user's name.
    pub fn user(&self) -> &str {
        &self.user
    }

    /// Bytes of recordings counted against the user.
    pub fn recording_bytes(&self) -> u64 {
        self.recording_bytes.load(Ordering::Acquire)
    }

    /// Refuses (403) a new recording (`extra` 0) when the user's recordings are at or over
    /// its quota, and a copy of `extra` bytes that would take them over it.
    pub fn check_recording_room(&self, extra: u64) -> Result<(), CoreError> {
        let used = self.recording_bytes();
        let over = |max: u64| match extra {
            0 => used >= max,
            _ => used.saturating_add(extra) > max,
        };
        match self.max_recording_bytes {
            Some(max) if over(max) => Err(CoreError::Forbidden(format!(
                "Quota exceeded: user '{}' has {} KiB of recordings (max_recordings_kb = {})",
                self.user,
                used.div_ceil(1024),
                max / 1024
            ))),
            _ => Ok(()),
        }
    }

    /// Counts `bytes` more of recordings; true when the user is now at or over its quota.
    /// One atomic add: called for every frame a live recording writes.
    pub fn charge_recording(&self, bytes: u64) -> bool {
        let used = self
            .recording_bytes
            .fetch_add(bytes, Ordering::AcqRel)
            .saturating_add(bytes);
        self.max_recording_bytes.is_some_and(|max| used >= max)
    }

    /// Gives `bytes` of recordings back (a recording deleted, canceled or replaced).
    pub fn refund_recording(&self, bytes: u64) {
        let _ = self
            .recording_bytes
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                Some(used.saturating_sub(bytes))
            });
    }

    fn counter(&self, kind: Kind) -> (&AtomicU32, Quota, &'static str) {
        match kind {
            Kind::Channels => (&self.channels, self.max_channels, "channels"),
            Kind::Bridges => (&self.bridges, self.max_bridges, "bridges"),
        }
    }

    /// Takes `units` of `kind`, or refuses (403) when that would pass the user's limit.
    pub fn take(self: &Arc<Account>, kind: Kind, units: u32) -> Result<Held, CoreError> {
        let (counter, max, what) = self.counter(kind);
        let taken = counter.fetch_update(Ordering::AcqRel, Ordering::Acquire, |live| {
            let next = live.checked_add(units)?;
            match max {
                Some(max) if next > max => None,
                _ => Some(next),
            }
        });
        match taken {
            Ok(_) => Ok(Held {
                account: self.clone(),
                kind,
                units,
            }),
            Err(live) => Err(CoreError::Forbidden(format!(
                "Quota exceeded: user '{}' has {live} live {what} (max_{what} = {})",
                self.user,
                max.unwrap_or(u32::MAX)
            ))),
        }
    }

    /// [`Account::take`] for channels.
    pub fn take_channels(self: &Arc<Account>, units: u32) -> Result<Held, CoreError> {
        self.take(Kind::Channels, units)
    }

    /// Live units of `kind`.
    pub fn live(&self, kind: Kind) -> u32 {
        self.counter(kind).0.load(Ordering::Acquire)
    }
}

/// Units taken from an account; given back when dropped.
#[derive(Debug)]
pub struct Held {
    account: Arc<Account>,
    kind: Kind,
    units: u32,
}

impl Held {
    /// Splits one unit off (for the other half of a Local pair); `None` when only one is
    /// left.
    pub fn split_one(&mut self) -> Option<Held> {
        if self.units < 2 {
            return None;
        }
        self.units -= 1;
        Some(Held {
            account: self.account.clone(),
            kind: self.kind,
            units: 1,
        })
    }

    /// The account the units came from (channels a channel makes, e.g. with `Dial()`,
    /// are paid from it too).
    pub fn account(&self) -> &Arc<Account> {
        &self.account
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        let (counter, _, _) = self.account.counter(self.kind);
        counter.fetch_sub(self.units, Ordering::AcqRel);
    }
}

/// Every user's account, fixed at start-up, and the global call counter.
#[derive(Debug, Default)]
pub struct Quotas {
    accounts: HashMap<String, Arc<Account>>,
    /// asterisk.conf `maxcalls` (`None`: no limit).
    max_calls: Quota,
    calls: Arc<AtomicU32>,
}

impl Quotas {
    /// Accounts for `users` (name and limits) and the global call limit.
    pub fn new<'a>(
        users: impl IntoIterator<Item = (&'a str, UserLimits)>,
        max_calls: Quota,
    ) -> Quotas {
        Quotas {
            accounts: users
                .into_iter()
                .map(|(name, limits)| {
                    let account = Account::with_recordings(
                        name,
                        limits.channels(),
                        limits.bridges(),
                        limits.recording_bytes(),
                    );
                    (name.to_string(), account)
                })
                .collect(),
            max_calls,
            calls: Arc::new(AtomicU32::new(0)),
        }
    }

    /// The account of an ARI user; `None` for identities without quotas (wari's own).
    pub fn account(&self, user: &str) -> Option<&Arc<Account>> {
        self.accounts.get(user)
    }

    /// A channel starts running the dialplan: refused (`None`) when `maxcalls` channels
    /// already do, as Asterisk counts calls. The returned guard counts it until dropped.
    pub fn start_call(&self) -> Option<CallSlot> {
        let taken = self
            .calls
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |live| {
                match self.max_calls {
                    Some(max) if live >= max => None,
                    _ => live.checked_add(1),
                }
            });
        taken.ok().map(|_| CallSlot {
            calls: self.calls.clone(),
        })
    }

    /// Every account (for counting stored recordings at start-up).
    pub fn accounts(&self) -> impl Iterator<Item = &Arc<Account>> {
        self.accounts.values()
    }

    /// asterisk.conf `maxcalls` in force.
    pub fn max_calls(&self) -> Quota {
        self.max_calls
    }
}

/// One call counted against `maxcalls`, until dropped.
#[derive(Debug)]
pub struct CallSlot {
    calls: Arc<AtomicU32>,
}

impl Drop for CallSlot {
    fn drop(&mut self) {
        self.calls.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_are_given_back_when_dropped_and_a_refusal_takes_nothing() {
        let account = Account::new("t", Some(3), None);
        let mut pair = account.take_channels(2).expect("two");
        let half = pair.split_one().expect("split");
        assert!(pair.split_one().is_none());
        assert_eq!(account.live(Kind::Channels), 2);
        let refused = account.take_channels(2).expect_err("over");
        assert!(
            refused.to_string().contains("max_channels = 3"),
            "{refused}"
        );
        assert_eq!(account.live(Kind::Channels), 2);
        drop(half);
        let third = account.take_channels(2).expect("fits again");
        assert_eq!(account.live(Kind::Channels), 3);
        drop((pair, third));
        assert_eq!(account.live(Kind::Channels), 0);
        let bridges: Vec<Held> = (0..100)
            .map(|_| account.take(Kind::Bridges, 1).expect("no limit"))
            .collect();
        assert_eq!(account.live(Kind::Bridges), 100);
        drop(bridges);
        assert_eq!(account.live(Kind::Bridges), 0);
    }

    #[test]
    fn recording_bytes_are_refused_at_the_quota_and_given_back() {
        let account = Account::with_recordings("t", None, None, Some(1000));
        assert!(account.check_recording_room(0).is_ok());
        assert!(!account.charge_recording(600));
        assert!(account.check_recording_room(0).is_ok(), "under the quota");
        assert!(
            account.check_recording_room(500).is_err(),
            "a copy that would pass it"
        );
        assert!(account.charge_recording(400), "at the quota");
        let refused = account.check_recording_room(0).expect_err("at the quota");
        assert!(
            refused.to_string().contains("max_recordings_kb"),
            "{refused}"
        );
        account.refund_recording(700);
        assert_eq!(account.recording_bytes(), 300);
        assert!(account.check_recording_room(0).is_ok());
        account.refund_recording(5000);
        assert_eq!(account.recording_bytes(), 0, "never below zero");
        let free = Account::new("f", None, None);
        assert!(!free.charge_recording(u64::MAX / 2));
        assert!(free.check_recording_room(u64::MAX / 2).is_ok(), "no limit");
    }

    #[test]
    fn maxcalls_counts_running_calls() {
        let quotas = Quotas::new([], Some(2));
        let a = quotas.start_call().expect("one");
        let b = quotas.start_call().expect("two");
        assert!(quotas.start_call().is_none());
        drop(a);
        let c = quotas.start_call().expect("again");
        drop((b, c));
        assert!(Quotas::default().start_call().is_some(), "no limit");
    }
}
