//! The console's login sessions: a random token in an HttpOnly, SameSite=Strict cookie,
//! a CSRF token the page sends back in a header on every state-changing request, an idle
//! expiry and an absolute one. Sans-IO: every call takes the time as an input.
//!
//! Tokens are kept only as their SHA-256 digests, so the table holds nothing a reader of
//! memory could replay, and a lookup compares digests, not secrets.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use sha2::{Digest, Sha256};

use crate::config::User;

/// The session cookie's name.
pub(crate) const COOKIE: &str = "wari_console";
/// The header that carries the CSRF token.
pub(crate) const CSRF_HEADER: &str = "x-wari-csrf";
/// A session unused for this long ends.
pub(crate) const IDLE: Duration = Duration::from_secs(30 * 60);
/// A session ends this long after login, used or not.
pub(crate) const LIFETIME: Duration = Duration::from_secs(12 * 60 * 60);
/// Most sessions at once; a login beyond it ends the one closest to expiring.
pub(crate) const MAX_SESSIONS: usize = 1024;

/// One logged-in browser.
#[derive(Debug, Clone)]
pub(crate) struct Session {
    /// Who logged in.
    pub user: Arc<User>,
    /// The token state-changing requests must carry in [`CSRF_HEADER`].
    pub csrf: String,
    created: Instant,
    last_used: Instant,
}

impl Session {
    fn expires(&self) -> Instant {
        (self.last_used + IDLE).min(self.created + LIFETIME)
    }
}

/// The sessions of one console.
#[derive(Debug, Default)]
pub(crate) struct Sessions {
    by_digest: HashMap<[u8; 32], Session>,
}

/// A fresh random token: 32 bytes from the system's generator, base64url without padding.
fn random_token() -> String {
    let mut bytes = [0u8; 32];
    bytes[..16].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
    bytes[16..].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

impl Sessions {
    /// Starts a session for `user`; returns its cookie token.
    pub(crate) fn start(&mut self, user: Arc<User>, now: Instant) -> String {
        self.expire(now);
        if self.by_digest.len() >= MAX_SESSIONS
            && let Some(oldest) = self
                .by_digest
                .iter()
                .min_by_key(|(_, s)| s.expires())
                .map(|(k, _)| *k)
        {
            self.by_digest.remove(&oldest);
        }
        let token = random_token();
        self.by_digest.insert(
            digest(&token),
            Session {
                user,
                csrf: random_token(),
                created: now,
                last_used: now,
            },
        );
        token
    }

    /// The live session of a cookie token, marked used at `now`.
    pub(crate) fn touch(&mut self, token: &str, now: Instant) -> Option<Session> {
        let key = digest(token);
        let session = self.by_digest.get_mut(&key)?;
        if session.expires() <= now {
            self.by_digest.remove(&key);
            return None;
        }
        session.last_used = now;
        Some(session.clone())
    }

    /// Ends the session of a cookie token (logout).
    pub(crate) fn end(&mut self, token: &str) {
        self.by_digest.remove(&digest(token));
    }

    /// Forgets expired sessions.
    fn expire(&mut self, now: Instant) {
        self.by_digest.retain(|_, s| s.expires() > now);
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.by_digest.len()
    }
}

/// The value of cookie `name` in a request's `Cookie` headers.
pub(crate) fn cookie<'h>(headers: &'h http::HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// The `Set-Cookie` value that gives the browser its session (`path`: the console's).
pub(crate) fn set_cookie(token: &str, path: &str, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!(
        "{COOKIE}={token}; Path={path}; HttpOnly; SameSite=Strict; Max-Age={}{secure}",
        LIFETIME.as_secs()
    )
}

/// The `Set-Cookie` value that removes it.
pub(crate) fn clear_cookie(path: &str) -> String {
    format!("{COOKIE}=; Path={path}; HttpOnly; SameSite=Strict; Max-Age=0")
}

/// Compares a presented CSRF token with the session's in constant time.
pub(crate) fn csrf_matches(expected: &str, presented: &[u8]) -> bool {
    let expected = expected.as_bytes();
    expected.len() == presented.len()
        && expected
            .iter()
            .zip(presented)
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Password;

    fn user() -> Arc<User> {
        Arc::new(User {
            name: "op".into(),
            password: Password::Plain("x".into()),
            read_only: false,
            admin: false,
            limits: Default::default(),
            acl: Default::default(),
        })
    }

    #[test]
    fn a_session_lives_while_used_and_ends_when_idle_or_old() {
        let mut sessions = Sessions::default();
        let t0 = Instant::now();
        let token = sessions.start(user(), t0);
        assert!(sessions.touch(&token, t0 + IDLE / 2).is_some());
        assert!(sessions.touch(&token, t0 + IDLE).is_some(), "use renews");
        assert!(sessions.touch("not-a-token", t0).is_none());
        assert!(
            sessions
                .touch(&token, t0 + IDLE * 2 + Duration::from_secs(1))
                .is_none(),
            "idle too long"
        );

        let token = sessions.start(user(), t0);
        let mut now = t0;
        while now < t0 + LIFETIME - IDLE {
            now += IDLE / 2;
            assert!(sessions.touch(&token, now).is_some());
        }
        assert!(sessions.touch(&token, t0 + LIFETIME).is_none(), "too old");
    }

    #[test]
    fn tokens_are_random_and_logout_ends_the_session() {
        let mut sessions = Sessions::default();
        let now = Instant::now();
        let a = sessions.start(user(), now);
        let b = sessions.start(user(), now);
        assert_ne!(a, b);
        assert!(a.len() >= 43);
        let csrf_a = sessions.touch(&a, now).map(|s| s.csrf);
        let csrf_b = sessions.touch(&b, now).map(|s| s.csrf);
        assert_ne!(csrf_a, csrf_b);
        sessions.end(&a);
        assert!(sessions.touch(&a, now).is_none());
        assert!(sessions.touch(&b, now).is_some());
    }

    #[test]
    fn the_table_is_bounded() {
        let mut sessions = Sessions::default();
        let now = Instant::now();
        for i in 0..MAX_SESSIONS + 10 {
            sessions.start(user(), now + Duration::from_millis(i as u64));
        }
        assert_eq!(sessions.len(), MAX_SESSIONS);
    }

    #[test]
    fn cookies_and_csrf() {
        let mut headers = http::HeaderMap::new();
        headers.append(
            http::header::COOKIE,
            http::HeaderValue::from_static("a=1; wari_console=tok; b=2"),
        );
        assert_eq!(cookie(&headers, COOKIE), Some("tok"));
        assert_eq!(cookie(&headers, "c"), None);
        let set = set_cookie("tok", "/console", false);
        assert!(set.contains("HttpOnly") && set.contains("SameSite=Strict"));
        assert!(!set.contains("Secure"));
        assert!(set_cookie("tok", "/console", true).ends_with("; Secure"));
        assert!(csrf_matches("abc", b"abc"));
        assert!(!csrf_matches("abc", b"abd"));
        assert!(!csrf_matches("abc", b"ab"));
    }
}
