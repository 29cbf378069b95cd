//! The wasmtime engine shared by every app: component model, async calls (so a guest never
//! blocks a runtime thread), epoch interruption for CPU budgets, and a pooling allocator
//! sized from `max_sessions`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

use super::limits::{Limits, TICK};

/// Why the engine could not be built.
#[derive(Debug, thiserror::Error)]
#[error("cannot configure the WebAssembly engine: {0}")]
pub struct EngineError(String);

/// The engine and its epoch ticker.
#[derive(Debug, Clone)]
pub struct WasmEngine {
    /// The wasmtime engine every app is compiled and instantiated with (components, epoch
    /// interruption, pooled instances).
    pub engine: Engine,
    ticker: Arc<Ticker>,
}

/// Ticks after the last guest call before the ticker thread parks: a busy host never pays
/// for waking it, an idle one does not wake up a thousand times a second for nothing.
const IDLE_TICKS_BEFORE_PARK: u32 = 200;

/// The epoch ticker's shared state: it only needs to tick while some guest code may run.
#[derive(Debug)]
struct Ticker {
    stop: AtomicBool,
    /// Guest calls in progress.
    busy: AtomicUsize,
    /// The ticker thread is parked (or about to park) until a guest call begins.
    parked: AtomicBool,
    thread: std::sync::OnceLock<std::thread::Thread>,
}

impl Ticker {
    fn run(&self, engine: &Engine) {
        let mut idle_ticks = 0u32;
        while !self.stop.load(Ordering::SeqCst) {
            if self.busy.load(Ordering::SeqCst) == 0 {
                idle_ticks += 1;
                if idle_ticks > IDLE_TICKS_BEFORE_PARK {
                    self.parked.store(true, Ordering::SeqCst);
                    // A call that began before `parked` was set is seen here; one that
                    // begins after it sees `parked` and unparks us.
                    if self.busy.load(Ordering::SeqCst) == 0 && !self.stop.load(Ordering::SeqCst) {
                        std::thread::park();
                    }
                    self.parked.store(false, Ordering::SeqCst);
                    idle_ticks = 0;
                    continue;
                }
            } else {
                idle_ticks = 0;
            }
            std::thread::sleep(TICK);
            engine.increment_epoch();
        }
    }

    fn wake(&self) {
        if self.parked.swap(false, Ordering::SeqCst)
            && let Some(thread) = self.thread.get()
        {
            thread.unpark();
        }
    }
}

/// Held while guest code may run (instantiation, an event call): the epoch keeps ticking,
/// so CPU budgets and wall-clock limits are enforced.
#[derive(Debug)]
pub struct GuestCall {
    ticker: Arc<Ticker>,
}

impl Drop for GuestCall {
    fn drop(&mut self) {
        self.ticker.busy.fetch_sub(1, Ordering::SeqCst);
    }
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
        let ticker = Arc::new(Ticker {
            stop: AtomicBool::new(false),
            busy: AtomicUsize::new(0),
            parked: AtomicBool::new(false),
            thread: std::sync::OnceLock::new(),
        });
        let ticking = ticker.clone();
        let ticked = engine.clone();
        let handle = std::thread::Builder::new()
            .name("wari-wasm-epoch".into())
            .spawn(move || ticking.run(&ticked))
            .map_err(|e| EngineError(e.to_string()))?;
        let _ = ticker.thread.set(handle.thread().clone());
        Ok(WasmEngine { engine, ticker })
    }

    /// Marks the start of guest execution; the epoch ticks until the guard is dropped.
    pub fn guest_call(&self) -> GuestCall {
        self.ticker.busy.fetch_add(1, Ordering::SeqCst);
        self.ticker.wake();
        GuestCall {
            ticker: self.ticker.clone(),
        }
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
        // The ticker thread holds one reference; this is the last engine handle.
        if Arc::strong_count(&self.ticker) == 2 {
            self.ticker.stop.store(true, Ordering::SeqCst);
            if let Some(thread) = self.ticker.thread.get() {
                thread.unpark();
            }
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    /// `(module (func (export "spin") (loop (br 0))))`
    const SPIN: &[u8] = &[
        0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // header
        0x01, 0x04, 0x01, 0x60, 0x00, 0x00, // type: () -> ()
        0x03, 0x02, 0x01, 0x00, // one function of type 0
        0x07, 0x08, 0x01, 0x04, b's', b'p', b'i', b'n', 0x00, 0x00, // export "spin"
        0x0a, 0x09, 0x01, 0x07, 0x00, 0x03, 0x40, 0x0c, 0x00, 0x0b, 0x0b, // loop { br 0 }
    ];

    async fn spin_is_interrupted(engine: &WasmEngine) {
        let module = wasmtime::Module::new(&engine.engine, SPIN).expect("module");
        let mut store = wasmtime::Store::new(&engine.engine, ());
        store.set_epoch_deadline(3);
        store.epoch_deadline_trap();
        let instance = wasmtime::Instance::new_async(&mut store, &module, &[])
            .await
            .expect("instance");
        let spin = instance
            .get_typed_func::<(), ()>(&mut store, "spin")
            .expect("spin");
        let _running = engine.guest_call();
        let result = tokio::time::timeout(Duration::from_secs(10), spin.call_async(&mut store, ()))
            .await
            .expect("an endless loop must be interrupted by the epoch");
        assert!(result.is_err(), "the loop ends with a trap");
    }

    #[tokio::test]
    async fn the_ticker_parks_when_idle_and_still_interrupts_guests_after() {
        let engine = WasmEngine::new(4, &Limits::default()).expect("engine");
        spin_is_interrupted(&engine).await;
        let deadline = Instant::now() + Duration::from_secs(10);
        while !engine.ticker.parked.load(Ordering::SeqCst) {
            assert!(Instant::now() < deadline, "an idle ticker parks");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        spin_is_interrupted(&engine).await;
    }
}
