//! The shebang line of a script (`#!lua flags=no-writes,allow-oom`) and the flags it gives,
//! with Redis 7.0's rules and error texts.

/// How a script may run. A script without a shebang runs in Redis's compatibility mode
/// (`shebang` false): it may write, and each command it runs is checked on its own.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ScriptFlags {
    pub shebang: bool,
    pub no_writes: bool,
    pub allow_oom: bool,
    pub allow_stale: bool,
    pub no_cluster: bool,
    pub allow_cross_slot_keys: bool,
}

impl ScriptFlags {
    /// Sets one named flag (FUNCTION's `flags = {...}` and the shebang share the names).
    pub fn set(&mut self, name: &str) -> bool {
        match name {
            "no-writes" => self.no_writes = true,
            "allow-oom" => self.allow_oom = true,
            "allow-stale" => self.allow_stale = true,
            "no-cluster" => self.no_cluster = true,
            "allow-cross-slot-keys" => self.allow_cross_slot_keys = true,
            _ => return false,
        }
        true
    }

    /// The names of the flags set, in Redis's order (FUNCTION LIST).
    pub fn names(&self) -> Vec<&'static str> {
        let mut v = Vec::new();
        for (on, name) in [
            (self.no_writes, "no-writes"),
            (self.allow_oom, "allow-oom"),
            (self.allow_stale, "allow-stale"),
            (self.no_cluster, "no-cluster"),
            (self.allow_cross_slot_keys, "allow-cross-slot-keys"),
        ] {
            if on {
                v.push(name);
            }
        }
        v
    }
}

/// Reads a script's shebang: `Ok(None)` when it has none, the error text (without `ERR `)
/// when it is not one Redis accepts.
pub fn parse(body: &[u8]) -> Result<Option<ScriptFlags>, String> {
    if !body.starts_with(b"#!") {
        return Ok(None);
    }
    let end = body.iter().position(|&c| c == b'\n').unwrap_or(body.len());
    let line = String::from_utf8_lossy(&body[..end]);
    let mut parts = line.split(' ').filter(|p| !p.is_empty());
    let engine = parts.next().unwrap_or("");
    if engine != "#!lua" {
        return Err(format!("Unexpected engine in script shebang: {engine}"));
    }
    let mut flags = ScriptFlags {
        shebang: true,
        ..Default::default()
    };
    for part in parts {
        let Some(list) = part.strip_prefix("flags=") else {
            return Err(format!("Unknown lua shebang option: {part}"));
        };
        for f in list.split(',').filter(|f| !f.is_empty()) {
            if !flags.set(f) {
                return Err(format!("Unexpected flag in script shebang: {f}"));
            }
        }
    }
    Ok(Some(flags))
}

/// The body Lua compiles: the shebang line becomes a comment, so line numbers stay.
pub fn lua_source(body: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    if body.starts_with(b"#!") {
        let mut v = body.to_vec();
        v[0] = b'-';
        v[1] = b'-';
        std::borrow::Cow::Owned(v)
    } else {
        std::borrow::Cow::Borrowed(body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redis_texts() {
        assert_eq!(parse(b"return 1"), Ok(None));
        assert!(parse(b"#!lua\nreturn 1").unwrap().unwrap().shebang);
        let f = parse(b"#!lua flags=no-writes,allow-oom\nreturn 1")
            .unwrap()
            .unwrap();
        assert!(f.no_writes && f.allow_oom && !f.allow_stale);
        assert_eq!(
            parse(b"#!lua flags=xx\n").unwrap_err(),
            "Unexpected flag in script shebang: xx"
        );
        assert_eq!(
            parse(b"#!lua x=1\n").unwrap_err(),
            "Unknown lua shebang option: x=1"
        );
        assert_eq!(
            parse(b"#!luax\n").unwrap_err(),
            "Unexpected engine in script shebang: #!luax"
        );
    }
}
