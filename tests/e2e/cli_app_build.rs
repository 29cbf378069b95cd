//! `wari app new` outside a wari checkout, then `wari app build`: the real binary scaffolds a
//! crate that carries its own copy of the SDK and builds offline, builds it into a component
//! that a running wari accepts and that handles a call, and refuses a directory that is not an
//! app crate, passing cargo's own errors on.
//!
//! The guest build shares `scripts/build-guests`' target directory (CARGO_TARGET_DIR/guests,
//! through `WARI_GUEST_TARGET_DIR`): both build std for wasm32-wasip2 the same way, so after
//! scripts/test has built the guests no second std is built here.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use reqwest::StatusCode;

use crate::support::{
    EventSocket, Finished, Wari, builds_in, client, eventually, run_limited, wari_command,
};

/// How long one `wari app build` may take: the first on a machine builds std (minutes).
const BUILD_TIMEOUT: Duration = Duration::from_secs(900);
/// How long a `wari app` command that builds nothing may take.
const CLI_TIMEOUT: Duration = Duration::from_secs(60);
/// How long `cargo test` of the scaffolded crate may take (it compiles the SDK natively).
const CARGO_TIMEOUT: Duration = Duration::from_secs(600);

/// `wari app ARGS...` run in `cwd` with an isolated environment (a fresh HOME), except for
/// where the Rust toolchain and its downloaded crates are and the shared guest build.
fn wari_app(cwd: &Path, args: &[&str], limit: Duration) -> Finished {
    let home = tempfile::tempdir().expect("temp dir");
    let mut command = wari_command(home.path());
    command.current_dir(cwd).arg("app").args(args);
    builds_in(&mut command);
    run_limited(command, limit)
}

/// `cargo test --locked --offline` of the crate in `dir`: its lock file is complete and no
/// registry is asked.
fn cargo_test_offline(dir: &Path, target_dir: &Path) -> Finished {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .current_dir(dir)
        .args(["test", "--locked", "--offline", "--target-dir"])
        .arg(target_dir)
        .env_remove("CARGO_TARGET_DIR");
    run_limited(command, CARGO_TIMEOUT)
}

#[tokio::test]
async fn a_new_app_outside_a_checkout_builds_deploys_and_handles_a_call() {
    let dir = tempfile::tempdir().expect("temp dir");
    let parent = dir.path().canonicalize().expect("temp dir");
    assert!(
        parent
            .ancestors()
            .all(|a| !a.join("guest-sdk/Cargo.toml").exists()),
        "{} is inside a wari checkout",
        parent.display()
    );

    let out = wari_app(&parent, &["new", "hello"], CLI_TIMEOUT);
    assert!(out.success, "{out:?}");
    assert!(
        out.stdout.contains(
            "created ./hello (Cargo.toml, Cargo.lock, src/lib.rs, README.md, wari-guest-sdk/)"
        ),
        "{out:?}"
    );
    assert!(
        out.stdout
            .contains("wari-guest-sdk: the SDK of wari 0.1.0, copied to ./hello/wari-guest-sdk"),
        "{out:?}"
    );
    let crate_dir = parent.join("hello");
    let manifest = std::fs::read_to_string(crate_dir.join("Cargo.toml")).expect("Cargo.toml");
    assert!(
        manifest.contains("\nwari-guest-sdk = { path = \"wari-guest-sdk\" }\n"),
        "{manifest}"
    );
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    assert_eq!(
        std::fs::read_to_string(crate_dir.join("wari-guest-sdk/wit/stasis.wit")).expect("wit"),
        std::fs::read_to_string(repo.join("wit/stasis.wit")).expect("the contract"),
        "the copy is the contract this wari speaks"
    );

    // Its unit test passes natively against the SDK's mock host, offline.
    let out = cargo_test_offline(&crate_dir, &parent.join("native-target"));
    assert!(out.success, "{out:?}");
    let results = format!("{}{}", out.stdout, out.stderr);
    assert!(
        results.contains("test tests::answers_and_hangs_up_on_hash ... ok"),
        "{results}"
    );

    // `wari app build` in the crate: the component's path on stdout.
    let out = wari_app(&crate_dir, &["build"], BUILD_TIMEOUT);
    assert!(out.success, "{out:?}");
    let component = PathBuf::from(out.stdout.trim_end());
    assert_eq!(
        component,
        crate_dir.join("target/wari/hello.wasm"),
        "{out:?}"
    );
    let bytes = std::fs::read(&component).expect("the component");
    assert!(bytes.starts_with(b"\0asm\x0d\0\x01\0"), "a component");
    assert!(
        out.stderr.contains("wari app build: hello built in "),
        "{out:?}"
    );
    assert!(
        out.stderr.contains(&format!("{} bytes", bytes.len())),
        "{out:?}"
    );
    // Cargo's own progress (another test may have built an identical `hello` in the
    // shared build directory already, so it may not compile anything).
    assert!(
        out.stderr.contains("Finished `release` profile"),
        "cargo's progress: {out:?}"
    );

    // A running wari accepts it through `wari app deploy`, under the crate's name...
    let wari = Wari::with(&[(
        "extensions.conf",
        "[default]\nexten => 100,1,Stasis(hello)\n",
    )]);
    let url = format!("http://{}", wari.addr());
    let path = component.display().to_string();
    let out = wari_app(
        &parent,
        &[
            "deploy",
            &path,
            "--url",
            &url,
            "--user",
            "asterisk",
            "--password",
            "secret",
        ],
        CLI_TIMEOUT,
    );
    assert!(out.success, "{out:?}");
    assert!(out.stdout.contains("\"name\": \"hello\""), "{out:?}");

    // ... and it handles a call: the caller enters the app, presses 5 (only logged) then #,
    // and the app hangs up (normal clearing). (The Test phone hangs up on its own only with
    // a `hangup=` option.)
    let mut ws = EventSocket::connect(
        &wari,
        "app=watcher&subscribeAll=true&api_key=asterisk:secret",
    )
    .await;
    let response = client()
        .post(wari.url("/ari/channels?endpoint=Test/alice/dtmf=5%23&app=hello&channelId=alice"))
        .basic_auth("asterisk", Some("secret"))
        .send()
        .await
        .expect("originate");
    assert_eq!(response.status(), StatusCode::OK);
    let destroyed = ws.next_for("ChannelDestroyed", "alice").await;
    assert_eq!(destroyed["cause"], 16, "{destroyed}");
    eventually("the app's log lines", Duration::from_secs(5), || async {
        let log = wari.log();
        let lines = [
            "hello: alice entered",
            "hello: alice pressed 5",
            "hello: alice pressed #",
        ];
        match lines.iter().find(|line| !log.contains(*line)) {
            Some(line) => Err(format!("no {line:?} in {log}")),
            None => Ok(()),
        }
    })
    .await;
    let app = wari.get("/ari/wasm/hello").await.body;
    assert_eq!(app["sessions_started"], 1, "{app}");
    assert_eq!(app["failures"]["total"], 0, "{app}");
}

#[test]
fn build_refuses_what_is_not_an_app_crate_and_passes_cargos_errors_on() {
    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path();

    // No Cargo.toml.
    let out = wari_app(root, &["build"], CLI_TIMEOUT);
    assert!(!out.success, "{out:?}");
    assert!(
        out.stderr
            .contains("is not a Rust crate: it has no Cargo.toml (`wari app new NAME`"),
        "{out:?}"
    );
    assert!(out.stdout.is_empty(), "{out:?}");
    let out = wari_app(root, &["build", "missing"], CLI_TIMEOUT);
    assert!(!out.success, "{out:?}");
    assert!(out.stderr.contains("missing: no such directory"), "{out:?}");

    // A library crate that is not a cdylib.
    let plain = root.join("plain");
    std::fs::create_dir_all(plain.join("src")).expect("src");
    let package = "[package]\nname = \"plain\"\nversion = \"0.1.0\"\nedition = \"2024\"\n";
    // The release profile `wari app new` writes (and apps/ has): std is built with it, so
    // the shared build directory has it already.
    let profile = "[profile.release]\nopt-level = \"s\"\nlto = true\ncodegen-units = 1\n\
                   panic = \"abort\"\nstrip = true\n";
    std::fs::write(
        plain.join("Cargo.toml"),
        format!("{package}\n[workspace]\n"),
    )
    .expect("Cargo.toml");
    std::fs::write(plain.join("src/lib.rs"), "pub fn f() -> u32 { 1 }\n").expect("lib.rs");
    let out = wari_app(root, &["build", "plain"], CLI_TIMEOUT);
    assert!(!out.success, "{out:?}");
    assert!(
        out.stderr
            .contains("crate plain in plain builds no component")
            && out.stderr.contains("crate-type = [\"cdylib\", \"rlib\"]"),
        "{out:?}"
    );

    // A cdylib that does not compile: cargo's error as cargo wrote it.
    std::fs::write(
        plain.join("Cargo.toml"),
        format!("{package}\n[lib]\ncrate-type = [\"cdylib\"]\n\n{profile}\n[workspace]\n"),
    )
    .expect("Cargo.toml");
    std::fs::write(plain.join("src/lib.rs"), "pub fn f() -> u32 { \"one\" }\n").expect("lib.rs");
    let out = wari_app(&plain, &["build"], BUILD_TIMEOUT);
    assert!(!out.success, "{out:?}");
    assert!(
        out.stderr.contains("error[E0308]: mismatched types"),
        "{out:?}"
    );
    assert!(out.stderr.contains("src/lib.rs:1:"), "{out:?}");
    assert!(
        out.stderr.contains("cargo could not build plain"),
        "{out:?}"
    );
    assert!(out.stdout.is_empty(), "{out:?}");
}
