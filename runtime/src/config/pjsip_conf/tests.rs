//! Reader tests: defaults, templates, codec order, and each reported problem.

use std::path::Path;

use super::*;
use crate::config::conf_file::parse_str;
use crate::config::diagnostics::Severity;

/// Reads `text` as pjsip.conf: the config and every problem as (severity, line, message).
fn load(text: &str) -> (PjsipConfig, Vec<(Severity, u32, String)>) {
    let mut problems = Problems::default();
    let file = parse_str(Path::new("pjsip.conf"), text, &mut problems);
    let config = read(Some(&file), &mut problems);
    let found = problems
        .iter()
        .map(|p| (p.severity, p.location.line, p.message.clone()))
        .collect();
    (config, found)
}

/// The one problem at `line`, which must have `severity` and contain every word.
fn assert_problem(
    problems: &[(Severity, u32, String)],
    severity: Severity,
    line: u32,
    words: &[&str],
) {
    let found: Vec<_> = problems.iter().filter(|p| p.1 == line).collect();
    assert_eq!(found.len(), 1, "one problem at line {line}: {problems:#?}");
    assert_eq!(found[0].0, severity, "{found:?}");
    for word in words {
        assert!(found[0].2.contains(word), "'{word}' in {found:?}");
    }
}

const GOOD: &str = "\
[udp]
type = transport
bind = 127.0.0.1

[phone](!)
type = endpoint
disallow = all
allow = alaw,ulaw
context = phones

[alice](phone)
auth = alice
aors = alice
callerid = \"Alice A\" <100>

[alice]
type = auth
username = alice
password = secret

[alice]
type = aor
max_contacts = 1
";

#[test]
fn an_absent_file_is_no_sip() {
    let mut problems = Problems::default();
    let config = read(None, &mut problems);
    assert!(config.is_empty());
    assert!(problems.is_empty());
}

#[test]
fn a_typical_file_reads_with_asterisk_defaults_and_templates() {
    let (config, problems) = load(GOOD);
    assert!(problems.is_empty(), "{problems:#?}");
    assert!(!config.is_empty());

    let udp = config.transport("udp").expect("transport");
    assert_eq!(udp.protocol, Protocol::Udp);
    assert_eq!(udp.bind, "127.0.0.1:5060".parse().expect("addr"));
    assert_eq!(udp.location.line, 1);

    let alice = config.endpoint("alice").expect("endpoint from a template");
    assert_eq!(alice.context, "phones");
    assert_eq!(alice.codecs, [Codec::Alaw, Codec::Ulaw], "allow order kept");
    assert_eq!(alice.auth.as_deref(), Some("alice"));
    assert_eq!(alice.aors, ["alice"]);
    assert_eq!(
        alice.callerid,
        Some(CallerIdSetting {
            name: Some("Alice A".into()),
            number: Some("100".into())
        })
    );
    assert_eq!(alice.dtmf_mode, DtmfMode::Rfc4733);
    assert!(!alice.rtp_symmetric && alice.force_rport && !alice.rewrite_contact);
    assert!(!alice.direct_media);
    assert_eq!(alice.rtp_timeout, 0);
    assert_eq!(alice.transport, None);
    assert!(
        config.endpoint("phone").is_none(),
        "templates are not objects"
    );

    let auth = config
        .auth("alice")
        .expect("auth shares the endpoint's name");
    assert_eq!(
        (auth.username.as_str(), auth.password.as_str()),
        ("alice", "secret")
    );
    assert_eq!(auth.realm, None);

    let aor = config.aor("alice").expect("aor");
    assert_eq!(aor.max_contacts, 1);
    assert!(!aor.remove_existing);
    assert_eq!(
        (
            aor.default_expiration,
            aor.minimum_expiration,
            aor.maximum_expiration,
            aor.qualify_frequency
        ),
        (3600, 60, 7200, 0)
    );
}

#[test]
fn endpoint_defaults_are_asterisks() {
    let (config, problems) = load("[e]\ntype=endpoint\nallow=ulaw\n");
    assert!(problems.is_empty(), "{problems:#?}");
    let e = config.endpoint("e").expect("endpoint");
    assert_eq!(e.context, "default");
    assert_eq!(e.codecs, [Codec::Ulaw]);
    assert!(e.force_rport);
    assert!(config.is_empty(), "no transport: SIP does not start");
}

#[test]
fn allow_and_disallow_apply_in_order() {
    let (config, _) = load(
        "[a]\ntype=endpoint\nallow=all\n\n\
         [b]\ntype=endpoint\nallow=ulaw\nallow=alaw\ndisallow=ulaw\nallow=ulaw:20\n\n\
         [c]\ntype=endpoint\ndisallow=all\nallow=ulaw,ulaw\n",
    );
    let codecs = |name| config.endpoint(name).expect(name).codecs.clone();
    assert_eq!(codecs("a"), [Codec::Ulaw, Codec::Alaw]);
    assert_eq!(codecs("b"), [Codec::Alaw, Codec::Ulaw]);
    assert_eq!(codecs("c"), [Codec::Ulaw]);
}

#[test]
fn transports_other_protocols_and_bind_forms() {
    let (config, problems) = load(
        "[t1]\ntype=transport\nprotocol=tcp\nbind=[::1]:5070\nlocal_net=10.0.0.0/8,192.168.0.0/255.255.0.0\n\
         external_media_address=203.0.113.1\nexternal_signaling_address=sip.example.com\nexternal_signaling_port=5080\n\n\
         [t2]\ntype=transport\nprotocol=tls\nbind=0.0.0.0\ncert_file=/c.pem\npriv_key_file=k.pem\nmethod=tlsv1_2\n\n\
         [t3]\ntype=transport\nbind=::1\n",
    );
    assert!(problems.is_empty(), "{problems:#?}");
    let t1 = config.transport("t1").expect("t1");
    assert_eq!(t1.protocol, Protocol::Tcp);
    assert_eq!(t1.bind, "[::1]:5070".parse().expect("addr"));
    assert_eq!(t1.local_net.len(), 2);
    assert_eq!(t1.local_net[1].prefix(), 16);
    assert_eq!(t1.external_media_address.as_deref(), Some("203.0.113.1"));
    assert_eq!(t1.external_signaling_port, Some(5080));
    let t2 = config.transport("t2").expect("t2");
    assert_eq!(t2.bind.port(), 5061, "TLS's default port");
    assert_eq!(t2.method, TlsMethod::Tls12);
    let mut resolved = config.clone();
    resolved.resolve_paths(Path::new("/etc/wari"));
    let t2 = resolved.transport("t2").expect("t2");
    assert_eq!(
        t2.cert_file.as_deref(),
        Some(Path::new("/c.pem")),
        "absolute stays"
    );
    assert_eq!(
        t2.priv_key_file.as_deref(),
        Some(Path::new("/etc/wari/k.pem"))
    );

    assert_eq!(
        config.transport("t3").expect("t3").bind,
        "[::1]:5060".parse().expect("addr")
    );
}

#[test]
fn section_type_problems() {
    let (config, problems) = load(
        "[x]\nfoo=bar\n\n[y]\ntype=trunk\n\n[global]\ntype=global\n\n[e]\ntype=endpoint\nallow=ulaw\n\n[e]\ntype=endpoint\n",
    );
    assert_problem(&problems, Severity::Error, 1, &["[x]", "no type"]);
    assert_problem(&problems, Severity::Error, 5, &["unknown type", "trunk"]);
    assert_problem(
        &problems,
        Severity::Warning,
        8,
        &["global", "not supported"],
    );
    assert_problem(&problems, Severity::Error, 14, &["[e]", "twice"]);
    assert_eq!(config.endpoints.len(), 1);
    assert_eq!(
        config.endpoint("e").expect("first kept").codecs,
        [Codec::Ulaw]
    );
}

#[test]
fn bad_values_are_reported_at_their_line() {
    let (config, problems) = load(
        "[t]\ntype=transport\nbind=my.host:5060\n\n\
         [e]\ntype=endpoint\nallow=ulaw,g722\nrtp_symmetric=perhaps\nrtp_timeout=-1\n\
         dtmf_mode=info\ndirect_media=yes\nfrobnicate=1\ndtmf_mode=loud\n\n\
         [a]\ntype=auth\nauth_type=md5\nusername=u\npassword=p\n\n\
         [tls]\ntype=transport\nprotocol=tls\nbind=127.0.0.1\n\n\
         [o]\ntype=aor\nmax_contacts=many\ncontact=alice@example.com\n",
    );
    assert_problem(&problems, Severity::Error, 3, &["bind", "my.host:5060"]);
    assert_problem(&problems, Severity::Warning, 7, &["g722", "ulaw and alaw"]);
    assert_problem(&problems, Severity::Error, 8, &["rtp_symmetric", "perhaps"]);
    assert_problem(&problems, Severity::Error, 9, &["rtp_timeout", "-1"]);
    assert_problem(&problems, Severity::Warning, 10, &["info", "rfc4733"]);
    assert_problem(
        &problems,
        Severity::Warning,
        11,
        &["direct_media", "anchors"],
    );
    assert_problem(&problems, Severity::Warning, 12, &["frobnicate"]);
    assert_problem(&problems, Severity::Error, 13, &["dtmf_mode", "loud"]);
    assert_problem(&problems, Severity::Error, 17, &["auth_type", "md5"]);
    assert_problem(&problems, Severity::Error, 21, &["TLS", "cert_file"]);
    assert_problem(&problems, Severity::Error, 28, &["max_contacts", "many"]);
    assert_problem(&problems, Severity::Error, 29, &["contact", "sip:"]);
    assert_eq!(problems.len(), 12, "{problems:#?}");

    assert!(
        config.transports.is_empty(),
        "bad bind and TLS without keys"
    );
    assert!(config.auths.is_empty(), "md5 auth left out");
    let e = config.endpoint("e").expect("endpoint stays");
    assert_eq!(e.codecs, [Codec::Ulaw]);
    assert_eq!(e.dtmf_mode, DtmfMode::Rfc4733, "info falls back to rfc4733");
    assert!(!e.direct_media);
}

#[test]
fn moh_passthrough_is_read_and_no_is_asterisks_default() {
    let (config, problems) = load(
        "[e]\ntype=endpoint\nallow=ulaw\nmoh_passthrough=no\n\n\
         [f]\ntype=endpoint\nallow=ulaw\nmoh_passthrough=yes\n\n\
         [g]\ntype=endpoint\nallow=ulaw\n\n\
         [h]\ntype=endpoint\nallow=ulaw\nmoh_passthrough=maybe\n",
    );
    assert_problem(
        &problems,
        Severity::Error,
        18,
        &["moh_passthrough", "maybe"],
    );
    assert_eq!(problems.len(), 1, "{problems:#?}");
    let passthrough = |name: &str| config.endpoint(name).map(|e| e.moh_passthrough);
    assert_eq!(passthrough("e"), Some(false));
    assert_eq!(passthrough("f"), Some(true));
    assert_eq!(passthrough("g"), Some(false), "Asterisk's default");
    assert_eq!(
        passthrough("h"),
        Some(false),
        "a bad value keeps the default"
    );
}

#[test]
fn tls_methods_asterisk_names_and_versions_wari_does_not_speak() {
    let tls = |name: &str, method: &str| {
        format!(
            "[{name}]\ntype=transport\nprotocol=tls\nbind=127.0.0.1:0\ncert_file=c.pem\n\
             priv_key_file=k.pem\nmethod={method}\n\n"
        )
    };
    let text = [
        tls("a", "tlsv1_2"),
        tls("b", "TLSv1_3"),
        tls("c", "sslv23"),
        tls("d", "unspecified"),
        tls("e", "tlsv1"),
        tls("f", "sslv3"),
        tls("g", "tls99"),
    ]
    .concat();
    let (config, problems) = load(&text);
    let method = |name: &str| config.transport(name).map(|t| t.method);
    assert_eq!(method("a"), Some(TlsMethod::Tls12));
    assert_eq!(method("b"), Some(TlsMethod::Tls13));
    assert_eq!(method("c"), Some(TlsMethod::Default));
    assert_eq!(method("d"), Some(TlsMethod::Default));
    // Each section is 7 lines and a blank: `method` of the n-th (0-based) is line 8n + 7.
    assert_problem(
        &problems,
        Severity::Error,
        39,
        &["tlsv1", "TLS 1.2 and 1.3", "[e] ignored"],
    );
    assert_problem(&problems, Severity::Error, 47, &["sslv3", "not supported"]);
    assert_problem(
        &problems,
        Severity::Error,
        55,
        &["tls99", "method", "[g] ignored"],
    );
    assert_eq!(problems.len(), 3, "{problems:#?}");
    assert!(config.transport("e").is_none() && config.transport("g").is_none());
}

#[test]
fn references_to_missing_sections_are_errors() {
    let (config, problems) = load(
        "[t]\ntype=transport\nbind=127.0.0.1\n\n\
         [e]\ntype=endpoint\nallow=ulaw\naors=nope\noutbound_auth=nope\ntransport=nope\n\n\
         [locked]\ntype=endpoint\nallow=ulaw\nauth=missing\n\n\
         [i]\ntype=identify\nendpoint=ghost\nmatch=10.0.0.1\n\n\
         [r]\ntype=registration\nserver_uri=sip:reg.example.com\nclient_uri=sip:me@reg.example.com\n\
         outbound_auth=nope\ntransport=nope\n",
    );
    assert_problem(&problems, Severity::Error, 8, &["aors", "nope", "aor"]);
    assert_problem(&problems, Severity::Error, 9, &["outbound_auth", "nope"]);
    assert_problem(&problems, Severity::Error, 10, &["transport", "nope"]);
    assert_problem(
        &problems,
        Severity::Error,
        15,
        &["auth", "missing", "ignored"],
    );
    assert_problem(&problems, Severity::Error, 19, &["endpoint", "ghost"]);
    assert_problem(&problems, Severity::Error, 26, &["outbound_auth", "nope"]);
    assert_problem(&problems, Severity::Error, 27, &["transport", "nope"]);
    assert_eq!(problems.len(), 7, "{problems:#?}");
    assert!(config.endpoint("e").is_some());
    assert!(
        config.endpoint("locked").is_none(),
        "an endpoint whose auth is missing must not take calls unchallenged"
    );
    assert!(config.identifies.is_empty());
    assert_eq!(config.registrations.len(), 1);
}

#[test]
fn two_transports_on_one_address_collide() {
    let (config, problems) = load(
        "[a]\ntype=transport\nbind=0.0.0.0:5060\n\n\
         [b]\ntype=transport\nbind=127.0.0.1:5060\n\n\
         [c]\ntype=transport\nprotocol=tcp\nbind=127.0.0.1:5060\n\n\
         [d]\ntype=transport\nprotocol=tls\nbind=127.0.0.1:5060\ncert_file=c\npriv_key_file=k\n",
    );
    assert_problem(&problems, Severity::Error, 5, &["[b]", "collides", "[a]"]);
    assert_problem(&problems, Severity::Error, 14, &["[d]", "collides", "[c]"]);
    assert_eq!(
        problems.len(),
        2,
        "udp and tcp on one port are fine: {problems:#?}"
    );
    assert_eq!(config.transports.len(), 4);
}

#[test]
fn identify_matches_addresses_and_networks_but_not_names() {
    let (config, problems) = load(
        "[e]\ntype=endpoint\nallow=ulaw\n\n\
         [i]\ntype=identify\nendpoint=e\nmatch=10.0.0.1, 192.168.1.0/24\nmatch=sip.provider.com\nmatch=[2001:db8::1]\n",
    );
    assert_problem(
        &problems,
        Severity::Warning,
        9,
        &["sip.provider.com", "host names"],
    );
    assert_eq!(problems.len(), 1, "{problems:#?}");
    let i = &config.identifies[0];
    assert_eq!(i.endpoint, "e");
    let matches: Vec<String> = i.matches.iter().map(ToString::to_string).collect();
    assert_eq!(
        matches,
        ["10.0.0.1/32", "192.168.1.0/24", "2001:db8::1/128"]
    );
}

#[test]
fn registrations_and_their_defaults() {
    let (config, problems) = load(
        "[auth]\ntype=auth\nusername=u\npassword=p\nrealm=example.com\n\n\
         [r]\ntype=registration\nserver_uri=sip:reg.example.com\nclient_uri=sip:me@reg.example.com\n\
         outbound_auth=auth\ncontact_user=inbound\n\n\
         [bad]\ntype=registration\nserver_uri=reg.example.com\n",
    );
    assert_problem(&problems, Severity::Error, 16, &["server_uri", "sip:"]);
    assert_problem(&problems, Severity::Error, 14, &["client_uri"]);
    assert_eq!(problems.len(), 2, "{problems:#?}");
    assert_eq!(config.registrations.len(), 1);
    let r = &config.registrations[0];
    assert_eq!(r.outbound_auth.as_deref(), Some("auth"));
    assert_eq!(r.contact_user.as_deref(), Some("inbound"));
    assert_eq!(
        (
            r.retry_interval,
            r.forbidden_retry_interval,
            r.max_retries,
            r.expiration
        ),
        (60, 0, 10, 3600)
    );
    assert_eq!(
        config.auth("auth").and_then(|a| a.realm.as_deref()),
        Some("example.com")
    );
}

#[test]
fn endpoints_without_codecs_and_auth_without_password_are_reported() {
    let (config, problems) = load("[e]\ntype=endpoint\n\n[a]\ntype=auth\nusername=u\n");
    assert_problem(&problems, Severity::Warning, 1, &["[e]", "allow"]);
    assert_problem(&problems, Severity::Error, 4, &["password"]);
    assert!(config.endpoint("e").is_some());
    assert!(config.auths.is_empty());
}

#[test]
fn callerid_forms() {
    use super::read::parse_callerid_for_tests as parse;
    assert_eq!(
        parse("Bob <200>"),
        CallerIdSetting {
            name: Some("Bob".into()),
            number: Some("200".into())
        }
    );
    assert_eq!(
        parse("<300>"),
        CallerIdSetting {
            name: None,
            number: Some("300".into())
        }
    );
    assert_eq!(
        parse("400"),
        CallerIdSetting {
            name: None,
            number: Some("400".into())
        }
    );
}

#[test]
fn an_explicit_port_0_lets_the_system_pick_one() {
    let (config, problems) =
        load("[t]\ntype=transport\nbind=127.0.0.1:0\n\n[u]\ntype=transport\nbind=127.0.0.1:0\n");
    assert!(problems.is_empty(), "{problems:#?}");
    assert_eq!(
        config.transport("t").expect("t").bind,
        "127.0.0.1:0".parse().expect("addr")
    );
    assert_eq!(
        config.transports.len(),
        2,
        "two port-0 transports do not collide"
    );
}

#[test]
fn an_endpoint_context_missing_from_the_dialplan_is_warned() {
    let (config, _) = load(
        "[a]\ntype=endpoint\nallow=ulaw\ncontext=phones\n\n[b]\ntype=endpoint\nallow=ulaw\ncontext=general\n\n[c]\ntype=endpoint\nallow=ulaw\n",
    );
    let mut problems = Problems::default();
    let extensions = parse_str(
        Path::new("extensions.conf"),
        "[general]\nstatic=yes\n\n[phones]\nexten => 100,1,Answer()\n",
        &mut problems,
    );
    check_contexts(&config, Some(&extensions), &mut problems);
    let found: Vec<(u32, String)> = problems
        .iter()
        .map(|p| (p.location.line, p.message.clone()))
        .collect();
    assert_eq!(found.len(), 2, "{found:#?}");
    assert_eq!(found[0].0, 6);
    assert!(found[0].1.contains("[b]") && found[0].1.contains("'general'"));
    assert_eq!(found[1].0, 11);
    assert!(found[1].1.contains("'default'"), "the default context too");

    // Without extensions.conf every endpoint's context is missing.
    let mut problems = Problems::default();
    check_contexts(&config, None, &mut problems);
    assert_eq!(problems.len(), 3);
    assert!(problems.iter().all(|p| p.severity == Severity::Warning));
}

#[test]
fn quotes_in_an_auth_username_or_realm_are_errors() {
    let (config, problems) = load(
        "[a]\ntype=auth\nusername=al\"ice\npassword=p\n\n[b]\ntype=auth\nusername=bob\npassword=p\nrealm=my\\\\realm\n",
    );
    assert_problem(
        &problems,
        Severity::Error,
        3,
        &["username", "Digest", "[a] ignored"],
    );
    assert_problem(
        &problems,
        Severity::Error,
        10,
        &["realm", "Digest", "[b] ignored"],
    );
    assert!(config.auths.is_empty());
}
