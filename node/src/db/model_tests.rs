//! Property tests: random operation sequences on each collection type and on a simple model
//! (std collections) give the same results, with tiny encoding limits so that the sequences
//! cross the listpack/intset → hashtable/skiplist conversions.

use super::{EncodingLimits, HashVal, SetVal, ZSetVal};
use proptest::prelude::*;
use std::collections::{BTreeMap, BTreeSet};

fn tiny() -> EncodingLimits {
    EncodingLimits {
        hash_entries: 4,
        hash_value: 6,
        set_intset_entries: 4,
        zset_entries: 4,
        zset_value: 6,
    }
}

/// Members: small integers (intset-friendly), short words, and a long one (over the limits).
fn member() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        (-5i64..20).prop_map(|i| i.to_string().into_bytes()),
        "[a-e]{1,3}".prop_map(|s| s.into_bytes()),
        Just(b"a-long-member".to_vec()),
    ]
}

#[derive(Debug, Clone)]
enum Op {
    Set(Vec<u8>, Vec<u8>),
    Remove(Vec<u8>),
    Score(Vec<u8>, i8),
}

fn ops() -> impl Strategy<Value = Vec<Op>> {
    proptest::collection::vec(
        prop_oneof![
            (member(), member()).prop_map(|(a, b)| Op::Set(a, b)),
            member().prop_map(Op::Remove),
            (member(), any::<i8>()).prop_map(|(m, s)| Op::Score(m, s)),
        ],
        0..80,
    )
}

proptest! {
    #[test]
    fn hash_matches_model(ops in ops()) {
        let lim = tiny();
        let mut h = HashVal::new();
        let mut m = BTreeMap::new();
        for op in ops {
            match op {
                Op::Set(f, v) if f.len() % 2 == 0 => {
                    prop_assert_eq!(h.set(&f, &v, &lim), m.insert(f.clone(), v).is_none());
                }
                Op::Set(f, v) => {
                    // Two fields at once through set_many (the HSET path).
                    let g = [&f[..], b"x"].concat();
                    let new = h.set_many(&[(&f, &v), (&g, &v)], &lim);
                    let want = m.insert(f.clone(), v.clone()).is_none() as usize
                        + m.insert(g, v).is_none() as usize;
                    prop_assert_eq!(new, want);
                }
                Op::Score(f, _) | Op::Remove(f) => {
                    prop_assert_eq!(h.get(&f).map(|v| v.to_vec()), m.get(&f).cloned());
                    prop_assert_eq!(h.remove(&f), m.remove(&f).is_some());
                }
            }
            prop_assert_eq!(h.len(), m.len());
        }
        let mut got: Vec<_> = h.pairs().into_iter().map(|(a, b)| (a.to_vec(), b.to_vec())).collect();
        got.sort();
        prop_assert_eq!(got, m.into_iter().collect::<Vec<_>>());
    }

    #[test]
    fn set_matches_model(ops in ops()) {
        let lim = tiny();
        let mut s = SetVal::Ints(Vec::new());
        let mut m = BTreeSet::new();
        for op in ops {
            match op {
                Op::Set(x, _) | Op::Score(x, _) => prop_assert_eq!(s.add(&x, &lim), m.insert(x)),
                Op::Remove(x) => prop_assert_eq!(s.remove(&x), m.remove(&x)),
            }
            prop_assert_eq!(s.len(), m.len());
            if let SetVal::Ints(v) = &s {
                prop_assert!(v.len() <= lim.set_intset_entries);
                prop_assert!(v.windows(2).all(|w| w[0] < w[1]));
            }
        }
        let mut got = s.members();
        got.sort();
        prop_assert_eq!(got, m.into_iter().collect::<Vec<_>>());
    }

    #[test]
    fn zset_matches_model(ops in ops()) {
        let lim = tiny();
        let mut z = ZSetVal::new();
        let mut m: BTreeMap<Vec<u8>, f64> = BTreeMap::new();
        for op in ops {
            match op {
                Op::Score(x, sc) => {
                    // Quarter steps make ties between members with equal scores common.
                    let sc = sc as f64 / 4.0;
                    prop_assert_eq!(z.insert(&x, sc, &lim), m.insert(x, sc));
                }
                Op::Set(x, y) => {
                    prop_assert_eq!(z.score(&x), m.get(&x).copied());
                    // Two members at once through set_many (the plain ZADD path).
                    let (sx, sy) = (x.len() as f64, -(y.len() as f64) / 2.0);
                    let mut want = (0, 0);
                    for (mem, sc) in [(&x, sx), (&y, sy)] {
                        match m.insert(mem.clone(), sc) {
                            None => want.0 += 1,
                            Some(old) if old != sc => want.1 += 1,
                            Some(_) => {}
                        }
                    }
                    prop_assert_eq!(z.set_many(&[(sx, &x), (sy, &y)], &lim), want);
                }
                Op::Remove(x) => prop_assert_eq!(z.remove(&x), m.remove(&x)),
            }
            prop_assert_eq!(z.len(), m.len());
        }
        // Order: by score, then member bytes; ranks agree with that order.
        let mut want: Vec<(f64, Vec<u8>)> = m.iter().map(|(k, v)| (*v, k.clone())).collect();
        want.sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap().then_with(|| a.1.cmp(&b.1)));
        let view = z.view();
        let got: Vec<(f64, Vec<u8>)> = view.take(0, usize::MAX).into_iter().map(|(s, m)| (s, m.to_vec())).collect();
        prop_assert_eq!(&got, &want);
        for (i, (_, mem)) in want.iter().enumerate() {
            prop_assert_eq!(z.rank(mem), Some(i));
        }
    }
}
