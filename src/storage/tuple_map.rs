//! [`TupleMap`]: a table's row versions by tuple id, in tuple-id order.
//!
//! Tuple ids are handed out in increasing order (`Heap::next_tid`) and never reused, so
//! the versions of a table occupy a dense run of ids with holes where VACUUM removed
//! some. A `BTreeMap<u64, Tuple>` pays for that run as if the ids were arbitrary: a node
//! per eleven versions, the key beside every value, and — because a B-tree fed
//! ascending keys splits its rightmost leaf in the middle — leaves about half full
//! after a COPY or a stream of INSERTs (some 90 bytes a version where the version is 40).
//! Here the ids are cut into chunks of [`CHUNK`] consecutive ids; a chunk is a vector of
//! slots indexed by the id's low bits, and only the chunks are kept in a B-tree (one
//! entry per 64 versions). A version costs its 40-byte slot; an append is a push onto
//! the last chunk; a look-up is a search among the chunks and an index.
//!
//! A chunk's vector reaches only as far as its highest occupied slot (trailing empty
//! slots are dropped, and the allocation shrinks when it is mostly empty); a chunk whose
//! last version goes is removed. A version left alone in its chunk costs at most
//! [`CHUNK`] slots: bounded, and rare, since VACUUM removes old versions in id order of
//! their updates.
//!
//! What it must never do: decide anything about visibility or indexes (the heap does),
//! or iterate in any order but ascending tuple id — scans, checkpoint images and
//! VACUUM rely on that order.

use super::heap::Tuple;
use std::collections::BTreeMap;
use std::ops::RangeInclusive;

/// log2 of the tuple ids per chunk.
const CHUNK_BITS: u32 = 6;
/// Tuple ids per chunk.
pub const CHUNK: usize = 1 << CHUNK_BITS;
const LOW_MASK: u64 = CHUNK as u64 - 1;

/// Row versions by tuple id (see the module notes).
#[derive(Default)]
pub struct TupleMap {
    /// Chunk number (`tid >> CHUNK_BITS`) → its slots.
    chunks: BTreeMap<u64, Chunk>,
    /// Versions held.
    len: usize,
}

/// The slots of [`CHUNK`] consecutive tuple ids; `slots[i]` holds the version of
/// `chunk << CHUNK_BITS | i`. Never empty of versions while in the map; its last slot is
/// always occupied.
#[derive(Default)]
struct Chunk {
    slots: Vec<Option<Tuple>>,
    live: u32,
}

fn split(tid: u64) -> (u64, usize) {
    (tid >> CHUNK_BITS, (tid & LOW_MASK) as usize)
}

fn join(chunk: u64, slot: usize) -> u64 {
    (chunk << CHUNK_BITS) | slot as u64
}

impl TupleMap {
    /// An empty map.
    pub fn new() -> TupleMap {
        TupleMap::default()
    }

    /// Versions held.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no version is held.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The version under `tid`.
    pub fn get(&self, tid: u64) -> Option<&Tuple> {
        let (c, i) = split(tid);
        self.chunks.get(&c)?.slots.get(i)?.as_ref()
    }

    /// The version under `tid`, to change.
    pub fn get_mut(&mut self, tid: u64) -> Option<&mut Tuple> {
        let (c, i) = split(tid);
        self.chunks.get_mut(&c)?.slots.get_mut(i)?.as_mut()
    }

    /// Whether a version is held under `tid`.
    pub fn contains_key(&self, tid: u64) -> bool {
        self.get(tid).is_some()
    }

    /// Puts `t` under `tid`, returning the version it replaced.
    pub fn insert(&mut self, tid: u64, t: Tuple) -> Option<Tuple> {
        let (c, i) = split(tid);
        // Appends go to the last chunk: found along the tree's right edge, no search.
        let chunk = match self.chunks.last_entry() {
            Some(last) if *last.key() == c => last.into_mut(),
            _ => self.chunks.entry(c).or_default(),
        };
        if chunk.slots.len() <= i {
            if chunk.slots.capacity() <= i {
                // Ids come in order: a chunk being filled gets its whole run at once.
                chunk.slots.reserve_exact(CHUNK - chunk.slots.len());
            }
            if chunk.slots.len() < i {
                chunk.slots.resize_with(i, || None);
            }
            // Written whole, never read first: a slot can begin a fresh page, and a read
            // there maps the zero page that the write must then replace (a second fault
            // and a TLB flush on every core; a fifth of an image's load once).
            chunk.slots.push(Some(t));
            chunk.live += 1;
            self.len += 1;
            return None;
        }
        let old = chunk.slots[i].replace(t);
        if old.is_none() {
            chunk.live += 1;
            self.len += 1;
        }
        old
    }

    /// Takes the version under `tid` out.
    pub fn remove(&mut self, tid: u64) -> Option<Tuple> {
        let (c, i) = split(tid);
        let chunk = self.chunks.get_mut(&c)?;
        let old = chunk.slots.get_mut(i)?.take()?;
        chunk.live -= 1;
        self.len -= 1;
        if chunk.live == 0 {
            self.chunks.remove(&c);
        } else {
            while chunk.slots.last().is_some_and(|s| s.is_none()) {
                chunk.slots.pop();
            }
            // The last chunk is where appends go: it keeps its room.
            let last = self.chunks.last_key_value().map(|(&k, _)| k) == Some(c);
            let chunk = self.chunks.get_mut(&c).expect("the chunk is there");
            if !last && chunk.slots.capacity() >= 4 * chunk.slots.len() {
                chunk.slots.shrink_to_fit();
            }
        }
        Some(old)
    }

    /// Every (tuple id, version), ascending.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = (u64, &Tuple)> + ExactSizeIterator + '_ {
        Counted::new(
            self.len,
            self.chunks.iter().flat_map(|(&c, chunk)| {
                chunk
                    .slots
                    .iter()
                    .enumerate()
                    .filter_map(move |(i, s)| s.as_ref().map(|t| (join(c, i), t)))
            }),
        )
    }

    /// Every version, in ascending tuple id.
    pub fn values(&self) -> impl DoubleEndedIterator<Item = &Tuple> + ExactSizeIterator + '_ {
        Counted::new(
            self.len,
            self.chunks
                .values()
                .flat_map(|chunk| chunk.slots.iter().flatten()),
        )
    }

    /// Every tuple id held, ascending.
    pub fn keys(&self) -> impl DoubleEndedIterator<Item = u64> + ExactSizeIterator + '_ {
        self.iter().map(|(tid, _)| tid)
    }

    /// The (tuple id, version) pairs from `first` on, ascending.
    pub fn iter_from(&self, first: u64) -> impl Iterator<Item = (u64, &Tuple)> + '_ {
        let (c0, _) = split(first);
        self.chunks.range(c0..).flat_map(move |(&c, chunk)| {
            chunk.slots.iter().enumerate().filter_map(move |(i, s)| {
                let tid = join(c, i);
                s.as_ref().filter(|_| tid >= first).map(|t| (tid, t))
            })
        })
    }

    /// The versions whose tuple ids lie in `tids`, to change, ascending.
    pub fn range_mut(
        &mut self,
        tids: RangeInclusive<u64>,
    ) -> impl Iterator<Item = (u64, &mut Tuple)> + '_ {
        let (lo, hi) = (*tids.start(), *tids.end());
        let chunks = (lo <= hi).then(|| self.chunks.range_mut(split(lo).0..=split(hi).0));
        chunks.into_iter().flatten().flat_map(move |(&c, chunk)| {
            chunk
                .slots
                .iter_mut()
                .enumerate()
                .filter_map(move |(i, s)| {
                    let tid = join(c, i);
                    s.as_mut()
                        .filter(|_| (lo..=hi).contains(&tid))
                        .map(|t| (tid, t))
                })
        })
    }
}

/// A walk over the whole map that knows how many versions are left (the map counts
/// them): what collects or filters them sizes its buffer once (a primary key built over
/// 5 M versions grew its entry vector by doubling, copying and faulting each time).
struct Counted<I> {
    left: usize,
    inner: I,
}

impl<I> Counted<I> {
    fn new(left: usize, inner: I) -> Counted<I> {
        Counted { left, inner }
    }
}

impl<I: Iterator> Iterator for Counted<I> {
    type Item = I::Item;

    fn next(&mut self) -> Option<I::Item> {
        let item = self.inner.next()?;
        self.left -= 1;
        Some(item)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

impl<I: DoubleEndedIterator> DoubleEndedIterator for Counted<I> {
    fn next_back(&mut self) -> Option<I::Item> {
        let item = self.inner.next_back()?;
        self.left -= 1;
        Some(item)
    }
}

impl<I: Iterator> ExactSizeIterator for Counted<I> {}

impl FromIterator<(u64, Tuple)> for TupleMap {
    /// Pairs in ascending tuple-id order (as images hold them) fill each chunk once;
    /// any order is accepted.
    fn from_iter<I: IntoIterator<Item = (u64, Tuple)>>(iter: I) -> TupleMap {
        let mut m = TupleMap::new();
        for (tid, t) in iter {
            m.insert(tid, t);
        }
        m
    }
}

impl std::fmt::Debug for TupleMap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::Value;
    use std::sync::Arc;

    fn tuple(n: i32) -> Tuple {
        Tuple::frozen(Arc::new(vec![Value::Int4(n)]), 1)
    }

    fn value(t: &Tuple) -> i32 {
        match t.row[0] {
            Value::Int4(n) => n,
            _ => panic!("not an int4"),
        }
    }

    /// The map against a BTreeMap given the same inserts, removals and replacements,
    /// across chunk borders, with holes, with whole chunks emptied and refilled.
    #[test]
    fn behaves_as_an_ordered_map() {
        let mut m = TupleMap::new();
        let mut model: BTreeMap<u64, i32> = BTreeMap::new();
        let check = |m: &TupleMap, model: &BTreeMap<u64, i32>| {
            assert_eq!(m.len(), model.len());
            assert_eq!(m.is_empty(), model.is_empty());
            let got: Vec<(u64, i32)> = m.iter().map(|(k, t)| (k, value(t))).collect();
            let want: Vec<(u64, i32)> = model.iter().map(|(k, v)| (*k, *v)).collect();
            assert_eq!(got, want);
            let vals: Vec<i32> = m.values().map(value).collect();
            assert_eq!(vals, model.values().copied().collect::<Vec<_>>());
            // The walks count down what is left, from either end.
            let mut it = m.iter();
            assert_eq!(it.len(), model.len());
            it.next();
            it.next_back();
            assert_eq!(it.len(), model.len().saturating_sub(2));
            assert_eq!(it.count(), model.len().saturating_sub(2));
            assert_eq!(m.values().rev().len(), model.len());
            assert_eq!(
                m.keys().collect::<Vec<_>>(),
                model.keys().copied().collect::<Vec<_>>()
            );
            for first in [0, 1, 63, 64, 65, 200, 1000, 5000] {
                let got: Vec<u64> = m.iter_from(first).map(|(k, _)| k).collect();
                let want: Vec<u64> = model.range(first..).map(|(k, _)| *k).collect();
                assert_eq!(got, want, "from {first}");
            }
            for tid in 0..1100 {
                assert_eq!(m.get(tid).map(value), model.get(&tid).copied(), "tid {tid}");
                assert_eq!(m.contains_key(tid), model.contains_key(&tid));
            }
        };
        // A pseudo-random sequence of operations (a fixed linear congruential one).
        let mut x: u64 = 12345;
        let mut next = || {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            x >> 33
        };
        for tid in 1..=700 {
            assert!(m.insert(tid, tuple(tid as i32)).is_none());
            model.insert(tid, tid as i32);
        }
        check(&m, &model);
        for round in 0..4000 {
            let tid = next() % 1050;
            match next() % 3 {
                0 => {
                    let v = round;
                    assert_eq!(
                        m.insert(tid, tuple(v)).map(|t| value(&t)),
                        model.insert(tid, v)
                    );
                }
                _ => assert_eq!(m.remove(tid).map(|t| value(&t)), model.remove(&tid)),
            }
            if round % 500 == 0 {
                check(&m, &model);
            }
        }
        check(&m, &model);
        // Emptied entirely, then refilled.
        for tid in 0..1100 {
            assert_eq!(m.remove(tid).map(|t| value(&t)), model.remove(&tid));
        }
        check(&m, &model);
        assert!(m.chunks.is_empty(), "every emptied chunk is gone");
        for tid in (0..300).rev() {
            m.insert(tid * 3, tuple(tid as i32));
            model.insert(tid * 3, tid as i32);
        }
        check(&m, &model);
    }

    #[test]
    fn a_slot_is_a_tuple_wide() {
        assert_eq!(
            std::mem::size_of::<Option<Tuple>>(),
            std::mem::size_of::<Tuple>()
        );
        assert_eq!(std::mem::size_of::<Tuple>(), 40);
    }

    #[test]
    fn range_mut_visits_exactly_the_range() {
        let mut m: TupleMap = (1..=300).map(|t| (t, tuple(t as i32))).collect();
        m.remove(70);
        for (lo, hi) in [
            (1, 300),
            (63, 65),
            (64, 64),
            (70, 70),
            (100, 50),
            (250, 400),
            (0, 0),
        ] {
            let got: Vec<u64> = m.range_mut(lo..=hi).map(|(k, _)| k).collect();
            let want: Vec<u64> = (lo..=hi)
                .filter(|t| (1..=300).contains(t) && *t != 70)
                .collect();
            assert_eq!(got, want, "{lo}..={hi}");
        }
        for (_, t) in m.range_mut(10..=20) {
            t.xmin_seq = 7;
        }
        let stamped: Vec<u64> = m
            .iter()
            .filter(|(_, t)| t.xmin_seq == 7)
            .map(|(k, _)| k)
            .collect();
        assert_eq!(stamped, (10..=20).collect::<Vec<_>>());
    }

    #[test]
    fn a_chunk_holds_only_up_to_its_last_version() {
        let mut m: TupleMap = (0..CHUNK as u64).map(|t| (t, tuple(t as i32))).collect();
        assert_eq!(m.chunks[&0].slots.len(), CHUNK);
        m.insert(CHUNK as u64, tuple(0)); // the chunk is no longer the last one
        for t in 2..CHUNK as u64 {
            m.remove(t);
        }
        let c = &m.chunks[&0];
        assert_eq!((c.slots.len(), c.live), (2, 2));
        assert!(
            c.slots.capacity() < CHUNK,
            "a mostly empty chunk gives its room back"
        );
    }
}
