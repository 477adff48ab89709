//! A crash leaves Redis's bug report in the log (before, picket-node died of SIGSEGV or
//! SIGABRT and the log said nothing): the signal, who sent it, the stack trace, and the
//! process still dies of that signal.

use common::{wait_until, Server};
use picket_testkit as common;
use std::os::unix::process::ExitStatusExt;
use std::time::Duration;

fn wait_dead(s: &mut Server) {
    assert!(
        wait_until(Duration::from_secs(10), || !s.alive()),
        "still running"
    );
}

#[test]
fn debug_segfault_writes_a_stack_trace_and_dies_of_sigsegv() {
    let mut s = Server::picket(&["--enable-debug-command", "yes"]);
    let mut c = s.client();
    c.send(&[b"DEBUG", b"SEGFAULT"]);
    wait_dead(&mut s);
    let log = s.log_text();
    assert!(log.contains("=== PICKET BUG REPORT START"), "{log}");
    assert!(log.contains("crashed by signal: 11"), "{log}");
    assert!(log.contains("------ STACK TRACE ------"), "{log}");
    assert!(log.contains("cmd::debug::debug"), "{log}");
    assert!(log.contains("=== PICKET BUG REPORT END"), "{log}");
}

#[test]
fn sigabrt_names_the_sender() {
    let mut s = Server::picket(&[]);
    let pid = s.child.id();
    // SAFETY: a signal to our own child process.
    unsafe { libc::kill(pid as i32, libc::SIGABRT) };
    wait_dead(&mut s);
    let status = s.child.wait().unwrap();
    assert_eq!(status.signal(), Some(libc::SIGABRT));
    let log = s.log_text();
    assert!(log.contains("crashed by signal: 6"), "{log}");
    let me = format!("Killed by PID: {}", std::process::id());
    assert!(log.contains(&me), "{log}");
    assert!(log.contains("------ STACK TRACE ------"), "{log}");
}
