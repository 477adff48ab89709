//! A point-in-time view of the keyspace for a snapshot taken while clients keep writing, with
//! no fork and no copy of the dataset.
//!
//! Every entry carries the generation of the last snapshot that wrote it out (`Entry::snap`).
//! A snapshot starts a new generation `G` and walks each database with the SCAN cursor, a few
//! thousand entries at a time, writing out every entry whose generation is not `G` and marking
//! it `G`. Meanwhile:
//! - an entry about to change, or to be deleted, that the walk has not reached yet is kept as it
//!   is now (its value cloned into [`Capture::pre`]) and marked `G`, so the walk skips it and
//!   the snapshot writes the kept value: only the entries changed during a snapshot are copied,
//!   once each, as a fork's copy-on-write copies only the pages written to;
//! - entries created after the start are born with generation `G`, so the walk skips them;
//! - a database flushed or replaced (FLUSHDB, FLUSHALL, a full resync) is handed to the capture
//!   whole, and SWAPDB is followed, so each database is written as it was at the start.
//!
//! The SCAN cursor returns every entry that stays in the table for the whole walk, whatever the
//! resizes in between; entries that leave it were kept before they left. Each entry is therefore
//! written exactly once, with its value at the start.

use super::{Db, Keyspace, SBytes, Value};

/// Where the entries of a database (numbered as at the start) that are not written yet are.
pub enum Source {
    /// In `dbs[i]` (SWAPDB may have moved it from its first index).
    Live(usize),
    /// Flushed or replaced since the start: the old contents, kept for the capture alone.
    Detached(Box<Db>),
    /// Written out.
    Done,
}

/// A kept entry: key, value as at the start, absolute expiry.
pub type Kept = (SBytes, Value, Option<i64>);

pub struct Capture {
    pub gen: u32,
    pub sources: Vec<Source>,
    /// Entries changed or deleted before the walk reached them, as they were at the start.
    pub pre: Vec<Vec<Kept>>,
    /// Keys and expires of each database at the start (RESIZEDB).
    pub sizes: Vec<(usize, usize)>,
    /// Number of entries kept so far (logged at the end).
    pub kept: u64,
    pub started: std::time::Instant,
}

impl Capture {
    /// The start index of the database now at `dbs[db]`, while it is still being walked.
    fn start_index(&self, db: usize) -> Option<usize> {
        self.sources
            .iter()
            .position(|s| matches!(s, Source::Live(i) if *i == db))
    }
}

impl Keyspace {
    /// Starts a capture of the keyspace as it is now.
    pub fn begin_capture(&mut self) {
        self.snap_gen = self.snap_gen.wrapping_add(1);
        let n = self.dbs.len();
        self.capture = Some(Box::new(Capture {
            gen: self.snap_gen,
            sources: (0..n).map(Source::Live).collect(),
            pre: (0..n).map(|_| Vec::new()).collect(),
            sizes: self
                .dbs
                .iter()
                .map(|d| (d.main.len(), d.expires.len()))
                .collect(),
            kept: 0,
            started: std::time::Instant::now(),
        }));
    }

    /// Ends the capture (finished or abandoned); returns how many entries were kept.
    pub fn end_capture(&mut self) -> u64 {
        self.capture.take().map(|c| c.kept).unwrap_or(0)
    }

    pub fn capturing(&self) -> bool {
        self.capture.is_some()
    }

    /// How long the running capture has been going.
    pub fn capture_age(&self) -> Option<std::time::Duration> {
        self.capture.as_ref().map(|c| c.started.elapsed())
    }

    /// Called before `key` in `db` changes, loses its TTL or goes away: keeps its value for the
    /// capture if the capture has not written it yet.
    #[inline]
    pub fn preserve(&mut self, db: usize, key: &[u8]) {
        let Some(cap) = self.capture.as_deref_mut() else {
            return;
        };
        let d = &mut self.dbs[db];
        let Some(e) = d.main.get_mut(key) else {
            return;
        };
        if e.snap == cap.gen {
            return;
        }
        e.snap = cap.gen;
        let Some(s) = cap.start_index(db) else {
            return;
        };
        let exp = d.expires.get(key).copied();
        cap.pre[s].push((SBytes::new(key), e.val.clone(), exp));
        cap.kept += 1;
    }

    /// The contents of `dbs[db]` are about to be dropped or replaced: a capture still walking
    /// them takes them over. True if it did (the caller must then not use them).
    pub(super) fn detach_for_capture(&mut self, db: usize, old: &mut Db) -> bool {
        let Some(cap) = self.capture.as_deref_mut() else {
            return false;
        };
        let Some(s) = cap.start_index(db) else {
            return false;
        };
        cap.sources[s] = Source::Detached(Box::new(std::mem::take(old)));
        true
    }

    /// SWAPDB a b: the capture follows each database to its new index.
    pub(super) fn swap_for_capture(&mut self, a: usize, b: usize) {
        let Some(cap) = self.capture.as_deref_mut() else {
            return;
        };
        for s in cap.sources.iter_mut() {
            match s {
                Source::Live(i) if *i == a => *i = b,
                Source::Live(i) if *i == b => *i = a,
                _ => {}
            }
        }
    }

    /// Writes out up to about `budget` entries of start database `s` through `emit` (key,
    /// value, expiry); returns the next cursor, 0 when the live walk of `s` is complete.
    pub fn capture_step(
        &mut self,
        s: usize,
        cursor: u64,
        budget: usize,
        emit: &mut dyn FnMut(&SBytes, &Value, Option<i64>),
    ) -> u64 {
        let Some(cap) = self.capture.as_deref() else {
            return 0;
        };
        let Source::Live(i) = cap.sources[s] else {
            return 0;
        };
        let gen = cap.gen;
        let Db { main, expires, .. } = &mut self.dbs[i];
        let mut cursor = cursor;
        let mut n = 0;
        loop {
            cursor = main.scan_mut(cursor, |k, e| {
                if e.snap != gen {
                    e.snap = gen;
                    n += 1;
                    emit(k, &e.val, expires.get(k).copied());
                }
            });
            if cursor == 0 || n >= budget {
                return cursor;
            }
        }
    }

    /// After the live walk of start database `s`: takes what is left to write for it (its
    /// detached contents, if it was flushed, and the kept entries) and marks it done.
    pub fn capture_finish_db(&mut self, s: usize) -> (Option<Box<Db>>, Vec<Kept>) {
        let Some(cap) = self.capture.as_deref_mut() else {
            return (None, Vec::new());
        };
        let detached = match std::mem::replace(&mut cap.sources[s], Source::Done) {
            Source::Detached(d) => Some(d),
            _ => None,
        };
        (detached, std::mem::take(&mut cap.pre[s]))
    }

    /// The generation of the running capture and the size of start database `s` at the start.
    pub fn capture_info(&self, s: usize) -> Option<(u32, usize, usize)> {
        let cap = self.capture.as_deref()?;
        let (k, e) = *cap.sizes.get(s)?;
        Some((cap.gen, k, e))
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Keyspace, RStr, Value};
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    type State = BTreeMap<(usize, Vec<u8>), (Vec<u8>, Option<i64>)>;

    fn text(v: &Value) -> Vec<u8> {
        match v {
            Value::Str(RStr::Int(i)) => i.to_string().into_bytes(),
            Value::Str(RStr::Emb(b) | RStr::Raw(b)) => b.to_vec(),
            _ => b"?".to_vec(),
        }
    }

    fn state(ks: &Keyspace) -> State {
        let mut m = State::new();
        for (i, d) in ks.dbs.iter().enumerate() {
            for (k, e) in d.main.iter() {
                m.insert((i, k.to_vec()), (text(&e.val), d.expires.get(k).copied()));
            }
        }
        m
    }

    #[derive(Debug, Clone)]
    enum Op {
        Set(usize, u8, u8),
        Del(usize, u8),
        Expire(usize, u8, i64),
        Persist(usize, u8),
        Flush(usize),
        Swap(usize, usize),
        /// Walk this many entries of the capture.
        Step(usize),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => (0..3usize, any::<u8>(), any::<u8>()).prop_map(|(d, k, v)| Op::Set(d, k, v)),
            2 => (0..3usize, any::<u8>()).prop_map(|(d, k)| Op::Del(d, k)),
            1 => (0..3usize, any::<u8>(), 1..1000i64).prop_map(|(d, k, t)| Op::Expire(d, k, t)),
            1 => (0..3usize, any::<u8>()).prop_map(|(d, k)| Op::Persist(d, k)),
            1 => (0..3usize).prop_map(Op::Flush),
            1 => (0..3usize, 0..3usize).prop_map(|(a, b)| Op::Swap(a, b)),
            4 => (1..40usize).prop_map(Op::Step),
        ]
    }

    /// Few keys, so that writes often hit entries the walk has not reached yet.
    fn key(k: u8) -> Vec<u8> {
        format!("k{}", k % 24).into_bytes()
    }

    fn apply(ks: &mut Keyspace, op: &Op) {
        match *op {
            Op::Set(d, k, v) => ks.set(d, &key(k), Value::Str(RStr::from_arg(&[v])), true),
            Op::Del(d, k) => {
                ks.delete(d, &key(k));
            }
            Op::Expire(d, k, t) => ks.set_expire(d, &key(k), t),
            Op::Persist(d, k) => {
                ks.persist(d, &key(k));
            }
            Op::Flush(d) => {
                ks.flush_db(d, 0);
            }
            Op::Swap(a, b) => ks.swap_db(a, b, 0),
            Op::Step(_) => {}
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]
        /// Whatever happens during the walk, the capture writes each entry of the start state
        /// exactly once, with its value and TTL at the start.
        #[test]
        fn the_capture_is_the_state_at_its_start(
            before in proptest::collection::vec(op(), 0..300),
            during in proptest::collection::vec(op(), 0..300),
        ) {
            let mut ks = Keyspace::new(3);
            for o in &before {
                apply(&mut ks, o);
            }
            let start = state(&ks);
            ks.begin_capture();
            let mut got = State::new();
            let mut dup = Vec::new();
            let (mut s, mut cursor) = (0, 0);
            let mut ops = during.iter();
            while s < 3 {
                let budget = match ops.next() {
                    Some(Op::Step(n)) => *n,
                    Some(o) => {
                        apply(&mut ks, o);
                        continue;
                    }
                    None => 50,
                };
                let mut out = Vec::new();
                cursor = ks.capture_step(s, cursor, budget, &mut |k, v, e| {
                    out.push((k.to_vec(), text(v), e))
                });
                if cursor == 0 {
                    let gen = ks.capture.as_ref().unwrap().gen;
                    let (detached, kept) = ks.capture_finish_db(s);
                    if let Some(d) = detached {
                        for (k, e) in d.main.iter().filter(|(_, e)| e.snap != gen) {
                            out.push((k.to_vec(), text(&e.val), d.expires.get(k).copied()));
                        }
                    }
                    for (k, v, e) in &kept {
                        out.push((k.to_vec(), text(v), *e));
                    }
                }
                for (k, v, e) in out {
                    if got.insert((s, k.clone()), (v, e)).is_some() {
                        dup.push((s, k));
                    }
                }
                if cursor == 0 {
                    s += 1;
                }
            }
            ks.end_capture();
            prop_assert!(dup.is_empty(), "written twice: {:?}", dup);
            prop_assert_eq!(got, start);
        }
    }
}
