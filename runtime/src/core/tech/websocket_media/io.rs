//! One WebSocket media connection, both directions, once it is open (wari accepted it on
//! `/media/<connection id>`, or connected to a websocket_client.conf server): it sends
//! `MEDIA_START`, answers the channel (unless `n` was asked), then a reader takes the
//! application's audio and commands and a writer sends the channel's audio and the
//! queued text messages.
//!
//! The connection ends with the channel: the application's `HANGUP`, its close or a
//! broken connection hang the channel up (cause 16 for a close or `HANGUP`, 38 for an
//! error, as Asterisk); the channel's hang-up closes the link, and the writer closes the
//! socket (status 1000). A write that cannot complete within [`WRITE_TIMEOUT`] (a far end
//! that stopped reading and whose buffers are full) ends the connection the same way.

use std::sync::Arc;
use std::time::Duration;

use futures_util::{Sink, SinkExt, Stream, StreamExt};
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

use super::super::Handle;
use super::link::Link;
use super::protocol::{Command, CommandError, Direction, MediaStart, parse_command};
use crate::core::cause;
use crate::log_text::Escaped;

/// Longest a single write may wait for the far end.
pub(crate) const WRITE_TIMEOUT: Duration = Duration::from_secs(2);

/// Largest message (and frame) accepted from the application: 64 KiB, Asterisk's largest
/// WebSocket payload. A larger one ends the connection.
pub(crate) const MAX_MESSAGE: usize = 65_535;

/// What a media WebSocket is to its tasks: messages in, messages out (an accepted
/// connection and a client connection are different types underneath).
pub(crate) trait MediaStream:
    Stream<Item = Result<Message, WsError>> + Sink<Message, Error = WsError> + Send + Unpin
{
}
impl<T> MediaStream for T where
    T: Stream<Item = Result<Message, WsError>> + Sink<Message, Error = WsError> + Send + Unpin
{
}

/// An open media WebSocket.
pub(crate) type MediaSocket = Box<dyn MediaStream>;

/// Cause of a hang-up the far end asked for or closed with.
const NORMAL: u16 = cause::NORMAL_CLEARING;
/// Cause of a hang-up on a broken connection (Asterisk's network out of order).
const BROKEN: u16 = 38;

/// What a connection serves.
#[derive(Debug, Clone)]
pub(crate) struct Session {
    pub link: Arc<Link>,
    pub handle: Handle,
    pub channel: Arc<str>,
    pub channel_name: String,
    pub connection_id: String,
    pub auto_answer: bool,
}

/// Serves `socket` for the session until either side ends it.
pub(crate) async fn run(socket: MediaSocket, session: Session) {
    let Session {
        link,
        handle,
        channel,
        ..
    } = session.clone();
    if link.is_closed() {
        return;
    }
    let (mut sink, mut stream) = socket.split();
    let variables = handle.with(|ctx| ctx.vars(&channel)).unwrap_or_default();
    let start = link.messages.media_start(&MediaStart {
        connection_id: &session.connection_id,
        channel: &session.channel_name,
        channel_id: &channel,
        format: link.codec.name(),
        optimal_frame_size: Link::frame_bytes(link.codec),
        ptime: 20,
        variables: &variables,
    });
    if write(&mut sink, Message::text(start)).await.is_err() {
        tracing::info!(channel = %channel, "media WebSocket: MEDIA_START could not be sent");
        handle.hang_up(&channel, BROKEN);
        return;
    }
    link.set_connected();
    tracing::info!(channel = %channel, connection = %session.connection_id, "media WebSocket connected");
    if session.auto_answer {
        handle.with(|ctx| ctx.answered(&channel));
    }
    let writer = {
        let link = link.clone();
        let handle = handle.clone();
        let channel = channel.clone();
        async move {
            let ended = write_loop(&link, &mut sink).await;
            if let Err(cause) = ended {
                handle.hang_up(&channel, cause);
            }
            let close = Message::Close(Some(CloseFrame {
                code: CloseCode::Normal,
                reason: "".into(),
            }));
            let _ = write(&mut sink, close).await;
        }
    };
    let reader = async {
        tokio::select! {
            cause = read_loop(&link, &handle, &channel, &mut stream) => handle.hang_up(&channel, cause),
            () = link.closed() => {}
        }
    };
    tokio::join!(writer, reader);
    tracing::debug!(channel = %channel, "media WebSocket ended");
}

/// One write, bounded by [`WRITE_TIMEOUT`].
async fn write<S>(sink: &mut S, message: Message) -> Result<(), ()>
where
    S: futures_util::Sink<Message> + Unpin,
{
    match tokio::time::timeout(WRITE_TIMEOUT, sink.send(message)).await {
        Ok(Ok(())) => Ok(()),
        _ => Err(()),
    }
}

/// Sends queued text, then queued audio, until the link closes (`Ok`) or a write fails
/// (`Err` with the hang-up cause).
async fn write_loop<S>(link: &Link, sink: &mut S) -> Result<(), u16>
where
    S: futures_util::Sink<Message> + Unpin,
{
    loop {
        if link.is_closed() {
            return Ok(());
        }
        while let Some(text) = link.next_text() {
            write(sink, Message::text(text))
                .await
                .map_err(|()| BROKEN)?;
        }
        while let Some(audio) = link.next_audio() {
            if link.is_closed() {
                return Ok(());
            }
            write(sink, Message::binary(audio))
                .await
                .map_err(|()| BROKEN)?;
        }
        link.wait().await;
    }
}

/// Reads the application's messages until it closes or the connection breaks; returns
/// the hang-up cause.
async fn read_loop<S, E>(link: &Link, handle: &Handle, channel: &Arc<str>, stream: &mut S) -> u16
where
    S: futures_util::Stream<Item = Result<Message, E>> + Unpin,
    E: std::fmt::Display,
{
    loop {
        let message = match stream.next().await {
            None => return NORMAL,
            Some(Err(error)) => {
                tracing::info!(channel = %channel, error = %Escaped(&error.to_string()), "media WebSocket read failed");
                return BROKEN;
            }
            Some(Ok(message)) => message,
        };
        match message {
            Message::Binary(bytes) => link.received_audio(&bytes),
            Message::Text(text) => {
                if let Some(cause) = command(link, handle, channel, text.as_str()) {
                    return cause;
                }
            }
            Message::Close(_) => return NORMAL,
            Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => {}
        }
    }
}

/// Carries out one text command; `Some(cause)` when it hangs the channel up.
fn command(link: &Link, handle: &Handle, channel: &Arc<str>, text: &str) -> Option<u16> {
    let messages = &link.messages;
    let command = match parse_command(text, messages.format) {
        Ok(command) => command,
        Err(error @ CommandError::Json) => {
            link.send_text(messages.error(&error.to_string()));
            return None;
        }
        Err(error) => {
            tracing::info!(channel = %channel, %error, "media WebSocket: text message ignored");
            return None;
        }
    };
    let refused_in = |name: &str| {
        let refused = link.direction() == Direction::In;
        if refused {
            link.send_text(messages.error(&format!(
                "{name} not supported while media direction is '{}'",
                Direction::In.name()
            )));
        }
        refused
    };
    match command {
        Command::Answer => {
            handle.with(|ctx| ctx.answered(channel));
        }
        Command::Hangup => return Some(NORMAL),
        Command::StartBuffering => {
            if !refused_in("START_MEDIA_BUFFERING") {
                link.with_queue(|q, _, _| q.start_buffering());
            }
        }
        Command::StopBuffering(id) => {
            if !refused_in("STOP_MEDIA_BUFFERING") {
                link.with_queue(|q, m, out| q.stop_buffering(&id, m, out));
            }
        }
        Command::MarkMedia(id) => {
            if !refused_in("MARK_MEDIA") {
                link.with_queue(|q, m, _| q.mark(&id, m));
            }
        }
        Command::FlushMedia => link.with_queue(|q, _, _| q.flush()),
        Command::ReportQueueDrained => link.with_queue(|q, _, _| q.report_drained()),
        Command::GetStatus => {
            let status = link.with_queue(|q, _, _| q.status());
            link.send_text(messages.status(&status));
        }
        Command::PauseMedia => {
            if !refused_in("PAUSE_MEDIA") {
                link.with_queue(|q, _, _| q.set_paused(true));
            }
        }
        Command::ContinueMedia => {
            if !refused_in("CONTINUE_MEDIA") {
                link.with_queue(|q, _, _| q.set_paused(false));
            }
        }
        Command::SetDirection(direction) => {
            let name = "SET_MEDIA_DIRECTION";
            if messages.format != super::protocol::ControlFormat::Json {
                link.send_text(messages.error(&format!("{name} only supports JSON format.")));
            } else if let Some(direction) = direction.as_deref().and_then(Direction::from_name) {
                link.set_direction(direction);
            } else if let Some(other) = direction {
                link.send_text(
                    messages.error(&format!("'{other}' is not a valid direction for {name}.")),
                );
            } else {
                link.send_text(
                    messages.error(&format!("{name} requires a 'direction' parameter.")),
                );
            }
        }
        Command::Unknown(name) => {
            tracing::info!(channel = %channel, command = %Escaped(&name), "media WebSocket: unknown command");
        }
    }
    None
}
