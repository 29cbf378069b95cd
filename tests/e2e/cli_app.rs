//! `wari app ...`: the real binary deploys, lists and removes WebAssembly apps on a running
//! wari, reports the server's errors and an unreachable server, and scaffolds an app crate
//! whose unit test passes against the SDK.
//!
//! The deploy test uploads the IVR component built by `scripts/build-guests` (scripts/test
//! runs it and exports `WARI_GUESTS_DIR`).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::support::{
    Finished, RefusingPort, Reply, Wari, component_path, run_limited, wari_command,
};

const RW: (&str, &str) = ("asterisk", "secret");

/// How long one `wari app` command may take.
const CLI_TIMEOUT: Duration = Duration::from_secs(60);
/// How long `cargo test` of the scaffolded crate may take (it compiles the SDK).
const CARGO_TIMEOUT: Duration = Duration::from_secs(600);

/// `wari app ARGS...`, isolated from the test's environment (no WARI_* variables, no
/// proxy).
fn wari_app(args: &[&str]) -> Finished {
    wari_app_env(args, &[])
}

/// `wari app ARGS...` with only the variables `env` on top of an isolated environment.
fn wari_app_env(args: &[&str], env: &[(&str, &str)]) -> Finished {
    let home = tempfile::tempdir().expect("temp dir");
    let mut command = wari_command(home.path());
    command.arg("app").args(args).envs(env.iter().copied());
    run_limited(command, CLI_TIMEOUT)
}

/// `--url http://ADDR --user asterisk --password secret`.
fn server_args(wari: &Wari) -> Vec<String> {
    vec![
        "--url".into(),
        format!("http://{}", wari.addr()),
        "--user".into(),
        RW.0.into(),
        "--password".into(),
        RW.1.into(),
    ]
}

fn args<'a>(head: &[&'a str], tail: &'a [String]) -> Vec<&'a str> {
    head.iter()
        .copied()
        .chain(tail.iter().map(String::as_str))
        .collect()
}

async fn deployed_names(wari: &Wari) -> Vec<String> {
    let Reply {
        status, body: apps, ..
    } = wari.get("/ari/wasm").await;
    assert_eq!(status, StatusCode::OK, "{apps}");
    apps.as_array()
        .expect("a list")
        .iter()
        .map(|app| app["name"].as_str().unwrap_or_default().to_string())
        .collect()
}

#[tokio::test]
async fn deploy_list_and_rm_an_app() {
    let wari = Wari::start_default();
    let server = server_args(&wari);
    let file = component_path("ivr");
    let bytes = std::fs::read(&file).expect("read ivr.wasm");
    let file = file.display().to_string();

    let out = wari_app(&args(&["deploy", &file, "--name", "ivr"], &server));
    assert!(out.success, "{out:?}\nlog:\n{}", wari.log());
    let summary: Value = serde_json::from_str(&out.stdout).expect("deploy prints JSON");
    assert_eq!(summary["name"], "ivr", "{summary}");
    assert_eq!(summary["status"], "ready", "{summary}");
    assert_eq!(summary["size"], bytes.len(), "{summary}");
    let sha256 = format!("{:x}", Sha256::digest(&bytes));
    assert_eq!(summary["sha256"], sha256.as_str(), "{summary}");
    assert_eq!(deployed_names(&wari).await, ["ivr"]);

    // The table, here with the address and credentials from the environment.
    let url = format!("http://{}", wari.addr());
    let out = wari_app_env(
        &["list"],
        &[
            ("WARI_URL", &url),
            ("WARI_USER", RW.0),
            ("WARI_PASSWORD", RW.1),
        ],
    );
    assert!(out.success, "{out:?}");
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{out:?}");
    let header: Vec<&str> = lines[0].split_whitespace().collect();
    assert_eq!(
        header,
        ["NAME", "OWNER", "SIZE", "SHA256", "LIVE", "FAILURES"]
    );
    let row: Vec<&str> = lines[1].split_whitespace().collect();
    let size = bytes.len().to_string();
    assert_eq!(row, ["ivr", RW.0, size.as_str(), &sha256[..12], "0", "0"]);

    let out = wari_app(&args(&["rm", "ivr"], &server));
    assert!(out.success, "{out:?}");
    assert_eq!(out.stdout.trim(), "removed ivr");
    assert!(deployed_names(&wari).await.is_empty());
    let Reply { status, .. } = wari.get("/ari/wasm/ivr").await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let out = wari_app(&args(&["list"], &server));
    assert!(out.success, "{out:?}");
    assert_eq!(out.stdout, "no apps deployed\n");

    // Removing it again is an error, with the server's word for it.
    let out = wari_app(&args(&["rm", "ivr"], &server));
    assert!(!out.success, "{out:?}");
    assert!(out.stderr.contains("ivr is not deployed"), "{out:?}");
    assert!(out.stderr.contains("404"), "{out:?}");
}

#[tokio::test]
async fn server_errors_are_reported_with_the_servers_message() {
    let wari = Wari::start_default();
    let server = server_args(&wari);
    let dir = tempfile::tempdir().expect("temp dir");
    let garbage = dir.path().join("garbage.wasm");
    std::fs::write(&garbage, b"definitely not wasm").expect("write");
    let garbage = garbage.display().to_string();

    let out = wari_app(&args(&["deploy", &garbage, "--name", "junk"], &server));
    assert!(!out.success, "{out:?}");
    assert!(out.stdout.is_empty(), "{out:?}");
    assert!(out.stderr.contains("400 Bad Request"), "{out:?}");
    // The message wari sends for such an upload (see wasm_upload.rs).
    assert!(out.stderr.contains("Invalid component"), "{out:?}");

    // Without --name, the file name is the app name.
    let out = wari_app(&args(&["deploy", &garbage], &server));
    assert!(!out.success, "{out:?}");
    assert!(
        out.stderr.contains("as garbage failed: 400 Bad Request"),
        "{out:?}"
    );

    // Wrong credentials: the server's 401.
    let url = format!("http://{}", wari.addr());
    let out = wari_app(&[
        "list",
        "--url",
        &url,
        "--user",
        "asterisk",
        "--password",
        "wrong",
    ]);
    assert!(!out.success, "{out:?}");
    assert!(out.stderr.contains("401 Unauthorized"), "{out:?}");

    // A read-only user may not deploy.
    let ivr = component_path("ivr").display().to_string();
    let out = wari_app(&[
        "deploy",
        &ivr,
        "--name",
        "ivr",
        "--url",
        &url,
        "--user",
        "viewer",
        "--password",
        "look",
    ]);
    assert!(!out.success, "{out:?}");
    assert!(out.stderr.contains("403"), "{out:?}");

    // A file that is not there never reaches the server.
    let missing = dir.path().join("missing.wasm").display().to_string();
    let out = wari_app(&args(&["deploy", &missing, "--name", "x"], &server));
    assert!(!out.success, "{out:?}");
    assert!(out.stderr.contains("cannot read"), "{out:?}");

    assert!(deployed_names(&wari).await.is_empty());
}

#[test]
fn an_unreachable_server_gets_a_clear_message() {
    // A port nothing listens on (held by the test for its whole run).
    let nobody = RefusingPort::new();
    let url = format!("http://{}", nobody.address());
    let started = Instant::now();
    for command in [vec!["list"], vec!["rm", "ivr"]] {
        let tail = [
            "--url".to_string(),
            url.clone(),
            "--password".into(),
            "x".into(),
        ];
        let out = wari_app(&args(&command, &tail));
        assert!(!out.success, "{out:?}");
        assert!(
            out.stderr.contains(&format!("cannot reach wari at {url}")),
            "{out:?}"
        );
        assert!(out.stderr.contains("--url or WARI_URL"), "{out:?}");
    }
    assert!(started.elapsed() < Duration::from_secs(20));

    // So is an https URL, which this client does not speak.
    let out = wari_app(&["list", "--url", "https://127.0.0.1:8089", "--password", "x"]);
    assert!(!out.success, "{out:?}");
    assert!(out.stderr.contains("https is not supported"), "{out:?}");
}

#[tokio::test]
async fn a_missing_password_is_an_error_not_the_demo_password() {
    let wari = Wari::start_default();
    let url = format!("http://{}", wari.addr());
    for command in [vec!["list"], vec!["rm", "ivr"]] {
        let out = wari_app(&args(&command, &["--url".to_string(), url.clone()]));
        assert!(!out.success, "{out:?}");
        assert!(
            out.stderr.contains(
                "no password for user asterisk: give it with --password or WARI_PASSWORD"
            ),
            "{out:?}"
        );
    }
    // Nothing was sent: wari logged no request (a wrong password is logged as "ARI request
    // refused").
    let log = wari.log();
    assert!(!log.contains("ARI request"), "{log}");
    // WARI_PASSWORD is enough.
    let out = wari_app_env(&["list", "--url", &url], &[("WARI_PASSWORD", RW.1)]);
    assert!(out.success, "{out:?}");
}

/// Answers every request on one connection as Asterisk 23.4.1 answers an ARI path it does
/// not know (its golden capture), then closes: an Asterisk without wari's `/ari/wasm`.
async fn answer_like_asterisk(listener: tokio::net::TcpListener) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let Ok((mut stream, _)) = listener.accept().await else {
        return;
    };
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 65_536 {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    let body = r#"{"message":"Resource not found"}"#;
    let reply = format!(
        "HTTP/1.1 404 Not Found\r\nServer: Asterisk/23.4.1\r\nConnection: close\r\n\
         Cache-Control: no-cache, no-store\r\nContent-type: application/json\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(reply.as_bytes()).await;
}

#[tokio::test]
async fn a_server_that_is_not_wari_is_named_as_such() {
    let ivr = component_path("ivr").display().to_string();
    for command in [
        vec!["list"],
        vec!["rm", "ivr"],
        vec!["deploy", ivr.as_str()],
    ] {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let server = tokio::spawn(answer_like_asterisk(listener));
        let tail = [
            "--url".to_string(),
            url.clone(),
            "--password".into(),
            "x".into(),
        ];
        let all = args(&command, &tail);
        let out = tokio::task::spawn_blocking({
            let all: Vec<String> = all.iter().map(|s| s.to_string()).collect();
            move || wari_app(&all.iter().map(String::as_str).collect::<Vec<_>>())
        })
        .await
        .expect("wari app");
        server.await.expect("server");
        assert!(!out.success, "{command:?}: {out:?}");
        assert!(
            out.stderr.contains(&format!(
                "the server at {url} answers ARI but has no /ari/wasm resource, so it is not wari"
            )),
            "{command:?}: {out:?}"
        );
    }
}

#[test]
fn build_guests_refuses_a_name_it_does_not_know_and_lists_the_crates() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut command = Command::new("bash");
    command
        .arg(root.join("scripts/build-guests"))
        .arg("ivr")
        .arg("no-such-app")
        .current_dir(&root);
    let out = run_limited(command, CLI_TIMEOUT);
    assert!(!out.success, "{out:?}");
    assert!(
        out.stderr.contains(
            "no guest crate named 'no-such-app' in apps/Cargo.toml's members (there are: ivr"
        ),
        "{out:?}"
    );
    assert!(
        !out.stderr.contains("Compiling"),
        "nothing is built: {out:?}"
    );
}

#[tokio::test]
async fn config_dir_finds_the_server_and_the_users_password() {
    let ari = "[general]\nenabled = yes\n\n[deployer]\ntype = user\npassword = d3pl0y\n";
    let http = "[general]\nenabled = yes\nbindaddr = 127.0.0.1\nbindport = 0\nprefix = pbx\n";
    let wari = Wari::start(&[("http.conf", http), ("ari.conf", ari)]);
    // The directory the CLI reads: the server's files, with the port it got.
    let dir = tempfile::tempdir().expect("temp dir");
    let port = wari.addr().port();
    std::fs::write(
        dir.path().join("http.conf"),
        http.replace("bindport = 0", &format!("bindport = {port}")),
    )
    .expect("write http.conf");
    std::fs::write(dir.path().join("ari.conf"), ari).expect("write ari.conf");
    let config_dir = dir.path().display().to_string();
    let ivr = component_path("ivr").display().to_string();

    let out = wari_app(&[
        "deploy",
        &ivr,
        "--config-dir",
        &config_dir,
        "--user",
        "deployer",
    ]);
    assert!(out.success, "{out:?}");
    let deployed: Value = serde_json::from_str(&out.stdout).expect("deploy prints JSON");
    assert_eq!(deployed["owner"], "deployer", "{deployed}");
    let out = wari_app(&["list", "--config-dir", &config_dir, "--user", "deployer"]);
    assert!(out.success, "{out:?}");
    assert!(
        out.stdout.contains("ivr") && out.stdout.contains("deployer"),
        "{out:?}"
    );

    // A user the server does not have is named, with the ones it has.
    let out = wari_app(&["list", "--config-dir", &config_dir]);
    assert!(!out.success, "{out:?}");
    assert!(
        out.stderr
            .contains("ari.conf has no user asterisk (it has: deployer); choose one with --user"),
        "{out:?}"
    );
    // A server whose port is chosen at start-up cannot be found from its files.
    let out = wari_app(&[
        "list",
        "--config-dir",
        &wari.config_dir().display().to_string(),
    ]);
    assert!(!out.success, "{out:?}");
    assert!(out.stderr.contains("gives no fixed address"), "{out:?}");
}

#[test]
fn new_inside_a_checkouts_apps_joins_its_workspace() {
    // A checkout's shape: guest-sdk/ (the real one, linked) and an apps/ workspace.
    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path();
    let sdk = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../guest-sdk");
    std::os::unix::fs::symlink(
        sdk.canonicalize().expect("guest-sdk"),
        root.join("guest-sdk"),
    )
    .expect("link guest-sdk");
    std::fs::create_dir(root.join("apps")).expect("apps");
    let manifest = root.join("apps/Cargo.toml");
    std::fs::write(
        &manifest,
        "[workspace]\nresolver = \"3\"\nmembers = [\n    \"ivr\",\n    \"forward\"\n]\n",
    )
    .expect("write apps/Cargo.toml");
    let apps = root.join("apps").display().to_string();

    let out = wari_app(&["new", "hello", "--dir", &apps]);
    assert!(out.success, "{out:?}");
    assert!(
        out.stdout.contains("added \"hello\" to the members"),
        "{out:?}"
    );
    let text = std::fs::read_to_string(&manifest).expect("read");
    assert_eq!(
        text,
        "[workspace]\nresolver = \"3\"\nmembers = [\n    \"ivr\",\n    \"forward\",\n    \"hello\",\n]\n"
    );
    let crate_manifest =
        std::fs::read_to_string(root.join("apps/hello/Cargo.toml")).expect("hello/Cargo.toml");
    assert!(
        crate_manifest.contains("../../guest-sdk"),
        "{crate_manifest}"
    );

    // A second crate goes after it; an existing crate is refused and the list kept.
    assert!(wari_app(&["new", "bye", "--dir", &apps]).success);
    assert!(!wari_app(&["new", "hello", "--dir", &apps]).success);
    let text = std::fs::read_to_string(&manifest).expect("read");
    assert_eq!(text.matches("\"hello\"").count(), 1, "{text}");
    assert!(text.contains("    \"hello\",\n    \"bye\",\n]"), "{text}");
}

#[test]
fn new_with_a_template_starts_from_the_example_and_its_tests_pass() {
    let dir = tempfile::tempdir().expect("temp dir");
    let parent = dir.path().display().to_string();
    let sdk = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../guest-sdk");
    let sdk_arg = sdk.canonicalize().expect("guest-sdk").display().to_string();
    let out = wari_app(&[
        "new",
        "menu",
        "--template",
        "ivr",
        "--dir",
        &parent,
        "--sdk-path",
        &sdk_arg,
    ]);
    assert!(out.success, "{out:?}");
    let crate_dir = dir.path().join("menu");
    let example = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../apps/ivr/src/lib.rs");
    assert_eq!(
        std::fs::read_to_string(crate_dir.join("src/lib.rs")).expect("lib.rs"),
        std::fs::read_to_string(example).expect("the IVR example"),
    );
    let readme = std::fs::read_to_string(crate_dir.join("README.md")).expect("README.md");
    assert!(readme.contains("wari's IVR example"), "{readme}");
    // The example's own unit tests pass in the new crate.
    let out = cargo_test(&crate_dir.join("Cargo.toml"), &dir.path().join("target"));
    assert!(out.success, "{out:?}");
    assert!(out.stdout.contains("test result: ok"), "{out:?}");

    let out = wari_app(&["new", "x", "--template", "voicemail", "--dir", &parent]);
    assert!(!out.success, "{out:?}");
    assert!(out.stderr.contains("ivr, forward, conference"), "{out:?}");
}

/// `cargo test` of a crate, in its own target directory, killed after [`CARGO_TIMEOUT`].
fn cargo_test(manifest: &Path, target_dir: &Path) -> Finished {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .arg("test")
        .arg("--manifest-path")
        .arg(manifest)
        .arg("--target-dir")
        .arg(target_dir)
        .env_remove("CARGO_TARGET_DIR");
    run_limited(command, CARGO_TIMEOUT)
}

#[test]
fn new_scaffolds_a_crate_whose_test_passes_and_never_overwrites() {
    let dir = tempfile::tempdir().expect("temp dir");
    let parent = dir.path().join("work");
    let sdk = Path::new(env!("CARGO_MANIFEST_DIR")).join("../guest-sdk");
    let sdk = sdk.canonicalize().expect("the guest-sdk directory");
    let parent_arg = parent.display().to_string();
    let sdk_arg = sdk.display().to_string();

    let out = wari_app(&["new", "demo", "--dir", &parent_arg, "--sdk-path", &sdk_arg]);
    assert!(out.success, "{out:?}");
    let crate_dir = parent.join("demo");
    for file in ["Cargo.toml", "src/lib.rs", "README.md"] {
        assert!(crate_dir.join(file).is_file(), "{file} missing: {out:?}");
    }
    let manifest = std::fs::read_to_string(crate_dir.join("Cargo.toml")).expect("Cargo.toml");
    assert!(manifest.contains("name = \"demo\""), "{manifest}");
    assert!(
        manifest.contains(r#"crate-type = ["cdylib", "rlib"]"#),
        "{manifest}"
    );
    assert!(
        manifest.contains(&format!("wari-guest-sdk = {{ path = \"{sdk_arg}\" }}")),
        "{manifest}"
    );
    for line in [
        "opt-level = \"s\"",
        "lto = true",
        "codegen-units = 1",
        "panic = \"abort\"",
        "strip = true",
    ] {
        assert!(manifest.contains(line), "{line}: {manifest}");
    }
    let lib = std::fs::read_to_string(crate_dir.join("src/lib.rs")).expect("lib.rs");
    assert!(lib.contains("impl App for Demo"), "{lib}");
    assert!(lib.contains("export_app!(Demo)"), "{lib}");
    assert!(lib.contains("MockHost"), "{lib}");
    let readme = std::fs::read_to_string(crate_dir.join("README.md")).expect("README.md");
    assert!(
        readme.contains("cargo build --release --target wasm32-wasip2"),
        "{readme}"
    );
    assert!(readme.contains("wari app deploy"), "{readme}");

    // A second time: refused, and nothing is touched.
    std::fs::write(crate_dir.join("src/lib.rs"), "// mine\n").expect("write");
    let out = wari_app(&["new", "demo", "--dir", &parent_arg, "--sdk-path", &sdk_arg]);
    assert!(!out.success, "{out:?}");
    assert!(out.stderr.contains("already exists"), "{out:?}");
    assert_eq!(
        std::fs::read_to_string(crate_dir.join("src/lib.rs")).unwrap(),
        "// mine\n"
    );
    std::fs::write(crate_dir.join("src/lib.rs"), lib).expect("restore lib.rs");

    // Bad names and SDK paths are refused before anything is written.
    let out = wari_app(&["new", "2fast", "--dir", &parent_arg]);
    assert!(!out.success, "{out:?}");
    assert!(!parent.join("2fast").exists());
    let out = wari_app(&[
        "new",
        "other",
        "--dir",
        &parent_arg,
        "--sdk-path",
        &parent_arg,
    ]);
    assert!(!out.success, "{out:?}");
    assert!(
        out.stderr.contains("no wari-guest-sdk crate there"),
        "{out:?}"
    );
    assert!(!parent.join("other").exists());

    // The scaffold builds natively and its unit test passes against the SDK's mock host.
    // The apps workspace's lock file pins the SDK's (wasm-only) dependencies to the versions
    // the repository uses, so cargo need not query the registry.
    let lock = Path::new(env!("CARGO_MANIFEST_DIR")).join("../apps/Cargo.lock");
    if lock.is_file() {
        std::fs::copy(&lock, crate_dir.join("Cargo.lock")).expect("copy Cargo.lock");
    }
    let out = cargo_test(&crate_dir.join("Cargo.toml"), &dir.path().join("target"));
    assert!(out.success, "{out:?}");
    let results = format!("{}{}", out.stdout, out.stderr);
    assert!(
        results.contains("test tests::answers_and_hangs_up_on_hash ... ok"),
        "{results}"
    );
}
