//! SIP messages as wari receives them on a transport (`runtime/src/core/tech/sip/fuzz.rs`):
//! rsipstack's parser and Via marking, the transaction and dialog keys, then wari's readings
//! of the headers it uses (From/To/Contact/Via/Authorization/Expires/Reason/CSeq).
//!
//! Input: one datagram.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    wari::fuzz_sip_message(data);
});
