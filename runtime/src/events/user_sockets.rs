//! Per-user caps on inbound event WebSockets: how many sockets each ARI user has open
//! (ari.conf `max_websockets`) and how many application names they register together
//! (`max_app_registrations`). A socket takes a [`SocketSlot`] before its upgrade is
//! answered and gives it back when it closes, however it ends.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::config::User;
use crate::config::user_limits::bound;

/// What a user's open event WebSockets hold now.
#[derive(Debug, Default, Clone, Copy)]
struct Held {
    sockets: u32,
    apps: u32,
}

/// The open event WebSockets of every user, counted per user name.
#[derive(Debug, Default)]
pub(crate) struct UserSockets {
    held: Mutex<HashMap<String, Held>>,
}

/// A user's socket would go over one of the user's limits.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum OverLimit {
    #[error("Too many event WebSockets for this user (max_websockets = {0})")]
    Sockets(u32),
    #[error(
        "Too many application registrations for this user (max_app_registrations = {limit}; {held} held, {asked} asked for)"
    )]
    Apps { limit: u32, held: u32, asked: u32 },
}

/// One open socket's share of its user's counts, given back when dropped.
#[derive(Debug)]
pub(crate) struct SocketSlot {
    table: Arc<UserSockets>,
    user: String,
    apps: u32,
}

impl UserSockets {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, Held>> {
        self.held.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Counts one more socket of `user` registering `apps` names, unless that goes over
    /// the user's limits.
    pub(crate) fn take(
        self: &Arc<Self>,
        user: &User,
        apps: usize,
    ) -> Result<SocketSlot, OverLimit> {
        let asked = u32::try_from(apps).unwrap_or(u32::MAX);
        let mut held = self.lock();
        let now = held.get(&user.name).copied().unwrap_or_default();
        if let Some(limit) = bound(user.limits.max_websockets)
            && now.sockets >= limit
        {
            return Err(OverLimit::Sockets(limit));
        }
        if let Some(limit) = bound(user.limits.max_app_registrations)
            && now.apps.saturating_add(asked) > limit
        {
            return Err(OverLimit::Apps {
                limit,
                held: now.apps,
                asked,
            });
        }
        let entry = held.entry(user.name.clone()).or_default();
        entry.sockets += 1;
        entry.apps = entry.apps.saturating_add(asked);
        Ok(SocketSlot {
            table: self.clone(),
            user: user.name.clone(),
            apps: asked,
        })
    }

    /// `user`'s open sockets and the names they hold.
    #[cfg(test)]
    pub(crate) fn held_by(&self, user: &str) -> (u32, u32) {
        self.lock()
            .get(user)
            .map_or((0, 0), |h| (h.sockets, h.apps))
    }
}

impl Drop for SocketSlot {
    fn drop(&mut self) {
        let mut held = self.table.lock();
        if let Some(entry) = held.get_mut(&self.user) {
            entry.sockets = entry.sockets.saturating_sub(1);
            entry.apps = entry.apps.saturating_sub(self.apps);
            if entry.sockets == 0 {
                held.remove(&self.user);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::user_limits::UserLimits;

    fn user(name: &str, max_websockets: u32, max_app_registrations: u32) -> User {
        User {
            name: name.into(),
            password: crate::config::Password::Plain("p".into()),
            read_only: false,
            admin: false,
            acl: crate::acl::Acl::default(),
            limits: UserLimits {
                max_websockets,
                max_app_registrations,
                ..UserLimits::default()
            },
        }
    }

    #[test]
    fn sockets_and_names_are_bounded_per_user_and_given_back() {
        let table = Arc::new(UserSockets::default());
        let a = user("a", 2, 3);
        let first = table.take(&a, 2).expect("first");
        assert_eq!(
            table.take(&a, 2).expect_err("names"),
            OverLimit::Apps {
                limit: 3,
                held: 2,
                asked: 2
            }
        );
        let second = table.take(&a, 1).expect("second");
        assert_eq!(
            table.take(&a, 0).expect_err("sockets"),
            OverLimit::Sockets(2)
        );
        assert!(table.take(&user("b", 2, 3), 3).is_ok(), "others unaffected");
        drop(first);
        assert_eq!(table.held_by("a"), (1, 1));
        drop(second);
        assert_eq!(table.held_by("a"), (0, 0));
        let unlimited = user("c", 0, 0);
        let slots: Vec<_> = (0..50)
            .map(|_| table.take(&unlimited, 100).expect("no limit"))
            .collect();
        assert_eq!(table.held_by("c"), (50, 5000));
        drop(slots);
        assert!(table.lock().is_empty(), "entries go with their last socket");
    }
}
