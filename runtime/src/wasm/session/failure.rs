//! Why a session stopped: the limits the host enforces on a guest, as one typed error
//! ([`Exceeded`]) that the store's resource limiter, the epoch callback and the timer table
//! return, and the classification of a failed guest call into a [`FailureKind`] with a
//! one-line cause. The classification reads the error's type (the host's own [`Exceeded`],
//! the key-value store's refusal, wasmtime's [`Trap`] code) through the error's chain, never
//! its text.

use wasmtime::{ResourceLimiter, Trap};

use crate::wasm::kv::KvError;
use crate::wasm::limits::Limits;
use crate::wasm::runtime::FailureKind;

/// A limit the host enforced on a guest, named with its wasm.conf key where it has one.
#[derive(Debug, thiserror::Error)]
pub(super) enum Exceeded {
    /// The epoch callback: the event used its CPU budget (milliseconds).
    #[error("CPU budget of {0} ms per event exceeded (wasm.conf cpu_ms_per_event)")]
    Cpu(u128),
    /// The epoch callback: the event ran past its wall-clock limit (milliseconds).
    #[error("event timeout of {0} ms exceeded (wasm.conf event_timeout_ms)")]
    Time(u128),
    /// The store's limiter: a linear memory would grow past the limit (megabytes).
    #[error("memory limit of {0} MB reached (wasm.conf memory_mb)")]
    Memory(usize),
    /// The store's limiter: a table would grow to this many elements, past its limit.
    #[error("forcing trap when growing table to {0} elements")]
    Table(usize),
    /// The system could not give a growth the limits allowed (its error's root cause).
    #[error("{0}")]
    GrowFailed(String),
    /// The timer table: the session asked for more pending timers than this.
    #[error("timer limit of {0} pending timers per session reached (wasm.conf max_timers)")]
    Timers(usize),
}

impl Exceeded {
    /// The kind of failure the limit counts as in the app's `failures`.
    fn kind(&self) -> FailureKind {
        match self {
            Exceeded::Cpu(_) => FailureKind::Cpu,
            Exceeded::Time(_) => FailureKind::Timeout,
            Exceeded::Memory(_) | Exceeded::GrowFailed(_) => FailureKind::Memory,
            Exceeded::Table(_) | Exceeded::Timers(_) => FailureKind::Limit,
        }
    }
}

/// The resource limiter of a session's store: memory and tables grow only within the app's
/// limits, and a growth past them traps with an [`Exceeded`] (rather than failing the guest's
/// `memory.grow`), so that the session fails with a cause naming the limit.
#[derive(Debug)]
pub(super) struct GuestLimiter {
    memory_bytes: usize,
    table_elements: usize,
}

/// Component instances one session's store may hold.
const INSTANCES: usize = 16;

impl GuestLimiter {
    pub(super) fn new(limits: &Limits) -> GuestLimiter {
        GuestLimiter {
            memory_bytes: limits.memory_bytes,
            table_elements: limits.table_elements,
        }
    }
}

impl ResourceLimiter for GuestLimiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.memory_bytes || maximum.is_some_and(|max| desired > max) {
            return Err(wasmtime::Error::new(Exceeded::Memory(
                self.memory_bytes / (1024 * 1024),
            )));
        }
        Ok(true)
    }

    fn memory_grow_failed(&mut self, error: wasmtime::Error) -> wasmtime::Result<()> {
        Err(wasmtime::Error::new(Exceeded::GrowFailed(
            error.root_cause().to_string(),
        )))
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.table_elements || maximum.is_some_and(|max| desired > max) {
            return Err(wasmtime::Error::new(Exceeded::Table(desired)));
        }
        Ok(true)
    }

    fn table_grow_failed(&mut self, error: wasmtime::Error) -> wasmtime::Result<()> {
        Err(wasmtime::Error::new(Exceeded::GrowFailed(
            error.root_cause().to_string(),
        )))
    }

    fn instances(&self) -> usize {
        INSTANCES
    }
}

/// Why a session stopped abnormally.
#[derive(Debug)]
pub(super) enum Failure {
    Instantiate(String),
    /// The guest trapped or broke a limit: the kind, a one-line cause, and the full error
    /// with its WebAssembly backtrace (for the log).
    Trap(FailureKind, String, String),
    /// The app was deleted while the session lived.
    Retired,
    /// The session's event queue overflowed: the delivery that found it full has already
    /// counted the failure (and kept it as `failures.last`); only the channels are left.
    QueueFull,
}

impl Failure {
    /// The event timeout passed while the guest waited in a host call, where epoch
    /// interruption cannot reach it.
    pub(super) fn blocked(limits: &Limits, handling: &str) -> Failure {
        let exceeded = Exceeded::Time(limits.event_timeout.as_millis());
        Failure::Trap(
            FailureKind::Timeout,
            format!("{exceeded} while handling {handling} (waiting in a host call)"),
            "the guest was still waiting in a host call (a WASI clock or poll, say) when \
             event_timeout_ms ran out"
                .into(),
        )
    }

    /// A trap or broken limit while the guest handled `handling` (an event's type, `a
    /// timer`, `its start`): the cause names the limit and its wasm.conf key.
    pub(super) fn from_error(error: &wasmtime::Error, handling: &str) -> Failure {
        let (kind, cause) = classify(error);
        Failure::Trap(
            kind,
            format!("{cause} while handling {handling}"),
            format!("{error:?}"),
        )
    }
}

/// The kind and one-line cause of a guest call's error, from its type.
fn classify(error: &wasmtime::Error) -> (FailureKind, String) {
    if let Some(exceeded) = error.downcast_ref::<Exceeded>() {
        return (exceeded.kind(), exceeded.to_string());
    }
    if let Some(KvError::Refused(refused)) = error.downcast_ref::<KvError>() {
        return (FailureKind::Limit, refused.to_string());
    }
    let kind = match error.downcast_ref::<Trap>() {
        // A guest compiled from Rust (or C) keeps its own stack in linear memory, below its
        // data: when that stack runs out, the guest reads or writes below address 0, an
        // out-of-bounds access, as surely as a deep recursion of wasm frames exhausts the
        // engine's call stack.
        Some(Trap::StackOverflow | Trap::MemoryOutOfBounds) => FailureKind::Limit,
        Some(Trap::AllocationTooLarge) => FailureKind::Memory,
        Some(Trap::OutOfFuel) => FailureKind::Cpu,
        Some(Trap::Interrupt) => FailureKind::Timeout,
        _ => FailureKind::Trap,
    };
    (kind, error.root_cause().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> Limits {
        Limits {
            memory_bytes: 2 * 1024 * 1024,
            table_elements: 10,
            ..Limits::default()
        }
    }

    #[test]
    fn memory_past_the_limit_is_a_memory_failure_naming_its_key() {
        let mut limiter = GuestLimiter::new(&limits());
        assert!(matches!(
            limiter.memory_growing(0, 1024 * 1024, None),
            Ok(true)
        ));
        let error = limiter
            .memory_growing(1024 * 1024, 3 * 1024 * 1024, None)
            .expect_err("past the limit");
        let Failure::Trap(kind, cause, _) = Failure::from_error(&error, "StasisStart") else {
            panic!("a trap")
        };
        assert_eq!(kind, FailureKind::Memory);
        assert_eq!(
            cause,
            "memory limit of 2 MB reached (wasm.conf memory_mb) while handling StasisStart"
        );
    }

    #[test]
    fn a_table_past_the_limit_is_a_limit_and_a_failed_growth_a_memory_failure() {
        let mut limiter = GuestLimiter::new(&limits());
        assert!(matches!(limiter.table_growing(0, 10, None), Ok(true)));
        let table = limiter.table_growing(10, 11, None).expect_err("past 10");
        assert_eq!(classify(&table).0, FailureKind::Limit);
        assert_eq!(
            classify(&table).1,
            "forcing trap when growing table to 11 elements"
        );
        let failed = limiter
            .memory_grow_failed(wasmtime::Error::msg("no room").context("growing"))
            .expect_err("a failed growth traps");
        assert_eq!(classify(&failed), (FailureKind::Memory, "no room".into()));
    }

    #[test]
    fn budgets_are_cpu_or_timeouts_and_wasmtime_traps_go_by_their_code() {
        let cpu = wasmtime::Error::new(Exceeded::Cpu(100));
        assert_eq!(classify(&cpu).0, FailureKind::Cpu);
        let fuel = wasmtime::Error::new(Trap::OutOfFuel);
        assert_eq!(classify(&fuel).0, FailureKind::Cpu);
        let time = wasmtime::Error::new(Exceeded::Time(5000));
        assert_eq!(classify(&time).0, FailureKind::Timeout);
        let overflow = wasmtime::Error::new(Trap::StackOverflow);
        assert_eq!(classify(&overflow).0, FailureKind::Limit);
        let interrupt = wasmtime::Error::new(Trap::Interrupt);
        assert_eq!(classify(&interrupt).0, FailureKind::Timeout);
        // The guest's own stack, in its linear memory, ran out.
        let out_of_bounds = wasmtime::Error::new(Trap::MemoryOutOfBounds);
        assert_eq!(
            classify(&out_of_bounds),
            (
                FailureKind::Limit,
                "wasm trap: out of bounds memory access".into()
            )
        );
        // A guest's own bug is a trap, whatever its message says ("memory" included).
        let atomic = wasmtime::Error::new(Trap::AtomicWaitNonSharedMemory);
        assert_eq!(classify(&atomic).0, FailureKind::Trap);
        let unreachable = wasmtime::Error::new(Trap::UnreachableCodeReached);
        assert_eq!(classify(&unreachable).0, FailureKind::Trap);
        // A typed limit is found through the context wasmtime adds to it.
        let wrapped = wasmtime::Error::new(Exceeded::Timers(5)).context("in a host call");
        assert_eq!(
            classify(&wrapped),
            (
                FailureKind::Limit,
                "timer limit of 5 pending timers per session reached (wasm.conf max_timers)".into()
            )
        );
    }
}
