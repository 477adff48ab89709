//! Building INFO replies: section selection as Redis 7.0 does it (several sections, `default`,
//! `all`, `everything`), `# Name` headers, `key:value` lines joined by CRLF.

/// Which sections an INFO call asked for.
#[derive(Debug, Clone)]
pub struct InfoSelection {
    names: Vec<String>,
    all: bool,
    default: bool,
}

impl InfoSelection {
    pub fn from_args(args: &[&[u8]]) -> Self {
        let mut names: Vec<String> = args
            .iter()
            .map(|a| String::from_utf8_lossy(a).to_ascii_lowercase())
            .collect();
        let all = names.iter().any(|n| n == "all" || n == "everything");
        let default = names.is_empty() || names.iter().any(|n| n == "default");
        names.retain(|n| n != "default" && n != "all" && n != "everything");
        InfoSelection {
            names,
            all,
            default,
        }
    }

    /// Whether `section` is wanted; `in_default` says if it is part of the default set.
    pub fn wants(&self, section: &str, in_default: bool) -> bool {
        self.all || (self.default && in_default) || self.names.iter().any(|n| n == section)
    }

    /// `everything` also asks for commandstats and latencystats.
    pub fn wants_extended(&self, section: &str) -> bool {
        self.names.iter().any(|n| n == section)
    }
}

/// What the `# Server` section needs from a program.
pub struct ServerFields<'a> {
    pub mode: &'a str,
    pub run_id: &'a str,
    pub tcp_port: u16,
    pub uptime_secs: u64,
    pub hz: &'a str,
    pub lru_clock: u32,
    pub executable: &'a str,
    pub config_file: &'a str,
}

/// Counters of the `# Stats` section; the ones a program does not keep stay 0.
#[derive(Debug, Default, Clone)]
pub struct StatsFields {
    pub total_connections_received: u64,
    pub total_commands_processed: u64,
    pub instantaneous_ops_per_sec: u64,
    pub total_net_input_bytes: u64,
    pub total_net_output_bytes: u64,
    pub rejected_connections: u64,
    pub expired_keys: u64,
    pub expired_stale_perc: f64,
    pub expired_time_cap_reached_count: u64,
    pub evicted_keys: u64,
    pub keyspace_hits: u64,
    pub keyspace_misses: u64,
    pub pubsub_channels: u64,
    pub pubsubshard_channels: u64,
    pub pubsub_patterns: u64,
    pub total_error_replies: u64,
    pub total_reads_processed: u64,
    pub total_writes_processed: u64,
    /// Full resyncs served, partial ones accepted and refused (a master's).
    pub sync_full: u64,
    pub sync_partial_ok: u64,
    pub sync_partial_err: u64,
    /// Keys a writable replica's own clients gave a TTL (it expires them itself).
    pub slave_expires_tracked_keys: u64,
    /// CLIENT TRACKING: keys in the table, client entries for them, broadcast prefixes.
    pub tracking_totals: (usize, usize, usize),
    pub migrate_cached_sockets: usize,
}

fn now_usec() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros())
        .unwrap_or(0)
}

fn os_line() -> String {
    let u = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    format!("Linux {} {}", u.trim(), std::env::consts::ARCH)
}

/// Accumulates sections.
#[derive(Debug, Default)]
pub struct InfoBuilder {
    pub text: String,
}

impl InfoBuilder {
    /// Appends a section with its header and fields.
    pub fn section(&mut self, title: &str, fields: &[(&str, String)]) {
        if !self.text.is_empty() {
            self.text.push_str("\r\n");
        }
        self.text.push_str("# ");
        self.text.push_str(title);
        self.text.push_str("\r\n");
        for (k, v) in fields {
            self.text.push_str(k);
            self.text.push(':');
            self.text.push_str(v);
            self.text.push_str("\r\n");
        }
    }

    /// The `# Server` section with Redis 7.0's fields, in its order.
    pub fn server_section(&mut self, f: &ServerFields) {
        self.section(
            "Server",
            &[
                ("redis_version", crate::REDIS_VERSION.into()),
                ("redis_git_sha1", "00000000".into()),
                ("redis_git_dirty", "0".into()),
                ("redis_build_id", "7069636b65740000".into()),
                ("redis_mode", f.mode.into()),
                ("os", os_line()),
                ("arch_bits", "64".into()),
                ("monotonic_clock", "POSIX clock_gettime".into()),
                ("multiplexing_api", "epoll".into()),
                ("atomicvar_api", "c11-builtin".into()),
                ("gcc_version", "0.0.0".into()),
                ("process_id", std::process::id().to_string()),
                ("process_supervised", "no".into()),
                ("run_id", f.run_id.into()),
                ("tcp_port", f.tcp_port.to_string()),
                ("server_time_usec", now_usec().to_string()),
                ("uptime_in_seconds", f.uptime_secs.to_string()),
                ("uptime_in_days", (f.uptime_secs / 86400).to_string()),
                ("hz", f.hz.into()),
                ("configured_hz", f.hz.into()),
                ("lru_clock", f.lru_clock.to_string()),
                ("executable", f.executable.into()),
                ("config_file", f.config_file.into()),
                ("io_threads_active", "0".into()),
            ],
        );
    }

    /// The `# Clients` section.
    pub fn clients_section(
        &mut self,
        connected: usize,
        maxclients: &str,
        blocked: usize,
        tracking: usize,
    ) {
        self.section(
            "Clients",
            &[
                ("connected_clients", connected.to_string()),
                ("cluster_connections", "0".into()),
                ("maxclients", maxclients.into()),
                ("client_recent_max_input_buffer", "0".into()),
                ("client_recent_max_output_buffer", "0".into()),
                ("blocked_clients", blocked.to_string()),
                ("tracking_clients", tracking.to_string()),
                ("clients_in_timeout_table", "0".into()),
            ],
        );
    }

    /// The `# Stats` section with Redis 7.0's fields, in its order.
    pub fn stats_section(&mut self, f: &StatsFields) {
        let z = || "0".to_string();
        self.section(
            "Stats",
            &[
                (
                    "total_connections_received",
                    f.total_connections_received.to_string(),
                ),
                (
                    "total_commands_processed",
                    f.total_commands_processed.to_string(),
                ),
                (
                    "instantaneous_ops_per_sec",
                    f.instantaneous_ops_per_sec.to_string(),
                ),
                ("total_net_input_bytes", f.total_net_input_bytes.to_string()),
                (
                    "total_net_output_bytes",
                    f.total_net_output_bytes.to_string(),
                ),
                ("total_net_repl_input_bytes", z()),
                ("total_net_repl_output_bytes", z()),
                ("instantaneous_input_kbps", "0.00".into()),
                ("instantaneous_output_kbps", "0.00".into()),
                ("instantaneous_input_repl_kbps", "0.00".into()),
                ("instantaneous_output_repl_kbps", "0.00".into()),
                ("rejected_connections", f.rejected_connections.to_string()),
                ("sync_full", f.sync_full.to_string()),
                ("sync_partial_ok", f.sync_partial_ok.to_string()),
                ("sync_partial_err", f.sync_partial_err.to_string()),
                ("expired_keys", f.expired_keys.to_string()),
                ("expired_stale_perc", format!("{:.2}", f.expired_stale_perc)),
                (
                    "expired_time_cap_reached_count",
                    f.expired_time_cap_reached_count.to_string(),
                ),
                ("expire_cycle_cpu_milliseconds", z()),
                ("evicted_keys", f.evicted_keys.to_string()),
                ("evicted_clients", z()),
                ("total_eviction_exceeded_time", z()),
                ("current_eviction_exceeded_time", z()),
                ("keyspace_hits", f.keyspace_hits.to_string()),
                ("keyspace_misses", f.keyspace_misses.to_string()),
                ("pubsub_channels", f.pubsub_channels.to_string()),
                ("pubsub_patterns", f.pubsub_patterns.to_string()),
                ("pubsubshard_channels", f.pubsubshard_channels.to_string()),
                ("latest_fork_usec", z()),
                ("total_forks", z()),
                (
                    "migrate_cached_sockets",
                    f.migrate_cached_sockets.to_string(),
                ),
                (
                    "slave_expires_tracked_keys",
                    f.slave_expires_tracked_keys.to_string(),
                ),
                ("active_defrag_hits", z()),
                ("active_defrag_misses", z()),
                ("active_defrag_key_hits", z()),
                ("active_defrag_key_misses", z()),
                ("total_active_defrag_time", z()),
                ("current_active_defrag_time", z()),
                ("tracking_total_keys", f.tracking_totals.0.to_string()),
                ("tracking_total_items", f.tracking_totals.1.to_string()),
                ("tracking_total_prefixes", f.tracking_totals.2.to_string()),
                ("unexpected_error_replies", z()),
                ("total_error_replies", f.total_error_replies.to_string()),
                ("dump_payload_sanitizations", z()),
                ("total_reads_processed", f.total_reads_processed.to_string()),
                (
                    "total_writes_processed",
                    f.total_writes_processed.to_string(),
                ),
                ("io_threaded_reads_processed", z()),
                ("io_threaded_writes_processed", z()),
                ("reply_buffer_shrinks", z()),
                ("reply_buffer_expands", z()),
            ],
        );
    }

    /// The `# CPU` section, as Redis 7.0 prints it (Picket has no child processes yet).
    pub fn cpu_section(&mut self) {
        let (sys, user) = cpu_times();
        self.section(
            "CPU",
            &[
                ("used_cpu_sys", format!("{sys:.6}")),
                ("used_cpu_user", format!("{user:.6}")),
                ("used_cpu_sys_children", "0.000000".into()),
                ("used_cpu_user_children", "0.000000".into()),
                ("used_cpu_sys_main_thread", format!("{sys:.6}")),
                ("used_cpu_user_main_thread", format!("{user:.6}")),
            ],
        );
    }

    /// Appends a section whose lines are given ready-made.
    pub fn section_lines(&mut self, title: &str, lines: &[String]) {
        if !self.text.is_empty() {
            self.text.push_str("\r\n");
        }
        self.text.push_str("# ");
        self.text.push_str(title);
        self.text.push_str("\r\n");
        for l in lines {
            self.text.push_str(l);
            self.text.push_str("\r\n");
        }
    }
}

/// The value of field `name` in an INFO text.
pub fn field<'a>(info: &'a str, name: &str) -> Option<&'a str> {
    info.lines().find_map(|l| {
        l.strip_prefix(name)
            .and_then(|r| r.strip_prefix(':'))
            .map(|v| v.trim_end())
    })
}

/// (system, user) CPU seconds of this process, for INFO cpu.
pub fn cpu_times() -> (f64, f64) {
    // SAFETY: getrusage only writes into the struct passed to it.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    let t = |tv: libc::timeval| tv.tv_sec as f64 + tv.tv_usec as f64 / 1e6;
    (t(ru.ru_stime), t(ru.ru_utime))
}

/// Redis's human byte count (`1.50K`, `919.66K`, `6.49M`).
pub fn bytes_human(n: u64) -> String {
    let d = n as f64;
    if n < 1024 {
        format!("{n}B")
    } else if d < 1024.0 * 1024.0 {
        format!("{:.2}K", d / 1024.0)
    } else if d < 1024.0 * 1024.0 * 1024.0 {
        format!("{:.2}M", d / (1024.0 * 1024.0))
    } else if d < 1024.0f64.powi(4) {
        format!("{:.2}G", d / 1024.0f64.powi(3))
    } else {
        format!("{:.2}T", d / 1024.0f64.powi(4))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selection() {
        let s = InfoSelection::from_args(&[]);
        assert!(s.wants("server", true));
        assert!(!s.wants("commandstats", false));
        let s = InfoSelection::from_args(&[b"REPLICATION"]);
        assert!(s.wants("replication", true));
        assert!(!s.wants("server", true));
        assert_eq!(bytes_human(941728), "919.66K");
    }
}
