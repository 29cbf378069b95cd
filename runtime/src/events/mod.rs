//! Event transports: the inbound `/ari/events` WebSocket and outbound WebSockets, with REST
//! over WebSocket on both. A transport registers applications with the core through an
//! [`crate::core::stasis::EventSink`] and writes the events it receives to its peer.

pub(crate) mod meter;
pub(crate) mod outbound;
pub mod rest_over_ws;
pub(crate) mod session;
pub(crate) mod sink;
pub(crate) mod user_sockets;
pub(crate) mod websocket;
