//! The crate's files import only downwards: `src/` is in layers (the rooms), each file may use
//! files of its own layer or of the layers below, never one above, and no files import each other
//! in a loop (within a room either). Read from the source: every `use` of `crate::`, `super::`,
//! `self::` or a child module, and every `crate::`/`super::` path written inline in code (comments
//! and string literals do not count). A `tests.rs` child module, like an inline `mod tests`,
//! counts as part of its parent file: unit tests import downwards too.
//!
//! The order, bottom to top, is [`LAYERS`]; lib.rs's module list says what each layer holds.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// Bottom to top: the first path component under `src/` (a room, or a top-level file).
const LAYERS: [&str; 5] = ["config", "trace", "metrics", "http", "lib"];

/// A file's module path: `src/lib.rs` is `[]`, `src/a/mod.rs` and `src/a.rs` are `[a]`.
fn module_of(relative: &Path) -> Vec<String> {
    let mut parts: Vec<String> = relative
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    let file = parts.pop().expect("a file name");
    let stem = file.trim_end_matches(".rs");
    if !(parts.is_empty() && stem == "lib") && stem != "mod" {
        parts.push(stem.to_owned());
    }
    parts
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).expect("readable src") {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The code with comments, string and character literals blanked out (same length, so that
/// positions still correspond).
fn code_only(source: &str) -> String {
    let chars: Vec<char> = source.chars().collect();
    let mut out = String::with_capacity(source.len());
    let mut i = 0;
    let blank = |c: char| if c == '\n' { '\n' } else { ' ' };
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                out.push(' ');
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            loop {
                if i >= chars.len() {
                    break;
                }
                if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
                    depth += 1;
                    out.push_str("  ");
                    i += 2;
                } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    out.push_str("  ");
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    out.push(blank(chars[i]));
                    i += 1;
                }
            }
        } else if c == 'r'
            && (next == Some('"') || next == Some('#'))
            && (i == 0 || !(chars[i - 1].is_alphanumeric() || chars[i - 1] == '_'))
        {
            // A raw string: r"..." or r#"..."#.
            let mut j = i + 1;
            let mut hashes = 0;
            while chars.get(j) == Some(&'#') {
                hashes += 1;
                j += 1;
            }
            if chars.get(j) != Some(&'"') {
                out.push(c);
                i += 1;
                continue;
            }
            j += 1;
            loop {
                if j >= chars.len() {
                    break;
                }
                if chars[j] == '"' && (1..=hashes).all(|k| chars.get(j + k) == Some(&'#')) {
                    j += 1 + hashes;
                    break;
                }
                j += 1;
            }
            for &skipped in &chars[i..j.min(chars.len())] {
                out.push(blank(skipped));
            }
            i = j;
        } else if c == '"' {
            out.push(' ');
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                let step = if chars[i] == '\\' { 2 } else { 1 };
                for &skipped in chars.iter().skip(i).take(step) {
                    out.push(blank(skipped));
                }
                i += step;
            }
            out.push(' ');
            i += 1;
        } else if c == '\'' && next == Some('\\') {
            // An escaped character literal: '\n', '\'', '\u{..}'.
            let mut j = i + 3;
            while j < chars.len() && chars[j] != '\'' {
                j += 1;
            }
            for _ in i..=j.min(chars.len() - 1) {
                out.push(' ');
            }
            i = j + 1;
        } else if c == '\'' && chars.get(i + 2) == Some(&'\'') {
            out.push_str("   ");
            i += 3;
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

/// The paths a use tree names: `a::{b, c::{d, e}}` is `a::b`, `a::c::d`, `a::c::e`.
fn expand_use_tree(tree: &str) -> Vec<Vec<String>> {
    fn split_top(s: &str) -> Vec<&str> {
        let (mut depth, mut start, mut parts) = (0, 0, Vec::new());
        for (i, c) in s.char_indices() {
            match c {
                '{' => depth += 1,
                '}' => depth -= 1,
                ',' if depth == 0 => {
                    parts.push(&s[start..i]);
                    start = i + 1;
                }
                _ => {}
            }
        }
        parts.push(&s[start..]);
        parts
    }
    let mut out = Vec::new();
    for part in split_top(tree) {
        let part = part.trim();
        if part.is_empty() {
            continue;
        }
        let segments = |s: &str| -> Vec<String> {
            s.split("::")
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect()
        };
        if let Some(open) = part.find('{') {
            let prefix = segments(&part[..open]);
            let inner = &part[open + 1..part.rfind('}').expect("a closing brace")];
            for rest in expand_use_tree(inner) {
                let mut path = prefix.clone();
                path.extend(rest);
                out.push(path);
            }
        } else {
            // `name as alias`: the name.
            out.push(segments(part.split_whitespace().next().unwrap_or(part)));
        }
    }
    out
}

/// The module an offset of `code` is in: the file's module, plus any inline `mod name { .. }`.
fn inline_modules(code: &str) -> Vec<(usize, usize, String)> {
    let bytes = code.as_bytes();
    let mut spans = Vec::new();
    let mut stack: Vec<(usize, Option<(usize, String)>)> = Vec::new();
    let mut depth = 0usize;
    let mut i = 0;
    while i < bytes.len() {
        if code[i..].starts_with("mod ")
            && (i == 0 || !(bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'_'))
        {
            let rest = &code[i + 4..];
            let name: String = rest
                .trim_start()
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            let after = rest.trim_start()[name.len()..].trim_start();
            if after.starts_with('{') {
                let open = i + 4 + (rest.len() - after.len());
                depth += 1;
                stack.push((depth, Some((open, name))));
                i = open + 1;
                continue;
            }
        }
        match bytes[i] {
            b'{' => {
                depth += 1;
                stack.push((depth, None));
            }
            b'}' => {
                if let Some((_, Some((open, name)))) = stack.pop() {
                    spans.push((open, i, name));
                }
                depth = depth.saturating_sub(1);
            }
            _ => {}
        }
        i += 1;
    }
    spans
}

struct Crate {
    /// Module path → the file that declares it.
    modules: BTreeMap<Vec<String>, String>,
    /// File → the unit it belongs to (a `tests.rs` child belongs to its parent's file).
    units: BTreeMap<String, String>,
    /// Unit → the units it imports, each with the import as written.
    imports: BTreeMap<String, BTreeMap<String, String>>,
}

fn read_crate(src: &Path) -> Crate {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let mut modules = BTreeMap::new();
    let mut sources = Vec::new();
    for file in &files {
        let relative = file.strip_prefix(src).expect("under src").to_path_buf();
        let name = relative.to_string_lossy().replace('\\', "/");
        modules.insert(module_of(&relative), name.clone());
        sources.push((
            name,
            module_of(&relative),
            fs::read_to_string(file).expect("readable"),
        ));
    }
    let mut units = BTreeMap::new();
    for (module, file) in &modules {
        let unit = if module.last().is_some_and(|m| m == "tests") {
            modules[&module[..module.len() - 1]].clone()
        } else {
            file.clone()
        };
        units.insert(file.clone(), unit);
    }
    let resolve = |context: &[String], path: &[String]| -> Option<String> {
        let mut absolute: Vec<String> = match path.first().map(String::as_str) {
            Some("crate") => Vec::new(),
            Some("self") => context.to_vec(),
            Some("super") => context.to_vec(),
            Some(first) => {
                let mut child = context.to_vec();
                child.push(first.to_owned());
                if !modules.contains_key(&child) {
                    return None; // another crate (or an item of this module)
                }
                context.to_vec()
            }
            None => return None,
        };
        let mut rest = path;
        if matches!(path[0].as_str(), "crate" | "self") {
            rest = &path[1..];
        }
        while rest.first().is_some_and(|s| s == "super") {
            absolute.pop();
            rest = &rest[1..];
        }
        absolute.extend(rest.iter().cloned());
        (0..=absolute.len())
            .rev()
            .find_map(|n| modules.get(&absolute[..n]).cloned())
    };
    let mut imports: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for (file, module, source) in &sources {
        let unit = units[file].clone();
        let code = code_only(source);
        let spans = inline_modules(&code);
        let context_at = |offset: usize| -> Vec<String> {
            let mut context = module.clone();
            let mut inner: Vec<&(usize, usize, String)> = spans
                .iter()
                .filter(|(open, close, _)| *open < offset && offset < *close)
                .collect();
            inner.sort_by_key(|(open, _, _)| *open);
            context.extend(inner.into_iter().map(|(_, _, name)| name.clone()));
            context
        };
        let mut found: Vec<(usize, Vec<String>, String)> = Vec::new();
        // `use` declarations (any visibility), then paths written inline elsewhere.
        let mut rest_of_code = code.clone();
        let mut at = 0;
        while let Some(pos) = code[at..].find("use ") {
            let start = at + pos;
            at = start + 4;
            let before = code[..start].chars().next_back();
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
                continue;
            }
            let Some(end) = code[start..].find(';').map(|e| start + e) else {
                break;
            };
            let tree = &code[start + 4..end];
            for path in expand_use_tree(tree) {
                found.push((start, path, format!("use {}", tree.trim())));
            }
            rest_of_code.replace_range(start..end, &" ".repeat(end - start));
            at = end;
        }
        for keyword in ["crate::", "super::"] {
            let mut at = 0;
            while let Some(pos) = rest_of_code[at..].find(keyword) {
                let start = at + pos;
                at = start + keyword.len();
                let before = rest_of_code[..start].chars().next_back();
                if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '$') {
                    continue;
                }
                let written: String = rest_of_code[start..]
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
                    .collect();
                let path: Vec<String> = written
                    .split("::")
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect();
                found.push((start, path, written));
            }
        }
        for (offset, path, written) in found {
            let Some(target) = resolve(&context_at(offset), &path) else {
                continue;
            };
            let target_unit = units[&target].clone();
            if target_unit != unit {
                imports
                    .entry(unit.clone())
                    .or_default()
                    .entry(target_unit)
                    .or_insert(written);
            }
        }
    }
    Crate {
        modules,
        units,
        imports,
    }
}

fn layer_of(unit: &str) -> usize {
    let room = unit
        .split('/')
        .next()
        .expect("a path")
        .trim_end_matches(".rs");
    LAYERS.iter().position(|l| *l == room).unwrap_or_else(|| {
        panic!("src/{unit} is in no layer: add {room:?} to LAYERS (tests/layering.rs)")
    })
}

fn upward_imports(krate: &Crate) -> Vec<String> {
    let mut problems = Vec::new();
    for (from, targets) in &krate.imports {
        for (to, written) in targets {
            if layer_of(to) > layer_of(from) {
                problems.push(format!(
                    "src/{from} ({}) imports src/{to} ({}), a layer above it: `{written}`",
                    LAYERS[layer_of(from)],
                    LAYERS[layer_of(to)],
                ));
            }
        }
    }
    problems
}

/// One import loop per strongly connected group of files, if any.
fn import_loops(krate: &Crate) -> Vec<String> {
    let units: BTreeSet<&String> = krate.units.values().collect();
    let mut loops = Vec::new();
    let mut reported: BTreeSet<String> = BTreeSet::new();
    for start in units {
        if reported.contains(start) {
            continue;
        }
        // A path back to `start`, by depth-first search.
        let mut stack: Vec<(String, Vec<String>)> = vec![(start.clone(), vec![start.clone()])];
        let mut seen = BTreeSet::new();
        while let Some((unit, path)) = stack.pop() {
            let Some(targets) = krate.imports.get(&unit) else {
                continue;
            };
            if targets.contains_key(start) {
                let mut cycle = path.clone();
                cycle.push(start.clone());
                reported.extend(path.iter().cloned());
                loops.push(
                    cycle
                        .iter()
                        .map(|u| format!("src/{u}"))
                        .collect::<Vec<_>>()
                        .join(" -> "),
                );
                break;
            }
            for next in targets.keys() {
                if seen.insert(next.clone()) {
                    let mut longer = path.clone();
                    longer.push(next.clone());
                    stack.push((next.clone(), longer));
                }
            }
        }
    }
    loops
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

#[test]
fn files_import_only_their_own_layer_or_below() {
    let krate = read_crate(&src());
    // The reading works: every room is there, and imports were found in each.
    for room in LAYERS {
        assert!(
            krate
                .imports
                .keys()
                .any(|unit| layer_of(unit) == layer_of(room))
                || room == "config",
            "no imports read from {room}: the parser is broken"
        );
    }
    assert!(
        krate.modules.len() > 20 && krate.imports.values().map(BTreeMap::len).sum::<usize>() > 40
    );
    let problems = upward_imports(&krate);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn no_files_import_each_other_in_a_loop() {
    let krate = read_crate(&src());
    let loops = import_loops(&krate);
    assert!(loops.is_empty(), "import loops:\n{}", loops.join("\n"));
}

#[test]
fn the_reader_sees_use_trees_inline_paths_and_nested_modules() {
    assert_eq!(
        expand_use_tree("crate::a::{b, c::{d, e as f}}"),
        vec![
            vec!["crate", "a", "b"],
            vec!["crate", "a", "c", "d"],
            vec!["crate", "a", "c", "e"],
        ]
    );
    let code = code_only("// crate::x\nlet s = \"crate::y\"; let c = '\"'; crate::z::w();");
    assert!(!code.contains("crate::x") && !code.contains("crate::y"));
    assert!(code.contains("crate::z::w"));
    let code = "fn a() {}\nmod tests {\n    use super::*;\n}\n";
    let spans = inline_modules(code);
    assert_eq!(spans.len(), 1);
    assert_eq!(spans[0].2, "tests");
}
