//! wari: a host that speaks the Asterisk REST Interface (ARI) and, in time, runs call-control
//! applications as sandboxed WebAssembly components.
//!
//! Data flows one way: transports ([`http`]) hand requests to the ARI pipeline ([`ari`]),
//! whose handlers act on the telephony [`core`]; configuration ([`config`]) shapes all of it.
//! What must outlive a crash is written through [`store`] first.

pub mod acl;
pub mod ari;
pub mod config;
pub mod core;
pub mod events;
pub mod fd_limit;
pub mod host;
pub mod http;
pub mod log_text;
pub mod media;
pub mod store;
pub mod wasm;
