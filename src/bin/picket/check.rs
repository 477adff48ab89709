//! `picket check FILE...`: validates node and sentinel configuration files (TOML or
//! redis.conf syntax) with the servers' own loaders (`picket-node --check-config`,
//! `picket-sentinel --check-config`), so a file passes here exactly when the server would
//! start with it; each error comes back with its file, line, the line itself, the reason, and
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

/// The verdict on one file.
#[derive(Debug, Serialize)]
pub struct Verdict {
    pub file: String,
    pub kind: FileKind,
    pub ok: bool,
    pub line: Option<usize>,
    pub text: Option<String>,
    pub reason: Option<String>,
    pub hint: Option<String>,
    pub warnings: Vec<String>,
}

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

fn check_file(bin: &Path, file: &Path, kind: FileKind) -> Result<Verdict, Failure> {
    // The sentinel needs its file writable, as it would at start; a copy keeps the
    // original untouched whatever the loader does.
    let dir = tempfile::tempdir().map_err(|e| Failure::env(e.to_string()))?;
    let abs = std::fs::canonicalize(file).unwrap_or_else(|_| file.to_path_buf());
    let ext = file.extension().and_then(|e| e.to_str()).unwrap_or("conf");
    let copy = dir.path().join(format!("checked.{ext}"));
    std::fs::copy(&abs, &copy).map_err(|e| Failure::env(format!("{}: {e}", file.display())))?;
    let out = Command::new(bin)
        .arg(&copy)
        .arg("--check-config")
        .current_dir(abs.parent().unwrap_or(Path::new(".")))
        .output()
        .map_err(|e| Failure::env(format!("running {}: {e}", bin.display())))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let mut v = Verdict {
        file: file.display().to_string(),
        kind,
        ok: out.status.success(),
        line: None,
        text: None,
        reason: None,
        hint: None,
        warnings: stdout
            .lines()
            .filter_map(|l| l.strip_prefix("warning: "))
            .map(String::from)
            .collect(),
    };
    if !v.ok {
        parse_fatal(&stderr, &mut v);
        v.hint = hint(
            v.reason.as_deref().unwrap_or(""),
            v.text.as_deref().unwrap_or(""),
            kind,
        );
    }
    Ok(v)
}

/// Reads Redis's "FATAL CONFIG FILE ERROR" block (or any other refusal) into the verdict.
fn parse_fatal(stderr: &str, v: &mut Verdict) {
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    for (i, l) in lines.iter().enumerate() {
        if let Some(rest) = l.split(", at line ").nth(1) {
            v.line = rest.trim().parse().ok();
        }
        if let Some(t) = l.strip_prefix(">>> '") {
            v.text = Some(t.trim_end_matches('\'').to_string());
            v.reason = lines.get(i + 1).map(|r| r.to_string());
        }
    }
    if v.reason.is_none() {
        v.reason = Some(
            lines
                .last()
                .map_or("refused to start".into(), |l| l.to_string()),
        );
    }
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
    } else {
        let at = v.line.map_or(String::new(), |l| format!(":{l}"));
        out.push_str(&format!(
            "{} {}{at}: {}\n",
            style.red("error"),
            v.file,
            v.reason.as_deref().unwrap_or("")
        ));
        if let Some(t) = &v.text {
            out.push_str(&format!("    {} {t}\n", style.dim(">>>")));
        }
        if let Some(h) = &v.hint {
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
        let mut v = Verdict {
            file: "x".into(),
            kind: FileKind::Node,
            ok: false,
            line: None,
            text: None,
            reason: None,
            hint: None,
            warnings: vec![],
        };
        parse_fatal(err, &mut v);
        assert_eq!(v.line, Some(3));
        assert_eq!(v.text.as_deref(), Some("apendonly yes"));
        assert_eq!(
            v.reason.as_deref(),
            Some("Bad directive or wrong number of arguments")
        );
    }
}
