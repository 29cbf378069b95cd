//! `wari app build [DIR]`: builds the app crate in DIR into a WebAssembly component.
//!
//! The toolchain is chosen as `scripts/build-guests` chooses it: rustup's `wasm32-wasip2`
//! target when it is installed; else Debian's Rust (`rustc-web`), which builds std for the
//! target from source (`-Zbuild-std`), called by full path with a scrubbed environment; else
//! an error naming what to install. Every build shares one cargo target directory per
//! machine ([`guest_target_dir`]), so std is built once and later builds take seconds; the
//! Debian route trims paths (`-Ztrim-paths`) instead of remapping them with rustflags, so
//! std's build does not depend on where a crate lives and is shared by every crate (and by
//! `scripts/build-guests`, which builds the same way).
//!
//! The component is copied to `<the crate's target dir>/wari/<package>.wasm`, so that crates
//! sharing the build directory do not overwrite each other's results. Cargo's output (progress
//! and errors) goes to stderr as cargo writes it.
//!
//! API for other subcommands: [`build_component`] (blocking: it waits for cargo; call it from
//! `tokio::task::spawn_blocking` in async code).

use std::ffi::OsString;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::Value;

/// The target: a WASI 0.2 component straight out of the linker.
const TARGET: &str = "wasm32-wasip2";

/// The environment variable overriding [`guest_target_dir`]'s default.
pub(crate) const TARGET_DIR_VAR: &str = "WARI_GUEST_TARGET_DIR";

/// The packages `scripts/setup-guest-toolchain` installs, and a file each provides.
const DEBIAN: &[(&str, &str)] = &[
    ("usr/bin/rustc", "rustc-web"),
    ("usr/bin/cargo", "cargo-web"),
    (
        "usr/lib/rustlib/src/rust/library/std/Cargo.toml",
        "rust-web-src",
    ),
    ("usr/bin/rust-lld", "rust-web-llvm"),
    ("usr/bin/lld-22", "lld-22"),
    ("usr/lib/wasm32-wasi/libc.a", "wasi-libc"),
];

/// A component built by [`build_component`].
#[derive(Debug, Clone)]
pub(crate) struct BuiltComponent {
    /// The component file (`<target dir>/wari/<package>.wasm`).
    pub path: PathBuf,
    /// The crate's package name: the Stasis app name `wari app new` suggested.
    pub app_name: String,
    /// The component's size in bytes.
    pub bytes: u64,
    /// How long cargo took.
    pub elapsed: Duration,
    /// The toolchain that built it.
    pub toolchain: Toolchain,
}

/// Which Rust builds the component.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Toolchain {
    /// rustup's toolchain with the `wasm32-wasip2` target installed.
    Rustup,
    /// Debian's `rustc-web`, with std built from source.
    Debian,
}

impl std::fmt::Display for Toolchain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Toolchain::Rustup => "rustup's wasm32-wasip2 target",
            Toolchain::Debian => "Debian's rustc-web, std built from source",
        })
    }
}

/// The shared build directory: `$WARI_GUEST_TARGET_DIR`, else
/// `$XDG_CACHE_HOME/wari/guest-target`, else `~/.cache/wari/guest-target`.
pub(crate) fn guest_target_dir() -> anyhow::Result<PathBuf> {
    let var = |name: &str| {
        std::env::var_os(name)
            .map(PathBuf::from)
            .filter(|p| p.is_absolute())
    };
    if let Some(dir) = std::env::var_os(TARGET_DIR_VAR).filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(dir));
    }
    if let Some(cache) = var("XDG_CACHE_HOME") {
        return Ok(cache.join("wari/guest-target"));
    }
    match var("HOME") {
        Some(home) => Ok(home.join(".cache/wari/guest-target")),
        None => bail!("no HOME to keep the guest build in: set {TARGET_DIR_VAR}"),
    }
}

/// The packages of [`DEBIAN`] whose file is missing under `root`.
fn missing_debian_packages(root: &Path) -> Vec<&'static str> {
    DEBIAN
        .iter()
        // `metadata` follows links: rust-lld is a link to lld-22.
        .filter(|(file, _)| std::fs::metadata(root.join(file)).is_err())
        .map(|(_, package)| *package)
        .collect()
}

/// True if rustup's active toolchain for `dir` has the target installed.
fn rustup_has_target(dir: &Path) -> bool {
    Command::new("rustup")
        .args(["target", "list", "--installed"])
        .current_dir(dir)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .is_ok_and(|out| {
            out.status.success()
                && String::from_utf8_lossy(&out.stdout)
                    .lines()
                    .any(|l| l.trim() == TARGET)
        })
}

/// The toolchain to build `dir` with, or what to install.
fn choose_toolchain(dir: &Path) -> anyhow::Result<Toolchain> {
    if rustup_has_target(dir) {
        return Ok(Toolchain::Rustup);
    }
    let missing = missing_debian_packages(Path::new("/"));
    if missing.is_empty() {
        return Ok(Toolchain::Debian);
    }
    bail!(no_toolchain_message(&missing))
}

fn no_toolchain_message(missing: &[&str]) -> String {
    format!(
        "no Rust toolchain that builds {TARGET} components: either add the target to rustup's \
         toolchain (`rustup target add {TARGET}`), or install Debian's packages \
         rustc-web cargo-web rust-web-src rust-web-llvm lld-22 wasi-libc (missing here: {}; \
         a wari checkout's scripts/setup-guest-toolchain installs them)",
        missing.join(" ")
    )
}

/// A cargo command of `toolchain`, its environment scrubbed of what would change the guest
/// build (or leak the host's flags into it).
fn cargo(toolchain: Toolchain, dir: &Path) -> Command {
    let mut command = match toolchain {
        Toolchain::Rustup => Command::new("cargo"),
        Toolchain::Debian => Command::new("/usr/bin/cargo"),
    };
    command
        .current_dir(dir)
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_BUILD_RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("CARGO_TARGET_WASM32_WASIP2_RUSTFLAGS");
    if toolchain == Toolchain::Debian {
        command
            .env_remove("RUSTUP_TOOLCHAIN")
            .env("RUSTC", "/usr/bin/rustc")
            .env("RUSTDOC", "/usr/bin/rustdoc")
            .env("RUSTC_BOOTSTRAP", "1")
            .env(
                "CARGO_TARGET_WASM32_WASIP2_RUSTFLAGS",
                "-L native=/usr/lib/wasm32-wasi",
            );
    }
    command
}

/// The arguments of the build.
fn build_args(
    toolchain: Toolchain,
    manifest: &Path,
    package: &str,
    target_dir: &Path,
) -> Vec<OsString> {
    let mut args: Vec<OsString> = ["build", "--release", "--lib", "--target", TARGET]
        .map(OsString::from)
        .into();
    if toolchain == Toolchain::Debian {
        for arg in [
            "-Zbuild-std=std,panic_abort",
            "-Ztrim-paths",
            "--config",
            "profile.release.trim-paths=\"all\"",
        ] {
            args.push(arg.into());
        }
    }
    args.extend([
        "--manifest-path".into(),
        manifest.as_os_str().to_owned(),
        "--package".into(),
        package.into(),
        "--target-dir".into(),
        target_dir.as_os_str().to_owned(),
    ]);
    args
}

/// The crate about to be built, from `cargo metadata`.
#[derive(Debug, PartialEq, Eq)]
struct Crate {
    package: String,
    /// The cdylib's file name stem (the lib target's name, `-` as `_`).
    lib: String,
    /// Cargo's target directory for the crate's workspace.
    target_dir: PathBuf,
}

/// Finds the package of `manifest` in `cargo metadata`'s answer and checks it builds a cdylib.
fn find_crate(metadata: &Value, manifest: &Path, dir: &Path) -> anyhow::Result<Crate> {
    let packages = metadata["packages"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    let Some(package) = packages
        .iter()
        .find(|p| p["manifest_path"].as_str().map(Path::new) == Some(manifest))
    else {
        let names: Vec<&str> = packages.iter().filter_map(|p| p["name"].as_str()).collect();
        bail!(
            "{}/Cargo.toml is a workspace, not a crate: build one of its members ({})",
            dir.display(),
            names.join(", ")
        );
    };
    let name = package["name"].as_str().unwrap_or_default().to_string();
    let targets = package["targets"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    let cdylib = targets.iter().find(|t| {
        t["crate_types"]
            .as_array()
            .is_some_and(|types| types.iter().any(|k| k == "cdylib"))
    });
    let Some(cdylib) = cdylib else {
        bail!(
            "crate {name} in {} builds no component: its Cargo.toml needs\n\n[lib]\n\
             crate-type = [\"cdylib\", \"rlib\"]\n\n(cdylib: the component; rlib: so unit tests \
             link against the SDK's mock host)",
            dir.display()
        );
    };
    let lib = cdylib["name"].as_str().unwrap_or(&name).replace('-', "_");
    let target_dir = metadata["target_directory"]
        .as_str()
        .map(PathBuf::from)
        .unwrap_or_else(|| dir.join("target"));
    Ok(Crate {
        package: name,
        lib,
        target_dir,
    })
}

/// `cargo metadata` of `manifest` (no dependencies resolved: nothing is fetched).
fn metadata(toolchain: Toolchain, dir: &Path, manifest: &Path) -> anyhow::Result<Value> {
    let out = cargo(toolchain, dir)
        .args([
            "metadata",
            "--no-deps",
            "--format-version",
            "1",
            "--manifest-path",
        ])
        .arg(manifest)
        .stdin(Stdio::null())
        .output()
        .context("cannot run cargo")?;
    if !out.status.success() {
        bail!(
            "cargo cannot read {}:\n{}",
            manifest.display(),
            String::from_utf8_lossy(&out.stderr).trim_end()
        );
    }
    serde_json::from_slice(&out.stdout).context("cargo metadata's answer is not JSON")
}

/// True if `bytes` start like a WebAssembly component (not a core module).
fn is_component(bytes: &[u8]) -> bool {
    bytes.starts_with(b"\0asm") && bytes.get(6..8) == Some(&[1, 0])
}

/// True if the Debian route has not built std into `target_dir` yet.
fn std_missing(target_dir: &Path) -> bool {
    let deps = target_dir.join(TARGET).join("release/deps");
    std::fs::read_dir(deps).map_or(true, |entries| {
        !entries
            .filter_map(Result::ok)
            .any(|e| e.file_name().to_string_lossy().starts_with("libstd-"))
    })
}

/// Builds the crate in `crate_dir` into a component (blocking until cargo is done; cargo's
/// progress and errors go to stderr).
pub(crate) fn build_component(crate_dir: &Path) -> anyhow::Result<BuiltComponent> {
    if !crate_dir.is_dir() {
        bail!("{}: no such directory", crate_dir.display());
    }
    let dir = crate_dir
        .canonicalize()
        .with_context(|| format!("cannot use {}", crate_dir.display()))?;
    let manifest = dir.join("Cargo.toml");
    if !manifest.is_file() {
        bail!(
            "{} is not a Rust crate: it has no Cargo.toml (`wari app new NAME` creates an app \
             crate)",
            crate_dir.display()
        );
    }
    let toolchain = choose_toolchain(&dir)?;
    let metadata = metadata(toolchain, &dir, &manifest)?;
    let krate = find_crate(&metadata, &manifest, crate_dir)?;
    let target_dir = guest_target_dir()?;
    std::fs::create_dir_all(&target_dir)
        .with_context(|| format!("cannot create {}", target_dir.display()))?;
    if toolchain == Toolchain::Debian && std_missing(&target_dir) {
        eprintln!(
            "wari app build: building Rust's std for {TARGET} into {} first (once per \
             machine; a few minutes)",
            target_dir.display()
        );
    }

    let start = Instant::now();
    let stderr = std::io::stderr()
        .as_fd()
        .try_clone_to_owned()
        .context("cannot pass stderr to cargo")?;
    let status = cargo(toolchain, &dir)
        .args(build_args(
            toolchain,
            &manifest,
            &krate.package,
            &target_dir,
        ))
        .stdin(Stdio::null())
        .stdout(Stdio::from(stderr))
        .status()
        .context("cannot run cargo")?;
    let elapsed = start.elapsed();
    if !status.success() {
        bail!(
            "cargo could not build {} ({status}; its messages are above)",
            krate.package
        );
    }

    let built = target_dir
        .join(TARGET)
        .join("release")
        .join(format!("{}.wasm", krate.lib));
    let bytes = std::fs::read(&built).with_context(|| {
        format!(
            "cargo built {} but left no {}",
            krate.package,
            built.display()
        )
    })?;
    if !is_component(&bytes) {
        bail!("{} is not a WebAssembly component", built.display());
    }
    let out_dir = krate.target_dir.join("wari");
    let path = out_dir.join(format!("{}.wasm", krate.package));
    // Written only when changed, so its modification time means something.
    if std::fs::read(&path).ok().as_deref() != Some(bytes.as_slice()) {
        std::fs::create_dir_all(&out_dir)
            .with_context(|| format!("cannot create {}", out_dir.display()))?;
        std::fs::write(&path, &bytes)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(BuiltComponent {
        path,
        app_name: krate.package,
        bytes: bytes.len() as u64,
        elapsed,
        toolchain,
    })
}

/// `wari app build [DIR]`: the component's path on stdout, a summary on stderr.
pub(crate) fn run(dir: &Path) -> anyhow::Result<std::process::ExitCode> {
    let built = build_component(dir)?;
    eprintln!(
        "wari app build: {} built in {:.1} s ({}): {} bytes",
        built.app_name,
        built.elapsed.as_secs_f64(),
        built.toolchain,
        built.bytes
    );
    println!("{}", built.path.display());
    eprintln!(
        "next: wari app deploy {} (the app name is {})",
        built.path.display(),
        built.app_name
    );
    Ok(std::process::ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_debian_packages_are_named() {
        let root = tempfile::tempdir().unwrap();
        assert_eq!(
            missing_debian_packages(root.path()),
            [
                "rustc-web",
                "cargo-web",
                "rust-web-src",
                "rust-web-llvm",
                "lld-22",
                "wasi-libc"
            ]
        );
        let usr_bin = root.path().join("usr/bin");
        std::fs::create_dir_all(&usr_bin).unwrap();
        std::fs::write(usr_bin.join("rustc"), "").unwrap();
        // rust-lld without lld-22 is a dangling link: both are missing.
        std::os::unix::fs::symlink("lld-22", usr_bin.join("rust-lld")).unwrap();
        let missing = missing_debian_packages(root.path());
        assert!(!missing.contains(&"rustc-web"));
        assert!(missing.contains(&"rust-web-llvm") && missing.contains(&"lld-22"));
        std::fs::write(usr_bin.join("lld-22"), "").unwrap();
        assert!(!missing_debian_packages(root.path()).contains(&"rust-web-llvm"));
        let message = no_toolchain_message(&["wasi-libc"]);
        assert!(
            message.contains("rustup target add wasm32-wasip2"),
            "{message}"
        );
        assert!(message.contains("missing here: wasi-libc"), "{message}");
    }

    #[test]
    fn the_debian_route_builds_std_and_trims_paths() {
        let args = build_args(
            Toolchain::Debian,
            Path::new("/a/Cargo.toml"),
            "hello",
            Path::new("/t"),
        );
        let args: Vec<&str> = args.iter().filter_map(|a| a.to_str()).collect();
        assert_eq!(
            args,
            [
                "build",
                "--release",
                "--lib",
                "--target",
                "wasm32-wasip2",
                "-Zbuild-std=std,panic_abort",
                "-Ztrim-paths",
                "--config",
                "profile.release.trim-paths=\"all\"",
                "--manifest-path",
                "/a/Cargo.toml",
                "--package",
                "hello",
                "--target-dir",
                "/t"
            ]
        );
        let command = cargo(Toolchain::Debian, Path::new("/"));
        assert_eq!(command.get_program(), "/usr/bin/cargo");
        let env: Vec<(String, Option<String>)> = command
            .get_envs()
            .map(|(k, v)| {
                (
                    k.to_string_lossy().into_owned(),
                    v.map(|v| v.to_string_lossy().into_owned()),
                )
            })
            .collect();
        for (key, value) in [
            ("RUSTFLAGS", None),
            ("RUSTUP_TOOLCHAIN", None),
            ("RUSTC", Some("/usr/bin/rustc")),
            ("RUSTC_BOOTSTRAP", Some("1")),
            (
                "CARGO_TARGET_WASM32_WASIP2_RUSTFLAGS",
                Some("-L native=/usr/lib/wasm32-wasi"),
            ),
        ] {
            assert!(
                env.contains(&(key.to_string(), value.map(String::from))),
                "{key}: {env:?}"
            );
        }
        let rustup = build_args(
            Toolchain::Rustup,
            Path::new("/a/Cargo.toml"),
            "x",
            Path::new("/t"),
        );
        assert!(!rustup.iter().any(|a| a.to_string_lossy().starts_with("-Z")));
    }

    #[test]
    fn the_crate_must_build_a_cdylib() {
        let manifest = Path::new("/w/hello/Cargo.toml");
        let metadata = |types: &str| -> Value {
            serde_json::from_str(&format!(
                r#"{{"packages": [{{"name": "hello-app", "manifest_path": "/w/hello/Cargo.toml",
                     "targets": [{{"name": "hello-app", "kind": {types}, "crate_types": {types}}}]}}],
                    "target_directory": "/w/target"}}"#
            ))
            .unwrap()
        };
        assert_eq!(
            find_crate(
                &metadata(r#"["cdylib", "rlib"]"#),
                manifest,
                Path::new("hello")
            )
            .unwrap(),
            Crate {
                package: "hello-app".into(),
                lib: "hello_app".into(),
                target_dir: "/w/target".into()
            }
        );
        let error = find_crate(&metadata(r#"["lib"]"#), manifest, Path::new("hello"))
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("crate-type = [\"cdylib\", \"rlib\"]"),
            "{error}"
        );
        let error = find_crate(
            &metadata(r#"["cdylib"]"#),
            Path::new("/w/Cargo.toml"),
            Path::new("w"),
        )
        .unwrap_err()
        .to_string();
        assert!(error.contains("is a workspace, not a crate"), "{error}");
        assert!(error.contains("hello-app"), "{error}");
    }

    #[test]
    fn components_are_told_from_core_modules() {
        assert!(is_component(b"\0asm\x0d\0\x01\0rest"));
        assert!(!is_component(b"\0asm\x01\0\0\0rest"));
        assert!(!is_component(b"ELF"));
    }
}
