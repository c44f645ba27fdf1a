//! [`TupleMap`]: a table's row versions by tuple id, in tuple-id order.
//!
//! Tuple ids are handed out in increasing order (`Heap::next_tid`) and never reused, so
//! the versions of a table occupy a dense run of ids with holes where VACUUM removed
//! some. A `BTreeMap<u64, Tuple>` pays for that run as if the ids were arbitrary: a node
//! per eleven versions, the key beside every value, and — because a B-tree fed
//! ascending keys splits its rightmost leaf in the middle — leaves about half full
//! after a COPY or a stream of INSERTs (some 90 bytes a version where the version is 40),
//! and a look-up is a walk down five or six levels of nodes, a cache miss or more each.
//! Here the ids are cut into chunks of [`CHUNK`] consecutive ids; a chunk is a vector of
//! slots indexed by the id's low bits. The chunks are in blocks of [`BLOCK`] consecutive
//! chunks, and the blocks in a vector indexed by the id's high bits: a look-up is three
//! array indexings (block, chunk, slot), an append a push onto the last chunk. A version
//! costs its 40-byte slot; a chunk 32 bytes in its block; a block 32 bytes in the
//! directory for every [`CHUNK`] × [`BLOCK`] ids the table has ever handed out, held or
//! not (a table updated a billion times: some 8 MB).
//!
//! A chunk's vector reaches only as far as its highest occupied slot (trailing empty
//! slots are dropped, and the allocation shrinks when it is mostly empty); a chunk whose
//! last version goes gives its slots back, and a block its chunks when none is left, so
//! both reach only as far as their last non-empty member. A version left alone in its
//! chunk costs at most [`CHUNK`] slots: bounded, and rare, since VACUUM removes old
//! versions in id order of their updates.
//!
//! What it must never do: decide anything about visibility or indexes (the heap does),
//! or iterate in any order but ascending tuple id — scans, checkpoint images and
//! VACUUM rely on that order.

use super::heap::Tuple;
use std::ops::RangeInclusive;

/// log2 of the tuple ids per chunk.
const CHUNK_BITS: u32 = 6;
/// Tuple ids per chunk.
pub const CHUNK: usize = 1 << CHUNK_BITS;
const LOW_MASK: u64 = CHUNK as u64 - 1;
/// log2 of the chunks per block.
const BLOCK_BITS: u32 = 6;
/// Chunks per block.
pub const BLOCK: usize = 1 << BLOCK_BITS;
const BLOCK_MASK: u64 = BLOCK as u64 - 1;

/// Row versions by tuple id (see the module notes).
#[derive(Default)]
pub struct TupleMap {
    /// Block number (`tid >> (CHUNK_BITS + BLOCK_BITS)`) → its chunks; the last block
    /// is never empty (trailing empty blocks are dropped).
    blocks: Vec<Block>,
    /// Versions held.
    len: usize,
}

/// The chunks of [`BLOCK`] consecutive chunk numbers; `chunks[j]` is chunk
/// `block << BLOCK_BITS | j`. Its last chunk is never empty.
#[derive(Default)]
struct Block {
    chunks: Vec<Chunk>,
    /// Chunks holding at least one version.
    live: u32,
}

/// The slots of [`CHUNK`] consecutive tuple ids; `slots[i]` holds the version of
/// `chunk << CHUNK_BITS | i`. Its last slot is occupied unless it holds nothing (then
/// it has no slots and no allocation).
#[derive(Default)]
struct Chunk {
    slots: Vec<Option<Tuple>>,
    live: u32,
}

/// (block, chunk within it, slot within that) of a tuple id.
fn split(tid: u64) -> (usize, usize, usize) {
    let c = tid >> CHUNK_BITS;
    (
        (c >> BLOCK_BITS) as usize,
        (c & BLOCK_MASK) as usize,
        (tid & LOW_MASK) as usize,
    )
}

fn join(block: usize, chunk: usize, slot: usize) -> u64 {
    ((((block as u64) << BLOCK_BITS) | chunk as u64) << CHUNK_BITS) | slot as u64
}

/// The (tuple id, version) pairs of one chunk, ascending.
fn chunk_slots(
    b: usize,
    j: usize,
    chunk: &Chunk,
) -> impl DoubleEndedIterator<Item = (u64, &Tuple)> + '_ {
    chunk
        .slots
        .iter()
        .enumerate()
        .filter_map(move |(i, s)| s.as_ref().map(|t| (join(b, j, i), t)))
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
        let (b, j, i) = split(tid);
        self.blocks.get(b)?.chunks.get(j)?.slots.get(i)?.as_ref()
    }

    /// The version under `tid`, to change.
    pub fn get_mut(&mut self, tid: u64) -> Option<&mut Tuple> {
        let (b, j, i) = split(tid);
        self.blocks
            .get_mut(b)?
            .chunks
            .get_mut(j)?
            .slots
            .get_mut(i)?
            .as_mut()
    }

    /// Whether a version is held under `tid`.
    pub fn contains_key(&self, tid: u64) -> bool {
        self.get(tid).is_some()
    }

    /// Puts `t` under `tid`, returning the version it replaced.
    pub fn insert(&mut self, tid: u64, t: Tuple) -> Option<Tuple> {
        let (b, j, i) = split(tid);
        if self.blocks.len() <= b {
            self.blocks.resize_with(b + 1, Block::default);
        }
        let block = &mut self.blocks[b];
        if block.chunks.len() <= j {
            block.chunks.resize_with(j + 1, Chunk::default);
        }
        let chunk = &mut block.chunks[j];
        if chunk.live == 0 {
            block.live += 1;
        }
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
        let (b, j, i) = split(tid);
        // The last chunk is where appends go: it keeps its room.
        let last = b + 1 == self.blocks.len() && j + 1 == self.blocks[b].chunks.len();
        let block = self.blocks.get_mut(b)?;
        let chunk = block.chunks.get_mut(j)?;
        let old = chunk.slots.get_mut(i)?.take()?;
        chunk.live -= 1;
        self.len -= 1;
        if chunk.live == 0 {
            *chunk = Chunk::default();
            block.live -= 1;
            while block.chunks.last().is_some_and(|c| c.live == 0) {
                block.chunks.pop();
            }
            if block.live == 0 {
                *block = Block::default();
                while self.blocks.last().is_some_and(|b| b.live == 0) {
                    self.blocks.pop();
                }
            } else if block.chunks.capacity() >= 4 * block.chunks.len() {
                block.chunks.shrink_to_fit();
            }
        } else {
            while chunk.slots.last().is_some_and(|s| s.is_none()) {
                chunk.slots.pop();
            }
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
            self.blocks.iter().enumerate().flat_map(|(b, block)| {
                block
                    .chunks
                    .iter()
                    .enumerate()
                    .flat_map(move |(j, chunk)| chunk_slots(b, j, chunk))
            }),
        )
    }

    /// Every version, in ascending tuple id.
    pub fn values(&self) -> impl DoubleEndedIterator<Item = &Tuple> + ExactSizeIterator + '_ {
        Counted::new(
            self.len,
            self.blocks.iter().flat_map(|block| {
                block
                    .chunks
                    .iter()
                    .flat_map(|chunk| chunk.slots.iter().flatten())
            }),
        )
    }

    /// Every tuple id held, ascending.
    pub fn keys(&self) -> impl DoubleEndedIterator<Item = u64> + ExactSizeIterator + '_ {
        self.iter().map(|(tid, _)| tid)
    }

    /// The (tuple id, version) pairs from `first` on, ascending.
    pub fn iter_from(&self, first: u64) -> impl Iterator<Item = (u64, &Tuple)> + '_ {
        let (b0, j0, _) = split(first);
        self.blocks
            .iter()
            .enumerate()
            .skip(b0)
            .flat_map(move |(b, block)| {
                let from = if b == b0 { j0 } else { 0 };
                block
                    .chunks
                    .iter()
                    .enumerate()
                    .skip(from)
                    .flat_map(move |(j, chunk)| chunk_slots(b, j, chunk))
            })
            .filter(move |(tid, _)| *tid >= first)
    }

    /// The versions whose tuple ids lie in `tids`, to change, ascending.
    pub fn range_mut(
        &mut self,
        tids: RangeInclusive<u64>,
    ) -> impl Iterator<Item = (u64, &mut Tuple)> + '_ {
        let (lo, hi) = (*tids.start(), *tids.end());
        let (b_lo, j_lo, _) = split(lo);
        let (b_hi, _, _) = split(hi);
        let blocks = if lo <= hi {
            &mut self.blocks[..]
        } else {
            &mut []
        };
        blocks
            .iter_mut()
            .enumerate()
            .skip(b_lo)
            .take_while(move |(b, _)| *b <= b_hi)
            .flat_map(move |(b, block)| {
                let from = if b == b_lo { j_lo } else { 0 };
                block
                    .chunks
                    .iter_mut()
                    .enumerate()
                    .skip(from)
                    .flat_map(move |(j, chunk)| {
                        chunk
                            .slots
                            .iter_mut()
                            .enumerate()
                            .filter_map(move |(i, s)| s.as_mut().map(|t| (join(b, j, i), t)))
                    })
            })
            .skip_while(move |(tid, _)| *tid < lo)
            .take_while(move |(tid, _)| *tid <= hi)
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
    use std::collections::BTreeMap;
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
    /// across chunk borders, with holes, with whole chunks emptied and refilled — with
    /// consecutive ids, and with ids `stride` apart (spread over several blocks).
    #[test]
    fn behaves_as_an_ordered_map() {
        for stride in [1, 7, 61] {
            as_an_ordered_map(stride);
        }
    }

    fn as_an_ordered_map(stride: u64) {
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
            for first in [
                0, 1, 63, 64, 65, 200, 1000, 4095, 4096, 4097, 5000, 9000, 40000,
            ] {
                let got: Vec<u64> = m.iter_from(first).map(|(k, _)| k).collect();
                let want: Vec<u64> = model.range(first..).map(|(k, _)| *k).collect();
                assert_eq!(got, want, "from {first}");
            }
            for tid in (0..1100).map(|t| t * stride).chain([t_far(), u64::MAX]) {
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
        for tid in (1..=700).map(|t| t * stride) {
            assert!(m.insert(tid, tuple(tid as i32)).is_none());
            model.insert(tid, tid as i32);
        }
        check(&m, &model);
        for round in 0..4000 {
            let tid = next() % 1050 * stride;
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
        for tid in (0..1100).map(|t| t * stride) {
            assert_eq!(m.remove(tid).map(|t| value(&t)), model.remove(&tid));
        }
        check(&m, &model);
        assert!(m.blocks.is_empty(), "every emptied chunk and block is gone");
        for tid in (0..300).rev() {
            m.insert(tid * 3 * stride, tuple(tid as i32));
            model.insert(tid * 3 * stride, tid as i32);
        }
        check(&m, &model);
    }

    /// An id beyond every block the tests fill.
    fn t_far() -> u64 {
        (BLOCK * CHUNK * 1000) as u64 + 5
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
        // Across block borders (a block spans CHUNK * BLOCK ids), with an empty block
        // in between.
        let span = (CHUNK * BLOCK) as u64;
        let held: Vec<u64> = (span - 100..span + 100)
            .chain(3 * span - 10..3 * span + 10)
            .collect();
        let mut m: TupleMap = held.iter().map(|&t| (t, tuple(t as i32))).collect();
        for (lo, hi) in [
            (span - 1, span),
            (span - 200, span + 200),
            (span + 50, 3 * span),
            (2 * span, 3 * span - 5),
            (0, u64::MAX),
        ] {
            let got: Vec<u64> = m.range_mut(lo..=hi).map(|(k, _)| k).collect();
            let want: Vec<u64> = held
                .iter()
                .copied()
                .filter(|t| (lo..=hi).contains(t))
                .collect();
            assert_eq!(got, want, "{lo}..={hi}");
        }
    }

    #[test]
    fn a_chunk_holds_only_up_to_its_last_version() {
        let mut m: TupleMap = (0..CHUNK as u64).map(|t| (t, tuple(t as i32))).collect();
        assert_eq!(m.blocks[0].chunks[0].slots.len(), CHUNK);
        m.insert(CHUNK as u64, tuple(0)); // the chunk is no longer the last one
        for t in 2..CHUNK as u64 {
            m.remove(t);
        }
        let c = &m.blocks[0].chunks[0];
        assert_eq!((c.slots.len(), c.live), (2, 2));
        assert!(
            c.slots.capacity() < CHUNK,
            "a mostly empty chunk gives its room back"
        );
    }
}
