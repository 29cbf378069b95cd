//! The far end's requests inside a call that may change its media (a re-INVITE, an UPDATE;
//! one without a body, such as INFO, just gets 200), for calls both ways: a new offer is
//! answered by the call's media, and whether the far end now holds us (`sendonly`,
//! `inactive`) is kept for the caller to report (ChannelHold, ChannelUnhold). A re-INVITE
//! that crosses our own (a hold of `moh_passthrough=yes` awaiting its answer) gets 491
//! (RFC 3261 section 14.2); an offer the media cannot take gets 488 or 400.

use rsipstack::dialog::dialog::TransactionHandle;
use rsipstack::sip::{Method, Request, StatusCode};

use super::super::media::{CallMedia, FarEndHold};
use super::driver::sdp_content_type;

/// What answering the far end's request changed.
#[derive(Debug, Default)]
pub(crate) struct Reoffered {
    /// Our answer to its new offer (our SDP from now on).
    pub(crate) answer: Option<String>,
    /// The far end's hold changed: it now holds us (`true`) or took us back.
    pub(crate) hold_changed: Option<bool>,
}

/// Answers `request` (its transaction's `handle`) from `media`; `ours_pending` when our own
/// re-INVITE awaits its answer; `held` is whether the far end held us so far (updated).
pub(crate) async fn answer(
    request: &Request,
    handle: TransactionHandle,
    media: &mut CallMedia,
    ours_pending: bool,
    held: &mut bool,
    me: &str,
) -> Reoffered {
    let body = String::from_utf8_lossy(&request.body).into_owned();
    if request.method != Method::Invite && body.is_empty() {
        let _ = handle.reply(StatusCode::OK).await;
        return Reoffered::default();
    }
    if request.method == Method::Invite && ours_pending {
        let _ = handle.reply(StatusCode::RequestPending).await;
        return Reoffered::default();
    }
    match media.answer_reoffer(&body) {
        Ok((answer, hold)) => {
            let _ = handle
                .respond(
                    StatusCode::OK,
                    Some(vec![sdp_content_type()]),
                    Some(answer.clone().into_bytes()),
                )
                .await;
            let now_held = matches!(hold, FarEndHold::Held);
            let hold_changed = (now_held != *held).then_some(now_held);
            *held = now_held;
            Reoffered {
                answer: Some(answer),
                hold_changed,
            }
        }
        Err(error) => {
            tracing::debug!(channel = %me, %error, "SIP re-offer refused");
            let _ = handle.reply(StatusCode::from(error.sip_status())).await;
            Reoffered::default()
        }
    }
}
