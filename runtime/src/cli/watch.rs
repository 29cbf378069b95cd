//! `wari app run --watch`: notices that an app's sources changed by polling their
//! modification times and sizes (no file-notification crate is in the build): for a crate,
//! `Cargo.toml`, `src/**` and `wit/**`; for a component, the file itself. Bounded: at most
//! [`MAX_FILES`] files, [`MAX_DEPTH`] directories deep, looked at every [`POLL`]. A burst of
//! writes (an editor saving several files, cargo writing a component) is one change: it is
//! reported once nothing has moved for [`SETTLE`].

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// How often the sources are looked at.
pub(super) const POLL: Duration = Duration::from_millis(300);
/// How long the sources must stay still after a change before it is reported.
pub(super) const SETTLE: Duration = Duration::from_millis(300);
/// The longest a burst is waited out: a file rewritten without pause is reported anyway.
const LONGEST_BURST: Duration = Duration::from_secs(5);
/// Files looked at, at most.
pub(super) const MAX_FILES: usize = 10_000;
/// Directory levels below a watched directory, at most.
pub(super) const MAX_DEPTH: usize = 16;

/// What is watched.
#[derive(Debug, Clone)]
pub(super) enum Sources {
    /// A crate: `Cargo.toml`, `src/`, `wit/` in it.
    Crate(PathBuf),
    /// A component file.
    File(PathBuf),
}

/// One look at the sources: each file with its modification time and size, sorted.
pub(super) type Fingerprint = Vec<(PathBuf, Option<SystemTime>, u64)>;

impl Sources {
    /// Looks at the sources now.
    pub(super) fn fingerprint(&self) -> Fingerprint {
        let mut files = Vec::new();
        match self {
            Sources::File(path) => add_file(path, &mut files),
            Sources::Crate(dir) => {
                add_file(&dir.join("Cargo.toml"), &mut files);
                for sub in ["src", "wit"] {
                    add_tree(&dir.join(sub), 0, &mut files);
                }
            }
        }
        files.sort();
        files
    }

    /// Waits until the sources differ from `last`, then until they settle; returns how
    /// they look then.
    pub(super) async fn changed(&self, last: &Fingerprint) -> Fingerprint {
        let mut now = loop {
            tokio::time::sleep(POLL).await;
            let now = self.fingerprint();
            if &now != last {
                break now;
            }
        };
        let burst_end = tokio::time::Instant::now() + LONGEST_BURST;
        loop {
            tokio::time::sleep(SETTLE).await;
            let again = self.fingerprint();
            if again == now || tokio::time::Instant::now() >= burst_end {
                return again;
            }
            now = again;
        }
    }
}

fn add_file(path: &Path, files: &mut Fingerprint) {
    if files.len() >= MAX_FILES {
        return;
    }
    match std::fs::metadata(path) {
        Ok(meta) => files.push((path.to_path_buf(), meta.modified().ok(), meta.len())),
        // A file that is gone (being replaced) is a state too.
        Err(_) => files.push((path.to_path_buf(), None, 0)),
    }
}

fn add_tree(dir: &Path, depth: usize, files: &mut Fingerprint) {
    if depth > MAX_DEPTH {
        return;
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        if files.len() >= MAX_FILES {
            return;
        }
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        let path = entry.path();
        if kind.is_dir() {
            add_tree(&path, depth + 1, files);
        } else if kind.is_file() {
            add_file(&path, files);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_crate_is_its_manifest_sources_and_wit() {
        let dir = tempfile::tempdir().expect("temp dir");
        let root = dir.path();
        std::fs::create_dir_all(root.join("src/deep")).expect("mkdir");
        std::fs::create_dir_all(root.join("target")).expect("mkdir");
        std::fs::write(root.join("Cargo.toml"), "[package]").expect("write");
        std::fs::write(root.join("src/lib.rs"), "").expect("write");
        std::fs::write(root.join("src/deep/more.rs"), "").expect("write");
        std::fs::write(root.join("target/out.wasm"), "").expect("write");
        let sources = Sources::Crate(root.to_path_buf());
        let names: Vec<PathBuf> = sources
            .fingerprint()
            .into_iter()
            .map(|(path, _, _)| path.strip_prefix(root).expect("inside").to_path_buf())
            .collect();
        assert_eq!(
            names,
            ["Cargo.toml", "src/deep/more.rs", "src/lib.rs"].map(PathBuf::from)
        );
        // A change of size is a change.
        let before = sources.fingerprint();
        std::fs::write(root.join("src/lib.rs"), "// edited").expect("write");
        assert_ne!(sources.fingerprint(), before);
        // The build's own output is not.
        let before = sources.fingerprint();
        std::fs::write(root.join("target/out.wasm"), "new").expect("write");
        assert_eq!(sources.fingerprint(), before);
    }

    #[tokio::test]
    async fn a_replaced_file_is_a_change() {
        let dir = tempfile::tempdir().expect("temp dir");
        let file = dir.path().join("app.wasm");
        std::fs::write(&file, "one").expect("write");
        let sources = Sources::File(file.clone());
        let before = sources.fingerprint();
        std::fs::write(&file, "longer").expect("write");
        let after = tokio::time::timeout(Duration::from_secs(10), sources.changed(&before))
            .await
            .expect("the change is seen");
        assert_eq!(after[0].2, 6);
    }
}
