//! The slow log: the commands that ran for at least `slowlog-log-slower-than` microseconds,
//! newest first, at most `slowlog-max-len` of them, each as Redis 7.0 records it (id, unix
//! time, duration, the arguments trimmed to 32 and each to 128 bytes, secrets redacted, the
//! client's address and name).

use bytes::Bytes;
use picket::args::eq_ic;
use std::collections::VecDeque;

/// Arguments kept per entry (the last slot says how many more there were).
const MAX_ARGS: usize = 32;
/// Bytes kept per argument.
const MAX_ARG_LEN: usize = 128;

#[derive(Debug, Clone)]
pub struct SlowEntry {
    pub id: u64,
    pub time: i64,
    pub duration_us: u64,
    pub args: Vec<Bytes>,
    pub addr: String,
    pub name: Bytes,
}

#[derive(Debug, Default)]
pub struct SlowLog {
    pub entries: VecDeque<SlowEntry>,
    next_id: u64,
}

/// Which arguments Redis hides (in the slow log and from MONITOR): CONFIG SET's secret
/// values, AUTH's arguments, HELLO's AUTH credentials, MIGRATE's AUTH/AUTH2 ones.
pub fn redacted(args: &[Bytes]) -> Vec<bool> {
    let mut hide = vec![false; args.len()];
    let sub = args.get(1).map(|b| &b[..]).unwrap_or(b"");
    if eq_ic(&args[0], "config") && eq_ic(sub, "set") {
        for i in (2..args.len()).step_by(2) {
            if (eq_ic(&args[i], "masterauth") || eq_ic(&args[i], "requirepass"))
                && i + 1 < args.len()
            {
                hide[i + 1] = true;
            }
        }
    }
    if eq_ic(&args[0], "auth") {
        hide.iter_mut().skip(1).for_each(|h| *h = true);
    }
    if eq_ic(&args[0], "hello") {
        if let Some(j) = args.iter().position(|a| eq_ic(a, "auth")) {
            for h in hide.iter_mut().skip(j + 1).take(2) {
                *h = true;
            }
        }
    }
    if eq_ic(&args[0], "migrate") {
        let mut j = 6;
        while j < args.len() && !eq_ic(&args[j], "keys") {
            let n = if eq_ic(&args[j], "auth") {
                1
            } else if eq_ic(&args[j], "auth2") {
                2
            } else {
                0
            };
            if j + n < args.len() {
                hide[j + 1..=j + n].iter_mut().for_each(|h| *h = true);
            }
            j += n + 1;
        }
    }
    hide
}

/// `args` with the secrets Redis hides replaced by `(redacted)`.
pub fn redact(args: &[Bytes]) -> std::borrow::Cow<'_, [Bytes]> {
    let hide = redacted(args);
    if !hide.contains(&true) {
        return std::borrow::Cow::Borrowed(args);
    }
    let shown = args
        .iter()
        .zip(hide)
        .map(|(a, h)| {
            if h {
                Bytes::from_static(b"(redacted)")
            } else {
                a.clone()
            }
        })
        .collect();
    std::borrow::Cow::Owned(shown)
}

/// The arguments as an entry keeps them.
fn trimmed(args: &[Bytes]) -> Vec<Bytes> {
    let kept = args.len().min(MAX_ARGS);
    let hide = redacted(args);
    (0..kept)
        .map(|j| {
            if j == kept - 1 && args.len() != kept {
                Bytes::from(format!("... ({} more arguments)", args.len() - kept + 1))
            } else if hide[j] {
                Bytes::from_static(b"(redacted)")
            } else if args[j].len() > MAX_ARG_LEN {
                let mut v = args[j][..MAX_ARG_LEN].to_vec();
                v.extend_from_slice(
                    format!("... ({} more bytes)", args[j].len() - MAX_ARG_LEN).as_bytes(),
                );
                Bytes::from(v)
            } else {
                // A copy: a slice would keep the whole request buffer it points into alive.
                Bytes::copy_from_slice(&args[j])
            }
        })
        .collect()
}

impl SlowLog {
    /// Records a command that took `duration_us` if that is slow enough (`slower_than` < 0
    /// disables the log), keeping at most `max_len` entries. `client` gives the address and
    /// name, read only when the entry is kept.
    pub fn record(
        &mut self,
        (slower_than, max_len): (i64, usize),
        args: &[Bytes],
        duration_us: u64,
        client: impl FnOnce() -> (String, Bytes),
    ) {
        if slower_than < 0 || (duration_us as i64) < slower_than || args.is_empty() {
            return;
        }
        let (addr, name) = client();
        let time = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        self.entries.push_front(SlowEntry {
            id: self.next_id,
            time,
            duration_us,
            args: trimmed(args),
            addr,
            name,
        });
        self.next_id += 1;
        self.entries.truncate(max_len);
    }

    pub fn reset(&mut self) {
        self.entries.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(v: &[&str]) -> Vec<Bytes> {
        v.iter().map(|s| Bytes::from(s.to_string())).collect()
    }

    #[test]
    fn arguments_are_trimmed_as_redis_does() {
        let many: Vec<String> = (0..33).map(|i| i.to_string()).collect();
        let many: Vec<&str> = many.iter().map(|s| s.as_str()).collect();
        let t = trimmed(&b(&many));
        assert_eq!(t.len(), 32);
        assert_eq!(&t[31][..], b"... (2 more arguments)");
        let long = "A".repeat(129);
        let t = trimmed(&b(&["sadd", "set", &long]));
        assert_eq!(t[2].len(), 128 + "... (1 more bytes)".len());
        let t = trimmed(&b(&["config", "set", "masterauth", "x", "maxmemory", "1"]));
        assert_eq!(&t[3][..], b"(redacted)");
        let args = |v: &[&'static str]| -> Vec<Bytes> {
            v.iter().map(|a| Bytes::from_static(a.as_bytes())).collect()
        };
        let m = args(&[
            "MIGRATE", "h", "1", "", "0", "5", "AUTH2", "u", "p", "AUTH", "x", "KEYS", "auth", "k",
        ]);
        let shown: Vec<String> = redact(&m)
            .iter()
            .map(|a| String::from_utf8_lossy(a).into())
            .collect();
        assert_eq!(
            shown.join(" "),
            "MIGRATE h 1  0 5 AUTH2 (redacted) (redacted) AUTH (redacted) KEYS auth k"
        );
        assert_eq!(
            redact(&args(&["AUTH", "u", "p"]))[1..],
            args(&["(redacted)", "(redacted)"])[..]
        );
        assert_eq!(&t[5][..], b"1");
    }

    #[test]
    fn entries_do_not_hold_the_request_buffer() {
        let buf = Bytes::from(vec![b'x'; 1 << 20]);
        let args = vec![Bytes::from_static(b"sadd"), buf.slice(0..10)];
        let t = trimmed(&args);
        drop(args);
        // The only owner left of the 1 MiB buffer is `buf`: the entry copied its 10 bytes.
        assert!(buf.is_unique());
        assert_eq!(&t[1][..], b"xxxxxxxxxx");
    }

    #[test]
    fn threshold_and_length() {
        let mut log = SlowLog::default();
        let who = || ("127.0.0.1:1".to_string(), Bytes::new());
        log.record((100, 2), &b(&["ping"]), 99, who);
        assert!(log.entries.is_empty());
        for _ in 0..3 {
            log.record((100, 2), &b(&["ping"]), 100, who);
        }
        assert_eq!(log.entries.len(), 2);
        assert_eq!(log.entries[0].id, 2);
        log.record((-1, 2), &b(&["ping"]), 1_000_000, who);
        assert_eq!(log.entries[0].id, 2);
    }
}
