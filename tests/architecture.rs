//! The architecture test: the top-level modules of `node/src` and `sentinel/src` form layers,
//! and a module imports only from its own layer or the layers below it, with no cycle at all.
//! The layering is written down here and in each crate's `lib.rs` module map.
//!
//! It reads the sources (not the compiler's view): every `crate::<module>` path, every name in
//! a `use crate::{...}` group, and `super::` paths that climb out of a module, in the code
//! that ships (a file's `#[cfg(test)]` module at the end is skipped: tests may reach across).
//!
//! `cargo test --test architecture -- --nocapture print_module_graph` prints both graphs.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// picket-node's layers, lowest first.
const NODE_LAYERS: &[&[&str]] = &[
    &[
        "alloc", "clock", "stats", "hdr", "db", "rdb", "lazyfree", "script",
    ],
    &["state"],
    &["propagate"],
    &["persistence", "evict"],
    &["repl"],
    &["cmd"],
    &["server", "cron", "busy_responder", "metrics"],
];

/// picket-sentinel's layers, lowest first.
const SENTINEL_LAYERS: &[&[&str]] = &[
    &["core", "scripts", "clock", "history"],
    &["state"],
    &["config"],
    &["runtime"],
    &["cmd"],
    &["server", "metrics", "status_page"],
];

/// Files that are not modules of the library's graph.
const ROOT_FILES: &[&str] = &["lib.rs", "main.rs"];

type Graph = BTreeMap<String, BTreeSet<String>>;

fn crate_dir(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(name).join("src")
}

/// Every `.rs` file of a top-level module with its module path inside the crate
/// (`cmd/blocking.rs` is `["cmd", "blocking"]`, `cmd/mod.rs` is `["cmd"]`).
fn module_files(dir: &Path, prefix: &[String], out: &mut Vec<(PathBuf, Vec<String>)>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok())
        .collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let p = e.path();
        let name = e.file_name().to_string_lossy().into_owned();
        if p.is_dir() {
            let mut sub = prefix.to_vec();
            sub.push(name);
            module_files(&p, &sub, out);
        } else if let Some(stem) = name.strip_suffix(".rs") {
            if prefix.is_empty() && ROOT_FILES.contains(&name.as_str()) {
                continue;
            }
            let mut path = prefix.to_vec();
            if stem != "mod" {
                path.push(stem.to_string());
            }
            out.push((p, path));
        }
    }
}

/// The code of a file without comments and without a trailing `#[cfg(test)] mod ... {`.
fn shipped_code(text: &str) -> String {
    let mut out = String::new();
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        let t = line.trim_start();
        if t == "#[cfg(test)]" {
            if let Some(next) = lines.peek() {
                let n = next.trim_start();
                if n.starts_with("mod ") && n.ends_with('{') {
                    break;
                }
            }
        }
        if t.starts_with("//") {
            continue;
        }
        let code = match line.find("//") {
            // A `//` inside a string literal is kept; only whole-line and trailing comments
            // that follow code outside quotes matter here, and both are rare enough.
            Some(i) if line[..i].matches('"').count() % 2 == 0 => &line[..i],
            _ => line,
        };
        out.push_str(code);
        out.push('\n');
    }
    out
}

/// The top-level modules a file's code names.
fn imports(code: &str, file_path: &[String], modules: &BTreeSet<String>) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let bytes = code.as_bytes();
    let is_ident = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    let mut i = 0;
    while i < bytes.len() {
        if i > 0 && is_ident(bytes[i - 1]) {
            i += 1;
            continue;
        }
        let rest = &code[i..];
        let after = if let Some(r) = rest.strip_prefix("crate::") {
            Some(r)
        } else if rest.starts_with("super::") {
            // Climb: each `super::` pops one component of the file's module path.
            let mut r = rest;
            let mut depth = file_path.len();
            while let Some(next) = r.strip_prefix("super::") {
                r = next;
                depth = depth.saturating_sub(1);
            }
            (depth == 0).then_some(r)
        } else {
            None
        };
        if let Some(r) = after {
            for name in path_heads(r) {
                if modules.contains(&name) {
                    found.insert(name);
                }
            }
        }
        i += 1;
    }
    found
}

/// The first identifiers a path names: `cmd::x` gives `cmd`; `{a::b, c}` gives `a` and `c`.
fn path_heads(r: &str) -> Vec<String> {
    let ident = |s: &str| -> String {
        s.chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect()
    };
    let Some(group) = r.strip_prefix('{') else {
        return vec![ident(r)];
    };
    // Split the group's top level at commas (nested braces belong to their item).
    let (mut heads, mut depth, mut start) = (Vec::new(), 0usize, 0usize);
    for (i, c) in group.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => {
                heads.push(ident(group[start..i].trim_start()));
                break;
            }
            '}' => depth -= 1,
            ',' if depth == 0 => {
                heads.push(ident(group[start..i].trim_start()));
                start = i + 1;
            }
            _ => {}
        }
    }
    heads
}

/// The graph of a crate's top-level modules: module -> the other modules it imports.
fn module_graph(crate_name: &str) -> Graph {
    let dir = crate_dir(crate_name);
    let mut files = Vec::new();
    module_files(&dir, &[], &mut files);
    let modules: BTreeSet<String> = files.iter().map(|(_, p)| p[0].clone()).collect();
    let mut graph: Graph = modules
        .iter()
        .map(|m| (m.clone(), BTreeSet::new()))
        .collect();
    for (file, path) in &files {
        let text = std::fs::read_to_string(file).unwrap();
        let code = shipped_code(&text);
        let top = &path[0];
        for m in imports(&code, path, &modules) {
            if &m != top {
                graph.get_mut(top).unwrap().insert(m);
            }
        }
    }
    graph
}

fn layer_of(layers: &[&[&str]], module: &str) -> Option<usize> {
    layers.iter().position(|l| l.contains(&module))
}

/// Every way the graph breaks the layering: an unlisted module, an import from a higher
/// layer, a cycle.
fn violations(graph: &Graph, layers: &[&[&str]]) -> Vec<String> {
    let mut v = Vec::new();
    for (m, deps) in graph {
        let Some(lm) = layer_of(layers, m) else {
            v.push(format!(
                "module `{m}` is in no layer: add it to the layering"
            ));
            continue;
        };
        for d in deps {
            match layer_of(layers, d) {
                Some(ld) if ld > lm => v.push(format!(
                    "`{m}` (layer {}) imports `{d}` (layer {}), a layer above it",
                    lm + 1,
                    ld + 1
                )),
                _ => {}
            }
        }
    }
    if let Some(cycle) = find_cycle(graph) {
        v.push(format!("cycle: {}", cycle.join(" -> ")));
    }
    v
}

/// A cycle of the graph, if it has one (depth-first search).
fn find_cycle(graph: &Graph) -> Option<Vec<String>> {
    fn visit(
        m: &str,
        graph: &Graph,
        stack: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(i) = stack.iter().position(|s| s == m) {
            let mut c = stack[i..].to_vec();
            c.push(m.to_string());
            return Some(c);
        }
        if done.contains(m) {
            return None;
        }
        stack.push(m.to_string());
        for d in graph.get(m).into_iter().flatten() {
            if let Some(c) = visit(d, graph, stack, done) {
                return Some(c);
            }
        }
        stack.pop();
        done.insert(m.to_string());
        None
    }
    let mut done = BTreeSet::new();
    for m in graph.keys() {
        if let Some(c) = visit(m, graph, &mut Vec::new(), &mut done) {
            return Some(c);
        }
    }
    None
}

fn render(graph: &Graph) -> String {
    graph
        .iter()
        .map(|(m, d)| {
            let deps: Vec<&str> = d.iter().map(|s| s.as_str()).collect();
            format!("{m} -> {}\n", deps.join(" "))
        })
        .collect()
}

#[test]
fn node_modules_import_only_from_layers_below() {
    let v = violations(&module_graph("node"), NODE_LAYERS);
    assert!(
        v.is_empty(),
        "picket-node's layering is broken:\n{}",
        v.join("\n")
    );
}

#[test]
fn sentinel_modules_import_only_from_layers_below() {
    let v = violations(&module_graph("sentinel"), SENTINEL_LAYERS);
    assert!(
        v.is_empty(),
        "picket-sentinel's layering is broken:\n{}",
        v.join("\n")
    );
}

/// The checker itself: an import from above, a cycle and an unlisted module are each caught.
#[test]
fn the_check_fails_on_an_upward_import_a_cycle_and_an_unlisted_module() {
    let modules: BTreeSet<String> = ["db", "state", "cmd"].map(String::from).into();
    let code = shipped_code(
        "use crate::{db::Keyspace, cmd::Ctx};\n// crate::state in a comment\nfn f() { super::state::x(); }\n#[cfg(test)]\nmod tests {\n    use crate::cmd;\n}\n",
    );
    let found = imports(&code, &["db".to_string()], &modules);
    assert_eq!(found, ["cmd", "db", "state"].map(String::from).into());

    let mut graph = module_graph("node");
    graph.get_mut("state").unwrap().insert("cmd".into());
    let v = violations(&graph, NODE_LAYERS);
    assert!(
        v.iter()
            .any(|s| s.contains("`state` (layer 2) imports `cmd`")),
        "{v:?}"
    );
    assert!(v.iter().any(|s| s.starts_with("cycle: ")), "{v:?}");

    let mut graph = module_graph("sentinel");
    graph.insert("newcomer".into(), BTreeSet::new());
    let v = violations(&graph, SENTINEL_LAYERS);
    assert!(
        v.iter().any(|s| s.contains("`newcomer` is in no layer")),
        "{v:?}"
    );
}

/// Within a layer, sibling imports are allowed, but a cycle between siblings is not.
#[test]
fn a_cycle_within_one_layer_is_caught() {
    let mut graph = module_graph("node");
    graph.get_mut("db").unwrap().insert("rdb".into());
    let v = violations(&graph, NODE_LAYERS);
    assert!(v.iter().any(|s| s.starts_with("cycle: ")), "{v:?}");
}

#[test]
fn print_module_graph() {
    println!("picket-node:\n{}", render(&module_graph("node")));
    println!("picket-sentinel:\n{}", render(&module_graph("sentinel")));
}
