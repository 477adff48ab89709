//! `picket-sentinel <sentinel.conf> [--port N ...]`: a Redis-Sentinel-compatible supervisor.
//! As redis-sentinel, it needs a writable config file to keep its state.

use parking_lot::Mutex;
use picket::config::parse_cli_args;
use picket::pubsub::PubSub;
use picket::server::{
    bind_listeners, run_listeners, ClientRegistry, ListenSpec, NetStats, OutputLimit,
};
use picket_sentinel::state::{SentinelNode, SentinelState};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let cli = parse_cli_args(&args);
    if cli.version {
        println!(
            "Redis server v={} sha=00000000:0 malloc=libc bits=64 build=picket-sentinel-{}",
            picket::REDIS_VERSION,
            env!("CARGO_PKG_VERSION")
        );
        return;
    }
    let Some(path) = cli.config_file.clone() else {
        eprintln!("Sentinel needs config file on disk to save state.  Exiting...");
        std::process::exit(1);
    };
    let path = std::fs::canonicalize(&path).unwrap_or(path);
    if let Err(e) = std::fs::OpenOptions::new().append(true).open(&path) {
        eprintln!(
            "Sentinel config file {} is not writable: {}. Exiting...",
            path.display(),
            e
        );
        std::process::exit(1);
    }
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(1)
        ^ std::process::id() as u64;
    let loaded = match picket_sentinel::config::load(&path, &cli.directives, seed) {
        Ok(x) => x,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    };
    let (cfg, mut core, state_path) = (loaded.cfg, loaded.core, loaded.state_path);
    // As Redis: the file that keeps the state must be writable (with a state-file, the
    // configuration itself may be read-only).
    let writable = if state_path.exists() {
        std::fs::OpenOptions::new()
            .append(true)
            .open(&state_path)
            .map(|_| ())
    } else {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&state_path)
            .map(|_| ())
    };
    if let Err(e) = writable {
        eprintln!(
            "Sentinel config file {} is not writable: {}. Exiting...",
            state_path.display(),
            e
        );
        std::process::exit(1);
    }
    if let Err(e) = std::env::set_current_dir(cfg.get("dir")) {
        eprintln!("Can't chdir to '{}': {}", cfg.get("dir"), e);
        std::process::exit(1);
    }
    picket::logging::set_role_char(b'X');
    if let Err(e) = picket::logging::init(
        cfg.get("loglevel"),
        cfg.get("logfile"),
        cfg.get("log-format") == "json",
    ) {
        eprintln!("{e}");
        std::process::exit(1);
    }
    let new_id = core.myid.is_empty();
    if new_id {
        core.myid = picket::random_hex_id();
    }
    let port = cfg.get_i64("port") as u16;
    core.globals.port = port;
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
    let requirepass = Some(cfg.get("requirepass").to_string()).filter(|s| !s.is_empty());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("tokio runtime");
    rt.block_on(async move {
        let listeners = match bind_listeners(&spec) {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!("{}", e);
                std::process::exit(1);
            }
        };
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let node = Arc::new(SentinelNode {
            state: Mutex::new(SentinelState { core, pubsub: PubSub::new(), links: HashMap::new(), config_path: path.clone(), state_path: state_path.clone(), config: cfg, scripts: Default::default(), run_id: picket::random_hex_id(), pause: Default::default() }),
            registry: ClientRegistry::new(),
            net: NetStats::default(),
            started: Instant::now(),
            events: tx,
            obuf_pubsub: OutputLimit { hard: 32 << 20, soft: 8 << 20, soft_seconds: 60 },
            requirepass,
            shutdown: tokio::sync::Notify::new(),
            port,
            pause_notify: Arc::new(tokio::sync::Notify::new()),
        });
        tracing::info!("Sentinel (Picket {}) starting on port {}", env!("CARGO_PKG_VERSION"), port);
        {
            let mut st = node.state.lock();
            if new_id {
                if let Err(e) = picket_sentinel::config::flush(&mut st) {
                    tracing::warn!("WARNING: Sentinel was not able to save the new configuration on disk!!!: {}", e);
                }
            }
            tracing::info!("Sentinel ID is {}", st.core.myid);
            let names: Vec<String> = st.core.masters.keys().cloned().collect();
            for n in names {
                let q = st.core.masters[&n].quorum;
                st.core.event(picket_sentinel::core::Level::Warning, "+monitor", &n, &picket_sentinel::core::Who::Master, &format!(" quorum {q}"));
            }
            let actions = st.core.take_actions();
            picket_sentinel::runtime::dispatch(&node, &mut st, actions);
        }
        tokio::spawn(picket_sentinel::runtime::drive(node.clone(), rx));
        tokio::spawn(run_listeners(node.clone(), listeners, spec.tcp_keepalive));
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("signal handler");
        let mut int = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt()).expect("signal handler");
        tokio::select! {
            _ = node.shutdown.notified() => {}
            _ = term.recv() => tracing::warn!("Received SIGTERM scheduling shutdown..."),
            _ = int.recv() => tracing::warn!("Received SIGINT scheduling shutdown..."),
        }
        tracing::warn!("Sentinel is now ready to exit, bye bye...");
        std::process::exit(0);
    });
}
