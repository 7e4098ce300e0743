//! Memory metering: a global allocator that counts, per thread, the bytes allocated and not
//! yet freed, so a script's total memory (every value it keeps alive, every copy of every
//! array, rhai's own bookkeeping) is measured rather than estimated.
//!
//! Why an allocator: rhai checks each string, array and map against its size limit, but has no
//! view of the total (990 variables each holding a 100,000-element array are 1.6 GB, every one
//! of them within its limit), and no hook that sees the whole scope while a script runs.
//! Walking the live values at every step would cost more than the script itself. Counting
//! allocations is exact and costs one thread-local add per allocation.
//!
//! Invariant: [`live_bytes`] only moves when [`MeteredAllocator`] is the program's global
//! allocator (the `qdx` binary installs it); otherwise it stays 0 and [`memory_metered`] is
//! false, and the sandbox's memory budget is not enforced (the per-value limits still are).
//! The count is per thread: a script runs on one thread, and tests running in parallel do not
//! see each other's allocations.
#![allow(
    unsafe_code,
    reason = "a global allocator is an unsafe trait; this one only forwards to `System`"
)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

thread_local! {
    /// Bytes allocated minus bytes freed on this thread (wrapping; only differences matter).
    static LIVE: Cell<usize> = const { Cell::new(0) };
}

/// The system allocator, counting live bytes per thread for the script sandbox's memory budget.
///
/// Install it in a binary that runs scripts:
///
/// ```ignore
/// #[global_allocator]
/// static ALLOCATOR: qdx_script::MeteredAllocator = qdx_script::MeteredAllocator;
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct MeteredAllocator;

fn grow(bytes: usize) {
    // `try_with`: a thread being torn down has no counter any more; nothing to count then.
    let _ = LIVE.try_with(|live| live.set(live.get().wrapping_add(bytes)));
}

fn shrink(bytes: usize) {
    let _ = LIVE.try_with(|live| live.set(live.get().wrapping_sub(bytes)));
}

// SAFETY: every method forwards to `System` with the caller's arguments unchanged; the
// counting touches only a const-initialised thread-local `Cell` without a destructor, which
// never allocates.
unsafe impl GlobalAlloc for MeteredAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller upholds `GlobalAlloc::alloc`'s contract; passed through.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            grow(layout.size());
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as `alloc`.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            grow(layout.size());
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from this allocator, i.e. from `System`, with this layout.
        unsafe { System.dealloc(ptr, layout) };
        shrink(layout.size());
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: `ptr` came from `System` with `layout`; the caller upholds the rest.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            shrink(layout.size());
            grow(new_size);
        }
        p
    }
}

/// Bytes allocated and not freed on this thread, wrapping; subtract two readings.
pub(crate) fn live_bytes() -> usize {
    LIVE.try_with(Cell::get).unwrap_or(0)
}

/// Whether [`MeteredAllocator`] is the global allocator, i.e. whether the sandbox's memory
/// budget is enforced in this program.
#[must_use]
pub fn memory_metered() -> bool {
    let before = live_bytes();
    let probe = std::hint::black_box(Box::new([0_u8; 64]));
    let after = live_bytes();
    drop(probe);
    after != before
}
