//! `PJSIP`: the SIP channel technology (issue 17), configured by `pjsip.conf`. Phones and
//! trunks call in (their channels run the endpoint's dialplan context) and are called out
//! to; media is RTP/AVP with G.711.
//!
//! - `transport`: the transports' sockets, bound at start, served by rsipstack.
//! - `dispatch`: every request arriving outside a transaction rsipstack already runs,
//!   routed by method (calls, REGISTER, OPTIONS, the rest refused).
//! - `call`: INVITE dialogs in and out and the channel [`Driver`](super::Driver).
//! - `auth`, `identify`, `causes`: sans-IO policy (digest challenges, which endpoint a
//!   source address is, SIP status <-> hangup cause).
//! - `media`: SDP offer/answer and each call's RTP/RTCP session and media edge.
//! - `registrar`, `qualify`, `registration`: contacts registering to us, OPTIONS pings,
//!   our registrations to providers.
//! - `dial_contacts`: the `PJSIP_DIAL_CONTACTS()` dialplan function.
//!
//! [`SipTech`] is the technology; once started, everything a request handler needs is in
//! one [`SipShared`] (configuration, the core's [`Handle`], rsipstack's endpoint and
//! dialog layer, the registrar).

pub(crate) mod auth;
pub(crate) mod call;
pub(crate) mod causes;
pub(crate) mod dial_contacts;
mod dispatch;
pub(crate) mod fuzz;
pub(crate) mod identify;
pub(crate) mod media;
pub(crate) mod qualify;
pub(crate) mod registrar;
pub(crate) mod registration;
pub(crate) mod transport;

use std::fmt;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, OnceLock};

use rsipstack::EndpointBuilder;
use rsipstack::dialog::dialog_layer::DialogLayer;
use rsipstack::platform::CancellationToken;
use rsipstack::transaction::endpoint::EndpointInnerRef;
use rsipstack::transport::TransportLayer;

use super::{ContactView, Context, Handle, Request, StopWork, TechError, Technology};
use crate::config::pjsip_conf::PjsipConfig;
use crate::core::{ControlReceiver, CoreError};
pub(crate) use transport::Listening;

/// The technology's name in dial strings and channel names.
pub(crate) const TECHNOLOGY: &str = "PJSIP";

/// What wari says it is in `User-Agent` and `Server` headers.
pub(crate) fn user_agent() -> String {
    format!("wari {}", env!("CARGO_PKG_VERSION"))
}

/// What every request handler of the running technology reaches.
pub(crate) struct SipShared {
    /// `pjsip.conf` as loaded.
    pub(crate) config: Arc<PjsipConfig>,
    /// The way back into the core.
    pub(crate) core: Handle,
    /// rsipstack's endpoint (transactions, transports, timers).
    pub(crate) endpoint: EndpointInnerRef,
    /// rsipstack's dialogs (INVITE dialogs in and out).
    pub(crate) dialogs: Arc<DialogLayer>,
    /// Where each transport listens.
    pub(crate) listening: Vec<Listening>,
    /// The transports' external addresses (`external_*`, `local_net`).
    pub(crate) externals: Arc<transport::external::Externals>,
    /// Contacts registered to us, and where calls to an endpoint go
    /// ([`registrar::Registrar::contacts_of`]).
    pub(crate) registrar: Arc<registrar::Registrar>,
    /// wari's registrations to providers (`type=registration`).
    pub(crate) registrations: registration::Registrations,
    /// Digest challenges and their checks (every request from an endpoint with `auth`).
    pub(crate) challenger: auth::Challenger,
    /// Source address -> endpoint (`type=identify`).
    pub(crate) identifier: identify::Identifier,
    /// The calls in progress, by dialog.
    pub(crate) calls: Arc<call::Calls>,
    /// The next channel number (`PJSIP/alice-00000000`, `-00000001`, ...).
    next_channel: AtomicU32,
    /// Cancelled when the technology stops: ends every task it started.
    pub(crate) cancel: CancellationToken,
}

impl fmt::Debug for SipShared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SipShared")
            .field("listening", &self.listening)
            .finish_non_exhaustive()
    }
}

impl SipShared {
    /// A new channel's name on `endpoint`.
    pub(crate) fn channel_name(&self, endpoint: &str) -> String {
        call::parties::channel_name(endpoint, self.next_channel.fetch_add(1, Ordering::Relaxed))
    }

    /// The address a call's SDP gives `peer` (None: known by name only) for media over the
    /// transport at `local`: `external_media_address` when it applies, else `bound`.
    pub(crate) fn media_address(
        &self,
        local: std::net::SocketAddr,
        bound: std::net::IpAddr,
        peer: Option<std::net::IpAddr>,
    ) -> std::net::IpAddr {
        self.externals.media_address(local, peer).unwrap_or(bound)
    }

    /// Seconds since the Unix epoch (digest nonces' clock).
    pub(crate) fn unix_now() -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or_default()
    }
}

/// The `PJSIP` technology.
#[derive(Debug)]
pub(crate) struct SipTech {
    config: Arc<PjsipConfig>,
    running: OnceLock<Arc<SipShared>>,
}

/// Why the technology could not start.
#[derive(Debug, thiserror::Error)]
enum SipStartError {
    #[error(transparent)]
    Transport(#[from] transport::TransportError),
    #[error("SIP needs the async runtime")]
    NoRuntime,
    #[error("SIP transports cannot be served: {0}")]
    Serve(std::io::Error),
    #[error("started twice")]
    Twice,
}

impl SipTech {
    /// The technology for `config` (which has at least one transport).
    pub(crate) fn new(config: Arc<PjsipConfig>) -> SipTech {
        SipTech {
            config,
            running: OnceLock::new(),
        }
    }

    /// Where the transports listen, once started (for wari's banner).
    pub(crate) fn listening(&self) -> Vec<Listening> {
        self.running
            .get()
            .map(|shared| shared.listening.clone())
            .unwrap_or_default()
    }

    fn start_inner(&self, ctx: &mut Context<'_>) -> Result<(), SipStartError> {
        if self.running.get().is_some() {
            return Err(SipStartError::Twice);
        }
        let runtime =
            tokio::runtime::Handle::try_current().map_err(|_| SipStartError::NoRuntime)?;
        let bound = transport::bind_all(&self.config.transports)?;
        let listening: Vec<Listening> = bound.iter().map(|b| b.listening().clone()).collect();
        let externals = Arc::new(transport::external::Externals::resolve(
            &self.config.transports,
            &listening,
        )?);
        let _entered = runtime.enter();
        let cancel = CancellationToken::new();
        let layer = TransportLayer::new(cancel.child_token());
        let streams =
            transport::attach_udp(&layer, bound, &cancel).map_err(SipStartError::Serve)?;
        let mut builder = EndpointBuilder::new();
        builder
            .with_user_agent(&user_agent())
            .with_transport_layer(layer)
            .with_cancel_token(cancel.child_token())
            .with_allows(dispatch::ALLOWED.to_vec());
        let calls = Arc::new(call::Calls::default());
        builder.with_inspector(Box::new(dispatch::Inspector::new(
            &externals,
            calls.clone(),
        )));
        let endpoint = builder.build();
        transport::serve_streams(&endpoint.inner, streams, &cancel)
            .map_err(SipStartError::Serve)?;
        let incoming = endpoint
            .incoming_transactions()
            .map_err(|e| SipStartError::Serve(std::io::Error::other(e.to_string())))?;
        let shared = Arc::new(SipShared {
            config: self.config.clone(),
            core: ctx.handle(),
            endpoint: endpoint.inner.clone(),
            dialogs: Arc::new(DialogLayer::new(endpoint.inner.clone())),
            listening,
            externals,
            // Makes every endpoint known to the core, offline until a contact registers.
            registrar: registrar::Registrar::start(self.config.clone(), ctx),
            registrations: registration::Registrations::start(&self.config, &endpoint.inner),
            challenger: auth::Challenger::new(),
            identifier: identify::Identifier::new(&self.config),
            calls,
            next_channel: AtomicU32::new(0),
            cancel,
        });
        qualify::start(
            &shared.registrar,
            qualify::rsipstack_pinger(shared.endpoint.clone()),
            shared.cancel.child_token(),
        );
        for l in &shared.listening {
            tracing::info!(transport = %l.name, address = %l.address, protocol = l.protocol, "SIP transport listening");
        }
        transport::serve_endpoint(endpoint, &shared.listening);
        tokio::spawn(dispatch::serve(shared.clone(), incoming));
        self.running.set(shared).map_err(|_| SipStartError::Twice)
    }
}

impl Technology for SipTech {
    fn name(&self) -> &'static str {
        TECHNOLOGY
    }

    fn start(&self, ctx: &mut Context<'_>) -> Result<(), TechError> {
        self.start_inner(ctx).map_err(Into::into)
    }

    fn stopping(&self) -> Option<StopWork> {
        // Unregisters first (Expires: 0), while the transports still run.
        let shared = self.running.get()?.clone();
        Some(Box::pin(async move {
            shared
                .registrations
                .stop(registration::UNREGISTER_WAIT)
                .await;
        }))
    }

    fn stop(&self, _ctx: &mut Context<'_>) {
        if let Some(shared) = self.running.get() {
            // Registrations still running (no `stopping` awaited) end without waiting.
            shared.registrations.cancel();
            shared.cancel.cancel();
        }
    }

    fn contacts(&self) -> Vec<ContactView> {
        self.running
            .get()
            .map(|shared| shared.registrar.views(std::time::Instant::now()))
            .unwrap_or_default()
    }

    fn read_function(&self, function: &str, args: &str) -> Option<String> {
        if function != dial_contacts::FUNCTION {
            return None;
        }
        let shared = self.running.get()?;
        dial_contacts::read(&shared.config, &shared.registrar, args)
            .inspect_err(|error| {
                tracing::warn!(args = %args.escape_debug(), "{}() cannot be read: {error}", dial_contacts::FUNCTION);
            })
            .ok()
    }

    fn request(
        &self,
        ctx: &mut Context<'_>,
        request: &Request,
    ) -> Result<(Arc<str>, ControlReceiver), CoreError> {
        let shared = self
            .running
            .get()
            .ok_or_else(|| CoreError::Internal("SIP is not running".into()))?;
        call::outbound::request(shared, ctx, request)
    }
}
