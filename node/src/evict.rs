//! `maxmemory` enforcement: before a command that may grow memory, evict keys chosen by the
//! policy from a sample of `maxmemory-samples` keys per database (Redis's approximation).

use crate::db::lru::AccessPolicy;
use crate::state::{HotConfig, NodeState};
use bytes::Bytes;

/// Evicts until memory is under the limit. False if it cannot (noeviction, nothing evictable).
pub fn perform_evictions(st: &mut NodeState, hot: &HotConfig) -> bool {
    if hot.maxmemory == 0 {
        return true;
    }
    let mut guard = 0;
    while crate::alloc::used_memory() as u64 > hot.maxmemory {
        if hot.maxmemory_policy == "noeviction" || guard > 10_000 {
            return false;
        }
        guard += 1;
        let Some((db, key)) = pick_victim(st, hot) else {
            return false;
        };
        st.ks.delete(db, &key);
        st.ks.stats.evicted_keys += 1;
        st.notify(picket::keyspace_events::EVICTED, "evicted", db, &key);
        let lazy = st.settings.lazyfree_lazy_eviction;
        st.stream.push(
            db,
            vec![
                Bytes::from_static(if lazy { b"UNLINK" } else { b"DEL" }),
                key,
            ],
        );
        st.stream.commit(false);
    }
    true
}

fn pick_victim(st: &NodeState, hot: &HotConfig) -> Option<(usize, Bytes)> {
    let policy = hot.maxmemory_policy.as_str();
    let volatile = policy.starts_with("volatile");
    let lfu = st.ks.lru;
    let mut best: Option<(u64, usize, Bytes)> = None;
    let mut rng = |n: usize| rand::random_range(0..n);
    for (i, db) in st.ks.dbs.iter().enumerate() {
        let pool = if volatile {
            db.expires.len()
        } else {
            db.main.len()
        };
        if pool == 0 {
            continue;
        }
        for _ in 0..hot.maxmemory_samples {
            let (key, score) = if volatile {
                let (k, t) = db.expires.random(&mut rng)?;
                let score = match policy {
                    "volatile-ttl" => u64::MAX - (*t as u64),
                    "volatile-random" => 0,
                    _ => score_of(db.main.get(k).map(|e| e.lru).unwrap_or(0), policy, &lfu),
                };
                (k.to_bytes(), score)
            } else {
                let (k, e) = db.main.random(&mut rng)?;
                (
                    k.to_bytes(),
                    if policy == "allkeys-random" {
                        0
                    } else {
                        score_of(e.lru, policy, &lfu)
                    },
                )
            };
            if best.as_ref().map(|b| score >= b.0).unwrap_or(true) {
                best = Some((score, i, key));
            }
        }
    }
    best.map(|(_, db, k)| (db, k))
}

/// Higher is a better eviction candidate.
fn score_of(field: u32, policy: &str, p: &AccessPolicy) -> u64 {
    if policy.ends_with("lfu") {
        255 - p.decayed_counter(field) as u64
    } else {
        AccessPolicy::idle_secs(field)
    }
}
