//! The key-value store of one app, shared by its sessions: kept on disk in the host's
//! [`store`](crate::store) (table `kv/<app>`), so it outlives restarts and crashes as the app
//! does, with a copy in memory that serves reads. A write is checked against the limits that
//! keep one tenant from filling wari's memory and disk (key and value sizes, the number of
//! keys, the bytes of all keys and values together), written to disk, and only then made
//! visible; an app's writes are applied one at a time, in order.

use std::collections::HashMap;
use std::sync::Arc;

use crate::store::{Store, StoreError};

/// Limits of one app's store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KvLimits {
    pub max_key_bytes: usize,
    pub max_value_bytes: usize,
    pub max_keys: usize,
    /// Keys and values together.
    pub max_total_bytes: usize,
}

impl Default for KvLimits {
    fn default() -> Self {
        KvLimits {
            max_key_bytes: 256,
            max_value_bytes: 1024 * 1024,
            max_keys: 1024,
            max_total_bytes: 16 * 1024 * 1024,
        }
    }
}

/// A write the limits refuse; the store is unchanged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KvRefused {
    #[error(
        "key-value store limit of {1} bytes per key exceeded by a key of {0} bytes (wasm.conf kv_max_key_bytes)"
    )]
    Key(usize, usize),
    #[error(
        "key-value store limit of {1} bytes per value exceeded by a value of {0} bytes (wasm.conf kv_max_value_bytes)"
    )]
    Value(usize, usize),
    #[error("key-value store limit of {0} keys reached (wasm.conf kv_max_keys)")]
    Keys(usize),
    #[error("key-value store limit of {} MB of keys and values reached (wasm.conf kv_max_mb)", .0 / (1024 * 1024))]
    Bytes(usize),
}

/// One app's store.
#[derive(Debug, Default)]
pub(crate) struct KvStore {
    map: HashMap<String, String>,
    /// Bytes of all keys and values.
    bytes: usize,
}

impl KvStore {
    pub(crate) fn get(&self, key: &str) -> Option<String> {
        self.map.get(key).cloned()
    }

    /// Keys stored.
    pub(crate) fn keys(&self) -> usize {
        self.map.len()
    }

    /// Bytes of all keys and values.
    pub(crate) fn bytes(&self) -> usize {
        self.bytes
    }

    /// Stores `value` under `key` if the limits allow it.
    pub(crate) fn set(
        &mut self,
        limits: &KvLimits,
        key: String,
        value: String,
    ) -> Result<(), KvRefused> {
        self.bytes = self.check(limits, &key, &value)?;
        self.map.insert(key, value);
        Ok(())
    }

    /// Whether the limits allow `value` under `key`: the bytes the store would then hold.
    pub(crate) fn check(
        &self,
        limits: &KvLimits,
        key: &str,
        value: &str,
    ) -> Result<usize, KvRefused> {
        if key.len() > limits.max_key_bytes {
            return Err(KvRefused::Key(key.len(), limits.max_key_bytes));
        }
        if value.len() > limits.max_value_bytes {
            return Err(KvRefused::Value(value.len(), limits.max_value_bytes));
        }
        let old = self.map.get(key).map(|v| key.len() + v.len());
        if old.is_none() && self.map.len() >= limits.max_keys {
            return Err(KvRefused::Keys(limits.max_keys));
        }
        let bytes = self.bytes - old.unwrap_or(0) + key.len() + value.len();
        if bytes > limits.max_total_bytes {
            return Err(KvRefused::Bytes(limits.max_total_bytes));
        }
        Ok(bytes)
    }

    pub(crate) fn delete(&mut self, key: &str) {
        if let Some(value) = self.map.remove(key) {
            self.bytes -= key.len() + value.len();
        }
    }
}

/// Why a write of a guest failed; the session fails with it.
#[derive(Debug, thiserror::Error)]
pub enum KvError {
    #[error(transparent)]
    Refused(#[from] KvRefused),
    #[error("the key-value store could not be written: {0}")]
    Store(#[from] StoreError),
    #[error("the app was deleted: its key-value store is gone")]
    Deleted,
}

/// One app's store on disk and its copy in memory. Every write runs to its end in a task
/// of its own (the session that asked may be ended meanwhile): the disk and the memory
/// never disagree.
#[derive(Debug, Clone)]
pub struct AppKv {
    inner: Arc<Inner>,
}

impl AppKv {
    /// The store of `app`, with `entries` as read from disk.
    pub fn new(app: &str, store: Store, entries: Vec<(String, String)>) -> AppKv {
        AppKv {
            inner: Arc::new(Inner::new(app, store, entries)),
        }
    }

    /// A value (from memory).
    pub fn get(&self, key: &str) -> Option<String> {
        self.inner.get(key)
    }

    /// Keys stored and the bytes of all keys and values.
    pub fn usage(&self) -> (usize, usize) {
        self.inner.usage()
    }

    /// Stores `value` under `key` if the limits allow it; returns once it is on disk.
    pub async fn set(&self, limits: &KvLimits, key: String, value: String) -> Result<(), KvError> {
        let (inner, limits) = (self.inner.clone(), *limits);
        to_completion(async move { inner.set(&limits, key, value).await }).await
    }

    /// Sets `key` unless it has a value; returns the existing value otherwise.
    pub async fn set_if_absent(
        &self,
        limits: &KvLimits,
        key: String,
        value: String,
    ) -> Result<Option<String>, KvError> {
        let (inner, limits) = (self.inner.clone(), *limits);
        to_completion(async move { inner.set_if_absent(&limits, key, value).await }).await
    }

    /// Adds `delta` to the integer under `key` (absent or not a number: 0).
    pub async fn increment(
        &self,
        limits: &KvLimits,
        key: String,
        delta: i64,
    ) -> Result<i64, KvError> {
        let (inner, limits) = (self.inner.clone(), *limits);
        to_completion(async move { inner.increment(&limits, key, delta).await }).await
    }

    /// Removes `key`.
    pub async fn delete(&self, key: String) -> Result<(), KvError> {
        let inner = self.inner.clone();
        to_completion(async move { inner.delete(key).await }).await
    }

    /// The app is deleted: every key goes, on disk and in memory, and later writes fail.
    pub async fn delete_all(&self) -> Result<(), StoreError> {
        let inner = self.inner.clone();
        tokio::spawn(async move { inner.delete_all().await })
            .await
            .map_err(|e| StoreError::Task(e.to_string()))?
    }
}

/// Runs a write to its end whatever happens to the caller.
async fn to_completion<T: Send + 'static>(
    write: impl Future<Output = Result<T, KvError>> + Send + 'static,
) -> Result<T, KvError> {
    tokio::spawn(write)
        .await
        .map_err(|e| KvError::Store(StoreError::Task(e.to_string())))?
}

#[derive(Debug)]
struct Inner {
    app: String,
    store: Store,
    memory: std::sync::Mutex<KvStore>,
    /// Held by a write from its check to its change in memory; true once the app is deleted.
    writes: tokio::sync::Mutex<bool>,
}

impl Inner {
    fn new(app: &str, store: Store, entries: Vec<(String, String)>) -> Inner {
        let mut memory = KvStore::default();
        for (key, value) in entries {
            memory.bytes += key.len() + value.len();
            memory.map.insert(key, value);
        }
        Inner {
            app: app.to_string(),
            store,
            memory: std::sync::Mutex::new(memory),
            writes: tokio::sync::Mutex::new(false),
        }
    }

    fn memory(&self) -> std::sync::MutexGuard<'_, KvStore> {
        self.memory.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn get(&self, key: &str) -> Option<String> {
        self.memory().get(key)
    }

    fn usage(&self) -> (usize, usize) {
        let memory = self.memory();
        (memory.keys(), memory.bytes())
    }

    async fn set(&self, limits: &KvLimits, key: String, value: String) -> Result<(), KvError> {
        let deleted = self.writes.lock().await;
        self.write_locked(*deleted, limits, key, value).await
    }

    async fn set_if_absent(
        &self,
        limits: &KvLimits,
        key: String,
        value: String,
    ) -> Result<Option<String>, KvError> {
        let deleted = self.writes.lock().await;
        if let Some(existing) = self.get(&key) {
            return Ok(Some(existing));
        }
        self.write_locked(*deleted, limits, key, value)
            .await
            .map(|()| None)
    }

    async fn increment(&self, limits: &KvLimits, key: String, delta: i64) -> Result<i64, KvError> {
        let deleted = self.writes.lock().await;
        let current = self
            .get(&key)
            .and_then(|v| v.parse::<i64>().ok())
            .unwrap_or(0);
        let next = current.saturating_add(delta);
        self.write_locked(*deleted, limits, key, next.to_string())
            .await
            .map(|()| next)
    }

    async fn delete(&self, key: String) -> Result<(), KvError> {
        let deleted = self.writes.lock().await;
        if *deleted {
            return Err(KvError::Deleted);
        }
        if self.get(&key).is_none() {
            return Ok(());
        }
        self.store.kv_delete(&self.app, key.clone()).await?;
        self.memory().delete(&key);
        Ok(())
    }

    async fn delete_all(&self) -> Result<(), StoreError> {
        let mut deleted = self.writes.lock().await;
        *deleted = true;
        *self.memory() = KvStore::default();
        self.store.kv_delete_app(&self.app).await
    }

    async fn write_locked(
        &self,
        deleted: bool,
        limits: &KvLimits,
        key: String,
        value: String,
    ) -> Result<(), KvError> {
        if deleted {
            return Err(KvError::Deleted);
        }
        self.memory().check(limits, &key, &value)?;
        self.store
            .kv_put(&self.app, key.clone(), value.clone())
            .await?;
        // Nothing else wrote in between (this write holds the lock): the check still holds.
        self.memory().set(limits, key, value)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small() -> KvLimits {
        KvLimits {
            max_key_bytes: 4,
            max_value_bytes: 8,
            max_keys: 2,
            max_total_bytes: 15,
        }
    }

    #[test]
    fn writes_beyond_a_limit_are_refused_and_change_nothing() {
        let limits = small();
        let mut kv = KvStore::default();
        assert_eq!(
            kv.set(&limits, "long!".into(), "v".into()),
            Err(KvRefused::Key(5, 4))
        );
        assert_eq!(
            kv.set(&limits, "k".into(), "123456789".into()),
            Err(KvRefused::Value(9, 8))
        );
        kv.set(&limits, "a".into(), "12345678".into())
            .expect("fits");
        kv.set(&limits, "b".into(), "1".into()).expect("fits");
        assert_eq!(
            kv.set(&limits, "c".into(), "1".into()),
            Err(KvRefused::Keys(2))
        );
        // Replacing a value is not a new key, but the bytes still count: 9 + 2 -> 9 + 9.
        assert_eq!(
            kv.set(&limits, "b".into(), "12345678".into()),
            Err(KvRefused::Bytes(15))
        );
        assert_eq!((kv.keys(), kv.bytes()), (2, 11));
        assert_eq!(kv.get("b").as_deref(), Some("1"));
        kv.delete("a");
        assert_eq!((kv.keys(), kv.bytes()), (1, 2));
    }

    #[tokio::test]
    async fn an_apps_writes_are_on_disk_and_come_back_and_deletion_removes_them() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join(crate::store::FILE_NAME);
        let limits = small();
        {
            let store = Store::open(&path).expect("open");
            let kv = AppKv::new("app", store.clone(), Vec::new());
            assert_eq!(kv.increment(&limits, "n".into(), 41).await.ok(), Some(41));
            assert_eq!(kv.increment(&limits, "n".into(), 1).await.ok(), Some(42));
            assert_eq!(
                kv.set_if_absent(&limits, "a".into(), "x".into()).await.ok(),
                Some(None)
            );
            assert_eq!(
                kv.set_if_absent(&limits, "a".into(), "y".into()).await.ok(),
                Some(Some("x".into()))
            );
            // Over a limit: refused, nothing written.
            assert!(matches!(
                kv.set(&limits, "c".into(), "1".into()).await,
                Err(KvError::Refused(KvRefused::Keys(2)))
            ));
            let other = AppKv::new("other", store, Vec::new());
            other.set(&limits, "k".into(), "v".into()).await.expect("w");
        }
        let store = Store::open(&path).expect("reopen");
        let kv = AppKv::new("app", store.clone(), store.kv_entries("app").expect("read"));
        assert_eq!(kv.get("n").as_deref(), Some("42"));
        assert_eq!(kv.get("a").as_deref(), Some("x"));
        assert_eq!(kv.usage(), (2, 5));
        kv.delete("a".into()).await.expect("delete");
        assert_eq!(kv.usage(), (1, 3));
        kv.delete_all().await.expect("delete all");
        assert_eq!(kv.usage(), (0, 0));
        assert!(matches!(
            kv.set(&limits, "n".into(), "1".into()).await,
            Err(KvError::Deleted)
        ));
        assert_eq!(store.kv_entries("app").expect("read"), vec![]);
        assert_eq!(
            store.kv_entries("other").expect("read"),
            vec![("k".to_string(), "v".to_string())]
        );
    }
}
