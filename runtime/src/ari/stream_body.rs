//! A response body written as it is produced, for as long as the client stays (a log
//! follower, `GET /ari/wasm/{app}/logs?follow=true`). The HTTP front counts such a
//! response as one of its user's long connections (ari.conf `max_websockets`) and keeps no
//! read deadline while it is written; transports that carry only whole bodies refuse it.

use std::pin::Pin;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use futures_util::Stream;

use crate::config::User;

/// The chunks of a streamed body.
pub(crate) type Chunks = Pin<Box<dyn Stream<Item = Bytes> + Send>>;

/// A streamed body: its content type, the user it is for, and its chunks (taken once, by
/// the transport that writes them).
#[derive(Clone)]
pub struct StreamBody {
    pub content_type: &'static str,
    /// Whose long connections it counts against.
    pub user: Arc<User>,
    chunks: Arc<Mutex<Option<Chunks>>>,
}

impl StreamBody {
    /// A body of `chunks` for `user`.
    pub fn new(content_type: &'static str, user: Arc<User>, chunks: Chunks) -> StreamBody {
        StreamBody {
            content_type,
            user,
            chunks: Arc::new(Mutex::new(Some(chunks))),
        }
    }

    /// The chunks, for the transport that writes them; `None` once taken.
    pub fn take(&self) -> Option<Chunks> {
        self.chunks.lock().ok()?.take()
    }
}

impl std::fmt::Debug for StreamBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamBody")
            .field("content_type", &self.content_type)
            .field("user", &self.user.name)
            .finish_non_exhaustive()
    }
}

/// Two streamed bodies are equal when they are the same stream.
impl PartialEq for StreamBody {
    fn eq(&self, other: &StreamBody) -> bool {
        Arc::ptr_eq(&self.chunks, &other.chunks)
    }
}
