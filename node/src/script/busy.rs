//! A script's run as other clients see it. The running script holds the node's state; past
//! `busy-reply-threshold` the VM's hook marks it busy, and connections that find it so answer
//! `-BUSY` without waiting for the state, and take SCRIPT KILL / FUNCTION KILL, which the
//! hook honours at its next check.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Instant;

#[derive(Debug)]
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

    pub fn finish(&self) {
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
        if self.is_function() != function {
            return KillResult::WrongKind;
        }
        if self.wrote.load(Ordering::SeqCst) {
            return KillResult::Unkillable;
        }
        self.kill.store(true, Ordering::SeqCst);
        KillResult::Killed
    }
}
