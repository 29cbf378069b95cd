//! Q.850 hangup causes: the numbers ARI reports and their texts, and the `reason` words
//! `DELETE /channels/{id}` accepts.

/// Normal clearing.
pub const NORMAL_CLEARING: u16 = 16;
/// User busy.
pub const USER_BUSY: u16 = 17;
/// No user responding.
pub const NO_USER_RESPONSE: u16 = 18;
/// No answer.
pub const NO_ANSWER: u16 = 19;
/// Call rejected.
pub const CALL_REJECTED: u16 = 21;
/// Unallocated number.
pub const UNALLOCATED: u16 = 1;
/// Normal, unspecified.
pub const NORMAL_UNSPECIFIED: u16 = 31;
/// Congestion (switching equipment congestion).
pub const CONGESTION: u16 = 34;
/// Temporary failure.
pub const FAILURE: u16 = 38;

/// The text Asterisk pairs with a cause (`cause_txt`).
pub fn text(cause: u16) -> &'static str {
    match cause {
        0 => "Unknown",
        1 => "Unallocated (unassigned) number",
        2 => "No route to specified transmit network",
        3 => "No route to destination",
        16 => "Normal Clearing",
        17 => "User busy",
        18 => "No user responding",
        19 => "User alerting, no answer",
        21 => "Call Rejected",
        22 => "Number changed",
        26 => "Answered elsewhere",
        27 => "Destination out of order",
        28 => "Invalid number format",
        31 => "Normal, unspecified",
        34 => "Circuit/channel congestion",
        38 => "Network out of order",
        41 => "Temporary failure",
        42 => "Switching equipment congestion",
        58 => "Bearer capability not available",
        127 => "Interworking, unspecified",
        _ => "Unknown",
    }
}

/// The cause for a hangup `reason` word, or `None` for an unknown word.
pub fn from_reason(reason: &str) -> Option<u16> {
    Some(match reason {
        "normal" => 16,
        "busy" => 17,
        "congestion" => 34,
        "no_answer" => 19,
        "timeout" => 18,
        "rejected" => 21,
        "unallocated" => 1,
        "normal_unspecified" => 31,
        "number_incomplete" => 28,
        "codec_mismatch" => 58,
        "interworking" => 127,
        "failure" => 38,
        "answered_elsewhere" => 26,
        _ => return None,
    })
}

/// The DIALSTATUS word for a failed call with this cause.
pub fn dial_status(cause: u16) -> &'static str {
    match cause {
        USER_BUSY => "BUSY",
        NO_ANSWER | NO_USER_RESPONSE => "NOANSWER",
        CONGESTION | 42 => "CONGESTION",
        _ => "CHANUNAVAIL",
    }
}
