//! Benchmark component (`runtime/examples/wasm_bench.rs`, `scripts/bench-wasm`): its first
//! action on StasisStart and on each DTMF digit is one `log` call at trace level, which the
//! benchmark timestamps on the host side of the call boundary. It does nothing else, so the
//! measured time is the host's: event conversion, queueing, task wake-up, instantiation
//! (for StasisStart) and the guest's own dispatch to the handler.

use wari_guest_sdk::{App, Channel, log};

/// The line logged on StasisStart.
pub const START: &str = "bench: start";
/// The line logged on each DTMF digit.
pub const DTMF: &str = "bench: dtmf";

/// The app.
#[derive(Default)]
pub struct BenchProbe;

impl App for BenchProbe {
    fn on_stasis_start(&mut self, _channel: &Channel, _args: &[String]) {
        log::trace(START);
    }

    fn on_dtmf(&mut self, _channel: &Channel, _digit: char) {
        log::trace(DTMF);
    }
}

wari_guest_sdk::export_app!(BenchProbe);

#[cfg(test)]
mod tests {
    use super::*;
    use wari_guest_sdk::Event;
    use wari_guest_sdk::mock::MockHost;

    #[test]
    fn logs_once_per_start_and_digit() {
        let mut host = MockHost::new();
        let mut app = BenchProbe;
        host.deliver(
            &mut app,
            Event::StasisStart {
                channel: Channel::new("c1"),
                args: vec![],
            },
        );
        host.deliver(
            &mut app,
            Event::Dtmf {
                channel: Channel::new("c1"),
                digit: '1',
                duration_ms: 100,
            },
        );
        assert_eq!(host.logs().len(), 2);
    }
}
