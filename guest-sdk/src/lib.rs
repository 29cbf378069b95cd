//! The crate app authors depend on to write wari Stasis applications as WebAssembly
//! components.
//!
//! It is empty for now: the WIT contract and the bindings arrive with the WebAssembly
//! application work. Until then an ARI application talks to wari over HTTP and WebSocket
//! exactly as it would to Asterisk.
