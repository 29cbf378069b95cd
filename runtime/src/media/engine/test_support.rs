//! Fixtures shared by the engine's tests and the snoop taps' engine tests: an engine whose
//! events arrive on a channel, and waiting for the next one.

use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use super::{MediaEngine, MediaEvent, MediaListener, SourceOpener};

/// Sends every event into a channel.
struct Events(Mutex<mpsc::Sender<MediaEvent>>);

impl MediaListener for Events {
    fn media_event(&self, event: MediaEvent) {
        if let Ok(tx) = self.0.lock() {
            let _ = tx.send(event);
        }
    }
}

/// Starts an engine that opens parts with `opener`; its events arrive on the receiver.
pub(crate) fn start(opener: Arc<dyn SourceOpener>) -> (MediaEngine, mpsc::Receiver<MediaEvent>) {
    let (tx, rx) = mpsc::channel();
    let engine =
        MediaEngine::start(opener, Arc::new(Events(Mutex::new(tx)))).expect("engine thread");
    (engine, rx)
}

/// The next event, within 5 s.
pub(crate) fn next(rx: &mpsc::Receiver<MediaEvent>) -> MediaEvent {
    rx.recv_timeout(Duration::from_secs(5))
        .expect("an event within 5 s")
}
