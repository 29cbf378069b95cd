//! Live recordings when wari stops. A recording still being written when the process
//! ends is left as its `.partial` file, which is never served; so on a graceful stop
//! (SIGINT, SIGTERM) every live recording is stopped, as `POST /recordings/live/{name}/stop`
//! would, and wari waits, bounded, until each file is complete and in place.

use std::time::{Duration, Instant};

use crate::core::Core;
use crate::media::engine::RecordingOp;

/// How often the wait looks at what is still live.
const POLL: Duration = Duration::from_millis(10);

impl Core {
    /// Stops every live recording and waits until they are all stored or `within` has
    /// passed; returns how many were stopped and how many were still live at the end.
    pub async fn complete_live_recordings(&self, within: Duration) -> (usize, usize) {
        let names: Vec<_> =
            self.with_state(|state| state.media.recordings.keys().cloned().collect());
        // As POST /recordings/live/{name}/stop; one that ended meanwhile is refused (404,
        // 409) and needs nothing more.
        let stopped = names
            .iter()
            .filter(|name| {
                self.control()
                    .control_live_recording(name, RecordingOp::Stop)
                    .is_ok()
            })
            .count();
        let deadline = Instant::now() + within;
        loop {
            let live = self.with_state(|state| state.media.recordings.len());
            if live == 0 || Instant::now() >= deadline {
                return (stopped, live);
            }
            tokio::time::sleep(POLL).await;
        }
    }
}
