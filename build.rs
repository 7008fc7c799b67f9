//! Rebuilds when migrations change (sqlx::migrate! embeds them) and embeds the seed data
//! files, so the binary carries the report's portfolio wherever it runs.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn main() {
    println!("cargo:rerun-if-changed=migrations");
    println!("cargo:rerun-if-changed=seeds");

    let root =
        PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    collect_toml(&root.join("seeds"), &mut files);
    files.sort();

    let mut code =
        String::from("/// Seed data files, relative path and contents, in load order.\n");
    code.push_str("pub static SEED_FILES: &[(&str, &str)] = &[\n");
    for file in &files {
        let relative = file
            .strip_prefix(&root)
            .expect("seed file under the crate root");
        writeln!(
            code,
            "    ({:?}, include_str!({:?})),",
            relative.display().to_string(),
            file.display().to_string()
        )
        .expect("writing to a String cannot fail");
    }
    code.push_str("];\n");
    let out =
        PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("seed_files.rs");
    std::fs::write(out, code).expect("writing seed_files.rs into OUT_DIR");
}

fn collect_toml(dir: &Path, files: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect_toml(&path, files);
        } else if path.extension().is_some_and(|e| e == "toml") {
            files.push(path);
        }
    }
}
