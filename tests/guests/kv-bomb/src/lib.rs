//! Hostile test component: on its first event it stores new keys with 1 KiB values in the
//! app's key-value store until the host stops it. The host must refuse the write beyond the
//! app's store limits, end the session and keep the store's size within them.

use wari_guest_sdk::{App, Event, kv, log};

/// The app.
#[derive(Default)]
pub struct KvBomb;

impl App for KvBomb {
    fn on_event(&mut self, event: &Event) {
        log::info(&format!(
            "kv-bomb: got {}, filling the store",
            event.event_type()
        ));
        let value = "x".repeat(1024);
        for n in 0u64.. {
            kv::set(&format!("key-{n}"), &value);
        }
    }
}

wari_guest_sdk::export_app!(KvBomb);
