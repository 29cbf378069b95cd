//! Subcommands of the `wari` binary other than running the host.
//!
//! - [`app`]: `wari app deploy|list|rm|new`, a client of a running wari's `/ari/wasm`, and a
//!   scaffold for new app crates.
//! - [`app_run`]: `wari app run`, an app on a wari of its own (with [`run_host`],
//!   [`test_call`] and [`watch`]).

pub mod app;
mod app_run;
mod client;
mod run_host;
mod scaffold;
mod test_call;
mod watch;
