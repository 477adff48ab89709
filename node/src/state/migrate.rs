//! MIGRATE's cached connections, as Redis keeps them: one per `host:port`, with the database
//! last selected on it, closed after 10 s unused, at most 64 (a random one goes to make
//! room). INFO's `migrate_cached_sockets` counts them.

use std::collections::HashMap;
use std::io::BufReader;
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// A cached connection is closed after this long unused.
pub const IDLE: Duration = Duration::from_secs(10);
/// At most this many connections are cached.
pub const MAX_CACHED: usize = 64;

/// One cached connection.
#[derive(Debug)]
pub struct Cached {
    /// Replies are read through the buffer; requests are written to the stream beneath it.
    pub conn: BufReader<TcpStream>,
    /// The database last selected on it (-1: unknown, SELECT is sent).
    pub last_db: i64,
    pub last_use: Instant,
}

#[derive(Debug, Default)]
pub struct MigrateSockets {
    cached: HashMap<String, Cached>,
}

impl MigrateSockets {
    pub fn len(&self) -> usize {
        self.cached.len()
    }

    pub fn is_empty(&self) -> bool {
        self.cached.is_empty()
    }

    /// The cached connection to `name`, marked used now.
    pub fn get(&mut self, name: &str) -> Option<&mut Cached> {
        let c = self.cached.get_mut(name)?;
        c.last_use = Instant::now();
        Some(c)
    }

    /// Caches a new connection to `name` (making room if the cache is full).
    pub fn insert(&mut self, name: String, stream: TcpStream) -> &mut Cached {
        if self.cached.len() >= MAX_CACHED {
            if let Some(victim) = self.cached.keys().next().cloned() {
                self.cached.remove(&victim);
            }
        }
        self.cached.entry(name).or_insert(Cached {
            conn: BufReader::new(stream),
            last_db: -1,
            last_use: Instant::now(),
        })
    }

    pub fn close(&mut self, name: &str) {
        self.cached.remove(name);
    }

    /// The cron: closes the connections unused for longer than [`IDLE`].
    pub fn close_idle(&mut self, now: Instant) {
        self.cached
            .retain(|_, c| now.duration_since(c.last_use) <= IDLE);
    }
}
