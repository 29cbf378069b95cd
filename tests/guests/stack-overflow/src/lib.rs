//! Hostile test component: on StasisStart, recurses without bound. Either wasm's call-stack
//! limit or the shadow stack running out of linear memory traps it; the host must survive
//! and end the session.

use std::hint::black_box;

use wari_guest_sdk::{App, Channel, log};

#[inline(never)]
fn recurse(depth: u64) -> u64 {
    // A frame the optimiser cannot drop, and a call that is not in tail position.
    let frame = black_box([depth; 32]);
    if black_box(true) {
        recurse(depth + 1).wrapping_add(frame[(depth % 32) as usize])
    } else {
        frame[0]
    }
}

/// The app.
#[derive(Default)]
pub struct StackOverflow;

impl App for StackOverflow {
    fn on_stasis_start(&mut self, _channel: &Channel, _args: &[String]) {
        log::info("stack-overflow: recursing forever");
        let depth = recurse(0);
        log::error(&format!("stack-overflow: returned from depth {depth}?"));
    }
}

wari_guest_sdk::export_app!(StackOverflow);
