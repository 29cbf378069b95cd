//! Calls arriving: an INVITE outside any dialog becomes a channel in the endpoint's context.

use std::sync::Arc;

use rsipstack::sip::StatusCode;
use rsipstack::transaction::transaction::Transaction;

use super::super::SipShared;

/// A new INVITE (not yet taken: answered 480 Temporarily Unavailable).
pub(crate) async fn invite(_shared: &Arc<SipShared>, mut tx: Transaction) {
    if let Err(error) = tx.reply(StatusCode::TemporarilyUnavailable).await {
        tracing::debug!(%error, "INVITE answer not sent");
    }
}
