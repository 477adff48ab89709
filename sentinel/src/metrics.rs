//! The sentinel's Prometheus metrics (`metrics-port`): redis_exporter's sentinel metrics
//! under its names (so its dashboards work unchanged), plus Picket's own: failovers started,
//! completed and aborted, their durations, time in SDOWN and ODOWN, the current epoch.

use picket::metrics::{labels, Labels, Metrics};

use crate::state::SentinelState;

/// Buckets of the failover-duration histogram, in seconds.
const DURATION_BUCKETS: &[f64] = &[0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 180.0];

type Rows = Vec<(Labels, i64)>;

/// One scrape.
pub fn render(st: &SentinelState) -> String {
    let c = &st.core;
    let now = crate::clock::clock_ms();
    let mut m = Metrics::default();
    m.gauge("redis_up", "Whether the sentinel answers", 1);
    m.gauge(
        "redis_sentinel_masters",
        "Masters monitored",
        c.masters.len() as i64,
    );
    m.gauge(
        "redis_sentinel_tilt",
        "Whether the sentinel is in TILT mode",
        i64::from(c.tilt),
    );
    let running = st.scripts.running();
    m.gauge(
        "redis_sentinel_running_scripts",
        "Scripts running",
        running as i64,
    );
    m.gauge(
        "redis_sentinel_scripts_queue_length",
        "Scripts waiting to run",
        (st.scripts.jobs.len() - running) as i64,
    );
    m.gauge(
        "redis_sentinel_simulate_failure_flags",
        "SENTINEL SIMULATE-FAILURE flags",
        i64::from(c.simfailure),
    );
    let mut rows: [Rows; 7] = Default::default();
    let [status, slaves, sentinels, ok_sentinels, ok_slaves, ckquorum, epoch] = &mut rows;
    for (name, x) in &c.masters {
        let (h, p) = c.announced_addr(name).unwrap_or_default();
        let addr = crate::core::addr_name(&h, p);
        let state = if x.o_down {
            "odown"
        } else if x.inst.s_down {
            "sdown"
        } else {
            "ok"
        };
        let who = labels(&[("master_name", name), ("master_address", &addr)]);
        status.push((
            labels(&[
                ("master_name", name),
                ("master_address", &addr),
                ("master_status", state),
            ]),
            i64::from(state == "ok"),
        ));
        slaves.push((who.clone(), x.replicas.len() as i64));
        sentinels.push((who.clone(), x.sentinels.len() as i64 + 1));
        let up_peers = x.sentinels.values().filter(|p| !p.inst.s_down).count();
        ok_sentinels.push((who.clone(), up_peers as i64 + 1));
        let up_replicas = x.replicas.values().filter(|r| !r.inst.s_down).count();
        ok_slaves.push((who.clone(), up_replicas as i64));
        let (ok, message) = match c.ckquorum(name) {
            Some(Ok(s)) => (1, s),
            Some(Err(e)) => (0, e),
            None => (0, String::new()),
        };
        ckquorum.push((labels(&[("master_name", name), ("message", &message)]), ok));
        epoch.push((who, x.config_epoch as i64));
    }
    m.gauges(
        "redis_sentinel_master_status",
        "1 when the master's status is ok",
        status,
    );
    m.gauges("redis_sentinel_master_slaves", "Replicas known", slaves);
    m.gauges(
        "redis_sentinel_master_sentinels",
        "Sentinels known, this one included",
        sentinels,
    );
    m.gauges(
        "redis_sentinel_master_ok_sentinels",
        "Sentinels not down",
        ok_sentinels,
    );
    m.gauges(
        "redis_sentinel_master_ok_slaves",
        "Replicas not down",
        ok_slaves,
    );
    m.gauges(
        "redis_sentinel_master_ckquorum_status",
        "1 when CKQUORUM is OK",
        ckquorum,
    );
    m.gauges(
        "redis_sentinel_master_config_epoch",
        "The master's config epoch",
        epoch,
    );
    picket_own(&mut m, st, now);
    m.render()
}

fn picket_own(m: &mut Metrics, st: &SentinelState, now: u64) {
    let h = &st.history;
    let per = |f: &dyn Fn(&crate::history::MasterHistory) -> u64| -> Vec<(Labels, u64)> {
        h.masters
            .iter()
            .map(|(name, x)| (labels(&[("master_name", name)]), f(x)))
            .collect()
    };
    m.counters(
        "picket_sentinel_failovers_started",
        "Failovers this sentinel tried",
        &per(&|x| x.failovers_started),
    );
    m.counters(
        "picket_sentinel_failovers_completed",
        "Failovers this sentinel led to the end",
        &per(&|x| x.failovers_completed),
    );
    m.counters(
        "picket_sentinel_failovers_aborted",
        "Failovers this sentinel aborted",
        &per(&|x| x.failovers_aborted),
    );
    m.counters(
        "picket_sentinel_switch_master",
        "Master switches this sentinel saw",
        &per(&|x| x.switches),
    );
    let secs = |ms: u64| (ms / 1000) as i64;
    let sdown: Rows = h
        .masters
        .iter()
        .map(|(n, x)| (labels(&[("master_name", n)]), secs(x.sdown_ms_at(now))))
        .collect();
    let odown: Rows = h
        .masters
        .iter()
        .map(|(n, x)| (labels(&[("master_name", n)]), secs(x.odown_ms_at(now))))
        .collect();
    m.gauges(
        "picket_sentinel_master_sdown_seconds",
        "Seconds the master spent subjectively down",
        &sdown,
    );
    m.gauges(
        "picket_sentinel_master_odown_seconds",
        "Seconds the master spent objectively down",
        &odown,
    );
    m.histogram(
        "picket_sentinel_failover_duration_seconds",
        "Failovers this sentinel led, from +try-failover to +failover-end",
        DURATION_BUCKETS,
        &h.durations,
    );
    m.gauge(
        "picket_sentinel_current_epoch",
        "The current epoch",
        st.core.current_epoch as i64,
    );
}
