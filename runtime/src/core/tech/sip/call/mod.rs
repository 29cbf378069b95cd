//! SIP calls: INVITE dialogs arriving (`inbound`) and made by wari (`outbound`), each a
//! channel whose [`Driver`](crate::core::tech::Driver) turns what wari does into SIP.

pub(crate) mod inbound;
pub(crate) mod outbound;
