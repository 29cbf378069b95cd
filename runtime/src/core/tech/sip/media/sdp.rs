//! SDP (RFC 4566) as a SIP call's media uses it: parsing what phones, trunks and test peers
//! send (session- and media-level `c=`, `a=rtpmap`, `a=fmtp`, `a=ptime`, `a=rtcp`,
//! directions, several `m=` lines), and offer/answer (RFC 3264) for G.711 and
//! `telephone-event`: our offers, our answers to theirs, their answers to ours.
//!
//! Own code, no panics on any input: the text is bounded ([`MAX_SDP_BYTES`], lines, media
//! sections and formats are counted), every number is parsed with a range check, and what
//! is not understood is ignored as RFC 4566 asks. Only the first audio `m=` line with a
//! port is used; the others are answered with port 0.

use std::fmt::Write as _;
use std::net::IpAddr;

use crate::media::codec::Codec;
use crate::media::rtp;

/// Largest SDP body read.
pub(crate) const MAX_SDP_BYTES: usize = 16 * 1024;
/// Most lines read.
const MAX_LINES: usize = 512;
/// Most `m=` sections read.
const MAX_MEDIA: usize = 16;
/// Most formats read on one `m=` line.
const MAX_FORMATS: usize = 64;
/// The payload type we offer `telephone-event/8000` with (an answer keeps the offer's).
pub(crate) const OFFER_TELEPHONE_EVENT_PT: u8 = 101;
/// The packet time we send and ask for.
pub(crate) const PTIME_MS: u32 = 20;

/// Why an SDP body was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum SdpError {
    /// The body is not SDP wari can read (answer 400 to a request, or end the call).
    #[error("malformed SDP, line {line}: {reason}")]
    Malformed { line: usize, reason: &'static str },
    /// The body is longer than [`MAX_SDP_BYTES`] or has too many lines.
    #[error("SDP too large")]
    TooLarge,
    /// No audio stream wari can take (answer 488 Not Acceptable Here).
    #[error("no audio stream in the SDP")]
    NoAudio,
    /// The audio stream has no codec in common with the endpoint's (answer 488).
    #[error("no codec in common")]
    NoCommonCodec,
    /// An answer does not match our offer (its media lines).
    #[error("the SDP answer does not match the offer")]
    AnswerMismatch,
}

impl SdpError {
    /// The SIP status a refused offer is answered with: 488 Not Acceptable Here when the
    /// media cannot be used, 400 Bad Request when the body cannot be read.
    pub(crate) fn sip_status(&self) -> u16 {
        match self {
            SdpError::NoAudio | SdpError::NoCommonCodec | SdpError::AnswerMismatch => 488,
            SdpError::Malformed { .. } | SdpError::TooLarge => 400,
        }
    }
}

/// A stream's direction, as `a=sendrecv`/`sendonly`/`recvonly`/`inactive` says it (from
/// the point of view of the side that wrote it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum Direction {
    #[default]
    SendRecv,
    SendOnly,
    RecvOnly,
    Inactive,
}

impl Direction {
    fn from_attribute(name: &str) -> Option<Direction> {
        match name {
            "sendrecv" => Some(Direction::SendRecv),
            "sendonly" => Some(Direction::SendOnly),
            "recvonly" => Some(Direction::RecvOnly),
            "inactive" => Some(Direction::Inactive),
            _ => None,
        }
    }

    /// The attribute name.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Direction::SendRecv => "sendrecv",
            Direction::SendOnly => "sendonly",
            Direction::RecvOnly => "recvonly",
            Direction::Inactive => "inactive",
        }
    }

    /// Whether the side that wrote it sends.
    pub(crate) fn sends(self) -> bool {
        matches!(self, Direction::SendRecv | Direction::SendOnly)
    }

    /// Whether the side that wrote it receives.
    pub(crate) fn receives(self) -> bool {
        matches!(self, Direction::SendRecv | Direction::RecvOnly)
    }

    /// The direction that answers it (RFC 3264 section 6.1), given what we want: we send
    /// only if both we want to and they receive, and receive only if they send.
    pub(crate) fn answer(self, ours: Direction) -> Direction {
        Direction::from_flags(
            ours.sends() && self.receives(),
            ours.receives() && self.sends(),
        )
    }

    /// The direction of our offer (chan_pjsip's, `res_pjsip_sdp_rtp`): `sendonly` while we
    /// hold the far end (`locally_held`), `inactive` when it also holds us
    /// (`remotely_held`: its last offer took no audio from us), `recvonly` when only it
    /// holds us, else `sendrecv`.
    pub(crate) fn of_holds(locally_held: bool, remotely_held: bool) -> Direction {
        Direction::from_flags(!remotely_held, !locally_held)
    }

    fn from_flags(sends: bool, receives: bool) -> Direction {
        match (sends, receives) {
            (true, true) => Direction::SendRecv,
            (true, false) => Direction::SendOnly,
            (false, true) => Direction::RecvOnly,
            (false, false) => Direction::Inactive,
        }
    }
}

/// Whether the far end's SDP holds us (it stopped sending: `sendonly`, `inactive`, or the
/// old `c=0.0.0.0` style).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FarEndHold {
    /// It sends (again): no hold.
    Active,
    /// It does not send to us: the call is on hold at the far end.
    Held,
}

/// One `a=rtpmap`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RtpMap {
    pub payload_type: u8,
    pub encoding: String,
    pub clock_rate: u32,
}

/// One media section (`m=` and what follows it).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct MediaSection {
    /// `audio`, `video`, ...
    pub kind: String,
    pub port: u16,
    /// `RTP/AVP`, ...
    pub proto: String,
    /// The format tokens as written (payload types for RTP).
    pub formats: Vec<String>,
    /// Media-level `c=`.
    pub connection: Option<IpAddr>,
    pub rtpmaps: Vec<RtpMap>,
    /// `a=fmtp:<pt> <params>`.
    pub fmtps: Vec<(u8, String)>,
    pub ptime: Option<u32>,
    pub direction: Option<Direction>,
    /// `a=rtcp:<port>`.
    pub rtcp_port: Option<u16>,
}

impl MediaSection {
    /// The payload types of an RTP section, in the order given (tokens that are no
    /// payload type are left out).
    pub(crate) fn payload_types(&self) -> impl Iterator<Item = u8> + '_ {
        self.formats
            .iter()
            .filter_map(|f| f.parse::<u8>().ok())
            .filter(|pt| *pt < 128)
    }

    /// The encoding of payload type `pt`: its `a=rtpmap`, else the static types of
    /// RFC 3551 wari knows.
    fn encoding(&self, pt: u8) -> Option<(String, u32)> {
        if let Some(map) = self.rtpmaps.iter().find(|m| m.payload_type == pt) {
            return Some((map.encoding.to_ascii_lowercase(), map.clock_rate));
        }
        match pt {
            rtp::PT_PCMU => Some(("pcmu".into(), 8000)),
            rtp::PT_PCMA => Some(("pcma".into(), 8000)),
            _ => None,
        }
    }

    /// The G.711 codec payload type `pt` carries here.
    pub(crate) fn codec_of(&self, pt: u8) -> Option<Codec> {
        match self.encoding(pt)? {
            (name, 8000) if name == "pcmu" => Some(Codec::Ulaw),
            (name, 8000) if name == "pcma" => Some(Codec::Alaw),
            _ => None,
        }
    }

    /// The payload type of `telephone-event/8000` here.
    pub(crate) fn telephone_event(&self) -> Option<u8> {
        self.payload_types().find(
            |&pt| matches!(self.encoding(pt), Some((name, 8000)) if name == "telephone-event"),
        )
    }

    /// Plain RTP audio (`RTP/AVP`): wari has no SRTP (`RTP/SAVP`) nor feedback profiles.
    fn is_rtp_audio(&self) -> bool {
        self.kind == "audio" && self.proto.eq_ignore_ascii_case("RTP/AVP")
    }
}

/// A session description as read.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct SessionDescription {
    /// Session-level `c=`.
    pub connection: Option<IpAddr>,
    /// Session-level direction attribute.
    pub direction: Option<Direction>,
    pub media: Vec<MediaSection>,
}

impl SessionDescription {
    /// Parses `text`. Unknown lines and attributes are ignored; what is read is checked.
    pub(crate) fn parse(text: &str) -> Result<SessionDescription, SdpError> {
        if text.len() > MAX_SDP_BYTES {
            return Err(SdpError::TooLarge);
        }
        let mut sdp = SessionDescription::default();
        let mut seen_version = false;
        for (index, raw) in text.split('\n').enumerate() {
            let number = index + 1;
            if index >= MAX_LINES {
                return Err(SdpError::TooLarge);
            }
            let line = raw.strip_suffix('\r').unwrap_or(raw);
            if line.trim().is_empty() {
                continue;
            }
            let malformed = |reason| SdpError::Malformed {
                line: number,
                reason,
            };
            let bytes = line.as_bytes();
            if bytes.len() < 2 || bytes[1] != b'=' || !bytes[0].is_ascii_lowercase() {
                return Err(malformed("not a <type>=<value> line"));
            }
            let value = &line[2..];
            match bytes[0] {
                b'v' => {
                    if value.trim() != "0" {
                        return Err(malformed("version is not 0"));
                    }
                    seen_version = true;
                }
                b'c' => {
                    let address = parse_connection(value).ok_or(malformed("bad c= line"))?;
                    match sdp.media.last_mut() {
                        Some(media) => media.connection = Some(address),
                        None => sdp.connection = Some(address),
                    }
                }
                b'm' => {
                    if sdp.media.len() >= MAX_MEDIA {
                        return Err(SdpError::TooLarge);
                    }
                    sdp.media
                        .push(parse_media(value).ok_or(malformed("bad m= line"))?);
                }
                b'a' => {
                    let (name, arg) = match value.split_once(':') {
                        Some((name, arg)) => (name, Some(arg)),
                        None => (value, None),
                    };
                    let media = sdp.media.last_mut();
                    if let Some(direction) = Direction::from_attribute(name.trim()) {
                        match media {
                            Some(media) => media.direction = Some(direction),
                            None => sdp.direction = Some(direction),
                        }
                        continue;
                    }
                    let (Some(media), Some(arg)) = (media, arg) else {
                        continue;
                    };
                    match name {
                        "rtpmap" => media
                            .rtpmaps
                            .push(parse_rtpmap(arg).ok_or(malformed("bad a=rtpmap"))?),
                        "fmtp" => {
                            let (pt, params) = arg.split_once(' ').unwrap_or((arg, ""));
                            let pt = parse_pt(pt).ok_or(malformed("bad a=fmtp"))?;
                            media.fmtps.push((pt, params.trim().to_string()));
                        }
                        "ptime" => {
                            media.ptime = Some(
                                arg.trim()
                                    .parse::<u32>()
                                    .ok()
                                    .filter(|p| (1..=1000).contains(p))
                                    .ok_or(malformed("bad a=ptime"))?,
                            );
                        }
                        "rtcp" => {
                            let port = arg.split_whitespace().next().unwrap_or("");
                            media.rtcp_port =
                                Some(port.parse::<u16>().map_err(|_| malformed("bad a=rtcp"))?);
                        }
                        _ => {}
                    }
                }
                _ => {}
            }
        }
        if !seen_version {
            return Err(SdpError::Malformed {
                line: 1,
                reason: "no v= line",
            });
        }
        Ok(sdp)
    }

    /// The index of the audio section used (the first RTP audio section with a port).
    pub(crate) fn audio_index(&self) -> Option<usize> {
        self.media
            .iter()
            .position(|m| m.is_rtp_audio() && m.port != 0)
    }

    /// Where a section's media is (its own `c=`, else the session's).
    pub(crate) fn address_of(&self, media: &MediaSection) -> Option<IpAddr> {
        media.connection.or(self.connection)
    }

    /// A section's direction (its own attribute, else the session's, else sendrecv).
    pub(crate) fn direction_of(&self, media: &MediaSection) -> Direction {
        let direction = media.direction.or(self.direction).unwrap_or_default();
        // RFC 2543 hold: the far end gives no address to send to.
        match self.address_of(media) {
            Some(address) if address.is_unspecified() => {
                Direction::from_flags(direction.sends(), false)
            }
            _ => direction,
        }
    }
}

fn parse_connection(value: &str) -> Option<IpAddr> {
    let mut words = value.split_whitespace();
    if words.next()? != "IN" {
        return None;
    }
    let family = words.next()?;
    // A multicast address carries a /ttl; wari takes the address alone.
    let address = words.next()?.split('/').next()?;
    let address: IpAddr = address.parse().ok()?;
    match (family, address) {
        ("IP4", IpAddr::V4(_)) | ("IP6", IpAddr::V6(_)) => Some(address),
        _ => None,
    }
}

fn parse_media(value: &str) -> Option<MediaSection> {
    let mut words = value.split_whitespace();
    let kind = words.next()?;
    // `port/count`: wari takes the first port.
    let port = words.next()?.split('/').next()?.parse::<u16>().ok()?;
    let proto = words.next()?;
    let formats: Vec<String> = words.take(MAX_FORMATS).map(str::to_string).collect();
    Some(MediaSection {
        kind: kind.to_string(),
        port,
        proto: proto.to_string(),
        formats,
        ..MediaSection::default()
    })
}

fn parse_pt(text: &str) -> Option<u8> {
    text.trim().parse::<u8>().ok().filter(|pt| *pt < 128)
}

fn parse_rtpmap(arg: &str) -> Option<RtpMap> {
    let (pt, rest) = arg.trim().split_once(' ')?;
    let mut parts = rest.trim().split('/');
    let encoding = parts.next()?.trim();
    let clock_rate = parts.next()?.trim().parse::<u32>().ok()?;
    if encoding.is_empty() || encoding.len() > 64 {
        return None;
    }
    Some(RtpMap {
        payload_type: parse_pt(pt)?,
        encoding: encoding.to_string(),
        clock_rate,
    })
}

/// What an offer/answer exchange settled for the audio stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Negotiated {
    /// Where the far end receives RTP (port 0 when it takes none).
    pub remote_ip: IpAddr,
    pub remote_port: u16,
    /// Where the far end receives RTCP (`a=rtcp`, else the RTP port + 1).
    pub remote_rtcp_port: u16,
    /// The codec we send and expect, and its payload type.
    pub codec: Codec,
    pub payload_type: u8,
    /// The negotiated `telephone-event` payload type, if any.
    pub telephone_event: Option<u8>,
    /// Our direction.
    pub direction: Direction,
}

impl Negotiated {
    /// Whether we send audio.
    pub(crate) fn sends(&self) -> bool {
        self.direction.sends() && self.remote_port != 0 && !self.remote_ip.is_unspecified()
    }

    /// Whether the far end holds us: it takes no audio from us (it offered `sendonly` or
    /// `inactive`, so we answered `recvonly` or `inactive`).
    pub(crate) fn far_end_hold(&self) -> FarEndHold {
        if self.direction.sends() {
            FarEndHold::Active
        } else {
            FarEndHold::Held
        }
    }
}

/// Our side of the offer/answer exchanges of one call: what we offer, the `o=` line's
/// session id and version (one more on each new body).
#[derive(Debug, Clone)]
pub(crate) struct Negotiator {
    /// Codecs in preference order.
    codecs: Vec<Codec>,
    /// Whether we offer/accept `telephone-event`.
    telephone_event: bool,
    /// The address in our `o=` and `c=` lines.
    advertised: IpAddr,
    /// Our RTP port.
    port: u16,
    session_id: u64,
    version: u64,
    /// The direction we last offered.
    offered: Direction,
    /// The payload type our offers give `telephone-event`: the one last negotiated (a
    /// re-offer keeps the session's mapping, RFC 3264 section 8.3.2), else
    /// [`OFFER_TELEPHONE_EVENT_PT`].
    event_pt: u8,
}

impl Negotiator {
    /// Our side: `codecs` in preference order (only G.711 is offered), `telephone_event`
    /// when we speak RFC 4733, media at `advertised`:`port`; `session_id` is random.
    pub(crate) fn new(
        codecs: &[Codec],
        telephone_event: bool,
        advertised: IpAddr,
        port: u16,
        session_id: u64,
    ) -> Negotiator {
        let mut ours: Vec<Codec> = Vec::new();
        for &codec in codecs {
            if matches!(codec, Codec::Ulaw | Codec::Alaw) && !ours.contains(&codec) {
                ours.push(codec);
            }
        }
        Negotiator {
            codecs: ours,
            telephone_event,
            advertised,
            port,
            // NTP-style ids fit 63 bits (some parsers read them as signed).
            session_id: session_id & 0x7FFF_FFFF_FFFF,
            version: session_id & 0x7FFF_FFFF_FFFF,
            offered: Direction::SendRecv,
            event_pt: OFFER_TELEPHONE_EVENT_PT,
        }
    }

    fn header(&mut self, out: &mut String) {
        let family = if self.advertised.is_ipv4() {
            "IP4"
        } else {
            "IP6"
        };
        let version = self.version;
        self.version += 1;
        let _ = write!(
            out,
            "v=0\r\no=- {} {} IN {family} {}\r\ns=wari\r\nc=IN {family} {}\r\nt=0 0\r\n",
            self.session_id, version, self.advertised, self.advertised
        );
    }

    /// Our offer (an INVITE's or re-INVITE's body) with `direction`.
    pub(crate) fn offer(&mut self, direction: Direction) -> String {
        self.offered = direction;
        let mut out = String::with_capacity(256);
        self.header(&mut out);
        let pts: Vec<(u8, &str)> = self
            .codecs
            .iter()
            .filter_map(|&c| Some((rtp::payload_type(c)?, encoding_name(c))))
            .collect();
        let _ = write!(out, "m=audio {} RTP/AVP", self.port);
        for (pt, _) in &pts {
            let _ = write!(out, " {pt}");
        }
        let event_pt = self.event_pt;
        if self.telephone_event {
            let _ = write!(out, " {event_pt}");
        }
        out.push_str("\r\n");
        for (pt, name) in &pts {
            let _ = write!(out, "a=rtpmap:{pt} {name}/8000\r\n");
        }
        if self.telephone_event {
            let _ = write!(
                out,
                "a=rtpmap:{event_pt} telephone-event/8000\r\na=fmtp:{event_pt} 0-16\r\n"
            );
        }
        let _ = write!(out, "a=ptime:{PTIME_MS}\r\na={}\r\n", direction.name());
        out
    }

    /// Our answer to `offer`, wanting `ours` as our direction: the common codecs in the
    /// offer's order (as Asterisk's default `incoming_call_offer_pref` keeps them), the
    /// offer's own payload types, other media sections refused with port 0.
    pub(crate) fn answer(
        &mut self,
        offer: &str,
        ours: Direction,
    ) -> Result<(String, Negotiated), SdpError> {
        let sdp = SessionDescription::parse(offer)?;
        let index = sdp.audio_index().ok_or(SdpError::NoAudio)?;
        let audio = &sdp.media[index];
        let common: Vec<(u8, Codec)> = audio
            .payload_types()
            .filter_map(|pt| Some((pt, audio.codec_of(pt)?)))
            .filter(|(_, codec)| self.codecs.contains(codec))
            .fold(Vec::new(), |mut list, (pt, codec)| {
                if !list.iter().any(|(_, c)| *c == codec) {
                    list.push((pt, codec));
                }
                list
            });
        let Some(&(payload_type, codec)) = common.first() else {
            return Err(SdpError::NoCommonCodec);
        };
        let negotiated = self.agreed(&sdp, audio, (payload_type, codec), ours)?;
        let (telephone_event, direction) = (negotiated.telephone_event, negotiated.direction);
        let mut out = String::with_capacity(256);
        self.header(&mut out);
        for (i, media) in sdp.media.iter().enumerate() {
            if i != index {
                // Refused: same media and protocol, port 0, its first format.
                let format = media.formats.first().map(String::as_str).unwrap_or("0");
                let _ = write!(out, "m={} 0 {} {format}\r\n", media.kind, media.proto);
                continue;
            }
            let _ = write!(out, "m=audio {} {}", self.port, audio.proto);
            for (pt, _) in &common {
                let _ = write!(out, " {pt}");
            }
            if let Some(pt) = telephone_event {
                let _ = write!(out, " {pt}");
            }
            out.push_str("\r\n");
            for (pt, codec) in &common {
                let _ = write!(out, "a=rtpmap:{pt} {}/8000\r\n", encoding_name(*codec));
            }
            if let Some(pt) = telephone_event {
                let _ = write!(
                    out,
                    "a=rtpmap:{pt} telephone-event/8000\r\na=fmtp:{pt} 0-16\r\n"
                );
            }
            let _ = write!(out, "a=ptime:{PTIME_MS}\r\na={}\r\n", direction.name());
        }
        Ok((out, negotiated))
    }

    /// Reads the far end's answer to our last offer.
    pub(crate) fn accept(&mut self, answer: &str) -> Result<Negotiated, SdpError> {
        let sdp = SessionDescription::parse(answer)?;
        let audio = sdp
            .media
            .iter()
            .find(|m| m.is_rtp_audio())
            .ok_or(SdpError::NoAudio)?;
        if audio.port == 0 {
            return Err(SdpError::NoCommonCodec);
        }
        // Their preferred codec among those we offered.
        let (payload_type, codec) = audio
            .payload_types()
            .filter_map(|pt| Some((pt, audio.codec_of(pt)?)))
            .find(|(_, codec)| self.codecs.contains(codec))
            .ok_or(SdpError::NoCommonCodec)?;
        // Their direction seen from our side, within what we offered.
        self.agreed(&sdp, audio, (payload_type, codec), self.offered)
    }

    /// What is agreed with the far end's `audio` section of `sdp` on `codec` (as
    /// `payload_type`): its address (`c=`, which it must have) and ports, the
    /// `telephone-event` payload type when we take DTMF that way (kept for our later
    /// offers), and its direction seen from our side within `ours`.
    fn agreed(
        &mut self,
        sdp: &SessionDescription,
        audio: &MediaSection,
        (payload_type, codec): (u8, Codec),
        ours: Direction,
    ) -> Result<Negotiated, SdpError> {
        let remote_ip = sdp.address_of(audio).ok_or(SdpError::Malformed {
            line: 0,
            reason: "no c= line for the audio stream",
        })?;
        let telephone_event = self
            .telephone_event
            .then(|| audio.telephone_event())
            .flatten();
        if let Some(pt) = telephone_event {
            self.event_pt = pt;
        }
        Ok(Negotiated {
            remote_ip,
            remote_port: audio.port,
            remote_rtcp_port: audio.rtcp_port.unwrap_or(audio.port.wrapping_add(1)),
            codec,
            payload_type,
            telephone_event,
            direction: sdp.direction_of(audio).answer(ours),
        })
    }
}

/// The RTP encoding name of a G.711 codec.
fn encoding_name(codec: Codec) -> &'static str {
    match codec {
        Codec::Alaw => "PCMA",
        _ => "PCMU",
    }
}

/// Runs the parser, the answerer and the answer reader on arbitrary input (the `sdp` fuzz
/// target): none may panic, and an answer made is itself readable.
pub(crate) fn fuzz(input: &[u8]) {
    let text = String::from_utf8_lossy(input);
    let _ = SessionDescription::parse(&text);
    let mut negotiator = Negotiator::new(
        &[Codec::Ulaw, Codec::Alaw],
        true,
        IpAddr::from([127, 0, 0, 1]),
        10000,
        1,
    );
    if let Ok((answer, _)) = negotiator.answer(&text, Direction::SendRecv) {
        let parsed = SessionDescription::parse(&answer);
        assert!(parsed.is_ok(), "our own answer must parse: {answer:?}");
    }
    let _ = negotiator.offer(Direction::SendOnly);
    let _ = negotiator.accept(&text);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What baresip offers (sip.md 1.4).
    pub(crate) const BARESIP: &str = "v=0\r\no=- 1730 2542 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 10002 RTP/AVP 0 8 101\r\nb=AS:64\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\na=rtcp-rsize\r\na=ptime:20\r\na=sendrecv\r\na=ssrc:3249 cname:baresip\r\n";

    fn negotiator() -> Negotiator {
        Negotiator::new(
            &[Codec::Ulaw, Codec::Alaw],
            true,
            "192.0.2.1".parse().unwrap(),
            4000,
            77,
        )
    }

    #[test]
    fn our_offer_lists_the_codecs_telephone_event_ptime_and_direction() {
        let mut n = negotiator();
        let offer = n.offer(Direction::SendRecv);
        assert!(
            offer.contains("m=audio 4000 RTP/AVP 0 8 101\r\n"),
            "{offer}"
        );
        assert!(offer.contains("a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\n"));
        assert!(offer.contains("a=ptime:20\r\na=sendrecv\r\n"));
        assert!(offer.contains("c=IN IP4 192.0.2.1\r\n"));
        assert!(offer.starts_with("v=0\r\no=- 77 77 IN IP4 192.0.2.1\r\n"));
        let again = n.offer(Direction::SendOnly);
        assert!(
            again.starts_with("v=0\r\no=- 77 78 "),
            "o= version moves on"
        );
        assert!(again.contains("a=sendonly\r\n"));
        let parsed = SessionDescription::parse(&offer).unwrap();
        assert_eq!(parsed.media[0].telephone_event(), Some(101));
    }

    #[test]
    fn a_baresip_offer_is_answered_with_its_own_payload_types() {
        let mut n = negotiator();
        let (answer, got) = n.answer(BARESIP, Direction::SendRecv).unwrap();
        assert_eq!(got.codec, Codec::Ulaw);
        assert_eq!(got.payload_type, 0);
        assert_eq!(got.telephone_event, Some(101));
        assert_eq!(got.remote_ip, "127.0.0.1".parse::<IpAddr>().unwrap());
        assert_eq!((got.remote_port, got.remote_rtcp_port), (10002, 10003));
        assert_eq!(got.direction, Direction::SendRecv);
        assert!(
            answer.contains("m=audio 4000 RTP/AVP 0 8 101\r\n"),
            "{answer}"
        );
    }

    #[test]
    fn the_negotiated_telephone_event_type_is_kept_and_codec_order_is_the_offers() {
        let offer = "v=0\r\no=x 1 1 IN IP4 10.0.0.9\r\ns=x\r\nt=0 0\r\nm=audio 5000 RTP/AVP 8 0 96\r\nc=IN IP4 10.0.0.9\r\na=rtpmap:96 telephone-event/8000\r\na=fmtp:96 0-16\r\na=rtcp:5009\r\n";
        let mut n = negotiator();
        let (answer, got) = n.answer(offer, Direction::SendRecv).unwrap();
        assert_eq!((got.codec, got.payload_type), (Codec::Alaw, 8));
        assert_eq!(got.telephone_event, Some(96));
        assert_eq!(got.remote_rtcp_port, 5009);
        assert!(
            answer.contains("m=audio 4000 RTP/AVP 8 0 96\r\n"),
            "{answer}"
        );
        assert!(answer.contains("a=rtpmap:96 telephone-event/8000\r\n"));
        assert!(!answer.contains("101"));
    }

    #[test]
    fn directions_are_answered_per_rfc_3264() {
        let with = |attr: &str| BARESIP.replace("a=sendrecv", attr);
        let mut n = negotiator();
        let (answer, got) = n.answer(&with("a=sendonly"), Direction::SendRecv).unwrap();
        assert!(answer.contains("a=recvonly\r\n"));
        assert_eq!(got.far_end_hold(), FarEndHold::Held);
        assert!(!got.sends());
        let (answer, got) = n.answer(&with("a=inactive"), Direction::SendRecv).unwrap();
        assert!(answer.contains("a=inactive\r\n"));
        assert_eq!(got.direction, Direction::Inactive);
        assert_eq!(got.far_end_hold(), FarEndHold::Held);
        let (_, got) = n.answer(&with("a=recvonly"), Direction::SendRecv).unwrap();
        assert_eq!(got.direction, Direction::SendOnly);
        assert_eq!(got.far_end_hold(), FarEndHold::Active);
        let (_, got) = n.answer(BARESIP, Direction::SendRecv).unwrap();
        assert_eq!(got.far_end_hold(), FarEndHold::Active);
        // Old-style hold: c=0.0.0.0.
        let old = BARESIP.replace("c=IN IP4 127.0.0.1", "c=IN IP4 0.0.0.0");
        let (_, got) = n.answer(&old, Direction::SendRecv).unwrap();
        assert!(!got.sends());
    }

    #[test]
    fn our_offer_direction_follows_both_holds_as_chan_pjsip() {
        assert_eq!(Direction::of_holds(false, false), Direction::SendRecv);
        assert_eq!(Direction::of_holds(true, false), Direction::SendOnly);
        assert_eq!(Direction::of_holds(false, true), Direction::RecvOnly);
        assert_eq!(Direction::of_holds(true, true), Direction::Inactive);
    }

    #[test]
    fn a_reoffer_keeps_the_ports_codecs_and_event_type_and_moves_the_version_on() {
        // A call in: the far end's offer gave telephone-event type 96.
        let offer = BARESIP.replace("101", "96");
        let mut n = negotiator();
        let (answer, _) = n.answer(&offer, Direction::SendRecv).unwrap();
        // The `o=` line's version (session id 77).
        let version = |sdp: &str| {
            sdp.lines()
                .find_map(|l| l.strip_prefix("o=- 77 "))
                .and_then(|rest| rest.split(' ').next())
                .and_then(|v| v.parse::<u64>().ok())
        };
        let hold = n.offer(Direction::of_holds(true, false));
        assert_eq!(version(&hold), version(&answer).map(|v| v + 1), "{hold}");
        assert!(hold.contains("m=audio 4000 RTP/AVP 0 8 96\r\n"), "{hold}");
        assert!(
            hold.contains("a=rtpmap:96 telephone-event/8000\r\n"),
            "{hold}"
        );
        assert!(hold.contains("c=IN IP4 192.0.2.1\r\n"));
        assert!(hold.ends_with("a=sendonly\r\n"), "{hold}");
        // Their answer takes our audio: we send only.
        let got = n
            .accept(&offer.replace("a=sendrecv", "a=recvonly"))
            .unwrap();
        assert_eq!(got.direction, Direction::SendOnly);
        let unhold = n.offer(Direction::of_holds(false, false));
        assert_eq!(version(&unhold), version(&hold).map(|v| v + 1), "{unhold}");
        assert!(unhold.ends_with("a=sendrecv\r\n"), "{unhold}");
        let got = n.accept(&offer).unwrap();
        assert_eq!(got.direction, Direction::SendRecv);
    }

    #[test]
    fn only_the_first_audio_section_is_used_others_get_port_0() {
        let offer = "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\nm=video 6000 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\nm=audio 0 RTP/AVP 0\r\nm=audio 7000 RTP/AVP 0\r\nm=audio 7002 RTP/AVP 8\r\n";
        let mut n = negotiator();
        let (answer, got) = n.answer(offer, Direction::SendRecv).unwrap();
        assert_eq!(got.remote_port, 7000);
        let lines: Vec<&str> = answer.lines().filter(|l| l.starts_with("m=")).collect();
        assert_eq!(
            lines,
            [
                "m=video 0 RTP/AVP 96",
                "m=audio 0 RTP/AVP 0",
                "m=audio 4000 RTP/AVP 0",
                "m=audio 0 RTP/AVP 8"
            ]
        );
    }

    #[test]
    fn no_codec_in_common_and_no_audio_are_488_malformed_is_400() {
        let mut n = negotiator();
        let g722 = BARESIP.replace(
            "m=audio 10002 RTP/AVP 0 8 101",
            "m=audio 10002 RTP/AVP 9 101",
        );
        let e = n.answer(&g722, Direction::SendRecv).unwrap_err();
        assert_eq!((e.clone(), e.sip_status()), (SdpError::NoCommonCodec, 488));
        let video = "v=0\r\ns=-\r\nc=IN IP4 1.2.3.4\r\nm=video 4 RTP/AVP 96\r\n";
        assert_eq!(n.answer(video, Direction::SendRecv), Err(SdpError::NoAudio));
        let srtp = BARESIP.replace("RTP/AVP", "RTP/SAVP");
        let e = n.answer(&srtp, Direction::SendRecv).unwrap_err();
        assert_eq!(
            (e.clone(), e.sip_status()),
            (SdpError::NoAudio, 488),
            "no SRTP"
        );
        for bad in [
            "",
            "hello",
            "v=1\r\n",
            "v=0\r\nc=IN IP4 nonsense\r\n",
            "v=0\r\nm=audio x RTP/AVP 0\r\n",
        ] {
            let e = n.answer(bad, Direction::SendRecv).unwrap_err();
            assert_eq!(e.sip_status(), 400, "{bad:?}: {e}");
        }
        let huge = "v=0\r\n".to_string() + &"a=x\r\n".repeat(MAX_SDP_BYTES);
        assert_eq!(
            n.answer(&huge, Direction::SendRecv),
            Err(SdpError::TooLarge)
        );
    }

    #[test]
    fn an_answer_to_our_offer_sets_codec_and_address() {
        let mut n = negotiator();
        n.offer(Direction::SendRecv);
        let answer = "v=0\r\no=- 5 5 IN IP6 ::1\r\ns=-\r\nt=0 0\r\nm=audio 8000 RTP/AVP 8 101\r\nc=IN IP6 ::1\r\na=rtpmap:101 telephone-event/8000\r\na=sendrecv\r\n";
        let got = n.accept(answer).unwrap();
        assert_eq!(
            (got.codec, got.payload_type, got.telephone_event),
            (Codec::Alaw, 8, Some(101))
        );
        assert_eq!(got.remote_ip, "::1".parse::<IpAddr>().unwrap());
        n.offer(Direction::SendOnly);
        let got = n.accept(&answer.replace("sendrecv", "recvonly")).unwrap();
        assert_eq!(got.direction, Direction::SendOnly);
        assert_eq!(
            n.accept(&answer.replace("8000 RTP/AVP 8 101", "0 RTP/AVP 8")),
            Err(SdpError::NoCommonCodec)
        );
    }

    /// The fuzz seeds: offers as the test peers and Asterisk write them.
    fn seed(name: &str) -> &'static str {
        match name {
            "sipp" => include_str!("../../../../../../fuzz/seeds/sdp/sipp_uac.sdp"),
            "pjsua2" => include_str!("../../../../../../fuzz/seeds/sdp/pjsua2.sdp"),
            "asterisk" => include_str!("../../../../../../fuzz/seeds/sdp/asterisk_hold.sdp"),
            "several" => include_str!("../../../../../../fuzz/seeds/sdp/several_media_ipv6.sdp"),
            _ => include_str!("../../../../../../fuzz/seeds/sdp/baresip.sdp"),
        }
    }

    #[test]
    fn offers_of_the_test_peers_and_asterisk_are_answered() {
        let mut n = negotiator();
        // SIPp's uac: LF line ends, PCMU only, no telephone-event.
        let (answer, got) = n.answer(seed("sipp"), Direction::SendRecv).unwrap();
        assert_eq!(
            (got.codec, got.telephone_event, got.remote_port),
            (Codec::Ulaw, None, 6000)
        );
        assert!(answer.contains("m=audio 4000 RTP/AVP 0\r\n"), "{answer}");
        // pjsua2: many codecs, telephone-event at three rates (the 8 kHz one is 121), a=rtcp.
        let (answer, got) = n.answer(seed("pjsua2"), Direction::SendRecv).unwrap();
        assert_eq!((got.codec, got.payload_type), (Codec::Ulaw, 0));
        assert_eq!(
            (got.telephone_event, got.remote_rtcp_port),
            (Some(121), 4001)
        );
        assert!(
            answer.contains("m=audio 4000 RTP/AVP 0 8 121\r\n"),
            "{answer}"
        );
        // Asterisk holding us: A-law first, sendonly, a refused video stream.
        let (answer, got) = n.answer(seed("asterisk"), Direction::SendRecv).unwrap();
        assert_eq!(
            (got.codec, got.far_end_hold()),
            (Codec::Alaw, FarEndHold::Held)
        );
        assert!(
            answer.contains("a=recvonly\r\nm=video 0 RTP/AVP 99\r\n"),
            "{answer}"
        );
        // Session-level inactive, media-level c= over IPv6, a second port count.
        let (answer, got) = n.answer(seed("several"), Direction::SendRecv).unwrap();
        assert_eq!(
            (got.remote_ip, got.remote_port),
            ("::1".parse().unwrap(), 5002)
        );
        assert_eq!(got.direction, Direction::Inactive);
        assert!(answer.contains("m=audio 0 RTP/SAVP 0\r\n"), "{answer}");
        let (_, got) = n.answer(seed("baresip"), Direction::SendRecv).unwrap();
        assert_eq!(got.telephone_event, Some(101));
    }

    #[test]
    fn the_fuzz_entry_survives_odd_input() {
        for input in [
            &b"v=0\nm=audio 1 RTP/AVP 0\nc=IN IP4 1.1.1.1\n"[..],
            b"v=0\r\nm=audio 65535/2 RTP/AVP 0 255 300 abc\r\nc=IN IP6 ::\r\na=rtpmap:0 PCMU/8000/1\r\na=fmtp:\r\n",
            b"\xff\xfe=\x00",
            b"v=0\na=rtpmap:1\nm=\n",
        ] {
            fuzz(input);
        }
    }
}
