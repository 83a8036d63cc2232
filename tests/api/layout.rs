//! The house's layout, checked: no module cycles. Dependencies point one way (web, cli and
//! scheduler → services → outbox → mail, matching, store → domain); a cycle between two
//! modules, at any level of the tree, fails the build.
//!
//! Read from the crate's own `use` lines and paths (`crate::x`, `crate::{x, y::z}`,
//! `super::x`, and `paperboy::x` in the binary's modules), test modules left out. A module
//! depends on another when it names it or anything inside it; a parent naming its children
//! (or a child its parent's items) is no dependency between siblings and is not counted.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// A module's path from the crate root, e.g. `["web", "pages", "manage"]`.
type ModulePath = Vec<String>;

/// The module a source file is, from its path under `src/`: `a.rs` and `a/mod.rs` are `a`,
/// `a/b.rs` is `a::b`; the crate roots (`lib.rs`, `main.rs`) are the root.
fn module_of(relative: &Path) -> ModulePath {
    let mut parts: Vec<String> = relative
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    let file = parts.pop().unwrap_or_default();
    let stem = file.trim_end_matches(".rs");
    if !(stem == "mod" || (parts.is_empty() && (stem == "lib" || stem == "main"))) {
        parts.push(stem.to_string());
    }
    parts
}

/// The code of a file without its test modules (everything from the first `#[cfg(test)]`,
/// as tests sit at the end of a file here).
fn without_tests(text: &str) -> &str {
    text.find("#[cfg(test)]").map_or(text, |i| &text[..i])
}

fn is_ident(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// The paths named after `prefix` at `at`: `x::y` gives `[x, y]`; a group `{x::y, z}` gives
/// each of its members.
fn paths_after(text: &str, at: usize) -> Vec<Vec<String>> {
    let rest = &text[at..];
    if let Some(group) = rest.strip_prefix('{') {
        // The members of the group, split at its top-level commas.
        let (mut depth, mut start, mut out) = (0usize, 0usize, Vec::new());
        for (i, c) in group.char_indices() {
            match c {
                '{' => depth += 1,
                '}' if depth == 0 => {
                    out.extend(member(&group[start..i]));
                    return out;
                }
                '}' => depth -= 1,
                ',' if depth == 0 => {
                    out.extend(member(&group[start..i]));
                    start = i + 1;
                }
                _ => {}
            }
        }
        return out;
    }
    member(rest)
}

/// The paths at the start of `text`: one (`x::y`), or one for each member of a group it
/// ends in (`x::{y, z::w}`: `x::y` and `x::z::w`).
fn member(text: &str) -> Vec<Vec<String>> {
    let mut segments = Vec::new();
    let mut rest = text.trim_start();
    loop {
        let end = rest.find(|c: char| !is_ident(c)).unwrap_or(rest.len());
        if end == 0 {
            break;
        }
        segments.push(rest[..end].to_string());
        rest = &rest[end..];
        match rest.strip_prefix("::") {
            Some(r) if r.starts_with('{') => {
                return paths_after(r, 0)
                    .into_iter()
                    .map(|inner| [segments.clone(), inner].concat())
                    .chain([segments.clone()])
                    .collect();
            }
            Some(r) => rest = r,
            None => break,
        }
    }
    if segments.is_empty() {
        Vec::new()
    } else {
        vec![segments]
    }
}

/// Every module path a file names, resolved from the crate root.
fn named_by(module: &[String], code: &str, crate_names: &[&str]) -> Vec<ModulePath> {
    let mut out = Vec::new();
    let bytes = code.as_bytes();
    for (i, _) in code.char_indices() {
        // A path starts where no identifier character or `::` comes before it.
        if i > 0 && (is_ident(bytes[i - 1] as char) || bytes[i - 1] == b':') {
            continue;
        }
        let rest = &code[i..];
        if let Some(name) = crate_names.iter().find(|n| {
            rest.starts_with(&format!("{n}::"))
                && rest[n.len() + 2..].starts_with(|c: char| is_ident(c) || c == '{')
        }) {
            out.extend(paths_after(code, i + name.len() + 2));
        } else if rest.starts_with("super::") {
            let mut base: ModulePath = module.to_vec();
            let mut tail = rest;
            while let Some(r) = tail.strip_prefix("super::") {
                base.pop();
                tail = r;
            }
            let at = code.len() - tail.len();
            for p in paths_after(code, at) {
                let mut full = base.clone();
                full.extend(p);
                out.push(full);
            }
        }
    }
    out
}

/// The cycles among the modules of a crate given as (path under `src/`, text): each a list
/// of modules, sorted, that depend on each other around a loop.
fn cycles(files: &[(String, String)]) -> Vec<Vec<String>> {
    let modules: BTreeSet<ModulePath> =
        files.iter().map(|(p, _)| module_of(Path::new(p))).collect();
    // The longest module a path names (a path may go on into an item: `store::Store`).
    let module_named = |path: &[String]| -> ModulePath {
        (0..=path.len())
            .rev()
            .map(|n| path[..n].to_vec())
            .find(|m| modules.contains(m))
            .unwrap_or_default()
    };
    // Edges between siblings, by the module they are children of.
    let mut edges: BTreeMap<ModulePath, BTreeMap<String, BTreeSet<String>>> = BTreeMap::new();
    for (path, text) in files {
        let from = module_of(Path::new(path));
        // The binary's modules name the library as `paperboy`.
        let names: &[&str] = if path.starts_with("cli/") || path == "main.rs" {
            &["crate", "paperboy"]
        } else {
            &["crate"]
        };
        for named in named_by(&from, without_tests(text), names) {
            let to = module_named(&named);
            let common = from.iter().zip(&to).take_while(|(a, b)| a == b).count();
            if common < from.len() && common < to.len() {
                edges
                    .entry(from[..common].to_vec())
                    .or_default()
                    .entry(from[common].clone())
                    .or_default()
                    .insert(to[common].clone());
            }
        }
    }
    let mut found = Vec::new();
    for (parent, graph) in &edges {
        for component in strongly_connected(graph) {
            let prefix = parent.iter().map(|p| format!("{p}/")).collect::<String>();
            found.push(component.iter().map(|m| format!("{prefix}{m}")).collect());
        }
    }
    found
}

/// The strongly connected components of more than one node (Tarjan).
fn strongly_connected(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    struct Walk<'a> {
        graph: &'a BTreeMap<String, BTreeSet<String>>,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        out: Vec<Vec<String>>,
    }
    impl<'a> Walk<'a> {
        fn visit(&mut self, v: &'a str) {
            let n = self.index.len();
            self.index.insert(v, n);
            self.low.insert(v, n);
            self.stack.push(v);
            for w in self.graph.get(v).into_iter().flatten() {
                if !self.index.contains_key(w.as_str()) {
                    self.visit(w);
                    let lw = self.low[w.as_str()];
                    let lv = self.low.get_mut(v).unwrap();
                    *lv = (*lv).min(lw);
                } else if self.stack.contains(&w.as_str()) {
                    let iw = self.index[w.as_str()];
                    let lv = self.low.get_mut(v).unwrap();
                    *lv = (*lv).min(iw);
                }
            }
            if self.low[v] == self.index[v] {
                let mut component = Vec::new();
                while let Some(w) = self.stack.pop() {
                    component.push(w.to_string());
                    if w == v {
                        break;
                    }
                }
                if component.len() > 1 {
                    component.sort();
                    self.out.push(component);
                }
            }
        }
    }
    let mut walk = Walk {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        out: Vec::new(),
    };
    for v in graph.keys() {
        if !walk.index.contains_key(v.as_str()) {
            walk.visit(v);
        }
    }
    walk.out
}

fn source_files(dir: &Path, root: &Path, out: &mut Vec<(String, String)>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            source_files(&path, root, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let relative = path
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            out.push((relative, std::fs::read_to_string(&path).unwrap()));
        }
    }
}

#[test]
fn no_module_depends_on_itself_through_others() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    source_files(&src, &src, &mut files);
    assert!(
        files.len() > 50,
        "read the crate's sources: {}",
        files.len()
    );
    let found = cycles(&files);
    assert!(
        found.is_empty(),
        "module cycles (each set depends on itself through the others; move what they share \
         into a module below them):\n{}",
        found
            .iter()
            .map(|c| c.join(" <-> "))
            .collect::<Vec<_>>()
            .join("\n")
    );
}

fn crate_of(files: &[(&str, &str)]) -> Vec<(String, String)> {
    files
        .iter()
        .map(|(p, t)| (p.to_string(), t.to_string()))
        .collect()
}

#[test]
fn the_check_finds_cycles_through_groups_supers_and_nested_folders() {
    // Two top-level modules naming each other, one of them through a group.
    let found = cycles(&crate_of(&[
        ("lib.rs", "pub mod a; pub mod b; pub mod c;"),
        ("a.rs", "use crate::{c, b::Thing};"),
        ("b.rs", "use crate::a::f;"),
        ("c.rs", "fn g() {}"),
    ]));
    assert_eq!(found, [vec!["a".to_string(), "b".to_string()]]);

    // Siblings in a folder, one naming the other by `super::`, the other by its full path.
    let found = cycles(&crate_of(&[
        ("web/mod.rs", "mod pages; mod error; use pages::routes;"),
        ("web/error.rs", "use super::pages::render;"),
        ("web/pages/mod.rs", "mod manage;"),
        (
            "web/pages/manage.rs",
            "use crate::web::{forms, error::PageError}; use super::super::x;",
        ),
    ]));
    assert_eq!(
        found,
        [vec!["web/error".to_string(), "web/pages".to_string()]]
    );

    // The binary's modules name the library as `paperboy`.
    let found = cycles(&crate_of(&[
        ("cli/mod.rs", "use paperboy::store::Store;"),
        ("store.rs", "use crate::cli::x;"),
    ]));
    assert_eq!(found, [vec!["cli".to_string(), "store".to_string()]]);
}

#[test]
fn parents_children_and_tests_make_no_cycle() {
    let found = cycles(&crate_of(&[
        // A parent naming its child and the child its parent's items.
        (
            "digest/mod.rs",
            "mod compose; use compose::Composer; fn view() {}",
        ),
        (
            "digest/compose.rs",
            "use super::view; use crate::digest::DigestError;",
        ),
        // One way only, and a test module naming the other way.
        ("outbox.rs", "use crate::store::Claim;"),
        (
            "store.rs",
            "fn f() {}\n#[cfg(test)]\nmod tests { use crate::outbox::Outbox; }",
        ),
        // A word that only ends in `crate`, or a path in a string, is no path.
        (
            "mail.rs",
            "let s = \"notcrate::outbox\"; let x = mycrate::outbox::y;",
        ),
    ]));
    assert!(found.is_empty(), "{found:?}");
}
