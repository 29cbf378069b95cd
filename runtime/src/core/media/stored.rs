//! Stored recordings and sounds: listing, reading, downloading, copying and deleting
//! recordings under the recordings directory, and the sounds index (`/recordings/stored`,
//! `/sounds`).

use std::path::PathBuf;
use std::sync::Arc;

use serde_json::{Value, json};

use super::recording_not_found;
use super::recording_quota::file_key;
use crate::core::control::ControlApi;
use crate::core::quota::Account;
use crate::core::{Core, CoreError};
use crate::media::file::{COPY_SUFFIX, find_recording, safe_join};

/// A stored recording's file, for download: where it is and how long.
#[derive(Debug, Clone)]
pub struct StoredRecordingFile {
    /// The `Content-Type` of its format (`audio/wav` ...).
    pub content_type: &'static str,
    /// The file on disk, inside the recordings directory.
    pub path: PathBuf,
    /// Its size in bytes.
    pub len: u64,
}

impl Core {
    fn recordings_dir(&self) -> Result<PathBuf, CoreError> {
        Ok(self.media()?.setup.recordings_dir.clone())
    }

    fn stored(&self, name: &str) -> Result<crate::media::file::StoredFile, CoreError> {
        let dir = self.recordings_dir()?;
        match find_recording(&dir, name) {
            Ok(Some(stored)) => Ok(stored),
            Ok(None) | Err(_) => Err(recording_not_found()),
        }
    }
}

impl ControlApi<'_> {
    /// `GET /recordings/stored`.
    pub fn list_stored_recordings(&self) -> Result<Value, CoreError> {
        let dir = self.recordings_dir()?;
        Ok(Value::Array(
            crate::media::file::list_recordings(&dir)
                .into_iter()
                .map(|f| json!({"name": f.name, "format": f.format.name()}))
                .collect(),
        ))
    }

    /// `GET /recordings/stored/{name}`.
    pub fn get_stored_recording(&self, name: &str) -> Result<Value, CoreError> {
        let stored = self.stored(name)?;
        Ok(json!({"name": stored.name, "format": stored.format.name()}))
    }

    /// `DELETE /recordings/stored/{name}`.
    /// Its owner gets its bytes back. Blocking file and store work: call it off the async
    /// workers.
    pub fn delete_stored_recording(&self, name: &str) -> Result<(), CoreError> {
        let stored = self.stored(name)?;
        std::fs::remove_file(&stored.path).map_err(|error| {
            tracing::warn!(path = %stored.path.display(), %error, "cannot delete a recording");
            CoreError::Internal("Recording could not be deleted".into())
        })?;
        if let Some(key) = file_key(&self.recordings_dir()?, &stored.path) {
            self.recordings.forget(&key);
        }
        Ok(())
    }

    /// `GET /recordings/stored/{name}/file`: the file (opened once, so that a file that
    /// cannot be read is a 403 as in Asterisk), its length and content type; the transport
    /// streams it. Blocking file work: call it off the async workers.
    pub fn stored_recording_file(&self, name: &str) -> Result<StoredRecordingFile, CoreError> {
        let stored = self.stored(name)?;
        let len = std::fs::File::open(&stored.path)
            .and_then(|file| file.metadata())
            .map_err(|error| {
                tracing::warn!(path = %stored.path.display(), %error, "cannot read a recording");
                CoreError::Forbidden("Recording file could not be opened".into())
            })?
            .len();
        Ok(StoredRecordingFile {
            content_type: stored.format.content_type(),
            path: stored.path,
            len,
        })
    }

    /// `POST /recordings/stored/{name}/copy`, checked in Asterisk 23.4.1's order and
    /// words: the source (404), then the destination: none given (400), outside the
    /// recordings directory (403), already there or being recorded (409). (Asterisk copies
    /// to a file named `.wav` when the destination is empty; here that is the 400 of a
    /// missing one.)
    ///
    /// The destination is a recording name, dots and all: only a trailing extension of the
    /// source's own format is dropped (`backup.wav` is `backup`). Asterisk cuts the name at
    /// its last dot instead, so that `backup.1` and `backup.2` both write, and overwrite,
    /// `backup.wav`; here the copy is always the recording the reply names, and it never
    /// replaces another file: the finished copy is linked in under its name, which fails
    /// if that name was taken meanwhile.
    ///
    /// The copy counts against `owner` (`max_recordings_kb`): a copy that would take it
    /// over its quota is refused (403).
    ///
    /// Blocking file work: call it off the async workers.
    pub fn copy_stored_recording(
        &self,
        name: &str,
        destination: &str,
        owner: Option<&Arc<Account>>,
    ) -> Result<Value, CoreError> {
        let stored = self.stored(name)?;
        if destination.is_empty() {
            return Err(CoreError::BadRequest(
                "Invalid destination recording name".into(),
            ));
        }
        let dir = self.recordings_dir()?;
        let extension = stored.format.extension();
        let destination = destination
            .strip_suffix(&format!(".{extension}"))
            .unwrap_or(destination);
        let forbidden = || CoreError::Forbidden("Destination file path is forbidden".into());
        let joined = safe_join(&dir, destination).map_err(|_| forbidden())?;
        let file_name = joined
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(forbidden)?
            .to_owned();
        let target = joined.with_file_name(format!("{file_name}.{extension}"));
        let exists = || {
            CoreError::Conflict(
                "A recording with the same name already exists on the system".into(),
            )
        };
        if matches!(find_recording(&dir, destination), Ok(Some(_)))
            || self.get_live_recording(destination).is_ok()
        {
            return Err(exists());
        }
        if let Some(owner) = owner {
            let size = std::fs::metadata(&stored.path).map_or(0, |m| m.len());
            owner.check_recording_room(size.max(1))?;
        }
        let failed = |error: std::io::Error| {
            tracing::warn!(%error, "cannot copy a recording");
            CoreError::Internal("Recording could not be copied".into())
        };
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).map_err(failed)?;
        }
        // Copied under a hidden temporary name (listings skip it; start-up removes one a
        // crash left), then linked in: a crash never leaves half a copy under the name.
        let temporary = joined.with_file_name(format!(
            ".{file_name}.{}{COPY_SUFFIX}",
            uuid::Uuid::new_v4().simple()
        ));
        let copied = std::fs::copy(&stored.path, &temporary)
            .and_then(|_| std::fs::hard_link(&temporary, &target));
        let _ = std::fs::remove_file(&temporary);
        match copied {
            Ok(()) => {
                if let Some(key) = file_key(&dir, &target) {
                    let size = std::fs::metadata(&target).map_or(0, |m| m.len());
                    self.recordings.settle(&key, owner, size, 0);
                }
                Ok(json!({"name": destination, "format": stored.format.name()}))
            }
            Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => Err(exists()),
            Err(error) => Err(failed(error)),
        }
    }

    /// `GET /sounds`: 404 when nothing matches, as in Asterisk.
    pub fn list_sounds(
        &self,
        lang: Option<&str>,
        format: Option<&str>,
    ) -> Result<Value, CoreError> {
        let sounds = self.media()?.setup.sounds.list(lang, format);
        if sounds.is_empty() {
            return Err(CoreError::NotFound(
                "No sounds found that matched the query".into(),
            ));
        }
        serde_json::to_value(sounds).map_err(|e| CoreError::Internal(e.to_string()))
    }

    /// `GET /sounds/{id}`.
    pub fn get_sound(&self, id: &str) -> Result<Value, CoreError> {
        let sound = self
            .media()?
            .setup
            .sounds
            .get(id)
            .ok_or_else(|| CoreError::NotFound("Sound not found".into()))?;
        serde_json::to_value(sound).map_err(|e| CoreError::Internal(e.to_string()))
    }
}
