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

/// The `dialstatus` of the Dial event of a leg that hung up with this cause (Asterisk's
/// `ast_hangup_cause_to_dial_status`).
pub fn dial_status(cause: u16) -> &'static str {
    match cause {
        USER_BUSY => "BUSY",
        CONGESTION => "CONGESTION",
        3 | 20 => "CHANUNAVAIL",
        _ => "NOANSWER",
    }
}

/// Dial()'s DIALSTATUS when every leg failed, with these causes (as app_dial counts
/// them): all busy, congested or unavailable (any cause but no answer and normal
/// clearing) gives BUSY if one was busy, else CONGESTION if one was congested, else
/// CHANUNAVAIL; otherwise NOANSWER.
pub fn dial_outcome(causes: &[u16]) -> &'static str {
    let (mut busy, mut congestion, mut unavailable) = (0, 0, 0);
    for cause in causes {
        match *cause {
            USER_BUSY => busy += 1,
            CONGESTION => congestion += 1,
            NO_ANSWER | NORMAL_CLEARING => {}
            _ => unavailable += 1,
        }
    }
    if busy + congestion + unavailable < causes.len() {
        "NOANSWER"
    } else if busy > 0 {
        "BUSY"
    } else if congestion > 0 {
        "CONGESTION"
    } else {
        "CHANUNAVAIL"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_legs_dial_status_is_asterisks() {
        assert_eq!(dial_status(USER_BUSY), "BUSY");
        assert_eq!(dial_status(CONGESTION), "CONGESTION");
        assert_eq!(dial_status(3), "CHANUNAVAIL");
        assert_eq!(dial_status(20), "CHANUNAVAIL");
        for other in [
            NO_ANSWER,
            NORMAL_CLEARING,
            CALL_REJECTED,
            UNALLOCATED,
            FAILURE,
            0,
        ] {
            assert_eq!(dial_status(other), "NOANSWER", "{other}");
        }
    }

    #[test]
    fn dialstatus_counts_the_legs_as_app_dial() {
        assert_eq!(dial_outcome(&[USER_BUSY]), "BUSY");
        assert_eq!(dial_outcome(&[CONGESTION, USER_BUSY]), "BUSY");
        assert_eq!(dial_outcome(&[CONGESTION, CALL_REJECTED]), "CONGESTION");
        assert_eq!(dial_outcome(&[CALL_REJECTED]), "CHANUNAVAIL");
        assert_eq!(dial_outcome(&[FAILURE, UNALLOCATED]), "CHANUNAVAIL");
        // One leg that simply was not answered: nobody was available.
        assert_eq!(dial_outcome(&[NO_ANSWER]), "NOANSWER");
        assert_eq!(dial_outcome(&[USER_BUSY, NO_ANSWER]), "NOANSWER");
        assert_eq!(dial_outcome(&[NORMAL_CLEARING]), "NOANSWER");
    }
}
