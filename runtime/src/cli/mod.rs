//! Subcommands of the `wari` binary other than running the host.
//!
//! - [`app`]: `wari app deploy|list|rm|new`, a client of a running wari's `/ari/wasm`, and a
//!   scaffold for new app crates.

pub mod app;
mod client;
mod scaffold;
mod sdk_bundle;
