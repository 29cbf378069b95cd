//! wari's own registrations to providers (`type=registration`): REGISTER with `outbound_auth`, refresh, retry.
//!
//! Each registration is a task driving a [`machine::Machine`] (the rules, sans-IO) with
//! rsipstack's client `Registration` (which builds the REGISTER, answers a 401/407 with
//! the digest of `outbound_auth` and reports the expiry the server granted):
//! - Request-URI `server_uri`; From/To carry the `client_uri`'s user at the server's
//!   host (rsipstack builds them from the server URI and the user name); Contact
//!   `sip:<contact_user or s>@<our address>` as Asterisk's default `contact_user`.
//! - Refresh, retries and giving up as the machine says; every status change is logged
//!   (Asterisk shows these only in logs and AMI `Registry` events: no ARI event exists).
//! - On stop: `Expires: 0` when registered, waited for at most [`UNREGISTER_WAIT`]
//!   (best effort: wari exits right after), awaited without the core's lock
//!   (`Technology::stopping`), so calls and ARI go on meanwhile.

pub(crate) mod machine;

use std::sync::Mutex;
use std::time::Duration;

use rsipstack::dialog::authenticate::Credential;
use rsipstack::dialog::registration::Registration as Client;
use rsipstack::platform::CancellationToken;
use rsipstack::sip::{Header, Param, StatusCodeKind, Uri};
use rsipstack::transaction::endpoint::EndpointInnerRef;
use tokio::sync::mpsc;

use super::transport::dial;
use crate::config::pjsip_conf::{PjsipConfig, Registration};
use machine::{Answer, Machine, Next, Options, Status};

/// How long a stop waits for the unregistrations to be answered.
pub(crate) const UNREGISTER_WAIT: Duration = Duration::from_secs(2);

/// Longest wait for a REGISTER's final answer (beyond rsipstack's own timer F).
const ANSWER_TIMEOUT: Duration = Duration::from_secs(40);

/// The running registrations; [`Registrations::stop`] unregisters them.
#[derive(Debug)]
pub(crate) struct Registrations {
    cancel: CancellationToken,
    /// Each task holds a sender; all dropped = all finished.
    finished: Mutex<Option<mpsc::Receiver<()>>>,
}

impl Registrations {
    /// Starts one task per `type=registration` of `config`.
    pub(crate) fn start(config: &PjsipConfig, endpoint: &EndpointInnerRef) -> Registrations {
        let cancel = CancellationToken::new();
        let (done, finished) = mpsc::channel(1);
        for registration in &config.registrations {
            let auth = registration
                .outbound_auth
                .as_deref()
                .and_then(|name| config.auth(name))
                .cloned();
            tokio::spawn(run(
                endpoint.clone(),
                registration.clone(),
                auth,
                cancel.clone(),
                done.clone(),
            ));
        }
        Registrations {
            cancel,
            finished: Mutex::new(Some(finished)),
        }
    }

    /// Unregisters every registration that is registered, waiting at most `wait` for
    /// their answers.
    pub(crate) async fn stop(&self, wait: Duration) {
        self.cancel();
        let finished = self
            .finished
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(mut finished) = finished {
            // `recv` is `None` once every task has ended (dropped its sender).
            let all_ended = async { while finished.recv().await.is_some() {} };
            if tokio::time::timeout(wait, all_ended).await.is_err() {
                tracing::info!(
                    ?wait,
                    "outbound registrations: not all unregistered in time"
                );
            }
        }
    }

    /// Tells every registration to stop (unregistering when registered), without waiting.
    pub(crate) fn cancel(&self) {
        self.cancel.cancel();
    }
}

/// The user part of a SIP URI, if any.
fn user_of(uri: &str) -> Option<String> {
    Uri::try_from(uri)
        .ok()
        .and_then(|u| u.user().map(str::to_string))
}

/// One registration, until it gives up or is stopped.
async fn run(
    endpoint: EndpointInnerRef,
    config: Registration,
    auth: Option<crate::config::pjsip_conf::Auth>,
    cancel: CancellationToken,
    _done: mpsc::Sender<()>,
) {
    let name = config.name.clone();
    let Ok(server) = Uri::try_from(config.server_uri.as_str()) else {
        tracing::warn!(registration = %name, server_uri = %config.server_uri.escape_debug(), "outbound registration: server_uri is not a SIP URI; not registering");
        return;
    };
    let user = user_of(&config.client_uri).unwrap_or_default();
    let credential = Credential {
        username: user,
        password: auth
            .as_ref()
            .map(|a| a.password.clone())
            .unwrap_or_default(),
        realm: auth.as_ref().and_then(|a| a.realm.clone()),
        auth_username: auth.as_ref().map(|a| a.username.clone()),
    };
    let mut client = Client::new(endpoint.clone(), Some(credential));
    if let Ok(via) = endpoint.get_via(None, None) {
        let contact_user = config.contact_user.clone().unwrap_or_else(|| "s".into());
        client.contact = Some(rsipstack::sip::typed::Contact {
            display_name: None,
            uri: Uri {
                scheme: Some(rsipstack::sip::Scheme::Sip),
                auth: Some(rsipstack::sip::Auth {
                    user: contact_user,
                    password: None,
                }),
                host_with_port: via.uri.host_with_port.clone(),
                params: via
                    .uri
                    .params
                    .iter()
                    .filter(|p| matches!(p, Param::Transport(_)))
                    .cloned()
                    .collect(),
                headers: Vec::new(),
            },
            params: Vec::new(),
        });
    }
    let mut machine = Machine::new(Options {
        expiration: config.expiration,
        retry_interval: config.retry_interval,
        forbidden_retry_interval: config.forbidden_retry_interval,
        max_retries: config.max_retries,
    });
    let mut next = machine.register();
    let mut stopping = false;
    loop {
        match next {
            Next::Send { expires } => {
                let before = machine.status();
                let answer = send(&endpoint, &mut client, &server, &config, expires).await;
                next = machine.answered(answer);
                report(&name, &config, before, machine.status(), answer);
                if cancel.is_cancelled() && !stopping && next != Next::Done {
                    stopping = true;
                    next = machine.stop();
                }
            }
            Next::After(wait) => {
                tokio::select! {
                    _ = tokio::time::sleep(wait) => next = machine.register(),
                    _ = cancel.cancelled() => {
                        stopping = true;
                        next = machine.stop();
                    }
                }
            }
            Next::Done => return,
        }
    }
}

/// Sends one REGISTER (with its digest answer if challenged) and reads the outcome. Over
/// TCP or TLS the connection is opened first (a TLS one with the registration's
/// `transport` settings): refused, no REGISTER is sent and the attempt fails at once, as
/// pjsip's transport error (Asterisk logs no response and retries after
/// `retry_interval`).
async fn send(
    endpoint: &EndpointInnerRef,
    client: &mut Client,
    server: &Uri,
    config: &Registration,
    expires: u32,
) -> Answer {
    if let Some(target) = dial::request_target(server).filter(dial::needs_connection)
        && let Err(error) = dial::connect(
            &endpoint.transport_layer,
            &target,
            config.transport.as_deref(),
        )
        .await
    {
        tracing::debug!(registration = %config.name, %error, "outbound REGISTER not sent");
        return Answer::NoResponse;
    }
    match tokio::time::timeout(
        ANSWER_TIMEOUT,
        client.register(server.clone(), Some(expires)),
    )
    .await
    {
        Ok(Ok(response)) if response.status_code.kind() != StatusCodeKind::Provisional => {
            let retry_after = response.headers.iter().find_map(|h| match h {
                Header::RetryAfter(r) => r
                    .value()
                    .trim()
                    .split(|c: char| !c.is_ascii_digit())
                    .next()
                    .and_then(|v| v.parse().ok()),
                _ => None,
            });
            Answer::Response {
                status: response.status_code.code(),
                granted: client.granted_expires,
                retry_after,
            }
        }
        Ok(Ok(_)) => Answer::NoResponse,
        Ok(Err(error)) => {
            tracing::debug!(%error, "outbound REGISTER failed");
            Answer::NoResponse
        }
        Err(_) => Answer::NoResponse,
    }
}

/// Logs a status change.
fn report(name: &str, config: &Registration, before: Status, after: Status, answer: Answer) {
    if before == after && after != Status::Rejected {
        return;
    }
    let code = match answer {
        Answer::Response { status, .. } => status,
        Answer::NoResponse => 408,
    };
    let (client, server) = (
        config.client_uri.escape_debug(),
        config.server_uri.escape_debug(),
    );
    let status = after.as_str();
    match after {
        Status::Registered | Status::Unregistered | Status::Stopped => {
            tracing::info!(registration = %name, %client, %server, code, "outbound registration: {status}")
        }
        Status::Rejected => {
            tracing::warn!(registration = %name, %client, %server, code, "outbound registration: {status}, retrying")
        }
        Status::RejectedPermanently => {
            tracing::warn!(registration = %name, %client, %server, code, "outbound registration: {status}, giving up")
        }
    }
}
