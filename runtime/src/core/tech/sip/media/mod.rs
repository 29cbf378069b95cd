//! A SIP call's media: SDP offer/answer, the RTP/RTCP session (G.711, RFC 4733 events, symmetric latching, jitter buffer, timeout) and the media edge the engine runs.
