//! `pjsip.conf`: SIP transports, endpoints, auths, AORs, identifies and registrations, read
//! into typed sections with every problem reported by file and line.
//!
//! The file uses Asterisk's syntax: one `[name]` section per object, its kind in `type=`
//! (`transport`, `endpoint`, `auth`, `aor`, `identify`, `registration`), templates
//! (`[name](!)`) and inheritance (`[name](template)`) resolved by [`super::conf_file`].
//! Defaults are Asterisk's own; options wari does not implement are reported as warnings and
//! ignored. An absent file, or one without a transport, means SIP does not start.
//!
//! [`PjsipConfig`] is the typed result; [`read`] builds it from a parsed file.

mod read;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use super::conf_file::ConfFile;
use super::diagnostics::{Location, Problems};
use crate::media::codec::Codec;

/// Asterisk's realm for challenges when an auth has no `realm` (res_pjsip's `default_realm`).
pub const DEFAULT_REALM: &str = "asterisk";

/// Everything `pjsip.conf` configures, each kind in file order.
#[derive(Debug, Clone, Default)]
pub struct PjsipConfig {
    /// `type=transport`: where SIP listens.
    pub transports: Vec<Transport>,
    /// `type=endpoint`: phones and trunks.
    pub endpoints: Vec<Endpoint>,
    /// `type=auth`: credentials, checked on requests from endpoints (`auth`) or sent to
    /// peers that challenge us (`outbound_auth`).
    pub auths: Vec<Auth>,
    /// `type=aor`: where an endpoint is reached (registered or static contacts).
    pub aors: Vec<Aor>,
    /// `type=identify`: endpoints recognised by source address.
    pub identifies: Vec<Identify>,
    /// `type=registration`: wari's own registrations to providers.
    pub registrations: Vec<Registration>,
}

impl PjsipConfig {
    /// The endpoint named `name`.
    pub fn endpoint(&self, name: &str) -> Option<&Endpoint> {
        self.endpoints.iter().find(|e| e.name == name)
    }

    /// The auth section named `name`.
    pub fn auth(&self, name: &str) -> Option<&Auth> {
        self.auths.iter().find(|a| a.name == name)
    }

    /// The AOR named `name`.
    pub fn aor(&self, name: &str) -> Option<&Aor> {
        self.aors.iter().find(|a| a.name == name)
    }

    /// The transport named `name`.
    pub fn transport(&self, name: &str) -> Option<&Transport> {
        self.transports.iter().find(|t| t.name == name)
    }

    /// True when there is no transport: SIP does not start.
    pub fn is_empty(&self) -> bool {
        self.transports.is_empty()
    }

    /// Makes the transports' relative `cert_file`/`priv_key_file`/`ca_list_file`/
    /// `ca_list_path` relative to `dir` (the configuration directory), as other files'
    /// paths are; absolute ones stay.
    pub fn resolve_paths(&mut self, dir: &Path) {
        for transport in &mut self.transports {
            for path in [
                &mut transport.cert_file,
                &mut transport.priv_key_file,
                &mut transport.ca_list_file,
                &mut transport.ca_list_path,
            ]
            .into_iter()
            .flatten()
            {
                *path = dir.join(&*path);
            }
        }
    }
}

/// A transport's protocol (`protocol=`; Asterisk's default is `udp`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Protocol {
    /// SIP over UDP (default port 5060).
    Udp,
    /// SIP over TCP (default port 5060).
    Tcp,
    /// SIP over TLS (default port 5061; needs `cert_file` and `priv_key_file`).
    Tls,
}

impl Protocol {
    /// The port a `bind` without one gets, as in Asterisk: 5061 for TLS, else 5060.
    pub fn default_port(self) -> u16 {
        match self {
            Protocol::Tls => 5061,
            Protocol::Udp | Protocol::Tcp => 5060,
        }
    }

    /// The lower-case name used in `protocol=` and in `Via`/`transport=` parameters.
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Udp => "udp",
            Protocol::Tcp => "tcp",
            Protocol::Tls => "tls",
        }
    }
}

/// A TLS transport's `method`: the TLS versions it speaks. wari's TLS (rustls) speaks
/// TLS 1.2 and 1.3 only, so Asterisk's `tlsv1`, `tlsv1_1`, `sslv2` and `sslv3` are refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TlsMethod {
    /// `default`, `unspecified`, `sslv23` or no `method`: TLS 1.2 and 1.3.
    #[default]
    Default,
    /// `tlsv1_2`: TLS 1.2 only.
    Tls12,
    /// `tlsv1_3`: TLS 1.3 only.
    Tls13,
}

/// `type=transport`: one listening socket.
#[derive(Debug, Clone)]
pub struct Transport {
    /// The section name (endpoints and registrations refer to it by `transport=`).
    pub name: String,
    /// `protocol`: udp (default), tcp or tls.
    pub protocol: Protocol,
    /// `bind`: address and port; a `bind` without a port gets [`Protocol::default_port`].
    pub bind: SocketAddr,
    /// `external_media_address`: the address put in SDP for peers outside `local_net`.
    pub external_media_address: Option<String>,
    /// `external_signaling_address`: the host put in Via/Contact for peers outside `local_net`.
    pub external_signaling_address: Option<String>,
    /// `external_signaling_port`: the port put with it (absent or 0 = the bound port).
    pub external_signaling_port: Option<u16>,
    /// `local_net`: networks that see wari's own addresses (no external rewriting).
    pub local_net: Vec<ipnetwork::IpNetwork>,
    /// `cert_file` (TLS): the certificate chain, PEM (relative to the configuration
    /// directory once loaded by [`crate::config::load`]).
    pub cert_file: Option<PathBuf>,
    /// `priv_key_file` (TLS): the private key, PEM.
    pub priv_key_file: Option<PathBuf>,
    /// Where `cert_file` was set (for problems with the file).
    pub cert_file_location: Option<Location>,
    /// Where `priv_key_file` was set.
    pub priv_key_file_location: Option<Location>,
    /// `method` (TLS): the TLS versions spoken.
    pub method: TlsMethod,
    /// `verify_server` (TLS): whether a server wari connects to must show a certificate
    /// that its trust anchors sign for the name dialled (Asterisk's default: no).
    pub verify_server: bool,
    /// `ca_list_file` (TLS): the trust anchors, PEM (else `ca_list_path`'s, else the
    /// system's).
    pub ca_list_file: Option<PathBuf>,
    /// `ca_list_path` (TLS): a directory of trust anchor files.
    pub ca_list_path: Option<PathBuf>,
    /// Where the section starts.
    pub location: Location,
}

impl Transport {
    /// A transport called `name` for `protocol` bound to `bind`, with nothing else set.
    pub fn with_defaults(
        name: &str,
        protocol: Protocol,
        bind: SocketAddr,
        location: Location,
    ) -> Transport {
        Transport {
            name: name.to_string(),
            protocol,
            bind,
            external_media_address: None,
            external_signaling_address: None,
            external_signaling_port: None,
            local_net: Vec::new(),
            cert_file: None,
            priv_key_file: None,
            cert_file_location: None,
            priv_key_file_location: None,
            method: TlsMethod::Default,
            verify_server: false,
            ca_list_file: None,
            ca_list_path: None,
            location,
        }
    }
}

/// How an endpoint's DTMF travels (`dtmf_mode`; Asterisk's default is `rfc4733`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DtmfMode {
    /// RFC 4733 `telephone-event` RTP packets.
    Rfc4733,
    /// Tones in the audio.
    Inband,
    /// RFC 4733 when the peer offers `telephone-event`, inband otherwise.
    Auto,
}

/// `callerid`: the name and number presented for calls from this endpoint
/// (`"Name" <number>`, or a bare number).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CallerIdSetting {
    /// The display name, if given.
    pub name: Option<String>,
    /// The number, if given.
    pub number: Option<String>,
}

/// `type=endpoint`: a phone or trunk.
#[derive(Debug, Clone)]
pub struct Endpoint {
    /// The section name; channels are `PJSIP/<name>-<8 hex>`.
    pub name: String,
    /// `transport`: the transport used for requests to it (None = the first that fits).
    pub transport: Option<String>,
    /// `context`: the dialplan context its calls run (Asterisk's default `default`).
    pub context: String,
    /// `disallow`/`allow` result, in allow order; only ulaw and alaw are carried.
    pub codecs: Vec<Codec>,
    /// `aors`: the AORs it is reached at.
    pub aors: Vec<String>,
    /// `auth`: the credentials its requests must prove (None = not challenged).
    pub auth: Option<String>,
    /// `outbound_auth`: the credentials wari answers its challenges with.
    pub outbound_auth: Option<String>,
    /// `dtmf_mode` (`info` is not supported and reads as `rfc4733`).
    pub dtmf_mode: DtmfMode,
    /// `callerid`: presented on calls from it (None = what the request's From says).
    pub callerid: Option<CallerIdSetting>,
    /// `from_user`: the user part of From on requests wari sends to it.
    pub from_user: Option<String>,
    /// `from_domain`: the host part of From on requests wari sends to it.
    pub from_domain: Option<String>,
    /// `language`: the channel's language.
    pub language: Option<String>,
    /// `rtp_symmetric`: send RTP to where it comes from (Asterisk's default no).
    pub rtp_symmetric: bool,
    /// `force_rport`: answer to the request's source port (Asterisk's default yes).
    pub force_rport: bool,
    /// `rewrite_contact`: replace the Contact with the source address (default no).
    pub rewrite_contact: bool,
    /// `direct_media`: always false in effect: wari anchors all media. Asterisk's default
    /// is yes; wari reads `direct_media=yes` with a warning and keeps this false.
    pub direct_media: bool,
    /// `rtp_timeout`: seconds without RTP before the call is hung up (0 = off).
    pub rtp_timeout: u32,
    /// `moh_passthrough`: a hold of its channels is a re-INVITE offering `sendonly` (its
    /// unhold one offering `sendrecv`) instead of wari's music on hold (Asterisk's default
    /// no: music on hold, no SIP).
    pub moh_passthrough: bool,
    /// Where the section starts.
    pub location: Location,
}

impl Endpoint {
    /// An endpoint called `name` with Asterisk's defaults (context `default`, no codecs, no
    /// AORs or auth, RFC 4733 DTMF, `force_rport`), and wari's `direct_media` = no.
    pub fn with_defaults(name: &str, location: Location) -> Endpoint {
        Endpoint {
            name: name.to_string(),
            transport: None,
            context: "default".to_string(),
            codecs: Vec::new(),
            aors: Vec::new(),
            auth: None,
            outbound_auth: None,
            dtmf_mode: DtmfMode::Rfc4733,
            callerid: None,
            from_user: None,
            from_domain: None,
            language: None,
            rtp_symmetric: false,
            force_rport: true,
            rewrite_contact: false,
            direct_media: false,
            rtp_timeout: 0,
            moh_passthrough: false,
            location,
        }
    }
}

/// `type=auth` with `auth_type=userpass`.
#[derive(Debug, Clone)]
pub struct Auth {
    /// The section name (endpoints refer to it by `auth`/`outbound_auth`).
    pub name: String,
    /// `username`.
    pub username: String,
    /// `password`, in clear.
    pub password: String,
    /// `realm` (None = [`DEFAULT_REALM`] when challenging; the server's realm when answering).
    pub realm: Option<String>,
    /// Where the section starts.
    pub location: Location,
}

/// `type=aor`: an address of record.
#[derive(Debug, Clone)]
pub struct Aor {
    /// The section name (the user part of REGISTER's To for registering phones).
    pub name: String,
    /// `max_contacts`: registrations kept at once (Asterisk's default 0 = none allowed).
    pub max_contacts: u32,
    /// `remove_existing`: a new registration beyond `max_contacts` replaces the oldest.
    pub remove_existing: bool,
    /// `contact`: static contact URIs.
    pub contacts: Vec<String>,
    /// `qualify_frequency`: seconds between OPTIONS pings (0 = off).
    pub qualify_frequency: u32,
    /// `default_expiration`: seconds when a REGISTER asks none (default 3600).
    pub default_expiration: u32,
    /// `minimum_expiration`: shortest accepted (default 60).
    pub minimum_expiration: u32,
    /// `maximum_expiration`: longest granted (default 7200).
    pub maximum_expiration: u32,
    /// Where the section starts.
    pub location: Location,
}

impl Aor {
    /// An AOR called `name` with Asterisk's defaults (no contacts, `max_contacts` 0,
    /// expiry 3600 s within 60..=7200, no qualify).
    pub fn with_defaults(name: &str, location: Location) -> Aor {
        Aor {
            name: name.to_string(),
            max_contacts: 0,
            remove_existing: false,
            contacts: Vec::new(),
            qualify_frequency: 0,
            default_expiration: 3600,
            minimum_expiration: 60,
            maximum_expiration: 7200,
            location,
        }
    }
}

/// `type=identify`: requests from these addresses belong to `endpoint`.
#[derive(Debug, Clone)]
pub struct Identify {
    /// The section name.
    pub name: String,
    /// `endpoint`: the endpoint matched requests belong to.
    pub endpoint: String,
    /// `match`: addresses and networks (hostnames are not resolved: warned and ignored).
    pub matches: Vec<ipnetwork::IpNetwork>,
    /// Where the section starts.
    pub location: Location,
}

/// `type=registration`: wari registers itself to a provider.
#[derive(Debug, Clone)]
pub struct Registration {
    /// The section name.
    pub name: String,
    /// `transport`: the transport to register over.
    pub transport: Option<String>,
    /// `server_uri`: the registrar (Request-URI).
    pub server_uri: String,
    /// `client_uri`: the address of record registered (To/From).
    pub client_uri: String,
    /// `contact_user`: the user part of the Contact wari registers.
    pub contact_user: Option<String>,
    /// `outbound_auth`: credentials for the registrar's challenge.
    pub outbound_auth: Option<String>,
    /// `retry_interval`: seconds before retrying after a failure (default 60).
    pub retry_interval: u32,
    /// `forbidden_retry_interval`: seconds before retrying after 403 (0 = give up).
    pub forbidden_retry_interval: u32,
    /// `max_retries`: retries before giving up (default 10).
    pub max_retries: u32,
    /// `expiration`: seconds asked for (default 3600).
    pub expiration: u32,
    /// Where the section starts.
    pub location: Location,
}

/// Warns about each endpoint whose `context` is not a context of `extensions` (the parsed
/// extensions.conf, None when absent): its calls would find no dialplan to run.
pub fn check_contexts(
    config: &PjsipConfig,
    extensions: Option<&ConfFile>,
    problems: &mut Problems,
) {
    let defined = |context: &str| {
        extensions.is_some_and(|file| {
            file.sections().any(|section| {
                section.name == context
                    && !section.name.eq_ignore_ascii_case("general")
                    && !section.name.eq_ignore_ascii_case("globals")
            })
        })
    };
    for endpoint in &config.endpoints {
        if !defined(&endpoint.context) {
            problems.warn(
                &endpoint.location,
                format!(
                    "endpoint [{}]: context '{}' is not in extensions.conf, so its calls \
                     have no dialplan to run",
                    endpoint.name, endpoint.context
                ),
            );
        }
    }
}

/// Reads `pjsip.conf` (None = absent file: an empty configuration, SIP does not start).
pub fn read(file: Option<&ConfFile>, problems: &mut Problems) -> PjsipConfig {
    match file {
        Some(file) => read::read(file, problems),
        None => PjsipConfig::default(),
    }
}

#[cfg(test)]
mod tests;
