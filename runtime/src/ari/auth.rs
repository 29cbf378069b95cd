//! Who is asking: credentials from HTTP Basic or `api_key`, checked against ari.conf users
//! (plain or crypt passwords).
//!
//! Crypt hashes are deliberately slow; a verified (user, password) pair is remembered by its
//! SHA-256 digest so that a client sending the same credentials on every request does not pay
//! for the hash each time. Only successes are cached, and the cache is bounded.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use base64::Engine;
use http::HeaderMap;
use sha2::{Digest, Sha256};

use super::params::Params;
use crate::config::{Password, User};

/// Most crypt verifications remembered at once.
const CACHE_LIMIT: usize = 4096;

/// A user name and password as presented by a client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The user name, matched against ari.conf's `type = user` sections.
    pub user: String,
    /// The password as sent, in clear; checked against the user's plain or crypt password.
    pub password: String,
}

/// Extracts credentials: a well-formed `Authorization: Basic` header first (authoritative
/// when present), otherwise the first `api_key=user:password` parameter.
pub fn credentials(headers: &HeaderMap, params: &Params) -> Option<Credentials> {
    if let Some(basic) = basic_credentials(headers) {
        return Some(basic);
    }
    let (user, password) = params.api_key()?.split_once(':')?;
    (!password.is_empty()).then(|| Credentials {
        user: user.to_string(),
        password: password.to_string(),
    })
}

/// The `Authorization` value a client sends for HTTP Basic: `Basic base64(user:password)`
/// (the outbound WebSocket connector and the CLI client use it).
pub fn basic_authorization(user: &str, password: &str) -> String {
    let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    format!("Basic {encoded}")
}

fn basic_credentials(headers: &HeaderMap) -> Option<Credentials> {
    parse_authorization(headers)?.ok()
}

/// Why the request's `Authorization` header is ignored, when it has one that is not a
/// usable `Basic` header (the request then authenticates as if it had none).
pub fn unusable_authorization(headers: &HeaderMap) -> Option<&'static str> {
    parse_authorization(headers)?.err()
}

/// The credentials of a `Basic` `Authorization` header, or why it cannot be used; `None`
/// without the header.
fn parse_authorization(headers: &HeaderMap) -> Option<Result<Credentials, &'static str>> {
    let value = headers.get(http::header::AUTHORIZATION)?.as_bytes();
    Some(parse_basic(value))
}

fn parse_basic(value: &[u8]) -> Result<Credentials, &'static str> {
    let encoded = value
        .strip_prefix(b"Basic ")
        .ok_or("not the Basic scheme")?;
    let mut decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim_ascii())
        .map_err(|_| "invalid base64")?;
    decoded.truncate(255);
    let text = String::from_utf8(decoded).map_err(|_| "not UTF-8")?;
    let (user, password) = text
        .split_once(':')
        .ok_or("no ':' between user name and password")?;
    Ok(Credentials {
        user: user.to_string(),
        password: password.to_string(),
    })
}

/// Checks credentials against the configured users.
#[derive(Debug)]
pub struct Authenticator {
    users: HashMap<String, Arc<User>>,
    verified: Mutex<HashSet<[u8; 32]>>,
}

impl Authenticator {
    /// An authenticator for these users.
    pub fn new(users: HashMap<String, Arc<User>>) -> Authenticator {
        Authenticator {
            users,
            verified: Mutex::new(HashSet::new()),
        }
    }

    /// The user these credentials belong to, if the password is right.
    pub fn authenticate(&self, credentials: &Credentials) -> Option<Arc<User>> {
        let user = self.users.get(&credentials.user)?;
        let ok = match &user.password {
            Password::Plain(expected) => {
                constant_time_eq(expected.as_bytes(), credentials.password.as_bytes())
            }
            Password::Crypt(hash) => {
                self.verify_crypt(&credentials.user, &credentials.password, hash)
            }
        };
        ok.then(|| user.clone())
    }

    fn verify_crypt(&self, user: &str, password: &str, hash: &str) -> bool {
        let mut digest = Sha256::new();
        digest.update(user.as_bytes());
        digest.update([0u8]);
        digest.update(password.as_bytes());
        digest.update([0u8]);
        digest.update(hash.as_bytes());
        let key: [u8; 32] = digest.finalize().into();
        {
            let cache = self.verified.lock().unwrap_or_else(|p| p.into_inner());
            if cache.contains(&key) {
                return true;
            }
        }
        if !off_worker(|| pwhash::unix::verify(password, hash)) {
            return false;
        }
        let mut cache = self.verified.lock().unwrap_or_else(|p| p.into_inner());
        if cache.len() >= CACHE_LIMIT {
            cache.clear();
        }
        cache.insert(key);
        true
    }
}

/// Runs CPU-heavy work (a crypt hash takes milliseconds) without holding up the other tasks
/// of an async worker: on the multi-threaded runtime the worker hands its tasks to another
/// thread for the duration; elsewhere (single-threaded tests, no runtime) it simply runs.
fn off_worker<T>(work: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current() {
        Ok(handle) if handle.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(work)
        }
        _ => work(),
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::acl::Acl;

    fn headers(auth: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            http::header::AUTHORIZATION,
            http::HeaderValue::from_str(auth).expect("header"),
        );
        h
    }

    fn b64(s: &str) -> String {
        base64::engine::general_purpose::STANDARD.encode(s)
    }

    fn params(query: &str) -> Params {
        Params::parse(Some(query), None, b"").expect("params")
    }

    #[test]
    fn basic_header_splits_at_first_colon() {
        let c = credentials(&headers(&format!("Basic {}", b64("u:p:q"))), &params(""));
        assert_eq!(
            c,
            Some(Credentials {
                user: "u".into(),
                password: "p:q".into()
            })
        );
    }

    #[test]
    fn malformed_basic_falls_back_to_api_key() {
        let p = params("api_key=a:b");
        for bad in [
            "Basic !!!",
            &format!("Basic {}", b64("nocolon")),
            "Bearer x",
        ] {
            let c = credentials(&headers(bad), &p);
            assert_eq!(c.map(|c| c.user), Some("a".to_string()), "{bad}");
            assert!(unusable_authorization(&headers(bad)).is_some(), "{bad}");
        }
    }

    #[test]
    fn well_formed_basic_is_authoritative() {
        let c = credentials(
            &headers(&format!("Basic {}", b64("x:y"))),
            &params("api_key=a:b"),
        );
        assert_eq!(c.map(|c| c.user), Some("x".to_string()));
        assert_eq!(
            unusable_authorization(&headers(&format!("Basic {}", b64("x:y")))),
            None
        );
        assert_eq!(unusable_authorization(&HeaderMap::new()), None);
    }

    #[test]
    fn api_key_with_empty_password_is_absent() {
        assert_eq!(credentials(&HeaderMap::new(), &params("api_key=a:")), None);
        assert_eq!(credentials(&HeaderMap::new(), &params("api_key=a")), None);
    }

    fn auth_with(password: Password) -> Authenticator {
        let user = User {
            name: "u".into(),
            password,
            read_only: false,
            admin: false,
            limits: crate::config::user_limits::UserLimits::default(),
            acl: Acl::default(),
        };
        Authenticator::new(HashMap::from([("u".to_string(), Arc::new(user))]))
    }

    fn creds(user: &str, password: &str) -> Credentials {
        Credentials {
            user: user.into(),
            password: password.into(),
        }
    }

    #[test]
    fn plain_and_crypt_passwords_verify() {
        let plain = auth_with(Password::Plain("secret".into()));
        assert!(plain.authenticate(&creds("u", "secret")).is_some());
        assert!(plain.authenticate(&creds("u", "Secret")).is_none());
        assert!(plain.authenticate(&creds("v", "secret")).is_none());

        let hash = pwhash::sha512_crypt::hash("secret").expect("hash");
        let crypt = auth_with(Password::Crypt(hash));
        assert!(crypt.authenticate(&creds("u", "secret")).is_some());
        assert!(
            crypt.authenticate(&creds("u", "secret")).is_some(),
            "cached"
        );
        assert!(crypt.authenticate(&creds("u", "wrong")).is_none());
    }
}
