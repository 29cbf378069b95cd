//! The reader: each `[name]` section by its `type=` into the typed model, then the
//! cross-references checked; every problem at its file:line.
//!
//! Invalid objects are reported and left out; the rest load. An endpoint whose `auth` names
//! no auth section is left out too (it would otherwise take calls unchallenged), and so is
//! an identify whose `endpoint` does not exist.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use super::{
    Aor, Auth, CallerIdSetting, DtmfMode, Endpoint, Identify, PjsipConfig, Protocol, Registration,
    TlsMethod, Transport,
};
use crate::config::conf_file::{ConfFile, Entry, Section};
use crate::config::diagnostics::{Location, Problems};
use crate::config::values::{bool_option, comma_list};
use crate::media::codec::Codec;

/// Section types Asterisk knows that wari does not implement: warned about and ignored.
const OTHER_ASTERISK_TYPES: [&str; 11] = [
    "global",
    "system",
    "domain_alias",
    "acl",
    "contact",
    "phoneprov",
    "outbound-publish",
    "inbound-publication",
    "asterisk-publication",
    "resource_list",
    "subscription_persistence",
];

/// A reference from one object to another, kept to check once all are read.
struct Reference {
    /// The kind of section it must name (`auth`, `aor`, `transport`, `endpoint`).
    kind: &'static str,
    /// The name referred to.
    name: String,
    /// The option's entry (for the message).
    option: String,
    /// Where the option was written.
    location: Location,
}

/// Reads every section of `file`.
pub(super) fn read(file: &ConfFile, problems: &mut Problems) -> PjsipConfig {
    let mut config = PjsipConfig::default();
    // Per object kind and name: the references its options made.
    let mut endpoint_refs: Vec<(String, Vec<Reference>)> = Vec::new();
    let mut identify_refs: Vec<(String, Vec<Reference>)> = Vec::new();
    let mut registration_refs: Vec<(String, Vec<Reference>)> = Vec::new();
    for section in file.sections() {
        let Some(kind) = section.get("type") else {
            problems.error(
                &section.location,
                format!("[{}] has no type= (section ignored)", section.name),
            );
            continue;
        };
        let kind_name = kind.value.trim().to_ascii_lowercase();
        let mut refs = Vec::new();
        let duplicate = |exists: bool, problems: &mut Problems| {
            if exists {
                problems.error(
                    &section.location,
                    format!(
                        "[{}] type={kind_name} is defined twice (second one ignored)",
                        section.name
                    ),
                );
            }
            exists
        };
        match kind_name.as_str() {
            "transport" => {
                if duplicate(config.transport(&section.name).is_some(), problems) {
                    continue;
                }
                if let Some(transport) = read_transport(section, problems) {
                    config.transports.push(transport);
                }
            }
            "endpoint" => {
                if duplicate(config.endpoint(&section.name).is_some(), problems) {
                    continue;
                }
                let endpoint = read_endpoint(section, &mut refs, problems);
                endpoint_refs.push((endpoint.name.clone(), refs));
                config.endpoints.push(endpoint);
            }
            "auth" => {
                if duplicate(config.auth(&section.name).is_some(), problems) {
                    continue;
                }
                if let Some(auth) = read_auth(section, problems) {
                    config.auths.push(auth);
                }
            }
            "aor" => {
                if duplicate(config.aor(&section.name).is_some(), problems) {
                    continue;
                }
                config.aors.push(read_aor(section, problems));
            }
            "identify" => {
                let exists = config.identifies.iter().any(|i| i.name == section.name);
                if duplicate(exists, problems) {
                    continue;
                }
                if let Some(identify) = read_identify(section, &mut refs, problems) {
                    identify_refs.push((identify.name.clone(), refs));
                    config.identifies.push(identify);
                }
            }
            "registration" => {
                let exists = config.registrations.iter().any(|r| r.name == section.name);
                if duplicate(exists, problems) {
                    continue;
                }
                if let Some(registration) = read_registration(section, &mut refs, problems) {
                    registration_refs.push((registration.name.clone(), refs));
                    config.registrations.push(registration);
                }
            }
            other if OTHER_ASTERISK_TYPES.contains(&other) => problems.warn(
                &kind.location,
                format!(
                    "[{}]: type={other} is not supported by wari (section ignored)",
                    section.name
                ),
            ),
            other => problems.unknown_type(&kind.location, &section.name, other),
        }
    }
    check_transport_addresses(&config, problems);
    let dropped = check_references(&config, &endpoint_refs, problems, true);
    config.endpoints.retain(|e| !dropped.contains(&e.name));
    let dropped = check_references(&config, &identify_refs, problems, true);
    config.identifies.retain(|i| !dropped.contains(&i.name));
    check_references(&config, &registration_refs, problems, false);
    config
}

/// Reports every reference naming no such section; returns the objects to leave out
/// (those whose `auth` or `endpoint` is missing, when `drop_broken`).
fn check_references(
    config: &PjsipConfig,
    objects: &[(String, Vec<Reference>)],
    problems: &mut Problems,
    drop_broken: bool,
) -> Vec<String> {
    let mut dropped = Vec::new();
    for (object, refs) in objects {
        for reference in refs {
            let exists = match reference.kind {
                "auth" => config.auth(&reference.name).is_some(),
                "aor" => config.aor(&reference.name).is_some(),
                "transport" => config.transport(&reference.name).is_some(),
                _ => config.endpoint(&reference.name).is_some(),
            };
            if exists {
                continue;
            }
            let fatal = drop_broken && matches!(reference.option.as_str(), "auth" | "endpoint");
            let consequence = if fatal {
                format!(" ([{object}] ignored)")
            } else {
                String::new()
            };
            problems.error(
                &reference.location,
                format!(
                    "[{object}]: {} '{}' names no type={} section{consequence}",
                    reference.option, reference.name, reference.kind,
                ),
            );
            if fatal {
                dropped.push(object.clone());
            }
        }
    }
    dropped
}

/// Two transports whose sockets would collide: the same port (not 0, which the system
/// picks) and kind of socket (UDP, or a stream for TCP/TLS) on the same address or where
/// either is a wildcard.
fn check_transport_addresses(config: &PjsipConfig, problems: &mut Problems) {
    for (i, later) in config.transports.iter().enumerate() {
        let stream = |p: Protocol| p != Protocol::Udp;
        let clash = config.transports[..i].iter().find(|earlier| {
            stream(earlier.protocol) == stream(later.protocol)
                && later.bind.port() != 0
                && earlier.bind.port() == later.bind.port()
                && (earlier.bind.ip() == later.bind.ip()
                    || earlier.bind.ip().is_unspecified()
                    || later.bind.ip().is_unspecified())
        });
        if let Some(earlier) = clash {
            problems.error(
                &later.location,
                format!(
                    "[{}]: bind {} ({}) collides with transport [{}] at {} ({})",
                    later.name,
                    later.bind,
                    later.protocol.as_str(),
                    earlier.name,
                    earlier.location,
                    earlier.protocol.as_str()
                ),
            );
        }
    }
}

/// Warns about an option this kind of section does not have (or wari does not implement).
fn unknown_option(section: &Section, kind: &str, entry: &Entry, problems: &mut Problems) {
    problems.warn(
        &entry.location,
        format!(
            "unknown or unsupported option '{}' for {kind} [{}] (ignored)",
            entry.key, section.name
        ),
    );
}

/// Reads a whole number option that fits in u32 (Asterisk's `OPT_UINT_T`).
fn uint_option(entry: &Entry, problems: &mut Problems) -> Option<u32> {
    let value = entry.value.trim();
    let parsed = value.parse::<u32>().ok();
    if parsed.is_none() {
        problems.error(
            &entry.location,
            format!(
                "invalid value '{value}' for {}: expected a whole number",
                entry.key
            ),
        );
    }
    parsed
}

/// A non-empty trimmed value, or None.
fn text(entry: &Entry) -> Option<String> {
    let value = entry.value.trim();
    (!value.is_empty()).then(|| value.to_string())
}

/// One name from an option that Asterisk lets list several (`auth`, `outbound_auth`):
/// wari uses the first and says so when there are more.
fn single_name(entry: &Entry, problems: &mut Problems) -> Option<String> {
    let mut names = comma_list(&entry.value);
    let first = names.next().map(str::to_string);
    if names.next().is_some() {
        problems.warn(
            &entry.location,
            format!(
                "{} lists several sections; wari uses only the first, '{}'",
                entry.key,
                first.as_deref().unwrap_or_default()
            ),
        );
    }
    first
}

/// A `bind` value: `ADDR`, `ADDR:PORT`, `[V6]`, `[V6]:PORT` or a bare IPv6 address; an
/// absent port means the protocol's default, an explicit port 0 lets the system pick one
/// (wari's banner prints the port it got; tests use it).
fn parse_bind(value: &str, protocol: Protocol) -> Option<SocketAddr> {
    let value = value.trim();
    if let Ok(address) = value.parse::<SocketAddr>() {
        return Some(address);
    }
    let bare = value
        .strip_prefix('[')
        .and_then(|v| v.strip_suffix(']'))
        .unwrap_or(value);
    Some(SocketAddr::new(
        bare.parse::<IpAddr>().ok()?,
        protocol.default_port(),
    ))
}

/// An address or network (`10.0.0.1`, `10.0.0.0/8`, `10.0.0.0/255.0.0.0`, `[::1]`).
fn parse_network(value: &str) -> Option<ipnetwork::IpNetwork> {
    let value = value.trim();
    let bare = value
        .strip_prefix('[')
        .and_then(|v| v.strip_suffix(']'))
        .unwrap_or(value);
    bare.parse::<ipnetwork::IpNetwork>().ok()
}

/// A TLS `method` value: Asterisk's names; those naming versions rustls does not speak
/// (TLS 1.0, 1.1, SSL) are refused, as is anything Asterisk would not take.
fn tls_method(value: &str) -> Result<TlsMethod, String> {
    let value = value.trim();
    match value.to_ascii_lowercase().as_str() {
        "" | "default" | "unspecified" | "sslv23" => Ok(TlsMethod::Default),
        "tlsv1_2" => Ok(TlsMethod::Tls12),
        "tlsv1_3" => Ok(TlsMethod::Tls13),
        "tlsv1" | "tlsv1_1" | "sslv2" | "sslv3" => Err(format!(
            "method '{value}' is not supported: wari speaks TLS 1.2 and 1.3 only (use \
             tlsv1_2, tlsv1_3 or sslv23)"
        )),
        _ => Err(format!(
            "invalid value '{value}' for method: expected default, unspecified, tlsv1_2, \
             tlsv1_3 or sslv23"
        )),
    }
}

fn read_transport(section: &Section, problems: &mut Problems) -> Option<Transport> {
    let mut valid = true;
    let protocol = match section.get("protocol") {
        None => Protocol::Udp,
        Some(entry) => match entry.value.trim().to_ascii_lowercase().as_str() {
            "udp" => Protocol::Udp,
            "tcp" => Protocol::Tcp,
            "tls" => Protocol::Tls,
            other => {
                problems.error(
                    &entry.location,
                    format!(
                        "invalid value '{other}' for protocol: wari supports udp, tcp and tls \
                         (transport [{}] ignored)",
                        section.name
                    ),
                );
                valid = false;
                Protocol::Udp
            }
        },
    };
    let mut transport = Transport::with_defaults(
        &section.name,
        protocol,
        SocketAddr::new(IpAddr::from([0, 0, 0, 0]), protocol.default_port()),
        section.location.clone(),
    );
    let mut bound = false;
    for entry in &section.entries {
        match entry.key.to_ascii_lowercase().as_str() {
            "type" | "protocol" => {}
            "bind" => match parse_bind(&entry.value, protocol) {
                Some(address) => {
                    transport.bind = address;
                    bound = true;
                }
                None => {
                    problems.error(
                        &entry.location,
                        format!(
                            "invalid value '{}' for bind: expected an IP address with an \
                             optional port (transport [{}] ignored)",
                            entry.value.trim(),
                            section.name
                        ),
                    );
                    valid = false;
                }
            },
            "external_media_address" => transport.external_media_address = text(entry),
            "external_signaling_address" => transport.external_signaling_address = text(entry),
            "external_signaling_port" => {
                let value = entry.value.trim();
                match value.parse::<u16>() {
                    Ok(0) => transport.external_signaling_port = None,
                    Ok(port) => transport.external_signaling_port = Some(port),
                    Err(_) => problems.error(
                        &entry.location,
                        format!(
                            "invalid value '{value}' for external_signaling_port: expected a \
                             port number 0-65535"
                        ),
                    ),
                }
            }
            "local_net" => {
                for item in comma_list(&entry.value) {
                    match parse_network(item) {
                        Some(network) => transport.local_net.push(network),
                        None => problems.error(
                            &entry.location,
                            format!(
                                "invalid value '{item}' for local_net: expected a network \
                                 such as 192.168.0.0/16 or 10.0.0.0/255.0.0.0"
                            ),
                        ),
                    }
                }
            }
            "cert_file" => {
                transport.cert_file = text(entry).map(PathBuf::from);
                transport.cert_file_location = Some(entry.location.clone());
            }
            "priv_key_file" => {
                transport.priv_key_file = text(entry).map(PathBuf::from);
                transport.priv_key_file_location = Some(entry.location.clone());
            }
            "verify_server" => {
                if let Some(v) = bool_option(entry, problems) {
                    transport.verify_server = v;
                }
            }
            "ca_list_file" => transport.ca_list_file = text(entry).map(PathBuf::from),
            "ca_list_path" => transport.ca_list_path = text(entry).map(PathBuf::from),
            "method" => match tls_method(&entry.value) {
                Ok(method) => transport.method = method,
                Err(reason) => {
                    problems.error(
                        &entry.location,
                        format!("{reason} (transport [{}] ignored)", section.name),
                    );
                    valid = false;
                }
            },
            _ => unknown_option(section, "transport", entry, problems),
        }
    }
    if !bound && valid {
        problems.error(
            &section.location,
            format!(
                "transport [{}] has no bind= address (transport ignored)",
                section.name
            ),
        );
        valid = false;
    }
    if protocol == Protocol::Tls
        && (transport.cert_file.is_none() || transport.priv_key_file.is_none())
    {
        problems.error(
            &section.location,
            format!(
                "TLS transport [{}] needs cert_file and priv_key_file (transport ignored)",
                section.name
            ),
        );
        valid = false;
    }
    valid.then_some(transport)
}

/// Applies one `allow` or `disallow` value to `codecs`, in Asterisk's order rules: `allow`
/// appends what is not there yet, `disallow` removes; `all` means every codec wari carries.
fn apply_codecs(entry: &Entry, allow: bool, codecs: &mut Vec<Codec>, problems: &mut Problems) {
    for item in comma_list(&entry.value) {
        // `ulaw:20` carries a packetisation time; wari always sends 20 ms.
        let name = item.split(':').next().unwrap_or(item).trim();
        let named: &[Codec] = match name.to_ascii_lowercase().as_str() {
            "all" => &[Codec::Ulaw, Codec::Alaw],
            "ulaw" => &[Codec::Ulaw],
            "alaw" => &[Codec::Alaw],
            _ => {
                if allow {
                    problems.warn(
                        &entry.location,
                        format!(
                            "codec '{name}' is not carried by wari SIP (only ulaw and alaw; \
                             ignored)"
                        ),
                    );
                }
                &[]
            }
        };
        for codec in named {
            if allow {
                if !codecs.contains(codec) {
                    codecs.push(*codec);
                }
            } else {
                codecs.retain(|c| c != codec);
            }
        }
    }
}

/// `"Name" <number>`, `Name <number>`, `<number>` or a bare number.
fn parse_callerid(value: &str) -> CallerIdSetting {
    let value = value.trim();
    let nonempty = |s: &str| {
        let s = s.trim();
        (!s.is_empty()).then(|| s.to_string())
    };
    match (value.rfind('<'), value.rfind('>')) {
        (Some(open), Some(close)) if open < close => {
            let name = value[..open].trim();
            let name = name
                .strip_prefix('"')
                .and_then(|n| n.strip_suffix('"'))
                .unwrap_or(name);
            CallerIdSetting {
                name: nonempty(name),
                number: nonempty(&value[open + 1..close]),
            }
        }
        _ => CallerIdSetting {
            name: None,
            number: nonempty(value),
        },
    }
}

fn read_endpoint(
    section: &Section,
    refs: &mut Vec<Reference>,
    problems: &mut Problems,
) -> Endpoint {
    let mut endpoint = Endpoint::with_defaults(&section.name, section.location.clone());
    let mut reference = |kind: &'static str, name: &str, entry: &Entry| {
        refs.push(Reference {
            kind,
            name: name.to_string(),
            option: entry.key.to_ascii_lowercase(),
            location: entry.location.clone(),
        });
    };
    let mut codecs_given = false;
    for entry in &section.entries {
        let key = entry.key.to_ascii_lowercase();
        match key.as_str() {
            "type" => {}
            "transport" => {
                endpoint.transport = text(entry);
                if let Some(name) = &endpoint.transport {
                    reference("transport", name, entry);
                }
            }
            "context" => {
                if let Some(context) = text(entry) {
                    endpoint.context = context;
                }
            }
            "allow" | "disallow" => {
                codecs_given = true;
                apply_codecs(entry, key == "allow", &mut endpoint.codecs, problems);
            }
            "aors" => {
                endpoint.aors = comma_list(&entry.value).map(str::to_string).collect();
                for aor in &endpoint.aors {
                    reference("aor", aor, entry);
                }
            }
            "auth" => {
                endpoint.auth = single_name(entry, problems);
                if let Some(name) = &endpoint.auth {
                    reference("auth", name, entry);
                }
            }
            "outbound_auth" => {
                endpoint.outbound_auth = single_name(entry, problems);
                if let Some(name) = &endpoint.outbound_auth {
                    reference("auth", name, entry);
                }
            }
            "dtmf_mode" => {
                let value = entry.value.trim().to_ascii_lowercase();
                endpoint.dtmf_mode = match value.as_str() {
                    "rfc4733" => DtmfMode::Rfc4733,
                    "inband" => DtmfMode::Inband,
                    "auto" => DtmfMode::Auto,
                    "info" | "auto_info" => {
                        let fallback = if value == "info" { "rfc4733" } else { "auto" };
                        problems.warn(
                            &entry.location,
                            format!(
                                "dtmf_mode={value} (SIP INFO) is not supported by wari; \
                                 using {fallback}"
                            ),
                        );
                        if value == "info" {
                            DtmfMode::Rfc4733
                        } else {
                            DtmfMode::Auto
                        }
                    }
                    _ => {
                        problems.error(
                            &entry.location,
                            format!(
                                "invalid value '{value}' for dtmf_mode: expected rfc4733, \
                                 inband or auto"
                            ),
                        );
                        endpoint.dtmf_mode
                    }
                };
            }
            "callerid" => {
                let callerid = parse_callerid(&entry.value);
                endpoint.callerid =
                    (callerid.name.is_some() || callerid.number.is_some()).then_some(callerid);
            }
            "from_user" => endpoint.from_user = text(entry),
            "from_domain" => endpoint.from_domain = text(entry),
            "language" => endpoint.language = text(entry),
            "rtp_symmetric" => {
                if let Some(v) = bool_option(entry, problems) {
                    endpoint.rtp_symmetric = v;
                }
            }
            "force_rport" => {
                if let Some(v) = bool_option(entry, problems) {
                    endpoint.force_rport = v;
                }
            }
            "rewrite_contact" => {
                if let Some(v) = bool_option(entry, problems) {
                    endpoint.rewrite_contact = v;
                }
            }
            "direct_media" => {
                if bool_option(entry, problems) == Some(true) {
                    problems.warn(
                        &entry.location,
                        "direct_media=yes is not supported: wari always anchors media \
                         (using no)",
                    );
                }
            }
            "rtp_timeout" => {
                if let Some(v) = uint_option(entry, problems) {
                    endpoint.rtp_timeout = v;
                }
            }
            "moh_passthrough" => {
                if let Some(v) = bool_option(entry, problems) {
                    endpoint.moh_passthrough = v;
                }
            }
            _ => unknown_option(section, "endpoint", entry, problems),
        }
    }
    if endpoint.codecs.is_empty() {
        let why = if codecs_given {
            "allows no codec wari carries"
        } else {
            "has no allow= (Asterisk's default is no codec)"
        };
        problems.warn(
            &section.location,
            format!(
                "endpoint [{}] {why}: its calls cannot carry audio (add allow=ulaw,alaw)",
                section.name
            ),
        );
    }
    endpoint
}

fn read_auth(section: &Section, problems: &mut Problems) -> Option<Auth> {
    let mut valid = true;
    let mut username = None;
    let mut password = None;
    let mut realm = None;
    for entry in &section.entries {
        match entry.key.to_ascii_lowercase().as_str() {
            "type" => {}
            "auth_type" => {
                let value = entry.value.trim().to_ascii_lowercase();
                if value != "userpass" {
                    problems.error(
                        &entry.location,
                        format!(
                            "auth_type={value} is not supported: wari supports userpass \
                             (auth [{}] ignored)",
                            section.name
                        ),
                    );
                    valid = false;
                }
            }
            "username" | "realm" => {
                let value = text(entry);
                // Both travel in quoted strings of Digest headers, unescaped.
                if let Some(bad) = value.as_deref().and_then(|v| {
                    v.chars()
                        .find(|c| matches!(c, '"' | '\\') || c.is_control())
                }) {
                    problems.error(
                        &entry.location,
                        format!(
                            "invalid value for {}: {bad:?} cannot be used in a Digest \
                             header (auth [{}] ignored)",
                            entry.key, section.name
                        ),
                    );
                    valid = false;
                }
                if entry.key.eq_ignore_ascii_case("username") {
                    username = value;
                } else {
                    realm = value;
                }
            }
            // A password is used as written, spaces included.
            "password" => password = Some(entry.value.clone()),
            _ => unknown_option(section, "auth", entry, problems),
        }
    }
    if username.is_none() {
        problems.error(
            &section.location,
            format!("auth [{}] has no username (auth ignored)", section.name),
        );
        valid = false;
    }
    if password.is_none() {
        problems.error(
            &section.location,
            format!("auth [{}] has no password (auth ignored)", section.name),
        );
        valid = false;
    }
    let (Some(username), Some(password)) = (username, password) else {
        return None;
    };
    valid.then(|| Auth {
        name: section.name.clone(),
        username,
        password,
        realm,
        location: section.location.clone(),
    })
}

fn read_aor(section: &Section, problems: &mut Problems) -> Aor {
    let mut aor = Aor::with_defaults(&section.name, section.location.clone());
    for entry in &section.entries {
        let number = |problems: &mut Problems| uint_option(entry, problems);
        match entry.key.to_ascii_lowercase().as_str() {
            "type" => {}
            "max_contacts" => aor.max_contacts = number(problems).unwrap_or(aor.max_contacts),
            "remove_existing" => {
                if let Some(v) = bool_option(entry, problems) {
                    aor.remove_existing = v;
                }
            }
            "contact" => {
                for uri in comma_list(&entry.value) {
                    if is_sip_uri(uri) {
                        aor.contacts.push(uri.to_string());
                    } else {
                        problems.error(
                            &entry.location,
                            format!(
                                "invalid value '{uri}' for contact: expected a sip: or sips: \
                                 URI (ignored)"
                            ),
                        );
                    }
                }
            }
            "qualify_frequency" => match number(problems) {
                Some(v) if v <= 86400 => aor.qualify_frequency = v,
                Some(v) => problems.error(
                    &entry.location,
                    format!("invalid value '{v}' for qualify_frequency: expected 0 to 86400"),
                ),
                None => {}
            },
            "default_expiration" => {
                aor.default_expiration = number(problems).unwrap_or(aor.default_expiration)
            }
            "minimum_expiration" => {
                aor.minimum_expiration = number(problems).unwrap_or(aor.minimum_expiration)
            }
            "maximum_expiration" => {
                aor.maximum_expiration = number(problems).unwrap_or(aor.maximum_expiration)
            }
            _ => unknown_option(section, "aor", entry, problems),
        }
    }
    aor
}

/// True for a `sip:` or `sips:` URI with something after the scheme.
fn is_sip_uri(value: &str) -> bool {
    let lower = value.trim().to_ascii_lowercase();
    ["sip:", "sips:"].iter().any(|scheme| {
        lower
            .strip_prefix(scheme)
            .is_some_and(|rest| !rest.is_empty())
    })
}

fn read_identify(
    section: &Section,
    refs: &mut Vec<Reference>,
    problems: &mut Problems,
) -> Option<Identify> {
    let mut endpoint = None;
    let mut matches = Vec::new();
    for entry in &section.entries {
        match entry.key.to_ascii_lowercase().as_str() {
            "type" => {}
            "endpoint" => {
                endpoint = text(entry);
                if let Some(name) = &endpoint {
                    refs.push(Reference {
                        kind: "endpoint",
                        name: name.clone(),
                        option: "endpoint".to_string(),
                        location: entry.location.clone(),
                    });
                }
            }
            "match" => {
                for item in comma_list(&entry.value) {
                    if let Some(network) = parse_network(item) {
                        matches.push(network);
                    } else if let Ok(address) = item.parse::<SocketAddr>() {
                        problems.warn(
                            &entry.location,
                            format!(
                                "match '{item}': wari matches addresses only, the port is \
                                 ignored"
                            ),
                        );
                        matches.push(ipnetwork::IpNetwork::from(address.ip()));
                    } else {
                        problems.warn(
                            &entry.location,
                            format!(
                                "match '{item}' is not an IP address or network: wari does \
                                 not resolve host names, so it is ignored"
                            ),
                        );
                    }
                }
            }
            _ => unknown_option(section, "identify", entry, problems),
        }
    }
    let Some(endpoint) = endpoint else {
        problems.error(
            &section.location,
            format!(
                "identify [{}] has no endpoint= (section ignored)",
                section.name
            ),
        );
        refs.clear();
        return None;
    };
    Some(Identify {
        name: section.name.clone(),
        endpoint,
        matches,
        location: section.location.clone(),
    })
}

fn read_registration(
    section: &Section,
    refs: &mut Vec<Reference>,
    problems: &mut Problems,
) -> Option<Registration> {
    let mut registration = Registration {
        name: section.name.clone(),
        transport: None,
        server_uri: String::new(),
        client_uri: String::new(),
        contact_user: None,
        outbound_auth: None,
        retry_interval: 60,
        forbidden_retry_interval: 0,
        max_retries: 10,
        expiration: 3600,
        location: section.location.clone(),
    };
    let mut valid = true;
    for entry in &section.entries {
        let key = entry.key.to_ascii_lowercase();
        match key.as_str() {
            "type" => {}
            "transport" => {
                registration.transport = text(entry);
                if let Some(name) = &registration.transport {
                    refs.push(Reference {
                        kind: "transport",
                        name: name.clone(),
                        option: key.clone(),
                        location: entry.location.clone(),
                    });
                }
            }
            "server_uri" | "client_uri" => {
                let uri = entry.value.trim().to_string();
                if !is_sip_uri(&uri) {
                    problems.error(
                        &entry.location,
                        format!(
                            "invalid value '{uri}' for {key}: expected a sip: or sips: URI \
                             (registration [{}] ignored)",
                            section.name
                        ),
                    );
                    valid = false;
                }
                if key == "server_uri" {
                    registration.server_uri = uri;
                } else {
                    registration.client_uri = uri;
                }
            }
            "contact_user" => registration.contact_user = text(entry),
            "outbound_auth" => {
                registration.outbound_auth = single_name(entry, problems);
                if let Some(name) = &registration.outbound_auth {
                    refs.push(Reference {
                        kind: "auth",
                        name: name.clone(),
                        option: key.clone(),
                        location: entry.location.clone(),
                    });
                }
            }
            "retry_interval" | "forbidden_retry_interval" | "max_retries" | "expiration" => {
                if let Some(v) = uint_option(entry, problems) {
                    match key.as_str() {
                        "retry_interval" => registration.retry_interval = v,
                        "forbidden_retry_interval" => registration.forbidden_retry_interval = v,
                        "max_retries" => registration.max_retries = v,
                        _ => registration.expiration = v,
                    }
                }
            }
            _ => unknown_option(section, "registration", entry, problems),
        }
    }
    for (option, value) in [
        ("server_uri", &registration.server_uri),
        ("client_uri", &registration.client_uri),
    ] {
        if value.is_empty() {
            problems.error(
                &section.location,
                format!(
                    "registration [{}] has no {option} (registration ignored)",
                    section.name
                ),
            );
            valid = false;
        }
    }
    if !valid {
        refs.clear();
    }
    valid.then_some(registration)
}

#[cfg(test)]
pub(super) fn parse_callerid_for_tests(value: &str) -> CallerIdSetting {
    parse_callerid(value)
}
