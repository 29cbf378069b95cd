//! One AudioSocket connection once the channel is called: the UUID message first, then a
//! writer sending the channel's audio (and DTMF) and a reader taking the far end's
//! messages, until either side ends it. Writes are bounded by [`WRITE_TIMEOUT`]: a far end
//! that stops reading loses audio (the link's queue drops the oldest) and, once a write
//! cannot complete in time, the call.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};

use super::super::Handle;
use super::super::websocket_media::link::Link;
use super::tlv;
use crate::core::cause;
use crate::log_text::Escaped;
use crate::media::codec::{Codec, Endian};

/// Longest a single write may wait for the far end.
const WRITE_TIMEOUT: Duration = Duration::from_secs(2);
/// Cause of a hang-up the far end asked for.
const NORMAL: u16 = cause::NORMAL_CLEARING;
/// Cause of a hang-up on a broken connection or a bad message.
const BROKEN: u16 = 38;

/// What a connection serves.
#[derive(Debug, Clone)]
pub(super) struct Session {
    pub link: Arc<Link>,
    pub handle: Handle,
    pub channel: Arc<str>,
    pub uuid: uuid::Uuid,
}

/// Serves `stream` for the session.
pub(super) async fn run(stream: TcpStream, session: Session) {
    let (mut reader, mut writer) = stream.into_split();
    let Session {
        link,
        handle,
        channel,
        uuid,
    } = session;
    let mut hello = Vec::new();
    tlv::encode(tlv::UUID, uuid.as_bytes(), &mut hello);
    if write(&mut writer, &hello).await.is_err() {
        tracing::info!(channel = %channel, "AudioSocket: the UUID could not be sent");
        handle.hang_up(&channel, BROKEN);
        return;
    }
    link.set_connected();
    let write_side = async {
        if let Err(cause) = write_loop(&link, &mut writer).await {
            handle.hang_up(&channel, cause);
        }
        let _ = writer.shutdown().await;
    };
    let read_side = async {
        tokio::select! {
            cause = read_loop(&link, &handle, &channel, &mut reader) => handle.hang_up(&channel, cause),
            () = link.closed() => {}
        }
    };
    tokio::join!(write_side, read_side);
    tracing::debug!(channel = %channel, "AudioSocket connection ended");
}

async fn write(writer: &mut OwnedWriteHalf, bytes: &[u8]) -> Result<(), ()> {
    match tokio::time::timeout(WRITE_TIMEOUT, writer.write_all(bytes)).await {
        Ok(Ok(())) => Ok(()),
        _ => Err(()),
    }
}

/// Sends DTMF and audio until the link closes (`Ok`) or a write fails.
async fn write_loop(link: &Link, writer: &mut OwnedWriteHalf) -> Result<(), u16> {
    let kind = if link.codec == Codec::Slin16 {
        tlv::AUDIO_SLIN16
    } else {
        tlv::AUDIO
    };
    let mut message = Vec::new();
    loop {
        if link.is_closed() {
            return Ok(());
        }
        while let Some(digit) = link.next_text() {
            message.clear();
            tlv::encode(tlv::DTMF, digit.as_bytes(), &mut message);
            write(writer, &message).await.map_err(|()| BROKEN)?;
        }
        while let Some(audio) = link.next_audio() {
            if link.is_closed() {
                return Ok(());
            }
            message.clear();
            tlv::encode(kind, &audio, &mut message);
            write(writer, &message).await.map_err(|()| BROKEN)?;
        }
        link.wait().await;
    }
}

/// Reads the far end's messages; returns the hang-up cause.
async fn read_loop(
    link: &Link,
    handle: &Handle,
    channel: &Arc<str>,
    reader: &mut OwnedReadHalf,
) -> u16 {
    let mut payload = Vec::new();
    let mut converted = Vec::new();
    let mut samples = Vec::new();
    loop {
        let mut header = [0u8; tlv::HEADER];
        if reader.read_exact(&mut header).await.is_err() {
            return NORMAL;
        }
        let (kind, length) = tlv::header(header);
        if kind == tlv::HANGUP {
            return NORMAL;
        }
        payload.resize(length, 0);
        if reader.read_exact(&mut payload).await.is_err() {
            tracing::info!(channel = %channel, "AudioSocket: the connection ended inside a message");
            return BROKEN;
        }
        match kind {
            tlv::AUDIO | tlv::AUDIO_SLIN16 if length > 0 => {
                let sent = if kind == tlv::AUDIO {
                    Codec::Slin
                } else {
                    Codec::Slin16
                };
                if sent.rate() != link.codec.rate() {
                    tracing::debug!(channel = %channel, kind, "AudioSocket: audio at another rate than the channel's ignored");
                    continue;
                }
                if sent == link.codec {
                    link.received_audio(&payload);
                } else {
                    samples.clear();
                    sent.decode(&payload, Endian::Little, &mut samples);
                    converted.clear();
                    link.codec.encode(&samples, Endian::Little, &mut converted);
                    link.received_audio(&converted);
                }
            }
            tlv::DTMF => match tlv::digit(&payload) {
                Some(digit) => {
                    handle.with(|ctx| ctx.dtmf_received(channel, digit, 100));
                }
                None => {
                    tracing::info!(channel = %channel, "AudioSocket: a DTMF message without a digit ignored");
                }
            },
            tlv::ERROR => {
                let text = String::from_utf8_lossy(&payload);
                tracing::info!(channel = %channel, error = %Escaped(&text), "AudioSocket: the server sent an error");
                return BROKEN;
            }
            _ => {
                tracing::info!(channel = %channel, kind, length, "AudioSocket: a message other than audio, DTMF or hang-up");
                return BROKEN;
            }
        }
    }
}
