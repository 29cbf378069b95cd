//! Hostile test component: on its first event it sleeps for an hour in a WASI call
//! (`monotonic-clock.subscribe-duration` and `pollable.block`), where epoch interruption
//! cannot reach it. The host must end the session at the event timeout, hang its channel up
//! and give its slot back, without stalling other sessions or apps.

use std::time::Duration;

use wari_guest_sdk::{App, Event, log};

/// The app.
#[derive(Default)]
pub struct Sleeper;

impl App for Sleeper {
    fn on_event(&mut self, event: &Event) {
        log::info(&format!(
            "sleeper: got {}, sleeping for an hour",
            event.event_type()
        ));
        std::thread::sleep(Duration::from_secs(3600));
    }
}

wari_guest_sdk::export_app!(Sleeper);
