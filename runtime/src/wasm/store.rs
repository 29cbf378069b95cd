//! The app store on disk: every uploaded component under `<data-dir>/apps/<name>/`, written
//! so that a crash at any moment leaves either the previous version or the new one, never a
//! half-written app.
//!
//! Layout: `<name>/<sha256>/component.wasm` (the upload), `<name>/<sha256>/<engine>.cwasm`
//! (the precompiled artifact for one engine configuration), and `<name>/current.json`
//! (`{name, sha256, size, uploaded, owner}`), replaced atomically by rename to switch
//! versions. `owner` is the ARI user who deployed the app; apps stored before owners were
//! recorded, and apps deployed from wasm.conf `apps_dir`, have none.
//! Files are written to a temporary name, synced, then renamed.
//!
//! History: `current.json` also lists the versions that were current before
//! (`previous`, oldest first, at most [`KEPT_VERSIONS`] − 1 of them), so the one rename
//! that switches versions also switches the history: a rollback survives a crash or a
//! restart, and a crash never leaves a history naming a version whose files are gone. The
//! directories of versions neither current nor in the history are removed after each
//! switch.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// What is stored about the current version of an app.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredApp {
    pub name: String,
    pub sha256: String,
    pub size: u64,
    /// ARI timestamp of the upload.
    pub uploaded: String,
    /// The ARI user who deployed it (`None`: deployed by the operator through `apps_dir`,
    /// or stored before wari recorded owners; only an admin may replace or delete it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
}

/// How many versions of an app are kept on disk: the current one and the ones before it
/// that a rollback can go back to.
pub(crate) const KEPT_VERSIONS: usize = 5;

/// `current.json`: the current version and the ones before it.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct CurrentFile {
    #[serde(flatten)]
    app: StoredApp,
    /// Earlier current versions, oldest first (absent in files written before wari kept a
    /// history).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    previous: Vec<StoredApp>,
}

/// The app store rooted at `<data-dir>/apps`.
#[derive(Debug, Clone)]
pub(crate) struct AppStore {
    root: PathBuf,
    spool: PathBuf,
}

/// The hex SHA-256 of some bytes.
pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Writes `bytes` to `path` crash-safely: temporary file, fsync, rename, fsync of the directory.
fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path
        .parent()
        .ok_or_else(|| std::io::Error::other("path without a directory"))?;
    fs::create_dir_all(dir)?;
    let file_name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    let temp = dir.join(format!(".{file_name}.{}.tmp", uuid::Uuid::new_v4()));
    {
        let mut file = fs::File::create(&temp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
    }
    if let Err(e) = fs::rename(&temp, path) {
        let _ = fs::remove_file(&temp);
        return Err(e);
    }
    if let Ok(dir) = fs::File::open(dir) {
        let _ = dir.sync_all();
    }
    Ok(())
}

impl AppStore {
    /// The store under `data_dir` (created when the first app is saved).
    pub(crate) fn new(data_dir: &Path) -> AppStore {
        AppStore {
            root: data_dir.join("apps"),
            spool: data_dir.join("uploads"),
        }
    }

    /// Where uploads are received before they are deployed (emptied at start-up: what a
    /// crash left there was never deployed).
    pub(crate) fn spool_dir(&self) -> &Path {
        &self.spool
    }

    /// Removes what a previous run left in the spool folder.
    pub(crate) fn clear_spool(&self) {
        if let Ok(entries) = std::fs::read_dir(&self.spool) {
            for entry in entries.flatten() {
                if let Err(e) = std::fs::remove_file(entry.path()) {
                    tracing::warn!(path = %entry.path().display(), error = %e, "cannot remove a leftover upload");
                }
            }
        }
    }

    fn app_dir(&self, name: &str) -> PathBuf {
        self.root.join(name)
    }

    /// Every app with a current version. Unreadable entries are logged and skipped.
    pub(crate) fn list(&self) -> Vec<StoredApp> {
        let Ok(entries) = fs::read_dir(&self.root) else {
            return Vec::new();
        };
        let mut apps = Vec::new();
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().to_string();
            if name.starts_with('.') {
                continue;
            }
            match self.current(&name) {
                Ok(Some(app)) => apps.push(app),
                Ok(None) => {}
                Err(e) => tracing::warn!(app = name, error = %e, "cannot read stored app"),
            }
        }
        apps.sort_by(|a, b| a.name.cmp(&b.name));
        apps
    }

    /// The current version of an app.
    pub(crate) fn current(&self, name: &str) -> std::io::Result<Option<StoredApp>> {
        let path = self.app_dir(name).join("current.json");
        match fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| std::io::Error::other(format!("{}: {e}", path.display()))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `current.json` with its history; `None` when the app has no current version.
    fn current_file(&self, name: &str) -> std::io::Result<Option<CurrentFile>> {
        let path = self.app_dir(name).join("current.json");
        match fs::read(&path) {
            Ok(bytes) => serde_json::from_slice::<CurrentFile>(&bytes)
                .map(|mut file| {
                    // A version equal to the current one is not an earlier one.
                    let current = file.app.sha256.clone();
                    file.previous.retain(|p| p.sha256 != current);
                    Some(file)
                })
                .map_err(|e| std::io::Error::other(format!("{}: {e}", path.display()))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The versions that were current before the current one, oldest first (what a
    /// rollback can go back to).
    pub(crate) fn previous(&self, name: &str) -> std::io::Result<Vec<StoredApp>> {
        Ok(self
            .current_file(name)?
            .map(|file| file.previous)
            .unwrap_or_default())
    }

    /// Makes the most recent previous version current again (expected to be `sha256`,
    /// checked under the caller's deploy lock), with `owner` as its owner; the version
    /// rolled back from leaves the history. Returns the version now current.
    pub(crate) fn roll_back(
        &self,
        name: &str,
        sha256: &str,
        owner: Option<String>,
    ) -> std::io::Result<StoredApp> {
        let mut file = self
            .current_file(name)?
            .ok_or_else(|| std::io::Error::other("the app has no current version"))?;
        let mut restored = match file.previous.pop() {
            Some(previous) if previous.sha256 == sha256 => previous,
            _ => {
                return Err(std::io::Error::other(
                    "the app's history changed during the rollback",
                ));
            }
        };
        restored.owner = owner;
        let file = CurrentFile {
            app: restored.clone(),
            previous: file.previous,
        };
        self.write_current(&file)?;
        Ok(restored)
    }

    fn write_current(&self, file: &CurrentFile) -> std::io::Result<()> {
        let meta = serde_json::to_vec_pretty(file).map_err(std::io::Error::other)?;
        write_atomic(&self.app_dir(&file.app.name).join("current.json"), &meta)?;
        self.remove_old_versions(file);
        Ok(())
    }

    /// The uploaded component bytes of a version.
    pub(crate) fn component(&self, app: &StoredApp) -> std::io::Result<Vec<u8>> {
        let bytes = fs::read(
            self.app_dir(&app.name)
                .join(&app.sha256)
                .join("component.wasm"),
        )?;
        if sha256_hex(&bytes) != app.sha256 {
            return Err(std::io::Error::other(
                "stored component does not match its checksum",
            ));
        }
        Ok(bytes)
    }

    /// The precompiled artifact of a version for an engine, if cached.
    pub(crate) fn compiled(&self, app: &StoredApp, engine_hash: &str) -> Option<Vec<u8>> {
        fs::read(
            self.app_dir(&app.name)
                .join(&app.sha256)
                .join(format!("{engine_hash}.cwasm")),
        )
        .ok()
    }

    /// Caches a precompiled artifact.
    pub(crate) fn save_compiled(
        &self,
        app: &StoredApp,
        engine_hash: &str,
        artifact: &[u8],
    ) -> std::io::Result<()> {
        write_atomic(
            &self
                .app_dir(&app.name)
                .join(&app.sha256)
                .join(format!("{engine_hash}.cwasm")),
            artifact,
        )
    }

    /// Stores a new version (component and its artifact) and makes it current; the version
    /// it replaces joins the history (the oldest leaves it beyond [`KEPT_VERSIONS`]).
    pub(crate) fn save(
        &self,
        app: &StoredApp,
        component: &[u8],
        engine_hash: &str,
        artifact: &[u8],
    ) -> std::io::Result<()> {
        let version = self.app_dir(&app.name).join(&app.sha256);
        write_atomic(&version.join("component.wasm"), component)?;
        write_atomic(&version.join(format!("{engine_hash}.cwasm")), artifact)?;
        // An unreadable history is not a reason to refuse the upload: it starts afresh.
        let mut previous = match self.current_file(&app.name) {
            Ok(Some(old)) => {
                let mut previous = old.previous;
                previous.push(old.app);
                previous
            }
            Ok(None) => Vec::new(),
            Err(e) => {
                tracing::warn!(app = %app.name, error = %e, "the app's version history cannot be read: it starts again with this upload");
                Vec::new()
            }
        };
        previous.retain(|p| p.sha256 != app.sha256);
        let excess = previous.len().saturating_sub(KEPT_VERSIONS - 1);
        previous.drain(..excess);
        self.write_current(&CurrentFile {
            app: app.clone(),
            previous,
        })
    }

    /// Removes the directories of versions neither current nor in the history.
    fn remove_old_versions(&self, current: &CurrentFile) {
        let Ok(entries) = fs::read_dir(self.app_dir(&current.app.name)) else {
            return;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().to_string();
            let kept =
                name == current.app.sha256 || current.previous.iter().any(|p| p.sha256 == name);
            if entry.path().is_dir() && !kept {
                let _ = fs::remove_dir_all(entry.path());
            }
        }
    }

    /// Removes an app: its current pointer first (so a crash leaves it deleted), then files.
    pub(crate) fn delete(&self, name: &str) -> std::io::Result<bool> {
        let dir = self.app_dir(name);
        match fs::remove_file(dir.join("current.json")) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(e),
        }
        let _ = fs::remove_dir_all(&dir);
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn app(name: &str, bytes: &[u8]) -> StoredApp {
        StoredApp {
            name: name.into(),
            sha256: sha256_hex(bytes),
            size: bytes.len() as u64,
            uploaded: "now".into(),
            owner: Some("alice".into()),
        }
    }

    #[test]
    fn save_list_replace_delete() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = AppStore::new(dir.path());
        assert!(store.list().is_empty());
        let v1 = app("ivr", b"one");
        store
            .save(&v1, b"one", "eng", b"compiled-one")
            .expect("save");
        assert_eq!(store.list(), vec![v1.clone()]);
        assert_eq!(store.component(&v1).expect("read"), b"one");
        assert_eq!(
            store.compiled(&v1, "eng").as_deref(),
            Some(&b"compiled-one"[..])
        );
        assert_eq!(store.compiled(&v1, "other"), None);
        let v2 = app("ivr", b"two");
        store
            .save(&v2, b"two", "eng", b"compiled-two")
            .expect("save");
        assert_eq!(store.current("ivr").expect("read"), Some(v2.clone()));
        assert_eq!(store.previous("ivr").expect("history"), vec![v1.clone()]);
        assert_eq!(store.component(&v1).expect("kept"), b"one");
        assert!(store.delete("ivr").expect("delete"));
        assert!(!store.delete("ivr").expect("delete again"));
        assert!(store.list().is_empty());
    }

    #[test]
    fn the_history_keeps_five_versions_and_a_rollback_survives_a_reopen() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = AppStore::new(dir.path());
        let versions: Vec<StoredApp> = (0..7u8)
            .map(|i| {
                let v = app("ivr", &[i]);
                store.save(&v, &[i], "eng", b"c").expect("save");
                v
            })
            .collect();
        // The current one and four before it; the two oldest are gone from disk too.
        assert_eq!(store.previous("ivr").expect("history"), versions[2..6]);
        assert!(store.component(&versions[1]).is_err());
        assert_eq!(store.component(&versions[2]).expect("kept"), [2]);
        // The same bytes again are not a version of their own.
        store.save(&versions[6], &[6], "eng", b"c").expect("save");
        assert_eq!(store.previous("ivr").expect("history"), versions[2..6]);

        let restored = store
            .roll_back("ivr", &versions[5].sha256, Some("bob".into()))
            .expect("roll back");
        assert_eq!(restored.sha256, versions[5].sha256);
        assert_eq!(restored.owner.as_deref(), Some("bob"));
        let again = AppStore::new(dir.path());
        assert_eq!(again.current("ivr").expect("read"), Some(restored));
        assert_eq!(again.previous("ivr").expect("history"), versions[2..5]);
        assert!(again.component(&versions[6]).is_err(), "rolled back from");
        // Only the expected version is restored.
        assert!(again.roll_back("ivr", &versions[2].sha256, None).is_err());
        assert_eq!(again.previous("ivr").expect("history").len(), 3);
        assert!(again.delete("ivr").expect("delete"));
        assert!(again.previous("ivr").expect("history").is_empty());
    }

    #[test]
    fn the_owner_survives_and_older_records_have_none() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = AppStore::new(dir.path());
        let v1 = app("ivr", b"one");
        store.save(&v1, b"one", "eng", b"c").expect("save");
        let again = AppStore::new(dir.path());
        assert_eq!(
            again.current("ivr").expect("read").and_then(|a| a.owner),
            Some("alice".to_string())
        );
        let old = r#"{"name":"old","sha256":"ab","size":1,"uploaded":"then"}"#;
        fs::create_dir_all(dir.path().join("apps/old")).expect("dir");
        fs::write(dir.path().join("apps/old/current.json"), old).expect("write");
        assert_eq!(
            again.current("old").expect("read").expect("app").owner,
            None
        );
    }

    #[test]
    fn a_tampered_component_is_refused() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = AppStore::new(dir.path());
        let v1 = app("x", b"good");
        store.save(&v1, b"good", "eng", b"c").expect("save");
        fs::write(
            dir.path()
                .join("apps/x")
                .join(&v1.sha256)
                .join("component.wasm"),
            b"evil",
        )
        .expect("tamper");
        assert!(store.component(&v1).is_err());
    }
}
