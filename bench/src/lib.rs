//! wari-bench: benchmarks of an ARI server, wari or Asterisk, over its public interface.
//!
//! Scenarios ([`scenarios::Scenario`]):
//! - `originate`: channels originated one by one per connection (`POST /channels` into a
//!   Stasis application, or into the dialplan with `--extension`), measuring the time from
//!   sending the request to the StasisStart on the bench's events WebSocket;
//! - `rest-channels-N`: N channels up in the application, then `GET /channels` as fast as
//!   keep-alive connections allow;
//! - `memory-N`: the server's resident memory before and after N channels enter Stasis;
//! - `rest-over-ws`: RESTRequest round trips over one events WebSocket ([`ws`]);
//! - `events-fanout`: events per second delivered to 1..N subscribeAll WebSockets;
//! - `rest-info`: `GET /asterisk/info` as fast as keep-alive connections allow;
//! - `hangup`: `--count` channels up, then `DELETE /channels/{id}` for each: the rate of
//!   the DELETEs and the time from each request to the channel's StasisEnd;
//! - `wasm-start`, `wasm-event` (wari only, [`wasm`]): a WebAssembly app uploaded over HTTP,
//!   measured by what it visibly does to a channel on a subscribeAll WebSocket ([`watch`]).
//! - `loopback-echo` ([`echo`]): one-byte round trips between two of the bench's own
//!   threads over loopback TCP, the floor under any sequential request/response here.
//!
//! - `sip-bridged` (wari only, [`sip_load`]): concurrent SIP calls paired in mixing
//!   bridges, G.711 both ways, from a one-thread load generator; wari's media timing, loss,
//!   CPU and memory per call.
//!
//! `--client-wait poll` ([`client_wait`]) keeps the bench's thread polling during the
//! one-connection originate and loopback-echo measurements instead of sleeping.
//!
//! `--compare FILE` ([`compare`]) sets a run beside an earlier run's JSON.
//!
//! Every loop is bounded in count and time, and only loopback servers are accepted.

#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a benchmark reports on the terminal"
)]

pub mod client_wait;
pub mod compare;
pub mod echo;
pub mod events;
pub mod load;
pub mod progress;
pub mod report;
pub mod scenarios;
pub mod sip_load;
pub mod stats;
pub mod target;
pub mod wasm;
pub mod watch;
pub mod ws;

pub use client_wait::ClientWait;
pub use report::Report;
pub use scenarios::{Scenario, Settings, run};
pub use target::Target;
