//! The service's modules import one way: no source file names (through `crate::` or `super::`)
//! a module that, directly or through others, names it back. A circle makes every module in it
//! a dependency of every other, so none can be read or changed alone; this keeps the state a
//! leaf under the routes and the router on top.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Every source file under `src` as its module path (`auth::throttle`), with its text up to
/// its unit tests and without comments.
fn modules(src: &Path) -> BTreeMap<String, String> {
    let mut found = BTreeMap::new();
    let mut folders = vec![src.to_path_buf()];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                folders.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let relative = path.strip_prefix(src).unwrap().with_extension("");
            let mut parts: Vec<String> = relative.iter().map(|p| p.to_string_lossy().into_owned()).collect();
            if parts.last().is_some_and(|p| p == "mod") {
                parts.pop();
            }
            let name = parts.join("::");
            if name == "lib" || name == "main" {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            let code = text.split("#[cfg(test)]").next().unwrap();
            let code: String = code.lines().map(|line| line.split("//").next().unwrap()).collect::<Vec<_>>().join("\n");
            found.insert(name, code);
        }
    }
    found
}

/// The module a path names: its longest prefix that is a source file.
fn resolve<'a>(path: &[&str], modules: &'a BTreeMap<String, String>) -> Option<&'a str> {
    (1..=path.len()).rev().find_map(|n| modules.get_key_value(&path[..n].join("::")).map(|(k, _)| k.as_str()))
}

/// The paths a file names after `crate::` or `super::`, including inside `use x::{a, b::c}`.
fn named_paths(module: &str, code: &str) -> Vec<Vec<String>> {
    // `super::` in `auth/throttle.rs` and in `auth/mod.rs` alike means the module's parent.
    let parts: Vec<&str> = module.split("::").collect();
    let parent = parts[..parts.len() - 1].to_vec();
    let ident = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let mut paths = Vec::new();
    for (root, base) in [("crate::", Vec::new()), ("super::", parent)] {
        for (at, _) in code.match_indices(root) {
            if at > 0 && code[..at].chars().next_back().is_some_and(ident) {
                continue;
            }
            let rest = &code[at + root.len()..];
            let end = rest.find(|c: char| !(ident(c) || c == ':')).unwrap_or(rest.len());
            let prefix: Vec<String> = base.iter().map(|s| s.to_string()).chain(rest[..end].split("::").filter(|s| !s.is_empty()).map(str::to_owned)).collect();
            paths.push(prefix.clone());
            if rest[end..].starts_with('{') {
                let group = &rest[end + 1..rest[end..].find('}').map_or(rest.len(), |i| end + i)];
                for item in group.split(',') {
                    let item: String = item.trim().chars().take_while(|&c| ident(c) || c == ':').collect();
                    paths.push(prefix.iter().cloned().chain(item.split("::").filter(|s| !s.is_empty()).map(str::to_owned)).collect());
                }
            }
        }
    }
    paths
}

#[test]
fn no_module_of_the_service_imports_one_that_imports_it_back() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let modules = modules(&src);
    let mut imports: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for (module, code) in &modules {
        for path in named_paths(module, code) {
            let path: Vec<&str> = path.iter().map(String::as_str).collect();
            let Some(target) = resolve(&path, &modules) else { continue };
            // A module and its own children (or parent) are one unit of reading.
            let related = target == module || target.starts_with(&format!("{module}::")) || module.starts_with(&format!("{target}::"));
            if !related {
                imports.entry(module.as_str()).or_default().insert(target);
            }
        }
    }
    assert!(imports.get("state").is_some_and(|s| !s.is_empty()), "the graph was read: state imports its parts");
    // Depth-first search; a module met again while still on the path closes a circle.
    fn visit<'a>(module: &'a str, imports: &BTreeMap<&'a str, BTreeSet<&'a str>>, path: &mut Vec<&'a str>, done: &mut BTreeSet<&'a str>) -> Option<Vec<&'a str>> {
        if let Some(at) = path.iter().position(|m| *m == module) {
            let mut circle = path[at..].to_vec();
            circle.push(module);
            return Some(circle);
        }
        if !done.insert(module) {
            return None;
        }
        path.push(module);
        for next in imports.get(module).into_iter().flatten() {
            if let Some(circle) = visit(next, imports, path, done) {
                return Some(circle);
            }
        }
        path.pop();
        None
    }
    let mut done = BTreeSet::new();
    for module in modules.keys() {
        if let Some(circle) = visit(module, &imports, &mut Vec::new(), &mut done) {
            panic!("these modules import each other in a circle: {}. Move what they share into a module of its own.", circle.join(" -> "));
        }
    }
}
