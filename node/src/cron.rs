//! The periodic task (`hz` times a second): the active expiry cycle, stats sampling, the peak
//! memory figure.

use crate::clock::now_ms;
use crate::state::{Node, NodeState};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Keys checked per database per loop at effort 1 (Redis's ACTIVE_EXPIRE_CYCLE_KEYS_PER_LOOP).
const KEYS_PER_LOOP: usize = 20;

/// Deletes expired keys that nobody reads, sampling each db's expires table by scanning it,
/// repeating while more than 10% of a sample was expired and the time budget allows.
#[allow(clippy::needless_range_loop)]
pub fn active_expire_cycle(
    st: &mut NodeState,
    cursors: &mut Vec<u64>,
    effort: u64,
    budget: Duration,
) {
    st.refresh_expiry_pause();
    if st.ks.is_replica && st.active_expire && !st.ks.expiry_paused {
        st.ks.expire_replica_local_keys(now_ms());
    }
    if st.ks.is_replica || !st.active_expire || st.ks.expiry_paused || st.ks.loading_aof {
        return;
    }
    let start = Instant::now();
    let now = now_ms();
    let per_loop = KEYS_PER_LOOP + KEYS_PER_LOOP / 4 * (effort as usize - 1);
    let acceptable_stale = 10 - (effort as usize - 1);
    cursors.resize(st.ks.dbs.len(), 0);
    let mut sampled_total = 0usize;
    let mut expired_total = 0usize;
    for db in 0..st.ks.dbs.len() {
        loop {
            if st.ks.dbs[db].expires.is_empty() {
                cursors[db] = 0;
                break;
            }
            let mut expired = Vec::new();
            let mut sampled = 0;
            let mut ttl_sum = 0i64;
            let mut ttl_n = 0i64;
            let mut buckets = 0;
            while sampled < per_loop && buckets < per_loop * 20 {
                cursors[db] = st.ks.dbs[db].expires.scan(cursors[db], |k, t| {
                    sampled += 1;
                    if *t <= now {
                        expired.push(k.clone());
                    } else {
                        ttl_sum += *t - now;
                        ttl_n += 1;
                    }
                });
                buckets += 1;
                if cursors[db] == 0 {
                    break;
                }
            }
            for k in &expired {
                st.ks.delete_expired(db, k);
            }
            if ttl_n > 0 {
                let avg = ttl_sum / ttl_n;
                let d = &mut st.ks.dbs[db];
                d.avg_ttl = if d.avg_ttl == 0 {
                    avg
                } else {
                    (d.avg_ttl / 50) * 49 + avg / 50
                };
            }
            sampled_total += sampled;
            expired_total += expired.len();
            if start.elapsed() > budget {
                st.ks.stats.expired_time_cap_reached += 1;
                break;
            }
            if sampled == 0 || expired.len() * 100 / sampled.max(1) <= acceptable_stale {
                break;
            }
        }
    }
    if sampled_total > 0 {
        let perc = expired_total as f64 / sampled_total as f64;
        st.ks.stats.expired_stale_perc = perc * 0.05 + st.ks.stats.expired_stale_perc * 0.95;
    }
    crate::propagate::expired_dels(st);
}

/// Runs the periodic work until the process exits.
pub async fn run(node: Arc<Node>) {
    let mut cursors = Vec::new();
    let mut last_sample = Instant::now();
    let mut last_repl_cron = Instant::now();
    loop {
        let (hz, effort) = {
            let h = node.hot.read();
            (h.hz, h.active_expire_effort)
        };
        let period = Duration::from_millis(1000 / hz.max(1));
        tokio::time::sleep(period).await;
        // A busy lock (a snapshot being streamed to a replica) skips this tick rather than
        // parking the runtime's thread, which is writing that snapshot out meanwhile.
        let Some(mut st) = node.state.try_lock_for(Duration::from_millis(5)) else {
            continue;
        };
        if st.cron_paused {
            continue;
        }
        // Up to 25% of the period (more with higher effort), as Redis's slow cycle.
        let budget = period * (25 + 2 * effort as u32) / 100;
        let started = Instant::now();
        active_expire_cycle(&mut st, &mut cursors, effort, budget);
        let ms = started.elapsed().as_millis() as u64;
        let threshold = st.settings.latency_threshold;
        st.latency
            .record(threshold, "expire-cycle", ms, crate::clock::now_ms() / 1000);
        crate::propagate::expired_dels(&mut st);
        crate::cmd::tracking::cron(&node, &mut st);
        crate::repl::failover::tick(&node, &mut st);
        crate::persistence::tick(&mut st);
        crate::repl::diskless::tick(&node, &mut st);
        if last_repl_cron.elapsed() >= Duration::from_secs(1) {
            last_repl_cron = Instant::now();
            crate::repl::cron(&node, &mut st);
            crate::persistence::cron(&node, &mut st);
            st.migrate.close_idle(Instant::now());
        }
        // A stream flush outside a client's batch (this cron, the replica link) failed to
        // write the AOF: main exits.
        if st.fatal.is_some() {
            node.shutdown_notify.notify_one();
        }
        if last_sample.elapsed() >= Duration::from_millis(100) {
            st.stats.sample(now_ms());
            last_sample = Instant::now();
        }
        if let Some(u) = st.pause.until {
            if Instant::now() >= u {
                st.pause.until = None;
                node.pause_notify.notify_waiters();
            }
        }
        let pubsub_limit = st.settings.pubsub_limit;
        drop(st);
        if pubsub_limit.soft > 0 {
            for c in node.registry.all() {
                if c.kind() == picket::server::ClientKind::Pubsub {
                    c.enforce_soft_limit(pubsub_limit);
                }
            }
        }
        crate::alloc::update_peak();
        crate::db::lru::update_lru_clock();
    }
}
