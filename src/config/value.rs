//! Checking one directive's arguments and producing its canonical value, with Redis's texts.

use super::{Kind, Spec, ValueError};

fn err<T>(s: &str) -> Result<T, ValueError> {
    Err(ValueError(s.to_string()))
}

/// Parses a memory value as Redis's memtoull: digits with an optional k/kb/m/mb/g/gb unit
/// (k = 1000, kb = 1024), case-insensitive.
pub fn parse_memory(s: &str) -> Option<u64> {
    let l = s.to_ascii_lowercase();
    let units: [(&str, u64); 7] = [
        ("gb", 1 << 30),
        ("mb", 1 << 20),
        ("kb", 1 << 10),
        ("g", 1_000_000_000),
        ("m", 1_000_000),
        ("k", 1000),
        ("b", 1),
    ];
    let (num, mul) = units
        .iter()
        .find(|(u, _)| l.ends_with(u))
        .map(|(u, m)| (&l[..l.len() - u.len()], *m))
        .unwrap_or((&l[..], 1));
    if num.is_empty() || !num.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    num.parse::<u64>().ok()?.checked_mul(mul)
}

fn int_range(name: &str) -> (i64, i64) {
    const I: i64 = i32::MAX as i64;
    match name {
        "port"
        | "tls-port"
        | "cluster-port"
        | "replica-announce-port"
        | "cluster-announce-port"
        | "cluster-announce-bus-port"
        | "cluster-announce-tls-port" => (0, 65535),
        "databases" | "maxclients" | "maxmemory-samples" | "io-threads" => (1, I),
        "hz" => (0, I),
        "list-max-listpack-size" => (i32::MIN as i64, I),
        "active-expire-effort" => (1, 10),
        "lfu-log-factor" | "lfu-decay-time" | "tcp-backlog" => (0, I),
        "maxmemory-eviction-tenacity" => (0, 100),
        "active-defrag-cycle-min" | "active-defrag-cycle-max" => (1, 99),
        "active-defrag-threshold-lower" | "active-defrag-threshold-upper" => (0, 1000),
        "repl-timeout" | "repl-ping-replica-period" => (1, I),
        "slowlog-log-slower-than" => (-1, i64::MAX),
        "min-replicas-to-write"
        | "min-replicas-max-lag"
        | "timeout"
        | "tcp-keepalive"
        | "replica-priority"
        | "repl-diskless-sync-delay"
        | "repl-diskless-sync-max-replicas"
        | "shutdown-timeout" => (0, I),
        _ => (0, i64::MAX),
    }
}

fn one(args: &[String]) -> Result<&str, ValueError> {
    match args {
        [a] => Ok(a),
        _ => err("wrong number of arguments"),
    }
}

/// Validates `args` for `spec` and returns the canonical value.
pub fn validate(
    spec: &Spec,
    args: &[String],
    current: &str,
    from_file: bool,
) -> Result<String, ValueError> {
    match &spec.kind {
        Kind::Bool => match one(args)?.to_ascii_lowercase().as_str() {
            "yes" => Ok("yes".into()),
            "no" => Ok("no".into()),
            _ => err("argument must be 'yes' or 'no'"),
        },
        Kind::Int => {
            let a = one(args)?;
            let v: i64 = a
                .parse()
                .map_err(|_| ValueError("argument couldn't be parsed into an integer".into()))?;
            let (lo, hi) = int_range(&spec.name);
            if v < lo || v > hi {
                return err(&format!("argument must be between {lo} and {hi} inclusive"));
            }
            Ok(v.to_string())
        }
        Kind::Memory if spec.name == "maxmemory-clients" => memory_or_percent(one(args)?),
        Kind::Memory => {
            let a = one(args)?;
            match parse_memory(a) {
                Some(v) if v <= i64::MAX as u64 => Ok(v.to_string()),
                _ => err("argument must be a memory value"),
            }
        }
        Kind::Enum(opts) => {
            let a = one(args)?.to_ascii_lowercase();
            if opts.contains(&a) {
                Ok(a)
            } else {
                err(&format!(
                    "argument(s) must be one of the following: {}",
                    opts.join(", ")
                ))
            }
        }
        Kind::Str => {
            if from_file && args.is_empty() {
                return err("wrong number of arguments");
            }
            Ok(args.join(" "))
        }
        Kind::Special => special(&spec.name, args, current, from_file),
    }
}

/// `maxmemory-clients`: a memory value or a percentage of maxmemory (`10%`, at most 100;
/// `0%` is 0), as Redis takes it.
fn memory_or_percent(a: &str) -> Result<String, ValueError> {
    const BAD: &str = "argument must be a memory or percent value";
    if let Some(p) = a.strip_suffix('%') {
        if p.is_empty() || !p.bytes().all(|c| c.is_ascii_digit()) {
            return err(BAD);
        }
        return match p.parse::<u64>() {
            Ok(0) => Ok("0".into()),
            Ok(n) if n <= 100 => Ok(format!("{n}%")),
            _ => err("percentage argument must be less or equal to 100"),
        };
    }
    match parse_memory(a) {
        Some(v) if v <= i64::MAX as u64 => Ok(v.to_string()),
        _ => err(BAD),
    }
}

fn special(
    name: &str,
    args: &[String],
    current: &str,
    from_file: bool,
) -> Result<String, ValueError> {
    // CONFIG SET passes one string that may hold several words; files give the words.
    let words: Vec<String> = if !from_file && args.len() == 1 {
        args[0].split_whitespace().map(String::from).collect()
    } else {
        args.to_vec()
    };
    match name {
        "save" => {
            if !words.len().is_multiple_of(2) {
                return err("Invalid save parameters");
            }
            for w in &words {
                if w.parse::<i64>().map(|v| v < 0).unwrap_or(true) {
                    return err("Invalid save parameters");
                }
            }
            Ok(words.join(" "))
        }
        "bind" => {
            if words.len() > 16 {
                return err("Too many bind addresses specified.");
            }
            Ok(words.join(" "))
        }
        "client-output-buffer-limit" => {
            if !words.len().is_multiple_of(4) {
                return err("Wrong number of arguments in buffer limit configuration.");
            }
            let mut classes: Vec<(String, [u64; 3])> = parse_obuf(current).unwrap_or_default();
            for c in words.chunks(4) {
                let class = match c[0].to_ascii_lowercase().as_str() {
                    "normal" => "normal",
                    "replica" | "slave" => "slave",
                    "pubsub" => "pubsub",
                    _ => {
                        return err("Invalid client class specified in buffer limit configuration.")
                    }
                };
                let hard = parse_memory(&c[1]);
                let soft = parse_memory(&c[2]);
                let secs = c[3].parse::<u64>().ok();
                let (Some(h), Some(s), Some(t)) = (hard, soft, secs) else {
                    return err("Error in hard, soft or soft_seconds setting in buffer limit configuration.");
                };
                if let Some(e) = classes.iter_mut().find(|e| e.0 == class) {
                    e.1 = [h, s, t];
                }
            }
            Ok(classes
                .iter()
                .map(|(c, v)| format!("{} {} {} {}", c, v[0], v[1], v[2]))
                .collect::<Vec<_>>()
                .join(" "))
        }
        "oom-score-adj-values" => {
            if words.len() != 3
                || words.iter().any(|w| {
                    w.parse::<i64>()
                        .map(|v| !(-2000..=2000).contains(&v))
                        .unwrap_or(true)
                })
            {
                return err("Invalid oom-score-adj-values parameters");
            }
            Ok(words.join(" "))
        }
        "latency-tracking-info-percentiles" => {
            // Stored as Redis shows them: `%f` with the trailing zeros trimmed (0.0 is 0).
            let mut shown = Vec::new();
            for w in &words {
                match w.parse::<f64>() {
                    Ok(v) if (0.0..=100.0).contains(&v) => {
                        let f = format!("{v:.6}");
                        shown.push(f.trim_end_matches('0').trim_end_matches('.').to_string());
                    }
                    _ => return err("latency-tracking-info-percentiles parameters should be a double between 0 and 100"),
                }
            }
            Ok(shown.join(" "))
        }
        "notify-keyspace-events" => {
            let a = words.join("");
            crate::keyspace_events::parse(&a)
                .map(crate::keyspace_events::format_lossless)
                .ok_or_else(|| ValueError(crate::keyspace_events::INVALID.into()))
        }
        "replicaof" | "slaveof" => {
            if words.is_empty()
                || (words.len() == 2
                    && words[0].eq_ignore_ascii_case("no")
                    && words[1].eq_ignore_ascii_case("one"))
            {
                return Ok(String::new());
            }
            if words.len() != 2 || words[1].parse::<u16>().is_err() {
                return err("wrong number of arguments");
            }
            Ok(words.join(" "))
        }
        "shutdown-on-sigint" | "shutdown-on-sigterm" => {
            let mut flags = Vec::new();
            for w in &words {
                let l = w.to_ascii_lowercase();
                if !["default", "save", "nosave", "now", "force"].contains(&l.as_str()) {
                    return err("argument(s) must be one of the following: default, save, nosave, now, force");
                }
                flags.push(l);
            }
            if flags.is_empty() {
                return err("wrong number of arguments");
            }
            Ok(flags.join(" "))
        }
        "unixsocketperm" => {
            let a = one(&words)?;
            match u32::from_str_radix(a, 8) {
                Ok(v) if v <= 0o777 => Ok(format!("{v:o}")),
                _ => err("argument couldn't be parsed into an integer"),
            }
        }
        _ => Ok(words.join(" ")),
    }
}

fn parse_obuf(s: &str) -> Option<Vec<(String, [u64; 3])>> {
    let w: Vec<&str> = s.split_whitespace().collect();
    w.chunks(4)
        .map(|c| {
            Some((
                c[0].to_string(),
                [
                    c.get(1)?.parse().ok()?,
                    c.get(2)?.parse().ok()?,
                    c.get(3)?.parse().ok()?,
                ],
            ))
        })
        .collect()
}

/// Keyspace-notification flags in Redis's canonical spelling (`A` for all classes).
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_units() {
        assert_eq!(parse_memory("1gb"), Some(1 << 30));
        assert_eq!(parse_memory("1k"), Some(1000));
        assert_eq!(parse_memory("12"), Some(12));
        assert_eq!(parse_memory("-1"), None);
        assert_eq!(parse_memory("mb"), None);
    }
}
