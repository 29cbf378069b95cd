//! Calls made by wari: `PJSIP/endpoint` and `PJSIP/endpoint/sip:uri` dial strings.

use std::sync::Arc;

use super::super::SipShared;
use crate::core::tech::{Context, Request};
use crate::core::{ControlReceiver, CoreError};

/// A channel for `request` (not yet: refused).
pub(crate) fn request(
    _shared: &Arc<SipShared>,
    _ctx: &mut Context<'_>,
    _request: &Request,
) -> Result<(Arc<str>, ControlReceiver), CoreError> {
    Err(CoreError::NotImplemented(
        "PJSIP outbound calls are not available yet".into(),
    ))
}
