//! Fencing mode on real faults (docs/fencing.md): `tests/safety/partition.py` builds hosts out
//! of network namespaces, injects a scenario's fault (the master cut off with one sentinel and
//! one writing client; the master stopped past down-after; failovers by hand), ends it, and
//! counts the acknowledged writes that did not survive.
//!
//! With fencing on, none may be lost and no INCR result may be handed out twice; with it off,
//! the same harness must see writes lost (else it could not tell the difference).

use picket_testkit::{binary, root};
use serde_json::Value;
use std::process::Command;

/// Runs one round of the harness and returns its summary line.
fn round(scenario: &str, extra: &[&str]) -> Value {
    let node = binary("picket-node");
    let bin_dir = node.parent().expect("binary directory");
    let out = Command::new("python3")
        .arg(root().join("tests/safety/partition.py"))
        .args([
            "--scenario",
            scenario,
            "--kind",
            "picket",
            "--cut",
            "8",
            "--bin-dir",
        ])
        .arg(bin_dir)
        .args(extra)
        .output()
        .expect("run python3 tests/safety/partition.py");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "partition.py failed ({}): {stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let last = stdout.lines().last().unwrap_or_default();
    serde_json::from_str(last).unwrap_or_else(|e| panic!("summary line {last:?}: {e}"))
}

#[test]
fn fencing_loses_no_acknowledged_write_when_the_master_is_cut_off_and_without_it_writes_are_lost() {
    let fenced = round("isolate-master", &["--fencing"]);
    assert_clean(&fenced);
    let plain = round("isolate-master", &[]);
    assert!(
        plain["lost"].as_u64().unwrap() > 0,
        "without fencing the old master's acknowledged writes are thrown away: {plain}"
    );
}

#[test]
fn fencing_loses_nothing_when_the_master_is_paused_past_down_after_or_failed_over_by_hand() {
    for scenario in ["pause-master", "failovers"] {
        let fenced = round(scenario, &["--fencing"]);
        assert_clean(&fenced);
    }
}

/// Fencing's promise on one summary: writes were acknowledged, none lost, no INCR result
/// handed out twice or missing, never two masters acknowledging at once.
fn assert_clean(fenced: &Value) {
    assert!(fenced["acked"].as_u64().unwrap() > 100, "{fenced}");
    assert_eq!(
        fenced["lost"], 0,
        "acknowledged writes lost with fencing: {fenced}"
    );
    assert_eq!(
        fenced["incr_duplicates"], 0,
        "two masters acknowledged: {fenced}"
    );
    assert_eq!(fenced["incr_missing"], 0, "{fenced}");
    assert_eq!(fenced["max_masters"], 1, "two masters at once: {fenced}");
}
