//! `picket-sentinel <sentinel.conf> [--port N ...]`: a Redis-Sentinel-compatible supervisor.
//! As redis-sentinel, it needs a writable config file to keep its state.

use parking_lot::Mutex;
use picket::config::parse_cli_args;
use picket::pubsub::PubSub;
use picket::server::{
    bind_listeners, run_listeners, ClientRegistry, ListenSpec, NetStats, OutputLimit,
};
use picket_sentinel::config::Loaded;
use picket_sentinel::core::{Level, Who};
use picket_sentinel::state::{SentinelNode, SentinelState};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Exits with `msg` on standard error, as redis-sentinel refuses to start.
fn refuse(msg: impl std::fmt::Display) -> ! {
    eprintln!("{msg}");
    std::process::exit(1);
}

/// The file that keeps the state must be writable, as Redis checks (with a `state-file`, the
/// configuration itself may be read-only).
fn check_writable(path: &Path, create: bool) {
    let open = std::fs::OpenOptions::new()
        .create(create)
        .append(true)
        .open(path);
    if let Err(e) = open {
        refuse(format!(
            "Sentinel config file {} is not writable: {e}. Exiting...",
            path.display()
        ));
    }
}

/// Reads the configuration file and the command line, and applies `dir` and the logging.
fn load_config() -> (PathBuf, Loaded) {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    // `--check-config`: load and validate everything, report, and exit (`picket check`).
    let check_only = args.iter().any(|a| a == "--check-config");
    args.retain(|a| a != "--check-config");
    let cli = parse_cli_args(&args);
    if cli.version {
        println!(
            "Redis server v={} sha=00000000:0 malloc=libc bits=64 build=picket-sentinel-{}",
            picket::REDIS_VERSION,
            env!("CARGO_PKG_VERSION")
        );
        std::process::exit(0);
    }
    let Some(path) = cli.config_file.clone() else {
        refuse("Sentinel needs config file on disk to save state.  Exiting...");
    };
    let path = std::fs::canonicalize(&path).unwrap_or(path);
    check_writable(&path, false);
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(1)
        ^ std::process::id() as u64;
    let loaded =
        picket_sentinel::config::load(&path, &cli.directives, seed).unwrap_or_else(|e| refuse(e));
    check_writable(&loaded.state_path, !loaded.state_path.exists());
    let cfg = &loaded.cfg;
    if let Err(e) = std::env::set_current_dir(cfg.get("dir")) {
        refuse(format!("Can't chdir to '{}': {e}", cfg.get("dir")));
    }
    if check_only {
        println!("configuration OK");
        std::process::exit(0);
    }
    picket::logging::set_role_char(b'X');
    if let Err(e) = picket::logging::init(
        cfg.get("loglevel"),
        cfg.get("logfile"),
        cfg.get("log-format") == "json",
    ) {
        refuse(e);
    }
    (path, loaded)
}

/// The sentinel's shared part, from its configuration.
fn sentinel_node(
    path: PathBuf,
    loaded: Loaded,
    events: tokio::sync::mpsc::UnboundedSender<picket_sentinel::core::Input>,
) -> Arc<SentinelNode> {
    let (cfg, core, state_path) = (loaded.cfg, loaded.core, loaded.state_path);
    let requirepass = Some(cfg.get("requirepass").to_string()).filter(|s| !s.is_empty());
    let port = core.globals.port;
    let state = SentinelState {
        core,
        pubsub: PubSub::new(),
        links: HashMap::new(),
        config_path: path,
        state_path,
        config: cfg,
        scripts: Default::default(),
        run_id: picket::random_hex_id(),
        pause: Default::default(),
        history: Default::default(),
    };
    Arc::new(SentinelNode {
        state: Mutex::new(state),
        registry: ClientRegistry::new(),
        net: NetStats::default(),
        started: Instant::now(),
        events,
        obuf_pubsub: OutputLimit {
            hard: 32 << 20,
            soft: 8 << 20,
            soft_seconds: 60,
        },
        acl: parking_lot::RwLock::new(picket::acl::Users::new(requirepass.as_deref())),
        shutdown: tokio::sync::Notify::new(),
        port,
        pause_notify: Arc::new(tokio::sync::Notify::new()),
        exit_code: std::sync::atomic::AtomicI32::new(-1),
    })
}

/// A new id is saved at once; every monitored master gets its `+monitor` event.
fn announce(node: &SentinelNode, new_id: bool) {
    let mut st = node.state.lock();
    if new_id {
        if let Err(e) = picket_sentinel::config::flush(&mut st) {
            tracing::warn!(
                "WARNING: Sentinel was not able to save the new configuration on disk!!!: {}",
                e
            );
        }
    }
    tracing::info!("Sentinel ID is {}", st.core.myid);
    let names: Vec<String> = st.core.masters.keys().cloned().collect();
    for n in names {
        let q = st.core.masters[&n].quorum;
        st.core.event(
            Level::Warning,
            "+monitor",
            &n,
            &Who::Master,
            &format!(" quorum {q}"),
        );
    }
    let actions = st.core.take_actions();
    let _ = picket_sentinel::runtime::dispatch(node, &mut st, actions);
}

/// Until SHUTDOWN, SIGTERM or SIGINT.
async fn wait_for_shutdown(node: &SentinelNode) {
    node.shutdown.notified().await;
}

/// SIGTERM and SIGINT are taken on a thread of their own, with its own small runtime, so
/// the sentinel exits at once even when the main runtime's workers are busy (a slow fsync of
/// the configuration under the lock): a sentinel has nothing to save on the way out, and its
/// configuration is only ever replaced whole.
fn exit_on_signals() {
    let spawned = std::thread::Builder::new()
        .name("signals".into())
        .spawn(|| {
            use tokio::signal::unix::{signal, SignalKind};
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap_or_else(|e| refuse(format!("Can't start the signal runtime: {e}")));
            rt.block_on(async {
                let (Ok(mut term), Ok(mut int)) = (
                    signal(SignalKind::terminate()),
                    signal(SignalKind::interrupt()),
                ) else {
                    refuse("Can't install the signal handlers");
                };
                tokio::select! {
                    _ = term.recv() => tracing::warn!("Received SIGTERM scheduling shutdown..."),
                    _ = int.recv() => tracing::warn!("Received SIGINT scheduling shutdown..."),
                }
                tracing::warn!("Sentinel is now ready to exit, bye bye...");
                std::process::exit(0);
            })
        });
    if let Err(e) = spawned {
        refuse(format!("Can't start the signal thread: {e}"));
    }
}

fn main() {
    let (path, mut loaded) = load_config();
    let new_id = loaded.core.myid.is_empty();
    if new_id {
        loaded.core.myid = picket::random_hex_id();
    }
    let cfg = &loaded.cfg;
    let port = cfg.get_i64("port") as u16;
    loaded.core.globals.port = port;
    let spec = ListenSpec {
        bind: cfg
            .get("bind")
            .split_whitespace()
            .map(String::from)
            .collect(),
        port,
        unixsocket: None,
        unixsocketperm: 0,
        tcp_keepalive: Duration::from_secs(cfg.get_i64("tcp-keepalive") as u64),
        backlog: 511,
    };
    let metrics = (
        cfg.get_i64("metrics-port"),
        cfg.get("metrics-bind").to_string(),
    );
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap_or_else(|e| refuse(format!("Can't start the runtime: {e}")));
    exit_on_signals();
    rt.block_on(async move {
        let listeners = bind_listeners(&spec).unwrap_or_else(|e| {
            tracing::warn!("{}", e);
            std::process::exit(1);
        });
        let metrics = picket::http::metrics_listener(metrics.0, &metrics.1).await;
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let node = sentinel_node(path, loaded, tx);
        if let Some(l) = metrics {
            let handler = picket_sentinel::status_page::handler(node.clone());
            tokio::spawn(picket::http::serve(l, handler));
        }
        tracing::info!(
            "Sentinel (Picket {}) starting on port {}",
            env!("CARGO_PKG_VERSION"),
            port
        );
        announce(&node, new_id);
        tokio::spawn(picket_sentinel::runtime::drive(node.clone(), rx));
        tokio::spawn(run_listeners(
            node.clone(),
            listeners,
            spec.tcp_keepalive,
            None,
        ));
        wait_for_shutdown(&node).await;
        if let Some(code) = node.exit_code() {
            std::process::exit(code);
        }
        tracing::warn!("Sentinel is now ready to exit, bye bye...");
        std::process::exit(0);
    });
}
