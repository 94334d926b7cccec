//! The crate's layering, checked over the source: a module may use what sits in its own
//! layer or below it, never above, and no modules use each other in a circle (neither the
//! top-level modules nor the files of one folder). Read from the `crate::…`, `$crate::…` and
//! `super::…` paths of shared/src outside test modules.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Lowest first. A new top-level module must be placed here.
const LAYERS: &[&[&str]] = &[
    // Domain values and parsing.
    &["model"],
    // Settings, and helpers with no domain rules.
    &["config", "tls", "retry"],
    // Rules as pure functions, tokens and passwords, clocks, mail text, webhook rules,
    // attachment grants.
    &[
        "policy",
        "counters",
        "auth",
        "sla",
        "mail",
        "webhooks",
        "attachments",
    ],
    // The single-table model over its backends.
    &["store"],
    // What reads the store's records: the assignment rule, the queues.
    &["assignment", "queue"],
    // The API's answers: every lower layer's refusal as a code and message.
    &["error"],
    // The use cases.
    &["service"],
    // HTTP: routes, the request pipeline, authentication of a request, rendering.
    &["http"],
    // A function's start-up in the cloud (the context, the SDK, `lambda_api_main!`).
    &["cloud"],
];

/// Items the crate root re-exports, by the module that defines them.
const ROOT_ITEMS: &[(&str, &str)] = &[("ApiError", "error"), ("ErrorCode", "error")];

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("reading shared/src")
        .map(|e| e.expect("a directory entry").path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            files(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

/// The module path of a file (`store/mod.rs` → ["store"], `store/keys.rs` → ["store", "keys"]).
fn module_of(file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(src()).expect("under src");
    let mut parts: Vec<String> = rel
        .iter()
        .map(|s| s.to_string_lossy().into_owned())
        .collect();
    let last = parts.pop().unwrap_or_default();
    let stem = last.trim_end_matches(".rs");
    if stem != "mod" && stem != "lib" {
        parts.push(stem.to_owned());
    }
    parts
}

/// The code of a file without comments, string and char literals, and test modules.
fn code(text: &str) -> String {
    let b: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let next = b.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < b.len() && b[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < b.len() {
                if b[i] == '/' && b.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if b[i] == '*' && b.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
        } else if c == 'r' && (next == Some('"') || next == Some('#')) && !ident_before(&b, i) {
            // A raw string: r"…", r#"…"#.
            let mut j = i + 1;
            let mut hashes = 0;
            while b.get(j) == Some(&'#') {
                hashes += 1;
                j += 1;
            }
            if b.get(j) != Some(&'"') {
                out.push(c);
                i += 1;
                continue;
            }
            j += 1;
            loop {
                if j >= b.len() {
                    break;
                }
                if b[j] == '"' && (0..hashes).all(|k| b.get(j + 1 + k) == Some(&'#')) {
                    j += 1 + hashes;
                    break;
                }
                j += 1;
            }
            out.push_str("\"\"");
            i = j;
        } else if c == '"' {
            i += 1;
            while i < b.len() && b[i] != '"' {
                i += if b[i] == '\\' { 2 } else { 1 };
            }
            i += 1;
            out.push_str("\"\"");
        } else if c == '\'' && b.get(i + 2) == Some(&'\'') {
            i += 3;
        } else if c == '\'' && next == Some('\\') {
            i += 2;
            while i < b.len() && b[i] != '\'' {
                i += 1;
            }
            i += 1;
        } else {
            out.push(c);
            i += 1;
        }
    }
    // Test modules hold tests of this layer, which may use anything.
    match out.find("#[cfg(test)]\nmod ") {
        Some(at) => out[..at].to_owned(),
        None => out,
    }
}

fn ident_before(b: &[char], i: usize) -> bool {
    i > 0 && (b[i - 1].is_alphanumeric() || b[i - 1] == '_')
}

fn ident_at(s: &str) -> &str {
    let end = s
        .find(|c: char| !(c.is_alphanumeric() || c == '_'))
        .unwrap_or(s.len());
    &s[..end]
}

/// Every path the code names from the crate root, cut after its third segment: `crate::a::b`,
/// `$crate::a`, `super::…` resolved against `module`, each member of a `{…}` group.
fn paths(code: &str, module: &[String]) -> BTreeSet<Vec<String>> {
    let mut out = BTreeSet::new();
    for (pos, _) in code
        .match_indices("crate::")
        .chain(code.match_indices("super::"))
    {
        let before = code[..pos].chars().next_back();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
            continue;
        }
        let (base, rest) = if code[pos..].starts_with("crate::") {
            (Vec::new(), &code[pos + "crate::".len()..])
        } else {
            let mut base = module.to_vec();
            let mut rest = &code[pos..];
            while let Some(r) = rest.strip_prefix("super::") {
                base.pop();
                rest = r;
            }
            (base, rest)
        };
        expand(base, rest, &mut out);
    }
    out
}

/// The paths `rest` names after `prefix`: one (`a::b`), or one per member of a group
/// (`{a, b::{c, d}}`).
fn expand(prefix: Vec<String>, rest: &str, out: &mut BTreeSet<Vec<String>>) {
    if let Some(group) = rest.strip_prefix('{') {
        for m in members(group) {
            expand(prefix.clone(), &m, out);
        }
        return;
    }
    let mut full = prefix;
    let mut g = rest;
    loop {
        let id = ident_at(g);
        if id.is_empty() || id == "self" || full.len() >= 3 {
            break;
        }
        full.push(id.to_owned());
        match g[id.len()..].strip_prefix("::") {
            Some(r) if r.starts_with('{') => return expand(full, r, out),
            Some(r) => g = r,
            None => break,
        }
    }
    out.insert(full);
}

/// The members of a group, from after its `{` to its `}`, split at its own commas.
fn members(inner: &str) -> Vec<String> {
    let mut depth = 0;
    let mut cur = String::new();
    let mut out = Vec::new();
    for c in inner.chars() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => break,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                out.push(cur.trim().to_owned());
                cur.clear();
                continue;
            }
            _ => {}
        }
        cur.push(c);
    }
    out.push(cur.trim().to_owned());
    out.retain(|m| !m.is_empty());
    out
}

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|l| l.contains(&module))
}

/// A circle in `edges`, if any, as the modules along it.
fn circle(edges: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        n: &str,
        edges: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|p| p == n) {
            let mut c = path[at..].to_vec();
            c.push(n.to_owned());
            return Some(c);
        }
        if done.contains(n) {
            return None;
        }
        path.push(n.to_owned());
        for m in edges.get(n).into_iter().flatten() {
            if let Some(c) = visit(m, edges, path, done) {
                return Some(c);
            }
        }
        path.pop();
        done.insert(n.to_owned());
        None
    }
    let mut done = BTreeSet::new();
    for n in edges.keys() {
        if let Some(c) = visit(n, edges, &mut Vec::new(), &mut done) {
            return Some(c);
        }
    }
    None
}

struct Graph {
    /// Top-level module → the top-level modules it uses (with the files that do).
    top: BTreeMap<String, BTreeMap<String, BTreeSet<String>>>,
    /// Folder → file module → the sibling file modules it uses.
    siblings: BTreeMap<String, BTreeMap<String, BTreeSet<String>>>,
}

fn graph() -> Graph {
    let mut all = Vec::new();
    files(&src(), &mut all);
    let modules: BTreeSet<Vec<String>> = all.iter().map(|f| module_of(f)).collect();
    let tops: BTreeSet<&str> = modules
        .iter()
        .filter_map(|m| m.first().map(String::as_str))
        .collect();
    let mut g = Graph {
        top: BTreeMap::new(),
        siblings: BTreeMap::new(),
    };
    for f in &all {
        let module = module_of(f);
        let Some(top) = module.first() else { continue };
        let text = std::fs::read_to_string(f).expect("reading a source file");
        let name = f.strip_prefix(src()).unwrap_or(f).display().to_string();
        for p in paths(&code(&text), &module) {
            let Some(first) = p.first() else { continue };
            let target = ROOT_ITEMS
                .iter()
                .find(|(item, _)| item == first)
                .map(|(_, m)| *m)
                .or_else(|| tops.get(first.as_str()).copied());
            if let Some(t) = target
                && t != top
            {
                g.top
                    .entry(top.clone())
                    .or_default()
                    .entry(t.to_owned())
                    .or_default()
                    .insert(name.clone());
            }
            // A sibling file module of this one.
            if module.len() >= 2 && p.len() >= module.len() {
                let parent = &module[..module.len() - 1];
                let sibling = &p[..module.len()];
                if p[..parent.len()] == *parent
                    && sibling != module.as_slice()
                    && modules.contains(sibling)
                {
                    g.siblings
                        .entry(parent.join("::"))
                        .or_default()
                        .entry(module.join("::"))
                        .or_default()
                        .insert(sibling.join("::"));
                }
            }
        }
    }
    g
}

#[test]
fn every_module_has_a_layer() {
    let mut all = Vec::new();
    files(&src(), &mut all);
    for f in &all {
        if let Some(top) = module_of(f).first().filter(|m| *m != "layers") {
            assert!(
                layer_of(top).is_some(),
                "shared/src/{top} has no layer in shared/src/layers.rs"
            );
        }
    }
}

#[test]
fn no_module_uses_one_above_it() {
    let g = graph();
    let mut wrong = Vec::new();
    for (from, uses) in &g.top {
        for (to, files) in uses {
            if let (Some(a), Some(b)) = (layer_of(from), layer_of(to))
                && b > a
            {
                wrong.push(format!("{from} uses {to} (above it) in {files:?}"));
            }
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
}

#[test]
fn no_modules_use_each_other_in_a_circle() {
    let g = graph();
    let top: BTreeMap<String, BTreeSet<String>> = g
        .top
        .iter()
        .map(|(k, v)| (k.clone(), v.keys().cloned().collect()))
        .collect();
    assert_eq!(circle(&top), None);
    for (folder, edges) in &g.siblings {
        assert_eq!(circle(edges), None, "among the files of {folder}");
    }
}

#[test]
fn the_reader_sees_the_paths_it_should() {
    let m = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    let code = code(
        "use crate::{a::b, c::{d, e}};\n// crate::comment\nlet s = \"crate::string\";\nuse super::super::f::g;\nuse super::h;\n$crate::i::j!();\n#[cfg(test)]\nmod tests { use crate::k; }",
    );
    let got = paths(&code, &m(&["x", "y", "z"]));
    let want: BTreeSet<Vec<String>> = [
        m(&["a", "b"]),
        m(&["c", "d"]),
        m(&["c", "e"]),
        m(&["x", "f", "g"]),
        m(&["x", "y", "h"]),
        m(&["i", "j"]),
    ]
    .into_iter()
    .collect();
    assert_eq!(got, want);
    let mut edges = BTreeMap::new();
    edges.insert("a".to_owned(), ["b".to_owned()].into());
    edges.insert("b".to_owned(), ["a".to_owned()].into());
    assert!(circle(&edges).is_some());
}
