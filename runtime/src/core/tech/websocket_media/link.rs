//! Where a stream-carried media channel (WebSocket, AudioSocket) meets the media clock: a
//! [`Link`] shared by the channel's media edge ([`LinkEdge`], run by the engine every 20 ms)
//! and the tokio tasks that own its socket. The edge never touches the socket: the audio
//! it sends is encoded and queued ([`OUTGOING_FRAMES`] frames, the oldest dropped when
//! full, counted and logged), and it reads one frame per tick from the [`InboundQueue`]
//! the socket's reader fills. Text messages for the far end (notices reached in the
//! queue, DTMF, status) go through a queue of their own.
//!
//! Until the socket is connected the edge sends nothing and reads silence. Closing the
//! link (the channel's hang-up) wakes the tasks, which close the socket and end.

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};

use super::protocol::{Direction, InboundQueue, Messages};
use crate::media::codec::{Codec, Endian};
use crate::media::engine::LegId;
use crate::media::external::Edge;
use crate::media::frame::{AudioFrame, Rate, Resampler};
use crate::media::udp_io::DropOldest;

/// Encoded frames waiting for the socket: 8 (160 ms).
pub(crate) const OUTGOING_FRAMES: usize = 8;
/// Text messages waiting for the socket.
pub(crate) const OUTGOING_TEXT: usize = 64;

/// What the edge and the socket's tasks share.
#[derive(Debug)]
pub(crate) struct Link {
    pub channel: LegId,
    pub codec: Codec,
    /// Byte order of linear audio on the wire.
    endian: Endian,
    pub messages: Messages,
    outgoing: DropOldest<Vec<u8>>,
    texts: DropOldest<String>,
    pub inbound: Mutex<InboundQueue>,
    wake: tokio::sync::Notify,
    connected: AtomicBool,
    direction: AtomicU8,
    closed: tokio::sync::watch::Sender<bool>,
}

impl Link {
    /// A link for `channel` carrying `codec`, not yet connected.
    pub(crate) fn new(
        channel: LegId,
        codec: Codec,
        messages: Messages,
        inbound: InboundQueue,
        direction: Direction,
    ) -> Link {
        Link {
            channel,
            codec,
            endian: Endian::Little,
            messages,
            outgoing: DropOldest::new(OUTGOING_FRAMES),
            texts: DropOldest::new(OUTGOING_TEXT),
            inbound: Mutex::new(inbound),
            wake: tokio::sync::Notify::new(),
            connected: AtomicBool::new(false),
            direction: AtomicU8::new(direction_code(direction)),
            closed: tokio::sync::watch::Sender::new(false),
        }
    }

    /// Bytes of one 20 ms frame of the codec.
    pub(crate) fn frame_bytes(codec: Codec) -> usize {
        codec.rate().samples_per_frame() * codec.sample_bytes()
    }

    /// The socket is up: audio flows from now on.
    pub(crate) fn set_connected(&self) {
        self.connected.store(true, Ordering::Release);
        self.wake.notify_one();
    }

    pub(crate) fn is_connected(&self) -> bool {
        self.connected.load(Ordering::Acquire)
    }

    pub(crate) fn direction(&self) -> Direction {
        match self.direction.load(Ordering::Relaxed) {
            1 => Direction::In,
            2 => Direction::Out,
            _ => Direction::Both,
        }
    }

    pub(crate) fn set_direction(&self, direction: Direction) {
        self.direction
            .store(direction_code(direction), Ordering::Relaxed);
    }

    /// Queues a text message for the far end (dropped once closed).
    pub(crate) fn send_text(&self, text: String) {
        if self.is_closed() {
            return;
        }
        if self.texts.push(text) {
            let dropped = self.texts.dropped();
            if dropped.is_power_of_two() {
                tracing::info!(channel = %self.channel, dropped, "media socket: text messages dropped (the far end does not read)");
            }
        }
        self.wake.notify_one();
    }

    /// The oldest text message waiting.
    pub(crate) fn next_text(&self) -> Option<String> {
        self.texts.pop()
    }

    /// The oldest audio frame waiting.
    pub(crate) fn next_audio(&self) -> Option<Vec<u8>> {
        self.outgoing.pop()
    }

    /// Waits until something is queued or the link closes.
    pub(crate) async fn wait(&self) {
        self.wake.notified().await;
    }

    /// Closes the link: the tasks close the socket and end; nothing more is queued.
    pub(crate) fn close(&self) {
        self.closed.send_replace(true);
        self.wake.notify_one();
    }

    pub(crate) fn is_closed(&self) -> bool {
        *self.closed.borrow()
    }

    /// Resolves once the link is closed.
    pub(crate) async fn closed(&self) {
        let mut watch = self.closed.subscribe();
        let _ = watch.wait_for(|closed| *closed).await;
    }

    /// Takes audio the far end sent; text to answer with is queued.
    pub(crate) fn received_audio(&self, bytes: &[u8]) {
        if self.direction() == Direction::In {
            return;
        }
        let mut out = Vec::new();
        let dropped = {
            let mut queue = self.inbound.lock().unwrap_or_else(|p| p.into_inner());
            let before = queue.dropped();
            queue.push_audio(bytes, &self.messages, &mut out);
            (queue.dropped() > before).then(|| queue.dropped())
        };
        if let Some(dropped) = dropped
            && dropped.is_power_of_two()
        {
            tracing::info!(channel = %self.channel, dropped, "media socket: audio dropped, the queue is full (the far end sends faster than real time)");
        }
        for text in out {
            self.send_text(text);
        }
    }

    /// Runs `f` on the inbound queue; the messages it produces are queued for the far end.
    pub(crate) fn with_queue<R>(
        &self,
        f: impl FnOnce(&mut InboundQueue, &Messages, &mut Vec<String>) -> R,
    ) -> R {
        let mut out = Vec::new();
        let result = {
            let mut queue = self.inbound.lock().unwrap_or_else(|p| p.into_inner());
            f(&mut queue, &self.messages, &mut out)
        };
        for text in out {
            self.send_text(text);
        }
        result
    }

    fn queue_audio(&self, frame: Vec<u8>) {
        if self.outgoing.push(frame) {
            let dropped = self.outgoing.dropped();
            if dropped.is_power_of_two() {
                tracing::info!(channel = %self.channel, dropped, "media socket: outgoing audio dropped (the far end does not read fast enough)");
            }
        }
        self.wake.notify_one();
    }
}

fn direction_code(direction: Direction) -> u8 {
    match direction {
        Direction::Both => 0,
        Direction::In => 1,
        Direction::Out => 2,
    }
}

/// The media engine's side of a stream-carried channel.
pub(crate) struct LinkEdge {
    link: Arc<Link>,
    to_codec: Option<Resampler>,
    from_codec: Option<Resampler>,
    samples: Vec<i16>,
}

impl LinkEdge {
    pub(crate) fn new(link: Arc<Link>) -> LinkEdge {
        LinkEdge {
            link,
            to_codec: None,
            from_codec: None,
            samples: Vec::new(),
        }
    }
}

impl Edge for LinkEdge {
    fn send(&mut self, frame: &AudioFrame) {
        let link = &self.link;
        if !link.is_connected() || link.is_closed() || link.direction() == Direction::Out {
            return;
        }
        let rate = link.codec.rate();
        let converted;
        let frame = if frame.rate() == rate {
            frame
        } else {
            let resampler = self
                .to_codec
                .get_or_insert_with(|| Resampler::new(frame.rate(), rate));
            converted = resampler.frame(frame);
            &converted
        };
        let mut bytes = Vec::with_capacity(Link::frame_bytes(link.codec));
        link.codec.encode(frame.samples(), link.endian, &mut bytes);
        link.queue_audio(bytes);
    }

    fn receive(&mut self, rate: Rate) -> Option<AudioFrame> {
        let link = &self.link;
        if !link.is_connected() {
            return None;
        }
        let bytes = link.with_queue(|queue, messages, out| queue.pop(messages, out))?;
        self.samples.clear();
        link.codec.decode(&bytes, link.endian, &mut self.samples);
        let codec_rate = link.codec.rate();
        let frame = AudioFrame::from_partial(codec_rate, &self.samples);
        if rate == codec_rate {
            return Some(frame);
        }
        let resampler = self
            .from_codec
            .get_or_insert_with(|| Resampler::new(codec_rate, rate));
        Some(resampler.frame(&frame))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::codec::ulaw_to_linear;

    fn link(codec: Codec) -> Arc<Link> {
        Arc::new(Link::new(
            "c".into(),
            codec,
            Messages {
                format: Default::default(),
                channel_id: "c".into(),
            },
            InboundQueue::new(Link::frame_bytes(codec)),
            Direction::Both,
        ))
    }

    #[test]
    fn frames_cross_only_while_connected_and_in_the_codec() {
        let link = link(Codec::Ulaw);
        let mut edge = LinkEdge::new(link.clone());
        let frame = AudioFrame::from_samples(Rate::Narrow8k, &[1000; 160]).unwrap();
        edge.send(&frame);
        assert_eq!(link.next_audio(), None, "nothing before the socket is up");
        link.set_connected();
        edge.send(&frame);
        let sent = link.next_audio().expect("a frame");
        assert_eq!(sent.len(), 160);
        assert!((i32::from(ulaw_to_linear(sent[0])) - 1000).abs() < 40);
        link.received_audio(&sent);
        let heard = edge.receive(Rate::Narrow8k).expect("the frame back");
        assert!((i32::from(heard.samples()[0]) - 1000).abs() < 40);
        assert_eq!(edge.receive(Rate::Narrow8k), None);
        for _ in 0..20 {
            edge.send(&frame);
        }
        let mut queued = 0;
        while link.next_audio().is_some() {
            queued += 1;
        }
        assert_eq!(queued, OUTGOING_FRAMES, "the oldest are dropped");
    }

    #[test]
    fn slin16_is_little_endian_at_16_khz_and_read_at_the_leg_rate() {
        let link = link(Codec::Slin16);
        link.set_connected();
        let mut edge = LinkEdge::new(link.clone());
        edge.send(&AudioFrame::silence(Rate::Narrow8k));
        assert_eq!(link.next_audio().map(|f| f.len()), Some(640));
        let bytes: Vec<u8> = std::iter::repeat_n(500i16.to_le_bytes(), 320)
            .flatten()
            .collect();
        link.received_audio(&bytes);
        let heard = edge.receive(Rate::Narrow8k).expect("a frame");
        assert_eq!(heard.rate(), Rate::Narrow8k);
        assert!(heard.samples()[100..].iter().all(|&s| (s - 500).abs() < 50));
    }

    #[test]
    fn direction_in_drops_what_the_far_end_sends_and_out_sends_nothing() {
        let link = link(Codec::Ulaw);
        link.set_connected();
        let mut edge = LinkEdge::new(link.clone());
        link.set_direction(Direction::In);
        link.received_audio(&[0xff; 160]);
        assert_eq!(edge.receive(Rate::Narrow8k), None);
        link.set_direction(Direction::Out);
        edge.send(&AudioFrame::silence(Rate::Narrow8k));
        assert_eq!(link.next_audio(), None);
    }
}
