//! The guest SDK as the `wari` binary carries it, for `wari app new` outside a wari checkout.
//!
//! The sources are the ones this binary was built with (`include_str!` of `guest-sdk/` and
//! `wit/`), so a scaffolded app always speaks the contract of the wari that made it. They are
//! written next to the new crate (`NAME/wari-guest-sdk/`, with the contract in its own
//! `wit/`), and used as a path dependency, with a `Cargo.lock` that pins the SDK's one
//! external dependency (wit-bindgen, compiled for wasm32 only) and everything it pulls in to
//! the versions the repository's `apps/` workspace builds with: the crate then builds from
//! what cargo already has, without asking a registry.

use std::collections::{BTreeSet, HashMap};

/// The directory, inside the new crate, that the SDK is written to.
pub(super) const DIR: &str = "wari-guest-sdk";

/// The SDK's package name.
pub(super) const PACKAGE: &str = "wari-guest-sdk";

/// The SDK's version: the workspace's, as wari's own.
pub(super) const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The SDK's manifest in the repository (it inherits from the host's workspace).
const MANIFEST: &str = include_str!("../../../guest-sdk/Cargo.toml");

/// Where `guest-sdk/src/wasm.rs` finds the contract, and where it is in the copy.
const WIT_PATH_REPO: &str = r#"path: "../wit","#;
const WIT_PATH_COPY: &str = r#"path: "wit","#;

/// Every source file of the SDK, by name: `guest-sdk/src/*.rs`, listed by the build script
/// (`runtime/build.rs`), so a new SDK module is carried without being named here.
const SOURCES: &[(&str, &str)] = include!(concat!(env!("OUT_DIR"), "/sdk_sources.rs"));

/// The contract's files: `wit/*.wit`, listed by the build script too.
const WIT: &[(&str, &str)] = include!(concat!(env!("OUT_DIR"), "/sdk_wit.rs"));

/// The guest workspace's lock file: the versions of wit-bindgen and its dependencies.
const APPS_LOCK: &str = include_str!("../../../apps/Cargo.lock");

/// The SDK's only external dependency.
const DEPENDENCY: &str = "wit-bindgen";

/// The SDK's files, as paths relative to the new crate and their contents.
pub(super) fn files() -> Vec<(String, String)> {
    let mut files = vec![(format!("{DIR}/Cargo.toml"), manifest())];
    for (name, text) in SOURCES {
        let text = if *name == "wasm.rs" {
            text.replace(WIT_PATH_REPO, WIT_PATH_COPY)
        } else {
            (*text).to_string()
        };
        files.push((format!("{DIR}/src/{name}"), text));
    }
    for (name, text) in WIT {
        files.push((format!("{DIR}/wit/{name}"), (*text).to_string()));
    }
    files
}

/// The SDK's manifest with the values it inherits from wari's workspace written out, and
/// without its `[lints]` table: that only says "the workspace's lints", and the copy is in
/// no workspace (cargo refuses a manifest that inherits from a workspace it cannot find).
fn manifest() -> String {
    let mut out = format!(
        "# The wari guest SDK {VERSION}, as carried by the `wari` binary that ran `wari app new`.\n\
         # Its sources match that wari's contract (wit/stasis.wit); `wari app new` in a newer\n\
         # wari writes a newer copy.\n"
    );
    let mut in_lints = false;
    for line in MANIFEST.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('[') {
            in_lints = trimmed == "[lints]";
        }
        if in_lints {
            continue;
        }
        let inherited = |key: &str| line.trim() == format!("{key}.workspace = true");
        let line = if inherited("version") {
            format!("version = \"{VERSION}\"")
        } else if inherited("edition") {
            "edition = \"2024\"".to_string()
        } else if inherited("rust-version") {
            format!("rust-version = \"{}\"", env!("CARGO_PKG_RUST_VERSION"))
        } else if inherited("license") {
            format!("license = \"{}\"", env!("CARGO_PKG_LICENSE"))
        } else {
            line.to_string()
        };
        out.push_str(&line);
        out.push('\n');
    }
    out
}

/// One `[[package]]` entry of a lock file: its name and text.
struct Entry<'a> {
    name: &'a str,
    version: &'a str,
    text: &'a str,
    dependencies: Vec<&'a str>,
}

/// The entries of a lock file, in its order, and the text before the first one.
fn entries(lock: &str) -> (&str, Vec<Entry<'_>>) {
    const MARK: &str = "[[package]]\n";
    let mut parts = lock.split(MARK);
    let header = parts.next().unwrap_or_default();
    let entries = parts
        .map(|text| {
            let value = |key: &str| {
                text.lines()
                    .find_map(|l| {
                        l.strip_prefix(key)?
                            .strip_prefix(" = \"")?
                            .strip_suffix('"')
                    })
                    .unwrap_or_default()
            };
            let dependencies = text
                .split_once("dependencies = [\n")
                .map(|(_, list)| {
                    list.lines()
                        .take_while(|l| l.trim() != "]")
                        .filter_map(|l| l.trim().trim_end_matches(',').strip_prefix('"'))
                        .filter_map(|l| l.strip_suffix('"'))
                        .collect()
                })
                .unwrap_or_default();
            Entry {
                name: value("name"),
                version: value("version"),
                text,
                dependencies,
            }
        })
        .collect();
    (header, entries)
}

/// The registry crates the SDK needs (wit-bindgen and what it pulls in), by name.
fn closure<'a>(entries: &[Entry<'a>]) -> BTreeSet<&'a str> {
    let by_name: HashMap<&str, &Entry> = entries.iter().map(|e| (e.name, e)).collect();
    let mut needed = BTreeSet::new();
    let mut queue = vec![DEPENDENCY];
    while let Some(name) = queue.pop() {
        if !needed.insert(name) {
            continue;
        }
        if let Some(entry) = by_name.get(name) {
            // A dependency is written "name" or "name version" (or with its source).
            queue.extend(
                entry
                    .dependencies
                    .iter()
                    .filter_map(|d| d.split(' ').next()),
            );
        }
    }
    needed
}

/// The names a new crate cannot have next to the SDK: the SDK's and those of the crates it
/// depends on (the lock file would be ambiguous).
pub(super) fn reserved_names() -> BTreeSet<&'static str> {
    let (_, entries) = entries(APPS_LOCK);
    let mut names = closure(&entries);
    names.insert(PACKAGE);
    names
}

/// The new crate's `Cargo.lock`: the crate (package `app`, depending on the SDK), the SDK,
/// and the registry crates the SDK needs at the versions `apps/Cargo.lock` has.
pub(super) fn lock_file(app: &str) -> String {
    let (header, entries) = entries(APPS_LOCK);
    let needed = closure(&entries);
    let app_entry =
        format!("name = \"{app}\"\nversion = \"0.1.0\"\ndependencies = [\n \"{PACKAGE}\",\n]\n\n");
    let sdk_entry = format!(
        "name = \"{PACKAGE}\"\nversion = \"{VERSION}\"\ndependencies = [\n \"{DEPENDENCY}\",\n]\n\n"
    );
    let mut kept: Vec<(&str, &str, String)> = entries
        .iter()
        .filter(|e| needed.contains(e.name) && e.text.contains("\nsource = "))
        .map(|e| (e.name, e.version, e.text.to_string()))
        .collect();
    kept.push((app, "0.1.0", app_entry));
    kept.push((PACKAGE, VERSION, sdk_entry));
    // Cargo keeps the entries sorted by name (and version, which the stable sort keeps from
    // the source file).
    kept.sort_by(|a, b| a.0.cmp(b.0));
    let mut out = header.to_string();
    let last = kept.len().saturating_sub(1);
    for (i, (_, _, text)) in kept.into_iter().enumerate() {
        out.push_str("[[package]]\n");
        // Entries are separated by one empty line; the file ends with one newline.
        if i == last {
            out.push_str(text.trim_end());
            out.push('\n');
        } else {
            out.push_str(text.trim_end());
            out.push_str("\n\n");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_sdk_source_is_carried() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../guest-sdk/src");
        let mut on_disk: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".rs"))
            .collect();
        on_disk.sort();
        let carried: Vec<&str> = SOURCES.iter().map(|(n, _)| *n).collect();
        assert_eq!(on_disk, carried, "runtime/build.rs lists guest-sdk/src");
        let mut wit: Vec<String> = std::fs::read_dir(dir.join("../../wit"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        wit.sort();
        let carried: Vec<&str> = WIT.iter().map(|(n, _)| *n).collect();
        assert_eq!(wit, carried, "runtime/build.rs lists wit/");
        assert!(carried.contains(&"stasis.wit"), "{carried:?}");
    }

    #[test]
    fn the_copy_finds_its_own_wit_and_inherits_nothing() {
        let files = files();
        let wasm = &files
            .iter()
            .find(|(p, _)| p == "wari-guest-sdk/src/wasm.rs")
            .unwrap()
            .1;
        assert!(wasm.contains(WIT_PATH_COPY), "{wasm}");
        assert!(!wasm.contains(WIT_PATH_REPO));
        let manifest = manifest();
        assert!(!manifest.contains(".workspace"), "{manifest}");
        assert!(MANIFEST.contains("[lints]\nworkspace = true"), "{MANIFEST}");
        assert!(
            !manifest.contains("[lints]")
                && !manifest.lines().any(|l| l.trim().starts_with("workspace")),
            "{manifest}"
        );
        assert!(manifest.contains("name = \"wari-guest-sdk\""), "{manifest}");
        assert!(manifest.contains(&format!("version = \"{VERSION}\"")));
        assert!(
            manifest.contains("wit-bindgen = { version = \"0.63\""),
            "{manifest}"
        );
    }

    #[test]
    fn the_lock_pins_wit_bindgen_and_its_dependencies_only() {
        let lock = lock_file("hello");
        assert!(lock.starts_with("# This file is automatically @generated by Cargo."));
        let (_, entries) = entries(&lock);
        let names: Vec<&str> = entries.iter().map(|e| e.name).collect();
        let mut sorted = names.clone();
        sorted.sort();
        assert_eq!(names, sorted);
        for name in [
            "hello",
            "wari-guest-sdk",
            "wit-bindgen",
            "wit-bindgen-rust-macro",
            "syn",
        ] {
            assert!(names.contains(&name), "{name}: {lock}");
        }
        // Not the apps of the guest workspace, nor crates nothing here uses.
        for name in ["ivr", "hostile-trap"] {
            assert!(!names.contains(&name), "{name}: {lock}");
        }
        let wit_bindgen = entries.iter().find(|e| e.name == "wit-bindgen").unwrap();
        assert!(wit_bindgen.text.contains("checksum = "), "{lock}");
        assert!(lock.ends_with("\"\n") && !lock.ends_with("\n\n"), "{lock}");
        assert!(reserved_names().contains("syn"));
        assert!(reserved_names().contains("wari-guest-sdk"));
        assert!(!reserved_names().contains("hello"));
    }
}
