//! Configuration: a table of directives (name, aliases, kind, default), one store of current
//! values in their canonical CONFIG GET form, loaders for redis.conf syntax, TOML and
//! command-line flags, and CONFIG REWRITE in the file's own syntax.
//!
//! Values are kept as canonical strings (what CONFIG GET prints); typed accessors parse them.
//! Validation and error texts follow Redis 7.0's CONFIG SET.

mod file;
mod value;

pub use file::{
    apply_directive, load_file, parse_cli_args, repr as file_repr, rewrite_file, CliArgs,
    ConfigFileError, FileSyntax, LoadedFile,
};
pub use value::{parse_memory, validate};

use crate::glob::glob_match;
use std::collections::{BTreeMap, HashMap};

/// How a directive's value is checked and printed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    Bool,
    Int,
    /// A byte count that accepts `kb`, `mb`, `gb` suffixes.
    Memory,
    Enum(Vec<String>),
    Str,
    /// Parsed by a directive-specific rule in [`value::validate`].
    Special,
}

#[derive(Debug, Clone)]
pub struct Spec {
    pub name: String,
    pub aliases: Vec<String>,
    pub kind: Kind,
    pub immutable: bool,
    /// Redis's testing directives: CONFIG GET shows them only when asked by exact name.
    pub hidden: bool,
    pub default: String,
}

/// Parses a directive table: one `name|aliases|kind|flags|default` per line.
pub fn parse_spec_table(text: &str) -> Vec<Spec> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let f: Vec<&str> = l.splitn(5, '|').collect();
            let kind = match f[2] {
                "bool" => Kind::Bool,
                "int" => Kind::Int,
                "memory" => Kind::Memory,
                "string" => Kind::Str,
                "special" => Kind::Special,
                e if e.starts_with("enum:") => {
                    Kind::Enum(e[5..].split(',').map(String::from).collect())
                }
                other => panic!("bad directive kind {other} in the built-in table"),
            };
            Spec {
                name: f[0].to_string(),
                aliases: f[1]
                    .split(',')
                    .filter(|s| !s.is_empty())
                    .map(String::from)
                    .collect(),
                kind,
                immutable: f[3].contains("immutable"),
                hidden: f[3].contains("hidden"),
                default: f[4].to_string(),
            }
        })
        .collect()
}

/// The node's directive table (every directive Redis 7.0's CONFIG GET lists, plus Picket's).
pub fn node_specs() -> Vec<Spec> {
    parse_spec_table(include_str!("node_directives.txt"))
}

/// Directives that redis.conf accepts but CONFIG GET does not list.
pub const FILE_ONLY_DIRECTIVES: &[&str] = &[
    "include",
    "rename-command",
    "user",
    "loadmodule",
    "sentinel",
];

/// The current configuration.
#[derive(Debug, Clone)]
pub struct Config {
    specs: Vec<Spec>,
    index: HashMap<String, usize>,
    values: Vec<String>,
    /// `rename-command old new` pairs, in file order.
    pub renames: Vec<(String, String)>,
    /// The file the configuration came from, for CONFIG REWRITE and INFO config_file.
    pub file: Option<LoadedFile>,
}

/// A CONFIG SET / file error: the text after `CONFIG SET failed (possibly related to argument '...') - `.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValueError(pub String);

/// A stored value as CONFIG GET and CONFIG REWRITE show it. `notify-keyspace-events` keeps
/// every flag, but Redis prints `A` without the `n` it hides.
fn shown(spec: &Spec, value: &str) -> String {
    if spec.name == "notify-keyspace-events" {
        if let Some(flags) = crate::keyspace_events::parse(value) {
            return crate::keyspace_events::format(flags);
        }
    }
    value.to_string()
}

impl Config {
    pub fn new(specs: Vec<Spec>) -> Self {
        let mut index = HashMap::new();
        for (i, s) in specs.iter().enumerate() {
            index.insert(s.name.clone(), i);
            for a in &s.aliases {
                index.insert(a.clone(), i);
            }
        }
        let values = specs.iter().map(|s| s.default.clone()).collect();
        Config {
            specs,
            index,
            values,
            renames: Vec::new(),
            file: None,
        }
    }

    pub fn spec(&self, name: &str) -> Option<&Spec> {
        self.index
            .get(&name.to_ascii_lowercase())
            .map(|&i| &self.specs[i])
    }

    /// The canonical value of a directive (by name or alias). Panics only on a name missing from
    /// the built-in table, which is a programming error caught by the tests.
    pub fn get(&self, name: &str) -> &str {
        match self.index.get(name) {
            Some(&i) => &self.values[i],
            None => panic!("directive {name} is not in the table"),
        }
    }

    /// A directive's value as CONFIG GET shows it.
    pub fn get_shown(&self, name: &str) -> String {
        match self.spec(name) {
            Some(s) => shown(s, self.get(&s.name)),
            None => String::new(),
        }
    }

    pub fn get_i64(&self, name: &str) -> i64 {
        self.get(name).parse().unwrap_or(0)
    }

    pub fn get_bool(&self, name: &str) -> bool {
        self.get(name) == "yes"
    }

    /// Checks and stores one directive's value given as its arguments. `from_file` selects the
    /// file semantics of `save` (lines accumulate) and similar.
    pub fn set(&mut self, name: &str, args: &[String], from_file: bool) -> Result<(), ValueError> {
        let lname = name.to_ascii_lowercase();
        let Some(&i) = self.index.get(&lname) else {
            return Err(ValueError(
                "Bad directive or wrong number of arguments".into(),
            ));
        };
        let spec = &self.specs[i];
        let current = self.values[i].clone();
        let v = validate(spec, args, &current, from_file)?;
        self.values[i] = v;
        Ok(())
    }

    /// Sets a value from a single string (as CONFIG SET gives it).
    pub fn set_str(&mut self, name: &str, value: &str) -> Result<(), ValueError> {
        self.set(name, &[value.to_string()], false)
    }

    /// Name/value pairs whose name (or alias) matches any of the glob patterns, in the order of
    /// the table, each name once. Aliases are listed under the alias name too, as Redis does.
    pub fn matching(&self, patterns: &[&[u8]]) -> Vec<(String, String)> {
        let mut out = BTreeMap::new();
        for (i, s) in self.specs.iter().enumerate() {
            for n in std::iter::once(&s.name).chain(s.aliases.iter()) {
                let asked = |p: &&[u8]| {
                    if s.hidden {
                        p.eq_ignore_ascii_case(n.as_bytes())
                    } else {
                        glob_match(p, n.as_bytes(), true)
                    }
                };
                if patterns.iter().any(asked) {
                    out.insert(n.clone(), shown(s, &self.values[i]));
                }
            }
        }
        out.into_iter().collect()
    }

    /// Directives whose value differs from the default, with the value as CONFIG GET shows
    /// it (for rewrite).
    pub fn non_default(&self) -> Vec<(&Spec, String)> {
        self.specs
            .iter()
            .zip(self.values.iter())
            .filter(|(s, v)| s.default != **v)
            .map(|(s, v)| (s, shown(s, v)))
            .collect()
    }

    pub fn specs(&self) -> impl Iterator<Item = (&Spec, &str)> {
        self.specs
            .iter()
            .zip(self.values.iter().map(|s| s.as_str()))
    }

    pub fn canonical_name(&self, name: &str) -> Option<&str> {
        self.spec(name).map(|s| s.name.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_loads_and_aliases_resolve() {
        let mut c = Config::new(node_specs());
        assert_eq!(c.get("port"), "6379");
        c.set_str("slave-read-only", "no").unwrap();
        assert_eq!(c.get("replica-read-only"), "no");
        c.set_str("maxmemory", "1mb").unwrap();
        assert_eq!(c.get("maxmemory"), "1048576");
        assert_eq!(
            c.set_str("appendfsync", "sometimes").unwrap_err().0,
            "argument(s) must be one of the following: everysec, always, no"
        );
        let m = c.matching(&[b"maxmemory*"]);
        assert!(m.iter().any(|(n, _)| n == "maxmemory-policy"));
    }
}
