//! Write wari Stasis applications in Rust, as WebAssembly components.
//!
//! wari runs one instance of an app's component per call session (the channel that entered
//! the app, plus any channels the session originates) and hands it the session's events one
//! at a time. With this crate an app is a struct implementing [`App`], exported with
//! [`export_app!`]; it controls the call through the functions of [`call`] (and [`ari`] for
//! anything else), and has [`timers`], a [`log`] and a per-app [`kv`] store. These mirror the
//! interfaces of the contract, `wit/stasis.wit` (`wari:stasis@0.1.0`, world `stasis-app`).
//!
//! ```
//! use wari_guest_sdk::{App, Channel, HangupReason, TimerId, call, log, timers};
//!
//! /// Answers, says hello, and hangs up after ten seconds.
//! #[derive(Default)]
//! struct Hello {
//!     channel: Option<String>,
//! }
//!
//! impl App for Hello {
//!     fn on_stasis_start(&mut self, channel: &Channel, _args: &[String]) {
//!         if let Err(e) = call::answer(&channel.id) {
//!             log::error(&format!("answer failed: {e}"));
//!             return;
//!         }
//!         if let Err(e) = call::play(&channel.id, &["sound:hello-world"]) {
//!             log::warn(&format!("cannot play: {e}"));
//!         }
//!         timers::set_timer(10_000);
//!         self.channel = Some(channel.id.clone());
//!     }
//!
//!     fn on_timer(&mut self, _id: TimerId) {
//!         if let Some(channel) = &self.channel {
//!             let _ = call::hangup(channel, HangupReason::Normal);
//!         }
//!     }
//! }
//!
//! wari_guest_sdk::export_app!(Hello);
//! ```
//!
//! # Building
//!
//! An app crate has `crate-type = ["cdylib", "rlib"]` and is built for `wasm32-wasip2`,
//! which gives a component directly (see `scripts/build-guests` in the wari repository).
//! wari links WASI with nothing granted (no files, sockets or environment); stdout and stderr
//! go to the log, and clocks and random numbers work.
//!
//! # Testing
//!
//! On native targets the same functions go to a [`mock::MockHost`] instead, so an app's unit
//! tests run with plain `cargo test`: deliver events, then check the calls the app made.

#![warn(missing_docs)]

mod app;
pub mod ari;
pub mod call;
pub mod kv;
pub mod log;
pub mod timers;
mod types;

#[cfg(not(target_arch = "wasm32"))]
pub mod mock;
#[cfg(target_arch = "wasm32")]
mod wasm;

#[cfg(not(target_arch = "wasm32"))]
use mock as host;
#[cfg(target_arch = "wasm32")]
use wasm as host;

pub use app::{App, dispatch};
pub use types::{
    Bridge, CallerId, Channel, Direction, Error, Event, HangupReason, Playback, Recording, Result,
    TimerId,
};

/// The usual imports for an app: `use wari_guest_sdk::prelude::*;`.
pub mod prelude {
    pub use crate::{
        App, Bridge, CallerId, Channel, Direction, Error, Event, HangupReason, Playback, Recording,
        TimerId, ari, call, kv, log, timers,
    };
}

/// Used by [`export_app!`]; not public API.
#[doc(hidden)]
pub mod __private {
    #[cfg(target_arch = "wasm32")]
    pub use crate::wasm::bindings::{
        self, export, exports::wari::stasis::handler::Guest, wari::stasis::types::Event as WitEvent,
    };
    #[cfg(target_arch = "wasm32")]
    pub use crate::wasm::handle_event;
}

#[cfg(test)]
mod tests;
