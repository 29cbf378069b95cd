//! The wasmtime engine shared by every app: component model, async calls (so a guest never
//! blocks a runtime thread), epoch interruption for CPU budgets, and a pooling allocator
//! sized from `max_sessions`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

use super::limits::{Limits, TICK};

/// Why the engine could not be built.
#[derive(Debug, thiserror::Error)]
#[error("cannot configure the WebAssembly engine: {0}")]
pub struct EngineError(String);

/// The engine and its epoch ticker.
#[derive(Debug, Clone)]
pub struct WasmEngine {
    pub engine: Engine,
    stop: Arc<AtomicBool>,
}

impl WasmEngine {
    /// An engine for at most `max_sessions` concurrent instances within `limits`.
    pub fn new(max_sessions: u32, limits: &Limits) -> Result<WasmEngine, EngineError> {
        let mut config = Config::new();
        config.wasm_component_model(true);
        config.epoch_interruption(true);
        let mut pooling = PoolingAllocationConfig::default();
        pooling.total_component_instances(max_sessions);
        pooling.total_core_instances(max_sessions.saturating_mul(4));
        pooling.total_memories(max_sessions.saturating_mul(2));
        pooling.total_tables(max_sessions.saturating_mul(4));
        pooling.total_stacks(max_sessions);
        pooling.max_memory_size(limits.memory_bytes);
        pooling.table_elements(limits.table_elements);
        pooling.max_memories_per_module(2);
        pooling.max_tables_per_module(4);
        config.allocation_strategy(InstanceAllocationStrategy::Pooling(pooling));
        let engine = Engine::new(&config).map_err(|e| EngineError(e.to_string()))?;
        let stop = Arc::new(AtomicBool::new(false));
        let ticker = engine.clone();
        let stopped = stop.clone();
        std::thread::Builder::new()
            .name("wari-wasm-epoch".into())
            .spawn(move || {
                while !stopped.load(Ordering::Relaxed) {
                    std::thread::sleep(TICK);
                    ticker.increment_epoch();
                }
            })
            .map_err(|e| EngineError(e.to_string()))?;
        Ok(WasmEngine { engine, stop })
    }

    /// An identifier of everything that makes compiled artifacts compatible with this
    /// engine: precompiled apps are cached per value.
    pub fn compatibility_hash(&self) -> String {
        use std::hash::Hash;
        let mut hasher = Sha256Hasher(sha2::Sha256::default());
        self.engine
            .precompile_compatibility_hash()
            .hash(&mut hasher);
        let digest = sha2::Digest::finalize(hasher.0);
        digest.iter().take(12).map(|b| format!("{b:02x}")).collect()
    }
}

impl Drop for WasmEngine {
    fn drop(&mut self) {
        if Arc::strong_count(&self.stop) == 1 {
            self.stop.store(true, Ordering::Relaxed);
        }
    }
}

/// A `Hasher` that feeds SHA-256, so the hash is the same across builds of wari (unlike
/// `DefaultHasher`) and can name files on disk.
struct Sha256Hasher(sha2::Sha256);

impl std::hash::Hasher for Sha256Hasher {
    fn finish(&self) -> u64 {
        0
    }

    fn write(&mut self, bytes: &[u8]) {
        sha2::Digest::update(&mut self.0, bytes);
    }
}
