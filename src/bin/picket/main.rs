//! `picket`: the operator's command. It starts and drives picket-node and picket-sentinel
//! processes (or redis-server and redis-sentinel) and speaks RESP to them.
//!
//! Module map:
//! - [`up`]: `picket up`, a local HA group in one command, supervised until Ctrl-C.
//! - [`group`]: a group's layout, its files in DIR, the programs it runs.
//! - [`procs`]: starting, watching and stopping the group's processes.
//! - [`events`]: the sentinels' event streams, merged and de-duplicated.
//! - [`status`]: the topology table. [`failover`]: a failover followed to its end.
//! - [`check`]: configuration file validation.
//! - [`resp`]: the small RESP client. [`term`]: colours, spinners, times.
//!
//! Exit codes: 0 success; 1 the operation failed (a failover aborted, a check found errors,
//! the group did not become healthy); 2 bad usage; 3 the environment stood in the way (no
//! sentinel answers, a binary is missing, a port is taken).

mod check;
mod events;
mod failover;
mod group;
mod procs;
mod resp;
mod status;
mod term;
mod up;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use resp::Addr;

#[derive(Parser)]
#[command(
    name = "picket",
    version,
    about = "Run and operate a Picket (Redis-compatible) high-availability group"
)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Start a local group (a master, its replicas, sentinels) and stream its events.
    Up(up::UpArgs),
    /// Show the topology: masters, replicas with their lag, sentinels and their view.
    Status(Target),
    /// Start a failover and follow it to +switch-master.
    Failover(FailoverArgs),
    /// Follow the events of every sentinel of a group, merged, with times.
    Events(Target),
    /// Validate node and sentinel configuration files (TOML or redis.conf syntax).
    Check(check::CheckArgs),
}

/// Which group to talk to: sentinels given, or the group `picket up` keeps in DIR.
#[derive(Args, Clone)]
pub struct Target {
    /// A sentinel's address (host:port); repeat for several. Default: the group in --dir.
    #[arg(long = "sentinel", value_name = "HOST:PORT")]
    sentinels: Vec<String>,
    /// The directory of a group started with `picket up`.
    #[arg(long, default_value = "picket-group")]
    dir: PathBuf,
    /// Machine-readable output (JSON).
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct FailoverArgs {
    /// The master's name, as the sentinels monitor it.
    name: String,
    /// Wait for the replica to have every acknowledged write before promoting it.
    #[arg(long)]
    coordinated: bool,
    #[command(flatten)]
    target: Target,
}

impl Target {
    /// The sentinels to ask, and the group directory when one is in use.
    pub fn resolve(&self) -> Result<(Vec<Addr>, Option<PathBuf>), Failure> {
        if !self.sentinels.is_empty() {
            let addrs = self
                .sentinels
                .iter()
                .map(|s| Addr::parse(s).map_err(Failure::usage))
                .collect::<Result<_, _>>()?;
            return Ok((addrs, None));
        }
        match group::Group::load(&self.dir)? {
            Some(g) => Ok((g.sentinel_addrs(), Some(self.dir.clone()))),
            None => Err(Failure::usage(format!(
                "no sentinels given and no group in {}: pass --sentinel HOST:PORT, or --dir DIR of a `picket up` group",
                self.dir.display()
            ))),
        }
    }
}

/// Why a command failed, and the exit code that says so.
#[derive(Debug)]
pub struct Failure {
    pub code: i32,
    pub message: String,
}

impl Failure {
    pub fn failed(m: impl Into<String>) -> Failure {
        Failure {
            code: 1,
            message: m.into(),
        }
    }
    pub fn usage(m: impl Into<String>) -> Failure {
        Failure {
            code: 2,
            message: m.into(),
        }
    }
    pub fn env(m: impl Into<String>) -> Failure {
        Failure {
            code: 3,
            message: m.into(),
        }
    }
    /// Nothing answers where the group should be.
    pub fn down(m: impl Into<String>) -> Failure {
        Failure::env(m)
    }
}

fn main() {
    let cli = Cli::parse();
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("picket: can't start: {e}");
            std::process::exit(3);
        }
    };
    let result = rt.block_on(async move {
        match cli.command {
            Cmd::Up(a) => up::run(a).await,
            Cmd::Status(t) => status_command(t).await,
            Cmd::Failover(f) => failover::run(&f.name, f.coordinated, &f.target).await,
            Cmd::Events(t) => events_command(t).await,
            Cmd::Check(c) => check::run(&c),
        }
    });
    if let Err(f) = result {
        eprintln!("picket: {}", f.message);
        std::process::exit(f.code);
    }
}

async fn status_command(t: Target) -> Result<(), Failure> {
    let (sentinels, dir) = t.resolve()?;
    let mut topo = status::collect(&sentinels).await?;
    if let Some(dir) = &dir {
        for m in &mut topo.masters {
            m.last_failover = status::last_failover(&dir.join(events::LOG_FILE), &m.name);
        }
    }
    if t.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&topo).unwrap_or_default()
        );
    } else {
        print!("{}", status::render(&topo, term::Style::detect()));
    }
    Ok(())
}

async fn events_command(t: Target) -> Result<(), Failure> {
    let (sentinels, _) = t.resolve()?;
    let style = term::Style::detect();
    let mut rx = events::listen(&sentinels);
    let mut dedup = events::Dedup::default();
    let mut shutdown = up::Shutdown::new()?;
    loop {
        let report = tokio::select! {
            r = rx.recv() => r,
            _ = shutdown.wait() => return Ok(()),
        };
        match report {
            Some(events::Report::Event(e)) if dedup.first(&e, std::time::Instant::now()) => {
                if t.json {
                    println!("{}", e.json());
                } else {
                    println!("{}", e.line(style));
                }
            }
            Some(events::Report::Lost(a, why)) if !t.json => {
                eprintln!(
                    "{}",
                    style.dim(&format!("lost sentinel {a} ({why}); reconnecting"))
                );
            }
            Some(events::Report::Subscribed(a)) if !t.json => {
                eprintln!("{}", style.dim(&format!("following sentinel {a}")));
            }
            Some(_) => {}
            None => return Ok(()),
        }
    }
}
