//! Event transports: the inbound `/ari/events` WebSocket and outbound WebSockets, with REST
//! over WebSocket on both. A transport registers applications with the core through an
//! [`crate::core::stasis::EventSink`] and writes the events it receives to its peer.

pub mod meter;
pub mod outbound;
pub mod rest_over_ws;
pub mod session;
pub mod sink;
pub mod user_sockets;
pub mod websocket;
