//! Data flows one way: a module never imports from a layer above its own. The layers, bottom up,
//! are drawn in ARCHITECTURE.md; this test reads the source and fails naming every import that
//! goes up, and every module not yet placed in a layer.

use std::path::{Path, PathBuf};

/// Each top-level module of the library and its layer (0 at the bottom).
const LAYERS: &[(&str, u8)] = &[
    ("domain", 0),
    ("store", 1),
    ("config", 1),
    ("projection", 2),
    ("ingest", 2),
    ("care", 2),
    ("import", 2),
    ("radar", 2),
    ("webhooks", 2),
    ("mail", 2),
    ("demo", 2),
    ("voice", 2),
    ("server", 3),
];

fn layer(module: &str) -> Option<u8> {
    LAYERS.iter().find(|(name, _)| *name == module).map(|(_, layer)| *layer)
}

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The modules a line of code names as `crate::module`.
fn imported(line: &str) -> Vec<&str> {
    line.match_indices("crate::")
        .map(|(at, _)| {
            let rest = &line[at + "crate::".len()..];
            let end = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(rest.len());
            &rest[..end]
        })
        .filter(|name| !name.is_empty())
        .collect()
}

#[test]
fn no_module_imports_from_a_layer_above_its_own() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    let mut problems = Vec::new();
    for file in files {
        let relative = file.strip_prefix(&src).unwrap();
        let first = relative.components().next().unwrap().as_os_str().to_string_lossy();
        let module = first.trim_end_matches(".rs");
        // The binary's command line sits above everything and names the library as `rapport::`.
        if ["lib", "main", "cli"].contains(&module) {
            continue;
        }
        let Some(own) = layer(module) else {
            problems.push(format!(
                "{}: module '{module}' has no layer in tests/it/layers.rs",
                relative.display()
            ));
            continue;
        };
        let text = std::fs::read_to_string(&file).unwrap();
        for (n, line) in text.lines().enumerate() {
            if line.trim_start().starts_with("//") {
                continue;
            }
            for target in imported(line) {
                match layer(target) {
                    Some(theirs) if theirs > own => problems.push(format!(
                        "{}:{}: {module} (layer {own}) imports {target} (layer {theirs})",
                        relative.display(),
                        n + 1
                    )),
                    None => problems.push(format!("{}:{}: '{target}' has no layer", relative.display(), n + 1)),
                    Some(_) => {}
                }
            }
        }
    }
    assert!(
        problems.is_empty(),
        "imports that go up a layer:\n{}",
        problems.join("\n")
    );
}

#[test]
fn the_check_sees_an_import_that_goes_up() {
    assert_eq!(
        imported("use crate::server::api::{EventView, timestamp};"),
        vec!["server"]
    );
    assert_eq!(
        imported("let x = crate::domain::rules::text(a); crate::store::open"),
        vec!["domain", "store"]
    );
    assert!(layer("store") < layer("server"));
}

/// The server's two faces, the JSON API (`server/api`) and the dashboard (`server/dashboard`),
/// share the process's parts (`server/*.rs`: state, errors, auth, lists' cursors) and never
/// import each other: either can change, or move out, without the other.
#[test]
fn the_api_and_the_dashboard_never_import_each_other() {
    let server = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/server");
    let mut problems = Vec::new();
    for (face, other) in [("api", "dashboard"), ("dashboard", "api")] {
        let mut files = Vec::new();
        sources(&server.join(face), &mut files);
        assert!(!files.is_empty(), "server/{face} has sources");
        for file in files {
            let text = std::fs::read_to_string(&file).unwrap();
            for (n, line) in text.lines().enumerate() {
                if !line.trim_start().starts_with("//") && line.contains(&format!("server::{other}")) {
                    problems.push(format!("{}:{}: {}", file.display(), n + 1, line.trim()));
                }
            }
        }
    }
    assert!(
        problems.is_empty(),
        "one face imports the other:\n{}",
        problems.join("\n")
    );
}
