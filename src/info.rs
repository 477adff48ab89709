//! Building INFO replies: section selection as Redis 7.0 does it (several sections, `default`,
//! `all`, `everything`), `# Name` headers, `key:value` lines joined by CRLF.

/// Which sections an INFO call asked for.
#[derive(Debug, Clone)]
pub struct InfoSelection {
    names: Vec<String>,
    all: bool,
    default: bool,
}

impl InfoSelection {
    pub fn from_args(args: &[&[u8]]) -> Self {
        let mut names: Vec<String> = args
            .iter()
            .map(|a| String::from_utf8_lossy(a).to_ascii_lowercase())
            .collect();
        let all = names.iter().any(|n| n == "all" || n == "everything");
        let default = names.is_empty() || names.iter().any(|n| n == "default");
        names.retain(|n| n != "default" && n != "all" && n != "everything");
        InfoSelection {
            names,
            all,
            default,
        }
    }

    /// Whether `section` is wanted; `in_default` says if it is part of the default set.
    pub fn wants(&self, section: &str, in_default: bool) -> bool {
        self.all || (self.default && in_default) || self.names.iter().any(|n| n == section)
    }

    /// `everything` also asks for commandstats and latencystats.
    pub fn wants_extended(&self, section: &str) -> bool {
        self.names.iter().any(|n| n == section)
    }
}

/// Accumulates sections.
#[derive(Debug, Default)]
pub struct InfoBuilder {
    pub text: String,
}

impl InfoBuilder {
    /// Appends a section with its header and fields.
    pub fn section(&mut self, title: &str, fields: &[(&str, String)]) {
        if !self.text.is_empty() {
            self.text.push_str("\r\n");
        }
        self.text.push_str("# ");
        self.text.push_str(title);
        self.text.push_str("\r\n");
        for (k, v) in fields {
            self.text.push_str(k);
            self.text.push(':');
            self.text.push_str(v);
            self.text.push_str("\r\n");
        }
    }

    /// The `# CPU` section, as Redis 7.0 prints it (Picket has no child processes yet).
    pub fn cpu_section(&mut self) {
        let (sys, user) = cpu_times();
        self.section(
            "CPU",
            &[
                ("used_cpu_sys", format!("{sys:.6}")),
                ("used_cpu_user", format!("{user:.6}")),
                ("used_cpu_sys_children", "0.000000".into()),
                ("used_cpu_user_children", "0.000000".into()),
                ("used_cpu_sys_main_thread", format!("{sys:.6}")),
                ("used_cpu_user_main_thread", format!("{user:.6}")),
            ],
        );
    }

    /// Appends a section whose lines are given ready-made.
    pub fn section_lines(&mut self, title: &str, lines: &[String]) {
        if !self.text.is_empty() {
            self.text.push_str("\r\n");
        }
        self.text.push_str("# ");
        self.text.push_str(title);
        self.text.push_str("\r\n");
        for l in lines {
            self.text.push_str(l);
            self.text.push_str("\r\n");
        }
    }
}

/// (system, user) CPU seconds of this process, for INFO cpu.
pub fn cpu_times() -> (f64, f64) {
    // SAFETY: getrusage only writes into the struct passed to it.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    let t = |tv: libc::timeval| tv.tv_sec as f64 + tv.tv_usec as f64 / 1e6;
    (t(ru.ru_stime), t(ru.ru_utime))
}

/// Redis's human byte count (`1.50K`, `919.66K`, `6.49M`).
pub fn bytes_human(n: u64) -> String {
    let d = n as f64;
    if n < 1024 {
        format!("{n}B")
    } else if d < 1024.0 * 1024.0 {
        format!("{:.2}K", d / 1024.0)
    } else if d < 1024.0 * 1024.0 * 1024.0 {
        format!("{:.2}M", d / (1024.0 * 1024.0))
    } else if d < 1024.0f64.powi(4) {
        format!("{:.2}G", d / 1024.0f64.powi(3))
    } else {
        format!("{:.2}T", d / 1024.0f64.powi(4))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selection() {
        let s = InfoSelection::from_args(&[]);
        assert!(s.wants("server", true));
        assert!(!s.wants("commandstats", false));
        let s = InfoSelection::from_args(&[b"REPLICATION"]);
        assert!(s.wants("replication", true));
        assert!(!s.wants("server", true));
        assert_eq!(bytes_human(941728), "919.66K");
    }
}
