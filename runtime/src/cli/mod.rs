//! Subcommands of the `wari` binary other than running the host.
//!
//! - [`app`]: `wari app deploy|list|rm|rollback|new|build`, a client of a running wari's
//!   `/ari/wasm`, a scaffold for new app crates, and the build of an app crate into a component.
//! - [`app_logs`]: `wari app logs`, an app's log, printed or followed.

pub mod app;
pub mod app_logs;
pub mod build;
mod client;
mod scaffold;
mod sdk_bundle;
