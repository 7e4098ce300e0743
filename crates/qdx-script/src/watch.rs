//! Limits checked while a script runs: a wall-clock deadline, a total memory budget, and an
//! interrupt (Ctrl-C). rhai calls the engine's progress hook at every operation; the hook reads
//! the evaluation under way from a thread-local set by [`Watch::start`] and stops the script
//! with a [`Stop`] token when one of them is exceeded.
//!
//! Invariants: a check never changes what a script computes, only whether it is stopped; the
//! deadline and the memory budget are safety limits far above what a proxy or model needs (a
//! script's work is already bounded by [`crate::LIMITS`]'s operation count), so ordinary
//! results do not depend on wall time or load. The deadline reads the monotonic clock
//! ([`Instant`]) rather than qdx's lab `Clock`: it bounds real CPU time spent, which simulated
//! lab time says nothing about.

use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use rhai::Dynamic;

use crate::alloc::live_bytes;

/// Limits on one evaluation that rhai cannot check by itself, set per [`crate::Script`] (a dry
/// run at `qdx check` uses tighter ones than a real run).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScriptBudget {
    /// Wall-clock time one evaluation may take.
    pub max_wall_time: Duration,
    /// Bytes one evaluation may hold at once beyond what existed when it started (all its
    /// values together). Enforced where [`crate::MeteredAllocator`] is the global allocator.
    pub max_memory: usize,
}

/// The budget of a real evaluation: 30 s and 128 MiB. A proxy takes microseconds and a model
/// milliseconds; the slowest legitimate script we know, filling an array to its 100,000-element
/// limit one `push` at a time (rhai re-measures the array at each push), takes about 1 s in a
/// release build and 13 s in a debug build.
pub const BUDGET: ScriptBudget = ScriptBudget {
    max_wall_time: Duration::from_secs(30),
    max_memory: 128 << 20,
};

/// A flag that stops a running script at its next operation (with
/// [`crate::ScriptErrorKind::Interrupted`]); set it from another thread or a signal handler.
///
/// Every evaluation polls [`Interrupt::process`]; a [`crate::Script`] may also be given its
/// own with [`crate::Script::with_interrupt`]. A set flag stays set (every later evaluation
/// stops at once) until [`Interrupt::clear`].
#[derive(Debug, Clone, Default)]
pub struct Interrupt(Arc<AtomicBool>);

impl Interrupt {
    /// A new flag, not set.
    #[must_use]
    pub fn new() -> Interrupt {
        Interrupt::default()
    }

    /// The process-wide flag every evaluation polls. The runtime sets it on Ctrl-C, so a
    /// script blocking the run loop stops within a few operations.
    #[must_use]
    pub fn process() -> &'static Interrupt {
        static PROCESS: OnceLock<Interrupt> = OnceLock::new();
        PROCESS.get_or_init(Interrupt::new)
    }

    /// Asks running and later evaluations to stop.
    pub fn interrupt(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    /// Lets evaluations run again.
    pub fn clear(&self) {
        self.0.store(false, Ordering::SeqCst);
    }

    /// Whether the flag is set.
    #[must_use]
    pub fn is_interrupted(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }

    /// The flag itself, for code that sets an `AtomicBool` (a signal handler).
    #[must_use]
    pub fn flag(&self) -> Arc<AtomicBool> {
        Arc::clone(&self.0)
    }
}

/// Why a script was stopped by the progress hook (carried as rhai's termination token).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stop {
    WallTime,
    Memory,
    Interrupted,
}

impl Stop {
    fn token(self) -> Dynamic {
        Dynamic::from_int(match self {
            Stop::WallTime => 1,
            Stop::Memory => 2,
            Stop::Interrupted => 3,
        })
    }

    pub(crate) fn from_token(token: &Dynamic) -> Option<Stop> {
        match token.as_int().ok()? {
            1 => Some(Stop::WallTime),
            2 => Some(Stop::Memory),
            3 => Some(Stop::Interrupted),
            _ => None,
        }
    }
}

/// The evaluation under way on this thread.
struct Running {
    started: Instant,
    budget: ScriptBudget,
    memory_at_start: usize,
    interrupt: Option<Interrupt>,
}

thread_local! {
    static RUNNING: RefCell<Option<Running>> = const { RefCell::new(None) };
}

/// Reading the clock costs tens of nanoseconds; a script with few operations never reads it,
/// one with many reads it every this many. Between two readings rhai performs at most this
/// many operations, each bounded by the size limits, so the overshoot is milliseconds.
const CLOCK_EVERY: u64 = 16;

/// The engine's progress hook: `Some(token)` stops the script.
pub(crate) fn on_progress(operations: u64) -> Option<Dynamic> {
    RUNNING
        .try_with(|running| {
            let running = running.try_borrow().ok()?;
            let running = running.as_ref()?;
            check(running, operations).map(Stop::token)
        })
        .ok()
        .flatten()
}

fn check(running: &Running, operations: u64) -> Option<Stop> {
    if Interrupt::process().is_interrupted()
        || running
            .interrupt
            .as_ref()
            .is_some_and(Interrupt::is_interrupted)
    {
        return Some(Stop::Interrupted);
    }
    let used = live_bytes().wrapping_sub(running.memory_at_start);
    // A net release (the script freed memory older than itself) wraps to a huge count.
    if used > running.budget.max_memory && used < usize::MAX / 2 {
        return Some(Stop::Memory);
    }
    if operations.is_multiple_of(CLOCK_EVERY)
        && running.started.elapsed() > running.budget.max_wall_time
    {
        return Some(Stop::WallTime);
    }
    None
}

/// Marks an evaluation as under way on this thread until dropped.
pub(crate) struct Watch {
    previous: Option<Running>,
}

impl Watch {
    pub(crate) fn start(budget: ScriptBudget, interrupt: Option<Interrupt>) -> Watch {
        let running = Running {
            started: Instant::now(),
            budget,
            memory_at_start: live_bytes(),
            interrupt,
        };
        let previous = RUNNING
            .try_with(|r| r.try_borrow_mut().ok().and_then(|mut r| r.replace(running)))
            .ok()
            .flatten();
        Watch { previous }
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        let previous = self.previous.take();
        let _ = RUNNING.try_with(|r| {
            if let Ok(mut r) = r.try_borrow_mut() {
                *r = previous;
            }
        });
    }
}

/// `10 s`, `250 ms`.
pub(crate) fn format_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms >= 1000 && ms.is_multiple_of(1000) {
        format!("{} s", ms / 1000)
    } else if ms > 0 {
        format!("{ms} ms")
    } else {
        format!("{} µs", d.as_micros())
    }
}

/// `128 MiB`, `512 KiB`, `1000 bytes`.
pub(crate) fn format_bytes(n: usize) -> String {
    if n >= 1 << 20 && n.is_multiple_of(1 << 20) {
        format!("{} MiB", n >> 20)
    } else if n >= 1 << 10 && n.is_multiple_of(1 << 10) {
        format!("{} KiB", n >> 10)
    } else {
        format!("{n} bytes")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readable_limits() {
        assert_eq!(format_duration(Duration::from_secs(10)), "10 s");
        assert_eq!(format_duration(Duration::from_millis(250)), "250 ms");
        assert_eq!(format_duration(Duration::from_micros(5)), "5 µs");
        assert_eq!(format_bytes(128 << 20), "128 MiB");
        assert_eq!(format_bytes(512 << 10), "512 KiB");
        assert_eq!(format_bytes(1000), "1000 bytes");
    }

    #[test]
    fn tokens_round_trip() {
        for stop in [Stop::WallTime, Stop::Memory, Stop::Interrupted] {
            assert_eq!(Stop::from_token(&stop.token()), Some(stop));
        }
        assert_eq!(Stop::from_token(&Dynamic::UNIT), None);
    }
}
