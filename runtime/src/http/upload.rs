//! Receiving component uploads (`PUT /ari/wasm/{app}`): the body is written to a spool file
//! as it arrives, so an upload in progress holds one chunk of memory, whatever its size,
//! and nothing is read before the request's credentials are accepted (the front checks them
//! first).

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use axum::body::Body as HttpBody;
use bytes::{Bytes, BytesMut};
use http_body_util::BodyExt;

use crate::ari::Upload;

/// Why a body could not be spooled.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SpoolError {
    #[error("request body larger than {0} bytes")]
    TooLarge(usize),
    #[error("error reading request body: {0}")]
    Broken(String),
    /// Not received within `session_inactivity`.
    #[error("request body not received in time")]
    TimedOut,
    #[error("cannot write the spool file: {0}")]
    Io(#[from] std::io::Error),
}

/// Bytes gathered before one write to the spool file: the memory an upload holds.
const CHUNK: usize = 256 * 1024;

/// Writes `body` into a new file under `dir` (created if needed), refusing more than
/// `limit` bytes. The file is removed when the returned [`Upload`] (or this future, on an
/// error or when dropped) goes away.
pub(crate) async fn spool(body: HttpBody, limit: usize, dir: &Path) -> Result<Upload, SpoolError> {
    let dir = dir.to_path_buf();
    let named = blocking(move || {
        std::fs::create_dir_all(&dir)?;
        tempfile::Builder::new().prefix("upload-").tempfile_in(dir)
    })
    .await?;
    let file = Arc::new(named.as_file().try_clone()?);
    let mut body = body;
    let mut size = 0usize;
    let mut pending = BytesMut::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| {
            if super::front::is_timeout(&e) {
                SpoolError::TimedOut
            } else {
                SpoolError::Broken(e.to_string())
            }
        })?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        size += data.len();
        if size > limit {
            return Err(SpoolError::TooLarge(limit));
        }
        pending.extend_from_slice(&data);
        if pending.len() >= CHUNK {
            write(&file, pending.split().freeze()).await?;
        }
    }
    if !pending.is_empty() {
        write(&file, pending.freeze()).await?;
    }
    Ok(Upload::new(named, size as u64))
}

/// Appends `data` to `file` off the async workers.
async fn write(file: &Arc<std::fs::File>, data: Bytes) -> Result<(), SpoolError> {
    let file = file.clone();
    blocking(move || (&*file).write_all(&data)).await?;
    Ok(())
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> std::io::Result<T> + Send + 'static,
) -> std::io::Result<T> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(std::io::Error::other)?
}
