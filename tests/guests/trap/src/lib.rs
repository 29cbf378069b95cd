//! Hostile test component: panics on StasisStart. With `panic = "abort"` the panic message
//! goes to stderr (the app's log) and the instance traps; the host must end the session and
//! hang the channel up.

use wari_guest_sdk::{App, Channel, log};

/// The app.
#[derive(Default)]
pub struct Trap;

impl App for Trap {
    fn on_stasis_start(&mut self, channel: &Channel, _args: &[String]) {
        log::info("trap: about to panic");
        panic!(
            "trap: panicking on purpose in StasisStart of {}",
            channel.id
        );
    }
}

wari_guest_sdk::export_app!(Trap);
