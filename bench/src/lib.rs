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
//! - `events-fanout`: events per second delivered to 1..N subscribeAll WebSockets.
//!
//! Every loop is bounded in count and time, and only loopback servers are accepted.

pub mod events;
pub mod load;
pub mod report;
pub mod scenarios;
pub mod stats;
pub mod target;
pub mod ws;

pub use report::Report;
pub use scenarios::{Scenario, Settings, run};
pub use target::Target;
