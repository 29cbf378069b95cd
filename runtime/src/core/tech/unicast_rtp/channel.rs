//! The `UnicastRTP` technology: makes the channel of an external-media request (the far
//! end's address and the RTP format in a [`FarEnd`]), with its socket, its RTP stream and
//! its media edge. The channel starts Down, running the outgoing line, with the socket's
//! address in `UNICASTRTP_LOCAL_ADDRESS` and `UNICASTRTP_LOCAL_PORT` on top of the
//! request's variables (ours win on a clash).

use std::net::SocketAddr;
use std::sync::Arc;

use super::super::{Context, MediaLeg, Request, Technology};
use super::{SharedSocket, UdpEdge, UnicastRtp, bind_towards};
use crate::core::channels::channel::{ChannelState, DialplanPosition};
use crate::core::{ControlReceiver, CoreError, NewChannel};
use crate::media::external::{RtpFormat, RtpStream, StreamStart};
use crate::media::frame::Rate;

/// The variable holding the local address the far end sends to.
pub(crate) const LOCAL_ADDRESS_VAR: &str = "UNICASTRTP_LOCAL_ADDRESS";
/// The variable holding the local port the far end sends to.
pub(crate) const LOCAL_PORT_VAR: &str = "UNICASTRTP_LOCAL_PORT";

/// The parameters of a request for a `UnicastRTP` channel (its resource is
/// `external_host` as given).
#[derive(Debug, Clone, Copy)]
pub(crate) struct FarEnd {
    /// Where RTP goes (`external_host` resolved).
    pub remote: SocketAddr,
    pub format: RtpFormat,
}

/// The `UnicastRTP` technology.
#[derive(Debug, Default)]
pub(crate) struct UnicastRtpTech;

impl UnicastRtpTech {
    /// Its name.
    pub(crate) const NAME: &'static str = "UnicastRTP";
}

impl Technology for UnicastRtpTech {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    /// Made by `POST /channels/externalMedia` only.
    fn dialable(&self) -> bool {
        false
    }

    fn has_endpoints(&self) -> bool {
        false
    }

    fn request(
        &self,
        ctx: &mut Context<'_>,
        request: &Request,
    ) -> Result<(Arc<str>, ControlReceiver), CoreError> {
        let far = request.param::<FarEnd>().ok_or_else(|| {
            CoreError::BadRequest("A UnicastRTP channel is made by externalMedia".into())
        })?;
        let remote = far.remote;
        let socket = bind_towards(remote).map_err(|error| {
            tracing::warn!(%remote, %error, "cannot open a UDP socket for external media");
            CoreError::Internal("Unable to open a socket for external media".into())
        })?;
        let local = socket.local_addr().map_err(|error| {
            tracing::warn!(%error, "external media socket has no local address");
            CoreError::Internal("Unable to open a socket for external media".into())
        })?;
        let socket = Arc::new(SharedSocket::new(socket));
        let random = uuid::Uuid::new_v4().as_u128();
        // Spread one random value over the name suffix and the stream's starting point.
        let suffix = random as u32;
        let start = StreamStart {
            ssrc: (random >> 32) as u32,
            sequence: (random >> 64) as u16,
            timestamp: (random >> 80) as u32,
        };
        let mut vars = request.vars.clone();
        vars.push((LOCAL_ADDRESS_VAR.into(), local.ip().to_string()));
        vars.push((LOCAL_PORT_VAR.into(), local.port().to_string()));
        let stream = RtpStream::new(far.format, start);
        let stats = stream.stats();
        let id: Arc<str> = Arc::from(request.id.clone().unwrap_or_else(|| ctx.new_channel_id()));
        let edge = UdpEdge::new(id.clone(), socket.clone(), remote, stream);
        let created = ctx.add_channel(NewChannel {
            id: Some(id.to_string()),
            name: format!("UnicastRTP/{}-{suffix:08x}", request.resource),
            state: ChannelState::Down,
            driver: Arc::new(UnicastRtp::new(socket, stats)),
            dialplan: DialplanPosition {
                context: "default".into(),
                exten: "s".into(),
                priority: 1,
                app_name: "AppDial2".into(),
                app_data: "(Outgoing Line)".into(),
            },
            vars,
            media: MediaLeg {
                rate: Rate::Narrow8k,
                edge: Some(Box::new(edge)),
                tap: None,
            },
            ..NewChannel::default()
        })?;
        tracing::info!(channel = %created.0, %remote, %local, format = far.format.name(), "external media channel created");
        Ok(created)
    }
}
