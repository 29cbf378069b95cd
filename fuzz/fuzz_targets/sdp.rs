//! SDP of SIP calls (`runtime/src/core/tech/sip/media/sdp.rs`): the body is parsed, answered
//! as an inbound offer (our answer must parse again) and read as an answer to our offer.
//!
//! Input: the SDP body.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    wari::fuzz_sdp(data);
});
