//! Failed logins per client address: after `max_login_failures` (ari.conf) failures within
//! `login_lockout`, the address is refused for `login_lockout` whatever credentials it
//! sends, so passwords cannot be guessed at speed (nor crypt hashes made to burn CPU).
//!
//! Requests from addresses with no recent failure pay one atomic load: the table is only
//! locked while some address has failures on record.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Most addresses remembered at once; beyond it, the ones not locked out are forgotten.
const MAX_TRACKED: usize = 10_000;

#[derive(Debug)]
struct Record {
    failures: u32,
    /// When the first failure being counted happened.
    since: Instant,
    locked_until: Option<Instant>,
}

/// The failed-login table of one ARI pipeline.
#[derive(Debug)]
pub(crate) struct LoginThrottle {
    max_failures: u32,
    lockout: Duration,
    records: Mutex<HashMap<IpAddr, Record>>,
    /// `records.len()`, readable without the lock.
    tracked: AtomicUsize,
}

impl LoginThrottle {
    /// `max_failures` failures within `lockout` lock an address out for `lockout`;
    /// `max_failures` 0 never does.
    pub(crate) fn new(max_failures: u32, lockout: Duration) -> LoginThrottle {
        LoginThrottle {
            max_failures,
            lockout,
            records: Mutex::new(HashMap::new()),
            tracked: AtomicUsize::new(0),
        }
    }

    /// `Some(time left)` while `peer` is locked out.
    pub(crate) fn locked(&self, peer: IpAddr) -> Option<Duration> {
        if self.tracked.load(Ordering::Acquire) == 0 {
            return None;
        }
        let now = Instant::now();
        let mut records = self.records.lock().unwrap_or_else(|p| p.into_inner());
        let record = records.get(&peer)?;
        let expired = match record.locked_until {
            Some(until) if until > now => return Some(until - now),
            Some(_) => true,
            None => now.duration_since(record.since) >= self.lockout,
        };
        if expired {
            records.remove(&peer);
            self.tracked.store(records.len(), Ordering::Release);
        }
        None
    }

    /// Counts a failed login from `peer`; true when this failure locks it out.
    pub(crate) fn failed(&self, peer: IpAddr) -> bool {
        if self.max_failures == 0 {
            return false;
        }
        let now = Instant::now();
        let mut records = self.records.lock().unwrap_or_else(|p| p.into_inner());
        if records.len() >= MAX_TRACKED && !records.contains_key(&peer) {
            records.retain(|_, r| r.locked_until.is_some_and(|until| until > now));
        }
        let record = records.entry(peer).or_insert(Record {
            failures: 0,
            since: now,
            locked_until: None,
        });
        if record.locked_until.is_some_and(|until| until > now) {
            // A request that passed the check before the lockout began: it stays locked.
            return false;
        }
        if record.locked_until.is_some() || now.duration_since(record.since) >= self.lockout {
            *record = Record {
                failures: 0,
                since: now,
                locked_until: None,
            };
        }
        record.failures += 1;
        let locks = record.failures >= self.max_failures;
        if locks {
            record.locked_until = Some(now + self.lockout);
        }
        self.tracked.store(records.len(), Ordering::Release);
        locks
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_is_locked_after_its_failures_and_freed_after_the_lockout() {
        let throttle = LoginThrottle::new(3, Duration::from_millis(50));
        let bad = IpAddr::from([10, 0, 0, 1]);
        let good = IpAddr::from([10, 0, 0, 2]);
        assert!(!throttle.failed(bad));
        assert!(!throttle.failed(bad));
        assert!(throttle.locked(bad).is_none());
        assert!(throttle.failed(bad), "the third failure locks");
        assert!(throttle.locked(bad).is_some());
        assert!(
            !throttle.failed(bad),
            "a late failure neither relocks nor unlocks"
        );
        assert!(throttle.locked(bad).is_some());
        assert!(
            throttle.locked(good).is_none(),
            "other addresses are not affected"
        );
        std::thread::sleep(Duration::from_millis(60));
        assert!(
            throttle.locked(bad).is_none(),
            "free again after the lockout"
        );
        assert_eq!(throttle.tracked.load(Ordering::Acquire), 0);
    }

    #[test]
    fn zero_never_locks() {
        let throttle = LoginThrottle::new(0, Duration::from_secs(60));
        let peer = IpAddr::from([10, 0, 0, 1]);
        for _ in 0..100 {
            assert!(!throttle.failed(peer));
        }
        assert!(throttle.locked(peer).is_none());
    }
}
