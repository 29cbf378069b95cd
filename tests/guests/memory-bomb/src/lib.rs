//! Hostile test component: on StasisStart, allocates (and touches) memory 1 MiB at a time
//! until allocation fails, logs how far it got, then panics (a trap). The host's memory limit
//! must stop it without affecting other sessions. If the host traps on the failed
//! `memory.grow` instead of failing it, the final log line is never written.

use std::hint::black_box;

use wari_guest_sdk::{App, Channel, log};

const CHUNK: usize = 1 << 20;

/// The app.
#[derive(Default)]
pub struct MemoryBomb;

impl App for MemoryBomb {
    fn on_stasis_start(&mut self, _channel: &Channel, _args: &[String]) {
        log::info("memory-bomb: allocating until it fails");
        let mut chunks: Vec<Vec<u8>> = Vec::new();
        loop {
            let mut chunk = Vec::new();
            if chunk.try_reserve_exact(CHUNK).is_err() || chunks.try_reserve(1).is_err() {
                break;
            }
            chunk.resize(CHUNK, 0xA5);
            chunks.push(black_box(chunk));
        }
        log::warn(&format!(
            "memory-bomb: allocation failed after {} MiB",
            chunks.len()
        ));
        panic!("memory-bomb: out of memory after {} MiB", chunks.len());
    }
}

wari_guest_sdk::export_app!(MemoryBomb);
