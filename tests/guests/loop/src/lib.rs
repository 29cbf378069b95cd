//! Hostile test component: spins forever in the first event it gets. The host must interrupt
//! it (epoch or fuel limit), end the session and hang its channel up, without stalling other
//! sessions.

use std::hint::black_box;

use wari_guest_sdk::{App, Event, log};

/// The app.
#[derive(Default)]
pub struct Loop;

impl App for Loop {
    fn on_event(&mut self, event: &Event) {
        log::info(&format!(
            "loop: got {}, spinning forever",
            event.event_type()
        ));
        let mut n: u64 = 0;
        loop {
            n = black_box(n.wrapping_add(1));
        }
    }
}

wari_guest_sdk::export_app!(Loop);
