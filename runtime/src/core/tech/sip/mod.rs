//! `PJSIP`: the SIP channel technology (issue 17), configured by `pjsip.conf`. Phones and
//! trunks call in (their channels run the endpoint's dialplan context) and are called out
//! to; media is RTP/AVP with G.711.
//!
//! - `auth`, `identify`, `causes`: sans-IO policy (digest challenges, which endpoint a
//!   source address is, SIP status <-> hangup cause).
//! - `media`: SDP offer/answer and each call's RTP/RTCP session and media edge.
//! - `registrar`, `qualify`, `registration`: contacts registering to us, OPTIONS pings,
//!   our registrations to providers.

pub(crate) mod auth;
pub(crate) mod causes;
pub(crate) mod identify;
pub(crate) mod media;
pub(crate) mod qualify;
pub(crate) mod registrar;
pub(crate) mod registration;
