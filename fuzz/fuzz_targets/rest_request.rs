//! REST over WebSocket frames (`runtime/src/events/rest_over_ws.rs`): any text a socket
//! peer sends is parsed into a pipeline request or an error reply, with and without
//! credentials, and the error replies are rendered as the frames the peer would get.
//!
//! Input: the frame text (lossy UTF-8).

#![no_main]

use libfuzzer_sys::fuzz_target;
use wari::events::rest_over_ws::{SocketAuth, parse};

fuzz_target!(|data: &[u8]| {
    let frame = String::from_utf8_lossy(data);
    for auth in [
        SocketAuth::basic("asterisk", "secret"),
        SocketAuth::default(),
    ] {
        if let Err(reply) = parse(&frame, &auth) {
            let _ = reply.to_frame("app", "00:00:00:00:00:00", false);
        }
    }
});
