//! The loop of incoming SIP requests that no running transaction took: each is routed by
//! its method (and whether it belongs to a dialog, its To tag) — INVITE, ACK, BYE, CANCEL
//! to the calls, REGISTER to the registrar, OPTIONS answered here, anything else refused —
//! and handled in a task of its own, so that one slow request never holds up the others.
//! A CANCEL is answered by rsipstack inside the INVITE's transaction and never reaches
//! that loop: [`Inspector`], the hook rsipstack calls on every message received, reads
//! its `Reason` for the call's hang-up cause (as Asterisk does for CANCEL and BYE).

use std::sync::Arc;

use rsipstack::dialog::DialogId;
use rsipstack::sip::prelude::HeadersExt;
use rsipstack::sip::{Header, Method, Request, SipMessage, StatusCode};
use rsipstack::transaction::TransactionReceiver;
use rsipstack::transaction::endpoint::MessageInspector;
use rsipstack::transaction::transaction::Transaction;
use rsipstack::transport::SipAddr;

use super::transport::external::{Externals, Inspector as ExternalRewrite};
use super::{SipShared, call, causes, registrar};

/// The methods wari handles, as its `Allow` header lists them.
pub(crate) const ALLOWED: &[Method] = &[
    Method::Invite,
    Method::Ack,
    Method::Bye,
    Method::Cancel,
    Method::Options,
    Method::Register,
];

/// The `Allow` header's value.
pub(crate) fn allow_value() -> String {
    ALLOWED
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Where a request goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Route {
    /// A new call.
    Invite,
    /// A request inside an existing dialog (BYE, re-INVITE, INFO, ...) or a CANCEL.
    InDialog,
    /// A registration.
    Register,
    /// A capabilities query outside any dialog: 200 with `Allow` and `Accept`.
    Options,
    /// An ACK no transaction took (of a call already gone): dropped, never answered.
    Drop,
    /// A method wari knows but does not take outside a dialog: 405 with `Allow`.
    NotAllowed,
}

/// The route of a request with `method`, inside a dialog when its To has a tag.
pub(crate) fn route(method: &Method, in_dialog: bool) -> Route {
    match (method, in_dialog) {
        (Method::Ack, _) => Route::Drop,
        (Method::Cancel | Method::Bye, _) => Route::InDialog,
        (Method::Invite, false) => Route::Invite,
        (Method::Register, _) => Route::Register,
        (Method::Options, false) => Route::Options,
        (_, true) => Route::InDialog,
        (_, false) => Route::NotAllowed,
    }
}

/// The cause a request's `Reason` headers give (None: none Asterisk reads).
fn reason_cause(request: &Request) -> Option<u16> {
    let reasons = request.headers.iter().filter_map(|h| match h {
        Header::Reason(reason) => Some(reason.value()),
        _ => None,
    });
    causes::cause_from_reason_headers(reasons)
}

/// The unanswered inbound call a CANCEL names: its Call-ID and From tag.
fn cancelled_call(request: &Request) -> Option<call::CallerKey> {
    let call_id = request.call_id_header().ok()?.value().to_string();
    let tag = request.from_header().ok()?.tag().ok()??.value().to_string();
    Some((call_id, tag))
}

/// rsipstack's hook on every message: what wari sends gets its transport's external
/// addresses (when any transport has some); a CANCEL received gives its call the cause of
/// its `Reason`.
pub(crate) struct Inspector {
    externals: Option<ExternalRewrite>,
    calls: Arc<call::Calls>,
}

impl Inspector {
    pub(crate) fn new(externals: &Arc<Externals>, calls: Arc<call::Calls>) -> Inspector {
        Inspector {
            // Only then: a message to no transport with external addresses is not touched.
            externals: (!externals.is_empty()).then(|| ExternalRewrite(externals.clone())),
            calls,
        }
    }
}

impl MessageInspector for Inspector {
    fn before_send(&self, message: SipMessage, destination: Option<&SipAddr>) -> SipMessage {
        match &self.externals {
            Some(externals) => externals.before_send(message, destination),
            None => message,
        }
    }

    fn after_received(&self, message: SipMessage, _from: Option<&SipAddr>) -> SipMessage {
        if let SipMessage::Request(request) = &message
            && request.method == Method::Cancel
            && let Some(cause) = reason_cause(request)
            && let Some(key) = cancelled_call(request)
        {
            self.calls.cancelled_with(&key, cause);
        }
        message
    }
}

/// Runs until rsipstack's endpoint stops: every request is routed in a task of its own.
pub(crate) async fn serve(shared: Arc<SipShared>, mut incoming: TransactionReceiver) {
    loop {
        let tx = tokio::select! {
            _ = shared.cancel.cancelled() => break,
            tx = incoming.recv() => match tx {
                Some(tx) => tx,
                None => break,
            },
        };
        let shared = shared.clone();
        tokio::spawn(async move { handle(&shared, tx).await });
    }
    tracing::debug!("SIP request loop ended");
}

async fn handle(shared: &Arc<SipShared>, mut tx: Transaction) {
    let in_dialog = tx
        .original
        .to_header()
        .ok()
        .and_then(|to| to.tag().ok().flatten())
        .is_some();
    let route = route(&tx.original.method, in_dialog);
    tracing::debug!(method = %tx.original.method, ?route, "SIP request");
    let answered = match route {
        Route::Invite => {
            call::inbound::invite(shared, tx).await;
            return;
        }
        Route::InDialog => {
            in_dialog_request(shared, tx).await;
            return;
        }
        Route::Register => {
            registrar::handle(shared, tx).await;
            return;
        }
        Route::Drop => return,
        Route::Options => {
            tx.reply_with(
                StatusCode::OK,
                vec![
                    Header::Allow(allow_value().into()),
                    Header::Accept("application/sdp".to_string().into()),
                ],
                None,
            )
            .await
        }
        Route::NotAllowed => {
            tx.reply_with(
                StatusCode::MethodNotAllowed,
                vec![Header::Allow(allow_value().into())],
                None,
            )
            .await
        }
    };
    if let Err(error) = answered {
        tracing::debug!(%error, "SIP answer not sent");
    }
}

/// A request of an existing dialog goes to it; one of no dialog (a BYE after the call
/// ended, a CANCEL after the final answer) gets 481.
async fn in_dialog_request(shared: &Arc<SipShared>, mut tx: Transaction) {
    let id = DialogId::try_from(&tx).ok();
    if tx.original.method == Method::Bye
        && let Some(entry) = id.as_ref().and_then(|id| shared.calls.get(&id.to_string()))
    {
        // The cause the far end gives for leaving, for the channel's hang-up.
        if let Some(cause) = reason_cause(&tx.original) {
            *entry.far_cause.lock().unwrap_or_else(|p| p.into_inner()) = Some(cause);
        }
    }
    let dialog = id.and_then(|id| shared.dialogs.get_dialog(&id));
    let result = match dialog {
        Some(mut dialog) => {
            if tx.original.method == Method::Invite {
                confirmed(&dialog).await;
            }
            dialog.handle(&mut tx).await
        }
        None => tx.reply(StatusCode::CallTransactionDoesNotExist).await,
    };
    if let Err(error) = result {
        tracing::debug!(%error, "SIP in-dialog request failed");
    }
}

/// How long a re-INVITE waits for the ACK of the dialog's first INVITE.
const ACK_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// Waits (at most [`ACK_WAIT`]) until a dialog whose 200 OK awaits its ACK has it: an ACK
/// and a re-INVITE sent right after it can be handled in either order here, and a
/// re-INVITE taken for the first INVITE would never be answered.
async fn confirmed(dialog: &rsipstack::dialog::dialog::Dialog) {
    let deadline = tokio::time::Instant::now() + ACK_WAIT;
    while dialog.state().waiting_ack() && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_routed_by_method_and_dialog() {
        assert_eq!(route(&Method::Invite, false), Route::Invite);
        assert_eq!(route(&Method::Invite, true), Route::InDialog, "re-INVITE");
        assert_eq!(route(&Method::Bye, true), Route::InDialog);
        assert_eq!(
            route(&Method::Bye, false),
            Route::InDialog,
            "481: no such dialog"
        );
        assert_eq!(route(&Method::Cancel, false), Route::InDialog);
        assert_eq!(route(&Method::Ack, false), Route::Drop);
        assert_eq!(route(&Method::Ack, true), Route::Drop);
        assert_eq!(route(&Method::Register, false), Route::Register);
        assert_eq!(route(&Method::Options, false), Route::Options);
        assert_eq!(route(&Method::Options, true), Route::InDialog);
        assert_eq!(route(&Method::Subscribe, false), Route::NotAllowed);
        assert_eq!(route(&Method::Message, false), Route::NotAllowed);
    }

    #[test]
    fn allow_lists_what_wari_handles() {
        assert_eq!(allow_value(), "INVITE, ACK, BYE, CANCEL, OPTIONS, REGISTER");
    }
}
