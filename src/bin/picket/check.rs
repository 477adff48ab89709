//! `picket check FILE...`: validates node and sentinel configuration files (TOML or
//! redis.conf syntax) with the servers' own loaders (`picket-node --check-config`,
//! `picket-sentinel --check-config`), so a file passes here exactly when the server would
//! start with it; every error in a file comes back (the loader runs again with each erroneous
//! line set aside) with its file, line, the line itself, the reason, and
//! what to write instead.

use std::path::{Path, PathBuf};
use std::process::Command;

use clap::{Args, ValueEnum};
use serde::Serialize;

use crate::group::{Binaries, Kind};
use crate::term::Style;
use crate::Failure;

#[derive(Args)]
pub struct CheckArgs {
    /// Configuration files (node.conf, sentinel.conf, *.toml).
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// What the files configure [default: a file with `sentinel` directives or a
    /// `[sentinel]` table is a sentinel's, any other a node's].
    #[arg(long, value_enum)]
    kind: Option<FileKind>,
    /// Machine-readable output (JSON).
    #[arg(long)]
    json: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FileKind {
    Node,
    Sentinel,
}

/// The verdict on one file: every error the loader finds in it, in line order.
#[derive(Debug, Serialize)]
pub struct Verdict {
    pub file: String,
    pub kind: FileKind,
    pub ok: bool,
    pub errors: Vec<ConfigError>,
    pub warnings: Vec<String>,
}

/// One refusal of the loader: where, the line itself, why, and what to write instead.
#[derive(Debug, Default, Serialize)]
pub struct ConfigError {
    pub line: Option<usize>,
    pub text: Option<String>,
    pub reason: Option<String>,
    pub hint: Option<String>,
}

/// A file with more errors than this is reported up to here.
const MAX_ERRORS: usize = 50;

pub fn run(a: &CheckArgs) -> Result<(), Failure> {
    let bins = Binaries::find(Kind::Picket)?;
    let style = Style::detect();
    let mut verdicts = Vec::new();
    for f in &a.files {
        let text = std::fs::read_to_string(f)
            .map_err(|e| Failure::failed(format!("{}: {e}", f.display())))?;
        let kind = a.kind.unwrap_or_else(|| detect(&text));
        let bin = match kind {
            FileKind::Node => &bins.node,
            FileKind::Sentinel => &bins.sentinel,
        };
        verdicts.push(check_file(bin, f, kind)?);
    }
    if a.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&verdicts).unwrap_or_default()
        );
    } else {
        for v in &verdicts {
            print!("{}", render(v, style));
        }
    }
    if verdicts.iter().all(|v| v.ok) {
        Ok(())
    } else {
        Err(Failure::failed(format!(
            "{} of {} files have errors",
            verdicts.iter().filter(|v| !v.ok).count(),
            verdicts.len()
        )))
    }
}

/// A sentinel's file names sentinel directives or tables.
pub fn detect(text: &str) -> FileKind {
    let sentinel = text.lines().map(str::trim).any(|l| {
        l.to_ascii_lowercase().starts_with("sentinel ")
            || l.starts_with("[sentinel")
            || l.starts_with("[[sentinel")
    });
    if sentinel {
        FileKind::Sentinel
    } else {
        FileKind::Node
    }
}

/// Runs the server's loader on a copy of the file; after each error at a line, that line is
/// commented out in the copy and the loader runs again, so one check reports every error
/// (up to [`MAX_ERRORS`]). An error with no line, or at a line already reported, ends it.
fn check_file(bin: &Path, file: &Path, kind: FileKind) -> Result<Verdict, Failure> {
    // The sentinel needs its file writable, as it would at start; a copy keeps the
    // original untouched whatever the loader does.
    let dir = tempfile::tempdir().map_err(|e| Failure::env(e.to_string()))?;
    let abs = std::fs::canonicalize(file).unwrap_or_else(|_| file.to_path_buf());
    let ext = file.extension().and_then(|e| e.to_str()).unwrap_or("conf");
    let copy = dir.path().join(format!("checked.{ext}"));
    let mut lines: Vec<String> = std::fs::read_to_string(&abs)
        .map_err(|e| Failure::env(format!("{}: {e}", file.display())))?
        .lines()
        .map(String::from)
        .collect();
    let mut v = Verdict {
        file: file.display().to_string(),
        kind,
        ok: false,
        errors: Vec::new(),
        warnings: Vec::new(),
    };
    loop {
        std::fs::write(&copy, lines.join("\n") + "\n")
            .map_err(|e| Failure::env(format!("{}: {e}", copy.display())))?;
        let out = Command::new(bin)
            .arg(&copy)
            .arg("--check-config")
            .current_dir(abs.parent().unwrap_or(Path::new(".")))
            .output()
            .map_err(|e| Failure::env(format!("running {}: {e}", bin.display())))?;
        if v.errors.is_empty() {
            v.warnings = String::from_utf8_lossy(&out.stdout)
                .lines()
                .filter_map(|l| l.strip_prefix("warning: "))
                .map(String::from)
                .collect();
        }
        if out.status.success() {
            break;
        }
        let mut e = parse_fatal(&String::from_utf8_lossy(&out.stderr));
        e.hint = hint(
            e.reason.as_deref().unwrap_or(""),
            e.text.as_deref().unwrap_or(""),
            kind,
        );
        let next = e
            .line
            .filter(|l| (1..=lines.len()).contains(l))
            .filter(|l| v.errors.iter().all(|seen| seen.line != Some(*l)));
        v.errors.push(e);
        match next {
            Some(l) if v.errors.len() < MAX_ERRORS => lines[l - 1] = "#".into(),
            _ => break,
        }
    }
    v.errors.sort_by_key(|e| e.line.unwrap_or(usize::MAX));
    v.ok = v.errors.is_empty();
    Ok(v)
}

/// Reads Redis's "FATAL CONFIG FILE ERROR" block (or any other refusal) into an error.
fn parse_fatal(stderr: &str) -> ConfigError {
    let mut e = ConfigError::default();
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    for (i, l) in lines.iter().enumerate() {
        if let Some(rest) = l.split(", at line ").nth(1) {
            e.line = rest.trim().parse().ok();
        }
        if let Some(t) = l.strip_prefix(">>> '") {
            e.text = Some(t.trim_end_matches('\'').to_string());
            e.reason = lines.get(i + 1).map(|r| r.to_string());
        }
    }
    if e.reason.is_none() {
        e.reason = Some(
            lines
                .last()
                .map_or("refused to start".into(), |l| l.to_string()),
        );
    }
    e
}

/// What to write instead, for the errors people make most.
fn hint(reason: &str, text: &str, kind: FileKind) -> Option<String> {
    let name = text.split_whitespace().next().unwrap_or("");
    if reason.contains("Bad directive") {
        let known = known_names(kind);
        let close = known
            .iter()
            .filter(|k| edit_distance(k, &name.to_ascii_lowercase()) <= 2)
            .min_by_key(|k| edit_distance(k, &name.to_ascii_lowercase()));
        return Some(match close {
            Some(k) if k.as_str() != name => format!("did you mean '{k}'?"),
            _ => format!("'{name}' is not a directive, or it takes a different number of arguments; see conf/ for commented examples"),
        });
    }
    if reason.contains("yes' or 'no'") {
        return Some(format!("write: {name} yes   (or: {name} no)"));
    }
    if reason.contains("Unbalanced quotes") {
        return Some("close the quote, or escape a quote inside the value as \\\"".into());
    }
    if reason.contains("non existing or non executable") {
        return Some("a relative script path is read from `dir`; give an absolute path, and chmod +x the script".into());
    }
    None
}

fn known_names(kind: FileKind) -> Vec<String> {
    let mut names: Vec<String> = picket::config::node_specs()
        .into_iter()
        .map(|s| s.name)
        .collect();
    if kind == FileKind::Sentinel {
        names.push("sentinel".into());
    }
    names
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

fn render(v: &Verdict, style: Style) -> String {
    let kind = match v.kind {
        FileKind::Node => "node",
        FileKind::Sentinel => "sentinel",
    };
    let mut out = String::new();
    if v.ok {
        out.push_str(&format!(
            "{} {} ({kind} configuration)\n",
            style.green("ok"),
            v.file
        ));
    }
    for e in &v.errors {
        let at = e.line.map_or(String::new(), |l| format!(":{l}"));
        out.push_str(&format!(
            "{} {}{at}: {}\n",
            style.red("error"),
            v.file,
            e.reason.as_deref().unwrap_or("")
        ));
        if let Some(t) = &e.text {
            out.push_str(&format!("    {} {t}\n", style.dim(">>>")));
        }
        if let Some(h) = &e.hint {
            out.push_str(&format!("    {} {h}\n", style.yellow("hint:")));
        }
    }
    for w in &v.warnings {
        out.push_str(&format!("    {} {w}\n", style.yellow("warning:")));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sentinel_files_are_told_from_node_files() {
        assert_eq!(
            detect("port 1\nsentinel monitor m 127.0.0.1 1 2\n"),
            FileKind::Sentinel
        );
        assert_eq!(
            detect("[[sentinel.monitor]]\nname = \"m\"\n"),
            FileKind::Sentinel
        );
        assert_eq!(detect("port 7000\nappendonly yes\n"), FileKind::Node);
    }

    #[test]
    fn a_misspelt_directive_gets_the_right_name() {
        let h = hint(
            "Bad directive or wrong number of arguments",
            "apendonly yes",
            FileKind::Node,
        );
        assert_eq!(h.as_deref(), Some("did you mean 'appendonly'?"));
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }

    #[test]
    fn the_fatal_block_is_read_into_line_text_and_reason() {
        let err = "\n*** FATAL CONFIG FILE ERROR (Redis 7.0.15) ***\nReading the configuration file x.conf, at line 3\n>>> 'apendonly yes'\nBad directive or wrong number of arguments\n";
        let v = parse_fatal(err);
        assert_eq!(v.line, Some(3));
        assert_eq!(v.text.as_deref(), Some("apendonly yes"));
        assert_eq!(
            v.reason.as_deref(),
            Some("Bad directive or wrong number of arguments")
        );
    }
}
