//! Build script: lists the guest SDK's sources (`guest-sdk/src/*.rs`) and the contract's
//! files (`wit/*.wit`) that `wari app new` writes out (`src/cli/sdk_bundle.rs`). The
//! directories are the one list: a file added to either is carried without being named
//! anywhere else.

// Printing `cargo::` directives is how a build script talks to cargo.
#![allow(clippy::print_stdout)]

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::{env, fs};

fn main() {
    let manifest = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets it"));
    for (dir, extension, file) in [
        ("../guest-sdk/src", "rs", "sdk_sources.rs"),
        ("../wit", "wit", "sdk_wit.rs"),
    ] {
        let list = embedded_files(&manifest.join(dir), extension);
        fs::write(out.join(file), list).expect("OUT_DIR is writable");
    }
}

/// A Rust expression of type `&[(&str, &str)]`: each file of `dir` ending in `.extension`,
/// by name in sorted order, with its text (`include_str!`, so a change to a file rebuilds).
fn embedded_files(dir: &Path, extension: &str) -> String {
    // A directory: cargo reruns the script when any entry in it changes.
    println!("cargo::rerun-if-changed={}", dir.display());
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
        .filter(|name| name.ends_with(&format!(".{extension}")))
        .collect();
    names.sort();
    let mut list = String::from("&[\n");
    for name in names {
        let path = dir.join(&name);
        let path = path.canonicalize().unwrap_or(path);
        writeln!(list, "    ({name:?}, include_str!({:?})),", path.display())
            .expect("writing to a String cannot fail");
    }
    list.push(']');
    list
}
