//! The in-memory row store: one [`Heap`] per table, holding MVCC row versions
//! ([`Tuple`]s with xmin/xmax) keyed by a tuple id (held in a [`TupleMap`]: chunks of
//! consecutive ids, not a B-tree of versions), plus the primary-key index.
//!
//! Visibility (READ COMMITTED per statement): every commit gets the next commit sequence
//! number, stamped on the tuples it wrote (`xmin_seq` for inserts, `xmax_seq` for
//! deletes) at the moment it becomes visible. A snapshot is a sequence number: a tuple
//! is visible when its insert committed at or before the snapshot (or is the reader's
//! own), and its delete did not (and is not the reader's own). Tuples loaded from an
//! image or replayed from the WAL are frozen (`xmin = 0`, `xmin_seq = 1`).
//!
//! An UPDATE is a delete plus an insert under a new tuple id, as in PostgreSQL, so a
//! sequential scan returns updated rows after the others.
//!
//! Secondary indexes ([`SecondaryIndex`]) are B-trees (`BTreeMap`) from an encoded key
//! to the tuple ids of every version carrying it, live or dead, like the primary-key
//! index (a B-tree under the same order-preserving encoding, so that key ranges and
//! key prefixes are scanned through it as through an index; [`PK_INDEX`]): visibility is decided on the versions, never in the index. NULLs are indexed
//! (sorting last) so prefix lookups find rows with NULLs in later columns, but a key
//! holding a NULL never conflicts in a unique index and no lookup asks for a NULL
//! (no equality or range predicate matches NULL). A partial index holds only the
//! versions whose predicate column (a hidden column the SQL layer fills, see
//! `ColumnDef::generated`) is true; an index on expressions indexes hidden columns
//! holding the expressions' values, so the heap never evaluates anything. Index contents are never logged: they
//! follow `put`/`remove` and are rebuilt from the rows when a definition changes.
//!
//! Bulk builds: an index made from the versions present (a primary key added, an index
//! created, a heap loaded from its checkpoint image) is not built by one B-tree insertion
//! per version: the (key, tuple id) pairs are collected, sorted (stably, so each key's
//! tuple ids stay in tuple-id order, as insertions would leave them; rows loaded in key
//! order need no sort), grouped, and handed to the B-tree in order, which fills its nodes
//! in one pass. A heap loaded from an image ([`Heap::from_frozen_rows`]) fills its
//! version chunks in tuple-id order, and a large one builds its primary-key index on a
//! second thread meanwhile. An index built over a large heap's versions (ADD PRIMARY
//! KEY, CREATE INDEX) makes and groups the keys of each half of the versions on a thread
//! of its own ([`build_heap_index`]): making a key reads the version's row.
//!
//! Key encoding ([`index_key`]): integers, OIDs, dates, timestamps, times and booleans are
//! encoded order-preservingly (a type tag, then big-endian with the sign bit flipped),
//! so a range over the first column is a range of the B-tree; other types use the
//! value's canonical encoding, good for equality only.

use super::schema::{IndexDef, TableDef};
use super::tuple_map::TupleMap;
use crate::types::{encode_value, Value};
use smallvec::SmallVec;
use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::atomic::{AtomicU64, Ordering as AtomicOrdering};
use std::sync::Arc;

/// An encoded index key. Most keys (an integer's is 9 bytes) fit inline, so an index
/// entry costs no allocation of its own for its key. Ordered as its bytes are
/// (lexicographically), compared eight bytes at a time ([`KeyBytes`]): a look-up in
/// an index of a million keys makes some forty comparisons, and a `memcmp` call each
/// was most of its cost.
#[derive(Clone, Default, Debug)]
pub struct IndexKey(SmallVec<[u8; 16]>);

impl IndexKey {
    /// An empty key.
    pub fn new() -> Self {
        IndexKey(SmallVec::new())
    }

    /// A key holding `bytes`.
    pub fn from_slice(bytes: &[u8]) -> Self {
        IndexKey(SmallVec::from_slice(bytes))
    }

    /// Appends bytes.
    pub fn extend_from_slice(&mut self, bytes: &[u8]) {
        self.0.extend_from_slice(bytes);
    }
}

impl std::ops::Deref for IndexKey {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.0
    }
}

impl PartialEq for IndexKey {
    fn eq(&self, other: &Self) -> bool {
        KeyBytes::new(self) == KeyBytes::new(other)
    }
}

impl Eq for IndexKey {}

impl std::hash::Hash for IndexKey {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        KeyBytes::new(self).hash(state)
    }
}

impl Ord for IndexKey {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        KeyBytes::new(self).cmp(KeyBytes::new(other))
    }
}

impl PartialOrd for IndexKey {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

/// The borrowed form of an [`IndexKey`], for look-ups and ranges by encoded bytes
/// (`map.get(KeyBytes::new(&key))`): the same order, the same fast comparison.
#[repr(transparent)]
#[derive(Debug)]
pub struct KeyBytes([u8]);

impl std::hash::Hash for KeyBytes {
    /// As the bytes hash (equal keys, equal bytes: consistent with `eq`).
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.0.hash(state)
    }
}

impl PartialEq for KeyBytes {
    /// Equal bytes, compared eight at a time in line (a bulk index build or a
    /// uniqueness check compares millions of short keys: a `memcmp` call each was a
    /// sixth of an ADD PRIMARY KEY).
    fn eq(&self, other: &Self) -> bool {
        let (mut a, mut b) = (&self.0, &other.0);
        if a.len() != b.len() {
            return false;
        }
        while let (Some((x, a_rest)), Some((y, b_rest))) =
            (a.split_first_chunk::<8>(), b.split_first_chunk::<8>())
        {
            if u64::from_ne_bytes(*x) != u64::from_ne_bytes(*y) {
                return false;
            }
            a = a_rest;
            b = b_rest;
        }
        a.iter().zip(b).all(|(x, y)| x == y)
    }
}

impl Eq for KeyBytes {}

impl KeyBytes {
    /// `bytes` as a key.
    pub fn new(bytes: &[u8]) -> &KeyBytes {
        // SAFETY: KeyBytes is a transparent wrapper of [u8]: same layout, same
        // metadata (the length).
        unsafe { &*(bytes as *const [u8] as *const KeyBytes) }
    }
}

impl Ord for KeyBytes {
    /// The bytes' order, eight bytes at a time (big-endian words compare as their bytes
    /// do), then the tail byte by byte, then the lengths.
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        let (mut a, mut b) = (&self.0, &other.0);
        while let (Some((x, a_rest)), Some((y, b_rest))) =
            (a.split_first_chunk::<8>(), b.split_first_chunk::<8>())
        {
            let (x, y) = (u64::from_be_bytes(*x), u64::from_be_bytes(*y));
            if x != y {
                return x.cmp(&y);
            }
            a = a_rest;
            b = b_rest;
        }
        for (x, y) in a.iter().zip(b) {
            if x != y {
                return x.cmp(y);
            }
        }
        a.len().cmp(&b.len())
    }
}

impl PartialOrd for KeyBytes {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl std::borrow::Borrow<KeyBytes> for IndexKey {
    fn borrow(&self) -> &KeyBytes {
        KeyBytes::new(&self.0)
    }
}

/// The tuple ids under one index key: usually one version, held inline.
pub type TidList = SmallVec<[u64; 1]>;

/// An index's contents: encoded key → tuple ids of all versions carrying it.
pub type IndexMap = BTreeMap<IndexKey, TidList>;

/// The xid of frozen tuples (always committed).
pub const FROZEN_XID: u32 = 0;

/// One row version.
#[derive(Debug, Clone)]
pub struct Tuple {
    /// The inserting transaction (0 = frozen).
    pub xmin: u32,
    /// The commit sequence number of the insert (0 = not committed yet).
    pub xmin_seq: u64,
    /// The deleting transaction (0 = none).
    pub xmax: u32,
    /// The commit sequence number of the delete (0 = not committed yet).
    pub xmax_seq: u64,
    /// The column values.
    pub row: Arc<Vec<Value>>,
    /// The tuple id of the version an UPDATE replaced this one with (0 = none), so a
    /// READ COMMITTED writer that waited can follow the row to its newest version.
    pub next: u64,
}

/// What a reader sees: its own xid and the last commit sequence number it may see.
#[derive(Debug, Clone, Copy)]
pub struct Snapshot {
    /// The reader's transaction id (its own changes are visible).
    pub xid: u32,
    /// The last commit sequence number visible to the reader.
    pub seq: u64,
}

impl Tuple {
    /// A version of a row that every snapshot sees from commit sequence number `seq`
    /// on (`seq` 1: always): what images and replayed inserts hold.
    pub fn frozen(row: Arc<Vec<Value>>, seq: u64) -> Tuple {
        Tuple {
            xmin: FROZEN_XID,
            xmin_seq: seq,
            xmax: 0,
            xmax_seq: 0,
            next: 0,
            row,
        }
    }

    /// Whether the tuple's insert is visible to `s`.
    pub fn inserted_for(&self, s: &Snapshot) -> bool {
        (self.xmin == s.xid && s.xid != FROZEN_XID)
            || (self.xmin_seq != 0 && self.xmin_seq <= s.seq)
    }

    /// Whether the tuple's delete is visible to `s`.
    pub fn deleted_for(&self, s: &Snapshot) -> bool {
        self.xmax != 0 && (self.xmax == s.xid || (self.xmax_seq != 0 && self.xmax_seq <= s.seq))
    }

    /// Whether the tuple is visible to `s`.
    pub fn visible(&self, s: &Snapshot) -> bool {
        self.inserted_for(s) && !self.deleted_for(s)
    }

    /// Whether the tuple is committed and not deleted by a committed transaction (what a
    /// checkpoint image holds).
    pub fn committed_live(&self) -> bool {
        self.xmin_seq != 0 && self.xmax_seq == 0
    }
}

/// Hands out [`Heap::generation`] values, unique across every heap of the process.
static NEXT_GENERATION: AtomicU64 = AtomicU64::new(1);

/// A generation no heap has had or will get by changing ([`Heap::generation`]).
pub fn reserve_generation() -> u64 {
    NEXT_GENERATION.fetch_add(1, AtomicOrdering::Relaxed)
}

/// One table's row versions and primary-key index.
#[derive(Debug, Default)]
pub struct Heap {
    /// Row versions by tuple id, in insertion order. Read it freely; change a tuple only
    /// through [`Heap::put`], [`Heap::remove`] or [`Heap::tuple_mut`], which move
    /// [`Heap::generation`] on (checkpoints skip images of unchanged heaps).
    pub tuples: TupleMap,
    /// Changes whenever a version is added, removed or touched; unique across heaps, so
    /// a heap that replaced another never shows the old one's value (0 only for a heap
    /// that never held a version).
    generation: u64,
    /// Tuple ids whose delete committed while an older snapshot could still see them:
    /// the candidates of the next automatic VACUUM ([`Heap::vacuum_dead`]).
    dead: Vec<u64>,
    /// The next tuple id to hand out; above every tuple id held (only [`Heap::put`] and
    /// the constructors move it).
    pub next_tid: u64,
    /// The primary key's column positions, if the table has one.
    pub pk: Option<Vec<usize>>,
    /// Primary-key index: encoded key (the order-preserving index encoding, so that
    /// ranges and prefixes of the key can be scanned) → tuple ids of all versions
    /// carrying that key.
    pub pk_index: IndexMap,
    /// Secondary indexes, in the table definition's order.
    pub indexes: Vec<SecondaryIndex>,
}

/// A table's size and row counts (see [`Heap::sizes`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HeapSizes {
    /// Bytes of every row version held.
    pub heap_bytes: u64,
    /// Bytes of the primary key's index.
    pub pk_index_bytes: u64,
    /// Bytes of each secondary index, by index OID.
    pub index_bytes: Vec<(u32, u64)>,
    /// Committed versions not deleted by a committed transaction.
    pub live: u64,
    /// Versions whose delete committed (not yet vacuumed).
    pub dead: u64,
}

/// One secondary index's contents.
#[derive(Debug, Clone)]
pub struct SecondaryIndex {
    /// The definition it was built for.
    pub def: IndexDef,
    /// Encoded key → tuple ids of all versions carrying that key.
    pub map: IndexMap,
}

/// Where an index key is encoded to: a `Vec`, or an [`IndexKey`] (inline when short).
pub trait KeyOut {
    /// Appends bytes.
    fn put(&mut self, bytes: &[u8]);
    /// Appends a value's canonical encoding (`types::encode_value`).
    fn put_value(&mut self, v: &Value);
}

impl KeyOut for Vec<u8> {
    fn put(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }
    fn put_value(&mut self, v: &Value) {
        encode_value(v, self);
    }
}

impl KeyOut for IndexKey {
    fn put(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }
    fn put_value(&mut self, v: &Value) {
        let mut tmp = Vec::new();
        encode_value(v, &mut tmp);
        self.extend_from_slice(&tmp);
    }
}

/// Encodes one value of an index key: order-preserving for the fixed-width types
/// (see the module notes), the canonical encoding otherwise.
fn encode_index_value(v: &Value, out: &mut impl KeyOut) {
    let signed = |out: &mut dyn KeyOut, tag: u8, i: i64| {
        let mut bytes = [tag; 9];
        bytes[1..].copy_from_slice(&((i as u64) ^ (1 << 63)).to_be_bytes());
        out.put(&bytes);
    };
    match v {
        Value::Bool(b) => out.put(&[1, *b as u8]),
        Value::Int2(i) => signed(out, 2, *i as i64),
        Value::Int4(i) => signed(out, 2, *i as i64),
        Value::Int8(i) => signed(out, 2, *i),
        Value::Oid(o) => signed(out, 3, *o as i64),
        Value::Date(d) => signed(out, 4, *d as i64),
        Value::Timestamp(t) => signed(out, 5, *t),
        Value::TimestampTz(t) => signed(out, 6, *t),
        Value::Time(t) => signed(out, 9, *t),
        Value::Numeric(n) => {
            out.put(&[7]);
            out.put_value(&Value::numeric(n.normalized()));
        }
        other => {
            out.put(&[8]);
            out.put_value(other);
        }
    }
}

/// Whether a value's index encoding sorts as the values do (ranges are usable).
pub fn order_preserving(v: &Value) -> bool {
    matches!(
        v,
        Value::Bool(_)
            | Value::Int2(_)
            | Value::Int4(_)
            | Value::Int8(_)
            | Value::Oid(_)
            | Value::Date(_)
            | Value::Timestamp(_)
            | Value::TimestampTz(_)
            | Value::Time(_)
    )
}

/// Encodes lookup values (a prefix of the key columns, in key order); None when one is
/// NULL (no equality or range predicate matches NULL).
pub fn index_key(vals: &[Value]) -> Option<Vec<u8>> {
    if vals.iter().any(|v| v.is_null()) {
        return None;
    }
    Some(row_key(vals))
}

/// Encodes a row's key values; a NULL sorts after every value (as PostgreSQL's
/// default NULLS LAST), so rows with NULLs in later columns are still found by a
/// lookup on a prefix.
fn row_key(vals: &[Value]) -> Vec<u8> {
    // (an integer column takes 9 bytes)
    let mut out = Vec::with_capacity(9 * vals.len());
    row_key_into(vals, &mut out);
    out
}

/// [`row_key`], appended to `out`.
fn row_key_into<'a>(vals: impl IntoIterator<Item = &'a Value>, out: &mut impl KeyOut) {
    for v in vals {
        if v.is_null() {
            out.put(&[0xff]);
        } else {
            encode_index_value(v, out);
        }
    }
}

/// Appends the primary-key encoding of key values (in key column order) to `out`, as
/// [`Heap::encode_key`] and [`Heap::key_of`] give it: equal keys (numerics equal in
/// value included) encode equally, and the order-preserving types sort as their values.
fn encode_key_into<'a>(vals: impl IntoIterator<Item = &'a Value>, out: &mut impl KeyOut) {
    for v in vals {
        encode_index_value(v, out);
    }
}

/// The primary-key index's key of `row`, whose key columns are `pk`.
fn pk_entry_key(pk: &[usize], row: &[Value]) -> IndexKey {
    let mut key = IndexKey::new();
    encode_key_into(
        pk.iter().map(|&c| row.get(c).unwrap_or(&Value::Null)),
        &mut key,
    );
    key
}

/// Tables with at least this many rows build their primary-key index on a thread of
/// its own when loaded from an image ([`Heap::from_frozen_rows`]).
const PARALLEL_BUILD_ROWS: usize = 100_000;

/// The OID that stands for a table's primary key in index lookups (no index has
/// OID 0): `Engine::lookup_index` then reads [`Heap::pk_index`].
pub const PK_INDEX: u32 = 0;

/// Tuple ids under the keys of an index map starting with `prefix`.
pub fn keys_with_prefix(map: &IndexMap, prefix: &[u8]) -> Vec<u64> {
    map.range::<KeyBytes, _>((Bound::Included(KeyBytes::new(prefix)), Bound::Unbounded))
        .take_while(|(k, _)| k.starts_with(prefix))
        .flat_map(|(_, v)| v.iter().copied())
        .collect()
}

/// Tuple ids under the keys of an index map between the bounds (encoded key
/// prefixes: a bound covers every key it is a prefix of).
pub fn keys_in_range(map: &IndexMap, lo: Bound<&[u8]>, hi: Bound<&[u8]>) -> Vec<u64> {
    let start: Bound<&KeyBytes> = match lo {
        Bound::Included(b) | Bound::Excluded(b) => Bound::Included(KeyBytes::new(b)),
        Bound::Unbounded => Bound::Unbounded,
    };
    let mut out = Vec::new();
    for (k, tids) in map.range::<KeyBytes, _>((start, Bound::Unbounded)) {
        if let Bound::Excluded(b) = lo {
            if k.starts_with(b) {
                continue;
            }
        }
        match hi {
            Bound::Included(b) => {
                if &k[..] > b && !k.starts_with(b) {
                    break;
                }
            }
            Bound::Excluded(b) => {
                if &k[..] >= b {
                    break;
                }
            }
            Bound::Unbounded => {}
        }
        out.extend(tids.iter().copied());
    }
    out
}

/// Builds an index map from (key, tuple id) entries in bulk: sorted by key (each key's
/// tuple ids in the entries' order), grouped, and handed to the B-tree sorted, which
/// then fills its nodes in one pass instead of searching per entry. Entries come in
/// tuple-id order (every caller walks a heap or an image in that order). The run that
/// arrives in key order (all of a table loaded in key order, like pgbench's accounts;
/// most of one some of whose rows were updated since) is grouped as it comes; the
/// entries after the first one out of order are sorted on their own — by key, then
/// tuple id, which keeps the entries' order within a key — and merged in, so an
/// updated table costs a sort of its updated rows, not of all of them.
fn build_index(entries: impl IntoIterator<Item = (IndexKey, u64)>) -> IndexMap {
    let entries = entries.into_iter();
    // Sized for what is sure to come (an exact count for a whole heap's keys; nothing
    // for a partial index's filtered walk, which may keep few of the versions).
    let (low, _) = entries.size_hint();
    group_entries(entries, low).into_index()
}

/// Entries grouped as [`build_index`] takes them: the run that arrived in key order,
/// grouped, and the entries after the first one out of order, as they came.
struct Grouped {
    grouped: Vec<(IndexKey, TidList)>,
    rest: Vec<(IndexKey, u64)>,
}

/// Groups entries as they come (see [`build_index`]); `reserve` entries are expected.
fn group_entries(entries: impl Iterator<Item = (IndexKey, u64)>, reserve: usize) -> Grouped {
    let mut grouped: Vec<(IndexKey, TidList)> = Vec::with_capacity(reserve);
    let mut rest: Vec<(IndexKey, u64)> = Vec::new();
    for (k, tid) in entries {
        if !rest.is_empty() {
            rest.push((k, tid));
            continue;
        }
        match grouped.last_mut() {
            Some((last, tids)) if *last == k => tids.push(tid),
            Some((last, _)) if *last > k => rest.push((k, tid)),
            _ => grouped.push((k, smallvec::smallvec![tid])),
        }
    }
    Grouped { grouped, rest }
}

impl Grouped {
    /// The entries of `self` followed by those of `later` (grouped from the entries
    /// that came after `self`'s), as if grouped in one pass.
    fn then(mut self, later: Grouped) -> Grouped {
        let Grouped { grouped, rest } = later;
        let mut grouped = grouped.into_iter().peekable();
        if self.rest.is_empty() {
            // `later`'s ordered run continues this one where its first key is not
            // below this run's last (an equal key joins that key's tuple ids).
            if let (Some((last, tids)), Some((first, _))) =
                (self.grouped.last_mut(), grouped.peek())
            {
                if first == last {
                    if let Some((_, more)) = grouped.next() {
                        tids.extend(more);
                    }
                }
            }
            let continues = match (self.grouped.last(), grouped.peek()) {
                (Some((last, _)), Some((first, _))) => first > last,
                _ => true,
            };
            if continues {
                self.grouped.extend(grouped);
                self.rest = rest;
                return self;
            }
        }
        // Past the first entry out of order, everything is ungrouped, in arrival order.
        self.rest
            .extend(grouped.flat_map(|(k, tids)| tids.into_iter().map(move |t| (k.clone(), t))));
        self.rest.extend(rest);
        self
    }

    /// The index: the out-of-order entries sorted by key, then tuple id (which keeps
    /// the entries' order within a key), and merged into the ordered run.
    fn into_index(self) -> IndexMap {
        let Grouped { grouped, mut rest } = self;
        if rest.is_empty() {
            return grouped.into_iter().collect();
        }
        rest.sort_unstable_by(|a, b| a.0.cmp(&b.0).then(a.1.cmp(&b.1)));
        // Merge: on equal keys the grouped run's tuple ids (the earlier ones) go first.
        let mut merged: Vec<(IndexKey, TidList)> = Vec::with_capacity(grouped.len() + rest.len());
        let mut rest = rest.into_iter().peekable();
        for (k, tids) in grouped {
            while let Some((rk, _)) = rest.peek() {
                if *rk >= k {
                    break;
                }
                if let Some((rk, tid)) = rest.next() {
                    push_entry(&mut merged, rk, tid);
                }
            }
            match merged.last_mut() {
                Some((last, held)) if *last == k => held.extend(tids),
                _ => merged.push((k, tids)),
            }
        }
        for (rk, tid) in rest {
            push_entry(&mut merged, rk, tid);
        }
        merged.into_iter().collect()
    }
}

/// [`build_index`] over a heap's versions, `key` giving each one's entry key (None
/// leaves it out). A large heap's walk is cut in two halves by tuple id, each half's
/// keys made and grouped on a thread of its own — making a key reads the version's
/// row, and those reads (a cache miss or more each) are most of a large build's time
/// — then joined ([`Grouped::then`]) and built. Small heaps, or no second thread to be
/// had, are walked here alone.
fn build_heap_index(
    tuples: &TupleMap,
    key: impl Fn(&[Value]) -> Option<IndexKey> + Sync,
) -> IndexMap {
    let walk = |it: &mut dyn Iterator<Item = (u64, &Tuple)>, reserve: usize| {
        group_entries(
            it.filter_map(|(tid, t)| key(&t.row).map(|k| (k, tid))),
            reserve,
        )
    };
    let ends = (tuples.keys().next(), tuples.keys().next_back());
    let (Some(lo), Some(hi)) = ends else {
        return IndexMap::new();
    };
    if tuples.len() < PARALLEL_BUILD_ROWS {
        return walk(&mut tuples.iter(), tuples.len()).into_index();
    }
    let mid = lo + (hi - lo) / 2 + 1;
    let half = tuples.len() / 2 + 1;
    let second_half = || walk(&mut tuples.iter_from(mid), half);
    let (first, second) = std::thread::scope(|scope| {
        let spawned = std::thread::Builder::new()
            .name("tusk index build".into())
            .spawn_scoped(scope, second_half);
        // Room for both halves' entries: the second half's are appended without a
        // reallocation (a copy of half the entries and new pages for all of them).
        let first = walk(
            &mut tuples.iter().take_while(|(tid, _)| *tid < mid),
            tuples.len(),
        );
        (first, spawned.ok().and_then(|h| h.join().ok()))
    });
    let second = second.unwrap_or_else(second_half);
    first.then(second).into_index()
}

/// Appends one (key, tuple id) entry to a list sorted by key, grouping equal keys.
fn push_entry(list: &mut Vec<(IndexKey, TidList)>, k: IndexKey, tid: u64) {
    match list.last_mut() {
        Some((last, tids)) if *last == k => tids.push(tid),
        _ => list.push((k, smallvec::smallvec![tid])),
    }
}

impl SecondaryIndex {
    /// The encoded key of a row, and whether it holds a NULL (such keys never
    /// conflict in a unique index); None when a partial index does not cover the row
    /// (its predicate column is not true), which then is neither indexed nor checked.
    pub fn key_of(&self, row: &[Value]) -> Option<(Vec<u8>, bool)> {
        self.entry_key(row).map(|(k, null)| (k.to_vec(), null))
    }

    /// [`SecondaryIndex::key_of`] as the index stores it.
    fn entry_key(&self, row: &[Value]) -> Option<(IndexKey, bool)> {
        if let Some(p) = self.def.predicate {
            if !matches!(row.get(p), Some(Value::Bool(true))) {
                return None;
            }
        }
        let vals = || {
            self.def
                .columns
                .iter()
                .map(|&c| row.get(c).unwrap_or(&Value::Null))
        };
        let mut key = IndexKey::new();
        row_key_into(vals(), &mut key);
        Some((key, vals().any(|v| v.is_null())))
    }

    /// Tuple ids under keys starting with the encoded `prefix` (equality on the first
    /// key columns; the whole key for a full match).
    pub fn with_prefix(&self, prefix: &[u8]) -> Vec<u64> {
        keys_with_prefix(&self.map, prefix)
    }

    /// Tuple ids whose first key column lies between the bounds, each given as the
    /// encoding of one order-preserving value ([`index_key`] of that value alone).
    pub fn in_range(&self, lo: Bound<&[u8]>, hi: Bound<&[u8]>) -> Vec<u64> {
        keys_in_range(&self.map, lo, hi)
    }

    fn add(&mut self, tid: u64, row: &[Value]) {
        if let Some((k, _)) = self.entry_key(row) {
            self.map.entry(k).or_default().push(tid);
        }
    }

    fn drop_tid(&mut self, tid: u64, row: &[Value]) {
        let Some((k, _)) = self.entry_key(row) else {
            return;
        };
        if let Some(v) = self.map.get_mut(&k) {
            v.retain(|x| *x != tid);
            if v.is_empty() {
                self.map.remove(&k);
            }
        }
    }
}

impl Heap {
    /// An empty heap for a table with the given primary key.
    pub fn new(pk: Option<Vec<usize>>) -> Heap {
        Heap {
            pk,
            next_tid: 1,
            ..Default::default()
        }
    }

    /// An empty heap with the primary key and secondary indexes of a definition.
    pub fn for_table(def: &TableDef) -> Heap {
        let mut h = Heap::new(def.primary_key.clone());
        h.sync_indexes(&def.indexes);
        h
    }

    /// Makes the secondary indexes those of `defs` (after CREATE/DROP INDEX, their
    /// undo or redo), rebuilding them from the versions present when they differ.
    pub fn sync_indexes(&mut self, defs: &[IndexDef]) {
        let same = self.indexes.len() == defs.len()
            && self.indexes.iter().zip(defs).all(|(a, b)| &a.def == b);
        if same {
            return;
        }
        let tuples = &self.tuples;
        self.indexes = defs
            .iter()
            .map(|d| {
                let mut ix = SecondaryIndex {
                    def: d.clone(),
                    map: BTreeMap::new(),
                };
                ix.map = build_heap_index(tuples, |row| ix.entry_key(row).map(|(k, _)| k));
                ix
            })
            .collect();
    }

    /// Makes `pk` the primary key (after ALTER TABLE, or its undo), rebuilding the
    /// primary-key index from the versions present when it changed.
    pub fn set_pk(&mut self, pk: Option<Vec<usize>>) {
        if self.pk == pk {
            return;
        }
        self.pk = pk;
        self.rebuild_pk_index();
    }

    /// Builds the primary-key index from the versions present, in bulk.
    fn rebuild_pk_index(&mut self) {
        let Some(pk) = self.pk.as_deref() else {
            self.pk_index = IndexMap::new();
            return;
        };
        self.pk_index = build_heap_index(&self.tuples, |row| Some(pk_entry_key(pk, row)));
    }

    /// A heap holding the rows of a checkpoint image, frozen (see the module notes),
    /// with the primary key and secondary indexes of `def`. Rows come in ascending
    /// tuple-id order (as images are written), so the B-trees are built in bulk rather
    /// than by one insertion per row; any order is accepted.
    pub fn from_frozen_rows(def: &TableDef, rows: Vec<(u64, Arc<Vec<Value>>)>) -> Heap {
        let mut h = Heap::new(def.primary_key.clone());
        if let Some(last) = rows.iter().map(|(tid, _)| *tid).max() {
            h.next_tid = last + 1;
        }
        let frozen = |(tid, row): &(u64, Arc<Vec<Value>>)| (*tid, Tuple::frozen(row.clone(), 1));
        // Handed to the index build as they are made (no vector of all the keys).
        fn key_entries<'a>(
            rows: &'a [(u64, Arc<Vec<Value>>)],
            pk: &'a [usize],
        ) -> impl Iterator<Item = (IndexKey, u64)> + 'a {
            rows.iter()
                .map(move |(tid, row)| (pk_entry_key(pk, row), *tid))
        }
        let pk_entries = |pk| key_entries(&rows, pk);
        // A large table's key index is built on a second thread while this one builds
        // the version chunks (start-up time is what a loaded cluster waits for).
        let (tuples, pk_index) = match &h.pk {
            Some(pk) if rows.len() >= PARALLEL_BUILD_ROWS => std::thread::scope(|scope| {
                let index = scope.spawn(|| build_index(pk_entries(pk)));
                let tuples: TupleMap = rows.iter().map(frozen).collect();
                let index = index.join().unwrap_or_else(|_| build_index(pk_entries(pk)));
                (tuples, index)
            }),
            Some(pk) => (
                rows.iter().map(frozen).collect(),
                build_index(pk_entries(pk)),
            ),
            None => (rows.iter().map(frozen).collect(), BTreeMap::new()),
        };
        drop(rows);
        h.tuples = tuples;
        h.pk_index = pk_index;
        if !h.tuples.is_empty() {
            h.touch();
        }
        h.sync_indexes(&def.indexes);
        h
    }

    /// The encoded primary key of a row (None without a primary key).
    pub fn key_of(&self, row: &[Value]) -> Option<Vec<u8>> {
        self.pk_key(row).map(|k| k.to_vec())
    }

    /// [`Heap::key_of`] as the index stores it.
    fn pk_key(&self, row: &[Value]) -> Option<IndexKey> {
        Some(pk_entry_key(self.pk.as_deref()?, row))
    }

    /// Encodes primary-key values (in key column order) as the index stores them.
    pub fn encode_key(&self, vals: &[Value]) -> Option<Vec<u8>> {
        let pk = self.pk.as_ref()?;
        if vals.len() != pk.len() {
            return None;
        }
        // The index encoding: numerics equal in value give equal keys, and the order-
        // preserving types sort as their values (ranges over the key).
        let mut out = Vec::new();
        encode_key_into(vals, &mut out);
        Some(out)
    }

    /// What the table holds, as tusk accounts it (`pg_relation_size` and friends,
    /// `pg_stat_*_tables`): every row version in memory, live or dead, measured in
    /// tusk's row encoding (the checkpoint image's: `types::encode_row`), and each
    /// index entry as its encoded key plus eight bytes per tuple id it points to.
    pub fn sizes(&self) -> HeapSizes {
        let mut row_bytes = Vec::new();
        let mut s = HeapSizes::default();
        for t in self.tuples.values() {
            row_bytes.clear();
            crate::types::encode_row(&t.row, &mut row_bytes);
            s.heap_bytes += row_bytes.len() as u64;
            if t.committed_live() {
                s.live += 1;
            } else if t.xmax_seq != 0 {
                s.dead += 1;
            }
        }
        let entries = |m: &IndexMap| {
            m.iter()
                .map(|(k, v)| (k.len() + 8 * v.len()) as u64)
                .sum::<u64>()
        };
        s.pk_index_bytes = entries(&self.pk_index);
        s.index_bytes = self
            .indexes
            .iter()
            .map(|i| (i.def.oid, entries(&i.map)))
            .collect();
        s
    }

    /// The heap's current generation (see the field): equal values mean no version
    /// was added, removed or touched in between.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    fn touch(&mut self) {
        self.generation = reserve_generation();
    }

    /// Gives the heap a generation reserved earlier ([`reserve_generation`]): a heap
    /// decoded after start-up takes the one its table's slot promised checkpoints
    /// (`storage::heaps`).
    pub fn set_generation(&mut self, generation: u64) {
        self.generation = generation;
    }

    /// The tuple under `tid`, to change its header (commit stamps, xmax, the update
    /// chain); moves the generation on.
    pub fn tuple_mut(&mut self, tid: u64) -> Option<&mut Tuple> {
        self.touch();
        self.tuples.get_mut(tid)
    }

    /// Stamps the versions under the tuple ids of `tids` that transaction `xid`
    /// inserted with its commit sequence number `seq` (they become visible to snapshots
    /// from `seq` on): one ordered walk of the range, not a look-up per version.
    pub fn stamp_inserts(&mut self, tids: std::ops::RangeInclusive<u64>, xid: u32, seq: u64) {
        self.touch();
        for t in self.tuples.range_mut(tids).map(|(_, t)| t) {
            if t.xmin == xid && t.xmin_seq == 0 {
                t.xmin_seq = seq;
            }
        }
    }

    /// Whether any version was stamped by a commit after `seq` (then an image taken as
    /// of `seq` does not show the heap's present committed state).
    pub fn changed_after(&self, seq: u64) -> bool {
        self.tuples
            .values()
            .any(|t| t.xmin_seq > seq || t.xmax_seq > seq)
    }

    /// Adds a tuple under `tid` and indexes it. A tuple already under `tid` is replaced
    /// (redo of a record an online checkpoint's image already holds must be harmless).
    pub fn put(&mut self, tid: u64, t: Tuple) {
        self.touch();
        // Every tuple id held is below `next_tid`: a new one (an INSERT's) needs no look.
        if tid < self.next_tid && self.tuples.contains_key(tid) {
            self.remove(tid);
        }
        if let Some(k) = self.pk_key(&t.row) {
            self.pk_index.entry(k).or_default().push(tid);
        }
        for ix in &mut self.indexes {
            ix.add(tid, &t.row);
        }
        if tid >= self.next_tid {
            self.next_tid = tid + 1;
        }
        self.tuples.insert(tid, t);
    }

    /// Replaces version `old` by `t` under the new tuple id `tid`: an UPDATE's delete
    /// and insert replayed together. When the old version is its key's only one and
    /// the new carries the same key, the key index's entry takes the new id in place
    /// (one look-up; removing and re-making the entry cost a B-tree removal and
    /// insertion a replayed update); otherwise it is [`Heap::remove`] then
    /// [`Heap::put`].
    pub fn replace(&mut self, old: u64, tid: u64, t: Tuple) {
        let fresh = tid >= self.next_tid || !self.tuples.contains_key(tid);
        if fresh && self.tuples.contains_key(old) {
            // A version is indexed under its own key only: finding `old` alone under
            // the new row's key says that both keys are the same (no second encoding).
            let entry = self
                .pk_key(&t.row)
                .and_then(|k| self.pk_index.get_mut(&k))
                .filter(|v| v[..] == [old]);
            if let Some(v) = entry {
                v[0] = tid;
                self.touch();
                if let Some(o) = self.tuples.remove(old) {
                    for ix in &mut self.indexes {
                        ix.drop_tid(old, &o.row);
                    }
                }
                for ix in &mut self.indexes {
                    ix.add(tid, &t.row);
                }
                if tid >= self.next_tid {
                    self.next_tid = tid + 1;
                }
                self.tuples.insert(tid, t);
                return;
            }
        }
        self.remove(old);
        self.put(tid, t);
    }

    /// Removes a tuple physically (aborted insert, or a delete no snapshot can miss).
    pub fn remove(&mut self, tid: u64) -> Option<Tuple> {
        self.touch();
        let t = self.tuples.remove(tid)?;
        if let Some(k) = self.pk_key(&t.row) {
            if let Some(v) = self.pk_index.get_mut(&k) {
                v.retain(|x| *x != tid);
                if v.is_empty() {
                    self.pk_index.remove(&k);
                }
            }
        }
        for ix in &mut self.indexes {
            ix.drop_tid(tid, &t.row);
        }
        Some(t)
    }

    /// Tuple ids of versions carrying the encoded key (borrowed from the index: a
    /// point look-up allocates nothing to find its versions).
    pub fn versions_with_key(&self, key: &[u8]) -> &[u64] {
        self.pk_index
            .get(KeyBytes::new(key))
            .map_or(&[], |tids| &tids[..])
    }

    /// The rows visible to a snapshot at commit sequence number `seq` (what an online
    /// checkpoint's image holds): insert committed at or before `seq`, delete not.
    pub fn rows_as_of(&self, seq: u64) -> Vec<(u64, Arc<Vec<Value>>)> {
        let mut out = Vec::new();
        self.rows_as_of_chunk(seq, None, usize::MAX, &mut out);
        out
    }

    /// One piece of [`Heap::rows_as_of`]: the rows after tuple id `after` among the
    /// next `limit` versions, appended to `out` — so that a checkpoint copies a big
    /// table a piece per hold of the engine lock. Returns the last tuple id looked at
    /// (None: none was left) and whether any of those versions was stamped after `seq`
    /// (see [`Heap::changed_after`]).
    pub fn rows_as_of_chunk(
        &self,
        seq: u64,
        after: Option<u64>,
        limit: usize,
        out: &mut Vec<(u64, Arc<Vec<Value>>)>,
    ) -> (Option<u64>, bool) {
        let first = match after {
            Some(u64::MAX) => return (None, false),
            Some(a) => a + 1,
            None => 0,
        };
        let mut last = None;
        let mut changed = false;
        for (tid, t) in self.tuples.iter_from(first).take(limit) {
            last = Some(tid);
            changed |= t.xmin_seq > seq || t.xmax_seq > seq;
            if t.xmin_seq != 0 && t.xmin_seq <= seq && !(t.xmax_seq != 0 && t.xmax_seq <= seq) {
                out.push((tid, t.row.clone()));
            }
        }
        (last, changed)
    }

    /// Versions whose delete has committed (dead, waiting for VACUUM).
    pub fn dead_versions(&self) -> usize {
        self.tuples.values().filter(|t| t.xmax_seq != 0).count()
    }

    /// Removes versions whose delete committed at or before `oldest` (the oldest
    /// snapshot in use): no snapshot can see them any more. Returns how many went.
    /// Looks at every version (the VACUUM command); the remaining dead ones become the
    /// next automatic VACUUM's candidates.
    pub fn vacuum(&mut self, oldest: u64) -> usize {
        // One walk sorts the deleted versions into those that go and those a snapshot
        // may still see (a large table is walked once, not once per list).
        let (mut gone, mut kept) = (Vec::new(), Vec::new());
        for (tid, t) in self.tuples.iter().filter(|(_, t)| t.xmax_seq != 0) {
            if t.xmax_seq <= oldest {
                gone.push(tid);
            } else {
                kept.push(tid);
            }
        }
        for tid in &gone {
            self.remove(*tid);
        }
        self.dead = kept;
        gone.len()
    }

    /// Records that the delete of `tid` committed while an older snapshot may still see
    /// the version (a candidate for [`Heap::vacuum_dead`]).
    pub fn mark_dead(&mut self, tid: u64) {
        self.dead.push(tid);
    }

    /// How many versions wait for the automatic VACUUM.
    pub fn dead_candidates(&self) -> usize {
        self.dead.len()
    }

    /// The automatic VACUUM: like [`Heap::vacuum`] but only over the versions marked
    /// dead since the last pass, so it costs what there is to reclaim.
    pub fn vacuum_dead(&mut self, oldest: u64) -> usize {
        self.vacuum_dead_first(oldest, usize::MAX)
    }

    /// [`Heap::vacuum_dead`] over the first `n` versions marked dead only; those a
    /// snapshot may still see go to the back of the list. The automatic VACUUM takes
    /// the list in such slices, releasing the engine lock between them.
    pub fn vacuum_dead_first(&mut self, oldest: u64, n: usize) -> usize {
        let n = n.min(self.dead.len());
        let candidates: Vec<u64> = self.dead.drain(..n).collect();
        let mut removed = 0;
        for tid in candidates {
            match self.tuples.get(tid).map(|t| t.xmax_seq) {
                Some(x) if x != 0 && x <= oldest => {
                    self.remove(tid);
                    removed += 1;
                }
                Some(x) if x != 0 => self.dead.push(tid),
                _ => {}
            }
        }
        removed
    }

    /// The committed live rows, in tuple-id order (for the checkpoint image).
    pub fn committed_rows(&self) -> Vec<(u64, Arc<Vec<Value>>)> {
        self.tuples
            .iter()
            .filter(|(_, t)| t.committed_live())
            .map(|(k, t)| (k, t.row.clone()))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_keys_order_and_equal_as_their_bytes_do() {
        // Lengths around the 8-byte words, bytes drawn from a few values so that long
        // common prefixes are frequent.
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let keys: Vec<Vec<u8>> = (0..400)
            .map(|_| {
                let len = (next() % 20) as usize;
                (0..len)
                    .map(|_| [0u8, 1, 0x7f, 0x80, 0xff][(next() % 5) as usize])
                    .collect()
            })
            .collect();
        for a in &keys {
            for b in &keys {
                assert_eq!(
                    IndexKey::from_slice(a).cmp(&IndexKey::from_slice(b)),
                    a.cmp(b),
                    "{a:?} {b:?}"
                );
                assert_eq!(KeyBytes::new(a).cmp(KeyBytes::new(b)), a.cmp(b));
                assert_eq!(KeyBytes::new(a) == KeyBytes::new(b), a == b, "{a:?} {b:?}");
                assert_eq!(IndexKey::from_slice(a) == IndexKey::from_slice(b), a == b);
            }
        }
    }

    #[test]
    fn bulk_index_builds_keep_each_keys_tuple_ids_in_entry_order() {
        let k = |b: u8| -> IndexKey { IndexKey::from_slice(&[b]) };
        // In key order: grouped as they come.
        let m = build_index(vec![(k(1), 10), (k(1), 11), (k(2), 12), (k(3), 13)]);
        let got: Vec<(u8, Vec<u64>)> = m.iter().map(|(k, t)| (k[0], t.to_vec())).collect();
        assert_eq!(got, vec![(1, vec![10, 11]), (2, vec![12]), (3, vec![13])]);
        // Out of order after a while: sorted stably, duplicates keep their order.
        let m = build_index(vec![
            (k(2), 1),
            (k(5), 2),
            (k(5), 3),
            (k(1), 4),
            (k(5), 5),
            (k(2), 6),
        ]);
        let got: Vec<(u8, Vec<u64>)> = m.iter().map(|(k, t)| (k[0], t.to_vec())).collect();
        assert_eq!(got, vec![(1, vec![4]), (2, vec![1, 6]), (5, vec![2, 3, 5])]);
        assert!(build_index(Vec::new()).is_empty());
    }

    #[test]
    fn a_heap_index_built_in_two_halves_equals_one_built_in_one() {
        let n = PARALLEL_BUILD_ROWS as u64 + 1_001;
        let half = n / 2;
        for shape in 0..8 {
            let mut tuples = TupleMap::new();
            for tid in 1..=n {
                if shape == 4 && tid % 3 == 0 {
                    continue; // holes, as VACUUM leaves them
                }
                let k = match shape {
                    0 | 4 | 6 => tid,
                    // Pairs of equal keys, one pair across the cut.
                    1 => tid / 2,
                    // The second half's keys below the first's.
                    2 if tid > half => tid % 1_000,
                    2 => tid,
                    // Descending: out of order from the second entry on.
                    3 => n - tid,
                    // In order up to the last hundred versions (in the second half).
                    7 if tid > n - 100 => tid % 50,
                    7 => tid,
                    // Few keys, many versions each.
                    _ => tid % 7,
                };
                tuples.insert(tid, Tuple::frozen(Arc::new(vec![Value::Int8(k as i64)]), 1));
            }
            // Shape 6: a partial index, every other version left out.
            let key = |row: &[Value]| {
                let keep = shape != 6 || matches!(row[0], Value::Int8(k) if k % 2 == 0);
                keep.then(|| pk_entry_key(&[0], row))
            };
            let one = build_index(
                tuples
                    .iter()
                    .filter_map(|(tid, t)| key(&t.row).map(|k| (k, tid))),
            );
            assert_eq!(build_heap_index(&tuples, key), one, "shape {shape}");
        }
    }

    #[test]
    fn bulk_index_builds_match_one_insertion_per_entry() {
        // A table loaded in key order whose rows were partly updated since (new tuple
        // ids at the end, keys in any order, some equal to earlier keys), and shapes
        // around it: the bulk build must equal inserting every entry in turn.
        let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = move |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        for round in 0..50u64 {
            let sorted_len = next(300);
            let tail_len = next(100);
            let mut entries: Vec<(IndexKey, u64)> = Vec::new();
            let mut tid = 1;
            for i in 0..sorted_len {
                // Some keys repeat in the sorted run.
                for _ in 0..1 + (next(4) == 0) as u64 {
                    entries.push((IndexKey::from_slice(&(i * 2).to_be_bytes()), tid));
                    tid += 1;
                }
            }
            for _ in 0..tail_len {
                let key = next(2 * sorted_len + 10 + round);
                entries.push((IndexKey::from_slice(&key.to_be_bytes()), tid));
                tid += 1;
            }
            let mut one_by_one = IndexMap::new();
            for (k, t) in entries.clone() {
                one_by_one.entry(k).or_default().push(t);
            }
            assert_eq!(build_index(entries), one_by_one, "round {round}");
        }
    }

    /// A replayed UPDATE's replacement leaves the heap as its delete and insert one
    /// after the other do: same key or another, a key with older versions, a missing
    /// old version, a new id already present.
    #[test]
    fn replace_equals_remove_then_put() {
        let row = |k: i32, v: &str| {
            Tuple::frozen(Arc::new(vec![Value::Int4(k), Value::Text(v.into())]), 1)
        };
        let start = || {
            let mut h = Heap::new(Some(vec![0]));
            h.put(1, row(10, "a"));
            h.put(2, row(20, "b"));
            h.put(3, row(20, "b2")); // a key with two versions
            h.put(4, row(30, "c"));
            h
        };
        let state = |h: &Heap| {
            let tuples: Vec<(u64, Vec<Value>)> = h
                .tuples
                .iter()
                .map(|(tid, t)| (tid, t.row.to_vec()))
                .collect();
            let index: Vec<(Vec<u8>, Vec<u64>)> = h
                .pk_index
                .iter()
                .map(|(k, v)| (k.to_vec(), v.to_vec()))
                .collect();
            (tuples, index, h.next_tid)
        };
        let cases = [
            (1, 9, row(10, "a2")), // same key, its only version: in place
            (1, 9, row(11, "a2")), // another key
            (2, 9, row(20, "b3")), // a key with another version
            (7, 9, row(40, "d")),  // no such old version
            (1, 4, row(10, "x")),  // the new id is taken
        ];
        for (i, (old, tid, t)) in cases.into_iter().enumerate() {
            let mut a = start();
            a.replace(old, tid, t.clone());
            let mut b = start();
            b.remove(old);
            b.put(tid, t);
            assert_eq!(state(&a), state(&b), "case {i}");
        }
        // In place: the key still finds exactly the new version.
        let mut h = start();
        h.replace(1, 9, row(10, "a2"));
        let k = h.key_of(&[Value::Int4(10)]).unwrap();
        assert_eq!(h.versions_with_key(&k), &[9]);
    }

    #[test]
    fn sizes_count_every_version_and_the_key_index() {
        let mut h = Heap::new(Some(vec![0]));
        assert_eq!(h.sizes(), HeapSizes::default());
        h.put(1, tuple(5, 1));
        let mut deleted = tuple(6, 2);
        deleted.row = Arc::new(vec![Value::Int4(2)]);
        deleted.xmax = 7;
        deleted.xmax_seq = 3;
        h.put(2, deleted);
        let mut uncommitted = tuple(8, 0);
        uncommitted.row = Arc::new(vec![Value::Int4(3)]);
        h.put(3, uncommitted);
        let s = h.sizes();
        assert_eq!((s.live, s.dead), (1, 1));
        let mut one = Vec::new();
        crate::types::encode_row(&[Value::Int4(1)], &mut one);
        assert_eq!(s.heap_bytes, 3 * one.len() as u64);
        // Three keys, each pointing to one tuple id.
        let key_len = h.key_of(&[Value::Int4(1)]).unwrap().len() as u64;
        assert_eq!(s.pk_index_bytes, 3 * (key_len + 8));
        h.remove(2);
        assert_eq!(h.sizes().dead, 0);
    }

    fn tuple(xmin: u32, xmin_seq: u64) -> Tuple {
        Tuple {
            xmin,
            xmin_seq,
            xmax: 0,
            xmax_seq: 0,
            next: 0,
            row: Arc::new(vec![Value::Int4(1)]),
        }
    }

    #[test]
    fn bulk_built_indexes_equal_those_built_row_by_row() {
        let row = |a: i32, b: Option<&str>| {
            Arc::new(vec![
                Value::Int4(a),
                b.map_or(Value::Null, |s| Value::Text(s.into())),
            ])
        };
        // Keys repeat (versions of one key) and are not in tuple-id order.
        let rows = [
            (2, row(7, Some("x"))),
            (3, row(1, None)),
            (5, row(7, Some("y"))),
            (8, row(4, Some("x"))),
            (9, row(1, Some("x"))),
        ];
        let ix = IndexDef {
            oid: 42,
            name: "t_b".into(),
            columns: vec![1, 0],
            unique: false,
            constraint: false,
            predicate: None,
            options: vec![],
        };
        let mut by_row = Heap::new(Some(vec![0]));
        by_row.sync_indexes(std::slice::from_ref(&ix));
        let mut bulk = Heap::new(None);
        for (tid, r) in &rows {
            let mut t = tuple(0, 1);
            t.row = r.clone();
            by_row.put(*tid, t.clone());
            bulk.put(*tid, t);
        }
        bulk.set_pk(Some(vec![0]));
        bulk.sync_indexes(std::slice::from_ref(&ix));
        assert_eq!(bulk.pk_index, by_row.pk_index);
        assert_eq!(bulk.indexes[0].map, by_row.indexes[0].map);
        let k7 = bulk.key_of(&row(7, None)).unwrap();
        assert_eq!(bulk.versions_with_key(&k7), [2, 5]);
        // Setting the same key again keeps the index; dropping it empties it.
        bulk.set_pk(Some(vec![0]));
        assert_eq!(bulk.pk_index.len(), 3);
        bulk.set_pk(None);
        assert!(bulk.pk_index.is_empty());
    }

    #[test]
    fn visibility_rules() {
        let me = Snapshot { xid: 7, seq: 10 };
        assert!(tuple(0, 1).visible(&me));
        assert!(tuple(7, 0).visible(&me)); // own insert
        assert!(!tuple(8, 0).visible(&me)); // other's uncommitted insert
        assert!(!tuple(8, 11).visible(&me)); // committed after my snapshot
        let mut t = tuple(0, 1);
        t.xmax = 8;
        assert!(t.visible(&me)); // other's uncommitted delete
        t.xmax_seq = 9;
        assert!(!t.visible(&me)); // committed delete
        let mut t = tuple(0, 1);
        t.xmax = 7;
        assert!(!t.visible(&me)); // own delete
    }

    #[test]
    fn index_tracks_versions() {
        let mut h = Heap::new(Some(vec![0]));
        h.put(1, tuple(0, 1));
        h.put(2, tuple(3, 0));
        let k = h.key_of(&[Value::Int4(1)]).unwrap();
        assert_eq!(h.versions_with_key(&k), [1, 2]);
        h.remove(1);
        assert_eq!(h.versions_with_key(&k), [2]);
        assert_eq!(h.next_tid, 3);
        // Putting the same tid again (replay over an image) does not duplicate it.
        h.put(2, tuple(0, 1));
        assert_eq!(h.versions_with_key(&k), [2]);
        assert_eq!(h.tuples.len(), 1);
    }

    #[test]
    fn rows_as_of_and_vacuum() {
        let mut h = Heap::new(None);
        h.put(1, tuple(0, 1));
        h.put(2, tuple(5, 3)); // committed at 3
        let mut t = tuple(0, 1);
        t.xmax = 6;
        t.xmax_seq = 4; // deleted at 4
        h.put(3, t);
        h.put(4, tuple(9, 0)); // in progress
        let tids = |v: Vec<(u64, Arc<Vec<Value>>)>| v.into_iter().map(|r| r.0).collect::<Vec<_>>();
        assert_eq!(tids(h.rows_as_of(2)), vec![1, 3]);
        assert_eq!(tids(h.rows_as_of(3)), vec![1, 2, 3]);
        assert_eq!(tids(h.rows_as_of(4)), vec![1, 2]);
        assert_eq!(h.dead_versions(), 1);
        assert_eq!(h.vacuum(3), 0); // a snapshot at 3 still sees tid 3
        assert_eq!(h.vacuum(4), 1);
        assert_eq!(h.dead_versions(), 0);
        assert_eq!(h.tuples.len(), 3);
    }

    #[test]
    fn automatic_vacuum_visits_only_marked_versions() {
        let mut h = Heap::new(None);
        let dead_at = |seq| {
            let mut t = tuple(0, 1);
            t.xmax = 6;
            t.xmax_seq = seq;
            t
        };
        h.put(1, tuple(0, 1));
        h.put(2, dead_at(4));
        h.put(3, dead_at(6));
        h.mark_dead(2);
        h.mark_dead(3);
        // An unmarked dead version is left to the VACUUM command's full pass.
        h.put(4, dead_at(2));
        assert_eq!(h.dead_candidates(), 2);
        assert_eq!(h.vacuum_dead(3), 0); // a snapshot at 3 still sees both
        assert_eq!(h.dead_candidates(), 2);
        assert_eq!(h.vacuum_dead(5), 1);
        assert!(!h.tuples.contains_key(2) && h.tuples.contains_key(4));
        assert_eq!(h.dead_candidates(), 1);
        assert_eq!(h.vacuum_dead(10), 1);
        assert_eq!(h.dead_candidates(), 0);
        assert_eq!(h.vacuum(10), 1); // the full pass finds tid 4
        assert_eq!(h.tuples.len(), 1);
    }

    #[test]
    fn automatic_vacuum_in_slices_visits_each_candidate_once() {
        let mut h = Heap::new(None);
        for tid in 1..=5 {
            let mut t = tuple(0, 1);
            t.xmax = 6;
            t.xmax_seq = if tid % 2 == 0 { 9 } else { 4 };
            h.put(tid, t);
            h.mark_dead(tid);
        }
        // Slices of two over a pass of five: tids 1, 3 and 5 go; 2 and 4, still seen by
        // a snapshot at 5, move to the back, behind nothing else, and are not revisited.
        let (mut left, mut removed) = (h.dead_candidates(), 0);
        while left > 0 {
            let n = left.min(2);
            removed += h.vacuum_dead_first(5, n);
            left -= n;
        }
        assert_eq!(removed, 3);
        assert_eq!(h.dead, vec![2, 4]);
        assert_eq!(h.vacuum_dead_first(10, 1), 1);
        assert_eq!(h.dead, vec![4]);
        assert_eq!(h.vacuum_dead_first(10, 5), 1);
        assert!(h.dead.is_empty() && h.tuples.is_empty());
    }
}
