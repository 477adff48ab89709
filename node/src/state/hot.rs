//! [`HotConfig`]: the configuration values read on every connection event, kept typed outside
//! the state lock and refreshed by CONFIG SET.

use crate::db::Keyspace;
use bytes::Bytes;
use picket::config::Config;
use picket::server::OutputLimit;

/// Configuration values read on every connection event, outside the state lock.
#[derive(Debug, Clone)]
pub struct HotConfig {
    pub proto_max_bulk_len: i64,
    pub query_buffer_limit: usize,
    pub timeout: u64,
    pub requirepass: Option<Bytes>,
    pub maxclients: usize,
    pub protected_mode: bool,
    pub bind_any: bool,
    pub maxmemory: u64,
    pub maxmemory_policy: String,
    pub maxmemory_samples: usize,
    pub obuf_pubsub: OutputLimit,
    pub obuf_normal: OutputLimit,
    pub obuf_replica: OutputLimit,
    pub hz: u64,
    pub active_expire_effort: u64,
    pub databases: usize,
    pub debug_command: String,
    pub hll_sparse_max_bytes: usize,
}

impl HotConfig {
    pub fn from_config(config: &Config) -> Self {
        let lim = |i: usize| output_limit(config, i);
        let pass = config.get("requirepass");
        HotConfig {
            proto_max_bulk_len: config.get_i64("proto-max-bulk-len"),
            query_buffer_limit: config.get_i64("client-query-buffer-limit") as usize,
            timeout: config.get_i64("timeout") as u64,
            requirepass: (!pass.is_empty()).then(|| Bytes::copy_from_slice(pass.as_bytes())),
            maxclients: config.get_i64("maxclients") as usize,
            protected_mode: config.get_bool("protected-mode"),
            bind_any: config
                .get("bind")
                .split_whitespace()
                .any(|b| b.trim_start_matches('-') == "*" || b.trim_start_matches('-') == "::*"),
            maxmemory: config.get_i64("maxmemory") as u64,
            maxmemory_policy: config.get("maxmemory-policy").to_string(),
            maxmemory_samples: config.get_i64("maxmemory-samples").max(1) as usize,
            obuf_normal: lim(0),
            obuf_replica: lim(1),
            obuf_pubsub: lim(2),
            hz: config.get_i64("hz").clamp(1, 500) as u64,
            active_expire_effort: config.get_i64("active-expire-effort").clamp(1, 10) as u64,
            databases: config.get_i64("databases") as usize,
            debug_command: config.get("enable-debug-command").to_string(),
            hll_sparse_max_bytes: config.get_i64("hll-sparse-max-bytes").max(0) as usize,
        }
    }
}

/// `client-output-buffer-limit` for one class: 0 normal, 1 replica, 2 pubsub.
pub fn output_limit(config: &Config, class: usize) -> OutputLimit {
    let obuf: Vec<u64> = config
        .get("client-output-buffer-limit")
        .split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect();
    OutputLimit {
        hard: *obuf.get(class * 3).unwrap_or(&0) as usize,
        soft: *obuf.get(class * 3 + 1).unwrap_or(&0) as usize,
        soft_seconds: *obuf.get(class * 3 + 2).unwrap_or(&0),
    }
}

/// Sets what the keyspace itself tracks from the configuration: LRU/LFU, the encodings'
/// limits, and the keyspace events it records (new keys, expiries, misses).
pub fn apply_keyspace_settings(ks: &mut Keyspace, config: &Config) {
    ks.event_classes = crate::state::notify::classes(config);
    ks.lru.lfu = config.get("maxmemory-policy").contains("lfu");
    ks.lru.lfu_log_factor = config.get_i64("lfu-log-factor") as u32;
    ks.lru.lfu_decay_time = config.get_i64("lfu-decay-time") as u32;
    let n = |k: &str| config.get_i64(k).max(0) as usize;
    ks.enc = crate::db::EncodingLimits {
        hash_entries: n("hash-max-listpack-entries"),
        hash_value: n("hash-max-listpack-value"),
        set_intset_entries: n("set-max-intset-entries"),
        zset_entries: n("zset-max-listpack-entries"),
        zset_value: n("zset-max-listpack-value"),
    };
}
