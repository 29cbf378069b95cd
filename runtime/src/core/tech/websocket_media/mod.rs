//! `WebSocket`: the channel technology behind `POST /channels/externalMedia` with
//! `transport=websocket` (Asterisk's chan_websocket). The channel's audio travels as
//! binary WebSocket messages of raw audio in the channel's format (`ulaw`, `alaw`, `slin`,
//! `slin16`; linear audio little-endian), 20 ms per message, and text messages carry
//! control (see [`protocol`]).
//!
//! - `connection_type=server` (`WebSocket/INCOMING`): the channel waits for the
//!   application to connect to `/media/<connection id>` on wari's HTTP server
//!   ([`MediaSockets`]); the id is a fresh UUID, in `MEDIA_WEBSOCKET_CONNECTION_ID`.
//! - `connection_type=client` (`WebSocket/<id>`): wari connects to the websocket_client.conf
//!   connection `<id>` when the channel is called; a failed connection hangs the channel
//!   up with cause 3 (no route), as Asterisk.
//!
//! Either way the channel starts Down and is answered once `MEDIA_START` is sent (unless
//! the `n` option asks the application to `ANSWER`), which is when it enters its
//! application. `MEDIA_WEBSOCKET_OPTIMAL_FRAME_SIZE` holds the bytes of 20 ms.
//!
//! Options (`transport_data`, Asterisk's dial options): `d(both|in|out)` media direction,
//! `f(plain-text|json)` control message format (default chan_websocket.conf's
//! `control_message_format`, plain-text), `n` no auto-answer, `c(codec)` accepted when it
//! names the request's format. Others are refused.
//!
//! A channel not answered within chan_websocket.conf's `answer_timeout` (30 s, Asterisk's
//! originate default) — nobody connected to `/media/<id>`, no `ANSWER` after `n`, or
//! wari's connection not made — is hung up with cause 19, no answer
//! ([`MadeByOperation::answer_within`]).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use super::external_channel::{ExternalChannel, channel_id};
use super::{Context, Driver, MadeByOperation, Request};
use crate::config::chan_websocket_conf::{ChanWebSocketConfig, ControlMessageFormat};
use crate::core::{ControlReceiver, CoreError};
use crate::media::codec::Codec;

pub(crate) mod io;
pub(crate) mod link;
pub(crate) mod protocol;
mod registry;

pub(crate) use io::MediaSocket;
pub(crate) use registry::MediaSockets;
pub(crate) use registry::Refused;

use io::Session;
use link::{Link, LinkEdge};
use protocol::{ControlFormat, Direction, InboundQueue, Messages};

/// The variable holding the connection id.
pub(crate) const CONNECTION_ID_VAR: &str = "MEDIA_WEBSOCKET_CONNECTION_ID";
/// The variable holding the bytes of one 20 ms frame.
pub(crate) const FRAME_SIZE_VAR: &str = "MEDIA_WEBSOCKET_OPTIMAL_FRAME_SIZE";
/// The resource of a channel waiting for an incoming connection.
pub(crate) const INCOMING: &str = "INCOMING";
/// Hang-up cause of a client connection that cannot be made (no route to destination).
const NO_ROUTE: u16 = 3;

/// Opens client connections to websocket_client.conf entries.
pub(crate) trait Connector: Send + Sync + fmt::Debug {
    /// Connects to the connection `id`.
    fn connect(
        &self,
        id: &str,
    ) -> Pin<Box<dyn Future<Output = Result<MediaSocket, String>> + Send>>;
}

/// The parameters of a request for a `WebSocket` channel (its resource is the
/// connection id, `INCOMING` for a server connection).
#[derive(Debug, Clone)]
pub(crate) struct WebSocketRequest {
    pub codec: Codec,
    /// `transport_data` as given.
    pub options: String,
    /// `direction`, which overrides a `d()` option.
    pub direction: Option<String>,
}

/// Options read from `transport_data`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Options {
    direction: Direction,
    format: ControlFormat,
    auto_answer: bool,
}

/// Reads Asterisk's dial options: letters, some with an argument in parentheses; the
/// control message format is `format` unless `f()` says.
fn parse_options(text: &str, codec: Codec, format: ControlFormat) -> Result<Options, CoreError> {
    let bad =
        || CoreError::BadRequest(format!("WebSocket channel options '{text}' cannot be used"));
    let mut options = Options {
        direction: Direction::Both,
        format,
        auto_answer: true,
    };
    let mut rest = text.trim();
    while let Some(letter) = rest.chars().next() {
        rest = &rest[letter.len_utf8()..];
        let argument = match rest.strip_prefix('(') {
            Some(inner) => {
                let (argument, after) = inner.split_once(')').ok_or_else(bad)?;
                rest = after;
                Some(argument)
            }
            None => None,
        };
        match (letter, argument) {
            ('d', Some(d)) => options.direction = Direction::from_name(d).ok_or_else(bad)?,
            ('f', Some(f)) => {
                options.format = ControlFormat::from_name(f).unwrap_or(ControlFormat::PlainText)
            }
            ('n', None) => options.auto_answer = false,
            ('c', Some(c)) if Codec::from_name(c) == Some(codec) => {}
            _ => return Err(bad()),
        }
    }
    Ok(options)
}

/// The `WebSocket` technology.
#[derive(Debug, Default)]
pub(crate) struct WebSocketTech {
    sockets: Arc<MediaSockets>,
    connector: Option<Arc<dyn Connector>>,
    settings: ChanWebSocketConfig,
}

impl WebSocketTech {
    /// The technology accepting connections through `sockets` and making client
    /// connections with `connector`, with chan_websocket.conf's `settings`.
    pub(crate) fn new(
        sockets: Arc<MediaSockets>,
        connector: Arc<dyn Connector>,
        settings: ChanWebSocketConfig,
    ) -> WebSocketTech {
        WebSocketTech {
            sockets,
            connector: Some(connector),
            settings,
        }
    }

    /// The control message format of channels whose options do not say.
    fn default_format(&self) -> ControlFormat {
        match self.settings.control_message_format {
            ControlMessageFormat::PlainText => ControlFormat::PlainText,
            ControlMessageFormat::Json => ControlFormat::Json,
        }
    }
}

impl MadeByOperation for WebSocketTech {
    const NAME: &'static str = "WebSocket";

    fn answer_within(&self) -> Option<std::time::Duration> {
        Some(self.settings.answer_timeout)
    }

    fn make(
        &self,
        ctx: &mut Context<'_>,
        request: &Request,
    ) -> Result<(Arc<str>, ControlReceiver), CoreError> {
        let params = request.param::<WebSocketRequest>().ok_or_else(|| {
            CoreError::BadRequest("A WebSocket channel is made by externalMedia".into())
        })?;
        let mut options = parse_options(&params.options, params.codec, self.default_format())?;
        if let Some(direction) = &params.direction {
            options.direction = Direction::from_name(direction)
                .ok_or_else(|| CoreError::BadRequest("Invalid direction specified".into()))?;
        }
        let server = request.resource == INCOMING;
        let connection_id = if server {
            uuid::Uuid::new_v4().to_string()
        } else {
            request.resource.clone()
        };
        let id = channel_id(ctx, request);
        let name = format!(
            "WebSocket/{}/0x{:012x}",
            request.resource,
            uuid::Uuid::new_v4().as_u128() as u64 & 0xffff_ffff_ffff
        );
        let frame_bytes = Link::frame_bytes(params.codec);
        let link = Arc::new(Link::new(
            id.clone(),
            params.codec,
            Messages {
                format: options.format,
                channel_id: id.to_string(),
            },
            InboundQueue::new(frame_bytes),
            options.direction,
        ));
        let session = Session {
            link: link.clone(),
            handle: ctx.handle(),
            channel: id.clone(),
            channel_name: name.clone(),
            connection_id: connection_id.clone(),
            auto_answer: options.auto_answer,
        };
        let mut vars = request.vars.clone();
        vars.push((FRAME_SIZE_VAR.into(), frame_bytes.to_string()));
        vars.push((CONNECTION_ID_VAR.into(), connection_id.clone()));
        let driver = WebSocketChannel {
            session: session.clone(),
            server,
            sockets: self.sockets.clone(),
            connector: self.connector.clone(),
        };
        let created = ExternalChannel {
            id,
            name,
            driver: Arc::new(driver),
            vars,
            edge: Box::new(LinkEdge::new(link)),
        }
        .add(ctx)?;
        if server {
            self.sockets.expect(connection_id.clone(), session);
        }
        tracing::info!(channel = %created.0, connection = %connection_id, server, format = params.codec.name(), "WebSocket media channel created");
        Ok(created)
    }
}

/// The driver of a `WebSocket` channel.
#[derive(Debug)]
struct WebSocketChannel {
    session: Session,
    server: bool,
    sockets: Arc<MediaSockets>,
    connector: Option<Arc<dyn Connector>>,
}

impl WebSocketChannel {
    fn forget(&self) {
        self.session.link.close();
        if self.server {
            self.sockets.forget(&self.session.connection_id);
        }
    }
}

impl Driver for WebSocketChannel {
    /// A server connection waits for the application; a client connection is opened now.
    fn call(&self, _ctx: &mut Context<'_>, me: &Arc<str>) -> Result<(), CoreError> {
        if self.server {
            return Ok(());
        }
        let session = self.session.clone();
        let connector = self.connector.clone();
        let me = me.clone();
        tokio::spawn(async move {
            let id = session.connection_id.clone();
            let connected = match connector {
                Some(connector) => connector.connect(&id).await,
                None => Err("no WebSocket client connections are configured".into()),
            };
            match connected {
                Ok(socket) => io::run(socket, session).await,
                Err(error) => {
                    tracing::warn!(channel = %me, connection = %id, %error, "media WebSocket connection failed");
                    session.handle.hang_up(&me, NO_ROUTE);
                }
            }
        });
        Ok(())
    }

    fn hangup(&self, _ctx: &mut Context<'_>, me: &Arc<str>, _cause: u16) {
        tracing::debug!(channel = %me, "WebSocket media channel hung up: socket closing");
        self.forget();
    }

    fn destroyed(&self, _ctx: &mut Context<'_>, _me: &Arc<str>, _cause: u16) {
        self.forget();
    }

    /// A digit sent on the channel reaches the application as `DTMF_END`.
    fn send_dtmf(&self, _ctx: &mut Context<'_>, _me: &Arc<str>, digit: char, _duration_ms: u32) {
        let link = &self.session.link;
        link.send_text(link.messages.dtmf_end(digit));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_as_asterisk_spells_them() {
        let plain = ControlFormat::PlainText;
        let o = parse_options("", Codec::Ulaw, plain).unwrap();
        assert_eq!(
            o,
            Options {
                direction: Direction::Both,
                format: ControlFormat::PlainText,
                auto_answer: true
            }
        );
        let o = parse_options("f(json)nd(in)c(ulaw)", Codec::Ulaw, plain).unwrap();
        assert_eq!(
            o,
            Options {
                direction: Direction::In,
                format: ControlFormat::Json,
                auto_answer: false
            }
        );
        assert!(parse_options("d(up)", Codec::Ulaw, plain).is_err());
        assert!(parse_options("v(a=b)", Codec::Ulaw, plain).is_err());
        assert!(parse_options("c(alaw)", Codec::Ulaw, plain).is_err());
        assert!(parse_options("f(json", Codec::Ulaw, plain).is_err());
        // chan_websocket.conf's format unless f() says otherwise.
        let json = ControlFormat::Json;
        assert_eq!(parse_options("", Codec::Ulaw, json).unwrap().format, json);
        assert_eq!(
            parse_options("f(plain-text)", Codec::Ulaw, json)
                .unwrap()
                .format,
            plain
        );
    }
}
