//! Durable file replacement: write a temp file beside the target, fsync it, rename it over the
//! target, then fsync the directory so the rename itself survives a crash.

use std::io::Write;
use std::path::Path;

pub fn atomic_write(path: &Path, data: &[u8]) -> std::io::Result<()> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    atomic_write_with(
        path,
        &format!(".{}.tmp-{}", name, std::process::id()),
        |f| f.write_all(data),
    )
}

/// Like [`atomic_write`], with the contents streamed by `fill` into a buffered temp file named
/// `tmp_name` in the target's directory.
pub fn atomic_write_with(
    path: &Path,
    tmp_name: &str,
    fill: impl FnOnce(&mut std::io::BufWriter<std::fs::File>) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let tmp = write_temp(path, tmp_name, fill)?;
    commit_temp(&tmp, path)
}

/// The first half of [`atomic_write_with`]: the temp file written by `fill` and fsynced, its
/// path returned (removed again when anything failed). Nothing replaces `path` until
/// [`commit_temp`], so a caller can decide at the last moment whether to keep it.
pub fn write_temp(
    path: &Path,
    tmp_name: &str,
    fill: impl FnOnce(&mut std::io::BufWriter<std::fs::File>) -> std::io::Result<()>,
) -> std::io::Result<std::path::PathBuf> {
    let tmp = dir_of(path).join(tmp_name);
    let res = (|| {
        let mut w = std::io::BufWriter::with_capacity(1 << 16, std::fs::File::create(&tmp)?);
        fill(&mut w)?;
        let f = w.into_inner().map_err(|e| e.into_error())?;
        f.sync_all()
    })();
    match res {
        Ok(()) => Ok(tmp),
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            Err(e)
        }
    }
}

/// The second half: the temp file renamed over `path` and the directory fsynced (the temp
/// file removed if the rename fails).
pub fn commit_temp(tmp: &Path, path: &Path) -> std::io::Result<()> {
    if let Err(e) = std::fs::rename(tmp, path) {
        let _ = std::fs::remove_file(tmp);
        return Err(e);
    }
    std::fs::File::open(dir_of(path))?.sync_all()
}

fn dir_of(path: &Path) -> &Path {
    path.parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

/// An I/O error as C's `strerror` words it (Redis's error texts embed it): the message
/// without Rust's ` (os error N)` suffix.
pub fn strerror(e: &std::io::Error) -> String {
    let s = e.to_string();
    match s.rfind(" (os error ") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}
