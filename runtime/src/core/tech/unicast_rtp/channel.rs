//! The `UnicastRTP` technology: makes the channel of an external-media request (the far
//! end's address and the RTP format in a [`FarEnd`]), with its socket, its RTP stream and
//! its media edge. The channel starts Down, running the outgoing line, with the socket's
//! address in `UNICASTRTP_LOCAL_ADDRESS` and `UNICASTRTP_LOCAL_PORT` on top of the
//! request's variables (ours win on a clash).

use std::net::SocketAddr;
use std::sync::Arc;

use super::super::external_channel::{ExternalChannel, channel_id};
use super::super::{Context, MadeByOperation, Request};
use super::{SharedSocket, UdpEdge, UnicastRtp, bind_towards};
use crate::core::{ControlReceiver, CoreError};
use crate::media::external::{RtpFormat, RtpStream, StreamStart};

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

impl MadeByOperation for UnicastRtpTech {
    const NAME: &'static str = "UnicastRTP";

    fn make(
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
        let id = channel_id(ctx, request);
        let edge = UdpEdge::new(id.clone(), socket.clone(), remote, stream);
        let created = ExternalChannel {
            id,
            name: format!("UnicastRTP/{}-{suffix:08x}", request.resource),
            driver: Arc::new(UnicastRtp::new(socket, stats)),
            vars,
            edge: Box::new(edge),
        }
        .add(ctx)?;
        tracing::info!(channel = %created.0, %remote, %local, format = far.format.name(), "external media channel created");
        Ok(created)
    }
}
