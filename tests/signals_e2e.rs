//! End-to-end tests of how picket-node takes signals, beside redis-server: a SIGTERM's
//! shutdown runs from the server's cron, so DEBUG PAUSE-CRON holds it and SHUTDOWN ABORT calls
//! it off (Redis's unit/shutdown).

use common::{info_field, wait_until, Server};
use picket_testkit as common;
use std::process::Command;
use std::time::Duration;

fn sigterm_is_called_off_by_shutdown_abort(s: &Server) {
    let mut c = s.client();
    assert_eq!(
        c.cmd_str(&["SHUTDOWN", "ABORT"]),
        "-ERR No shutdown in progress.\r\n"
    );
    assert_eq!(c.cmd_str(&["DEBUG", "PAUSE-CRON", "1"]), "+OK\r\n");
    let pid = info_field(&c.info("server"), "process_id").unwrap();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    assert!(
        wait_until(Duration::from_secs(5), || s
            .log_text()
            .contains("Received SIGTERM")),
        "no SIGTERM in the log: {}",
        s.log_text()
    );
    assert_eq!(c.cmd_str(&["SHUTDOWN", "ABORT"]), "+OK\r\n");
    assert!(s.log_text().contains("Shutdown manually aborted"));
    assert_eq!(c.cmd_str(&["DEBUG", "PAUSE-CRON", "0"]), "+OK\r\n");
    // Several cron periods later the server still answers.
    for _ in 0..5 {
        assert_eq!(c.cmd_str(&["DEBUG", "SLEEP", "0.1"]), "+OK\r\n");
    }
    assert_eq!(c.cmd_str(&["PING"]), "+PONG\r\n");
}

#[test]
fn a_sigterm_waits_for_the_paused_cron_and_shutdown_abort_cancels_it() {
    let args = ["--enable-debug-command", "yes"];
    sigterm_is_called_off_by_shutdown_abort(&Server::redis(&args));
    sigterm_is_called_off_by_shutdown_abort(&Server::picket(&args));
}
