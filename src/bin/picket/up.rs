//! `picket up`: a local HA group in one command. It lays the group out in DIR (or resumes the
//! one there), starts the nodes and sentinels, waits until every sentinel sees every replica
//! and every other sentinel, prints the topology and what to give a client, then streams the
//! sentinels' events while it supervises the processes: one that dies is started again (a
//! dead master only once the sentinels have failed over, so it comes back as a replica).
//! Ctrl-C or SIGTERM stops them all.

use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime};

use clap::Args;
use tokio::signal::unix::{signal, Signal, SignalKind};

use crate::events::{append_log, listen, switched_to, Dedup, Event, Report, LOG_FILE};
use crate::group::{Binaries, Group, Kind, Role};
use crate::procs::Supervisor;
use crate::resp::{field, fields, items, Addr, Conn};
use crate::term::{spinner, Style};
use crate::{status, Failure};

#[derive(Args)]
pub struct UpArgs {
    /// Data nodes: one master and its replicas.
    #[arg(long, default_value_t = 3)]
    nodes: u16,
    /// Sentinels monitoring the master as `mymaster` (quorum: a majority of them).
    #[arg(long, default_value_t = 3)]
    sentinels: u16,
    /// Where the group keeps its files [default: picket-group, or redis-group with --with-redis].
    #[arg(long)]
    dir: Option<PathBuf>,
    /// First node port; sentinels start 100 above [default: 7000, or 8000 with --with-redis].
    #[arg(long)]
    base_port: Option<u16>,
    /// Milliseconds without a valid reply before a sentinel thinks a node is down.
    #[arg(long, default_value_t = 5000)]
    down_after: u64,
    /// Fencing mode (docs/fencing.md): a write is acknowledged once this many replicas have
    /// it, and no acknowledged write is lost in a failover. `--fencing` alone means 1.
    #[arg(long, num_args = 0..=1, default_missing_value = "1", value_name = "ACKS")]
    fencing: Option<u32>,
    /// Run redis-server and redis-sentinel instead, to watch the two side by side.
    #[arg(long)]
    with_redis: bool,
    /// Print the topology and the events as JSON lines.
    #[arg(long)]
    json: bool,
}

/// How long the group may take to become healthy.
const HEALTHY_WITHIN: Duration = Duration::from_secs(60);

pub async fn run(a: UpArgs) -> Result<(), Failure> {
    let kind = if a.with_redis {
        Kind::Redis
    } else {
        Kind::Picket
    };
    let dir = a.dir.clone().unwrap_or_else(|| match kind {
        Kind::Picket => "picket-group".into(),
        Kind::Redis => "redis-group".into(),
    });
    let style = Style::detect();
    // A stored group runs with the programs it was made with, whatever --with-redis says.
    let (group, resumed) = match Group::load(&dir)? {
        Some(g) => (g, true),
        None => {
            let base = a
                .base_port
                .unwrap_or(if kind == Kind::Redis { 8000 } else { 7000 });
            let mut g = Group::plan(kind, a.nodes, a.sentinels, base, a.down_after)?;
            g.fencing = a.fencing.unwrap_or(0);
            if g.fencing > 0 && (kind == Kind::Redis || u32::from(a.nodes) <= g.fencing) {
                return Err(Failure::usage(
                    "--fencing needs Picket's programs (not --with-redis) and more nodes than ACKS (the master plus ACKS replicas)",
                ));
            }
            (g, false)
        }
    };
    let bins = Binaries::find(group.kind)?;
    let mut sup = Supervisor::new(&group, &dir, bins);
    sup.check_free()?;
    if resumed {
        note(
            a.json,
            style,
            &format!(
                "resuming the group of {} in {} (its own files; layout flags are ignored)",
                group.kind.label(),
                dir.display()
            ),
        );
    } else {
        group.create(&dir)?;
    }
    let mut shutdown = Shutdown::new()?;
    let ready = tokio::select! {
        r = start_all(&group, &mut sup) => r,
        _ = shutdown.wait() => Err(Failure::failed("interrupted")),
    };
    if let Err(e) = ready {
        sup.stop_all(Duration::from_secs(10));
        return Err(e);
    }
    announce(&group, &dir, a.json, style).await;
    supervise(&group, &dir, &mut sup, &mut shutdown, a.json, style).await;
    let bar = spinner("stopping the sentinels, then the nodes");
    sup.stop_all(Duration::from_secs(20));
    bar.finish_and_clear();
    note(
        a.json,
        style,
        &format!(
            "stopped; the data stays in {} (`picket up --dir {}` resumes it)",
            dir.display(),
            dir.display()
        ),
    );
    Ok(())
}

/// Starts the nodes, then (once every node answers PING, so no sentinel takes a node that is
/// still loading for a dead one) the sentinels, and waits for the sentinels' full view; on
/// failure says what is missing and what the processes logged.
async fn start_all(group: &Group, sup: &mut Supervisor) -> Result<(), Failure> {
    let bar = spinner(format!(
        "starting {} nodes and {} sentinels ({})",
        group.nodes.len(),
        group.sentinels.len(),
        group.kind.label()
    ));
    let deadline = Instant::now() + HEALTHY_WITHIN;
    let nodes: Vec<usize> = (0..sup.members.len())
        .filter(|i| sup.members[*i].role == Role::Node)
        .collect();
    for i in &nodes {
        sup.start(*i)?;
    }
    let mut missing = String::from("nothing answered yet");
    let mut sentinels_started = false;
    while Instant::now() < deadline {
        if !sentinels_started {
            match nodes_answer(group).await {
                Ok(()) => {
                    for i in (0..sup.members.len()).filter(|i| !nodes.contains(i)) {
                        sup.start(i)?;
                    }
                    sentinels_started = true;
                }
                Err(m) => missing = m,
            }
        }
        if let Some((i, how)) = sup.reap().into_iter().next() {
            bar.finish_and_clear();
            let m = &sup.members[i];
            return Err(Failure::failed(format!(
                "{} {how} while starting; its log ({}) ends with:\n{}",
                m.name(),
                m.log_file().display(),
                m.log_tail(15)
            )));
        }
        match if sentinels_started {
            health(group).await
        } else {
            Err(missing.clone())
        } {
            Ok(()) => {
                bar.finish_and_clear();
                return Ok(());
            }
            Err(m) => {
                bar.set_message(format!("waiting: {m}"));
                missing = m;
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    bar.finish_and_clear();
    let logs: Vec<String> = sup
        .members
        .iter()
        .map(|m| {
            format!(
                "--- {} ({}):\n{}",
                m.name(),
                m.log_file().display(),
                m.log_tail(5)
            )
        })
        .collect();
    Err(Failure::failed(format!(
        "the group was not healthy within {} s: {missing}\n{}",
        HEALTHY_WITHIN.as_secs(),
        logs.join("\n")
    )))
}

/// `Ok` once every node answers PING with PONG (not -LOADING).
async fn nodes_answer(group: &Group) -> Result<(), String> {
    for port in &group.nodes {
        let addr = Addr::local(*port);
        let mut c = Conn::connect(&addr)
            .await
            .map_err(|_| format!("node {addr} is not answering yet"))?;
        c.cmd(&["PING"])
            .await
            .map_err(|e| format!("node {addr}: {e}"))?;
    }
    Ok(())
}

/// `Ok` once every sentinel sees the master, every replica linked, and every other sentinel.
pub async fn health(group: &Group) -> Result<(), String> {
    let name = &group.master_name;
    let want_replicas = group.nodes.len() - 1;
    let want_sentinels = group.sentinels.len() - 1;
    for addr in group.sentinel_addrs() {
        let mut c = Conn::connect(&addr)
            .await
            .map_err(|_| format!("sentinel {addr} is not answering yet"))?;
        let m = fields(
            &c.cmd(&["SENTINEL", "MASTER", name])
                .await
                .map_err(|e| format!("sentinel {addr}: {e}"))?,
        );
        if field(&m, "flags") != "master" {
            return Err(format!(
                "sentinel {addr} sees the master as {}",
                field(&m, "flags")
            ));
        }
        let replicas = c
            .cmd(&["SENTINEL", "REPLICAS", name])
            .await
            .map_err(|e| format!("sentinel {addr}: {e}"))?;
        let linked = items(&replicas)
            .iter()
            .map(fields)
            .filter(|r| field(r, "flags") == "slave" && field(r, "master-link-status") == "ok")
            .count();
        if linked < want_replicas {
            return Err(format!(
                "sentinel {addr} sees {linked} of {want_replicas} replicas linked"
            ));
        }
        let others: usize = field(&m, "num-other-sentinels").parse().unwrap_or(0);
        if others < want_sentinels {
            return Err(format!(
                "sentinel {addr} knows {others} of {want_sentinels} other sentinels"
            ));
        }
    }
    Ok(())
}

async fn announce(group: &Group, dir: &std::path::Path, json: bool, style: Style) {
    let sentinels = group.sentinel_addrs();
    let list: Vec<String> = sentinels.iter().map(|a| a.to_string()).collect();
    let topo = status::collect(&sentinels).await.ok();
    if json {
        let master = topo
            .as_ref()
            .and_then(|t| t.masters.first())
            .map(|m| m.addr.to_string());
        println!(
            "{}",
            serde_json::json!({"event": "ready", "master_name": group.master_name, "master": master,
                "sentinels": list, "dir": dir.display().to_string(), "kind": group.kind,
                "status_page": group.status_page()})
        );
        return;
    }
    println!(
        "\n{} {} ({}), files in {}\n",
        style.green("up:"),
        style.bold(&group.master_name),
        group.kind.label(),
        dir.display()
    );
    if let Some(t) = &topo {
        print!("{}", status::render(t, style));
    }
    let py: Vec<String> = sentinels
        .iter()
        .map(|a| format!("(\"{}\", {})", a.host, a.port))
        .collect();
    println!(
        "\nClients connect through the sentinels ({}) with the master name {}:\n  redis-cli -p {} SENTINEL get-master-addr-by-name {}\n  python3 -c 'from redis.sentinel import Sentinel; m = Sentinel([{}]).master_for(\"{}\"); m.set(\"k\", \"v\"); print(m.get(\"k\"))'\n",
        list.join(", "),
        group.master_name,
        sentinels[0].port,
        group.master_name,
        py.join(", "),
        group.master_name
    );
    if let Some(page) = group.status_page() {
        println!(
            "Status page: {page}   Metrics: {page}metrics (sentinels), http://127.0.0.1:{}/metrics (nodes; each node's port + {})\n",
            group.nodes[0] + crate::group::METRICS_OFFSET,
            crate::group::METRICS_OFFSET
        );
    }
    println!(
        "{}\n",
        style.dim("Events follow. Ctrl-C stops the group (its data stays; run the same command to resume).")
    );
}

/// A member that died and when it may start again.
struct Restart {
    index: usize,
    not_before: Instant,
    /// It was the master: wait for the sentinels to move the master elsewhere first (or
    /// until `deadline`, when they cannot).
    after_switch: bool,
    deadline: Instant,
}

impl Restart {
    fn due(&self, now: Instant) -> bool {
        now >= self.not_before && (!self.after_switch || now >= self.deadline)
    }
}

/// Says that member `i` died and plans its restart.
#[allow(clippy::too_many_arguments)]
fn died(
    group: &Group,
    sup: &Supervisor,
    i: usize,
    how: &str,
    master: Option<&Addr>,
    log: &std::path::Path,
    json: bool,
    style: Style,
) -> Restart {
    let m = &sup.members[i];
    let was_master = m.role == Role::Node && master.is_some_and(|a| a.port == m.port);
    let what = if was_master {
        format!("{} {how}; it was the master: once the sentinels fail over it starts again, as a replica", m.name())
    } else {
        format!("{} {how}; starting it again in 1 s", m.name())
    };
    say(log, &what, json, style);
    let now = Instant::now();
    Restart {
        index: i,
        not_before: now + Duration::from_secs(1),
        after_switch: was_master,
        deadline: now + Duration::from_millis(group.down_after_ms * 4 + 15_000),
    }
}

async fn supervise(
    group: &Group,
    dir: &std::path::Path,
    sup: &mut Supervisor,
    shutdown: &mut Shutdown,
    json: bool,
    style: Style,
) {
    let log = dir.join(LOG_FILE);
    let mut rx = listen(&group.sentinel_addrs());
    let mut dedup = Dedup::default();
    let mut master = status::collect(&group.sentinel_addrs())
        .await
        .ok()
        .and_then(|t| t.masters.into_iter().next().map(|m| m.addr));
    let mut restarts: Vec<Restart> = Vec::new();
    let mut tick = tokio::time::interval(Duration::from_millis(200));
    loop {
        tokio::select! {
            r = rx.recv() => match r {
                Some(Report::Event(e)) if dedup.first(&e, Instant::now()) => {
                    append_log(&log, &e);
                    if let Some(new) = switched_to(&e, &group.master_name) {
                        master = Some(new);
                        restarts.iter_mut().for_each(|r| r.after_switch = false);
                    }
                    show(&e, json, style);
                }
                Some(_) => {}
                None => return,
            },
            _ = tick.tick() => {
                for (i, how) in sup.reap() {
                    let r = died(group, sup, i, &how, master.as_ref(), &log, json, style);
                    restarts.push(r);
                }
                let now = Instant::now();
                let (due, later): (Vec<_>, Vec<_>) = restarts.drain(..).partition(|r| r.due(now));
                restarts = later;
                for r in due {
                    let name = sup.members[r.index].name();
                    match sup.start(r.index) {
                        Ok(()) => say(&log, &format!("{name} started again"), json, style),
                        Err(e) => say(&log, &format!("{name} could not start again: {}", e.message), json, style),
                    }
                }
            }
            _ = shutdown.wait() => return,
        }
    }
}

fn show(e: &Event, json: bool, style: Style) {
    if json {
        println!("{}", e.json());
    } else {
        println!("{}", e.line(style));
    }
}

/// A line of `picket up`'s own (a process died or started), in the stream and the log.
fn say(log: &std::path::Path, what: &str, json: bool, style: Style) {
    let e = Event {
        at: SystemTime::now(),
        source: Addr::local(0),
        channel: "picket".into(),
        message: what.into(),
    };
    append_log(log, &e);
    if json {
        println!("{}", e.json());
    } else {
        println!(
            "{}  {}",
            style.dim(&crate::term::clock(e.at)),
            style.cyan(what)
        );
    }
}

fn note(json: bool, style: Style, what: &str) {
    if json {
        println!(
            "{}",
            serde_json::json!({"event": "picket", "message": what})
        );
    } else {
        eprintln!("{}", style.dim(what));
    }
}

/// SIGINT and SIGTERM, registered once so none is lost between waits.
pub struct Shutdown {
    int: Signal,
    term: Signal,
}

impl Shutdown {
    pub fn new() -> Result<Shutdown, Failure> {
        let reg = |k| signal(k).map_err(|e| Failure::env(format!("signal handlers: {e}")));
        Ok(Shutdown {
            int: reg(SignalKind::interrupt())?,
            term: reg(SignalKind::terminate())?,
        })
    }

    pub async fn wait(&mut self) {
        tokio::select! {
            _ = self.int.recv() => {}
            _ = self.term.recv() => {}
        }
    }
}
