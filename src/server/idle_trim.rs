//! Giving an idle backend thread's spare memory back to the operating system.
//!
//! Every connection is served on a thread of its own (see [`super::spawn_backend`]).
//! What a thread touched once stays resident for its life: the stack pages its deepest
//! call reached (start-up, authentication, a big query), and the blocks the allocator
//! keeps in the thread's private cache for quick reuse. Busy, that is the price of
//! speed; idle — a pooled connection waiting for its next query, often for hours — it is
//! memory nobody uses.
//!
//! Noticing idleness costs a busy connection nothing but two relaxed stores per
//! message: [`sweep`], one task on the postmaster's runtime, looks every [`TRIM_AFTER`]
//! at each query backend's [`IdleState`]; one that took no message since the previous
//! look is asked to trim, through the wake-up it already waits on for termination. Its
//! query loop then calls [`request`], and the trim runs where the thread parks
//! ([`on_park`], the runtime's park hook, where the stack is shallowest): the stack
//! below the current frame is released with `madvise(MADV_DONTNEED)` (the kernel hands
//! back zeroed pages if it is ever reached again) and the allocator's thread cache is
//! flushed through the hook the binary registers with [`set_allocator_flush`] (the
//! binary owns the choice of allocator; this library does not know it).
//!
//! This module must never release a page that may hold live data: it only drops the
//! part of the calling thread's own stack lying below the current frame (plus a margin
//! for the system call), which no frame owns at that moment. It never touches another
//! thread's memory, and never adds a timer or a system call to a busy connection's path.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::Duration;

/// The sweeper's period: a connection that took no message for one whole period is
/// trimmed, so within one to two periods of its last message.
pub const TRIM_AFTER: Duration = Duration::from_secs(1);

/// What the sweeper and one query backend share.
#[derive(Default)]
pub struct IdleState {
    /// Messages the backend has begun (written by the backend only).
    messages: AtomicU64,
    /// `messages` as the sweeper saw it at its previous look (the sweeper's only).
    seen: AtomicU64,
    /// Set by the sweeper: trim at the next wait. Cleared as each message ends, so a
    /// long statement seen as "no new message" is not trimmed after.
    wanted: AtomicBool,
    /// Set when the backend asked for its trim, cleared by its next message: a
    /// trimmed connection is not woken again while it stays idle.
    trimmed: AtomicBool,
}

impl IdleState {
    /// The backend took a message.
    pub fn message_begins(&self) {
        let n = self.messages.load(Ordering::Relaxed);
        self.messages.store(n.wrapping_add(1), Ordering::Relaxed);
        if self.trimmed.load(Ordering::Relaxed) {
            self.trimmed.store(false, Ordering::Relaxed);
        }
    }

    /// The backend finished a message.
    pub fn message_ends(&self) {
        if self.wanted.load(Ordering::Relaxed) {
            self.wanted.store(false, Ordering::Relaxed);
        }
    }

    /// The backend woke from its wait: whether the sweeper asked for a trim (taking
    /// the request).
    pub fn take_request(&self) -> bool {
        let wanted = self.wanted.swap(false, Ordering::Relaxed);
        if wanted {
            self.trimmed.store(true, Ordering::Relaxed);
        }
        wanted
    }

    /// The sweeper's look: whether the backend took no message since the previous look
    /// and is neither trimmed nor already asked (then it is asked now; the caller wakes
    /// it).
    fn ask_if_idle(&self) -> bool {
        let now = self.messages.load(Ordering::Relaxed);
        let before = self.seen.swap(now, Ordering::Relaxed);
        if now != before
            || self.trimmed.load(Ordering::Relaxed)
            || self.wanted.load(Ordering::Relaxed)
        {
            return false;
        }
        self.wanted.store(true, Ordering::Relaxed);
        true
    }
}

/// The idle sweeper: every [`TRIM_AFTER`], each query backend that took no message
/// since the previous look is asked to trim (woken through its `terminate_notify`,
/// with `terminate` unset). Runs on the postmaster's runtime while the server's shared
/// state lives (it holds no strong reference to it).
pub async fn sweep(shared: std::sync::Weak<super::Shared>) {
    let mut tick = tokio::time::interval(TRIM_AFTER);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let Some(shared) = shared.upgrade() else {
            return;
        };
        for b in shared.backends().values() {
            if let Some(idle) = &b.idle {
                if idle.ask_if_idle() {
                    b.terminate_notify.notify_one();
                }
            }
        }
    }
}

/// The allocator's "flush this thread's cache" operation, set once by the binary.
static ALLOCATOR_FLUSH: OnceLock<fn()> = OnceLock::new();

/// Registers the operation that returns the calling thread's cached blocks to the
/// allocator's shared pool (jemalloc's `thread.tcache.flush` in the tusk binary). A
/// second registration is ignored.
pub fn set_allocator_flush(flush: fn()) {
    let _ = ALLOCATOR_FLUSH.set(flush);
}

thread_local! {
    /// Set by [`request`], taken by [`on_park`].
    static REQUESTED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Asks for [`trim`] the next time this thread's runtime parks: there the stack is
/// shallower than inside the connection's future (its poll frames are above the query
/// loop's), so more of it is released.
pub fn request() {
    REQUESTED.with(|r| r.set(true));
}

/// The backend runtime's park hook (`on_thread_park`): runs a requested trim. One
/// thread-local read otherwise.
pub fn on_park() {
    if REQUESTED.with(|r| r.replace(false)) {
        trim();
    }
}

/// Returns the calling thread's cached blocks to the allocator's shared pool, where
/// other threads reuse them. The query loop calls it once, when the start-up is over:
/// the start-up's transient blocks (packets, authentication, catalog look-ups) would
/// otherwise sit in this thread's cache, and the next connection's start-up would take
/// fresh memory for the same.
pub fn flush_allocator_cache() {
    if let Some(flush) = ALLOCATOR_FLUSH.get() {
        flush();
    }
}

/// Gives back the calling backend thread's spare memory: its thread cache and the unused
/// part of its stack.
#[inline(never)]
pub fn trim() {
    flush_allocator_cache();
    release_stack_below_here();
}

/// Room left below the current frame: the `madvise` call's own frames, a signal handler
/// that might run meanwhile. One page more than any of them uses.
const STACK_MARGIN: usize = 4 * 1024;

/// Releases the calling thread's stack pages from its lowest usable address up to
/// [`STACK_MARGIN`] below this function's frame (nothing when the bounds are unknown or
/// nothing lies below the margin).
#[inline(never)]
fn release_stack_below_here() {
    let marker = 0u8;
    let here = std::hint::black_box(&marker) as *const u8 as usize;
    let Some((low, high)) = stack_bounds() else {
        return;
    };
    if here <= low || here > high {
        return;
    }
    // SAFETY: sysconf has no preconditions.
    let page = match unsafe { libc::sysconf(libc::_SC_PAGESIZE) } {
        p if p > 0 => p as usize,
        _ => return,
    };
    let start = (low + page - 1) & !(page - 1);
    let end = here.saturating_sub(STACK_MARGIN) & !(page - 1);
    if end <= start {
        return;
    }
    // SAFETY: [start, end) lies inside this thread's own stack, wholly below the current
    // frame and its margin: no live frame or object is there. MADV_DONTNEED on private
    // anonymous memory only discards contents, which are dead; the mapping stays, and a
    // later touch gets a zeroed page.
    // (a failure leaves the pages resident, which is all it costs)
    let _ = unsafe { libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_DONTNEED) };
}

/// The calling thread's usable stack as `[low, high)`, from glibc.
fn stack_bounds() -> Option<(usize, usize)> {
    // SAFETY: attr is initialized by pthread_getattr_np before it is read and destroyed
    // once; the out-pointers point at locals.
    unsafe {
        let mut attr: libc::pthread_attr_t = std::mem::zeroed();
        if libc::pthread_getattr_np(libc::pthread_self(), &mut attr) != 0 {
            return None;
        }
        let mut addr: *mut libc::c_void = std::ptr::null_mut();
        let mut size: libc::size_t = 0;
        let rc = libc::pthread_attr_getstack(&attr, &mut addr, &mut size);
        libc::pthread_attr_destroy(&mut attr);
        if rc != 0 || addr.is_null() || size == 0 {
            return None;
        }
        let low = addr as usize;
        Some((low, low + size))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Touches `depth` kB of stack, so that there is something below to release.
    #[inline(never)]
    fn deep(depth: usize) -> u8 {
        let mut buf = [0u8; 1024];
        buf[depth % 1024] = depth as u8;
        let below = if depth > 0 { deep(depth - 1) } else { 0 };
        std::hint::black_box(&buf)[depth % 1024].wrapping_add(below)
    }

    /// Resident pages of the calling thread's stack (mincore).
    fn resident_stack_pages() -> usize {
        let (low, high) = stack_bounds().expect("a spawned thread's stack bounds");
        let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as usize;
        let pages = (high - low) / page;
        let mut vec = vec![0u8; pages];
        let rc = unsafe { libc::mincore(low as *mut libc::c_void, pages * page, vec.as_mut_ptr()) };
        assert_eq!(rc, 0, "mincore: {}", std::io::Error::last_os_error());
        vec.iter().filter(|&&b| b & 1 != 0).count()
    }

    #[test]
    fn the_sweeper_asks_a_connection_idle_for_a_whole_period_once() {
        let idle = IdleState::default();
        idle.message_begins();
        idle.message_ends();
        // The first look sees a new message; the second sees none since.
        assert!(!idle.ask_if_idle());
        assert!(idle.ask_if_idle());
        // Asked already, then trimmed: no further wake-ups while it stays idle.
        assert!(!idle.ask_if_idle());
        assert!(idle.take_request());
        assert!(!idle.ask_if_idle());
        assert!(!idle.take_request());
        // A message makes it a candidate again, one whole period later.
        idle.message_begins();
        idle.message_ends();
        assert!(!idle.ask_if_idle());
        assert!(idle.ask_if_idle());
    }

    #[test]
    fn a_request_during_a_long_statement_is_dropped_when_it_ends() {
        let idle = IdleState::default();
        idle.message_begins();
        assert!(!idle.ask_if_idle());
        // The statement runs on past a whole period: the sweeper asks.
        assert!(idle.ask_if_idle());
        idle.message_ends();
        // The wake-up finds no request: the connection was busy, not idle.
        assert!(!idle.take_request());
        // Idle from here on: asked at the next look.
        assert!(idle.ask_if_idle());
        assert!(idle.take_request());
    }

    #[test]
    fn a_deep_stack_is_released_and_still_usable_after() {
        let (touched, trimmed, again) = std::thread::Builder::new()
            .stack_size(1 << 20)
            .spawn(|| {
                std::hint::black_box(deep(200));
                let touched = resident_stack_pages();
                trim();
                let trimmed = resident_stack_pages();
                // The released pages come back zeroed when reached again.
                std::hint::black_box(deep(200));
                (touched, trimmed, resident_stack_pages())
            })
            .unwrap()
            .join()
            .unwrap();
        // 200 kB were touched; all but the frames above this one and the margin go.
        assert!(touched >= 50, "{touched} pages resident before");
        assert!(trimmed <= 12, "{trimmed} pages resident after the trim");
        assert!(
            again >= 50,
            "{again} pages resident after reaching down again"
        );
    }
}
