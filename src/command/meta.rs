//! Redis's own description of its commands: what COMMAND INFO and COMMAND DOCS of Redis 7.0.15
//! answer (arity, flags, ACL categories, tips, key specs, documentation), captured from the
//! real servers' replies by `tools/command-meta.py` into `redis-7.0.15.json` (redis-server)
//! and `sentinel-7.0.15.json` (redis-sentinel), and parsed once at start-up.
//!
//! The key specs and the documentation are kept as ordered trees ([`Tree`]) and rendered back
//! with the rules the capture checked (`flags` and `doc_flags` are sets of simple strings,
//! `history` a set), so COMMAND INFO and DOCS answer what Redis answers, byte for byte.

use super::flags;
use crate::resp::Reply;
use std::collections::HashMap;

/// An ordered tree of a key spec or a documentation map, as Redis sends it.
#[derive(Debug, Clone, PartialEq)]
pub enum Tree {
    Int(i64),
    Str(String),
    List(Vec<Tree>),
    Map(Vec<(String, Tree)>),
}

impl Tree {
    fn from_json(v: &serde_json::Value) -> Result<Tree, String> {
        use serde_json::Value;
        Ok(match v {
            Value::Number(n) => {
                Tree::Int(n.as_i64().ok_or_else(|| format!("not an integer: {n}"))?)
            }
            Value::String(s) => Tree::Str(s.clone()),
            Value::Array(a) => Tree::List(a.iter().map(Tree::from_json).collect::<Result<_, _>>()?),
            Value::Object(m) => Tree::Map(
                m.iter()
                    .map(|(k, v)| Ok((k.clone(), Tree::from_json(v)?)))
                    .collect::<Result<_, String>>()?,
            ),
            other => return Err(format!("unexpected value {other}")),
        })
    }

    /// The value under `key` of a map.
    pub fn get(&self, key: &str) -> Option<&Tree> {
        match self {
            Tree::Map(m) => m.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Tree::Str(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_int(&self) -> Option<i64> {
        match self {
            Tree::Int(n) => Some(*n),
            _ => None,
        }
    }

    /// Writes the tree as Redis sends it; `key` is the map key it stands under.
    pub fn write(&self, out: &mut Reply, key: Option<&str>) {
        match self {
            Tree::Int(n) => out.int(*n),
            Tree::Str(s) => out.bulk(s.as_bytes()),
            Tree::List(items) => match key {
                Some("flags") | Some("doc_flags") => {
                    out.set(items.len());
                    for i in items {
                        out.simple(i.as_str().unwrap_or_default());
                    }
                }
                Some("history") => {
                    out.set(items.len());
                    for i in items {
                        i.write(out, None);
                    }
                }
                _ => {
                    out.array(items.len());
                    for i in items {
                        i.write(out, None);
                    }
                }
            },
            Tree::Map(m) => {
                out.map(m.len());
                for (k, v) in m {
                    out.bulk(k.as_bytes());
                    v.write(out, Some(k));
                }
            }
        }
    }
}

/// Where a key spec's keys begin.
#[derive(Debug, Clone, PartialEq)]
pub enum BeginSearch {
    /// At this argument.
    Index(i64),
    /// After the first argument equal to `keyword`, searched from `startfrom` (from the end,
    /// backwards, when negative).
    Keyword {
        keyword: String,
        startfrom: i64,
    },
    Unknown,
}

/// Which arguments from the beginning are keys.
#[derive(Debug, Clone, PartialEq)]
pub enum FindKeys {
    /// Up to `lastkey` (relative; negative counts from the end), every `keystep`; with
    /// `lastkey` -1, `limit` > 1 keeps only that fraction of what is left.
    Range {
        lastkey: i64,
        keystep: i64,
        limit: i64,
    },
    /// The number of keys is at `keynumidx`, the keys from `firstkey`, every `keystep` (both
    /// relative to the beginning).
    Keynum {
        keynumidx: i64,
        firstkey: i64,
        keystep: i64,
    },
    Unknown,
}

/// A key spec, parsed for finding keys; the tree is kept for COMMAND INFO.
#[derive(Debug, Clone)]
pub struct KeySpec {
    pub flags: Vec<String>,
    pub begin: BeginSearch,
    pub find: FindKeys,
    pub tree: Tree,
}

impl KeySpec {
    fn parse(tree: Tree) -> KeySpec {
        let flags = match tree.get("flags") {
            Some(Tree::List(l)) => l
                .iter()
                .filter_map(|f| f.as_str())
                .map(String::from)
                .collect(),
            _ => Vec::new(),
        };
        let spec_int = |t: Option<&Tree>, k: &str| {
            t.and_then(|t| t.get("spec"))
                .and_then(|s| s.get(k))
                .and_then(|v| v.as_int())
                .unwrap_or(0)
        };
        let bs = tree.get("begin_search");
        let begin = match bs.and_then(|b| b.get("type")).and_then(|t| t.as_str()) {
            Some("index") => BeginSearch::Index(spec_int(bs, "index")),
            Some("keyword") => BeginSearch::Keyword {
                keyword: bs
                    .and_then(|b| b.get("spec"))
                    .and_then(|s| s.get("keyword"))
                    .and_then(|k| k.as_str())
                    .unwrap_or_default()
                    .to_string(),
                startfrom: spec_int(bs, "startfrom"),
            },
            _ => BeginSearch::Unknown,
        };
        let fk = tree.get("find_keys");
        let find = match fk.and_then(|b| b.get("type")).and_then(|t| t.as_str()) {
            Some("range") => FindKeys::Range {
                lastkey: spec_int(fk, "lastkey"),
                keystep: spec_int(fk, "keystep"),
                limit: spec_int(fk, "limit"),
            },
            Some("keynum") => FindKeys::Keynum {
                keynumidx: spec_int(fk, "keynumidx"),
                firstkey: spec_int(fk, "firstkey"),
                keystep: spec_int(fk, "keystep"),
            },
            _ => FindKeys::Unknown,
        };
        KeySpec {
            flags,
            begin,
            find,
            tree,
        }
    }
}

/// One command's (or subcommand's) metadata.
#[derive(Debug, Clone)]
pub struct Meta {
    /// The full name (`get`, `client|list`).
    pub name: String,
    pub arity: i32,
    /// The flag names in Redis's order, and as bits.
    pub flag_names: Vec<String>,
    pub flags: u32,
    pub first_key: i32,
    pub last_key: i32,
    pub step: i32,
    /// ACL categories (`@write`, ...).
    pub acl: Vec<String>,
    pub tips: Vec<String>,
    pub key_specs: Vec<KeySpec>,
    /// The COMMAND DOCS map without its subcommands.
    pub doc: Tree,
    pub group: String,
    /// Subcommands by full name, in name order.
    pub subcommands: Vec<Meta>,
}

impl Meta {
    fn parse(name: &str, v: &serde_json::Value) -> Result<Meta, String> {
        let int = |k: &str| {
            v.get(k)
                .and_then(|x| x.as_i64())
                .ok_or(format!("{name}: no {k}"))
        };
        let strings = |k: &str| -> Vec<String> {
            v.get(k)
                .and_then(|x| x.as_array())
                .map(|a| {
                    a.iter()
                        .filter_map(|s| s.as_str())
                        .map(String::from)
                        .collect()
                })
                .unwrap_or_default()
        };
        let flag_names = strings("flags");
        let mut fl = 0;
        for f in &flag_names {
            // Flags Picket does not act on (`asking`) are shown but carry no bit.
            fl |= flags::from_name(f).unwrap_or(0);
        }
        let key_specs = match v.get("key_specs").and_then(|k| k.as_array()) {
            Some(a) => a
                .iter()
                .map(|k| Tree::from_json(k).map(KeySpec::parse))
                .collect::<Result<_, _>>()?,
            None => Vec::new(),
        };
        let doc = match v.get("doc") {
            Some(d) => Tree::from_json(d)?,
            None => Tree::Map(Vec::new()),
        };
        let group = doc
            .get("group")
            .and_then(|g| g.as_str())
            .unwrap_or_default()
            .to_string();
        let mut subcommands = Vec::new();
        if let Some(subs) = v.get("subcommands").and_then(|s| s.as_object()) {
            for (n, s) in subs {
                subcommands.push(Meta::parse(n, s)?);
            }
        }
        Ok(Meta {
            name: name.to_string(),
            arity: int("arity")? as i32,
            flag_names,
            flags: fl,
            first_key: int("first_key")? as i32,
            last_key: int("last_key")? as i32,
            step: int("step")? as i32,
            acl: strings("acl"),
            tips: strings("tips"),
            key_specs,
            doc,
            group,
            subcommands,
        })
    }

    /// The subcommand named `name` (the part after `|`).
    pub fn sub(&self, name: &str) -> Option<&Meta> {
        self.subcommands
            .iter()
            .find(|s| s.name.split_once('|').map(|(_, n)| n) == Some(name))
    }
}

/// Every command of a capture, by name.
pub fn parse(json: &str) -> Result<HashMap<String, Meta>, String> {
    let v: serde_json::Value = serde_json::from_str(json).map_err(|e| e.to_string())?;
    let obj = v.as_object().ok_or("the metadata is not an object")?;
    obj.iter()
        .map(|(n, e)| Ok((n.clone(), Meta::parse(n, e)?)))
        .collect()
}

/// Redis 7.0.15's commands (redis-server).
pub const REDIS_SERVER: &str = include_str!("redis-7.0.15.json");
/// Redis 7.0.15's Sentinel commands (redis-sentinel).
pub const REDIS_SENTINEL: &str = include_str!("sentinel-7.0.15.json");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_captures_parse_with_known_flags() {
        for json in [REDIS_SERVER, REDIS_SENTINEL] {
            let all = parse(json).unwrap();
            for m in all
                .values()
                .flat_map(|m| std::iter::once(m).chain(&m.subcommands))
            {
                for f in &m.flag_names {
                    assert!(
                        flags::from_name(f).is_some() || f == "asking",
                        "{}: flag {f}",
                        m.name
                    );
                }
            }
        }
        let server = parse(REDIS_SERVER).unwrap();
        assert_eq!(server.len(), 240);
        let set = &server["set"];
        assert_eq!(set.arity, -3);
        assert_eq!(set.flags, flags::WRITE | flags::DENYOOM);
        assert_eq!(set.key_specs[0].begin, BeginSearch::Index(1));
        assert_eq!(
            server["xread"].key_specs[0].begin,
            BeginSearch::Keyword {
                keyword: "STREAMS".into(),
                startfrom: 1
            }
        );
        assert_eq!(server["client"].sub("list").unwrap().name, "client|list");
    }
}
