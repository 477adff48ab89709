//! ACL users: each has an on/off switch, passwords (kept as SHA-256), and command rules
//! (`+@category`, `-command`, `+command|sub`, `allcommands` ...) applied in order, the last
//! that matches a command deciding, as Redis's rule bitmap does. Key and channel patterns are
//! kept and shown; a program that has no keys (the sentinel) does not check them.

use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// Whether a program has a command (and subcommand): what ACL rules may name.
pub type Known = dyn Fn(&str, Option<&str>) -> bool;

/// Redis 7.0's ACL categories.
pub const CATEGORIES: [&str; 21] = [
    "keyspace",
    "read",
    "write",
    "set",
    "sortedset",
    "list",
    "hash",
    "string",
    "bitmap",
    "hyperloglog",
    "geo",
    "stream",
    "pubsub",
    "admin",
    "fast",
    "slow",
    "blocking",
    "dangerous",
    "connection",
    "transaction",
    "scripting",
];

/// What a command rule names.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Target {
    All,
    Category(String),
    Command(String),
    Subcommand(String, String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Rule {
    allow: bool,
    target: Target,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct User {
    pub enabled: bool,
    pub nopass: bool,
    /// SHA-256 of each password, lower-case hex, in the order added.
    pub passwords: Vec<String>,
    rules: Vec<Rule>,
    pub keys: Vec<String>,
    pub channels: Vec<String>,
}

fn sha256_hex(p: &[u8]) -> String {
    Sha256::digest(p)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl User {
    /// The `default` user: on, no password, every command, key and channel.
    pub fn default_user() -> User {
        let mut u = User::default();
        for r in ["on", "nopass", "allkeys", "allchannels", "allcommands"] {
            let _ = u.apply(r);
        }
        u
    }

    /// Applies one ACL SETUSER rule; the error is Redis's text for a bad one. Command rules
    /// must name a command of `known` (name, subcommand) or a category.
    pub fn apply_checked(&mut self, rule: &str, known: &Known) -> Result<(), String> {
        if let Some(name) = rule.strip_prefix(['+', '-']) {
            let name = name.to_ascii_lowercase();
            let ok = match name.strip_prefix('@') {
                Some(cat) => cat == "all" || CATEGORIES.contains(&cat),
                None => match name.split_once('|') {
                    Some((c, s)) => known(c, Some(s)),
                    None => known(&name, None),
                },
            };
            if !ok {
                return Err(format!(
                    "Error in ACL SETUSER modifier '{rule}': Unknown command or category name in ACL"
                ));
            }
        }
        self.apply(rule)
    }

    /// Applies one rule without checking command names.
    pub fn apply(&mut self, rule: &str) -> Result<(), String> {
        let lower = rule.to_ascii_lowercase();
        let bad = || format!("Error in ACL SETUSER modifier '{rule}': Syntax error");
        match lower.as_str() {
            "on" => self.enabled = true,
            "off" => self.enabled = false,
            "nopass" => {
                self.nopass = true;
                self.passwords.clear();
            }
            "resetpass" => {
                self.nopass = false;
                self.passwords.clear();
            }
            "allkeys" => self.keys = vec!["*".into()],
            "resetkeys" => self.keys.clear(),
            "allchannels" => self.channels = vec!["*".into()],
            "resetchannels" => self.channels.clear(),
            "allcommands" => self.rules = vec![self.rule(true, Target::All)],
            "nocommands" => self.rules = vec![self.rule(false, Target::All)],
            "reset" => *self = User::default(),
            _ => return self.apply_prefixed(rule, &lower).ok_or_else(bad),
        }
        Ok(())
    }

    fn rule(&self, allow: bool, target: Target) -> Rule {
        Rule { allow, target }
    }

    fn apply_prefixed(&mut self, rule: &str, lower: &str) -> Option<()> {
        let (head, rest) = rule.split_at(rule.chars().next()?.len_utf8());
        match head {
            ">" => {
                let h = sha256_hex(rest.as_bytes());
                if !self.passwords.contains(&h) {
                    self.passwords.push(h);
                }
                self.nopass = false;
            }
            "<" => {
                let h = sha256_hex(rest.as_bytes());
                self.passwords.retain(|p| *p != h);
            }
            "#" if rest.len() == 64 && rest.bytes().all(|b| b.is_ascii_hexdigit()) => {
                self.passwords.push(rest.to_ascii_lowercase());
                self.nopass = false;
            }
            "!" => self.passwords.retain(|p| *p != rest.to_ascii_lowercase()),
            "~" => self.keys.push(rest.to_string()),
            "%" if rest.contains('~') => self.keys.push(rule.to_string()),
            "&" => self.channels.push(rest.to_string()),
            "+" | "-" => {
                let allow = head == "+";
                let name = &lower[1..];
                let target = if let Some(cat) = name.strip_prefix('@') {
                    if cat == "all" {
                        Target::All
                    } else {
                        Target::Category(cat.to_string())
                    }
                } else if let Some((c, s)) = name.split_once('|') {
                    Target::Subcommand(c.to_string(), s.to_string())
                } else if name.is_empty() {
                    return None;
                } else {
                    Target::Command(name.to_string())
                };
                if target == Target::All {
                    // +@all / -@all start the command rules over, as in Redis.
                    self.rules.clear();
                }
                let r = self.rule(allow, target);
                self.rules.push(r);
            }
            _ => return None,
        }
        Some(())
    }

    /// Whether `password` opens this user (on, and nopass or a matching password).
    pub fn accepts(&self, password: &[u8]) -> bool {
        self.enabled && (self.nopass || self.passwords.contains(&sha256_hex(password)))
    }

    /// Whether this user may run `command` (and `sub`), which is in `categories`.
    pub fn may_run(&self, command: &str, sub: Option<&str>, categories: &[&str]) -> bool {
        let mut allowed = false;
        for r in &self.rules {
            let hit = match &r.target {
                Target::All => true,
                Target::Category(c) => categories.iter().any(|x| x.eq_ignore_ascii_case(c)),
                Target::Command(c) => c == command,
                Target::Subcommand(c, s) => c == command && Some(s.as_str()) == sub,
            };
            if hit {
                allowed = r.allow;
            }
        }
        allowed
    }

    /// The user as ACL LIST shows it (after `user <name> `).
    pub fn describe(&self) -> String {
        let mut parts = vec![if self.enabled { "on" } else { "off" }.to_string()];
        if self.nopass {
            parts.push("nopass".into());
        }
        parts.extend(self.passwords.iter().map(|p| format!("#{p}")));
        parts.extend(self.keys.iter().map(|k| {
            if k.starts_with('%') {
                k.clone()
            } else {
                format!("~{k}")
            }
        }));
        if self.channels != ["*"] {
            parts.push("resetchannels".into());
        }
        parts.extend(self.channels.iter().map(|c| format!("&{c}")));
        let mut rules: Vec<String> = Vec::new();
        let explicit_all = matches!(self.rules.first(), Some(r) if r.target == Target::All);
        if !explicit_all {
            rules.push("-@all".into());
        }
        // Whole commands and categories in the order given, then the subcommand rules.
        let (subs, whole): (Vec<&Rule>, Vec<&Rule>) = self
            .rules
            .iter()
            .partition(|r| matches!(r.target, Target::Subcommand(..)));
        for r in whole.into_iter().chain(subs) {
            let sign = if r.allow { '+' } else { '-' };
            rules.push(match &r.target {
                Target::All => format!("{sign}@all"),
                Target::Category(c) => format!("{sign}@{c}"),
                Target::Command(c) => format!("{sign}{c}"),
                Target::Subcommand(c, s) => format!("{sign}{c}|{s}"),
            });
        }
        parts.extend(rules);
        parts.join(" ")
    }
}

/// The users of one server, `default` always among them.
#[derive(Debug, Clone)]
pub struct Users {
    pub users: BTreeMap<String, User>,
}

impl Users {
    /// The users at start-up: `default`, with `requirepass` as its password when set.
    pub fn new(requirepass: Option<&str>) -> Users {
        let mut d = User::default_user();
        if let Some(p) = requirepass {
            let _ = d.apply("resetpass");
            let _ = d.apply(&format!(">{p}"));
        }
        Users {
            users: BTreeMap::from([("default".to_string(), d)]),
        }
    }

    /// ACL SETUSER name rule...: all rules are checked before any is applied.
    pub fn set_user(&mut self, name: &str, rules: &[String], known: &Known) -> Result<(), String> {
        let mut u = self.users.get(name).cloned().unwrap_or_default();
        for r in rules {
            u.apply_checked(r, known)?;
        }
        self.users.insert(name.to_string(), u);
        Ok(())
    }

    /// Whether `user` with `password` authenticates.
    pub fn authenticate(&self, user: &str, password: &[u8]) -> bool {
        self.users
            .get(user)
            .map(|u| u.accepts(password))
            .unwrap_or(false)
    }

    /// Whether a new connection is authenticated as `default` without AUTH.
    pub fn default_needs_no_auth(&self) -> bool {
        self.users
            .get("default")
            .map(|u| u.enabled && u.nopass)
            .unwrap_or(false)
    }
}

/// The NOPERM error for a command the user may not run.
pub fn noperm(command: &str, sub: Option<&str>) -> String {
    match sub {
        Some(s) => {
            format!("NOPERM this user has no permissions to run the '{command}|{s}' command")
        }
        None => format!("NOPERM this user has no permissions to run the '{command}' command"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_apply_in_order() {
        let mut u = User::default();
        for r in ["on", ">secret", "+@all", "-@dangerous", "+config|get"] {
            u.apply(r).unwrap();
        }
        assert!(u.accepts(b"secret") && !u.accepts(b"other"));
        assert!(u.may_run("get", None, &["read", "string", "fast"]));
        assert!(!u.may_run("config", Some("set"), &["admin", "slow", "dangerous"]));
        assert!(u.may_run("config", Some("get"), &["admin", "slow", "dangerous"]));
        let mut v = User::default();
        for r in ["on", "+get", "-@all", "+set", "~k*"] {
            v.apply(r).unwrap();
        }
        assert_eq!(v.describe(), "on ~k* resetchannels -@all +set");
        u.apply("off").unwrap();
        assert!(!u.accepts(b"secret"));
        assert_eq!(
            u.apply("bogus").unwrap_err(),
            "Error in ACL SETUSER modifier 'bogus': Syntax error"
        );
    }

    #[test]
    fn default_user_and_requirepass() {
        assert!(Users::new(None).default_needs_no_auth());
        let us = Users::new(Some("pw"));
        assert!(!us.default_needs_no_auth());
        assert!(us.authenticate("default", b"pw"));
        assert!(!us.authenticate("nobody", b"pw"));
        assert_eq!(User::default_user().describe(), "on nopass ~* &* +@all");
    }
}
