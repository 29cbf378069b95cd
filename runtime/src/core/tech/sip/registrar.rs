//! Contacts that register to wari (`type=aor`): bindings, expiry, `max_contacts`, `remove_existing`.

use rsipstack::transaction::transaction::Transaction;

use super::SipShared;

/// The registered contacts (filled in by the registrar's work; empty for now).
#[derive(Debug, Default)]
pub(crate) struct Registrar {}

/// A REGISTER request: answered 405 until the registrar exists.
pub(crate) async fn handle(_shared: &SipShared, mut tx: Transaction) {
    let allow = rsipstack::sip::Header::Allow(super::dispatch::allow_value().into());
    if let Err(error) = tx
        .reply_with(
            rsipstack::sip::StatusCode::MethodNotAllowed,
            vec![allow],
            None,
        )
        .await
    {
        tracing::debug!(%error, "REGISTER answer not sent");
    }
}
