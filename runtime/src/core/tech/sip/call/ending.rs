//! How wari ends a SIP call when its channel hangs up, for calls in both directions: the
//! decision ([`ending`], sans-IO: a final response before an inbound call is answered, a
//! CANCEL before an outbound one is, a BYE after either) and sending it ([`send`]). Every
//! one of them carries the channel's cause in `Reason` headers as Asterisk writes them
//! ([`causes::reason_headers`]: `Q.850;cause=N`, preceded by the "Call completed
//! elsewhere" one for cause 26).
//!
//! rsipstack's own CANCEL takes no extra headers, so the CANCEL is built here from the
//! INVITE (same Request-URI, Via branch, From, To, Call-ID and CSeq number, RFC 3261 §9.1)
//! and sent in a client transaction of its own. Before any provisional response (RFC 3261
//! forbids a CANCEL then) it waits, as Asterisk does, for the first one
//! ([`heard_provisional`]); a final response instead means there is nothing to cancel (an
//! answer is then ended by a BYE, by the call's task).

use std::sync::Arc;
use std::time::Duration;

use rsipstack::dialog::dialog::DialogState;
use rsipstack::dialog::invite_dialog::InviteDialog;
use rsipstack::sip::prelude::{HasHeaders, HeadersExt};
use rsipstack::sip::{Header, Method, StatusCode};
use rsipstack::transaction::endpoint::EndpointInnerRef;
use rsipstack::transaction::key::{TransactionKey, TransactionRole};
use rsipstack::transaction::transaction::Transaction;

use super::super::causes;
use super::driver::Phase;

/// Which side of the INVITE wari is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Side {
    /// The call came in: wari answers the INVITE.
    Uas,
    /// wari made the call: it sent the INVITE.
    Uac,
}

/// What ends a call, for [`send`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Ending {
    /// Answer the unanswered INVITE with `status`.
    Reject { status: u16, reasons: Vec<String> },
    /// CANCEL our unanswered INVITE.
    Cancel { reasons: Vec<String> },
    /// BYE the answered call.
    Bye { reasons: Vec<String> },
    /// Already over.
    Nothing,
}

/// How a call on `side` that `was` in a phase ends when its channel hangs up with `cause`.
pub(crate) fn ending(side: Side, was: Phase, cause: u16) -> Ending {
    let reasons = causes::reason_headers(cause);
    match (was, side) {
        (Phase::Ended, _) => Ending::Nothing,
        (Phase::Early, Side::Uas) => Ending::Reject {
            status: causes::sip_status_from_cause(cause),
            reasons,
        },
        (Phase::Early, Side::Uac) => Ending::Cancel { reasons },
        (Phase::Answered, _) => Ending::Bye { reasons },
    }
}

fn headers(reasons: &[String]) -> Vec<Header> {
    reasons
        .iter()
        .map(|r| Header::Reason(r.clone().into()))
        .collect()
}

/// Sends `ending` on `dialog` (a task of its own for what waits for an answer). `me` names
/// the channel in logs.
pub(crate) fn send(endpoint: &EndpointInnerRef, dialog: &InviteDialog, ending: Ending, me: &str) {
    match ending {
        Ending::Nothing => {}
        Ending::Reject { status, reasons } => {
            tracing::debug!(channel = %me, status, "SIP call refused");
            // One header with the values in order (RFC 3261 §7.3.1: the same as several).
            let reason = (!reasons.is_empty()).then(|| reasons.join(", "));
            if let Err(error) = dialog.reject(Some(StatusCode::from(status)), reason) {
                tracing::debug!(channel = %me, %error, "SIP final response not sent");
            }
        }
        Ending::Bye { reasons } => {
            let dialog = dialog.clone();
            let me = me.to_string();
            tokio::spawn(async move {
                if let Err(error) = dialog.bye_with_headers(Some(headers(&reasons))).await {
                    tracing::debug!(channel = %me, %error, "SIP BYE not sent");
                }
            });
        }
        Ending::Cancel { reasons } => {
            let dialog = dialog.clone();
            let endpoint = endpoint.clone();
            let me = me.to_string();
            tokio::spawn(async move {
                let sent = if heard_provisional(&dialog).await {
                    cancel_with_reasons(&endpoint, &dialog, &reasons).await
                } else {
                    tracing::debug!(channel = %me, "SIP INVITE ended before a provisional: no CANCEL");
                    Ok(())
                };
                if let Err(error) = sent {
                    tracing::debug!(channel = %me, %error, "SIP CANCEL not sent");
                }
            });
        }
    }
}

/// How often [`heard_provisional`] looks at the dialog.
const PROVISIONAL_POLL: Duration = Duration::from_millis(20);

/// The longest [`heard_provisional`] waits: an INVITE transaction with no response ends
/// after 64 T1 (32 s, RFC 3261 timer B); this bounds the wait should it not.
const PROVISIONAL_WAIT: Duration = Duration::from_secs(64);

/// Whether the INVITE of `dialog` has had a provisional response (at once when it has),
/// waiting while it has had no response at all; false once it ends with a final one.
async fn heard_provisional(dialog: &InviteDialog) -> bool {
    let deadline = tokio::time::Instant::now() + PROVISIONAL_WAIT;
    loop {
        match provisional_heard(&dialog.state()) {
            Some(heard) => return heard,
            None if tokio::time::Instant::now() >= deadline => return false,
            None => tokio::time::sleep(PROVISIONAL_POLL).await,
        }
    }
}

/// Sans-IO part of [`heard_provisional`]: None while nothing is heard (still calling),
/// else whether a CANCEL is due (a provisional response, and no final one yet).
fn provisional_heard(state: &DialogState) -> Option<bool> {
    match state {
        DialogState::Calling(_) => None,
        DialogState::Trying(_) | DialogState::Early(..) => Some(true),
        _ => Some(false),
    }
}

/// The CANCEL of `invite` (RFC 3261 §9.1) with `reasons` (None: the INVITE has no
/// CSeq to copy).
pub(crate) fn cancel_request(
    invite: &rsipstack::sip::Request,
    reasons: &[String],
) -> Option<rsipstack::sip::Request> {
    let mut cancel = invite.clone();
    let seq = cancel.cseq_header().ok()?.seq().ok()?;
    cancel.headers_mut().retain(|h| {
        matches!(
            h,
            Header::Via(_)
                | Header::From(_)
                | Header::To(_)
                | Header::CallId(_)
                | Header::Route(_)
                | Header::MaxForwards(_)
                | Header::CSeq(_)
        )
    });
    cancel.method = Method::Cancel;
    cancel
        .cseq_header_mut()
        .ok()?
        .mut_seq(seq)
        .ok()?
        .mut_method(Method::Cancel)
        .ok()?;
    cancel.headers_mut().extend(headers(reasons));
    cancel.headers_mut().push(Header::ContentLength(0.into()));
    cancel.body = Vec::new();
    Some(cancel)
}

async fn cancel_with_reasons(
    endpoint: &EndpointInnerRef,
    dialog: &InviteDialog,
    reasons: &[String],
) -> rsipstack::Result<()> {
    let request = cancel_request(&dialog.initial_request(), reasons)
        .ok_or_else(|| rsipstack::Error::Error("the INVITE has no CSeq".into()))?;
    let key = TransactionKey::from_request(&request, TransactionRole::Client)?;
    let mut tx = Transaction::new_client(key, request, Arc::clone(endpoint), None);
    tx.send().await?;
    // Its 200 (or 481 when the INVITE was answered meanwhile) ends the transaction.
    while let Some(message) = tx.receive().await {
        if let rsipstack::sip::SipMessage::Response(response) = message
            && response.status_code.kind() != rsipstack::sip::StatusCodeKind::Provisional
        {
            break;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::super::causes::cause;
    use super::*;

    #[test]
    fn before_the_answer_a_response_or_a_cancel_after_it_a_bye() {
        assert_eq!(
            ending(Side::Uas, Phase::Early, cause::USER_BUSY),
            Ending::Reject {
                status: 486,
                reasons: vec!["Q.850;cause=17".into()]
            }
        );
        assert_eq!(
            ending(Side::Uac, Phase::Early, cause::NORMAL_CLEARING),
            Ending::Cancel {
                reasons: vec!["Q.850;cause=16".into()]
            }
        );
        for side in [Side::Uas, Side::Uac] {
            assert_eq!(
                ending(side, Phase::Answered, cause::NORMAL_CLEARING),
                Ending::Bye {
                    reasons: vec!["Q.850;cause=16".into()]
                }
            );
            assert_eq!(ending(side, Phase::Ended, 16), Ending::Nothing);
        }
    }

    #[test]
    fn a_cancel_waits_for_a_provisional_and_is_not_sent_after_a_final_response() {
        let id = rsipstack::dialog::DialogId {
            call_id: "c1".into(),
            local_tag: "l1".into(),
            remote_tag: String::new(),
        };
        let response = rsipstack::sip::Response::default();
        assert_eq!(provisional_heard(&DialogState::Calling(id.clone())), None);
        assert_eq!(
            provisional_heard(&DialogState::Trying(id.clone())),
            Some(true)
        );
        assert_eq!(
            provisional_heard(&DialogState::Early(id.clone(), response.clone())),
            Some(true)
        );
        assert_eq!(
            provisional_heard(&DialogState::Confirmed(id.clone(), response.clone())),
            Some(false)
        );
        assert_eq!(
            provisional_heard(&DialogState::WaitAck(id.clone(), response)),
            Some(false)
        );
        assert_eq!(
            provisional_heard(&DialogState::Terminated(
                id,
                rsipstack::dialog::dialog::TerminatedReason::UasBusy
            )),
            Some(false)
        );
    }

    #[test]
    fn a_fork_that_lost_is_cancelled_as_answered_elsewhere() {
        assert_eq!(
            ending(Side::Uac, Phase::Early, cause::ANSWERED_ELSEWHERE),
            Ending::Cancel {
                reasons: vec![
                    causes::ANSWERED_ELSEWHERE_REASON.into(),
                    "Q.850;cause=26".into()
                ]
            }
        );
    }

    #[test]
    fn a_cancel_matches_its_invite() {
        let invite = "INVITE sip:bob@127.0.0.1:5070 SIP/2.0\r\n\
             Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK-abc;rport\r\n\
             Max-Forwards: 70\r\n\
             From: <sip:wari@127.0.0.1>;tag=f1\r\n\
             To: <sip:bob@127.0.0.1:5070>\r\n\
             Call-ID: c1@wari\r\n\
             CSeq: 2 INVITE\r\n\
             Contact: <sip:asterisk@127.0.0.1:5060>\r\n\
             Content-Type: application/sdp\r\n\
             Content-Length: 4\r\n\r\nv=0\n";
        let invite = rsipstack::sip::Request::try_from(invite).expect("INVITE");
        let cancel = cancel_request(&invite, &causes::reason_headers(26)).expect("CANCEL");
        let text = cancel.to_string();
        assert!(
            text.starts_with("CANCEL sip:bob@127.0.0.1:5070 SIP/2.0\r\n"),
            "{text}"
        );
        for line in [
            "Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK-abc;rport",
            "From: <sip:wari@127.0.0.1>;tag=f1",
            "To: <sip:bob@127.0.0.1:5070>",
            "Call-ID: c1@wari",
            "CSeq: 2 CANCEL",
            "Reason: SIP;cause=200;text=\"Call completed elsewhere\"",
            "Reason: Q.850;cause=26",
            "Content-Length: 0",
        ] {
            assert!(text.contains(&format!("{line}\r\n")), "{line} in {text}");
        }
        assert!(!text.contains("Content-Type"), "{text}");
        assert!(!text.contains("Contact"), "{text}");
        assert!(cancel.body.is_empty());
    }
}
