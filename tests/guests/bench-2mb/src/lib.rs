//! Benchmark component of about 2 MB for the upload-to-ready benchmark
//! (`runtime/examples/wasm_bench.rs`): thousands of generated functions (most of the size,
//! since compiling code is what deployment spends its time on) and a data table, all
//! reachable from the handler so the linker keeps them. On StasisStart it logs one trace line
//! with a value computed from both.

use wari_guest_sdk::{App, Channel, log};

#[allow(clippy::all)]
mod generated {
    include!(concat!(env!("OUT_DIR"), "/generated.rs"));
}

static TABLE: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/table.bin"));

/// A value that depends on the channel id, one generated function and one table byte.
pub fn mix(id: &str) -> u64 {
    let n = id.len() as u32;
    let table = std::hint::black_box(TABLE);
    let byte = table[id.len() * 4099 % table.len()];
    generated::dispatch(n.wrapping_mul(2_654_435_761), u64::from(byte))
}

/// The app.
#[derive(Default)]
pub struct Bench2Mb;

impl App for Bench2Mb {
    fn on_stasis_start(&mut self, channel: &Channel, _args: &[String]) {
        log::trace(&format!("bench-2mb: {}", mix(&channel.id)));
    }
}

wari_guest_sdk::export_app!(Bench2Mb);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mix_is_deterministic() {
        assert_eq!(mix("c1"), mix("c1"));
    }
}
