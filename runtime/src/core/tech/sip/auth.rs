//! Digest authentication of requests from endpoints (`type=auth`, `userpass`): challenges and
//! their verification, sans-IO (the time and the request's source address are inputs).
//!
//! A [`Challenger`] makes `WWW-Authenticate` values (RFC 7616 MD5, `qop="auth"`, an `opaque`)
//! and checks `Authorization` values against an [`Auth`]. Its nonces are stateless: the
//! challenge time and a keyed hash (SHA-256 with a random per-process secret) of that time,
//! the source IP address and the realm, so a nonce is only good from the address it was
//! sent to, for its realm, for [`NONCE_LIFETIME`] seconds (Asterisk's `nonce_lifetime`
//! default), and no state is kept per challenge. A process restart invalidates every nonce
//! (the client gets a new challenge).
//!
//! What Asterisk (res_pjsip) answers, which wari follows so that a scanner cannot learn
//! which user names exist:
//! - A request (other than ACK and CANCEL, which are never challenged) from an endpoint with
//!   an `auth` and without credentials: `401 Unauthorized` with a challenge in the auth's
//!   `realm`, or `asterisk` when it has none.
//! - A request that matches no endpoint (unknown user name, unknown address): the same `401`
//!   with a challenge in the default realm, as if the user existed (Asterisk's "artificial"
//!   endpoint and auth, whose check always fails). Its answer to that challenge gets another
//!   `401` with a fresh challenge, forever; never `403` or `404`. Use
//!   [`Challenger::challenge`] and [`Challenger::verify`] with `None` for the auth: the
//!   challenge has the same shape, and the verdict is always [`Verdict::Rejected`] (or
//!   [`Verdict::Malformed`]) after the same work as for a known user. (An auth with its own
//!   `realm` is told apart by that realm, in Asterisk too.)
//! - A wrong password or user name: `401` with a fresh challenge (Asterisk logs "Failed to
//!   authenticate"), the same answer as for an unknown user.
//! - Right credentials on an expired nonce, or on a nonce that is not the server's (e.g.
//!   from before a restart): `401` with a fresh challenge marked `stale=true`, so the client
//!   retries without asking its user: [`Verdict::Stale`].
//! - Right credentials on a valid nonce: the request proceeds ([`Verdict::Accepted`]).
//!
//! A [`Verdict::Malformed`] header (not Digest, missing fields, an algorithm or qop that was
//! not offered) is answered like a rejection: `401` with a fresh challenge.

// Used by the technology's call handling (core/tech/sip/call), which lands separately;
// drop this once it does.

use std::fmt::Write as _;
use std::net::IpAddr;

use md5::{Digest as _, Md5};
use rsipstack::sip::headers::typed::tokenizers::AuthTokenizer;
use rsipstack::sip::uri::parse_uri;
use sha2::{Digest as _, Sha256};

use crate::config::pjsip_conf::{Auth, DEFAULT_REALM};

/// Seconds a nonce stays good (Asterisk's `nonce_lifetime` default).
pub(crate) const NONCE_LIFETIME: u64 = 32;

/// Longest `Authorization` value looked at; longer ones are [`Verdict::Malformed`].
const MAX_HEADER_LEN: usize = 4096;

/// What an `Authorization` value proves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Right credentials on a valid nonce of ours: let the request through.
    Accepted,
    /// Right credentials on an expired (or foreign) nonce: challenge again with `stale=true`.
    Stale,
    /// Wrong user name, realm, password, method or URI, or no such user: challenge again.
    Rejected,
    /// Not a Digest MD5 answer wari can check: challenge again.
    Malformed,
}

/// Makes challenges and checks their answers; one per process.
pub(crate) struct Challenger {
    /// Keys the nonces' hash: nobody else can make a nonce wari accepts.
    secret: [u8; 32],
    /// Sent with every challenge (RFC 7616 `opaque`); clients echo it, wari does not need it.
    opaque: String,
}

impl std::fmt::Debug for Challenger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Challenger").finish_non_exhaustive()
    }
}

impl Default for Challenger {
    fn default() -> Self {
        Self::new()
    }
}

/// The realm challenges for `auth` carry: its `realm`, else Asterisk's default; the
/// default for an unknown user.
pub(crate) fn realm(auth: Option<&Auth>) -> &str {
    auth.and_then(|a| a.realm.as_deref())
        .unwrap_or(DEFAULT_REALM)
}

/// The user name an `Authorization` value claims, if it parses (the tests read it; the
/// endpoint is found from the request's From, as Asterisk's default identifier does).
#[cfg(test)]
pub(crate) fn claimed_username(authorization: &str) -> Option<String> {
    Credentials::parse(authorization).map(|c| c.username.to_string())
}

impl Challenger {
    /// A challenger with a random secret (from the operating system's generator).
    pub(crate) fn new() -> Self {
        let mut secret = [0u8; 32];
        secret[..16].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
        secret[16..].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
        Self::with_secret(secret)
    }

    /// A challenger with a given secret (tests).
    pub(crate) fn with_secret(secret: [u8; 32]) -> Self {
        let opaque = hex(&Sha256::digest([&secret[..], b"opaque"].concat())[..8]);
        Challenger { secret, opaque }
    }

    /// A `WWW-Authenticate` value challenging a request from `source` at `now` (Unix
    /// seconds) for `auth` (None: a user that does not exist, challenged the same way).
    /// `stale` marks a challenge answering [`Verdict::Stale`].
    pub(crate) fn challenge(
        &self,
        auth: Option<&Auth>,
        source: IpAddr,
        now: u64,
        stale: bool,
    ) -> String {
        let realm = realm(auth);
        let nonce = self.nonce(now, source, realm);
        let mut value = format!(
            "Digest realm=\"{}\", nonce=\"{nonce}\", opaque=\"{}\", algorithm=MD5, qop=\"auth\"",
            quote(realm),
            self.opaque
        );
        if stale {
            value.push_str(", stale=true");
        }
        value
    }

    /// Checks an `Authorization` value on a request with `method` and `request_uri` (as
    /// received) from `source` at `now` (Unix seconds) against `auth` (None: the user does
    /// not exist; the same work is done and the answer is [`Verdict::Rejected`]).
    pub(crate) fn verify(
        &self,
        authorization: &str,
        method: &str,
        request_uri: &str,
        auth: Option<&Auth>,
        source: IpAddr,
        now: u64,
    ) -> Verdict {
        let Some(credentials) = Credentials::parse(authorization) else {
            return Verdict::Malformed;
        };
        let expected_realm = realm(auth);
        // For an unknown user, check against a password nobody has, so the work (and the
        // time it takes) is the same.
        let (username, password) = match auth {
            Some(auth) => (auth.username.as_str(), auth.password.as_str()),
            None => (credentials.username, "\u{0}no such user\u{0}"),
        };
        let response = digest_response(
            username,
            expected_realm,
            password,
            method,
            credentials.uri,
            credentials.nonce,
            credentials.qop,
        );
        let right = constant_time_eq(response.as_bytes(), credentials.response.as_bytes())
            & constant_time_eq(credentials.username.as_bytes(), username.as_bytes())
            & (credentials.realm == expected_realm)
            & uri_matches(credentials.uri, request_uri)
            & auth.is_some();
        if !right {
            return Verdict::Rejected;
        }
        if self.nonce_is_fresh(credentials.nonce, source, expected_realm, now) {
            Verdict::Accepted
        } else {
            Verdict::Stale
        }
    }

    /// `<time>/<hash>`: the hash of the secret, time, source address and realm.
    fn nonce(&self, time: u64, source: IpAddr, realm: &str) -> String {
        format!("{time}/{}", self.nonce_hash(time, source, realm))
    }

    fn nonce_hash(&self, time: u64, source: IpAddr, realm: &str) -> String {
        let mut hasher = Sha256::new();
        hasher.update(self.secret);
        hasher.update(format!("{time}:{source}:{realm}"));
        hex(&hasher.finalize()[..16])
    }

    /// True when `nonce` is one of ours for `source` and `realm`, made at most
    /// [`NONCE_LIFETIME`] seconds before `now`.
    fn nonce_is_fresh(&self, nonce: &str, source: IpAddr, realm: &str, now: u64) -> bool {
        let Some((time, hash)) = nonce.split_once('/') else {
            return false;
        };
        let Ok(time) = time.parse::<u64>() else {
            return false;
        };
        let ours = constant_time_eq(
            self.nonce_hash(time, source, realm).as_bytes(),
            hash.as_bytes(),
        );
        ours && time <= now && now - time <= NONCE_LIFETIME
    }
}

/// The fields of a Digest `Authorization` value that wari checks.
#[derive(Debug)]
struct Credentials<'a> {
    username: &'a str,
    realm: &'a str,
    nonce: &'a str,
    /// The `uri` as the client wrote it (its hash covers this text).
    uri: &'a str,
    response: &'a str,
    /// `Some((nc, cnonce))` for `qop=auth`, None for RFC 2069 answers without qop.
    qop: Option<(&'a str, &'a str)>,
}

impl<'a> Credentials<'a> {
    fn parse(value: &'a str) -> Option<Self> {
        if value.len() > MAX_HEADER_LEN {
            return None;
        }
        let tokens = AuthTokenizer::parse(value).ok()?;
        if !tokens.scheme.eq_ignore_ascii_case("digest") {
            return None;
        }
        let find = |name: &str| {
            tokens
                .params
                .iter()
                .find(|(key, _)| key.trim().eq_ignore_ascii_case(name))
                .map(|(_, value)| *value)
        };
        if let Some(algorithm) = find("algorithm")
            && !algorithm.eq_ignore_ascii_case("md5")
        {
            return None;
        }
        let qop = match find("qop") {
            None => None,
            Some(qop) if qop.eq_ignore_ascii_case("auth") => {
                let nc = find("nc")?;
                let valid_nc = nc.len() == 8 && nc.bytes().all(|b| b.is_ascii_hexdigit());
                if !valid_nc {
                    return None;
                }
                Some((nc, find("cnonce").filter(|c| !c.is_empty())?))
            }
            Some(_) => return None,
        };
        let response = find("response")?;
        if response.len() != 32 {
            return None;
        }
        Some(Credentials {
            username: find("username")?,
            realm: find("realm")?,
            nonce: find("nonce")?,
            uri: find("uri").filter(|u| !u.is_empty())?,
            response,
            qop,
        })
    }
}

/// The Digest `uri` names the request's URI: the same text (ASCII case aside), or the same
/// URI once both are parsed (the request's may have been parsed and printed again).
fn uri_matches(digest_uri: &str, request_uri: &str) -> bool {
    let (digest_uri, request_uri) = (digest_uri.trim(), request_uri.trim());
    if digest_uri.eq_ignore_ascii_case(request_uri) {
        return true;
    }
    match (parse_uri(digest_uri), parse_uri(request_uri)) {
        (Ok(digest), Ok(request)) => {
            digest == request
                || digest
                    .to_string()
                    .eq_ignore_ascii_case(&request.to_string())
        }
        _ => false,
    }
}

/// RFC 7616 MD5 `response`: with `qop=auth` (nc, cnonce) or without (RFC 2069).
fn digest_response(
    username: &str,
    realm: &str,
    password: &str,
    method: &str,
    uri: &str,
    nonce: &str,
    qop: Option<(&str, &str)>,
) -> String {
    let ha1 = md5_hex(&format!("{username}:{realm}:{password}"));
    let ha2 = md5_hex(&format!("{method}:{uri}"));
    match qop {
        Some((nc, cnonce)) => md5_hex(&format!("{ha1}:{nonce}:{nc}:{cnonce}:auth:{ha2}")),
        None => md5_hex(&format!("{ha1}:{nonce}:{ha2}")),
    }
}

fn md5_hex(text: &str) -> String {
    hex(&Md5::digest(text.as_bytes()))
}

fn hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        let _ = write!(out, "{byte:02x}");
    }
    out
}

/// Compares without stopping at the first difference (the time does not tell how much of
/// a guess was right); lower-case hex is compared as is (clients send lower case).
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Escapes `"` and `\` for a quoted-string.
fn quote(text: &str) -> String {
    text.replace('\\', "\\\\").replace('"', "\\\"")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::diagnostics::Location;

    const NOW: u64 = 1_800_000_000;

    fn source() -> IpAddr {
        "192.0.2.10".parse().expect("ip")
    }

    fn alice() -> Auth {
        Auth {
            name: "alice".into(),
            username: "alice".into(),
            password: "s3cret".into(),
            realm: None,
            location: Location::file(std::path::Path::new("pjsip.conf")),
        }
    }

    fn challenger() -> Challenger {
        Challenger::with_secret([7; 32])
    }

    /// The value of `name` in a challenge.
    fn param(challenge: &str, name: &str) -> String {
        let tokens = AuthTokenizer::parse(challenge).expect("challenge parses");
        tokens
            .params
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.to_string())
            .unwrap_or_else(|| panic!("{name} in {challenge}"))
    }

    /// What a client answers to `challenge` with `password`, for `method` and `uri`.
    fn answer(challenge: &str, user: &str, password: &str, method: &str, uri: &str) -> String {
        let realm = param(challenge, "realm");
        let nonce = param(challenge, "nonce");
        let response = digest_response(
            user,
            &realm,
            password,
            method,
            uri,
            &nonce,
            Some(("00000001", "c0ffee")),
        );
        format!(
            "Digest username=\"{user}\", realm=\"{realm}\", nonce=\"{nonce}\", uri=\"{uri}\", \
             response=\"{response}\", algorithm=MD5, cnonce=\"c0ffee\", nc=00000001, qop=auth, \
             opaque=\"{}\"",
            param(challenge, "opaque")
        )
    }

    #[test]
    fn the_rfc_2617_example_computes_its_response() {
        // RFC 2617 section 3.5 (qop=auth).
        assert_eq!(
            digest_response(
                "Mufasa",
                "testrealm@host.com",
                "Circle Of Life",
                "GET",
                "/dir/index.html",
                "dcd98b7102dd2f0e8b11d0f600bfb0c093",
                Some(("00000001", "0a4f113b")),
            ),
            "6629fae49393a05397450978507c4ef1"
        );
        // Without qop (RFC 2069 form): MD5(HA1:nonce:HA2), checked with Python's hashlib.
        assert_eq!(
            digest_response(
                "Mufasa",
                "testrealm@host.com",
                "Circle Of Life",
                "GET",
                "/dir/index.html",
                "dcd98b7102dd2f0e8b11d0f600bfb0c093",
                None,
            ),
            "670fd8c2df070c60b045671b8b24ff02"
        );
    }

    #[test]
    fn a_challenge_carries_realm_md5_qop_and_opaque() {
        let c = challenger();
        let value = c.challenge(Some(&alice()), source(), NOW, false);
        assert!(value.starts_with("Digest "), "{value}");
        assert_eq!(param(&value, "realm"), "asterisk");
        assert_eq!(param(&value, "algorithm"), "MD5");
        assert_eq!(param(&value, "qop"), "auth");
        assert!(!param(&value, "opaque").is_empty());
        assert!(param(&value, "nonce").starts_with(&format!("{NOW}/")));
        assert!(!value.contains("stale"));
        assert!(
            c.challenge(None, source(), NOW, true)
                .ends_with("stale=true")
        );

        let mut own = alice();
        own.realm = Some("pbx \"one\"".into());
        let value = c.challenge(Some(&own), source(), NOW, false);
        assert!(value.contains("realm=\"pbx \\\"one\\\"\""), "{value}");
    }

    #[test]
    fn the_right_answer_is_accepted_with_and_without_qop() {
        let c = challenger();
        let challenge = c.challenge(Some(&alice()), source(), NOW, false);
        let uri = "sip:100@192.0.2.1";
        let header = answer(&challenge, "alice", "s3cret", "INVITE", uri);
        let verdict = c.verify(&header, "INVITE", uri, Some(&alice()), source(), NOW + 5);
        assert_eq!(verdict, Verdict::Accepted);

        let nonce = param(&challenge, "nonce");
        let response = digest_response("alice", "asterisk", "s3cret", "INVITE", uri, &nonce, None);
        let old_style = format!(
            "Digest username=\"alice\",realm=\"asterisk\",nonce=\"{nonce}\",uri=\"{uri}\",response=\"{response}\""
        );
        let verdict = c.verify(&old_style, "INVITE", uri, Some(&alice()), source(), NOW);
        assert_eq!(verdict, Verdict::Accepted);
    }

    #[test]
    fn a_request_uri_printed_again_by_the_parser_still_matches() {
        let c = challenger();
        let challenge = c.challenge(Some(&alice()), source(), NOW, false);
        for written in [
            "sip:192.0.2.1",
            "sip:100@192.0.2.1:5060;transport=tcp",
            "sips:bob@example.com",
            "sip:+15551234@provider.example.com;user=phone",
            "sip:alice@[2001:db8::1]:5070",
        ] {
            let printed = parse_uri(written).expect("uri parses").to_string();
            let header = answer(&challenge, "alice", "s3cret", "INVITE", written);
            let verdict = c.verify(&header, "INVITE", &printed, Some(&alice()), source(), NOW);
            assert_eq!(verdict, Verdict::Accepted, "{written} printed as {printed}");
        }
    }

    #[test]
    fn wrong_password_user_realm_or_uri_is_rejected() {
        let c = challenger();
        let challenge = c.challenge(Some(&alice()), source(), NOW, false);
        let uri = "sip:100@192.0.2.1";
        let verify = |header: &str, request_uri: &str| {
            c.verify(header, "INVITE", request_uri, Some(&alice()), source(), NOW)
        };
        let wrong_password = answer(&challenge, "alice", "guess", "INVITE", uri);
        assert_eq!(verify(&wrong_password, uri), Verdict::Rejected);
        let wrong_user = answer(&challenge, "mallory", "s3cret", "INVITE", uri);
        assert_eq!(verify(&wrong_user, uri), Verdict::Rejected);
        let right = answer(&challenge, "alice", "s3cret", "INVITE", uri);
        assert_eq!(verify(&right, "sip:200@192.0.2.1"), Verdict::Rejected);
        let other_realm = right.replace("realm=\"asterisk\"", "realm=\"elsewhere\"");
        assert_eq!(verify(&other_realm, uri), Verdict::Rejected);
    }

    #[test]
    fn a_replay_for_another_method_is_rejected() {
        let c = challenger();
        let challenge = c.challenge(Some(&alice()), source(), NOW, false);
        let uri = "sip:192.0.2.1";
        let register = answer(&challenge, "alice", "s3cret", "REGISTER", uri);
        let as_register = c.verify(&register, "REGISTER", uri, Some(&alice()), source(), NOW);
        assert_eq!(as_register, Verdict::Accepted);
        let as_invite = c.verify(&register, "INVITE", uri, Some(&alice()), source(), NOW);
        assert_eq!(as_invite, Verdict::Rejected);
    }

    #[test]
    fn an_old_foreign_or_moved_nonce_is_stale() {
        let c = challenger();
        let challenge = c.challenge(Some(&alice()), source(), NOW, false);
        let uri = "sip:100@192.0.2.1";
        let header = answer(&challenge, "alice", "s3cret", "INVITE", uri);
        let at =
            |now: u64, from: IpAddr| c.verify(&header, "INVITE", uri, Some(&alice()), from, now);
        assert_eq!(at(NOW + NONCE_LIFETIME, source()), Verdict::Accepted);
        assert_eq!(at(NOW + NONCE_LIFETIME + 1, source()), Verdict::Stale);
        assert_eq!(at(NOW - 1, source()), Verdict::Stale, "from the future");
        let elsewhere: IpAddr = "198.51.100.7".parse().expect("ip");
        assert_eq!(
            at(NOW, elsewhere),
            Verdict::Stale,
            "nonce bound to the source"
        );

        // Another process (a restart) does not know the nonce.
        let restarted = Challenger::with_secret([8; 32]);
        let verdict = restarted.verify(&header, "INVITE", uri, Some(&alice()), source(), NOW);
        assert_eq!(verdict, Verdict::Stale);

        // A nonce made up by the client.
        let nonce = param(&challenge, "nonce");
        let forged = format!("{NOW}/00000000000000000000000000000000");
        let made_up = answer(
            &challenge.replace(&nonce, &forged),
            "alice",
            "s3cret",
            "INVITE",
            uri,
        );
        let verdict = c.verify(&made_up, "INVITE", uri, Some(&alice()), source(), NOW);
        assert_eq!(verdict, Verdict::Stale);
    }

    #[test]
    fn an_unknown_user_is_challenged_alike_and_always_rejected() {
        let c = challenger();
        let known = c.challenge(Some(&alice()), source(), NOW, false);
        let unknown = c.challenge(None, source(), NOW, false);
        assert_eq!(known, unknown, "nothing tells the two apart");
        let uri = "sip:100@192.0.2.1";
        let header = answer(&unknown, "ghost", "anything", "INVITE", uri);
        assert_eq!(
            c.verify(&header, "INVITE", uri, None, source(), NOW),
            Verdict::Rejected
        );
        assert_eq!(claimed_username(&header).as_deref(), Some("ghost"));
    }

    #[test]
    fn garbage_is_malformed() {
        let c = challenger();
        let uri = "sip:100@192.0.2.1";
        let challenge = c.challenge(Some(&alice()), source(), NOW, false);
        let good = answer(&challenge, "alice", "s3cret", "INVITE", uri);
        let long = format!("{good}, x=\"{}\"", "a".repeat(MAX_HEADER_LEN));
        for header in [
            "",
            "Basic YWxpY2U6czNjcmV0",
            "Digest",
            "Digest username",
            "Digest username=\"alice\", realm=\"asterisk\"",
            "Digest \u{0}\u{ff}=\"",
            &good.replace("algorithm=MD5", "algorithm=SHA-256"),
            &good.replace("qop=auth", "qop=auth-int"),
            &good.replace("nc=00000001", "nc=1"),
            &good.replace("cnonce=\"c0ffee\", ", ""),
            &long,
        ] {
            assert_eq!(
                c.verify(header, "INVITE", uri, Some(&alice()), source(), NOW),
                Verdict::Malformed,
                "{header:?}"
            );
        }
        assert_eq!(claimed_username("junk"), None);

        // Every prefix of a good answer (with multi-byte text in it) is checked without
        // panicking, and none is accepted before the answer is complete (the echoed
        // `opaque` at its end is not needed).
        let uri = "sip:ünï@192.0.2.1";
        let whole = answer(&challenge, "alice", "s3cret", "INVITE", uri);
        let complete = whole.find(", opaque").expect("opaque is last");
        for (end, _) in whole.char_indices().take_while(|(i, _)| *i < complete) {
            let verdict = c.verify(&whole[..end], "INVITE", uri, Some(&alice()), source(), NOW);
            assert_ne!(verdict, Verdict::Accepted, "{:?}", &whole[..end]);
        }
        let verdict = c.verify(&whole, "INVITE", uri, Some(&alice()), source(), NOW);
        assert_eq!(verdict, Verdict::Accepted);
    }
}
