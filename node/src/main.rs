//! `picket-node [config-file] [--directive value ...]`: starts the server, as redis-server does.

use picket::config::{load_file, node_specs, parse_cli_args, Config};
use picket::server::{bind_listeners, run_listeners, ListenSpec, Listeners};
use picket_node::cmd::config::ACTED_ON;
use picket_node::state::replay::Replay;
use picket_node::state::{Node, ShutdownKind};
use std::sync::Arc;
use std::time::Duration;

#[global_allocator]
static GLOBAL: picket_node::alloc::CountingAlloc = picket_node::alloc::CountingAlloc;

fn usage() {
    eprintln!("Usage: ./picket-node [/path/to/redis.conf|/path/to/node.toml] [options] [-]");
    eprintln!("       ./picket-node - (read config from stdin)");
    eprintln!("       ./picket-node -v or --version");
    eprintln!("       ./picket-node -h or --help");
    eprintln!();
    eprintln!("Examples:");
    eprintln!("       ./picket-node (run the server with default conf)");
    eprintln!("       ./picket-node conf/node.toml");
    eprintln!("       ./picket-node --port 7777");
    eprintln!("       ./picket-node --port 7777 --replicaof 127.0.0.1 8888");
    eprintln!("       ./picket-node conf/redis.conf --loglevel verbose --log-format json");
}

fn load_config() -> Config {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    // `--check-config`: load and validate everything, report, and exit (`picket check`).
    let check_only = args.iter().any(|a| a == "--check-config");
    args.retain(|a| a != "--check-config");
    let cli = parse_cli_args(&args);
    if cli.version {
        println!(
            "Redis server v={} sha=00000000:0 malloc=libc bits=64 build=picket-{}",
            picket::REDIS_VERSION,
            env!("CARGO_PKG_VERSION")
        );
        std::process::exit(0);
    }
    if cli.help {
        usage();
        std::process::exit(0);
    }
    let mut cfg = Config::new(node_specs());
    let mut set = Vec::new();
    if let Some(f) = &cli.config_file {
        match load_file(&mut cfg, f) {
            Ok(s) => set.extend(s),
            Err(e) => {
                eprintln!("{e}");
                std::process::exit(1);
            }
        }
    }
    let mut save_seen = false;
    for (i, (name, vals)) in cli.directives.iter().enumerate() {
        if let Err(reason) = picket::config::apply_directive(&mut cfg, name, vals, &mut save_seen) {
            let e = picket::config::ConfigFileError {
                file: "(command line)".into(),
                line: i + 1,
                text: format!("{} {}", name, vals.join(" ")),
                reason,
            };
            eprintln!("{e}");
            std::process::exit(1);
        }
        set.push(name.clone());
    }
    // `dir` is applied as Redis does: chdir, and CONFIG GET shows the absolute path.
    let dir = cfg.get("dir").to_string();
    if let Err(e) = std::env::set_current_dir(&dir) {
        eprintln!("Can't chdir to '{dir}': {e}");
        std::process::exit(1);
    }
    if let Ok(abs) = std::env::current_dir() {
        let _ = cfg.set_str("dir", &abs.display().to_string());
    }
    set.sort();
    set.dedup();
    let idle: Vec<String> = set
        .iter()
        .filter_map(|name| cfg.spec(name).cloned())
        .filter(|spec| {
            let acted = ACTED_ON.contains(&spec.name.as_str())
                || picket::config::FILE_ONLY_DIRECTIVES.contains(&spec.name.as_str());
            // Only a value that differs from the default asks for something not built yet.
            !acted && cfg.get(&spec.name) != spec.default
        })
        .map(|spec| spec.name.clone())
        .collect();
    if check_only {
        for name in &idle {
            println!("warning: directive '{name}' is accepted but not acted on by this version of Picket");
        }
        println!("configuration OK");
        std::process::exit(0);
    }
    let logfile = cfg.get("logfile").to_string();
    if let Err(e) = picket::logging::init(
        cfg.get("loglevel"),
        &logfile,
        cfg.get("log-format") == "json",
    ) {
        eprintln!("{e}");
        std::process::exit(1);
    }
    for name in idle {
        tracing::warn!(
            "Configuration directive '{}' is accepted but not acted on by this version of Picket",
            name
        );
    }
    cfg
}

/// Where to listen, from `bind`, `port`, `unixsocket` and the TCP settings.
fn listen_spec(cfg: &Config) -> ListenSpec {
    ListenSpec {
        bind: cfg
            .get("bind")
            .split_whitespace()
            .map(String::from)
            .collect(),
        port: cfg.get_i64("port") as u16,
        unixsocket: Some(cfg.get("unixsocket").to_string()).filter(|s| !s.is_empty()),
        unixsocketperm: u32::from_str_radix(cfg.get("unixsocketperm"), 8).unwrap_or(0),
        tcp_keepalive: Duration::from_secs(cfg.get_i64("tcp-keepalive") as u64),
        backlog: cfg.get_i64("tcp-backlog") as u32,
    }
}

/// Loads the data while clients already connect and get -LOADING. The loading state begins
/// before the first connection is accepted: a command that ran on the not yet loaded dataset
/// would be answered from it, and a write would be acknowledged and then lost (never in the
/// AOF, replaced by the RDB).
async fn load(
    node: &Arc<Node>,
    listeners: Listeners,
    keepalive: Duration,
    executor: Arc<dyn Replay>,
) {
    node.loading.begin();
    let (swap, swapped) = tokio::sync::mpsc::unbounded_channel();
    *node.listener_swap.lock() = Some(swap);
    *node.listen_fds.lock() = {
        use std::os::fd::AsRawFd;
        listeners.tcp.iter().map(|t| t.as_raw_fd()).collect()
    };
    tokio::spawn(run_listeners(
        node.clone(),
        listeners,
        keepalive,
        Some(swapped),
    ));
    match picket_node::persistence::load_at_startup(node.clone(), executor).await {
        Ok(Some(position)) => picket_node::repl::restore_history(&mut node.state.lock(), position),
        Ok(None) => {}
        Err(e) => {
            tracing::warn!("{e}. Exiting.");
            std::process::exit(1);
        }
    }
    node.loading.end();
}

/// `replicaof` from the configuration: the link starts with what the snapshot recorded.
fn start_replication(node: &Node) {
    let mut st = node.state.lock();
    let target = st.config.get("replicaof").to_string();
    let mut w = target.split_whitespace();
    if let (Some(h), Some(p)) = (w.next(), w.next().and_then(|p| p.parse::<u16>().ok())) {
        picket_node::repl::link::set_master(node, &mut st, h, p);
        // A fresh start offers only what its snapshot recorded (else PSYNC ? -1).
        st.repl.cached = st.repl.restored.take();
    }
}

/// Waits for SHUTDOWN or a signal, then does what Redis does before it exits: the replicas
/// catch up, and a signal saves when save points are configured (SHUTDOWN saved already,
/// under the lock). A save that fails, or a first AOF still being written, keeps the server
/// up, as in Redis. A fatal error (an AOF write that failed) exits at once.
async fn shutdown(node: &Node) {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        tracing::warn!("Can't install the signal handlers. Exiting.");
        std::process::exit(1);
    };
    loop {
        let kind = tokio::select! {
            _ = node.shutdown_notify.notified() => node.state.lock().shutdown.unwrap_or(ShutdownKind::Default),
            _ = term.recv() => { tracing::warn!("Received SIGTERM scheduling shutdown..."); ShutdownKind::Default }
            _ = int.recv() => { tracing::warn!("Received SIGINT scheduling shutdown..."); ShutdownKind::Default }
        };
        if node.state.lock().fatal.is_some() {
            std::process::exit(1);
        }
        if node.state.lock().shutdown.is_none() && !signal_shutdown_proceeds(node).await {
            continue;
        }
        picket_node::repl::wait_for_replicas(node).await;
        let mut st = node.state.lock();
        if kind == ShutdownKind::Default && picket_node::persistence::aof::writing_initial(&st) {
            tracing::warn!("Writing initial AOF, can't exit.");
            tracing::warn!(
                "Errors trying to shut down the server. Check the logs for more information."
            );
            continue;
        }
        if kind == ShutdownKind::Default && !st.config.get("save").trim().is_empty() {
            tracing::info!("Saving the final RDB snapshot before exiting.");
            if picket_node::persistence::save(&mut st).is_err() {
                tracing::warn!("Error trying to save the DB, can't exit.");
                tracing::warn!(
                    "Errors trying to shut down the server. Check the logs for more information."
                );
                continue;
            }
        }
        if st.aof.is_some() {
            picket_node::persistence::aof::stop(&mut st);
        }
        return;
    }
}

/// A signal's shutdown runs from the server's cron, as in Redis: while DEBUG PAUSE-CRON holds
/// the cron it waits, and SHUTDOWN ABORT can call it off (false).
async fn signal_shutdown_proceeds(node: &Node) -> bool {
    node.state.lock().signal_shutdown = true;
    loop {
        {
            let mut st = node.state.lock();
            if !st.signal_shutdown {
                return false;
            }
            if !st.cron_paused {
                st.signal_shutdown = false;
                return true;
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}

/// The start-up banner `always-show-logo yes` asks for (Picket's own, not Redis's art). Tools
/// and Redis's test harness read its ` PID: <pid>` and `Port: <port>`.
fn banner(port: u16) -> String {
    format!(
        "\n    Picket {} (Redis {} compatible), 64 bit\n    Running in standalone mode\n    Port: {port}\n    PID: {}\n",
        env!("CARGO_PKG_VERSION"),
        picket::REDIS_VERSION,
        std::process::id()
    )
}

fn main() {
    let cfg = load_config();
    picket_node::cmd::table::install(&cfg.renames);
    let spec = listen_spec(&cfg);
    let pidfile = cfg.get("pidfile").to_string();
    let daemonize = cfg.get_bool("daemonize");
    let exe = std::env::current_exe()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    // `io-threads` (default 1, as Redis) sets the runtime's worker threads.
    let threads = cfg.get_i64("io-threads").clamp(1, 128) as usize;
    // One thread (the default) runs every connection on the main thread, as Redis does: no
    // work-stealing queues or cross-thread wakeups on the hot path.
    let mut builder = if threads == 1 {
        tokio::runtime::Builder::new_current_thread()
    } else {
        let mut b = tokio::runtime::Builder::new_multi_thread();
        b.worker_threads(threads);
        b
    };
    let rt = builder.enable_all().build().unwrap_or_else(|e| {
        eprintln!("Can't start the runtime: {e}");
        std::process::exit(1);
    });
    rt.block_on(async move {
        tracing::info!(
            "oO0OoO0OoO0Oo Picket (Redis {} compatible) is starting oO0OoO0OoO0Oo",
            picket::REDIS_VERSION
        );
        tracing::info!(
            "Picket version={}, bits=64, pid={}, just started",
            env!("CARGO_PKG_VERSION"),
            std::process::id()
        );
        if daemonize {
            tracing::warn!(
                "daemonize yes is not supported: staying in the foreground (use a supervisor)"
            );
        }
        let listeners = bind_listeners(&spec).unwrap_or_else(|e| {
            tracing::warn!("{}", e);
            std::process::exit(1);
        });
        let write_pid = daemonize || pidfile != "/var/run/redis.pid";
        if write_pid && !pidfile.is_empty() {
            let _ = std::fs::write(&pidfile, format!("{}\n", std::process::id()));
        }
        if cfg.get_bool("always-show-logo") {
            tracing::info!("{}", banner(spec.port));
        }
        let metrics =
            picket::http::metrics_listener(cfg.get_i64("metrics-port"), cfg.get("metrics-bind"))
                .await;
        let node = Node::new(cfg, exe);
        if let Some(l) = metrics {
            tokio::spawn(picket::http::serve(
                l,
                picket_node::metrics::handler(node.clone()),
            ));
        }
        picket_node::busy_responder::BusyResponder::install(&node);
        tracing::info!("Server initialized");
        let executor: Arc<dyn Replay> = Arc::new(picket_node::cmd::Executor);
        load(&node, listeners, spec.tcp_keepalive, executor.clone()).await;
        tracing::info!("Ready to accept connections tcp");
        tokio::spawn(picket_node::cron::run(node.clone()));
        start_replication(&node);
        tokio::spawn(picket_node::repl::link::supervise(node.clone(), executor));
        shutdown(&node).await;
        if write_pid && !pidfile.is_empty() {
            tracing::info!("Removing the pid file.");
            let _ = std::fs::remove_file(&pidfile);
        }
        if let Some(p) = spec.unixsocket.clone() {
            let _ = std::fs::remove_file(p);
        }
        tracing::warn!("Redis is now ready to exit, bye bye...");
        std::process::exit(0);
    });
}
