//! wari: a host that speaks the Asterisk REST Interface (ARI) and, in time, runs call-control
//! applications as sandboxed WebAssembly components.
//!
//! Data flows one way: transports ([`http`], the WebSockets of [`events`]) hand requests to
//! the ARI pipeline ([`ari`]), whose handlers act on the telephony [`core`]; the core's
//! events go out to the Stasis applications registered with it: WebSocket clients
//! ([`events`]) and WebAssembly apps ([`wasm`]), whose host calls run the same core
//! operations as the handlers. Where the pipeline and the
//! WebAssembly host meet (ARI's `/wasm` resource manages apps; an app's `ari.request` runs
//! through the pipeline) each depends only on a trait in [`host_api`], defined below both;
//! [`host`] wires them together. Configuration ([`config`]) shapes all of it. What must
//! outlive a crash is written through the crate's `store` first.

#![warn(missing_docs)]

pub mod acl;
pub mod ari;
pub mod config;
pub(crate) mod console;
pub mod core;
pub mod events;
pub(crate) mod fd_limit;
pub mod host;
pub mod host_api;
pub mod http;
pub mod log_text;
pub mod media;
pub(crate) mod store;
pub mod wasm;

/// A received SIP datagram through wari's parsing and header readings, for the
/// `sip_message` fuzz target.
#[doc(hidden)]
pub use crate::core::tech::sip::fuzz::fuzz_sip_message;
/// The SDP parser and answerer of SIP calls, for the `sdp` fuzz target.
#[doc(hidden)]
pub use crate::core::tech::sip::media::fuzz_sdp;
