//! The AOF manifest (`<appendfilename>.manifest` in `appenddirname/`): one line per file,
//! `file <name> seq <n> type b|h|i`, read as strictly as Redis 7.0 reads it (a blank line, a
//! missing key, an odd key count, a line of 1024 bytes or more, two bases, incr files out of
//! order, an unknown type or an empty manifest stop the load with Redis's words); written
//! atomically, names with spaces or control characters quoted. Also the upgrade of an
//! old-style single AOF (`dir/<appendfilename>`, Redis 6 and earlier) into the directory.

use std::io::Write;
use std::path::{Path, PathBuf};

/// A file the manifest lists: name, sequence, type (`b` base, `h` history, `i` incr).
pub(crate) type Entry = (String, u64, char);

/// A file the manifest lists: name and sequence number.
pub(crate) type Listed = (String, u64);

/// Redis reads manifest lines into a buffer of this size.
const MAX_LINE: usize = 1024;

pub(crate) fn manifest_path(dir: &Path, base_name: &str) -> PathBuf {
    dir.join(format!("{base_name}.manifest"))
}

/// The files of a manifest, or Redis's reason for refusing it.
pub(crate) fn parse_manifest(text: &str) -> Result<Vec<Entry>, String> {
    const INVALID: &str = "Invalid AOF manifest file format";
    let mut v: Vec<Entry> = Vec::new();
    for line in text.split_inclusive('\n') {
        if line.trim_end_matches('\n').len() >= MAX_LINE {
            return Err("The AOF manifest file contains too long line".into());
        }
        if line.starts_with('#') {
            continue;
        }
        let trimmed = line.trim_matches(|c| matches!(c, ' ' | '\t' | '\r' | '\n'));
        let w = picket::resp::split_args(trimmed.as_bytes()).ok_or(INVALID)?;
        if w.len() < 6 || w.len() % 2 == 1 {
            return Err(INVALID.into());
        }
        let (mut name, mut seq, mut typ) = (None, None, None);
        for kv in w.chunks(2) {
            match &kv[0][..] {
                b"file" => name = Some(String::from_utf8_lossy(&kv[1]).into_owned()),
                b"seq" => {
                    seq = std::str::from_utf8(&kv[1])
                        .ok()
                        .and_then(|s| s.parse().ok())
                }
                b"type" => typ = kv[1].first().map(|c| *c as char),
                _ => {}
            }
        }
        let (Some(name), Some(seq), Some(typ)) = (name, seq, typ) else {
            return Err(INVALID.into());
        };
        match typ {
            'b' if v.iter().any(|e| e.2 == 'b') => {
                return Err("Found duplicate base file information".into())
            }
            'i' if v.iter().rfind(|e| e.2 == 'i').is_some_and(|e| e.1 >= seq) => {
                return Err("Found a non-monotonic sequence number".into())
            }
            'b' | 'h' | 'i' => v.push((name, seq, typ)),
            _ => return Err("Unknown AOF file type".into()),
        }
    }
    if v.is_empty() {
        return Err("Found an empty AOF manifest".into());
    }
    Ok(v)
}

/// The files the manifest in `dir` lists now (none when there is no readable manifest): what
/// a first rewrite numbers after and removes once its own manifest replaces it.
pub(crate) fn listed_on_disk(dir: &Path, base_name: &str) -> Vec<Listed> {
    std::fs::read_to_string(manifest_path(dir, base_name))
        .ok()
        .and_then(|t| parse_manifest(&t).ok())
        .map(|v| v.into_iter().map(|(n, s, _)| (n, s)).collect())
        .unwrap_or_default()
}

/// The sequence for new files in `dir`: after the highest the manifest there lists, 1 when
/// there is none.
pub(crate) fn next_seq_on_disk(dir: &Path, base_name: &str) -> u64 {
    listed_on_disk(dir, base_name)
        .iter()
        .map(|f| f.1)
        .max()
        .unwrap_or(0)
        + 1
}

/// A name as the manifest writes it: quoted (Redis's repr) when it has a space, a quote, a
/// backslash or a byte that is not printable.
fn manifest_name(n: &str) -> String {
    if n.bytes()
        .all(|c| c.is_ascii_graphic() && c != b'"' && c != b'\\' && c != b'\'')
    {
        n.to_string()
    } else {
        picket::resp::repr(n.as_bytes())
    }
}

/// Writes the manifest (atomically): the base, then the incr files, oldest first.
pub(crate) fn write_manifest(
    dir: &Path,
    base_name: &str,
    base: Option<&Listed>,
    incrs: &[Listed],
) -> std::io::Result<()> {
    let mut text = String::new();
    if let Some((n, s)) = base {
        text.push_str(&format!("file {} seq {s} type b\n", manifest_name(n)));
    }
    for (n, s) in incrs {
        text.push_str(&format!("file {} seq {s} type i\n", manifest_name(n)));
    }
    picket::fsutil::atomic_write_with(
        &manifest_path(dir, base_name),
        &format!("temp-{base_name}.manifest"),
        |f| f.write_all(text.as_bytes()),
    )
}

/// Start-up: an old-style AOF `server_dir/<base_name>` moves into `aof_dir` as the base (seq 1)
/// when there is no AOF directory or manifest yet, or when an upgrade was cut off between
/// writing the manifest and moving the file. The manifest is written first, then the file is
/// renamed, so a crash at any point resumes here. Returns the manifest's files after it.
pub(crate) fn upgrade_old_style(
    server_dir: &Path,
    aof_dir: &Path,
    base_name: &str,
    mut files: Vec<Entry>,
) -> Result<Vec<Entry>, String> {
    let old = server_dir.join(base_name);
    if !old.is_file() {
        return Ok(files);
    }
    let base = files.iter().find(|f| f.2 == 'b');
    let interrupted = base.is_some_and(|b| b.0 == base_name)
        && !files.iter().any(|f| f.2 == 'i')
        && !aof_dir.join(base_name).exists();
    if aof_dir.is_dir() && !files.is_empty() && !interrupted {
        return Ok(files);
    }
    let fail = |e: std::io::Error| format!("Can't upgrade the old-style AOF {base_name}: {e}");
    std::fs::create_dir_all(aof_dir).map_err(fail)?;
    if base.is_none() {
        files.insert(0, (base_name.to_string(), 1, 'b'));
    }
    let listed = |t: char| -> Vec<Listed> {
        files
            .iter()
            .filter(|f| f.2 == t)
            .map(|f| (f.0.clone(), f.1))
            .collect()
    };
    write_manifest(aof_dir, base_name, listed('b').first(), &listed('i')).map_err(fail)?;
    std::fs::rename(&old, aof_dir.join(base_name)).map_err(fail)?;
    std::fs::File::open(aof_dir)
        .and_then(|d| d.sync_all())
        .map_err(fail)?;
    tracing::info!("Successfully migrated an old-style AOF into the AOF directory");
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifests_are_refused_as_redis_refuses_them() {
        let ok = "file a.1.base.rdb seq 1 type b\nfile a.1.incr.aof seq 1 type i newkey v\n";
        assert_eq!(parse_manifest(ok).unwrap().len(), 2);
        for (text, why) in [
            ("", "Found an empty AOF manifest"),
            ("# only a comment\n", "Found an empty AOF manifest"),
            (
                "file a seq 1 type i\n\nfile b seq 3 type i\n",
                "Invalid AOF manifest file format",
            ),
            ("filx a seq 1 type b\n", "Invalid AOF manifest file format"),
            ("file a type i\n", "Invalid AOF manifest file format"),
            (
                "file a seq 1 type i x\n",
                "Invalid AOF manifest file format",
            ),
            (
                "file a seq 1 type b\nfile b seq 2 type b\n",
                "Found duplicate base file information",
            ),
            (
                "file a seq 2 type i\nfile b seq 1 type i\n",
                "Found a non-monotonic sequence number",
            ),
            ("file a seq 1 type x\n", "Unknown AOF file type"),
        ] {
            assert_eq!(parse_manifest(text).unwrap_err(), why, "{text:?}");
        }
        let long = "file a seq 1 type b ".repeat(60) + "\n";
        assert_eq!(
            parse_manifest(&long).unwrap_err(),
            "The AOF manifest file contains too long line"
        );
    }

    #[test]
    fn names_with_spaces_are_quoted_and_read_back() {
        let name = " file seq \n\n.aof .2.base.rdb";
        assert_eq!(manifest_name(name), "\" file seq \\n\\n.aof .2.base.rdb\"");
        let line = format!("file {} seq 2 type b\n", manifest_name(name));
        assert_eq!(parse_manifest(&line).unwrap()[0].0, name);
        assert_eq!(
            manifest_name("appendonly.aof.1.incr.aof"),
            "appendonly.aof.1.incr.aof"
        );
    }
}
