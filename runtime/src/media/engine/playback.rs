//! Playbacks in the engine: a queue of media items played part by part, their controls,
//! and the events Asterisk reports as they go (started, continuing, finished).

use std::collections::VecDeque;
use std::sync::Arc;

use super::{MediaEvent, PlayItem, PlaybackOp, PlaybackState, Source, SourceOpener};
use crate::media::frame::{AudioFrame, Rate};

pub(super) struct Playing {
    pub(super) item: PlayItem,
    pub(super) part: usize,
    pub(super) source: Option<Box<dyn Source>>,
    pub(super) failed: bool,
}

pub(super) struct Playback {
    pub(super) id: Arc<str>,
    pub(super) items: VecDeque<PlayItem>,
    pub(super) current: Option<Playing>,
    /// The URI of the item that played last, once one has ended.
    pub(super) previous_uri: Option<String>,
    pub(super) paused: bool,
    pub(super) offset_ms: u64,
    pub(super) skip_ms: u64,
    pub(super) last_failed: bool,
}

/// The next frame of a playback queue, ending (and reporting) playbacks that are over.
/// `None` while the head is paused or once the queue is empty.
pub(super) fn next_of_queue(
    queue: &mut VecDeque<Playback>,
    rate: Rate,
    opener: &dyn SourceOpener,
    events: &mut Vec<MediaEvent>,
) -> Option<AudioFrame> {
    while let Some(playback) = queue.front_mut() {
        match step_playback(playback, rate, opener, events) {
            Step::Frame(frame) => return Some(frame),
            Step::Paused => return None,
            Step::Ended(failed) => {
                if let Some(playback) = queue.pop_front() {
                    events.push(finished(&playback, failed));
                }
            }
        }
    }
    None
}

pub(super) fn control_playback(
    playback: &mut Playback,
    op: PlaybackOp,
    events: &mut Vec<MediaEvent>,
) {
    let skip = i64::try_from(playback.skip_ms).unwrap_or(i64::MAX);
    let source = playback.current.as_mut().and_then(|c| c.source.as_mut());
    match op {
        PlaybackOp::Pause => playback.paused = true,
        PlaybackOp::Unpause => {
            if playback.paused {
                playback.paused = false;
                events.push(MediaEvent::Playback {
                    id: playback.id.clone(),
                    state: PlaybackState::Playing,
                    media_uri: playback
                        .current
                        .as_ref()
                        .map(|c| c.item.uri.clone())
                        .unwrap_or_default(),
                    next_media_uri: playback.items.front().map(|i| i.uri.clone()),
                });
            }
        }
        PlaybackOp::Restart => {
            if let Some(source) = source {
                source.restart();
            }
        }
        PlaybackOp::Reverse => {
            if let Some(source) = source {
                source.skip(-skip);
            }
        }
        PlaybackOp::Forward => {
            if let Some(source) = source {
                source.skip(skip);
            }
        }
    }
}

// A frame is moved out once per tick; boxing it would allocate per frame.
#[allow(clippy::large_enum_variant)]
pub(super) enum Step {
    Frame(AudioFrame),
    Paused,
    /// The playback has nothing more to play; true when its last item failed.
    Ended(bool),
}

pub(super) fn step_playback(
    playback: &mut Playback,
    rate: Rate,
    opener: &dyn SourceOpener,
    events: &mut Vec<MediaEvent>,
) -> Step {
    if playback.paused {
        return Step::Paused;
    }
    loop {
        if playback.current.is_none() {
            let Some(item) = playback.items.pop_front() else {
                return Step::Ended(playback.last_failed);
            };
            // As Asterisk reports a list: the end of an item that has a next one is
            // PlaybackContinuing (that item, and the next), then the next one starts.
            if let Some(previous) = playback.previous_uri.take() {
                events.push(MediaEvent::Playback {
                    id: playback.id.clone(),
                    state: PlaybackState::Continuing,
                    media_uri: previous,
                    next_media_uri: Some(item.uri.clone()),
                });
            }
            events.push(MediaEvent::Playback {
                id: playback.id.clone(),
                state: PlaybackState::Playing,
                media_uri: item.uri.clone(),
                next_media_uri: playback.items.front().map(|i| i.uri.clone()),
            });
            playback.current = Some(Playing {
                item,
                part: 0,
                source: None,
                failed: false,
            });
        }
        let Some(current) = playback.current.as_mut() else {
            continue;
        };
        if current.source.is_none() {
            let Some(part) = current.item.parts.get(current.part) else {
                // Every part played (or failed): the item is over.
                playback.last_failed = current.failed || current.item.parts.is_empty();
                if !playback.items.is_empty() {
                    playback.previous_uri = Some(current.item.uri.clone());
                }
                playback.current = None;
                continue;
            };
            match opener.open(part, rate) {
                Ok(mut source) => {
                    if playback.offset_ms > 0 {
                        source.skip(i64::try_from(playback.offset_ms).unwrap_or(i64::MAX));
                        playback.offset_ms = 0;
                    }
                    current.source = Some(source);
                }
                Err(reason) => {
                    tracing::info!(playback = %playback.id, uri = %current.item.uri, %reason, "media cannot be played: skipped");
                    current.failed = true;
                    current.part += 1;
                    continue;
                }
            }
        }
        if let Some(source) = current.source.as_mut() {
            if let Some(frame) = source.next_frame() {
                return Step::Frame(frame);
            }
            if let Some(reason) = source.failure() {
                tracing::info!(playback = %playback.id, uri = %current.item.uri, %reason, "media cannot be played: skipped");
                current.failed = true;
            }
            current.source = None;
            current.part += 1;
        }
    }
}

pub(super) fn finished(playback: &Playback, failed: bool) -> MediaEvent {
    let uri = playback
        .current
        .as_ref()
        .map(|c| c.item.uri.clone())
        .unwrap_or_default();
    MediaEvent::Playback {
        id: playback.id.clone(),
        state: if failed {
            PlaybackState::Failed
        } else {
            PlaybackState::Done
        },
        media_uri: uri,
        next_media_uri: None,
    }
}
