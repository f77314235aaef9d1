//! Writes the crate's root documentation: the README, with its pictures embedded as data URIs
//! and its links to other files of the repository turned into plain text, so that the page
//! renders the same in `cargo doc` and on docs.rs, where relative links lead nowhere.
//!
//! It never fails the build: a picture it cannot read keeps its link.

use std::path::Path;
use std::{env, fs};

fn main() {
    let root = env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| ".".into());
    let root = Path::new(&root);
    println!("cargo:rerun-if-changed=README.md");
    println!("cargo:rerun-if-changed=docs/pictures");
    let readme = fs::read_to_string(root.join("README.md")).unwrap_or_default();
    let docs = rewrite_links(&readme, root);
    if let Ok(out) = env::var("OUT_DIR") {
        // A failed write leaves the include to fail with a clear message naming the file.
        let _ = fs::write(Path::new(&out).join("crate-docs.md"), docs);
    }
}

/// Replaces `](path)` targets: pictures by data URIs, other repository files by nothing (the
/// link's text stays, followed by the path in code font). Web links are kept.
fn rewrite_links(text: &str, root: &Path) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("](") {
        let (before, after) = rest.split_at(start);
        let Some(end) = after.find(')') else {
            break;
        };
        let target = &after[2..end];
        let is_web = target.contains("://") || target.starts_with('#');
        if is_web || target.contains(char::is_whitespace) {
            out.push_str(before);
            out.push_str(&after[..=end]);
        } else if target.ends_with(".png") {
            match fs::read(root.join(target)) {
                Ok(bytes) => {
                    out.push_str(before);
                    out.push_str("](data:image/png;base64,");
                    out.push_str(&base64(&bytes));
                    out.push(')');
                }
                Err(_) => {
                    out.push_str(before);
                    out.push_str(&after[..=end]);
                }
            }
        } else {
            // `[text](FILE)` becomes `text (`FILE` in the repository)`, or `` `FILE` (in the
            // repository)`` when the text is the path itself.
            let text_start = before.rfind('[').unwrap_or(before.len());
            let link_text = before.get(text_start + 1..).unwrap_or("");
            out.push_str(&before[..text_start]);
            if link_text == target {
                out.push('`');
                out.push_str(target);
                out.push_str("` (in the repository)");
            } else {
                out.push_str(link_text);
                out.push_str(" (`");
                out.push_str(target);
                out.push_str("` in the repository)");
            }
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    out
}

fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i)) as usize & 63]));
            } else {
                out.push('=');
            }
        }
    }
    out
}
