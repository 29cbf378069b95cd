//! The `PJSIP_DIAL_CONTACTS(endpoint[,aor[,request_user]])` dialplan function, as
//! Asterisk 23.4.1 reads it: one `PJSIP/[request_user@]endpoint/<contact URI>` per contact
//! of the AORs (the comma-separated `aor` argument, else the endpoint's `aors`) that
//! qualify has not found unreachable, joined by `&`, so that
//! `Dial(${PJSIP_DIAL_CONTACTS(alice)})` rings every phone registered as alice at once
//! (the first to answer wins, `Dial` cancels the others). No contact reads as "".
//! An endpoint that does not exist, or one without AORs and no `aor` argument, cannot be
//! read (Asterisk's function fails: the dialplan gets "", ARI an error).

use std::fmt::Write as _;

use super::TECHNOLOGY;
use super::registrar::Registrar;
use crate::config::pjsip_conf::PjsipConfig;

/// The function's name (upper case, as the core hands it over).
pub(crate) const FUNCTION: &str = "PJSIP_DIAL_CONTACTS";

/// Why the function cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum DialContactsError {
    #[error("an endpoint name is required")]
    NoEndpoint,
    #[error("endpoint {0:?} was not found")]
    UnknownEndpoint(String),
    #[error("no AOR was given and endpoint {0:?} has none")]
    NoAors(String),
}

/// The arguments, split as Asterisk splits application arguments (commas, each trimmed).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Args<'a> {
    endpoint: &'a str,
    /// The AOR name (one argument: commas separate the arguments).
    aor: Option<&'a str>,
    request_user: Option<&'a str>,
}

fn split(args: &str) -> Args<'_> {
    let mut parts = args.splitn(3, ',').map(str::trim);
    let mut next = || parts.next().filter(|p| !p.is_empty());
    Args {
        endpoint: next().unwrap_or_default(),
        aor: next(),
        request_user: next(),
    }
}

/// Reads the function with `args` (the text between the parentheses).
pub(crate) fn read(
    config: &PjsipConfig,
    registrar: &Registrar,
    args: &str,
) -> Result<String, DialContactsError> {
    let Args {
        endpoint,
        aor,
        request_user,
    } = split(args);
    if endpoint.is_empty() {
        return Err(DialContactsError::NoEndpoint);
    }
    let Some(found) = config.endpoint(endpoint) else {
        return Err(DialContactsError::UnknownEndpoint(endpoint.to_string()));
    };
    let contacts = match aor {
        Some(aors) => registrar.reachable_contacts(aors.split(',').map(str::trim)),
        None if found.aors.is_empty() => {
            return Err(DialContactsError::NoAors(endpoint.to_string()));
        }
        None => registrar.reachable_contacts(found.aors.iter().map(String::as_str)),
    };
    Ok(join(
        endpoint,
        request_user,
        contacts.iter().map(|c| c.uri.as_str()),
    ))
}

/// `PJSIP/[user@]endpoint/<uri>` for each URI, joined by `&`.
fn join<'u>(
    endpoint: &str,
    request_user: Option<&str>,
    uris: impl Iterator<Item = &'u str>,
) -> String {
    let user = request_user.map(|u| format!("{u}@")).unwrap_or_default();
    let mut out = String::new();
    for uri in uris {
        if !out.is_empty() {
            out.push('&');
        }
        let _ = write!(out, "{TECHNOLOGY}/{user}{endpoint}/{uri}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::registrar::fixtures::{aor, config, endpoint, started};
    use super::*;
    use crate::core::test_support::TestCore;

    #[test]
    fn arguments_are_endpoint_aor_and_request_user() {
        assert_eq!(
            split(" alice , office , 100 "),
            Args {
                endpoint: "alice",
                aor: Some("office"),
                request_user: Some("100")
            }
        );
        assert_eq!(
            split("alice,,100"),
            Args {
                endpoint: "alice",
                aor: None,
                request_user: Some("100")
            }
        );
        assert_eq!(
            split(""),
            Args {
                endpoint: "",
                aor: None,
                request_user: None
            }
        );
    }

    #[test]
    fn dial_strings_are_joined_by_ampersands() {
        let uris = ["sip:a@10.0.0.1:5060", "sip:b@10.0.0.2;transport=tcp"];
        assert_eq!(
            join("alice", None, uris.into_iter()),
            "PJSIP/alice/sip:a@10.0.0.1:5060&PJSIP/alice/sip:b@10.0.0.2;transport=tcp"
        );
        assert_eq!(
            join("trunk", Some("555"), uris[..1].iter().copied()),
            "PJSIP/555@trunk/sip:a@10.0.0.1:5060"
        );
        assert_eq!(join("alice", None, std::iter::empty()), "");
    }

    #[tokio::test]
    async fn every_reachable_contact_of_the_endpoints_aors_is_dialled() {
        let t = TestCore::new(false);
        let cfg = config(
            vec![
                endpoint("alice", &["desk", "mobile"], None),
                endpoint("lonely", &[], None),
            ],
            vec![
                aor("desk", 0, 30, &["sip:desk@10.0.0.1", "sip:desk2@10.0.0.2"]),
                aor("mobile", 0, 0, &["sip:mobile@10.0.0.3"]),
                aor("spare", 0, 0, &["sip:spare@10.0.0.4"]),
            ],
            vec![],
        );
        let r = started(&t, cfg.clone(), "alice");
        let read = |args: &str| read(&cfg, &r, args);
        assert_eq!(
            read("alice").as_deref(),
            Ok(
                "PJSIP/alice/sip:desk@10.0.0.1&PJSIP/alice/sip:desk2@10.0.0.2\
                &PJSIP/alice/sip:mobile@10.0.0.3"
            )
        );
        r.qualified("desk", "sip:desk@10.0.0.1", None);
        assert_eq!(
            read("alice").as_deref(),
            Ok("PJSIP/alice/sip:desk2@10.0.0.2&PJSIP/alice/sip:mobile@10.0.0.3"),
            "an unreachable contact is left out"
        );
        // An `aor` argument replaces the endpoint's (any AOR, unknown ones skipped).
        assert_eq!(
            read("alice,spare,7").as_deref(),
            Ok("PJSIP/7@alice/sip:spare@10.0.0.4")
        );
        assert_eq!(
            read("lonely,spare").as_deref(),
            Ok("PJSIP/lonely/sip:spare@10.0.0.4")
        );
        assert_eq!(read("alice,nosuch").as_deref(), Ok(""));
        assert_eq!(read(""), Err(DialContactsError::NoEndpoint));
        assert_eq!(
            read("bob"),
            Err(DialContactsError::UnknownEndpoint("bob".into()))
        );
        assert_eq!(
            read("lonely"),
            Err(DialContactsError::NoAors("lonely".into()))
        );
    }
}
