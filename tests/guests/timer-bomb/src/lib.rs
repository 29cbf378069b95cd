//! Hostile test component: on its first event it sets hour-long timers until the host stops
//! it. The host must refuse the timer beyond `max_timers`, end the session and drop the
//! timers it had.

use wari_guest_sdk::{App, Event, log, timers};

/// The app.
#[derive(Default)]
pub struct TimerBomb;

impl App for TimerBomb {
    fn on_event(&mut self, event: &Event) {
        log::info(&format!(
            "timer-bomb: got {}, setting timers",
            event.event_type()
        ));
        loop {
            timers::set_timer(3_600_000);
        }
    }
}

wari_guest_sdk::export_app!(TimerBomb);
