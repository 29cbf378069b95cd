//! `POST /channels/externalMedia` with RTP over UDP (ari-rest.md §6.7): the core's side of
//! the operation. The `UnicastRTP` technology ([`super::tech::unicast_rtp`]) makes the
//! channel, whose media leg exchanges RTP with `external_host`; here it is answered at once
//! (ChannelStateChange) and enters the application right away (StasisStart).
//!
//! The channel gets `UNICASTRTP_LOCAL_ADDRESS` and `UNICASTRTP_LOCAL_PORT` (the socket the
//! far end sends to) on top of the request's variables (ours win on a clash), and the
//! response lists all its variables in `channelvars`. Media legs run at 8 kHz: a `slin16`
//! stream carries that audio converted to 16 kHz, and 16 kHz audio received is converted
//! down.

use std::net::SocketAddr;
use std::sync::Arc;

use serde_json::{Map, Value, json};

use super::CoreError;
use super::channels::Destination;
use super::channels::channel::ChannelState;
use super::channels::channel::DialOrigin;
use super::control::ControlApi;
use super::event::dial;
use super::pbx::Start;
use super::tech::audiosocket::{self, AudioSocketTech};
use super::tech::unicast_rtp::{FarEnd, UnicastRtpTech};
use super::tech::websocket_media::{WebSocketRequest, WebSocketTech};
use super::tech::{Context, MadeByOperation, Request};
use crate::media::external::RtpFormat;

/// How an external media channel carries its audio.
#[derive(Debug, Clone, Default)]
pub enum Carrier {
    /// RTP over UDP to `external_host` (`UnicastRTP`).
    #[default]
    Rtp,
    /// WebSocket (`WebSocket`): `external_host` is a websocket_client.conf connection id,
    /// or `INCOMING` for a server connection.
    WebSocket {
        /// `transport_data`: Asterisk's dial options.
        options: String,
        direction: Option<String>,
    },
    /// AudioSocket over TCP to `external_host` (`AudioSocket`), with its session UUID.
    AudioSocket { uuid: String },
}

/// A checked `externalMedia` request.
#[derive(Debug, Clone)]
pub struct ExternalMedia {
    pub app: String,
    /// Stasis arguments (from `data`).
    pub args: Vec<String>,
    pub channel_id: Option<String>,
    /// `host:port`, as given.
    pub external_host: String,
    pub format: RtpFormat,
    /// Name, value, reported in `channelvars` of later events.
    pub variables: Vec<(String, String, bool)>,
    pub carrier: Carrier,
}

impl ControlApi<'_> {
    /// Creates the external media channel and returns its snapshot with every variable
    /// in `channelvars`. 409 for a `channelId` in use, 400 when `external_host` does not
    /// resolve, 500 when no socket can be opened.
    pub async fn external_media(&self, request: ExternalMedia) -> Result<Value, CoreError> {
        self.media()?;
        match &request.carrier {
            Carrier::Rtp => {}
            Carrier::WebSocket { options, direction } => {
                let params = WebSocketRequest {
                    codec: request.format.codec,
                    options: options.clone(),
                    direction: direction.clone(),
                };
                return self.dial_external(WebSocketTech::NAME, &request, Arc::new(params));
            }
            Carrier::AudioSocket { uuid } => {
                self.technology_made_by_operation(AudioSocketTech::NAME)?;
                self.with_state(|state| self.check_new_id(state, request.channel_id.as_deref()))?;
                let params =
                    audiosocket::connect(&request.external_host, uuid, request.format.codec)
                        .await?;
                return self.dial_external(AudioSocketTech::NAME, &request, Arc::new(params));
            }
        }
        let tech = self.technology_made_by_operation(UnicastRtpTech::NAME)?;
        self.with_state(|state| self.check_new_id(state, request.channel_id.as_deref()))?;
        let remote = resolve(&request.external_host).await?;
        let vars: Vec<(String, String)> = request
            .variables
            .iter()
            .map(|(name, value, _)| (name.clone(), value.clone()))
            .collect();
        self.with_state(|state| {
            // As Asterisk 23.4.1 shows it (it dials the channel as an originate would):
            // the channel is made Down, running the outgoing line, and the application is
            // subscribed (so it hears no ChannelCreated); then Dial, the answer
            // (ChannelStateChange), Dial ANSWER, and StasisStart (no ChannelDialplan). The
            // answer to the request shows the channel Down.
            let (id, control) = tech.request(
                &mut Context::new(self, state),
                &Request {
                    resource: request.external_host.clone(),
                    id: request.channel_id.clone(),
                    vars,
                    params: Some(Arc::new(FarEnd {
                        remote,
                        format: request.format,
                    })),
                    ..Request::default()
                },
            )?;
            state
                .apps
                .subscribe(&request.app, super::stasis::SourceKind::Channel, &id);
            if let Some(channel) = state.channels.get_mut(&id) {
                for (name, _, report) in &request.variables {
                    if *report {
                        channel.reported.insert(name.clone());
                    }
                }
            }
            let snapshot = self.json_with_every_var(state, &id);
            let dialstring = format!("{}/c({})", request.external_host, request.format.name());
            let peer = self.channel_snapshot(state, &id).map(Arc::new);
            self.publish(state, dial(None, (&id, peer), &dialstring, ""));
            self.set_state(state, &id, ChannelState::Up);
            let peer = self.channel_snapshot(state, &id).map(Arc::new);
            self.publish(state, dial(None, (&id, peer), &dialstring, "ANSWER"));
            if let Some(channel) = state.channels.get_mut(&id) {
                channel.dialplan.app_name = "Stasis".into();
                channel.dialplan.app_data = std::iter::once(request.app.as_str())
                    .chain(request.args.iter().map(String::as_str))
                    .collect::<Vec<_>>()
                    .join(",");
            }
            self.enter_app_at_once(state, &id, control, &request.app, &request.args);
            Ok(snapshot)
        })
    }
}

impl ControlApi<'_> {
    /// The channel's JSON as externalMedia answers it: `channelvars` with every variable
    /// the channel has, not only ari.conf's `channelvars`.
    fn json_with_every_var(&self, state: &super::State, id: &str) -> Value {
        let mut snapshot = self.channel_json(state, id);
        if let (Value::Object(object), Some(channel)) = (&mut snapshot, state.channels.get(id)) {
            let all: Map<String, Value> = channel
                .vars
                .iter()
                .map(|(name, value)| (name.clone(), json!(value)))
                .collect();
            object.insert("channelvars".into(), Value::Object(all));
        }
        snapshot
    }

    /// An external media channel whose far end answers when it connects (WebSocket,
    /// AudioSocket), made as Asterisk makes them: originated like `POST /channels` into
    /// the application (Dial events, StasisStart once answered, hung up with cause 19 if
    /// not answered within the technology's answer timeout, 30 s unless it has its own).
    /// The answer shows the channel as made, with all its variables.
    fn dial_external(
        &self,
        technology: &'static str,
        request: &ExternalMedia,
        params: Arc<dyn std::any::Any + Send + Sync>,
    ) -> Result<Value, CoreError> {
        let tech = self.technology_made_by_operation(technology)?;
        self.with_state(|state| {
            self.check_new_id(state, request.channel_id.as_deref())?;
            let (id, control) = tech.request(
                &mut Context::new(self, state),
                &Request {
                    resource: request.external_host.clone(),
                    id: request.channel_id.clone(),
                    vars: Vec::new(),
                    params: Some(params),
                    ..Request::default()
                },
            )?;
            for (name, value, report) in &request.variables {
                self.set_var_locked(state, &id, name, Some(value), report.then_some(true));
            }
            let snapshot = self.json_with_every_var(state, &id);
            state
                .apps
                .subscribe(&request.app, super::stasis::SourceKind::Channel, &id);
            let dialstring = request.external_host.clone();
            let called = self.place_call(state, &id, DialOrigin::Originate, &dialstring);
            let entered = called.is_ok()
                && self.enter_stasis_if_answered(state, &id, &request.app, &request.args);
            self.start_runner(
                state,
                &id,
                control,
                entered,
                Start::Originated {
                    destination: Destination::App {
                        app: request.app.clone(),
                        args: request.args.clone(),
                    },
                    timeout: Some(tech.answer_timeout().unwrap_or(ANSWER_TIMEOUT)),
                },
            );
            called?;
            Ok(snapshot)
        })
    }
}

/// How long a dialled external media channel waits for its far end (Asterisk's originate
/// default).
const ANSWER_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// The first address `host:port` resolves to (400 when there is none).
async fn resolve(host_port: &str) -> Result<SocketAddr, CoreError> {
    let unresolvable = || {
        CoreError::BadRequest(format!(
            "external_host '{host_port}' does not resolve to an address"
        ))
    };
    match tokio::net::lookup_host(host_port).await {
        Ok(mut addresses) => addresses.next().ok_or_else(unresolvable),
        Err(error) => {
            tracing::info!(host = host_port, %error, "external_host does not resolve");
            Err(unresolvable())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::tech::unicast_rtp::{LOCAL_ADDRESS_VAR, LOCAL_PORT_VAR};
    use super::super::test_support::{APP, TestCore, refusal};
    use super::*;

    fn request(id: Option<&str>, host: &str) -> ExternalMedia {
        ExternalMedia {
            app: APP.into(),
            args: Vec::new(),
            channel_id: id.map(str::to_string),
            external_host: host.into(),
            format: RtpFormat::from_name("ulaw").expect("ulaw"),
            variables: Vec::new(),
            carrier: Carrier::Rtp,
        }
    }

    #[tokio::test]
    async fn bad_external_media_requests_are_refused_and_create_nothing() {
        let quiet = TestCore::new(false);
        assert_eq!(
            refusal(
                quiet
                    .core
                    .control()
                    .external_media(request(None, "127.0.0.1:4000"))
                    .await
            ),
            (
                501,
                "The media engine is not running (it failed to start: see the log)".into()
            )
        );
        let t = TestCore::new(true);
        t.stasis_channel("taken");
        assert_eq!(
            refusal(
                t.core
                    .control()
                    .external_media(request(Some("taken"), "127.0.0.1:4000"))
                    .await
            ),
            (409, "Channel with given unique ID already exists".into())
        );
        // A name with spaces in it cannot resolve (and is refused before any socket).
        let host = "no such host:4000";
        assert_eq!(
            refusal(t.core.control().external_media(request(None, host)).await),
            (
                400,
                format!("external_host '{host}' does not resolve to an address")
            )
        );
        assert_eq!(t.channel_count(), 1);
    }

    #[tokio::test]
    async fn an_external_media_channel_reports_its_local_socket() {
        let t = TestCore::new(true);
        let far = std::net::UdpSocket::bind("127.0.0.1:0").expect("far end");
        let far = far.local_addr().expect("address").to_string();
        let snapshot = t
            .core
            .control()
            .external_media(ExternalMedia {
                variables: vec![("MINE".into(), "1".into(), false)],
                ..request(Some("ext"), &far)
            })
            .await
            .expect("channel");
        // Answered as made (Down), then up at once.
        assert_eq!(snapshot["state"], "Down");
        assert_eq!(
            t.core.control().get_channel("ext").expect("channel")["state"],
            "Up"
        );
        assert_eq!(snapshot["channelvars"][LOCAL_ADDRESS_VAR], "127.0.0.1");
        assert_eq!(snapshot["channelvars"]["MINE"], "1");
        let port = snapshot["channelvars"][LOCAL_PORT_VAR]
            .as_str()
            .and_then(|p| p.parse::<u16>().ok());
        assert!(port.is_some_and(|p| p > 0), "{snapshot}");
        let started = t.events.of_kind("StasisStart");
        assert_eq!(started.len(), 1, "{started:?}");
    }
}
