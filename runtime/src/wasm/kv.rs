//! The key-value store of one app (shared by its sessions, kept in memory), with the limits
//! that keep one tenant from filling wari's memory: key and value sizes, the number of keys
//! and the bytes of all keys and values together.

use std::collections::HashMap;

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
    #[error("key-value store limit: a key of {0} bytes is longer than kv_max_key_bytes ({1})")]
    Key(usize, usize),
    #[error("key-value store limit: a value of {0} bytes is longer than kv_max_value_bytes ({1})")]
    Value(usize, usize),
    #[error("key-value store limit: the app already has kv_max_keys ({0}) keys")]
    Keys(usize),
    #[error("key-value store limit: the app's keys and values would exceed kv_max_mb ({0} bytes)")]
    Bytes(usize),
}

/// One app's store.
#[derive(Debug, Default)]
pub struct KvStore {
    map: HashMap<String, String>,
    /// Bytes of all keys and values.
    bytes: usize,
}

impl KvStore {
    pub fn get(&self, key: &str) -> Option<String> {
        self.map.get(key).cloned()
    }

    /// Keys stored.
    pub fn keys(&self) -> usize {
        self.map.len()
    }

    /// Bytes of all keys and values.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Stores `value` under `key` if the limits allow it.
    pub fn set(&mut self, limits: &KvLimits, key: String, value: String) -> Result<(), KvRefused> {
        if key.len() > limits.max_key_bytes {
            return Err(KvRefused::Key(key.len(), limits.max_key_bytes));
        }
        if value.len() > limits.max_value_bytes {
            return Err(KvRefused::Value(value.len(), limits.max_value_bytes));
        }
        let old = self.map.get(&key).map(|v| key.len() + v.len());
        if old.is_none() && self.map.len() >= limits.max_keys {
            return Err(KvRefused::Keys(limits.max_keys));
        }
        let bytes = self.bytes - old.unwrap_or(0) + key.len() + value.len();
        if bytes > limits.max_total_bytes {
            return Err(KvRefused::Bytes(limits.max_total_bytes));
        }
        self.bytes = bytes;
        self.map.insert(key, value);
        Ok(())
    }

    pub fn delete(&mut self, key: &str) {
        if let Some(value) = self.map.remove(key) {
            self.bytes -= key.len() + value.len();
        }
    }

    /// Sets `key` unless it has a value; returns the existing value otherwise.
    pub fn set_if_absent(
        &mut self,
        limits: &KvLimits,
        key: String,
        value: String,
    ) -> Result<Option<String>, KvRefused> {
        if let Some(existing) = self.map.get(&key) {
            return Ok(Some(existing.clone()));
        }
        self.set(limits, key, value).map(|()| None)
    }

    /// Adds `delta` to the integer under `key` (absent or not a number: 0).
    pub fn increment(
        &mut self,
        limits: &KvLimits,
        key: String,
        delta: i64,
    ) -> Result<i64, KvRefused> {
        let current = self
            .map
            .get(&key)
            .and_then(|v| v.parse::<i64>().ok())
            .unwrap_or(0);
        let next = current.saturating_add(delta);
        self.set(limits, key, next.to_string()).map(|()| next)
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
        assert_eq!(kv.increment(&limits, "b".into(), 41), Ok(42));
        assert_eq!(
            kv.increment(&limits, "c".into(), 1),
            Err(KvRefused::Keys(2))
        );
        kv.delete("a");
        assert_eq!((kv.keys(), kv.bytes()), (1, 3));
        assert_eq!(
            kv.set_if_absent(&limits, "b".into(), "x".into()),
            Ok(Some("42".into()))
        );
        assert_eq!(kv.set_if_absent(&limits, "c".into(), "x".into()), Ok(None));
    }
}
