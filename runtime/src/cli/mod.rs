//! Subcommands of the `wari` binary other than running the host.
//!
//! - [`app`]: `wari app deploy|list|rm|new`, a client of a running wari's `/ari/wasm`, and a
//!   scaffold for new app crates.
//! - [`app_logs`]: `wari app logs`, an app's log, printed or followed.

pub mod app;
pub mod app_logs;
mod client;
mod scaffold;
