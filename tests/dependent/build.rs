//! Copies the README's first ```rust block into `OUT_DIR/snippet.rs` as one block expression,
//! with rustdoc's hidden-line markers (`# `) removed.

use std::{env, fs, path::Path};

fn main() {
    let readme_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../README.md");
    println!("cargo:rerun-if-changed={}", readme_path.display());
    let readme = fs::read_to_string(&readme_path).expect("the README is two folders up");
    let start = readme
        .find("```rust\n")
        .expect("the README has a ```rust block")
        + 8;
    let end = start + readme[start..].find("```").expect("the block is closed");
    let mut snippet = String::from("{\n");
    for line in readme[start..end].lines() {
        let line = line.strip_prefix("# ").unwrap_or(line);
        snippet.push_str(line);
        snippet.push('\n');
    }
    snippet.push_str("}\n");
    let out = Path::new(&env::var("OUT_DIR").unwrap()).join("snippet.rs");
    fs::write(out, snippet).unwrap();
}
