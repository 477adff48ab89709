//! [`Settings`]: the directives read under the state lock on hot paths (every write command's
//! checks, every flush of the write stream, expiry and eviction), typed once whenever the
//! configuration changes instead of looked up and parsed by name each time.

use picket::config::Config;

#[derive(Debug, Clone, Default)]
pub struct Settings {
    pub replica_serve_stale_data: bool,
    pub replica_read_only: bool,
    pub min_replicas_to_write: i64,
    pub min_replicas_max_lag: i64,
    /// `fencing` (docs/fencing.md) and `fencing-ack-timeout` in ms.
    pub fencing: bool,
    pub fencing_ack_timeout_ms: u64,
    pub aof_timestamp_enabled: bool,
    pub no_appendfsync_on_rewrite: bool,
    pub lazyfree_lazy_expire: bool,
    pub lazyfree_lazy_eviction: bool,
    pub lazyfree_lazy_user_flush: bool,
    /// `notify-keyspace-events` as flags; 0 when neither K nor E is set (nothing is sent).
    pub keyspace_events: u16,
    pub pubsub_limit: picket::server::OutputLimit,
    pub normal_limit: picket::server::OutputLimit,
    /// `maxmemory` in bytes (0: no limit), checked before every command.
    pub maxmemory: u64,
    /// `tracking-table-max-keys` (0: no limit).
    pub tracking_max_keys: usize,
    /// `slowlog-log-slower-than` (µs, < 0: off) and `slowlog-max-len`.
    pub slowlog: (i64, usize),
    /// `latency-tracking`: per-command latency histograms (LATENCY HISTOGRAM, INFO
    /// latencystats), and the percentiles INFO shows (`latency-tracking-info-percentiles`).
    pub latency_tracking: bool,
    pub latency_percentiles: Vec<f64>,
    /// `latency-monitor-threshold` (ms, 0: off).
    pub latency_threshold: i64,
}

impl Settings {
    pub fn from_config(config: &Config) -> Self {
        Settings {
            replica_serve_stale_data: config.get_bool("replica-serve-stale-data"),
            replica_read_only: config.get_bool("replica-read-only"),
            min_replicas_to_write: config.get_i64("min-replicas-to-write"),
            min_replicas_max_lag: config.get_i64("min-replicas-max-lag"),
            fencing: config.get_bool("fencing"),
            fencing_ack_timeout_ms: config.get_i64("fencing-ack-timeout").max(1) as u64,
            aof_timestamp_enabled: config.get_bool("aof-timestamp-enabled"),
            no_appendfsync_on_rewrite: config.get_bool("no-appendfsync-on-rewrite"),
            lazyfree_lazy_expire: config.get_bool("lazyfree-lazy-expire"),
            lazyfree_lazy_eviction: config.get_bool("lazyfree-lazy-eviction"),
            lazyfree_lazy_user_flush: config.get_bool("lazyfree-lazy-user-flush"),
            keyspace_events: crate::state::notify::classes(config),
            pubsub_limit: crate::state::hot::output_limit(config, 2),
            normal_limit: crate::state::hot::output_limit(config, 0),
            maxmemory: config.get_i64("maxmemory").max(0) as u64,
            tracking_max_keys: config.get_i64("tracking-table-max-keys").max(0) as usize,
            latency_threshold: config.get_i64("latency-monitor-threshold"),
            latency_tracking: config.get_bool("latency-tracking"),
            latency_percentiles: config
                .get("latency-tracking-info-percentiles")
                .split_whitespace()
                .filter_map(|p| p.parse().ok())
                .collect(),
            slowlog: (
                config.get_i64("slowlog-log-slower-than"),
                config.get_i64("slowlog-max-len").max(0) as usize,
            ),
        }
    }
}
