//! The request-head normaliser (`runtime/src/http/head.rs`): any byte stream a client may
//! send, delivered in pieces of any size. What hyper reads must not depend on how the stream
//! was split (the transport tries the copy-free path first on every piece), and a stream the
//! normaliser produced must come out of it unchanged (it is already clean) unless it carries
//! a refusal or lines longer than Asterisk reads.
//!
//! Input: one byte giving the piece size (0: the whole stream at once), then the stream.

#![no_main]

use libfuzzer_sys::fuzz_target;
use wari::http::head::{HeadNormalizer, MAX_LINE, contains_marker};

fn whole(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    HeadNormalizer::new().feed(input, &mut out);
    out
}

fuzz_target!(|data: &[u8]| {
    let Some((&size, stream)) = data.split_first() else {
        return;
    };
    let expected = whole(stream);
    let pieces: Vec<&[u8]> = if size == 0 || stream.is_empty() {
        vec![stream]
    } else {
        stream.chunks(usize::from(size)).collect()
    };
    let mut normalizer = HeadNormalizer::new();
    let mut out = Vec::new();
    for piece in pieces {
        let clean = normalizer.pass_through(piece);
        out.extend_from_slice(&piece[..clean]);
        normalizer.feed(&piece[clean..], &mut out);
    }
    assert_eq!(out, expected, "the split changed what hyper reads");
    if !contains_marker(&expected) && expected.split(|&b| b == b'\n').all(|l| l.len() < MAX_LINE) {
        assert_eq!(
            whole(&expected),
            expected,
            "normalising twice changed the stream"
        );
    }
});
