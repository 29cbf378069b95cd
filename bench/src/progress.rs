//! A one-line progress indicator on stderr, drawn only when stderr is a terminal (so logs
//! and CI output stay clean): `label  done/total  [#####.....]`, redrawn with `\r` at most
//! ten times a second, cleared when finished.

use std::io::{IsTerminal, Write};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Width of the bar in characters.
const WIDTH: usize = 30;
/// Least time between two redraws.
const EVERY: Duration = Duration::from_millis(100);

/// Progress of one counted phase.
#[derive(Debug)]
pub struct Progress {
    label: String,
    total: usize,
    done: AtomicUsize,
    /// When the line was last drawn; `None` when not drawing at all.
    drawn: Option<Mutex<Instant>>,
}

impl Progress {
    /// Progress towards `total` steps, drawn if stderr is a terminal.
    pub fn new(label: &str, total: usize) -> Progress {
        let drawn = std::io::stderr()
            .is_terminal()
            .then(|| Mutex::new(Instant::now() - EVERY));
        Progress {
            label: label.to_string(),
            total,
            done: AtomicUsize::new(0),
            drawn,
        }
    }

    /// One more step done.
    pub fn step(&self) {
        let done = self.done.fetch_add(1, Ordering::Relaxed) + 1;
        let Some(drawn) = &self.drawn else { return };
        let Ok(mut last) = drawn.try_lock() else {
            return;
        };
        if last.elapsed() >= EVERY || done == self.total {
            *last = Instant::now();
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "\r{}", line(&self.label, done, self.total));
            let _ = err.flush();
        }
    }

    /// Clears the line.
    pub fn finish(&self) {
        if self.drawn.is_some() {
            let width = line(&self.label, self.total, self.total).chars().count();
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "\r{}\r", " ".repeat(width));
            let _ = err.flush();
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.finish();
    }
}

/// The text of the line.
fn line(label: &str, done: usize, total: usize) -> String {
    let filled = (done.min(total) * WIDTH)
        .checked_div(total)
        .unwrap_or(WIDTH);
    format!(
        "{label}  {done}/{total}  [{}{}]",
        "#".repeat(filled),
        ".".repeat(WIDTH - filled)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bar_fills_in_proportion() {
        assert_eq!(
            line("x", 5, 10),
            format!("x  5/10  [{}{}]", "#".repeat(15), ".".repeat(15))
        );
        assert!(line("x", 0, 0).contains(&"#".repeat(WIDTH)));
        let progress = Progress::new("quiet", 2);
        progress.step();
        progress.step();
        assert_eq!(progress.done.load(Ordering::Relaxed), 2);
    }
}
