//! `wari app new NAME`: a new app crate, ready to test natively and build as a component.
//!
//! Where the SDK comes from:
//! - `--sdk-path PATH`: a path dependency on that `guest-sdk` directory (written absolute);
//! - else, when the new crate is inside a wari checkout (an ancestor directory has
//!   `guest-sdk/` with the `wari-guest-sdk` crate): a relative path dependency on it;
//! - else the SDK this binary carries ([`sdk_bundle`]), written into the new crate as
//!   `NAME/wari-guest-sdk/` (a path dependency) with a `Cargo.lock` pinning its dependencies,
//!   so the crate builds offline from what cargo already has.
//!
//! Where it builds: inside an existing Cargo workspace (e.g. the repository's `apps/`) the
//! crate is written as a member (the workspace's release profile applies) and the command says
//! to add it to `members`; anywhere else it is its own workspace with the small-component
//! release profile.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::Args;

use super::sdk_bundle;

/// `wari app new` options.
#[derive(Debug, Args)]
pub(crate) struct NewArgs {
    /// The crate's name, also the suggested Stasis app name (letters, digits, `-`, `_`).
    #[arg(value_name = "NAME")]
    name: String,
    /// The directory to create the crate in (as DIR/NAME).
    #[arg(long, value_name = "DIR", default_value = ".")]
    dir: PathBuf,
    /// Depend on the SDK at this path (a wari checkout's guest-sdk directory).
    #[arg(long, value_name = "PATH")]
    sdk_path: Option<PathBuf>,
    /// Start from one of the example apps (its src/lib.rs, unit tests included) instead of
    /// the small answering app.
    #[arg(long, value_enum, value_name = "EXAMPLE")]
    template: Option<Template>,
}

/// The example apps `--template` starts from (apps/ in the wari repository).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(super) enum Template {
    /// Answer, prompt, route on DTMF with a timeout.
    Ivr,
    /// Call forwarding: dial a target, fall back on no answer or busy.
    Forward,
    /// A conference bridge.
    Conference,
}

impl Template {
    /// The example's source.
    fn lib_rs(self) -> &'static str {
        match self {
            Template::Ivr => include_str!("../../../apps/ivr/src/lib.rs"),
            Template::Forward => include_str!("../../../apps/forward/src/lib.rs"),
            Template::Conference => include_str!("../../../apps/conference/src/lib.rs"),
        }
    }
}

/// How the new crate gets the SDK.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Sdk {
    /// A path dependency, as written in Cargo.toml.
    Path(String),
    /// The SDK this binary carries, copied into the new crate.
    Bundled,
}

/// The Cargo workspace the new crate lands in, if any.
#[derive(Debug, Clone)]
struct Workspace {
    /// The workspace's Cargo.toml.
    manifest: PathBuf,
    /// The new crate's directory relative to the workspace root.
    member: String,
    /// It is the wari repository's `apps/` workspace (built by scripts/build-guests).
    is_wari_apps: bool,
}

/// A crate about to be written.
#[derive(Debug, Clone)]
struct Plan {
    name: String,
    type_name: String,
    sdk: Sdk,
    workspace: Option<Workspace>,
    /// The example app to start from, if any.
    template: Option<Template>,
}

const KEYWORDS: &[&str] = &[
    "as",
    "async",
    "await",
    "break",
    "const",
    "continue",
    "crate",
    "dyn",
    "else",
    "enum",
    "extern",
    "false",
    "fn",
    "for",
    "gen",
    "if",
    "impl",
    "in",
    "let",
    "loop",
    "match",
    "mod",
    "move",
    "mut",
    "pub",
    "ref",
    "return",
    "self",
    "static",
    "struct",
    "super",
    "trait",
    "true",
    "type",
    "unsafe",
    "use",
    "where",
    "while",
    "abstract",
    "become",
    "box",
    "do",
    "final",
    "macro",
    "override",
    "priv",
    "try",
    "typeof",
    "unsized",
    "virtual",
    "yield",
    "std",
    "core",
    "alloc",
    "test",
    "proc_macro",
    "proc-macro",
];

/// Names the generated lib.rs already uses: the app's type must not be one of them.
const TAKEN: &[&str] = &[
    "App",
    "Call",
    "Channel",
    "Debug",
    "Default",
    "Event",
    "HangupReason",
    "MockHost",
    "Option",
    "Self",
    "String",
];

fn check_name(name: &str) -> anyhow::Result<()> {
    let mut chars = name.chars();
    let valid = name.len() <= 64
        && chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !valid {
        bail!(
            "{name:?} is not a usable crate name: start with a letter, then letters, digits, \
             '-' or '_' (at most 64)"
        );
    }
    if KEYWORDS.contains(&name.to_ascii_lowercase().as_str()) {
        bail!("{name:?} is reserved in Rust or Cargo: choose another name");
    }
    Ok(())
}

/// `my-app` → `MyApp` (`AppApp` if that clashes with a name the template uses).
fn type_name(name: &str) -> String {
    let mut out = String::new();
    for part in name.split(['-', '_']).filter(|p| !p.is_empty()) {
        let mut chars = part.chars();
        if let Some(first) = chars.next() {
            out.push(first.to_ascii_uppercase());
            out.extend(chars);
        }
    }
    if TAKEN.contains(&out.as_str()) {
        out.push_str("App");
    }
    out
}

/// True if `dir/Cargo.toml` is the wari guest SDK's manifest.
fn is_sdk(dir: &Path) -> bool {
    std::fs::read_to_string(dir.join("Cargo.toml")).is_ok_and(|text| {
        text.lines()
            .any(|l| l.trim() == r#"name = "wari-guest-sdk""#)
    })
}

/// The first ancestor of `parent` (itself included) with a `Cargo.toml` declaring a
/// `[workspace]`.
fn enclosing_workspace(parent: &Path) -> Option<PathBuf> {
    parent.ancestors().find_map(|dir| {
        let manifest = dir.join("Cargo.toml");
        let text = std::fs::read_to_string(&manifest).ok()?;
        text.lines()
            .any(|l| l.trim() == "[workspace]")
            .then_some(manifest)
    })
}

/// `../` once per component of `from` below `root`, then `target`.
fn relative_to(root: &Path, from: &Path, target: &str) -> Option<String> {
    let depth = from.strip_prefix(root).ok()?.components().count();
    Some(format!("{}{target}", "../".repeat(depth)))
}

fn toml_string(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// Decides what to write for a crate at `parent/name` (`parent` canonical).
fn plan(name: &str, parent: &Path, sdk_path: Option<&Path>) -> anyhow::Result<Plan> {
    check_name(name)?;
    let crate_dir = parent.join(name);
    let repo = parent
        .ancestors()
        .find(|dir| is_sdk(&dir.join("guest-sdk")));
    let sdk = match sdk_path {
        Some(path) => {
            let path = path
                .canonicalize()
                .with_context(|| format!("--sdk-path {}", path.display()))?;
            if !is_sdk(&path) {
                bail!(
                    "--sdk-path {}: no wari-guest-sdk crate there (expected a wari checkout's \
                     guest-sdk directory)",
                    path.display()
                );
            }
            let Some(text) = path.to_str() else {
                bail!("--sdk-path {}: not valid UTF-8", path.display());
            };
            Sdk::Path(text.to_string())
        }
        None => match repo.and_then(|root| relative_to(root, &crate_dir, "guest-sdk")) {
            Some(relative) => Sdk::Path(relative),
            None => Sdk::Bundled,
        },
    };
    if sdk == Sdk::Bundled && sdk_bundle::reserved_names().contains(name) {
        bail!("{name:?} is the name of the SDK or of a crate it depends on: choose another name");
    }
    let workspace = enclosing_workspace(parent).map(|manifest| {
        let root = manifest.parent().unwrap_or(Path::new("/"));
        let member = crate_dir
            .strip_prefix(root)
            .map(|p| p.display().to_string())
            .unwrap_or_else(|_| crate_dir.display().to_string());
        let is_wari_apps = repo.is_some_and(|r| r.join("apps") == root);
        Workspace {
            manifest,
            member,
            is_wari_apps,
        }
    });
    Ok(Plan {
        name: name.to_string(),
        type_name: type_name(name),
        sdk,
        workspace,
        template: None,
    })
}

fn cargo_toml(plan: &Plan) -> String {
    let mut out = String::new();
    let _ = write!(
        out,
        r#"[package]
name = "{name}"
description = "A wari Stasis app, built as a WebAssembly component"
version = "0.1.0"
edition = "2024"
publish = false

[lib]
# cdylib: the WebAssembly component; rlib: so the unit tests link against the SDK's mock host.
crate-type = ["cdylib", "rlib"]

[dependencies]
"#,
        name = plan.name
    );
    match &plan.sdk {
        Sdk::Path(path) => {
            let _ = writeln!(out, "wari-guest-sdk = {{ path = {} }}", toml_string(path));
        }
        Sdk::Bundled => {
            let _ = writeln!(
                out,
                "# The SDK of wari {version}, copied into {dir}/ by `wari app new` (with the contract,\n\
                 # {dir}/wit/): it builds offline. To build against a wari checkout instead:\n\
                 # wari-guest-sdk = {{ path = \"/path/to/wari/guest-sdk\" }}\n\
                 wari-guest-sdk = {{ path = {path} }}",
                version = sdk_bundle::VERSION,
                dir = sdk_bundle::DIR,
                path = toml_string(sdk_bundle::DIR),
            );
        }
    }
    match &plan.workspace {
        Some(workspace) => {
            let _ = write!(
                out,
                "\n# A member of the workspace at {}:\n\
                 # its [profile.release] applies. For small components use opt-level = \"s\",\n\
                 # lto = true, codegen-units = 1, panic = \"abort\", strip = true.\n",
                workspace.manifest.display()
            );
        }
        None => out.push_str(
            r#"
# Small components (a simple app is well under 100 KB).
[profile.release]
opt-level = "s"
lto = true
codegen-units = 1
panic = "abort"
strip = true

# Its own workspace, so it builds wherever it is.
[workspace]
"#,
        ),
    }
    out
}

const LIB_RS: &str = r#"//! @NAME@: a wari Stasis app, built as a WebAssembly component.
//!
//! When a call enters the app (`exten => 100,1,Stasis(@NAME@)` in extensions.conf, or an
//! originate with `app=@NAME@`) it is answered; pressing `#` hangs it up. Each step is logged
//! to wari's log, tagged with the app and session.

use wari_guest_sdk::{App, Channel, HangupReason, call, log};

/// The app. wari makes one value (with `Default`) per call session, in its own instance of
/// the component, and hands it the session's events one at a time: keep the call's state in
/// the fields. (State shared between calls goes in `wari_guest_sdk::kv`.)
#[derive(Debug, Default)]
pub struct @TYPE@ {
    /// The caller's channel, once it entered.
    channel: Option<String>,
}

impl App for @TYPE@ {
    /// A channel entered the app: remember it and answer.
    fn on_stasis_start(&mut self, channel: &Channel, args: &[String]) {
        log::info(&format!("@NAME@: {} entered (args {args:?})", channel.id));
        self.channel = Some(channel.id.clone());
        // Every call into wari returns a Result. An error (say, the caller hung up already)
        // is something to log and handle: a panic would end the session.
        if let Err(e) = call::answer(&channel.id) {
            log::warn(&format!("@NAME@: cannot answer {}: {e}", channel.id));
        }
    }

    /// A key was pressed: `#` hangs up, other keys are only logged.
    fn on_dtmf(&mut self, channel: &Channel, digit: char) {
        if self.channel.as_deref() != Some(channel.id.as_str()) {
            return;
        }
        log::info(&format!("@NAME@: {} pressed {digit}", channel.id));
        if digit == '#'
            && let Err(e) = call::hangup(&channel.id, HangupReason::Normal)
        {
            log::warn(&format!("@NAME@: cannot hang up {}: {e}", channel.id));
        }
    }

    /// The channel left the app (hung up, or went on in the dialplan).
    fn on_stasis_end(&mut self, channel: &Channel) {
        log::info(&format!("@NAME@: {} left", channel.id));
    }
}

// Exports the app as the component's event handler (natively: only checks the type).
wari_guest_sdk::export_app!(@TYPE@);

// The unit tests run natively (`cargo test`): the SDK's MockHost stands in for wari and
// records what the app asked for.
#[cfg(test)]
mod tests {
    use super::*;
    use wari_guest_sdk::Event;
    use wari_guest_sdk::mock::{Call, MockHost};

    const CALLER: &str = "caller-1";

    fn press(host: &mut MockHost, app: &mut @TYPE@, digit: char) {
        host.deliver(
            app,
            Event::Dtmf {
                channel: Channel::new(CALLER),
                digit,
                duration_ms: 100,
            },
        );
    }

    #[test]
    fn answers_and_hangs_up_on_hash() {
        let mut host = MockHost::new();
        let mut app = @TYPE@::default();
        host.deliver(
            &mut app,
            Event::StasisStart {
                channel: Channel::new(CALLER),
                args: vec![],
            },
        );
        assert_eq!(
            host.take_calls(),
            [Call::Answer {
                channel: CALLER.into()
            }]
        );

        press(&mut host, &mut app, '5');
        assert!(host.take_calls().is_empty(), "other keys do nothing");

        press(&mut host, &mut app, '#');
        assert_eq!(
            host.take_calls(),
            [Call::Hangup {
                channel: CALLER.into(),
                reason: HangupReason::Normal
            }]
        );
        assert_eq!(host.logs().len(), 3, "{:?}", host.logs());
    }
}
"#;

fn lib_rs(plan: &Plan) -> String {
    if let Some(template) = plan.template {
        return template.lib_rs().to_string();
    }
    LIB_RS
        .replace("@NAME@", &plan.name)
        .replace("@TYPE@", &plan.type_name)
}

fn readme(plan: &Plan) -> String {
    let name = &plan.name;
    let lib = name.replace('-', "_");
    let what = match plan.template {
        None => "It answers a call and hangs up when the caller presses `#`",
        Some(Template::Ivr) => {
            "It starts from wari's IVR example: answer, prompt, route on DTMF with a timeout"
        }
        Some(Template::Forward) => "It starts from wari's call-forwarding example",
        Some(Template::Conference) => "It starts from wari's conference example",
    };
    let mut out = format!(
        "# {name}\n\n\
         A Stasis application for wari (an Asterisk REST Interface host), written with `wari-guest-sdk` and \
         built as a WebAssembly component. {what} (see `src/lib.rs`).\n\n\
         ## Test\n\n\
         The unit tests run natively, against the SDK's mock host:\n\n\
         ```sh\ncargo test\n```\n\n\
         ## Build the component\n\n"
    );
    match &plan.workspace {
        Some(workspace) if workspace.is_wari_apps => {
            let _ = write!(
                out,
                "This crate is in the wari repository's `apps/` workspace (`wari app new` added \
                 it to `members` of `apps/Cargo.toml`). Refresh the lock file once \
                 (`scripts/build-guests` builds with `--locked`):\n\n\
                 ```sh\ncargo update --manifest-path apps/Cargo.toml --workspace\n```\n\n\
                 then build the component from the repository's root with\n\n\
                 ```sh\nscripts/build-guests {name}\n```\n\n\
                 which writes `target/guests/components/{name}.wasm`.\n"
            );
        }
        _ => {
            let in_workspace = if plan.workspace.is_some() {
                " (in the workspace's target directory)"
            } else {
                ""
            };
            let _ = write!(
                out,
                "```sh\nwari app build\n```\n\n\
                 builds it for `wasm32-wasip2` (a component directly) and prints the component's \
                 path, `target/wari/{name}.wasm`{in_workspace}. It uses rustup's `wasm32-wasip2` target when \
                 installed (`rustup target add wasm32-wasip2`), else Debian's `rustc-web` \
                 (packages `rustc-web cargo-web rust-web-src rust-web-llvm lld-22 wasi-libc`), \
                 which builds Rust's std for the target once per machine (a few minutes, kept in \
                 `~/.cache/wari/guest-target`, or `WARI_GUEST_TARGET_DIR`); later builds take \
                 seconds.\n\n\
                 By hand, with a toolchain that has the target:\n\n\
                 ```sh\ncargo build --release --target wasm32-wasip2\n```\n\n\
                 Without it, Debian's `rustc-web` (packages `rustc-web cargo-web rust-web-src \
                 rust-web-llvm lld-22 wasi-libc`) can build std for the target:\n\n\
                 ```sh\n\
                 ( export RUSTC=/usr/bin/rustc RUSTDOC=/usr/bin/rustdoc RUSTC_BOOTSTRAP=1 \\\n\
                 \x20        CARGO_TARGET_WASM32_WASIP2_RUSTFLAGS=\"-L native=/usr/lib/wasm32-wasi\"\n\
                 \x20 /usr/bin/cargo build --release --target wasm32-wasip2 -Zbuild-std=std,panic_abort )\n\
                 ```\n\n\
                 Either way the component is `target/wasm32-wasip2/release/{lib}.wasm`{in_workspace}.\n"
            );
        }
    }
    let path = match &plan.workspace {
        Some(workspace) if workspace.is_wari_apps => {
            format!("target/guests/components/{name}.wasm")
        }
        _ => format!("target/wari/{name}.wasm"),
    };
    let _ = write!(
        out,
        "\n## Deploy\n\n\
         To a running wari (default `--url http://127.0.0.1:8088` and user `asterisk`; the \
         password is required, `asterisk` for the embedded demo; or `WARI_URL`, `WARI_USER`, \
         `WARI_PASSWORD`):\n\n\
         ```sh\nexport WARI_PASSWORD=asterisk\nwari app deploy {path} --name {name}\nwari app list\n```\n\n\
         Then send calls to it from the dialplan:\n\n\
         ```ini\n[default]\nexten => 100,1,Stasis({name})\n same => n,Hangup()\n```\n"
    );
    out
}

/// Writes the crate; removes what it created if a write fails.
fn write_crate(crate_dir: &Path, plan: &Plan) -> anyhow::Result<()> {
    let mut files = vec![
        ("Cargo.toml".to_string(), cargo_toml(plan)),
        ("src/lib.rs".to_string(), lib_rs(plan)),
        ("README.md".to_string(), readme(plan)),
    ];
    if plan.sdk == Sdk::Bundled {
        files.extend(sdk_bundle::files());
        // A member of another workspace uses that workspace's lock file.
        if plan.workspace.is_none() {
            files.push(("Cargo.lock".to_string(), sdk_bundle::lock_file(&plan.name)));
        }
    }
    let result = (|| {
        for (file, text) in &files {
            let path = crate_dir.join(file);
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("cannot create {}", dir.display()))?;
            }
            std::fs::write(&path, text)
                .with_context(|| format!("cannot write {}", path.display()))?;
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_dir_all(crate_dir);
    }
    result
}

/// Adds `member` to the `members = [...]` list of wari's `apps/Cargo.toml`, one entry per
/// line as that file keeps them (scripts/build-guests reads it so); nothing if it is there.
fn add_member(manifest: &Path, member: &str) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(manifest)
        .with_context(|| format!("cannot read {}", manifest.display()))?;
    let entry = toml_string(member);
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    let Some(start) = lines.iter().position(|l| l.trim() == "members = [") else {
        bail!(
            "{}: no `members = [` list to add \"{member}\" to; add it by hand",
            manifest.display()
        );
    };
    let Some(end) = lines[start..].iter().position(|l| l.trim() == "]") else {
        bail!("{}: the members list is not closed", manifest.display());
    };
    let end = start + end;
    let listed = lines[start + 1..end]
        .iter()
        .any(|l| l.trim().trim_end_matches(',') == entry);
    if listed {
        return Ok(());
    }
    if let Some(last) = lines[start + 1..end]
        .iter_mut()
        .rev()
        .find(|l| !l.trim().is_empty())
        && !last.trim_end().ends_with(',')
    {
        last.push(',');
    }
    lines.insert(end, format!("    {entry},"));
    let mut out = lines.join("\n");
    out.push('\n');
    std::fs::write(manifest, out).with_context(|| format!("cannot write {}", manifest.display()))
}

/// `wari app new`.
pub(super) fn run(args: &NewArgs) -> anyhow::Result<ExitCode> {
    check_name(&args.name)?;
    std::fs::create_dir_all(&args.dir)
        .with_context(|| format!("cannot create {}", args.dir.display()))?;
    let parent = args
        .dir
        .canonicalize()
        .with_context(|| format!("cannot use {}", args.dir.display()))?;
    let mut plan = plan(&args.name, &parent, args.sdk_path.as_deref())?;
    plan.template = args.template;
    let crate_dir = parent.join(&plan.name);
    match std::fs::create_dir(&crate_dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            bail!("{} already exists: not overwriting it", crate_dir.display())
        }
        Err(e) => bail!("cannot create {}: {e}", crate_dir.display()),
    }
    write_crate(&crate_dir, &plan)?;

    let shown = args.dir.join(&plan.name);
    let files = match (&plan.sdk, &plan.workspace) {
        (Sdk::Bundled, None) => "Cargo.toml, Cargo.lock, src/lib.rs, README.md, wari-guest-sdk/",
        (Sdk::Bundled, Some(_)) => "Cargo.toml, src/lib.rs, README.md, wari-guest-sdk/",
        (Sdk::Path(_), _) => "Cargo.toml, src/lib.rs, README.md",
    };
    println!("created {} ({files})", shown.display());
    match &plan.sdk {
        Sdk::Path(path) => println!("wari-guest-sdk: path {path}"),
        Sdk::Bundled => println!(
            "wari-guest-sdk: the SDK of wari {}, copied to {} (not in a wari checkout; use \
             --sdk-path PATH/guest-sdk to build against one)",
            sdk_bundle::VERSION,
            shown.join(sdk_bundle::DIR).display()
        ),
    }
    match &plan.workspace {
        Some(workspace) if workspace.is_wari_apps => {
            add_member(&workspace.manifest, &workspace.member)?;
            println!(
                "added \"{}\" to the members of {} (scripts/build-guests builds it)",
                workspace.member,
                workspace.manifest.display()
            );
        }
        Some(workspace) => println!(
            "note: {} is a Cargo workspace: add \"{}\" to its members (unless a glob covers it)",
            workspace.manifest.display(),
            workspace.member
        ),
        None => {}
    }
    match &plan.workspace {
        Some(workspace) if workspace.is_wari_apps => println!(
            "next: cd {} && cargo test; README.md says how to build and deploy it",
            shown.display()
        ),
        _ => println!(
            "next: cd {} && cargo test && wari app build; README.md says how to deploy it",
            shown.display()
        ),
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(check_name("demo").is_ok());
        assert!(check_name("my-app_2").is_ok());
        for bad in ["", "2fa", "-x", "a b", "a/b", "ü", "fn", "test", "Self"] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
        assert_eq!(type_name("demo"), "Demo");
        assert_eq!(type_name("my-app_2"), "MyApp2");
        assert_eq!(type_name("app"), "AppApp");
        assert_eq!(type_name("call"), "CallApp");
    }

    #[test]
    fn relative_paths_climb_out_of_the_crate() {
        let root = Path::new("/repo");
        assert_eq!(
            relative_to(root, Path::new("/repo/apps/demo"), "guest-sdk").as_deref(),
            Some("../../guest-sdk")
        );
        assert_eq!(relative_to(root, Path::new("/elsewhere/demo"), "x"), None);
    }

    #[test]
    fn inside_the_repository_apps_workspace() {
        let repo = tempfile::tempdir().unwrap();
        let root = repo.path().canonicalize().unwrap();
        std::fs::create_dir_all(root.join("guest-sdk")).unwrap();
        std::fs::write(
            root.join("guest-sdk/Cargo.toml"),
            "[package]\nname = \"wari-guest-sdk\"\n",
        )
        .unwrap();
        std::fs::create_dir_all(root.join("apps")).unwrap();
        std::fs::write(
            root.join("apps/Cargo.toml"),
            "[workspace]\nmembers = [\"ivr\"]\n",
        )
        .unwrap();
        let plan = plan("demo", &root.join("apps"), None).unwrap();
        assert_eq!(plan.sdk, Sdk::Path("../../guest-sdk".into()));
        let workspace = plan.workspace.clone().unwrap();
        assert!(workspace.is_wari_apps);
        assert_eq!(workspace.member, "demo");
        let manifest = cargo_toml(&plan);
        assert!(manifest.contains(r#"wari-guest-sdk = { path = "../../guest-sdk" }"#));
        assert!(!manifest.contains("\n[profile.release]"));
        assert!(!manifest.contains("\n[workspace]"));
        assert!(readme(&plan).contains("scripts/build-guests"));
    }

    #[test]
    fn elsewhere_it_is_standalone_on_the_bundled_sdk() {
        let dir = tempfile::tempdir().unwrap();
        let parent = dir.path().canonicalize().unwrap();
        let plan = plan("hello-world", &parent, None).unwrap();
        // Unless some directory above the temporary one is a wari checkout or a workspace.
        if parent.ancestors().all(|a| !a.join("Cargo.toml").exists()) {
            assert_eq!(plan.sdk, Sdk::Bundled);
            assert!(plan.workspace.is_none());
            let manifest = cargo_toml(&plan);
            assert!(manifest.contains("\nwari-guest-sdk = { path = \"wari-guest-sdk\" }\n"));
            assert!(manifest.contains("[profile.release]\nopt-level = \"s\""));
            assert!(manifest.contains("\n[workspace]\n"));
            let readme = readme(&plan);
            assert!(readme.contains("wari app build"), "{readme}");
            assert!(readme.contains("wari app deploy target/wari/hello-world.wasm"));
            assert!(
                super::plan("syn", &parent, None).is_err(),
                "a name the SDK's lock file has"
            );
        }
        assert!(lib_rs(&plan).contains("pub struct HelloWorld {"));
        assert!(!lib_rs(&plan).contains('@'));
    }
}
