//! notification-script and client-reconfig-script execution with Redis's rules: a queue of at
//! most 256 jobs (the oldest waiting one is dropped), at most 16 running, a script killed after
//! 60 s (`-script-timeout`), a retry with 30 s × 2^(n−1) back-off when it exits 1 or dies by a
//! signal, at most 10 tries, and `-script-error` when it finally fails.

use crate::core::Timing;
use std::time::{Duration, Instant};

const QUEUE_MAX: usize = 256;
const RUNNING_MAX: usize = 16;
const MAX_RETRY: u32 = 10;

#[derive(Debug)]
pub struct Job {
    pub argv: Vec<String>,
    pub retry: u32,
    /// When it may start (scheduled jobs).
    pub start_at: Instant,
    pub running: Option<(tokio::process::Child, Instant)>,
}

#[derive(Debug, Default)]
pub struct Scripts {
    pub jobs: Vec<Job>,
}

/// What finished, to be logged as Redis logs it.
pub enum Outcome {
    Error {
        path: String,
        signal: i32,
        code: i32,
    },
    Timeout {
        path: String,
        pid: u32,
    },
}

impl Scripts {
    pub fn queue(&mut self, argv: Vec<String>) {
        if self.jobs.len() >= QUEUE_MAX {
            if let Some(i) = self.jobs.iter().position(|j| j.running.is_none()) {
                self.jobs.remove(i);
            } else {
                return;
            }
        }
        self.jobs.push(Job {
            argv,
            retry: 0,
            start_at: Instant::now(),
            running: None,
        });
    }

    pub fn running(&self) -> usize {
        self.jobs.iter().filter(|j| j.running.is_some()).count()
    }

    /// Starts due jobs, collects finished ones, kills overdue ones. Returns what to report.
    pub fn poll(&mut self, t: &Timing) -> Vec<Outcome> {
        let now = Instant::now();
        let mut out = Vec::new();
        let mut i = 0;
        while i < self.jobs.len() {
            let mut remove = false;
            let job = &mut self.jobs[i];
            if let Some((child, started)) = job.running.as_mut() {
                match child.try_wait() {
                    Ok(Some(status)) => {
                        use std::os::unix::process::ExitStatusExt;
                        let signal = status.signal().unwrap_or(0);
                        let code = status.code().unwrap_or(0);
                        job.running = None;
                        if (code == 1 || signal != 0) && job.retry < MAX_RETRY {
                            job.retry += 1;
                            let delay = t
                                .script_retry_delay
                                .saturating_mul(1 << (job.retry - 1).min(20));
                            job.start_at = now + Duration::from_millis(delay);
                        } else {
                            if code != 0 || signal != 0 {
                                out.push(Outcome::Error {
                                    path: job.argv[0].clone(),
                                    signal,
                                    code,
                                });
                            }
                            remove = true;
                        }
                    }
                    Ok(None) => {
                        if started.elapsed() > Duration::from_millis(t.script_max_runtime) {
                            let pid = child.id().unwrap_or(0);
                            let _ = child.start_kill();
                            out.push(Outcome::Timeout {
                                path: job.argv[0].clone(),
                                pid,
                            });
                            // It is reaped on a later poll and then retried as a signal death.
                        }
                    }
                    Err(_) => remove = true,
                }
            }
            if remove {
                self.jobs.remove(i);
            } else {
                i += 1;
            }
        }
        let mut running = self.running();
        for job in self.jobs.iter_mut() {
            if running >= RUNNING_MAX {
                break;
            }
            if job.running.is_none() && job.start_at <= now {
                match tokio::process::Command::new(&job.argv[0])
                    .args(&job.argv[1..])
                    .kill_on_drop(true)
                    .spawn()
                {
                    Ok(child) => {
                        job.running = Some((child, now));
                        running += 1;
                    }
                    Err(_) => {
                        out.push(Outcome::Error {
                            path: job.argv[0].clone(),
                            signal: 99,
                            code: 0,
                        });
                        job.retry = MAX_RETRY;
                        job.start_at = now + Duration::from_secs(3600 * 24 * 365);
                    }
                }
            }
        }
        // Jobs that could not even start are dropped.
        self.jobs.retain(|j| {
            !(j.running.is_none()
                && j.retry >= MAX_RETRY
                && j.start_at > now + Duration::from_secs(3600))
        });
        out
    }

    /// SENTINEL PENDING-SCRIPTS.
    pub fn pending(&self, out: &mut picket::resp::Reply) {
        let now = Instant::now();
        out.array(self.jobs.len());
        for j in &self.jobs {
            out.map(5);
            out.bulk(b"argv");
            out.array(j.argv.len());
            for a in &j.argv {
                out.bulk(a.as_bytes());
            }
            out.bulk(b"flags");
            out.bulk(if j.running.is_some() {
                b"running" as &[u8]
            } else {
                b"scheduled"
            });
            out.bulk(b"pid");
            out.bulk(
                j.running
                    .as_ref()
                    .and_then(|(c, _)| c.id())
                    .unwrap_or(0)
                    .to_string()
                    .as_bytes(),
            );
            match &j.running {
                Some((_, started)) => {
                    out.bulk(b"run-time");
                    out.bulk(started.elapsed().as_millis().to_string().as_bytes());
                }
                None => {
                    out.bulk(b"run-delay");
                    out.bulk(
                        j.start_at
                            .saturating_duration_since(now)
                            .as_millis()
                            .to_string()
                            .as_bytes(),
                    );
                }
            }
            out.bulk(b"retry-num");
            out.bulk(j.retry.to_string().as_bytes());
        }
    }
}
