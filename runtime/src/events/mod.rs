//! Event transports: the `/ari/events` WebSocket today; REST over WebSocket and outbound
//! WebSockets join it later. A transport registers applications with the core through an
//! [`crate::core::stasis::EventSink`] and writes the events it receives to its peer.

pub mod sink;
pub mod websocket;
