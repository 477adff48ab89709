//! FLUSHALL and the RDB file, differential against redis-server: with save points the empty
//! dataset is saved at once (before, picket-node left the old dump.rdb, so a restart after a
//! crash brought the flushed keys back), and a BGSAVE running at the time is abandoned and
//! leaves no file (before, it finished and wrote the flushed keys out, and a race could clear
//! the change counter of the FLUSHALL itself).

use common::{test_dir, wait_until, Server};
use picket_testkit as common;
use std::time::Duration;

#[test]
fn flushall_with_save_points_saves_the_empty_dataset_at_once() {
    for redis in [true, false] {
        let dir = test_dir();
        let d = dir.path().display().to_string();
        let args = ["--dir", d.as_str(), "--save", "3600 1"];
        let start = || Server::either(redis, &args);
        let mut s = start();
        let mut c = s.client();
        assert_eq!(c.cmd_str(&["SET", "k1", "v"]), "+OK\r\n");
        assert_eq!(c.cmd_str(&["SAVE"]), "+OK\r\n");
        assert_eq!(c.cmd_str(&["SET", "k2", "v"]), "+OK\r\n");
        assert_eq!(c.cmd_str(&["FLUSHALL"]), "+OK\r\n");
        assert_eq!(
            c.field("rdb_changes_since_last_save"),
            "0",
            "redis: {redis}"
        );
        assert_eq!(c.field("rdb_saves"), "1", "redis: {redis}");
        s.kill();
        let s = start();
        assert_eq!(s.client().cmd_str(&["DBSIZE"]), ":0\r\n", "redis: {redis}");
    }
}

#[test]
fn flushall_abandons_a_running_bgsave() {
    for redis in [true, false] {
        let dir = test_dir();
        let d = dir.path().display().to_string();
        let args = ["--dir", d.as_str(), "--enable-debug-command", "yes"];
        let s = Server::either(redis, &args);
        let mut c = s.client();
        assert_eq!(c.cmd_str(&["DEBUG", "POPULATE", "2000"]), "+OK\r\n");
        assert_eq!(c.cmd_str(&["SET", "x", "1"]), "+OK\r\n");
        assert_eq!(
            c.cmd_str(&["CONFIG", "SET", "rdb-key-save-delay", "1000"]),
            "+OK\r\n"
        );
        assert_eq!(c.cmd_str(&["BGSAVE"]), "+Background saving started\r\n");
        assert_eq!(c.field("rdb_bgsave_in_progress"), "1");
        assert_eq!(c.cmd_str(&["FLUSHALL"]), "+OK\r\n");
        assert!(
            wait_until(Duration::from_secs(2), || c.field("rdb_bgsave_in_progress")
                == "0"),
            "redis: {redis}: the BGSAVE went on"
        );
        let changes: u64 = c.field("rdb_changes_since_last_save").parse().unwrap();
        assert!(changes > 2000, "redis: {redis}: {changes}");
        assert_eq!(c.field("rdb_last_bgsave_status"), "ok");
        assert!(!dir.path().join("dump.rdb").exists(), "redis: {redis}");
        assert_eq!(c.cmd_str(&["SET", "y", "1"]), "+OK\r\n");
    }
}
