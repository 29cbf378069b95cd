//! SIP response codes <-> Asterisk hangup causes, as Asterisk maps them both ways.
