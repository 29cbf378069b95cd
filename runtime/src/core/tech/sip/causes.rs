//! SIP response codes <-> Asterisk hangup causes (Q.850 numbers), as Asterisk maps them both
//! ways, and the `Reason` header (RFC 3326) that carries a cause with BYE, CANCEL and
//! final responses.
//!
//! Facts (Asterisk 23's chan_pjsip and res_pjsip):
//! - A failed INVITE's final response gives the channel's cause through
//!   [`cause_from_sip_status`] unless the response has a `Reason` header, which wins
//!   ([`cause_from_reason_headers`]: a `Q.850` cause as is, else a `SIP` cause mapped).
//!   The same `Reason` rule applies to a received BYE or CANCEL.
//! - Hanging up an unanswered inbound call answers the INVITE with
//!   [`sip_status_from_cause`]; a cause without a SIP equivalent answers
//!   [`DEFAULT_REJECT`] (603 Decline).
//! - A CANCELled inbound INVITE is answered [`REQUEST_TERMINATED`] (487); with no `Reason`
//!   on the CANCEL, the channel's cause is what 487 maps to (127, interworking).
//! - BYE, CANCEL and final responses of 300 and above that wari sends carry
//!   [`reason_header`] (`Q.850;cause=N`), and for a call answered elsewhere also
//!   [`ANSWERED_ELSEWHERE_REASON`].

/// Q.850 causes used here, by Asterisk's names.
pub(crate) mod cause {
    /// Unallocated (unassigned) number.
    pub(crate) const UNALLOCATED: u16 = 1;
    /// No route to the specified transit network.
    pub(crate) const NO_ROUTE_TRANSIT_NET: u16 = 2;
    /// No route to destination.
    pub(crate) const NO_ROUTE_DESTINATION: u16 = 3;
    /// Normal call clearing.
    pub(crate) const NORMAL_CLEARING: u16 = 16;
    /// User busy.
    pub(crate) const USER_BUSY: u16 = 17;
    /// No user responding.
    pub(crate) const NO_USER_RESPONSE: u16 = 18;
    /// No answer from user (user alerted).
    pub(crate) const NO_ANSWER: u16 = 19;
    /// Subscriber absent (Asterisk's `UNREGISTERED`).
    pub(crate) const SUBSCRIBER_ABSENT: u16 = 20;
    /// Call rejected.
    pub(crate) const CALL_REJECTED: u16 = 21;
    /// Number changed.
    pub(crate) const NUMBER_CHANGED: u16 = 22;
    /// Redirected to new destination.
    pub(crate) const REDIRECTED_TO_NEW_DESTINATION: u16 = 23;
    /// Answered elsewhere.
    pub(crate) const ANSWERED_ELSEWHERE: u16 = 26;
    /// Destination out of order.
    pub(crate) const DESTINATION_OUT_OF_ORDER: u16 = 27;
    /// Invalid number format (address incomplete).
    pub(crate) const INVALID_NUMBER_FORMAT: u16 = 28;
    /// Facility rejected.
    pub(crate) const FACILITY_REJECTED: u16 = 29;
    /// Normal, unspecified.
    pub(crate) const NORMAL_UNSPECIFIED: u16 = 31;
    /// No circuit/channel available (Asterisk's `CONGESTION`).
    pub(crate) const NORMAL_CIRCUIT_CONGESTION: u16 = 34;
    /// Network out of order (Asterisk's `FAILURE`).
    pub(crate) const NETWORK_OUT_OF_ORDER: u16 = 38;
    /// Temporary failure.
    pub(crate) const NORMAL_TEMPORARY_FAILURE: u16 = 41;
    /// Switching equipment congestion.
    pub(crate) const SWITCH_CONGESTION: u16 = 42;
    /// Bearer capability not available (no common codec).
    pub(crate) const BEARERCAPABILITY_NOTAVAIL: u16 = 58;
    /// Channel type not implemented.
    pub(crate) const CHAN_NOT_IMPLEMENTED: u16 = 66;
    /// Recovery on timer expiry.
    pub(crate) const RECOVERY_ON_TIMER_EXPIRE: u16 = 102;
    /// Interworking, unspecified.
    pub(crate) const INTERWORKING: u16 = 127;
}

/// The answer to a CANCELled INVITE.
#[cfg_attr(
    not(test),
    allow(
        dead_code,
        reason = "rsipstack answers the CANCELled INVITE itself; the value is asserted in tests"
    )
)]
pub(crate) const REQUEST_TERMINATED: u16 = 487;

/// The answer to an unanswered INVITE hung up with a cause that has no SIP equivalent.
pub(crate) const DEFAULT_REJECT: u16 = 603;

/// The `Reason` value added, besides the Q.850 one, when a call was answered elsewhere.
pub(crate) const ANSWERED_ELSEWHERE_REASON: &str =
    "SIP;cause=200;text=\"Call completed elsewhere\"";

/// The hangup cause for a final SIP response `status` (without a `Reason` header).
pub(crate) fn cause_from_sip_status(status: u16) -> u16 {
    use cause::*;
    match status {
        302 => REDIRECTED_TO_NEW_DESTINATION,
        401 | 403 | 407 | 603 => CALL_REJECTED,
        404 | 485 | 604 => UNALLOCATED,
        408 => NO_USER_RESPONSE,
        409 => NORMAL_TEMPORARY_FAILURE,
        410 => NUMBER_CHANGED,
        420 => NO_ROUTE_DESTINATION,
        480 | 483 => NO_ANSWER,
        484 => INVALID_NUMBER_FORMAT,
        486 | 600 => USER_BUSY,
        488 | 606 => BEARERCAPABILITY_NOTAVAIL,
        500 => NETWORK_OUT_OF_ORDER,
        501 => FACILITY_REJECTED,
        502 => DESTINATION_OUT_OF_ORDER,
        503 => NORMAL_CIRCUIT_CONGESTION,
        504 => RECOVERY_ON_TIMER_EXPIRE,
        405 | 411 | 413 | 414 | 415 | 481 | 482 | 487 | 491 | 493 | 505 => INTERWORKING,
        // Others by class: 4xx and 6xx interworking, 5xx congestion.
        _ => match status / 100 {
            4 | 6 => INTERWORKING,
            5 => NORMAL_CIRCUIT_CONGESTION,
            _ => NORMAL_CLEARING,
        },
    }
}

/// The final SIP response for hanging up an unanswered inbound call with `cause`
/// ([`DEFAULT_REJECT`] when Asterisk has no equivalent).
pub(crate) fn sip_status_from_cause(cause: u16) -> u16 {
    use cause::*;
    match cause {
        REDIRECTED_TO_NEW_DESTINATION => 302,
        UNALLOCATED | NO_ROUTE_DESTINATION | NO_ROUTE_TRANSIT_NET => 404,
        NORMAL_CIRCUIT_CONGESTION | SWITCH_CONGESTION | CHAN_NOT_IMPLEMENTED => 503,
        NO_USER_RESPONSE => 408,
        NO_ANSWER | SUBSCRIBER_ABSENT | NORMAL_UNSPECIFIED => 480,
        CALL_REJECTED => 403,
        NUMBER_CHANGED => 410,
        INVALID_NUMBER_FORMAT => 484,
        USER_BUSY => 486,
        NETWORK_OUT_OF_ORDER | INTERWORKING => 500,
        FACILITY_REJECTED => 501,
        DESTINATION_OUT_OF_ORDER => 502,
        BEARERCAPABILITY_NOTAVAIL => 488,
        _ => DEFAULT_REJECT,
    }
}

/// The cause carried by a message's `Reason` header values (RFC 3326), if any: a `Q.850`
/// cause (its low 7 bits) wins over a `SIP` one, which is mapped by
/// [`cause_from_sip_status`]; among several of a kind the last counts.
pub(crate) fn cause_from_reason_headers<'a>(
    values: impl IntoIterator<Item = &'a str>,
) -> Option<u16> {
    let mut q850 = None;
    let mut sip = None;
    for value in values {
        for reason in value.split(',') {
            let mut parts = reason.split(';').map(str::trim);
            let protocol = parts.next().unwrap_or_default();
            let code = parts
                .filter_map(|p| p.split_once('='))
                .find(|(key, _)| key.trim().eq_ignore_ascii_case("cause"))
                .and_then(|(_, value)| value.trim().parse::<u16>().ok())
                .filter(|code| *code > 0);
            if protocol.eq_ignore_ascii_case("q.850") {
                q850 = code.map(|c| c & 0x7f).or(q850);
            } else if protocol.eq_ignore_ascii_case("sip") {
                sip = code.or(sip);
            }
        }
    }
    q850.or_else(|| sip.map(cause_from_sip_status))
}

/// The `Reason` value wari sends with a hangup for `cause`: `Q.850;cause=N`.
pub(crate) fn reason_header(cause: u16) -> String {
    format!("Q.850;cause={}", cause & 0x7f)
}

/// Every `Reason` header wari's BYE, CANCEL or failure response carries for a hang-up with
/// `cause`, in order: [`ANSWERED_ELSEWHERE_REASON`] when the call was answered elsewhere
/// (cause 26), then [`reason_header`].
pub(crate) fn reason_headers(cause: u16) -> Vec<String> {
    let mut reasons = Vec::with_capacity(2);
    if cause == cause::ANSWERED_ELSEWHERE {
        reasons.push(ANSWERED_ELSEWHERE_REASON.to_string());
    }
    reasons.push(reason_header(cause));
    reasons
}

#[cfg(test)]
mod tests {
    use super::cause::*;
    use super::*;

    #[test]
    fn main_rows_both_ways() {
        for (status, cause) in [
            (486, USER_BUSY),
            (480, NO_ANSWER),
            (408, NO_USER_RESPONSE),
            (404, UNALLOCATED),
            (503, NORMAL_CIRCUIT_CONGESTION),
            (484, INVALID_NUMBER_FORMAT),
            (488, BEARERCAPABILITY_NOTAVAIL),
            (302, REDIRECTED_TO_NEW_DESTINATION),
            (410, NUMBER_CHANGED),
            (501, FACILITY_REJECTED),
            (502, DESTINATION_OUT_OF_ORDER),
        ] {
            assert_eq!(cause_from_sip_status(status), cause, "{status}");
            assert_eq!(sip_status_from_cause(cause), status, "{cause}");
        }
    }

    #[test]
    fn responses_to_causes() {
        assert_eq!(cause_from_sip_status(603), CALL_REJECTED);
        assert_eq!(cause_from_sip_status(403), CALL_REJECTED);
        assert_eq!(cause_from_sip_status(600), USER_BUSY);
        assert_eq!(
            cause_from_sip_status(487),
            INTERWORKING,
            "a CANCELled INVITE"
        );
        assert_eq!(cause_from_sip_status(500), NETWORK_OUT_OF_ORDER);
        assert_eq!(cause_from_sip_status(504), RECOVERY_ON_TIMER_EXPIRE);
        assert_eq!(cause_from_sip_status(505), INTERWORKING);
        assert_eq!(cause_from_sip_status(481), INTERWORKING);
        // Classes without a row of their own.
        assert_eq!(cause_from_sip_status(499), INTERWORKING);
        assert_eq!(cause_from_sip_status(599), NORMAL_CIRCUIT_CONGESTION);
        assert_eq!(cause_from_sip_status(699), INTERWORKING);
        assert_eq!(cause_from_sip_status(200), NORMAL_CLEARING);
    }

    #[test]
    fn causes_to_responses() {
        assert_eq!(sip_status_from_cause(CALL_REJECTED), 403);
        assert_eq!(sip_status_from_cause(NORMAL_UNSPECIFIED), 480);
        assert_eq!(sip_status_from_cause(SUBSCRIBER_ABSENT), 480);
        assert_eq!(sip_status_from_cause(SWITCH_CONGESTION), 503);
        assert_eq!(sip_status_from_cause(CHAN_NOT_IMPLEMENTED), 503);
        assert_eq!(sip_status_from_cause(INTERWORKING), 500);
        assert_eq!(sip_status_from_cause(NO_ROUTE_DESTINATION), 404);
        // No SIP equivalent: Decline.
        assert_eq!(sip_status_from_cause(NORMAL_CLEARING), DEFAULT_REJECT);
        assert_eq!(sip_status_from_cause(0), 603);
        assert_eq!(sip_status_from_cause(ANSWERED_ELSEWHERE), 603);
        assert_eq!(REQUEST_TERMINATED, 487);
    }

    #[test]
    fn reason_headers_carry_a_cause() {
        assert_eq!(
            cause_from_reason_headers(["Q.850;cause=17;text=\"busy\""]),
            Some(17)
        );
        assert_eq!(
            cause_from_reason_headers(["SIP;cause=486"]),
            Some(USER_BUSY)
        );
        assert_eq!(
            cause_from_reason_headers(["SIP;cause=603", "Q.850 ; cause=19"]),
            Some(NO_ANSWER),
            "Q.850 wins"
        );
        assert_eq!(
            cause_from_reason_headers(["SIP;cause=200;text=\"elsewhere\", Q.850;cause=26"]),
            Some(ANSWERED_ELSEWHERE)
        );
        assert_eq!(
            cause_from_reason_headers(["Q.850;cause=145"]),
            Some(17),
            "low 7 bits"
        );
        assert_eq!(cause_from_reason_headers([]), None);
        assert_eq!(
            cause_from_reason_headers(["Q.850;cause=x", "junk", "Q.850"]),
            None
        );
        assert_eq!(reason_header(USER_BUSY), "Q.850;cause=17");
        assert_eq!(
            cause_from_reason_headers([ANSWERED_ELSEWHERE_REASON]),
            Some(NORMAL_CLEARING),
            "the SIP 200 reason alone reads as a normal clearing"
        );
    }

    #[test]
    fn a_hangup_carries_its_cause_and_answered_elsewhere_says_so_first() {
        assert_eq!(reason_headers(NORMAL_CLEARING), ["Q.850;cause=16"]);
        assert_eq!(reason_headers(USER_BUSY), ["Q.850;cause=17"]);
        assert_eq!(
            reason_headers(ANSWERED_ELSEWHERE),
            [
                "SIP;cause=200;text=\"Call completed elsewhere\"",
                "Q.850;cause=26"
            ]
        );
        // Read back, the pair gives the Q.850 cause.
        assert_eq!(
            cause_from_reason_headers(
                reason_headers(ANSWERED_ELSEWHERE)
                    .iter()
                    .map(String::as_str)
            ),
            Some(ANSWERED_ELSEWHERE)
        );
    }
}
