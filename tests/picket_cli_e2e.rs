//! The `picket` command end to end: `up` brings a group to health within a bound, survives a
//! kill -9 of its master (the event stream shows +switch-master, status shows the new master,
//! the old master comes back as a replica), `failover` follows a failover to its end,
//! `events` streams, SIGTERM leaves no process behind, and a second `up` in the same DIR
//! resumes the group. `check` reports a good file and a bad one with line and hint.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use picket_testkit::{binary, free_port, http_get, test_dir};
use serde_json::Value;

fn picket() -> Command {
    let mut c = Command::new(binary("picket"));
    // Under `cargo test` CARGO is set; `picket` would build the servers again.
    c.env_remove("CARGO").env("NO_COLOR", "1");
    c
}

/// A base port with the group's six ports free (nodes base.., sentinels base+100..).
fn group_base() -> u16 {
    loop {
        let p = free_port();
        let all = [p + 1, p + 2, p + 100, p + 101, p + 102];
        if p < 19_800
            && all
                .iter()
                .all(|q| std::net::TcpListener::bind(("127.0.0.1", *q)).is_ok())
        {
            return p;
        }
    }
}

/// A running `picket up --json`, its output lines arriving on a channel.
struct Up {
    child: Child,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
    dir: std::path::PathBuf,
}

impl Up {
    fn start(dir: &Path, base: u16) -> Up {
        Up::start_with(dir, base, &[])
    }

    fn start_with(dir: &Path, base: u16, extra: &[&str]) -> Up {
        let mut child = picket()
            .args(["up", "--json", "--down-after", "1000"])
            .args(extra)
            .arg("--base-port")
            .arg(base.to_string())
            .arg("--dir")
            .arg(dir)
            .stdout(Stdio::piped())
            .spawn()
            .expect("start picket up");
        let out = child.stdout.take().expect("stdout");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for l in BufReader::new(out).lines().map_while(Result::ok) {
                if tx.send(l).is_err() {
                    break;
                }
            }
        });
        Up {
            child,
            lines,
            seen: Vec::new(),
            dir: dir.to_path_buf(),
        }
    }

    /// Waits for an output line whose JSON satisfies `f`.
    fn wait_for(&mut self, what: &str, timeout: Duration, f: impl Fn(&Value) -> bool) -> Value {
        let end = Instant::now() + timeout;
        while let Some(left) = end.checked_duration_since(Instant::now()) {
            match self.lines.recv_timeout(left) {
                Ok(l) => {
                    self.seen.push(l.clone());
                    if let Ok(v) = serde_json::from_str::<Value>(&l) {
                        if f(&v) {
                            return v;
                        }
                    }
                }
                Err(_) => break,
            }
        }
        panic!(
            "no {what} within {timeout:?}; picket up printed:\n{}",
            self.seen.join("\n")
        );
    }

    fn terminate(mut self) {
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let end = Instant::now() + Duration::from_secs(40);
        while Instant::now() < end {
            if let Ok(Some(st)) = self.child.try_wait() {
                assert!(st.success(), "picket up exited with {st}");
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        panic!("picket up did not stop within 40 s of SIGTERM");
    }
}

impl Drop for Up {
    /// Leaves nothing running, even when a test fails: `picket up` is killed, its children get
    /// SIGTERM from their parent-death signal, and any still alive after 15 s (a node that
    /// cannot save refuses to exit, as Redis does) gets SIGKILL before the directory goes.
    fn drop(&mut self) {
        let pids = group_pids(&self.dir);
        let _ = self.child.kill();
        let _ = self.child.wait();
        let gone =
            picket_testkit::wait_until(Duration::from_secs(15), || !pids.iter().any(|p| alive(*p)));
        if !gone {
            for p in pids.iter().filter(|p| alive(**p)) {
                unsafe { libc::kill(*p as i32, libc::SIGKILL) };
            }
        }
        if std::thread::panicking() {
            print_group_logs(&self.dir);
        }
    }
}

/// What every process of the group logged (the tail), and the event log.
fn print_group_logs(dir: &Path) {
    let mut files = vec![dir.join("events.log")];
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        for name in ["node.log", "sentinel.log"] {
            files.push(e.path().join(name));
        }
    }
    for f in files.iter().filter(|f| f.exists()) {
        let text = std::fs::read_to_string(f).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        eprintln!("===== {}", f.display());
        eprintln!("{}", lines[lines.len().saturating_sub(40)..].join("\n"));
    }
}

fn group_pids(dir: &Path) -> Vec<u32> {
    let mut pids = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        if let Ok(t) = std::fs::read_to_string(e.path().join("picket-up.pid")) {
            pids.push(t.trim().parse().unwrap());
        }
    }
    pids
}

fn alive(pid: u32) -> bool {
    // A zombie is not running: look at the state in /proc.
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| !s.contains(") Z "))
        .unwrap_or(false)
}

/// Runs `picket args... [--dir dir]`, which must succeed; its standard output.
fn run_ok(args: &[&str], dir: Option<&Path>) -> String {
    let mut cmd = picket();
    cmd.args(args);
    if let Some(d) = dir {
        cmd.arg("--dir").arg(d);
    }
    let out = cmd.output().expect("run picket");
    assert!(
        out.status.success(),
        "picket {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn status(dir: &Path) -> Value {
    serde_json::from_str(&run_ok(&["status", "--json"], Some(dir))).expect("status --json is JSON")
}

fn master_port(s: &Value) -> u64 {
    s["masters"][0]["addr"]["port"].as_u64().expect("a master")
}

fn role_of(s: &Value, port: u64) -> String {
    s["masters"][0]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["addr"]["port"].as_u64() == Some(port))
        .map(|n| n["role"].as_str().unwrap_or("").to_string())
        .unwrap_or_default()
}

#[test]
fn up_survives_a_master_kill_follows_a_failover_and_resumes() {
    let t = test_dir();
    let dir = t.path().join("group");
    let base = group_base();
    let mut up = Up::start(&dir, base);
    let started = Instant::now();
    let ready = up.wait_for("ready line", Duration::from_secs(60), |v| {
        v["event"] == "ready"
    });
    assert_eq!(ready["master"], format!("127.0.0.1:{base}"));
    assert_eq!(ready["sentinels"].as_array().unwrap().len(), 3);
    eprintln!("healthy after {:?}", started.elapsed());
    let page = ready["status_page"].as_str().unwrap().to_string();
    assert_eq!(page, format!("http://127.0.0.1:{}/", base + 300));
    let (_, body) = http_get(base + 300, "/status.json");
    assert!(body.contains(&format!("127.0.0.1:{base}")), "{body}");
    assert!(http_get(base + 200, "/metrics").1.contains("redis_up 1"));

    let s = status(&dir);
    assert_eq!(master_port(&s), base as u64);
    assert_eq!(s["masters"][0]["nodes"].as_array().unwrap().len(), 3);
    assert!(s["masters"][0]["quorum_ok"].as_bool().unwrap(), "{s}");
    assert_eq!(s["sentinels"].as_array().unwrap().len(), 3);

    // kill -9 of the master: the stream shows the switch, status the new master, and the old
    // master comes back as a replica.
    let pid: i32 = std::fs::read_to_string(dir.join(format!("node-{base}/picket-up.pid")))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    unsafe { libc::kill(pid, libc::SIGKILL) };
    let sw = up.wait_for("+switch-master", Duration::from_secs(30), |v| {
        v["event"] == "+switch-master"
    });
    let new_port: u64 = sw["message"]
        .as_str()
        .unwrap()
        .rsplit(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert_ne!(new_port, base as u64);
    up.wait_for("the old master's restart", Duration::from_secs(30), |v| {
        v["event"] == "picket"
            && v["message"]
                .as_str()
                .unwrap_or("")
                .contains("started again")
    });
    let back = picket_testkit::wait_until(Duration::from_secs(30), || {
        let s = status(&dir);
        master_port(&s) == new_port && role_of(&s, base as u64) == "slave"
    });
    assert!(back, "old master not back as a replica: {}", status(&dir));

    // `picket events` sees what `picket failover` starts; failover follows it to the end.
    let follow = |extra: &[&str]| {
        picket()
            .arg("events")
            .args(extra)
            .arg("--dir")
            .arg(&dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    };
    let (events, events_json) = (follow(&[]), follow(&["--json"]));
    std::thread::sleep(Duration::from_millis(300));
    let text = run_ok(&["failover", "mymaster", "--json"], Some(&dir));
    let last: Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    let third = last["new_master"].as_str().unwrap().to_string();
    assert_eq!(last["sentinels_agree"], true, "{text}");
    assert_ne!(third, format!("127.0.0.1:{new_port}"), "{text}");
    assert!(text.contains("+selected-slave"), "{text}");
    unsafe { libc::kill(events.id() as i32, libc::SIGTERM) };
    let ev = events.wait_with_output().unwrap();
    let ev = String::from_utf8_lossy(&ev.stdout);
    let (third_host, third_port) = third.split_once(':').unwrap();
    let switch = format!("+switch-master mymaster 127.0.0.1 {new_port} {third_host} {third_port}");
    assert!(ev.lines().any(|l| l.contains(&switch)), "events saw: {ev}");
    unsafe { libc::kill(events_json.id() as i32, libc::SIGTERM) };
    let evj = events_json.wait_with_output().unwrap();
    let switched = String::from_utf8_lossy(&evj.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["event"] == "+switch-master")
        .count();
    assert_eq!(
        switched, 1,
        "events --json: one +switch-master, each copy shown once"
    );

    // The table names the new master, its replicas and the sentinels' view.
    let table = run_ok(&["status"], Some(&dir));
    assert!(
        table.contains(&format!("master mymaster  at {third}")),
        "{table}"
    );
    assert!(table.contains("OK 3 usable Sentinels"), "{table}");
    assert_eq!(
        table.matches(&format!("mymaster {third}")).count(),
        3,
        "each sentinel's view: {table}"
    );

    // The text form of a failover: its steps with their times, then the new table.
    let text = run_ok(&["failover", "mymaster"], Some(&dir));
    assert!(
        text.contains("failover of mymaster started through sentinel"),
        "{text}"
    );
    assert!(
        text.lines()
            .any(|l| l.trim_start().starts_with(|c: char| c.is_ascii_digit())
                && l.contains("+switch-master")),
        "{text}"
    );
    assert!(text.contains("done: new master 127.0.0.1:"), "{text}");
    assert!(text.contains("SENTINEL") && text.contains("NODE"), "{text}");
    let third = text
        .lines()
        .find_map(|l| l.strip_prefix("done: new master "))
        .and_then(|r| r.split(' ').next())
        .unwrap()
        .to_string();

    // SIGTERM stops every process; a second `up` in the same DIR resumes the group.
    let pids = group_pids(&dir);
    assert_eq!(pids.len(), 6);
    up.terminate();
    for p in &pids {
        assert!(!alive(*p), "pid {p} still running after picket up stopped");
    }
    let mut again = Up::start(&dir, base + 7); // a different --base-port is ignored on resume
    let ready = again.wait_for("ready line on resume", Duration::from_secs(60), |v| {
        v["event"] == "ready"
    });
    assert_eq!(ready["master"], third, "resumed with a different master");
    again.terminate();
    assert!(std::fs::read_to_string(dir.join("events.log"))
        .unwrap()
        .contains("+switch-master"));
}

#[test]
fn up_with_redis_runs_the_same_group_on_redis_server_and_redis_sentinel() {
    let t = test_dir();
    let dir = t.path().join("group");
    let base = group_base();
    let mut up = Up::start_with(&dir, base, &["--with-redis", "--nodes", "2"]);
    let ready = up.wait_for("ready line", Duration::from_secs(60), |v| {
        v["event"] == "ready"
    });
    assert_eq!(ready["kind"], "redis");
    assert_eq!(ready["master"], format!("127.0.0.1:{base}"));
    let pids = group_pids(&dir);
    assert_eq!(pids.len(), 5);
    for p in &pids {
        let cmd = std::fs::read(format!("/proc/{p}/cmdline")).unwrap();
        assert!(
            String::from_utf8_lossy(&cmd).contains("redis-"),
            "{p} is not a Redis program"
        );
    }
    let s = status(&dir);
    assert_eq!(role_of(&s, base as u64 + 1), "slave");
    up.terminate();
    for p in &pids {
        assert!(!alive(*p), "pid {p} still running after picket up stopped");
    }
}

#[test]
fn check_reports_good_files_and_explains_bad_ones() {
    let t = test_dir();
    let good = t.path().join("node.conf");
    std::fs::write(&good, "port 7000\nappendonly yes\n").unwrap();
    let bad = t.path().join("bad.conf");
    std::fs::write(&bad, "port 7000\napendonly yes\n").unwrap();
    let sentinel = t.path().join("sentinel.conf");
    std::fs::write(
        &sentinel,
        "port 7100\nsentinel monitor m 127.0.0.1 7000 2\n",
    )
    .unwrap();

    let path = |p: &Path| p.to_str().unwrap().to_string();
    let text = run_ok(&["check", &path(&good), &path(&sentinel)], None);
    assert!(
        text.contains("ok") && text.contains("(sentinel configuration)"),
        "{text}"
    );

    let out = picket()
        .args(["check", "--json"])
        .arg(&good)
        .arg(&bad)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v[0]["ok"], true);
    assert_eq!(v[1]["ok"], false);
    assert_eq!(v[1]["errors"].as_array().map(Vec::len), Some(1));
    assert_eq!(v[1]["errors"][0]["line"], 2);
    assert_eq!(v[1]["errors"][0]["text"], "apendonly yes");
    assert_eq!(v[1]["errors"][0]["hint"], "did you mean 'appendonly'?");

    let text = picket().arg("check").arg(&bad).output().unwrap();
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.contains("bad.conf:2: Bad directive or wrong number of arguments"),
        "{text}"
    );

    // Every error of a file is reported, in line order, not only the first.
    let many = t.path().join("many.conf");
    std::fs::write(
        &many,
        "port 7000\nmaxmemmory 10mb\nappendonly maybe\nsave 900 x\nbind 127.0.0.1\n",
    )
    .unwrap();
    let out = picket().arg("check").arg(&many).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    let at: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("error "))
        .map(|l| l.split(": ").next().unwrap_or(""))
        .collect();
    let want: Vec<String> = [2, 3, 4]
        .iter()
        .map(|n| format!("error {}:{n}", many.display()))
        .collect();
    assert_eq!(at, want, "{text}");
    assert!(text.contains("hint: did you mean 'maxmemory'?"), "{text}");
}

#[test]
fn usage_errors_say_what_to_do_and_exit_2() {
    let t = test_dir();
    let out = picket()
        .args(["status", "--dir"])
        .arg(t.path().join("none"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("pass --sentinel HOST:PORT"));
    let out = picket()
        .args(["status", "--sentinel", "127.0.0.1:1"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("no sentinel answers"));
}
