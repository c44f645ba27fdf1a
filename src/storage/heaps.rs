//! The table of heaps ([`Heaps`]): every table's [`Heap`] by (database OID, table OID),
//! and, after a start, which of them are still waiting for their checkpoint image to
//! be decoded.
//!
//! Why heaps load lazily: a table's rows live in memory, and building them from an
//! image (decoding every row, building the version and index B-trees) costs about a
//! second per two million rows, most of it the kernel handing out fresh pages. A
//! server that decoded every image before accepting its first connection made a 1 GB
//! cluster wait seconds where PostgreSQL, which reads its pages on demand, waits
//! none. So a start checks each image (magic, CRC, stamp) — a damaged or stale one
//! still stops the start with a FATAL naming the file — and leaves its decoding to
//! background loader threads ([`Heaps::start_loading`], largest image first). The
//! first use of a table whose image is not decoded yet decodes it there and then (or
//! waits for the loader already at it): [`Heaps::get`] and [`Heaps::get_mut`] never
//! return without the table's complete rows.
//!
//! Crash recovery replays the WAL before the images are decoded: a replayed change to
//! a waiting table is kept with its load ([`Heaps::apply_or_defer`]) and applied, in
//! WAL order, right after the image is decoded, before anyone sees the heap. Replay
//! itself thus costs only the decoding of its records. A standby's replay does the
//! same with inserts; a delete there waits for its table first (it must mark the
//! version for hot-standby snapshots, `storage::recovery`).
//!
//! A waiting heap's generation ([`Heap::generation`], which checkpoints compare to skip
//! unchanged images) is reserved when its slot is made: a checkpoint that finds a
//! table still waiting with no replayed change keeps its image without loading it.
//!
//! A heap that goes (DROP TABLE, TRUNCATE, a rewrite replacing it) leaves its slot at
//! once; a big one's memory is freed on a thread of its own ([`FREE_APART_VERSIONS`]),
//! since the engine lock is held where slots change.
//!
//! Waiting for a load must not happen under the engine lock when it can be avoided:
//! [`Heaps::pending`] hands out the load so that a caller waits on it
//! ([`PendingLoad::wait`]) with the engine lock released, then takes the decoded heap
//! under it. What this module never does: write, decide visibility, or drop a table's
//! rows — a load that fails (an image that changed on disk since it was checked) is a
//! PANIC: the server must not go on without a table's committed rows.

use super::heap::Heap;
use super::schema::TableDef;
use super::wal::Lsn;
use crate::bail;
use crate::error::{sqlstate, Result};
use rustc_hash::FxHashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};

/// A heap's key: (database OID, table OID).
pub type HeapKey = (u32, u32);

/// A change to a heap kept until its image is decoded (crash-recovery replay).
pub type Deferred = Box<dyn FnOnce(&mut Heap) + Send>;

/// Every table's heap, loaded or waiting for its image (see the module notes).
#[derive(Default)]
pub struct Heaps {
    slots: FxHashMap<HeapKey, Slot>,
    /// How many slots still wait for their image (never below the true count; read
    /// without the engine lock: see [`Heaps::waiting`]).
    waiting: Arc<AtomicUsize>,
    /// Set by the last loader thread once every load it was given is decoded: the
    /// slots can then take their heaps ([`Heaps::settle`]) and the count of waiting
    /// ones fall to 0 — tables nobody has used yet included, which would otherwise
    /// keep every session checking for loads under the engine lock for good.
    all_decoded: Arc<AtomicBool>,
}

/// Heaps of at least this many versions are freed on a thread of their own when they go
/// ([`Heaps::forget`]).
pub(super) const FREE_APART_VERSIONS: usize = 16 * 1024;

/// Drops `value` on a thread of its own, named `name` (freeing millions of rows takes a
/// tenth of a second the caller need not wait for); in place when no thread is to be
/// had.
pub(super) fn drop_apart<T: Send + 'static>(name: &str, value: T) {
    let freeing = std::thread::Builder::new()
        .name(name.into())
        .spawn(move || drop(value));
    if let Err(e) = freeing {
        tracing::debug!("{name}: freeing in place: {e}");
    }
}

/// One table's place: the heap once it is in memory, and the load that fills it
/// until then (None for a heap made in memory: a new table, an emptied one).
struct Slot {
    heap: OnceLock<Heap>,
    load: Option<Arc<PendingLoad>>,
}

impl Slot {
    fn loaded(heap: Heap) -> Slot {
        Slot {
            heap: OnceLock::from(heap),
            load: None,
        }
    }

    /// The heap, decoded first if it is still waiting (by this thread, or by the loader
    /// already at it).
    fn force(&self, waiting: &AtomicUsize) -> &Heap {
        self.heap.get_or_init(|| match &self.load {
            Some(load) => {
                let heap = load.take();
                waiting.fetch_sub(1, Ordering::Relaxed);
                heap
            }
            None => Heap::default(),
        })
    }

    /// Whether the slot still waits for its image.
    fn is_waiting(&self) -> bool {
        self.heap.get().is_none() && self.load.is_some()
    }

    fn force_mut(&mut self, waiting: &AtomicUsize) -> &mut Heap {
        self.force(waiting);
        match self.heap.get_mut() {
            Some(h) => h,
            None => unreachable!("force() fills the slot"),
        }
    }
}

impl std::fmt::Debug for Heaps {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Heaps")
            .field("tables", &self.slots.len())
            .field(
                "loaded",
                &self
                    .slots
                    .values()
                    .filter(|s| s.heap.get().is_some())
                    .count(),
            )
            .finish()
    }
}

/// Where a waiting heap's rows come from: its checkpoint image, already checked.
pub struct ImageSource {
    /// The data directory.
    pub datadir: PathBuf,
    /// Database OID.
    pub db: u32,
    /// The table's definition as the catalog image has it (the image's columns, primary
    /// key and indexes).
    pub def: Arc<TableDef>,
    /// The image's size in bytes (larger images are decoded first).
    pub size: u64,
    /// The image's stamp as checked at start-up (the image decoded must still carry it).
    pub stamp: Option<Lsn>,
}

/// Where a waiting heap's load stands.
enum LoadState {
    /// Not started; the replayed changes to apply after decoding, in WAL order.
    Waiting(Vec<Deferred>),
    /// Being decoded by some thread.
    Decoding,
    /// Decoded (changes applied), not yet taken into its slot.
    Decoded(Result<Heap>),
    /// Moved into its slot.
    Taken,
}

/// The load of one table's image (see the module notes). Shared by its slot, the
/// loader threads and whoever waits for it.
pub struct PendingLoad {
    source: ImageSource,
    /// The generation the heap gets when decoded (before any replayed change).
    generation: u64,
    /// Whether a change was kept for it (its heap then ends at another generation).
    touched: std::sync::atomic::AtomicBool,
    state: Mutex<LoadState>,
    done: Condvar,
}

impl PendingLoad {
    fn lock(&self) -> MutexGuard<'_, LoadState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Decodes the image and applies the replayed changes (no lock held).
    fn decode(&self, deferred: Vec<Deferred>) -> Result<Heap> {
        let s = &self.source;
        let image = super::checkpoint::read_heap(&s.datadir, s.db, s.def.oid)?;
        if image.stamp != s.stamp {
            bail!(
                sqlstate::DATA_CORRUPTED,
                "image file of table {}/{} changed since the start (stamp {:?}, was {:?})",
                s.db,
                s.def.oid,
                image.stamp,
                s.stamp
            );
        }
        let mut heap = Heap::from_frozen_rows(&s.def, image.rows);
        heap.set_generation(self.generation);
        for op in deferred {
            op(&mut heap);
        }
        Ok(heap)
    }

    /// Decodes the heap in this thread if nobody has started it; otherwise waits until
    /// it is decoded. Returns with the state at `Decoded` or `Taken`.
    fn run_or_wait(&self) -> MutexGuard<'_, LoadState> {
        let mut st = self.lock();
        loop {
            match &mut *st {
                LoadState::Waiting(deferred) => {
                    let deferred = std::mem::take(deferred);
                    *st = LoadState::Decoding;
                    drop(st);
                    let result = self.decode(deferred);
                    st = self.lock();
                    *st = LoadState::Decoded(result);
                    self.done.notify_all();
                    return st;
                }
                LoadState::Decoding => {
                    st = self.done.wait(st).unwrap_or_else(|p| p.into_inner());
                }
                LoadState::Decoded(_) | LoadState::Taken => return st,
            }
        }
    }

    /// Waits (decoding it here if nobody has started) until the heap is decoded; call it
    /// without the engine lock, then take the heap under it.
    pub fn wait(&self) {
        drop(self.run_or_wait());
    }

    /// The decoded heap, for its slot (called once, by the slot's initialisation).
    fn take(&self) -> Heap {
        let mut st = self.run_or_wait();
        match std::mem::replace(&mut *st, LoadState::Taken) {
            LoadState::Decoded(Ok(heap)) => heap,
            LoadState::Decoded(Err(e)) => load_failed(&self.source, &e),
            _ => unreachable!("a slot takes its heap once"),
        }
    }

    /// Applies a replayed change: kept until the image is decoded, or applied to the
    /// decoded heap if it already is (waiting for a decode under way).
    fn apply_or_defer(&self, op: Deferred) {
        let mut st = self.lock();
        if let LoadState::Waiting(deferred) = &mut *st {
            self.touched.store(true, Ordering::Relaxed);
            return deferred.push(op);
        }
        drop(st);
        match &mut *self.run_or_wait() {
            LoadState::Decoded(Ok(heap)) => op(heap),
            // The failure surfaces when the heap is taken.
            LoadState::Decoded(Err(_)) => {}
            _ => unreachable!("a taken load's slot holds its heap"),
        }
    }

    /// Whether the heap is decoded (taking it then costs no wait).
    fn is_decoded(&self) -> bool {
        matches!(&*self.lock(), LoadState::Decoded(_))
    }

    /// The heap's generation while it waits, decoded or not, with no replayed change
    /// (its image is then exactly what it holds).
    fn untouched_generation(&self) -> Option<u64> {
        let st = self.lock();
        match &*st {
            LoadState::Decoded(Ok(heap)) => Some(heap.generation()),
            _ if !self.touched.load(Ordering::Relaxed) => Some(self.generation),
            _ => None,
        }
    }
}

/// A table whose image was checked at start-up could not be decoded later (changed on
/// disk since, or unreadable): going on without its rows would lose committed data,
/// so the server stops, as PostgreSQL's PANIC does. The next start checks the image
/// again and refuses to start with a FATAL naming the file.
fn load_failed(source: &ImageSource, e: &crate::error::Error) -> ! {
    tracing::error!(
        "PANIC:  could not load the checkpoint image of table {}/{}: {}",
        source.db,
        source.def.oid,
        e.message
    );
    std::process::abort()
}

impl Heaps {
    /// Puts `slot` under `key`, keeping the count of waiting slots.
    fn put(&mut self, key: HeapKey, slot: Slot) {
        if slot.is_waiting() {
            self.waiting.fetch_add(1, Ordering::Relaxed);
        }
        if let Some(old) = self.slots.insert(key, slot) {
            self.forget(old);
        }
    }

    /// Lets a slot go: counted out if it waits, and freed — a big heap on a thread of
    /// its own, since the caller holds the engine lock and freeing a million versions
    /// takes a tenth of a second every session would wait for (DROP TABLE, TRUNCATE,
    /// a rewrite replacing a heap).
    fn forget(&self, slot: Slot) {
        if slot.is_waiting() {
            self.waiting.fetch_sub(1, Ordering::Relaxed);
        }
        let big = slot
            .heap
            .get()
            .is_some_and(|h| h.tuples.len() >= FREE_APART_VERSIONS);
        if big {
            drop_apart("tusk heap free", slot);
        }
    }

    /// A heap made in memory (a new or replaced table) under `key`.
    pub fn insert(&mut self, key: HeapKey, heap: Heap) {
        self.put(key, Slot::loaded(heap));
    }

    /// A table whose image was checked and waits to be decoded, with the generation
    /// reserved for its heap (the image's, for checkpoints: see the module notes).
    pub fn insert_pending(&mut self, key: HeapKey, source: ImageSource) -> u64 {
        let generation = super::heap::reserve_generation();
        let load = PendingLoad {
            source,
            generation,
            touched: Default::default(),
            state: Mutex::new(LoadState::Waiting(Vec::new())),
            done: Condvar::new(),
        };
        let slot = Slot {
            heap: OnceLock::new(),
            load: Some(Arc::new(load)),
        };
        self.put(key, slot);
        generation
    }

    /// The heap of a table (decoded first if it still waits).
    pub fn get(&self, key: &HeapKey) -> Option<&Heap> {
        let slot = self.slots.get(key)?;
        Some(slot.force(&self.waiting))
    }

    /// [`Heaps::get`], to change it.
    pub fn get_mut(&mut self, key: &HeapKey) -> Option<&mut Heap> {
        let slot = self.slots.get_mut(key)?;
        Some(slot.force_mut(&self.waiting))
    }

    /// The heap of a table, made by `make` if there is none.
    pub fn get_or_insert_with(&mut self, key: HeapKey, make: impl FnOnce() -> Heap) -> &mut Heap {
        self.slots
            .entry(key)
            .or_insert_with(|| Slot::loaded(make()))
            .force_mut(&self.waiting)
    }

    /// Applies a replayed change to a table's heap now if it is in memory (made by
    /// `make` if there is none), or keeps it until its image is decoded.
    pub fn apply_or_defer(
        &mut self,
        key: HeapKey,
        make: impl FnOnce() -> Heap,
        op: impl FnOnce(&mut Heap) + Send + 'static,
    ) {
        let slot = self
            .slots
            .entry(key)
            .or_insert_with(|| Slot::loaded(make()));
        if let Some(heap) = slot.heap.get_mut() {
            return op(heap);
        }
        match &slot.load {
            Some(load) => load.apply_or_defer(Box::new(op)),
            None => op(slot.force_mut(&self.waiting)),
        }
    }

    /// How many tables may still wait for their images; shared, to be read without
    /// the engine lock (0: every heap is in memory, nothing to wait for).
    pub fn waiting(&self) -> Arc<AtomicUsize> {
        self.waiting.clone()
    }

    /// The load a table still waits for, to wait on without the engine lock (None when
    /// its heap is in memory or there is no such table).
    pub fn pending(&self, key: &HeapKey) -> Option<Arc<PendingLoad>> {
        let slot = self.slots.get(key)?;
        if !slot.is_waiting() {
            return None;
        }
        slot.load.clone()
    }

    /// The heap's generation ([`Heap::generation`]; 0 for no such table), without
    /// decoding a waiting heap that no replayed change touched. A touched one must be
    /// decoded first: its load comes back as the error, to wait on without the engine
    /// lock ([`PendingLoad::wait`]) before asking again.
    pub fn generation(&self, key: &HeapKey) -> std::result::Result<u64, Arc<PendingLoad>> {
        let Some(slot) = self.slots.get(key) else {
            return Ok(0);
        };
        if let Some(heap) = slot.heap.get() {
            return Ok(heap.generation());
        }
        match &slot.load {
            Some(load) => match load.untouched_generation() {
                Some(g) => Ok(g),
                None if load.is_decoded() => Ok(slot.force(&self.waiting).generation()),
                None => Err(load.clone()),
            },
            None => Ok(slot.force(&self.waiting).generation()),
        }
    }

    /// Whether the table has a heap (loaded or waiting).
    pub fn contains_key(&self, key: &HeapKey) -> bool {
        self.slots.contains_key(key)
    }

    /// Removes a table's heap (a waiting load is abandoned).
    pub fn remove(&mut self, key: &HeapKey) {
        if let Some(old) = self.slots.remove(key) {
            self.forget(old);
        }
    }

    /// Keeps only the tables for which `keep` is true (DROP DATABASE); the others go as
    /// [`Heaps::remove`]'s do, a big one freed on a thread of its own.
    pub fn retain(&mut self, mut keep: impl FnMut(&HeapKey) -> bool) {
        let gone: Vec<HeapKey> = self.slots.keys().filter(|k| !keep(k)).copied().collect();
        for k in gone {
            if let Some(slot) = self.slots.remove(&k) {
                self.forget(slot);
            }
        }
    }

    /// The keys of every table with a heap.
    pub fn keys(&self) -> impl Iterator<Item = &HeapKey> {
        self.slots.keys()
    }

    /// The heaps in memory, to change them (a waiting heap holds only frozen rows and
    /// replayed changes: nothing for VACUUM, the one caller).
    pub fn loaded_mut(&mut self) -> impl Iterator<Item = (&HeapKey, &mut Heap)> {
        self.slots
            .iter_mut()
            .filter_map(|(k, s)| s.heap.get_mut().map(|h| (k, h)))
    }

    /// The heaps in memory.
    pub fn loaded(&self) -> impl Iterator<Item = (&HeapKey, &Heap)> {
        self.slots
            .iter()
            .filter_map(|(k, s)| s.heap.get().map(|h| (k, h)))
    }

    /// Starts `threads` loader threads decoding the waiting heaps, largest image first.
    /// They end when every load is started; a load nobody waits for any more (its table
    /// dropped) is decoded and dropped.
    pub fn start_loading(&self, threads: usize) {
        let mut loads: Vec<Arc<PendingLoad>> = self
            .slots
            .values()
            .filter(|s| s.heap.get().is_none())
            .filter_map(|s| s.load.clone())
            .collect();
        if loads.is_empty() {
            return;
        }
        loads.sort_by_key(|l| (std::cmp::Reverse(l.source.size), l.source.def.oid));
        let loads = Arc::new(loads);
        let next = Arc::new(AtomicUsize::new(0));
        let threads = threads.clamp(1, loads.len());
        // Loader threads not finished yet: the last one to finish has seen every load
        // decoded (each thread takes loads until none is left, and waits for each).
        let unfinished = Arc::new(AtomicUsize::new(threads));
        for i in 0..threads {
            let loads = loads.clone();
            let next = next.clone();
            let unfinished = unfinished.clone();
            let all_decoded = self.all_decoded.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("tusk image loader {i}"))
                .spawn(move || loop {
                    let Some(load) = loads.get(next.fetch_add(1, Ordering::Relaxed)) else {
                        if unfinished.fetch_sub(1, Ordering::AcqRel) == 1 {
                            all_decoded.store(true, Ordering::Release);
                        }
                        return;
                    };
                    load.wait();
                });
            if let Err(e) = spawned {
                // The heaps still load on first use (and `all_decoded` stays unset:
                // sessions go on asking for loads).
                tracing::warn!("could not start an image loader thread: {e}");
            }
        }
    }

    /// Once the loader threads have decoded every image, puts each decoded heap in
    /// its slot, so that no slot waits any more (the count read without the engine
    /// lock falls to 0). Until then, nothing. A load that failed is a PANIC here, as
    /// on a table's first use.
    pub fn settle(&mut self) {
        if !self.all_decoded.load(Ordering::Acquire) {
            return;
        }
        let waiting = &self.waiting;
        for slot in self.slots.values_mut() {
            if slot.is_waiting() {
                slot.force_mut(waiting);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::checkpoint;
    use crate::storage::heap::Tuple;
    use crate::types::Value;

    fn image_of(dir: &std::path::Path, oid: u32, ids: std::ops::Range<i32>) -> ImageSource {
        let rows: Vec<(u64, Arc<Vec<Value>>)> = ids
            .map(|i| (i as u64, Arc::new(vec![Value::Int4(i)])))
            .collect();
        let io = crate::storage::wal::io::StdIo;
        checkpoint::write_heap(&io, dir, 5, oid, &rows, Lsn(0x100_0000), false).unwrap();
        ImageSource {
            datadir: dir.to_path_buf(),
            db: 5,
            def: Arc::new(crate::testutil::int_table(oid)),
            size: 0,
            stamp: Some(Lsn(0x100_0000)),
        }
    }

    fn ids(h: &Heap) -> Vec<i32> {
        h.tuples
            .values()
            .map(|t| match t.row[0] {
                Value::Int4(i) => i,
                _ => -1,
            })
            .collect()
    }

    #[test]
    fn a_waiting_heap_decodes_on_first_use_with_its_replayed_changes_in_order() {
        let dir = crate::testutil::tempdir("heaps-lazy");
        let mut heaps = Heaps::default();
        let g = heaps.insert_pending((5, 16384), image_of(&dir, 16384, 1..4));
        // Untouched: its generation is the reserved one, and nothing is decoded.
        assert_eq!(heaps.generation(&(5, 16384)).ok(), Some(g));
        assert_eq!(heaps.loaded().count(), 0);
        assert!(heaps.pending(&(5, 16384)).is_some());
        // Replayed: delete tuple 2, insert 10, delete 10 again, insert 11.
        let put = |tid: u64| {
            move |h: &mut Heap| {
                h.put(
                    tid,
                    Tuple::frozen(Arc::new(vec![Value::Int4(tid as i32)]), 1),
                )
            }
        };
        heaps.apply_or_defer((5, 16384), Heap::default, |h| drop(h.remove(2)));
        heaps.apply_or_defer((5, 16384), Heap::default, put(10));
        heaps.apply_or_defer((5, 16384), Heap::default, |h| drop(h.remove(10)));
        heaps.apply_or_defer((5, 16384), Heap::default, put(11));
        assert_eq!(heaps.loaded().count(), 0, "replay decodes nothing");
        assert_eq!(heaps.waiting().load(Ordering::Relaxed), 1);
        // Touched: its generation is known once it is decoded (a checkpoint writes it).
        let Err(load) = heaps.generation(&(5, 16384)) else {
            panic!("a touched heap is decoded before its generation is known");
        };
        load.wait();
        let decoded = heaps.generation(&(5, 16384)).ok().expect("decoded");
        assert_ne!(decoded, g);
        let h = heaps.get(&(5, 16384)).unwrap();
        assert_eq!(h.generation(), decoded);
        assert_eq!(ids(h), vec![1, 3, 11]);
        assert_ne!(h.generation(), g);
        assert_eq!(
            h.pk_index.len(),
            3,
            "the key index covers the replayed rows"
        );
        assert!(heaps.pending(&(5, 16384)).is_none());
        assert_eq!(heaps.waiting().load(Ordering::Relaxed), 0);
        // Once loaded, a change applies at once.
        heaps.apply_or_defer((5, 16384), Heap::default, |h| drop(h.remove(1)));
        assert_eq!(ids(heaps.get(&(5, 16384)).unwrap()), vec![3, 11]);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn loaders_decode_in_the_background_and_a_waiter_takes_the_result() {
        let dir = crate::testutil::tempdir("heaps-loaders");
        let mut heaps = Heaps::default();
        let ga = heaps.insert_pending((5, 1), image_of(&dir, 1, 0..5000));
        heaps.insert_pending((5, 2), image_of(&dir, 2, 0..10));
        heaps.insert((5, 3), Heap::default());
        heaps.start_loading(2);
        let load = heaps.pending(&(5, 1)).expect("still in its slot");
        load.wait();
        // Decoded by a loader (or by the wait), untouched: still the reserved generation.
        assert_eq!(heaps.generation(&(5, 1)).ok(), Some(ga));
        assert_eq!(heaps.get(&(5, 1)).unwrap().tuples.len(), 5000);
        heaps.remove(&(5, 2));
        assert!(!heaps.contains_key(&(5, 2)));
        assert_eq!(heaps.waiting().load(Ordering::Relaxed), 0);
        assert!(heaps.get(&(5, 3)).is_some());
        assert_eq!(heaps.loaded().count(), 2);
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// Tables nobody uses do not wait for ever: once the loaders have decoded every
    /// image, settling puts the heaps in their slots and nothing is counted as waiting
    /// (sessions stop asking for loads under the engine lock). Before that, settling
    /// changes nothing.
    #[test]
    fn settling_after_the_loaders_leaves_nothing_waiting() {
        let dir = crate::testutil::tempdir("heaps-settle");
        let mut heaps = Heaps::default();
        heaps.insert_pending((5, 1), image_of(&dir, 1, 0..3000));
        heaps.insert_pending((5, 2), image_of(&dir, 2, 0..10));
        heaps.settle();
        assert_eq!(heaps.waiting().load(Ordering::Relaxed), 2, "no loader yet");
        heaps.start_loading(2);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while !heaps.all_decoded.load(Ordering::Acquire) && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        assert_eq!(
            heaps.waiting().load(Ordering::Relaxed),
            2,
            "decoded, not taken"
        );
        heaps.settle();
        assert_eq!(heaps.waiting().load(Ordering::Relaxed), 0);
        assert!(heaps.pending(&(5, 1)).is_none() && heaps.pending(&(5, 2)).is_none());
        assert_eq!(heaps.loaded().count(), 2);
        assert_eq!(heaps.get(&(5, 1)).unwrap().tuples.len(), 3000);
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// A big heap that goes is freed on its own thread: the table is gone at once, and
    /// a row a reader still holds outlives it.
    #[test]
    fn a_big_heap_is_freed_apart_and_its_shared_rows_survive() {
        let mut h = Heap::default();
        for tid in 1..=FREE_APART_VERSIONS as u64 {
            h.put(
                tid,
                Tuple::frozen(Arc::new(vec![Value::Text(format!("row {tid}"))]), 1),
            );
        }
        let held = h.tuples.get(7).expect("tuple 7").row.clone();
        let mut heaps = Heaps::default();
        heaps.insert((5, 1), h);
        heaps.insert((5, 2), Heap::default());
        heaps.remove(&(5, 1));
        assert!(!heaps.contains_key(&(5, 1)));
        // Replacing a big heap frees the old one the same way.
        let mut again = Heap::default();
        for tid in 1..=FREE_APART_VERSIONS as u64 {
            again.put(tid, Tuple::frozen(Arc::new(vec![Value::Int4(1)]), 1));
        }
        heaps.insert((5, 2), again);
        heaps.insert((5, 2), Heap::default());
        assert_eq!(heaps.get(&(5, 2)).unwrap().tuples.len(), 0);
        assert_eq!(*held, vec![Value::Text("row 7".into())]);
        // Dropping a database's tables goes the same way, and keeps the others.
        let mut big = Heap::default();
        for tid in 1..=FREE_APART_VERSIONS as u64 {
            big.put(tid, Tuple::frozen(Arc::new(vec![Value::Int4(2)]), 1));
        }
        heaps.insert((6, 1), big);
        heaps.insert((6, 2), Heap::default());
        heaps.retain(|k| k.0 != 6);
        assert!(!heaps.contains_key(&(6, 1)) && !heaps.contains_key(&(6, 2)));
        assert!(heaps.contains_key(&(5, 2)));
    }
}
