//! Subcommands of the `wari` binary other than running the host.
//!
//! - [`app`]: `wari app deploy|list|rm|rollback|new|build`, a client of a running wari's
//!   `/ari/wasm`, a scaffold for new app crates, and the build of an app crate into a component.
//! - [`app_logs`]: `wari app logs`, an app's log, printed or followed.
//! - [`app_run`]: `wari app run`, an app on a wari of its own (with [`run_host`],
//!   [`test_call`] and [`watch`]).

pub(crate) mod app;
pub(crate) mod app_logs;
mod app_run;
pub(crate) mod build;
mod client;
mod run_host;
mod scaffold;
mod sdk_bundle;
mod test_call;
mod watch;
