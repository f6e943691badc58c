//! Repository hygiene checked inside `cargo test`: every Rust source file starts with `//!` docs,
//! and ARCHITECTURE.md names every crate in the workspace.

use std::path::{Path, PathBuf};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

#[test]
fn every_source_file_has_module_docs() {
    let mut files = Vec::new();
    for e in std::fs::read_dir(workspace().join("crates")).unwrap() {
        let crate_dir = e.unwrap().path();
        for sub in ["src", "tests"] {
            if crate_dir.join(sub).is_dir() {
                rust_files(&crate_dir.join(sub), &mut files);
            }
        }
    }
    assert!(files.len() > 20);
    let missing: Vec<_> = files
        .iter()
        .filter(|f| {
            let text = std::fs::read_to_string(f).unwrap();
            !text
                .lines()
                .find(|l| !l.trim().is_empty())
                .is_some_and(|l| l.starts_with("//!"))
        })
        .collect();
    assert!(
        missing.is_empty(),
        "files without //! module docs: {missing:?}"
    );
}

#[test]
fn architecture_names_every_crate() {
    let arch = std::fs::read_to_string(workspace().join("ARCHITECTURE.md")).unwrap();
    for e in std::fs::read_dir(workspace().join("crates")).unwrap() {
        let name = e.unwrap().file_name().into_string().unwrap();
        assert!(
            arch.contains(&format!("crates/{name}")) || arch.contains(&format!("{name}/")),
            "ARCHITECTURE.md does not mention crates/{name}"
        );
    }
}
