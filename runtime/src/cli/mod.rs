//! Subcommands of the `wari` binary other than running the host.
//!
//! - [`app`]: `wari app deploy|list|rm|new|build`, a client of a running wari's `/ari/wasm`,
//!   a scaffold for new app crates, and the build of an app crate into a component.

pub mod app;
pub mod build;
mod client;
mod scaffold;
mod sdk_bundle;
