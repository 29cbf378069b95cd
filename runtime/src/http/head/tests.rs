use super::*;

/// Everything hyper reads for `input` fed at once.
fn normalized(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    HeadNormalizer::new().feed(input, &mut out);
    out
}

/// What hyper reads when the connection delivers `input` in the given pieces, using the
/// fast path first on each piece as the transport does.
fn normalized_in_pieces(pieces: &[&[u8]]) -> Vec<u8> {
    let mut normalizer = HeadNormalizer::new();
    let mut out = Vec::new();
    for piece in pieces {
        let n = normalizer.pass_through(piece);
        out.extend_from_slice(&piece[..n]);
        normalizer.feed(&piece[n..], &mut out);
    }
    out
}

/// The output is the same however the input is split: at every byte boundary, and one
/// byte at a time.
fn assert_split_invariant(input: &[u8]) -> Vec<u8> {
    let whole = normalized(input);
    for split in 0..=input.len() {
        let (a, b) = input.split_at(split);
        assert_eq!(
            normalized_in_pieces(&[a, b]),
            whole,
            "split at {split} of {:?}",
            String::from_utf8_lossy(input)
        );
    }
    let bytes: Vec<&[u8]> = input.chunks(1).collect();
    assert_eq!(normalized_in_pieces(&bytes), whole, "byte by byte");
    // Rebuilt lines may outgrow Asterisk's limit (an added version, percent-encoding),
    // which only the client's lines are held to.
    if !contains_marker(&whole) && whole.split(|&b| b == b'\n').all(|l| l.len() < MAX_LINE) {
        assert_eq!(
            normalized(&whole),
            whole,
            "normalising twice changes nothing"
        );
    }
    whole
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn refused(refusal: Refusal) -> String {
    format!(
        "GET / HTTP/1.1\r\n{REFUSED_HEADER}: {}\r\n\r\n",
        refusal.code()
    )
}

#[test]
fn a_clean_head_passes_unchanged_without_copying() {
    let request = b"POST /ari/channels?endpoint=Test/1&app=x HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nabcde";
    let mut normalizer = HeadNormalizer::new();
    assert_eq!(normalizer.pass_through(request), request.len());
    assert_eq!(assert_split_invariant(request), request);
    let pipelined = [&request[..], &request[..]].concat();
    assert_eq!(
        HeadNormalizer::new().pass_through(&pipelined),
        pipelined.len()
    );
}

#[test]
fn raw_bytes_in_the_target_are_percent_encoded() {
    let out = assert_split_invariant(
        b"POST /ari/channels?callerId=Oracle <1000>&x=\"a#b\"`\x7f\xc3\xa9 HTTP/1.1\r\nHost: h\r\n\r\n",
    );
    assert_eq!(
        text(&out),
        "POST /ari/channels?callerId=Oracle HTTP/1.1\r\nHost: h\r\n\r\n",
        "a raw space ends the target"
    );
    let out = assert_split_invariant(
        b"POST /ari/channels?callerId=Oracle%20<1000>&x=\"a#b\"`\x7f\xc3\xa9|{}^\\ HTTP/1.1\r\n\r\n",
    );
    assert_eq!(
        text(&out),
        "POST /ari/channels?callerId=Oracle%20%3C1000%3E&x=%22a%23b%22%60%7F%C3%A9|{}^\\ HTTP/1.1\r\n\r\n"
    );
    assert!(
        http::Uri::try_from(
            "/ari/channels?callerId=Oracle%20%3C1000%3E&x=%22a%23b%22%60%7F%C3%A9|{}^\\"
        )
        .is_ok()
    );
}

#[test]
fn the_request_line_is_read_as_asterisk_reads_it() {
    for (input, expected) in [
        ("get /ari/x HTTP/1.1\r\n\r\n", "GET /ari/x HTTP/1.1\r\n\r\n"),
        (
            "  Options   /ari/x   GARBAGE MORE\r\n\r\n",
            "OPTIONS /ari/x HTTP/1.1\r\n\r\n",
        ),
        ("GET /ari/x\r\n\r\n", "GET /ari/x HTTP/1.1\r\n\r\n"),
        ("GET /ari/x HTTP/1.0\r\n\r\n", "GET /ari/x HTTP/1.1\r\n\r\n"),
        ("GET /ari/x HTTP/1.1\n\n", "GET /ari/x HTTP/1.1\r\n\r\n"),
        (
            "GET\t/ari/x\tHTTP/1.1\r\n\r\n",
            "GET /ari/x HTTP/1.1\r\n\r\n",
        ),
        (
            "FROB /ari/x HTTP/1.1\r\n\r\n",
            "FROB /ari/x HTTP/1.1\r\n\r\n",
        ),
        (
            "G(T /ari/x HTTP/1.1\r\n\r\n",
            "UNKNOWN /ari/x HTTP/1.1\r\n\r\n",
        ),
        (
            "connect /ari/x HTTP/1.1\r\n\r\n",
            "UNKNOWN /ari/x HTTP/1.1\r\n\r\n",
        ),
        (
            "GET /ari/x\0 junk HTTP/1.1\r\n\r\n",
            "GET /ari/x HTTP/1.1\r\n\r\n",
        ),
    ] {
        assert_eq!(
            text(&assert_split_invariant(input.as_bytes())),
            expected,
            "{input:?}"
        );
    }
}

#[test]
fn targets_that_are_not_paths_are_not_found_and_keep_the_connection() {
    for target in [
        "*",
        "http://127.0.0.1:8088/ari/asterisk/info",
        "ari/asterisk/info",
    ] {
        let input = format!(
            "OPTIONS {target} HTTP/1.1\r\nHost: h\r\nConnection: close\r\nContent-Length: 2\r\n\r\nabGET /ari HTTP/1.1\r\n\r\n"
        );
        let out = assert_split_invariant(input.as_bytes());
        assert_eq!(
            text(&out),
            format!(
                "OPTIONS / HTTP/1.1\r\nConnection: close\r\nContent-Length: 2\r\n{REFUSED_HEADER}: not-found\r\n\r\nabGET /ari HTTP/1.1\r\n\r\n"
            ),
            "{target}"
        );
    }
}

#[test]
fn header_lines_are_kept_dropped_or_trimmed_as_asterisk_does() {
    let input = b"GET /ari HTTP/1.1\r\nbogus line\r\n: novalue\r\nX-Empty:\r\nX-Blank:   \r\nSpace Name: x\r\n Leading: y\r\nCtl: a\x01b\r\nTrail : z  \r\nNul: ab\0cd\r\nX-Wari-Refused: not-found\r\nOk:\tv a l\r\n\r\n";
    let out = assert_split_invariant(input);
    assert_eq!(
        text(&out),
        "GET /ari HTTP/1.1\r\nTrail: z\r\nNul: ab\r\nOk: v a l\r\n\r\n"
    );
    // A line that is blank up to a NUL ends the head.
    let out =
        assert_split_invariant(b"GET /ari HTTP/1.1\r\nA: b\r\n\0C: d\r\nGET /x HTTP/1.1\r\n\r\n");
    assert_eq!(
        text(&out),
        "GET /ari HTTP/1.1\r\nA: b\r\n\r\nGET /x HTTP/1.1\r\n\r\n"
    );
}

#[test]
fn lines_of_4095_bytes_pass_and_longer_ones_are_refused() {
    for (total, ok) in [(4094, true), (4095, true), (4096, false), (5000, false)] {
        let base = "GET /ari/asterisk/info?x=";
        let line = format!("{base}{}\r\n", "a".repeat(total - base.len() - 2));
        assert_eq!(line.len(), total);
        let out = assert_split_invariant(format!("{line}Host: h\r\n\r\n").as_bytes());
        if ok {
            assert!(text(&out).starts_with(base), "{total}");
        } else {
            assert_eq!(text(&out), refused(Refusal::RequestLineTooLong), "{total}");
        }
        let header = format!("X-Long: {}\r\n", "a".repeat(total - 10));
        assert_eq!(header.len(), total);
        let out = normalized(format!("GET /ari HTTP/1.1\r\n{header}\r\n").as_bytes());
        if ok {
            assert!(text(&out).contains("X-Long: aaa"), "{total}");
        } else {
            assert_eq!(text(&out), refused(Refusal::HeaderLineTooLong), "{total}");
        }
    }
    // Refused as soon as the line is too long, without waiting for its end.
    let mut normalizer = HeadNormalizer::new();
    let mut out = Vec::new();
    normalizer.feed(&[b'a'; MAX_LINE], &mut out);
    assert_eq!(text(&out), refused(Refusal::RequestLineTooLong));
    assert!(normalizer.closed());
    normalizer.feed(b"\r\nGET / HTTP/1.1\r\n\r\n", &mut out);
    assert_eq!(
        text(&out),
        refused(Refusal::RequestLineTooLong),
        "nothing after a refusal"
    );
}

#[test]
fn a_request_line_without_a_target_is_invalid() {
    for input in ["GET\r\n", "\r\n", "   \r\n", "\0GET /ari HTTP/1.1\r\n"] {
        let out = assert_split_invariant(format!("{input}Host: h\r\n\r\n").as_bytes());
        assert_eq!(text(&out), refused(Refusal::InvalidRequest), "{input:?}");
    }
}

#[test]
fn the_101st_counted_header_is_refused() {
    let head = |n: usize| {
        let mut s = String::from("GET /ari HTTP/1.1\r\nskipped line\r\n");
        for i in 0..n {
            s.push_str(&format!("X-{i}: v\r\n"));
        }
        s + "\r\n"
    };
    let out = normalized(head(100).as_bytes());
    assert!(text(&out).contains("X-99: v\r\n\r\n"));
    assert_eq!(
        text(&normalized(head(101).as_bytes())),
        refused(Refusal::TooManyHeaders)
    );
}

#[test]
fn framing_follows_asterisk() {
    for (headers, expected) in [
        ("Content-Length: 3xyz", Ok("Content-Length: 3\r\n")),
        ("Content-Length: +3", Ok("Content-Length: 3\r\n")),
        ("Content-Length: 003", Ok("Content-Length: 3\r\n")),
        ("Content-Length: 0", Ok("Content-Length: 0\r\n")),
        ("Content-Length: -0", Ok("")),
        (
            "Content-Length: 3\r\nContent-Length: 9",
            Ok("Content-Length: 3\r\n"),
        ),
        ("Content-Length: abc", Err(Refusal::InvalidContentLength)),
        ("Content-Length: -3", Err(Refusal::InvalidContentLength)),
        (
            "Content-Length: 2147483648",
            Err(Refusal::InvalidContentLength),
        ),
        (
            "Transfer-Encoding: identity\r\nContent-Length: 3",
            Ok("Content-Length: 3\r\n"),
        ),
        (
            "Transfer-Encoding: CHUNKED\r\nContent-Length: 3",
            Ok("Transfer-Encoding: chunked\r\n"),
        ),
        (
            "Transfer-Encoding: gzip",
            Err(Refusal::UnsupportedTransferEncoding),
        ),
        (
            "Transfer-Encoding: gzip, chunked",
            Err(Refusal::UnsupportedTransferEncoding),
        ),
        (
            "Transfer-Encoding: gzip\r\nContent-Length: abc",
            Err(Refusal::UnsupportedTransferEncoding),
        ),
    ] {
        let input = format!("POST /ari/x HTTP/1.1\r\n{headers}\r\n\r\n");
        let out = text(&normalized(input.as_bytes()));
        match expected {
            Ok(framing) => assert_eq!(
                out,
                format!("POST /ari/x HTTP/1.1\r\n{framing}\r\n"),
                "{headers}"
            ),
            Err(refusal) => assert_eq!(out, refused(refusal), "{headers}"),
        }
    }
}

#[test]
fn bodies_pass_unchanged_and_the_next_head_is_found() {
    let input = b"POST /a?<1> HTTP/1.1\r\nContent-Length: 22\r\n\r\nGET /b<2> HTTP/1.1\r\n\r\nGET /c?<3> HTTP/1.1\r\n\r\n";
    let out = assert_split_invariant(input);
    assert_eq!(
        text(&out),
        "POST /a?%3C1%3E HTTP/1.1\r\nContent-Length: 22\r\n\r\nGET /b<2> HTTP/1.1\r\n\r\nGET /c?%3C3%3E HTTP/1.1\r\n\r\n"
    );
}

#[test]
fn chunked_bodies_are_followed_to_their_end() {
    let input = b"POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nGET /\r\nA\r\n0123456789\r\n0\r\nTrailer: x\r\n\r\nGET /<b> HTTP/1.1\r\n\r\n";
    let out = assert_split_invariant(input);
    assert_eq!(
        text(&out),
        "POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nGET /\r\nA\r\n0123456789\r\n0\r\nTrailer: x\r\n\r\nGET /%3Cb%3E HTTP/1.1\r\n\r\n"
    );
    // A chunk size Asterisk cannot read: the rest passes untouched.
    let input =
        b"POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nGET /<b> HTTP/1.1\r\n\r\n";
    let out = assert_split_invariant(input);
    assert!(text(&out).ends_with("zz\r\nGET /<b> HTTP/1.1\r\n\r\n"));
}

#[test]
fn after_an_upgrade_request_bytes_pass_until_the_answer() {
    let head = b"GET /ari/events?app=a HTTP/1.1\r\nUpgrade: websocket\r\n\r\n";
    let mut normalizer = HeadNormalizer::new();
    assert_eq!(normalizer.pass_through(head), head.len());
    assert!(normalizer.awaiting_upgrade());
    assert_eq!(normalizer.pass_through(b"\x81\x05<raw>"), 7);
    normalizer.upgrade_answered(false);
    let mut out = Vec::new();
    normalizer.feed(b"GET /<x> HTTP/1.1\r\nUpgrade: websocket\r\n\r\n", &mut out);
    assert_eq!(
        text(&out),
        "GET /%3Cx%3E HTTP/1.1\r\nUpgrade: websocket\r\n\r\n"
    );
    normalizer.upgrade_answered(true);
    assert_eq!(
        normalizer.pass_through(b"GET <x>\r\n\r\n"),
        11,
        "switched: raw for good"
    );
    assert!(!normalizer.awaiting_upgrade());
}

/// Found by fuzz/http_head: a clean head split across reads was rebuilt (`Name: value`
/// for `Name:value`, the framing header moved last) while a whole one passed unchanged.
#[test]
fn a_clean_head_in_pieces_comes_out_as_a_whole_one() {
    for input in [
        &b"POST /a HTTP/1.1\r\nTransfer-Enciodng:!chunke\x9a\r\n\r\n5;x\r\n\0hGellET"[..],
        b"POST /a HTTP/1.1\r\nContent-Length: 3\r\nHost:  h\r\n\r\nabcGET /b HTTP/1.1\r\n\r\n",
    ] {
        let out = assert_split_invariant(input);
        assert!(out.starts_with(&input[..input.iter().position(|&b| b == b'\n').unwrap_or(0)]));
    }
    assert_eq!(
        text(&normalized(
            b"POST /a HTTP/1.1\r\nContent-Length: 3\r\nHost:  h\r\n\r\nabc"
        )),
        "POST /a HTTP/1.1\r\nContent-Length: 3\r\nHost:  h\r\n\r\nabc"
    );
}

#[test]
fn refusal_codes_round_trip() {
    for refusal in Refusal::ALL {
        assert_eq!(Refusal::from_code(refusal.code().as_bytes()), Some(refusal));
    }
    assert_eq!(Refusal::from_code(b"bogus"), None);
}
