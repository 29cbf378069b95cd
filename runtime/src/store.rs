//! The host's store of state that must outlive a restart or a crash, in one file,
//! `<data-dir>/wari.redb` (a redb database: ACID, every commit on disk before it returns).
//!
//! This module owns the file and its layout: ARI-controlled device states, mailboxes, the
//! owner of each stored recording (the user its quota charges), and one table of keys and
//! values per WebAssembly app (`kv/<app>`). Everything else keeps its state
//! in memory and writes through here first: a write is durable before the caller changes its
//! memory or answers. Writes run on the blocking pool, never on the async workers. Opening
//! checks the whole file; a file that is corrupt or unreadable is an [`OpenError`], and wari
//! refuses to start rather than start with the state silently gone.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use redb::{ReadableDatabase, ReadableTable, TableDefinition, TableError, TableHandle};

/// The store's file name in the data directory.
pub(crate) const FILE_NAME: &str = "wari.redb";

/// The page cache redb may use (reads are served from the owners' memory, not from here).
const CACHE_BYTES: usize = 16 * 1024 * 1024;

const DEVICE_STATES: TableDefinition<&str, &str> = TableDefinition::new("device_states");
/// Mailboxes: (old, new) message counts.
const MAILBOXES: TableDefinition<&str, (i64, i64)> = TableDefinition::new("mailboxes");
/// Stored recordings' owners: the file's path under the recordings directory → ARI user.
const RECORDING_OWNERS: TableDefinition<&str, &str> = TableDefinition::new("recording_owners");
/// Prefix of the per-app key-value tables.
const KV_PREFIX: &str = "kv/";

/// Why the store could not be opened; wari does not start.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("cannot create the data directory {}: {source}", path.display())]
    Directory {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "the store {} cannot be used ({reason}); wari keeps device states, mailboxes, recordings' \
         owners and apps' key-value stores in it and will not start without them: restore it from a backup, or \
         move it aside to start with an empty store",
        path.display()
    )]
    Unusable { path: PathBuf, reason: String },
    #[error(
        "the store {} is in use by another process (is another wari running on this data \
         directory?)",
        path.display()
    )]
    InUse { path: PathBuf },
}

/// A read or write of the store failed (disk full, I/O error).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("store: {0}")]
    Db(#[from] redb::Error),
    #[error("store: the write task failed: {0}")]
    Task(String),
}

fn db_error(error: impl Into<redb::Error>) -> StoreError {
    StoreError::Db(error.into())
}

/// The open store; cheap to clone.
#[derive(Clone)]
pub struct Store {
    db: Arc<redb::Database>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").finish_non_exhaustive()
    }
}

impl Default for Store {
    /// A store in memory, for a core or host without a data directory (tests).
    fn default() -> Self {
        Store::in_memory()
    }
}

/// What the core keeps: device states and mailboxes.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct CoreSaved {
    pub device_states: Vec<(String, String)>,
    pub mailboxes: Vec<(String, (i64, i64))>,
}

impl Store {
    /// Opens (or creates) the store file at `path`, checking every page of it. Blocking:
    /// call at start-up, off the async workers.
    pub fn open(path: &Path) -> Result<Store, OpenError> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|source| OpenError::Directory {
                path: dir.to_path_buf(),
                source,
            })?;
        }
        let unusable = |reason: String| OpenError::Unusable {
            path: path.to_path_buf(),
            reason,
        };
        // redb may panic on a damaged file it has not checked; the integrity check turns that
        // into an error, and this catch is the last line should one still escape.
        let opened = std::panic::catch_unwind(|| {
            redb::Builder::new()
                .set_cache_size(CACHE_BYTES)
                .set_check_integrity_on_open(true)
                .create(path)
        })
        .map_err(|_| unusable("the file is damaged: reading it failed".into()))?;
        match opened {
            Ok(db) => Ok(Store { db: Arc::new(db) }),
            Err(redb::DatabaseError::DatabaseAlreadyOpen) => Err(OpenError::InUse {
                path: path.to_path_buf(),
            }),
            Err(error) => Err(unusable(error.to_string())),
        }
    }

    /// A store in memory: nothing survives the process.
    pub fn in_memory() -> Store {
        let db = redb::Builder::new()
            .create_with_backend(redb::backends::InMemoryBackend::new())
            .unwrap_or_else(|e| unreachable!("an in-memory store cannot fail to open: {e}"));
        Store { db: Arc::new(db) }
    }

    /// Device states and mailboxes as last written. Blocking: call at start-up.
    pub fn core_saved(&self) -> Result<CoreSaved, StoreError> {
        let read = self.db.begin_read().map_err(db_error)?;
        let mut saved = CoreSaved::default();
        if let Some(table) = open_read(&read, DEVICE_STATES)? {
            for entry in table.iter().map_err(db_error)? {
                let (name, state) = entry.map_err(db_error)?;
                saved
                    .device_states
                    .push((name.value().to_string(), state.value().to_string()));
            }
        }
        if let Some(table) = open_read(&read, MAILBOXES)? {
            for entry in table.iter().map_err(db_error)? {
                let (name, counts) = entry.map_err(db_error)?;
                saved
                    .mailboxes
                    .push((name.value().to_string(), counts.value()));
            }
        }
        Ok(saved)
    }

    /// Every key and value of an app. Blocking: call off the async workers.
    pub fn kv_entries(&self, app: &str) -> Result<Vec<(String, String)>, StoreError> {
        let read = self.db.begin_read().map_err(db_error)?;
        let name = kv_table(app);
        let Some(table) = open_read(&read, TableDefinition::<&str, &str>::new(&name))? else {
            return Ok(Vec::new());
        };
        let mut entries = Vec::new();
        for entry in table.iter().map_err(db_error)? {
            let (key, value) = entry.map_err(db_error)?;
            entries.push((key.value().to_string(), value.value().to_string()));
        }
        Ok(entries)
    }

    /// The apps that have keys stored. Blocking.
    pub fn kv_apps(&self) -> Result<Vec<String>, StoreError> {
        let read = self.db.begin_read().map_err(db_error)?;
        let tables = read.list_tables().map_err(db_error)?;
        Ok(tables
            .filter_map(|t| t.name().strip_prefix(KV_PREFIX).map(str::to_string))
            .collect())
    }

    /// Every stored recording's owner: (file path under the recordings directory, user).
    /// Blocking: call at start-up.
    pub fn recording_owners(&self) -> Result<Vec<(String, String)>, StoreError> {
        let read = self.db.begin_read().map_err(db_error)?;
        let mut owners = Vec::new();
        if let Some(table) = open_read(&read, RECORDING_OWNERS)? {
            for entry in table.iter().map_err(db_error)? {
                let (file, user) = entry.map_err(db_error)?;
                owners.push((file.value().to_string(), user.value().to_string()));
            }
        }
        Ok(owners)
    }

    /// Records (`Some`) or forgets (`None`) the owner of a stored recording's file.
    /// Blocking (on disk when it returns): call off the async workers.
    pub fn set_recording_owner_blocking(
        &self,
        file: &str,
        user: Option<&str>,
    ) -> Result<(), StoreError> {
        let tx = self.db.begin_write().map_err(db_error)?;
        {
            let mut table = tx.open_table(RECORDING_OWNERS).map_err(db_error)?;
            match user {
                Some(user) => table.insert(file, user).map(drop),
                None => table.remove(file).map(drop),
            }
            .map_err(db_error)?;
        }
        tx.commit().map_err(db_error)
    }

    pub async fn put_device_state(&self, name: &str, state: &str) -> Result<(), StoreError> {
        let (name, state) = (name.to_string(), state.to_string());
        self.write(move |tx| {
            tx.open_table(DEVICE_STATES)?
                .insert(name.as_str(), state.as_str())?;
            Ok(())
        })
        .await
    }

    pub async fn delete_device_state(&self, name: &str) -> Result<(), StoreError> {
        let name = name.to_string();
        self.write(move |tx| {
            tx.open_table(DEVICE_STATES)?.remove(name.as_str())?;
            Ok(())
        })
        .await
    }

    pub async fn put_mailbox(&self, name: &str, counts: (i64, i64)) -> Result<(), StoreError> {
        let name = name.to_string();
        self.write(move |tx| {
            tx.open_table(MAILBOXES)?.insert(name.as_str(), counts)?;
            Ok(())
        })
        .await
    }

    pub async fn delete_mailbox(&self, name: &str) -> Result<(), StoreError> {
        let name = name.to_string();
        self.write(move |tx| {
            tx.open_table(MAILBOXES)?.remove(name.as_str())?;
            Ok(())
        })
        .await
    }

    /// Stores one key of an app.
    pub async fn kv_put(&self, app: &str, key: String, value: String) -> Result<(), StoreError> {
        let table = kv_table(app);
        self.write(move |tx| {
            tx.open_table(TableDefinition::<&str, &str>::new(&table))?
                .insert(key.as_str(), value.as_str())?;
            Ok(())
        })
        .await
    }

    /// Removes one key of an app.
    pub async fn kv_delete(&self, app: &str, key: String) -> Result<(), StoreError> {
        let table = kv_table(app);
        self.write(move |tx| {
            tx.open_table(TableDefinition::<&str, &str>::new(&table))?
                .remove(key.as_str())?;
            Ok(())
        })
        .await
    }

    /// Removes every key of an app.
    pub async fn kv_delete_app(&self, app: &str) -> Result<(), StoreError> {
        let table = kv_table(app);
        self.write(move |tx| {
            tx.delete_table(TableDefinition::<&str, &str>::new(&table))?;
            Ok(())
        })
        .await
    }

    /// Runs `change` in a write transaction on the blocking pool and commits it: on disk
    /// when this returns `Ok`. Writes are applied in the order they reach redb; callers
    /// that need an order among their own writes hold their own lock across the call.
    async fn write<F>(&self, change: F) -> Result<(), StoreError>
    where
        F: FnOnce(&redb::WriteTransaction) -> Result<(), redb::Error> + Send + 'static,
    {
        let db = self.db.clone();
        tokio::task::spawn_blocking(move || -> Result<(), redb::Error> {
            let tx = db.begin_write()?;
            change(&tx)?;
            tx.commit()?;
            Ok(())
        })
        .await
        .map_err(|e| StoreError::Task(e.to_string()))?
        .map_err(StoreError::Db)
    }
}

fn kv_table(app: &str) -> String {
    format!("{KV_PREFIX}{app}")
}

/// A table for reading; `None` when nothing was ever written to it.
fn open_read<K: redb::Key + 'static, V: redb::Value + 'static>(
    read: &redb::ReadTransaction,
    table: TableDefinition<K, V>,
) -> Result<Option<redb::ReadOnlyTable<K, V>>, StoreError> {
    match read.open_table(table) {
        Ok(table) => Ok(Some(table)),
        Err(TableError::TableDoesNotExist(_)) => Ok(None),
        Err(error) => Err(db_error(error)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn what_is_written_is_there_after_reopening() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("data").join(FILE_NAME);
        {
            let store = Store::open(&path).expect("open");
            store.put_device_state("Stasis:a", "BUSY").await.expect("w");
            store
                .put_device_state("Stasis:b", "INUSE")
                .await
                .expect("w");
            store.delete_device_state("Stasis:b").await.expect("w");
            store.put_mailbox("1000@default", (3, 7)).await.expect("w");
            store.put_mailbox("gone", (1, 1)).await.expect("w");
            store.delete_mailbox("gone").await.expect("w");
            store
                .kv_put("app1", "k".into(), "v".into())
                .await
                .expect("w");
            store
                .kv_put("app2", "x".into(), "y".into())
                .await
                .expect("w");
            store.kv_delete_app("app2").await.expect("w");
            store
                .set_recording_owner_blocking("a/b.wav", Some("alice"))
                .expect("w");
            store
                .set_recording_owner_blocking("gone.wav", Some("bob"))
                .expect("w");
            store
                .set_recording_owner_blocking("gone.wav", None)
                .expect("w");
        }
        let store = Store::open(&path).expect("reopen");
        assert_eq!(
            store.core_saved().expect("read"),
            CoreSaved {
                device_states: vec![("Stasis:a".into(), "BUSY".into())],
                mailboxes: vec![("1000@default".into(), (3, 7))],
            }
        );
        assert_eq!(
            store.kv_entries("app1").expect("read"),
            vec![("k".to_string(), "v".to_string())]
        );
        assert_eq!(store.kv_entries("app2").expect("read"), vec![]);
        assert_eq!(store.kv_apps().expect("read"), vec!["app1".to_string()]);
        assert_eq!(
            store.recording_owners().expect("read"),
            vec![("a/b.wav".to_string(), "alice".to_string())]
        );
    }

    #[test]
    fn a_second_open_of_the_same_file_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join(FILE_NAME);
        let _first = Store::open(&path).expect("open");
        assert!(matches!(Store::open(&path), Err(OpenError::InUse { .. })));
    }

    #[tokio::test]
    async fn a_corrupt_or_foreign_file_is_an_error_not_a_panic() {
        let dir = tempfile::tempdir().expect("tempdir");
        // Not a store at all.
        let foreign = dir.path().join("foreign.redb");
        std::fs::write(
            &foreign,
            b"this is not a database, just some text\n".repeat(200),
        )
        .expect("write");
        let error = Store::open(&foreign).expect_err("a foreign file must not open");
        assert!(matches!(error, OpenError::Unusable { .. }), "{error}");
        assert!(error.to_string().contains("foreign.redb"), "{error}");

        // A real store whose pages were damaged after it was written.
        let damaged = dir.path().join(FILE_NAME);
        {
            let store = Store::open(&damaged).expect("open");
            for i in 0..200 {
                store
                    .kv_put("app", format!("key{i}"), "v".repeat(500))
                    .await
                    .expect("w");
            }
        }
        let mut bytes = std::fs::read(&damaged).expect("read");
        let len = bytes.len();
        for byte in &mut bytes[len / 4..len * 3 / 4] {
            *byte ^= 0x5a;
        }
        std::fs::write(&damaged, &bytes).expect("write");
        let error = Store::open(&damaged).expect_err("a damaged file must not open");
        assert!(matches!(error, OpenError::Unusable { .. }), "{error}");

        // A file cut short.
        std::fs::write(&damaged, &bytes[..100]).expect("write");
        assert!(Store::open(&damaged).is_err());
    }
}
