//! A script's run as other clients see it. The running script holds the node's state; past
//! `busy-reply-threshold` the VM's hook marks it busy, and connections that find it so answer
//! `-BUSY` without waiting for the state, and take SCRIPT KILL / FUNCTION KILL, which the
//! hook honours at its next check.
//!
//! The script runs on the thread that serves the connections, so nothing else is served
//! while it runs. Past the threshold a [`Responder`] handed in from above (the server's
//! busy responder) answers the other clients until the script ends.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

/// Answers other clients while a script is busy: started when the script passes the
/// threshold, stopped (and done with every socket) before the script's caller goes on.
pub trait Responder: Send + Sync {
    /// Starts answering every client but `running_client` (the script's own).
    fn start(&self, running_client: u64);
    /// Stops answering; returns once nothing more is read or written.
    fn stop(&self);
}

pub struct Busy {
    epoch: Instant,
    /// Start of the running script, in ms since `epoch` + 1 (0: none running).
    started: AtomicU64,
    /// `busy-reply-threshold` in ms (0: never busy).
    pub threshold_ms: AtomicU64,
    busy: AtomicBool,
    kill: AtomicBool,
    /// The running script has written (SCRIPT KILL then answers -UNKILLABLE).
    wrote: AtomicBool,
    /// The running script is a function (FCALL), not EVAL.
    function: AtomicBool,
    /// The client running the script.
    client: AtomicU64,
    responder: OnceLock<Arc<dyn Responder>>,
    responding: AtomicBool,
    /// The running function (FUNCTION STATS while busy): its name, its FCALL, and the
    /// library and function counts.
    function_call: parking_lot::Mutex<Option<FunctionCall>>,
}

/// What FUNCTION STATS shows of a running function.
#[derive(Debug, Clone)]
pub struct FunctionCall {
    pub name: String,
    pub argv: Vec<bytes::Bytes>,
    pub libraries: usize,
    pub functions: usize,
}

impl std::fmt::Debug for Busy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Busy")
            .field("running", &self.running())
            .field("busy", &self.is_busy())
            .finish()
    }
}

impl Default for Busy {
    fn default() -> Self {
        Busy {
            epoch: Instant::now(),
            started: AtomicU64::new(0),
            threshold_ms: AtomicU64::new(5000),
            busy: AtomicBool::new(false),
            kill: AtomicBool::new(false),
            wrote: AtomicBool::new(false),
            function: AtomicBool::new(false),
            client: AtomicU64::new(0),
            responder: OnceLock::new(),
            responding: AtomicBool::new(false),
            function_call: parking_lot::Mutex::new(None),
        }
    }
}

/// What SCRIPT KILL / FUNCTION KILL found.
#[derive(Debug, PartialEq, Eq)]
pub enum KillResult {
    Killed,
    NotBusy,
    Unkillable,
    /// SCRIPT KILL while a function runs, or FUNCTION KILL while EVAL runs.
    WrongKind,
}

impl Busy {
    fn now_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64 + 1
    }

    pub fn start(&self, function: bool) {
        self.kill.store(false, Ordering::SeqCst);
        self.wrote.store(false, Ordering::SeqCst);
        self.function.store(function, Ordering::SeqCst);
        self.started.store(self.now_ms(), Ordering::SeqCst);
    }

    /// Hands in what answers other clients while a script is busy (once, at start-up).
    pub fn set_responder(&self, r: Arc<dyn Responder>) {
        let _ = self.responder.set(r);
    }

    /// The client about to run a script (the responder leaves it alone).
    pub fn set_client(&self, id: u64) {
        self.client.store(id, Ordering::Relaxed);
    }

    /// The function about to run, for FUNCTION STATS while it is busy.
    pub fn set_function(
        &self,
        name: &str,
        argv: &[bytes::Bytes],
        (libraries, functions): (usize, usize),
    ) {
        *self.function_call.lock() = Some(FunctionCall {
            name: name.to_string(),
            argv: argv.to_vec(),
            libraries,
            functions,
        });
    }

    /// The running function, while a function runs.
    pub fn function_call(&self) -> Option<FunctionCall> {
        if self.is_function() && self.running() {
            self.function_call.lock().clone()
        } else {
            None
        }
    }

    pub fn finish(&self) {
        if self.responding.swap(false, Ordering::SeqCst) {
            if let Some(r) = self.responder.get() {
                r.stop();
            }
        }
        self.started.store(0, Ordering::SeqCst);
        self.busy.store(false, Ordering::SeqCst);
        self.kill.store(false, Ordering::SeqCst);
    }

    pub fn running(&self) -> bool {
        self.started.load(Ordering::SeqCst) != 0
    }

    /// ms the running script has run.
    pub fn elapsed_ms(&self) -> u64 {
        match self.started.load(Ordering::SeqCst) {
            0 => 0,
            s => self.now_ms().saturating_sub(s),
        }
    }

    pub fn set_wrote(&self) {
        self.wrote.store(true, Ordering::SeqCst);
    }

    /// Called from the VM's hook: marks the script busy past the threshold; true when it is
    /// to be killed.
    pub fn check(&self) -> bool {
        let t = self.threshold_ms.load(Ordering::Relaxed);
        if t > 0 && !self.busy.load(Ordering::Relaxed) && self.elapsed_ms() >= t {
            self.busy.store(true, Ordering::SeqCst);
            tracing::warn!(
                "Slow script detected: still in execution after {} milliseconds. You can try killing the script using the {} command.",
                self.elapsed_ms(),
                if self.is_function() { "FUNCTION KILL" } else { "SCRIPT KILL" }
            );
            if let Some(r) = self.responder.get() {
                self.responding.store(true, Ordering::SeqCst);
                r.start(self.client.load(Ordering::Relaxed));
            }
        }
        self.kill.load(Ordering::SeqCst)
    }

    /// Whether other clients are to get -BUSY.
    pub fn is_busy(&self) -> bool {
        self.busy.load(Ordering::SeqCst)
    }

    pub fn is_function(&self) -> bool {
        self.function.load(Ordering::SeqCst)
    }

    /// SCRIPT KILL (`function` false) or FUNCTION KILL.
    pub fn kill(&self, function: bool) -> KillResult {
        if !self.is_busy() {
            return KillResult::NotBusy;
        }
        // A script that wrote is unkillable whichever KILL is asked (Redis's order).
        if self.wrote.load(Ordering::SeqCst) {
            return KillResult::Unkillable;
        }
        if self.is_function() != function {
            return KillResult::WrongKind;
        }
        self.kill.store(true, Ordering::SeqCst);
        KillResult::Killed
    }
}
