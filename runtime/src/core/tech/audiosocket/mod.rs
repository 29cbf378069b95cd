//! `AudioSocket`: the channel technology behind `POST /channels/externalMedia` with
//! `encapsulation=audiosocket`, `transport=tcp` (Asterisk's chan_audiosocket). wari
//! connects to `external_host` (within 2 s, as Asterisk; a failure answers the request
//! with 500 and makes no channel), and when the channel is called sends the session UUID
//! (`data`) and answers it. Then the channel's audio goes out as AudioSocket audio
//! messages of 20 ms (kind 0x10 for 8 kHz formats, 0x12 for `slin16`; the bytes are in the
//! channel's format, as Asterisk sends them), and the far end's audio messages (any
//! length: they are re-framed) are what the channel hears. Digits sent on the channel go
//! out as DTMF messages.
//!
//! From the far end: a hang-up message or a close hangs the channel up (cause 16); an
//! error message, an unknown kind or a malformed message hangs it up with cause 38
//! (Asterisk ends the call on anything but audio and hang-up too). A DTMF message, which
//! Asterisk 23.4.1 also treats as the end of the call, is a ChannelDtmfReceived here.
//! The channel's hang-up closes the socket. The channel has `AUDIOSOCKET_UUID` and
//! `AUDIOSOCKET_SERVICE`.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::TcpStream;

use super::external_channel::{ExternalChannel, channel_id};
use super::websocket_media::link::{Link, LinkEdge};
use super::websocket_media::protocol::{Direction, InboundQueue, Messages};
use super::{Context, Driver, MadeByOperation, Request};
use crate::core::{ControlReceiver, CoreError};
use crate::media::codec::Codec;

mod io;
pub(crate) mod tlv;

/// How long connecting to the AudioSocket server may take.
pub(crate) const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// The parameters of a request for an `AudioSocket` channel: the connected socket.
#[derive(Debug)]
pub(crate) struct AudioSocketRequest {
    stream: Mutex<Option<TcpStream>>,
    uuid: uuid::Uuid,
    codec: Codec,
}

/// Checks the session UUID, then connects to `host_port` (400 for a UUID that is not one
/// or an address that does not resolve, 500 when the server cannot be reached).
pub(crate) async fn connect(
    host_port: &str,
    uuid: &str,
    codec: Codec,
) -> Result<AudioSocketRequest, CoreError> {
    let uuid = uuid::Uuid::parse_str(uuid.trim()).map_err(|_| {
        CoreError::BadRequest(format!(
            "data must be the AudioSocket session UUID, not '{uuid}'"
        ))
    })?;
    let addresses: Vec<_> = match tokio::net::lookup_host(host_port).await {
        Ok(addresses) => addresses.collect(),
        Err(_) => Vec::new(),
    };
    if addresses.is_empty() {
        return Err(CoreError::BadRequest(format!(
            "external_host '{host_port}' does not resolve to an address"
        )));
    }
    let mut last = String::new();
    for address in addresses {
        match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(address)).await {
            Ok(Ok(stream)) => {
                let _ = stream.set_nodelay(true);
                return Ok(AudioSocketRequest {
                    stream: Mutex::new(Some(stream)),
                    uuid,
                    codec,
                });
            }
            Ok(Err(error)) => last = error.to_string(),
            Err(_) => last = format!("no answer within {CONNECT_TIMEOUT:?}"),
        }
    }
    tracing::info!(server = host_port, error = %last, "cannot connect to the AudioSocket server");
    Err(CoreError::Internal(format!(
        "Unable to connect to the AudioSocket server at {host_port}"
    )))
}

/// The `AudioSocket` technology.
#[derive(Debug, Default)]
pub(crate) struct AudioSocketTech;

impl MadeByOperation for AudioSocketTech {
    const NAME: &'static str = "AudioSocket";

    fn make(
        &self,
        ctx: &mut Context<'_>,
        request: &Request,
    ) -> Result<(Arc<str>, ControlReceiver), CoreError> {
        let params = request.param::<AudioSocketRequest>().ok_or_else(|| {
            CoreError::BadRequest("An AudioSocket channel is made by externalMedia".into())
        })?;
        let stream = take_stream(&params.stream)?;
        let id = channel_id(ctx, request);
        let uuid = params.uuid.hyphenated().to_string();
        let link = Arc::new(Link::new(
            id.clone(),
            params.codec,
            Messages {
                format: Default::default(),
                channel_id: id.to_string(),
            },
            InboundQueue::for_stream(Link::frame_bytes(params.codec)),
            Direction::Both,
        ));
        let mut vars = request.vars.clone();
        vars.push(("AUDIOSOCKET_UUID".into(), uuid.clone()));
        vars.push(("AUDIOSOCKET_SERVICE".into(), request.resource.clone()));
        let driver = AudioSocketChannel {
            link: link.clone(),
            stream: Mutex::new(Some(stream)),
            uuid: params.uuid,
        };
        let created = ExternalChannel {
            id,
            name: format!("AudioSocket/{}-{uuid}", request.resource),
            driver: Arc::new(driver),
            vars,
            edge: Box::new(LinkEdge::new(link)),
        }
        .add(ctx)?;
        tracing::info!(channel = %created.0, server = %request.resource, %uuid, "AudioSocket channel created");
        Ok(created)
    }
}

/// The driver of an `AudioSocket` channel.
#[derive(Debug)]
struct AudioSocketChannel {
    link: Arc<Link>,
    /// The connection, until the call starts its tasks.
    stream: Mutex<Option<TcpStream>>,
    uuid: uuid::Uuid,
}

impl Driver for AudioSocketChannel {
    /// Sends the UUID and answers, as Asterisk does when it calls the channel.
    fn call(&self, ctx: &mut Context<'_>, me: &Arc<str>) -> Result<(), CoreError> {
        let stream = take_stream(&self.stream)?;
        let session = io::Session {
            link: self.link.clone(),
            handle: ctx.handle(),
            channel: me.clone(),
            uuid: self.uuid,
        };
        tokio::spawn(io::run(stream, session));
        ctx.answered(me);
        Ok(())
    }

    fn hangup(&self, _ctx: &mut Context<'_>, me: &Arc<str>, _cause: u16) {
        tracing::debug!(channel = %me, "AudioSocket channel hung up: socket closing");
        self.link.close();
        self.stream.lock().unwrap_or_else(|p| p.into_inner()).take();
    }

    fn destroyed(&self, _ctx: &mut Context<'_>, _me: &Arc<str>, _cause: u16) {
        self.link.close();
    }

    /// The digit goes to the far end as a DTMF message.
    fn send_dtmf(&self, _ctx: &mut Context<'_>, _me: &Arc<str>, digit: char, _duration_ms: u32) {
        self.link.send_text(digit.to_string());
    }
}

/// Takes the connection out of `slot` for the one channel or call that uses it.
fn take_stream(slot: &Mutex<Option<TcpStream>>) -> Result<TcpStream, CoreError> {
    slot.lock()
        .unwrap_or_else(|p| p.into_inner())
        .take()
        .ok_or_else(|| CoreError::Internal("The AudioSocket connection was used".into()))
}
