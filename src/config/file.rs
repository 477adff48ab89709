//! Loading configuration from redis.conf syntax, TOML and command-line flags, and CONFIG
//! REWRITE back into the file's own syntax (comments kept, atomic replace).

use super::{Config, Kind, Spec, FILE_ONLY_DIRECTIVES};
use crate::fsutil::atomic_write;
use crate::resp::split_args;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileSyntax {
    RedisConf,
    Toml,
}

/// The file a configuration was read from: kept for rewrite.
#[derive(Debug, Clone)]
pub struct LoadedFile {
    pub path: PathBuf,
    pub syntax: FileSyntax,
}

/// A start-up error in Redis's format (file, line, the line itself, the reason).
#[derive(Debug, Clone)]
pub struct ConfigFileError {
    pub file: String,
    pub line: usize,
    pub text: String,
    pub reason: String,
}

impl std::fmt::Display for ConfigFileError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "\n*** FATAL CONFIG FILE ERROR (Redis 7.0.15) ***\nReading the configuration file {}, at line {}\n>>> '{}'\n{}",
            self.file, self.line, self.text, self.reason
        )
    }
}

/// What the command line said: an optional config file and directives given as `--name args`.
#[derive(Debug, Default, Clone)]
pub struct CliArgs {
    pub config_file: Option<PathBuf>,
    pub directives: Vec<(String, Vec<String>)>,
    pub version: bool,
    pub help: bool,
}

/// Parses `[configfile] [--directive arg ...] ...` as redis-server does.
pub fn parse_cli_args(args: &[String]) -> CliArgs {
    let mut out = CliArgs::default();
    let mut i = 0;
    if let Some(first) = args.first() {
        match first.as_str() {
            "-v" | "--version" => out.version = true,
            "-h" | "--help" => out.help = true,
            s if !s.starts_with("--") => {
                out.config_file = Some(PathBuf::from(s));
                i = 1;
            }
            _ => {}
        }
    }
    while i < args.len() {
        let a = &args[i];
        if let Some(name) = a.strip_prefix("--") {
            let mut vals = Vec::new();
            i += 1;
            while i < args.len() && !args[i].starts_with("--") {
                vals.push(args[i].clone());
                i += 1;
            }
            out.directives.push((name.to_ascii_lowercase(), vals));
        } else {
            i += 1;
        }
    }
    out
}

fn syntax_of(path: &Path) -> FileSyntax {
    if path.extension().map(|e| e == "toml").unwrap_or(false) {
        FileSyntax::Toml
    } else {
        FileSyntax::RedisConf
    }
}

/// Reads `path` into `cfg`. Unknown directives and bad values fail with the line and reason.
/// Returns the names of the directives that were set (so the caller can warn about ones it
/// accepts but does not act on).
pub fn load_file(cfg: &mut Config, path: &Path) -> Result<Vec<String>, ConfigFileError> {
    let syntax = syntax_of(path);
    let text = std::fs::read_to_string(path).map_err(|e| ConfigFileError {
        file: path.display().to_string(),
        line: 0,
        text: String::new(),
        reason: format!(
            "Fatal error, can't open config file '{}': {}",
            path.display(),
            e
        ),
    })?;
    let mut set = Vec::new();
    match syntax {
        FileSyntax::RedisConf => load_redis_conf(cfg, path, &text, &mut set, 0)?,
        FileSyntax::Toml => load_toml(cfg, path, &text, &mut set)?,
    }
    // Kept absolute, as Redis keeps it: the server changes to `dir` afterwards, and CONFIG
    // REWRITE must still find the file.
    cfg.file = Some(LoadedFile {
        path: std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf()),
        syntax,
    });
    Ok(set)
}

/// Applies directive lines (from a file, or `--name args` flags rendered as lines).
pub fn apply_directive(
    cfg: &mut Config,
    name: &str,
    args: &[String],
    save_seen: &mut bool,
) -> Result<(), String> {
    let lname = name.to_ascii_lowercase();
    match lname.as_str() {
        "rename-command" => {
            if args.len() != 2 {
                return Err("Bad directive or wrong number of arguments".into());
            }
            cfg.renames
                .push((args[0].to_ascii_lowercase(), args[1].clone()));
            return Ok(());
        }
        n if FILE_ONLY_DIRECTIVES.contains(&n) => return Ok(()),
        _ => {}
    }
    // `save` lines accumulate; the first one replaces the default.
    if lname == "save" {
        // `--save "3600 1"` is one argument holding a pair, as redis-server accepts it.
        let mut words: Vec<String> = args
            .iter()
            .flat_map(|a| a.split_whitespace())
            .map(String::from)
            .collect();
        if *save_seen && !words.is_empty() {
            let cur: Vec<String> = cfg
                .get("save")
                .split_whitespace()
                .map(String::from)
                .collect();
            words = cur.into_iter().chain(words).collect();
        }
        *save_seen = true;
        return cfg.set("save", &words, true).map_err(|e| e.0);
    }
    cfg.set(&lname, args, true).map_err(|e| e.0)
}

fn load_redis_conf(
    cfg: &mut Config,
    path: &Path,
    text: &str,
    set: &mut Vec<String>,
    depth: usize,
) -> Result<(), ConfigFileError> {
    let mut save_seen = false;
    for (n, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let fail = |reason: &str| ConfigFileError {
            file: path.display().to_string(),
            line: n + 1,
            text: line.to_string(),
            reason: reason.to_string(),
        };
        let words = split_args(line.as_bytes())
            .ok_or_else(|| fail("Unbalanced quotes in configuration line"))?;
        let words: Vec<String> = words
            .into_iter()
            .map(|w| String::from_utf8_lossy(&w).into_owned())
            .collect();
        let Some((name, args)) = words.split_first() else {
            continue;
        };
        if name.eq_ignore_ascii_case("include") {
            if depth > 16 || args.len() != 1 {
                return Err(fail("Bad directive or wrong number of arguments"));
            }
            let inc = PathBuf::from(&args[0]);
            let t = std::fs::read_to_string(&inc).map_err(|e| {
                fail(&format!(
                    "Fatal error, can't open config file '{}': {}",
                    inc.display(),
                    e
                ))
            })?;
            load_redis_conf(cfg, &inc, &t, set, depth + 1)?;
            continue;
        }
        apply_directive(cfg, name, args, &mut save_seen).map_err(|r| fail(&r))?;
        set.push(name.to_ascii_lowercase());
    }
    Ok(())
}

/// Multiplier from a duration to the unit a time directive is counted in.
fn time_unit_micros(name: &str) -> Option<u128> {
    match name {
        "timeout"
        | "tcp-keepalive"
        | "repl-timeout"
        | "repl-ping-replica-period"
        | "repl-backlog-ttl"
        | "repl-diskless-sync-delay"
        | "shutdown-timeout"
        | "min-replicas-max-lag" => Some(1_000_000),
        "lua-time-limit" | "busy-reply-threshold" | "cluster-node-timeout" => Some(1000),
        "slowlog-log-slower-than" => Some(1),
        n if n.ends_with("-milliseconds") || n.ends_with("-period") || n.ends_with("-timeout") => {
            Some(1000)
        }
        _ => None,
    }
}

fn toml_value_args(cfg: &Config, name: &str, v: &toml::Value) -> Result<Vec<String>, String> {
    let kind = cfg.spec(name).map(|s| s.kind.clone());
    Ok(match v {
        toml::Value::String(s) => {
            if kind == Some(Kind::Int) {
                if let (Some(unit), Ok(d)) = (time_unit_micros(name), humantime::parse_duration(s))
                {
                    return Ok(vec![(d.as_micros() / unit).to_string()]);
                }
            }
            if kind == Some(Kind::Special) {
                s.split_whitespace().map(String::from).collect()
            } else {
                vec![s.clone()]
            }
        }
        toml::Value::Integer(i) => vec![i.to_string()],
        toml::Value::Float(f) => vec![f.to_string()],
        toml::Value::Boolean(b) => vec![if *b { "yes" } else { "no" }.to_string()],
        toml::Value::Array(a) => {
            let mut out = Vec::new();
            for e in a {
                out.extend(toml_value_args(cfg, name, e)?);
            }
            out
        }
        _ => return Err("unsupported value type".into()),
    })
}

fn load_toml(
    cfg: &mut Config,
    path: &Path,
    text: &str,
    set: &mut Vec<String>,
) -> Result<(), ConfigFileError> {
    let table: toml::Table = text.parse().map_err(|e: toml::de::Error| ConfigFileError {
        file: path.display().to_string(),
        line: e
            .span()
            .map(|s| text[..s.start].lines().count().max(1))
            .unwrap_or(0),
        text: String::new(),
        reason: e.message().to_string(),
    })?;
    let mut save_seen = false;
    for (key, value) in table.iter() {
        let name = key.replace('_', "-").to_ascii_lowercase();
        let line = text
            .lines()
            .position(|l| l.trim_start().starts_with(key.as_str()))
            .map(|i| i + 1)
            .unwrap_or(0);
        let fail = |reason: String| ConfigFileError {
            file: path.display().to_string(),
            line,
            text: format!("{key} = {value}"),
            reason,
        };
        if name == "rename-command" {
            // rename_command = { flushall = "", config = "cfg" }
            if let toml::Value::Table(t) = value {
                for (from, to) in t {
                    cfg.renames.push((
                        from.to_ascii_lowercase(),
                        to.as_str().unwrap_or("").to_string(),
                    ));
                }
                continue;
            }
        }
        let args = toml_value_args(cfg, &name, value).map_err(fail)?;
        apply_directive(cfg, &name, &args, &mut save_seen).map_err(fail)?;
        set.push(name);
    }
    Ok(())
}

/// Quotes a string as Redis's sdscatrepr does for config files.
pub fn repr(s: &str) -> String {
    crate::resp::repr(s.as_bytes())
}

fn memory_repr(v: &str) -> String {
    if v.ends_with('%') {
        return v.to_string();
    }
    let n: u64 = v.parse().unwrap_or(0);
    if n != 0 && n.is_multiple_of(1 << 30) {
        format!("{}gb", n >> 30)
    } else if n != 0 && n.is_multiple_of(1 << 20) {
        format!("{}mb", n >> 20)
    } else if n != 0 && n.is_multiple_of(1 << 10) {
        format!("{}kb", n >> 10)
    } else {
        n.to_string()
    }
}

/// The redis.conf lines for one directive's value.
fn conf_lines(spec: &Spec, value: &str) -> Vec<String> {
    let name = &spec.name;
    match (&spec.kind, name.as_str()) {
        (_, "save") => {
            if value.is_empty() {
                vec!["save \"\"".into()]
            } else {
                let w: Vec<&str> = value.split_whitespace().collect();
                w.chunks(2)
                    .map(|c| format!("save {}", c.join(" ")))
                    .collect()
            }
        }
        (_, "client-output-buffer-limit") => {
            let w: Vec<&str> = value.split_whitespace().collect();
            w.chunks(4)
                .map(|c| format!("{} {}", name, c.join(" ")))
                .collect()
        }
        (_, "replicaof") if value.is_empty() => vec![],
        (Kind::Str, _) => vec![format!("{} {}", name, repr(value))],
        (Kind::Memory, _) => vec![format!("{} {}", name, memory_repr(value))],
        _ => vec![format!("{} {}", name, value)],
    }
}

fn toml_line(spec: &Spec, value: &str) -> String {
    let v = match spec.kind {
        Kind::Bool => (value == "yes").to_string(),
        Kind::Int | Kind::Memory => value.to_string(),
        _ => toml::Value::String(value.to_string()).to_string(),
    };
    format!("{} = {}", spec.name, v)
}

/// Rewrites the configuration file: directive lines get the current values in place, later
/// duplicates go, non-default directives missing from the file are appended, comments stay.
pub fn rewrite_file(cfg: &Config) -> std::io::Result<()> {
    let Some(f) = &cfg.file else {
        return Err(std::io::Error::other(
            "The server is running without a config file",
        ));
    };
    let old = std::fs::read_to_string(&f.path).unwrap_or_default();
    let mut out: Vec<String> = Vec::new();
    let mut done: std::collections::HashSet<String> = std::collections::HashSet::new();
    for line in old.lines() {
        let t = line.trim();
        if t.is_empty() || t.starts_with('#') || t.starts_with('[') {
            out.push(line.to_string());
            continue;
        }
        let name = match f.syntax {
            FileSyntax::RedisConf => split_args(t.as_bytes())
                .and_then(|w| w.into_iter().next())
                .map(|w| String::from_utf8_lossy(&w).to_ascii_lowercase()),
            FileSyntax::Toml => t.split('=').next().map(|k| {
                k.trim()
                    .trim_matches('"')
                    .replace('_', "-")
                    .to_ascii_lowercase()
            }),
        };
        let Some(name) = name else {
            out.push(line.to_string());
            continue;
        };
        let Some(spec) = cfg.spec(&name).cloned() else {
            out.push(line.to_string());
            continue;
        };
        if done.contains(&spec.name) {
            continue;
        }
        done.insert(spec.name.clone());
        let value = cfg.get_shown(&spec.name);
        match f.syntax {
            FileSyntax::RedisConf => out.extend(conf_lines(&spec, &value)),
            FileSyntax::Toml => out.push(toml_line(&spec, &value)),
        }
    }
    let mut appended = false;
    for (spec, value) in cfg.non_default() {
        if done.contains(&spec.name)
            || spec.name == "log-format" && f.syntax == FileSyntax::RedisConf && value == "text"
        {
            continue;
        }
        if !appended {
            out.push("# Generated by CONFIG REWRITE".into());
            appended = true;
        }
        match f.syntax {
            FileSyntax::RedisConf => out.extend(conf_lines(spec, &value)),
            FileSyntax::Toml => out.push(toml_line(spec, &value)),
        }
    }
    let mut text = out.join("\n");
    text.push('\n');
    atomic_write(&f.path, text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::node_specs;

    #[test]
    fn redis_conf_load_and_rewrite() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("redis.conf");
        std::fs::write(
            &p,
            "# comment\nport 7000\nsave 900 1\nsave 300 10\nmaxmemory 1gb\nport 7001\n",
        )
        .unwrap();
        let mut c = Config::new(node_specs());
        load_file(&mut c, &p).unwrap();
        assert_eq!(c.get("port"), "7001");
        assert_eq!(c.get("save"), "900 1 300 10");
        c.set_str("port", "7002").unwrap();
        c.set_str("appendonly", "yes").unwrap();
        rewrite_file(&c).unwrap();
        let t = std::fs::read_to_string(&p).unwrap();
        assert_eq!(t, "# comment\nport 7002\nsave 900 1\nsave 300 10\nmaxmemory 1gb\n# Generated by CONFIG REWRITE\nappendonly yes\n");
    }

    #[test]
    fn toml_load_with_durations() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("node.toml");
        std::fs::write(
            &p,
            "port = 7000\ntimeout = \"5m\"\nappendonly = true\nmaxmemory = \"100mb\"\n",
        )
        .unwrap();
        let mut c = Config::new(node_specs());
        load_file(&mut c, &p).unwrap();
        assert_eq!(c.get("timeout"), "300");
        assert_eq!(c.get("appendonly"), "yes");
        assert_eq!(c.get("maxmemory"), "104857600");
        c.set_str("port", "7005").unwrap();
        rewrite_file(&c).unwrap();
        assert!(std::fs::read_to_string(&p).unwrap().contains("port = 7005"));
    }

    #[test]
    fn bad_directive_reports_line() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("redis.conf");
        std::fs::write(&p, "port 7000\nport abc\n").unwrap();
        let mut c = Config::new(node_specs());
        let e = load_file(&mut c, &p).unwrap_err();
        assert_eq!(e.line, 2);
        assert_eq!(e.reason, "argument couldn't be parsed into an integer");
        std::fs::write(&p, "nosuch 1\n").unwrap();
        assert_eq!(
            load_file(&mut c, &p).unwrap_err().reason,
            "Bad directive or wrong number of arguments"
        );
    }

    #[test]
    fn cli_args() {
        let a: Vec<String> = [
            "x.conf",
            "--port",
            "7000",
            "--replicaof",
            "127.0.0.1",
            "6379",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let c = parse_cli_args(&a);
        assert_eq!(c.config_file.unwrap().to_str().unwrap(), "x.conf");
        assert_eq!(
            c.directives[1],
            ("replicaof".into(), vec!["127.0.0.1".into(), "6379".into()])
        );
    }
}
