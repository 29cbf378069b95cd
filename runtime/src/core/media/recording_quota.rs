//! Who each stored recording belongs to, for the recordings' disk quota (ari.conf
//! `max_recordings_kb`).
//!
//! A file is charged to the user whose request recorded it (`record` on a channel or a
//! bridge; a WebAssembly app's recordings to the app's owner) or copied it. The owner is
//! written to the store (`wari.redb`) before the recording is reported finished or the copy
//! answered, so it outlives a restart or a crash; at start-up each owner is charged the
//! size of its files that still exist. A file without a known owner (made before this
//! existed, placed by hand, or cut short by a crash while it was recorded) counts against
//! nobody. Deleting a file, or another user overwriting it, gives its bytes back.
//!
//! A live recording is charged as it is written ([`ChargedSink`]): one atomic add per frame,
//! no lock. Once the user is at its quota the sink says it is full and the engine stops the
//! recording as at its maximum duration (RecordingFinished, the file kept). Its final size
//! replaces the running count when it is completed.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use crate::core::quota::{Account, Quotas};
use crate::media::MediaError;
use crate::media::engine::Sink;
use crate::media::file::RecordingWriter;
use crate::media::frame::AudioFrame;
use crate::store::Store;

/// One owned file: whose it is and the bytes charged for it.
#[derive(Debug)]
struct Owned {
    account: Arc<Account>,
    bytes: u64,
}

/// The owners of stored recordings, in memory and in the store.
#[derive(Debug)]
pub(crate) struct RecordingLedger {
    store: Store,
    /// Keyed by the file's path under the recordings directory (`calls/msg1.wav`).
    files: Mutex<HashMap<String, Owned>>,
}

/// A file's key: its path under `dir`, `/`-separated; `None` for a path outside it.
pub(crate) fn file_key(dir: &Path, path: &Path) -> Option<String> {
    let relative = path.strip_prefix(dir).ok()?;
    let parts: Option<Vec<&str>> = relative.iter().map(|p| p.to_str()).collect();
    Some(parts?.join("/"))
}

impl RecordingLedger {
    pub(crate) fn new(store: Store) -> RecordingLedger {
        RecordingLedger {
            store,
            files: Mutex::new(HashMap::new()),
        }
    }

    fn files(&self) -> std::sync::MutexGuard<'_, HashMap<String, Owned>> {
        self.files.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// At start-up: charges each known owner the size of its files under `dir` that still
    /// exist, and forgets the owners of files that are gone. Blocking.
    pub(crate) fn load(&self, dir: &Path, quotas: &Quotas) {
        let owners = match self.store.recording_owners() {
            Ok(owners) => owners,
            Err(error) => {
                tracing::error!(%error, "cannot read the recordings' owners: no recording counts against a quota");
                return;
            }
        };
        let mut files = self.files();
        for (key, user) in owners {
            let size = std::fs::metadata(dir.join(&key))
                .ok()
                .filter(std::fs::Metadata::is_file)
                .map(|m| m.len());
            match (size, quotas.account(&user)) {
                (Some(bytes), Some(account)) => {
                    account.charge_recording(bytes);
                    files.insert(
                        key,
                        Owned {
                            account: account.clone(),
                            bytes,
                        },
                    );
                }
                // The file is gone, or its user no longer exists: nobody is charged.
                _ => {
                    if let Err(error) = self.store.set_recording_owner_blocking(&key, None) {
                        tracing::warn!(%error, "cannot forget a recording's owner");
                    }
                }
            }
        }
        for account in quotas.accounts() {
            let bytes = account.recording_bytes();
            if bytes > 0 {
                tracing::info!(user = %crate::log_text::Escaped(account.user()), bytes, "stored recordings counted");
            }
        }
    }

    /// The file `key` now holds `bytes` made by `account` (`None`: nobody's), of which
    /// `charged` were already counted while it was written. Its previous owner, if any,
    /// gets its bytes back. The owner is on disk before this returns. Blocking.
    pub(crate) fn settle(
        &self,
        key: &str,
        account: Option<&Arc<Account>>,
        bytes: u64,
        charged: u64,
    ) {
        if let Err(error) = self
            .store
            .set_recording_owner_blocking(key, account.map(|a| a.user()))
        {
            tracing::warn!(%error, file = %crate::log_text::Escaped(key), "cannot write a recording's owner: it counts until a restart only");
        }
        let mut files = self.files();
        if let Some(old) = files.remove(key) {
            old.account.refund_recording(old.bytes);
        }
        if let Some(account) = account {
            if bytes >= charged {
                account.charge_recording(bytes - charged);
            } else {
                account.refund_recording(charged - bytes);
            }
            files.insert(
                key.to_string(),
                Owned {
                    account: account.clone(),
                    bytes,
                },
            );
        }
    }

    /// The file `key` was deleted: its owner gets its bytes back. Blocking.
    pub(crate) fn forget(&self, key: &str) {
        let owned = self.files().remove(key);
        if let Some(owned) = owned {
            owned.account.refund_recording(owned.bytes);
            if let Err(error) = self.store.set_recording_owner_blocking(key, None) {
                tracing::warn!(%error, file = %crate::log_text::Escaped(key), "cannot forget a recording's owner");
            }
        }
    }
}

/// A recording's writer that charges what it writes to its owner's quota and settles the
/// finished file in the ledger.
pub(crate) struct ChargedSink {
    writer: RecordingWriter,
    account: Option<Arc<Account>>,
    ledger: Arc<RecordingLedger>,
    key: Option<String>,
    sample_bytes: u64,
    charged: u64,
    full: bool,
}

impl ChargedSink {
    /// Wraps `writer`, whose final file is under `dir`.
    pub(crate) fn new(
        writer: RecordingWriter,
        account: Option<Arc<Account>>,
        ledger: Arc<RecordingLedger>,
        dir: &Path,
    ) -> ChargedSink {
        let key = file_key(dir, writer.path());
        let sample_bytes = writer
            .format()
            .raw_codec()
            .map_or(2, |codec| codec.sample_bytes() as u64);
        ChargedSink {
            writer,
            account,
            ledger,
            key,
            sample_bytes,
            charged: 0,
            full: false,
        }
    }

    fn refund(&self) {
        if let Some(account) = &self.account {
            account.refund_recording(self.charged);
        }
    }
}

impl Sink for ChargedSink {
    fn write(&mut self, frame: &AudioFrame) -> Result<(), MediaError> {
        let before = self.writer.samples();
        self.writer.write_frame(frame)?;
        let bytes = self.writer.samples().saturating_sub(before) * self.sample_bytes;
        if let Some(account) = &self.account {
            self.charged += bytes;
            self.full |= account.charge_recording(bytes);
        }
        Ok(())
    }

    fn full(&self) -> bool {
        self.full
    }

    fn finish(self: Box<Self>) -> Result<(), MediaError> {
        let this = *self;
        let path: PathBuf = this.writer.path().to_path_buf();
        if let Err(error) = this.writer.finish() {
            if let Some(account) = &this.account {
                account.refund_recording(this.charged);
            }
            return Err(error);
        }
        let bytes = std::fs::metadata(&path).map_or(this.charged, |m| m.len());
        match &this.key {
            Some(key) => this
                .ledger
                .settle(key, this.account.as_ref(), bytes, this.charged),
            None => {
                if let Some(account) = &this.account {
                    account.refund_recording(this.charged);
                }
            }
        }
        Ok(())
    }

    fn cancel(self: Box<Self>) {
        self.refund();
        if let Err(error) = self.writer.cancel() {
            tracing::warn!(%error, "could not remove a canceled recording's file");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::file::IfExists;
    use crate::media::format::Format;
    use crate::media::frame::Rate;

    #[test]
    fn a_recording_is_charged_as_written_settled_on_finish_and_kept_over_a_reload() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::in_memory();
        let account = Account::with_recordings("u", None, None, Some(3200));
        let ledger = Arc::new(RecordingLedger::new(store.clone()));
        let writer = RecordingWriter::create(
            &dir.path().join("a/r.sln"),
            Format::Sln,
            Rate::Narrow8k,
            IfExists::Fail,
        )
        .expect("create");
        let mut sink = Box::new(ChargedSink::new(
            writer,
            Some(account.clone()),
            ledger.clone(),
            dir.path(),
        ));
        let frame = AudioFrame::silence(Rate::Narrow8k);
        let mut frames = 0;
        while !sink.full() && frames < 100 {
            sink.write(&frame).expect("write");
            frames += 1;
        }
        assert_eq!(
            frames, 10,
            "160 samples of 2 bytes a frame: full at 3200 bytes"
        );
        assert_eq!(account.recording_bytes(), 3200);
        sink.finish().expect("finish");
        assert_eq!(account.recording_bytes(), 3200, "the file's size");
        assert!(account.check_recording_room(0).is_err());
        assert_eq!(
            store.recording_owners().expect("owners"),
            vec![("a/r.sln".to_string(), "u".to_string())]
        );

        // After a restart the count comes from the file; deleting it gives it back.
        let quotas = Quotas::new(
            [(
                "u",
                crate::config::user_limits::UserLimits {
                    max_recordings_kb: 4,
                    ..Default::default()
                },
            )],
            None,
        );
        let reloaded = RecordingLedger::new(store.clone());
        reloaded.load(dir.path(), &quotas);
        let account = quotas.account("u").expect("account");
        assert_eq!(account.recording_bytes(), 3200);
        reloaded.forget("a/r.sln");
        assert_eq!(account.recording_bytes(), 0);
        assert!(store.recording_owners().expect("owners").is_empty());
    }
}
