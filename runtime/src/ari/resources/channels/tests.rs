//! Unit tests of the channel handlers' parameter checks.

use super::*;

fn status(result: Result<impl std::fmt::Debug, AriError>) -> (u16, String) {
    let error = result.expect_err("an error");
    (error.status.as_u16(), error.message)
}

#[test]
fn hangup_reasons_map_to_causes() {
    assert_eq!(hangup_cause(None, None), Ok(16));
    assert_eq!(hangup_cause(Some(""), Some("")), Ok(16));
    assert_eq!(hangup_cause(Some("busy"), None), Ok(17));
    assert_eq!(hangup_cause(Some("answered_elsewhere"), None), Ok(26));
    assert_eq!(hangup_cause(Some("interworking"), None), Ok(127));
    assert_eq!(hangup_cause(None, Some("21")), Ok(21));
    assert_eq!(hangup_cause(None, Some("999")), Ok(999));
    assert_eq!(
        status(hangup_cause(Some("busy"), Some("17"))),
        (
            400,
            "The reason and reason_code can't both be specified".into()
        )
    );
    assert_eq!(
        status(hangup_cause(Some("Busy"), None)),
        (400, "Invalid reason for hangup reason provided".into())
    );
    assert_eq!(status(hangup_cause(None, Some("abc"))).0, 400);
    assert_eq!(status(hangup_cause(None, Some("1.5"))).0, 400);
    assert_eq!(status(hangup_cause(None, Some("-1"))).0, 400);
}

#[test]
fn variables_accept_strings_and_value_objects() {
    let parsed = parse_variables(&json!({
        "A": "1",
        "B": {"value": "2", "report_events": true},
        "C": {"value": "3"},
    }))
    .expect("valid");
    assert_eq!(
        parsed,
        vec![
            ("A".to_string(), "1".to_string(), false),
            ("B".to_string(), "2".to_string(), true),
            ("C".to_string(), "3".to_string(), false),
        ]
    );
    assert_eq!(parse_variables(&json!({})), Ok(Vec::new()));
}

#[test]
fn variables_refuse_other_shapes() {
    for bad in [
        json!({"A": 1}),
        json!({"A": true}),
        json!({"A": null}),
        json!({"A": ["x"]}),
        json!({"A": {}}),
        json!({"A": {"value": 5}}),
        json!({"A": {"value": "x", "report_events": "yes"}}),
        json!({"A": {"value": "x", "report_events": null}}),
    ] {
        assert_eq!(status(parse_variables(&bad)).0, 400, "{bad}");
    }
    // As in Asterisk, what is not an object holds no variables, and entries with an
    // empty name are skipped.
    assert_eq!(parse_variables(&json!("A=1")), Ok(Vec::new()));
    assert_eq!(parse_variables(&json!(["A"])), Ok(Vec::new()));
    assert_eq!(
        parse_variables(&json!({"": "x", "B": "y"})),
        Ok(vec![("B".to_string(), "y".to_string(), false)])
    );
}

#[test]
fn originate_timeouts() {
    assert_eq!(originate_timeout(None), Some(Duration::from_secs(30)));
    assert_eq!(originate_timeout(Some(0)), Some(Duration::from_secs(30)));
    assert_eq!(originate_timeout(Some(-5)), Some(Duration::from_secs(30)));
    assert_eq!(originate_timeout(Some(-1)), None);
    assert_eq!(originate_timeout(Some(7)), Some(Duration::from_secs(7)));
}

#[test]
fn formats_must_be_known() {
    assert_eq!(check_formats("ulaw"), Ok(()));
    assert_eq!(check_formats("ulaw, slin16,opus"), Ok(()));
    assert_eq!(
        status(check_formats("ulaw,mp3")),
        (400, "Provided format (mp3) was not found".into())
    );
    assert_eq!(status(check_formats("ulaw,")).0, 400);
}

#[test]
fn external_media_pairings_are_checked_as_asterisk_checks_them() {
    let shape = |encapsulation, transport, connection_type| ExternalShape {
        encapsulation,
        transport,
        connection_type,
    };
    // Asterisk 23.4.1's answers.
    for (encapsulation, transport, connection, message) in [
        (
            "rtp",
            "tcp",
            "client",
            "transport must be 'udp' for rtp encapsulation",
        ),
        (
            "rtp",
            "bogus",
            "client",
            "transport must be 'udp' for rtp encapsulation",
        ),
        (
            "rtp",
            "websocket",
            "client",
            "encapsulation must be 'none' for websocket transport",
        ),
        (
            "audiosocket",
            "udp",
            "client",
            "transport must be 'tcp' for audiosocket encapsulation",
        ),
        (
            "rtp",
            "udp",
            "server",
            "'server' connection_type can only be used with the websocket transport",
        ),
    ] {
        assert_eq!(
            status(check_external_shape(&shape(
                encapsulation,
                transport,
                connection
            ))),
            (400, message.to_string()),
            "{encapsulation}/{transport}/{connection}"
        );
    }
    for fine in [
        shape("rtp", "udp", "client"),
        shape("rtp", "udp", "peer"),
        shape("none", "websocket", "server"),
        shape("bogus", "udp", "client"),
    ] {
        assert_eq!(check_external_shape(&fine), Ok(()));
    }
    assert_eq!(
        check_external_carrier(&shape("RTP", "UDP", "client")),
        Ok(())
    );
    assert_eq!(
        status(check_external_carrier(&shape("bogus", "udp", "client"))),
        (
            501,
            "The encapsulation and/or transport is not supported".into()
        )
    );
    // AudioSocket over TCP and WebSocket media are carried.
    assert_eq!(
        check_external_carrier(&shape("audiosocket", "tcp", "client")),
        Ok(())
    );
    assert_eq!(
        check_external_carrier(&shape("none", "websocket", "server")),
        Ok(())
    );
}

#[test]
fn external_hosts_need_a_port() {
    assert_eq!(split_host_port("127.0.0.1:4000"), Some(("127.0.0.1", 4000)));
    assert_eq!(
        split_host_port("asr.example:65535"),
        Some(("asr.example", 65535))
    );
    assert_eq!(split_host_port("[::1]:5004"), Some(("::1", 5004)));
    for bad in [
        "127.0.0.1",
        "127.0.0.1:",
        ":4000",
        "host:0",
        "host:65536",
        "host:+5",
        "host:x",
        "::1:5004",
        "[::1]",
        "[::1]5004",
        "",
    ] {
        assert_eq!(split_host_port(bad), None, "{bad}");
    }
}

#[test]
fn external_formats() {
    assert_eq!(external_format("ulaw").map(|f| f.payload_type), Ok(0));
    assert_eq!(external_format("slin16").map(|f| f.payload_type), Ok(118));
    assert_eq!(status(external_format("opus")).0, 501);
    assert_eq!(
        status(external_format("mp3")),
        (400, "Provided format (mp3) was not found".into())
    );
}

#[test]
fn app_args_split_like_dialplan_arguments() {
    assert_eq!(app_args(None), Vec::<String>::new());
    assert_eq!(app_args(Some("")), Vec::<String>::new());
    assert_eq!(app_args(Some("a,b")), ["a", "b"]);
    assert_eq!(app_args(Some("x,\"y,z\"")), ["x", "y,z"]);
}
