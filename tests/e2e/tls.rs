//! The HTTPS listener: a self-signed certificate made for the test, alongside the plain
//! listener; the key inside the certificate file; a missing certificate file.

use std::net::SocketAddr;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;

use crate::support::{ARI_CONF, Wari, client, run_limited, wari_command};

/// A fresh self-signed certificate for `localhost` and `127.0.0.1`: (cert PEM, key PEM).
fn self_signed() -> (String, String) {
    let certified =
        rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()])
            .expect("generate certificate");
    (certified.cert.pem(), certified.signing_key.serialize_pem())
}

/// http.conf with the plain listener and an HTTPS listener, both on ephemeral ports.
fn https_conf(tls_lines: &str) -> String {
    format!(
        "[general]\nenabled = yes\nbindaddr = 127.0.0.1\nbindport = 0\n\
         tlsenable = yes\ntlsbindaddr = 127.0.0.1:0\n{tls_lines}"
    )
}

/// A client that trusts only `cert_pem` and resolves `localhost` to `addr`.
fn https_client(cert_pem: &str, addr: SocketAddr) -> reqwest::Client {
    let cert = reqwest::Certificate::from_pem(cert_pem.as_bytes()).expect("certificate");
    crate::support::client_builder()
        .tls_built_in_root_certs(false)
        .add_root_certificate(cert)
        .resolve("localhost", addr)
        .timeout(Duration::from_secs(20))
        .build()
        .expect("https client")
}

async fn info_over_https(wari: &Wari, cert_pem: &str) -> Value {
    let addr = wari.https.expect("wari has an HTTPS listener");
    let url = format!("https://localhost:{}/ari/asterisk/info", addr.port());
    let response = https_client(cert_pem, addr)
        .get(&url)
        .basic_auth("asterisk", Some("secret"))
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {url}: {e:?}"));
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.expect("json")
}

#[tokio::test]
async fn https_and_plain_http_listen_side_by_side() {
    let (cert, key) = self_signed();
    let dir = tempfile::tempdir().expect("temp dir");
    let cert_path = dir.path().join("wari.crt");
    let key_path = dir.path().join("wari.key");
    std::fs::write(&cert_path, &cert).expect("write cert");
    std::fs::write(&key_path, &key).expect("write key");
    let http = https_conf(&format!(
        "tlscertfile = {}\ntlsprivatekey = {}\n",
        cert_path.display(),
        key_path.display()
    ));
    let wari = Wari::with(&[("http.conf", &http)]);
    let https = wari.https.expect("an HTTPS listener");
    assert_ne!(https, wari.addr(), "two listeners");
    assert!(
        wari.banner
            .iter()
            .any(|l| l == &format!("listening: https https://{https}/ari")),
        "{:?}",
        wari.banner
    );

    let info = info_over_https(&wari, &cert).await;
    assert!(info["system"]["version"].is_string(), "{info}");

    // The plain listener serves at the same time.
    let response = client()
        .get(wari.url("/ari/asterisk/info"))
        .basic_auth("asterisk", Some("secret"))
        .send()
        .await
        .expect("plain request");
    assert_eq!(response.status(), StatusCode::OK);

    // And HTTPS still works afterwards; authentication applies there as well.
    let url = format!("https://localhost:{}/ari/asterisk/info", https.port());
    let response = https_client(&cert, https)
        .get(&url)
        .send()
        .await
        .expect("https request");
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);

    // A client that does not trust the certificate cannot connect.
    let (other, _) = self_signed();
    let refused = https_client(&other, https).get(&url).send().await;
    assert!(refused.is_err(), "an untrusted certificate must be refused");
}

#[tokio::test]
async fn the_key_may_live_in_the_certificate_file() {
    let (cert, key) = self_signed();
    // Relative file names are resolved against the configuration directory.
    let combined = format!("{cert}{key}");
    let http = https_conf("tlscertfile = combined.pem\n");
    let wari = Wari::with(&[("http.conf", &http), ("combined.pem", &combined)]);
    let info = info_over_https(&wari, &cert).await;
    assert!(info["system"].is_object(), "{info}");
}

/// Runs wari (isolated, on its own data directory) to completion, giving up (and killing
/// it) after `limit`: (success, stderr).
fn run_until_exit(args: &[&str], limit: Duration) -> (bool, String) {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut command = wari_command(dir.path());
    command
        .args(args)
        .arg("--data-dir")
        .arg(dir.path().join("data"));
    let finished = run_limited(command, limit);
    (finished.success, finished.stderr)
}

#[test]
fn a_missing_certificate_file_stops_start_up_with_its_name() {
    let dir = tempfile::tempdir().expect("temp dir");
    let missing = dir.path().join("no-such-cert.pem");
    let http = https_conf(&format!("tlscertfile = {}\n", missing.display()));
    std::fs::write(dir.path().join("http.conf"), http).expect("http.conf");
    std::fs::write(dir.path().join("ari.conf"), ARI_CONF).expect("ari.conf");
    let dir_arg = dir.path().display().to_string();
    let (success, stderr) = run_until_exit(&["--config-dir", &dir_arg], Duration::from_secs(30));
    assert!(!success, "wari must not start without its certificate");
    assert!(
        stderr.contains(&missing.display().to_string()),
        "the error names the file: {stderr}"
    );
    assert!(stderr.contains("error"), "{stderr}");
}

#[test]
fn a_missing_private_key_file_stops_start_up_with_its_name() {
    let (cert, _) = self_signed();
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("cert.pem"), cert).expect("cert");
    let http = https_conf("tlscertfile = cert.pem\ntlsprivatekey = no-such-key.pem\n");
    std::fs::write(dir.path().join("http.conf"), http).expect("http.conf");
    std::fs::write(dir.path().join("ari.conf"), ARI_CONF).expect("ari.conf");
    let dir_arg = dir.path().display().to_string();
    let (success, stderr) = run_until_exit(&["--config-dir", &dir_arg], Duration::from_secs(30));
    assert!(!success, "wari must not start without its private key");
    assert!(stderr.contains("no-such-key.pem"), "{stderr}");
}

#[test]
fn a_certificate_file_without_a_key_stops_start_up() {
    // tlsprivatekey omitted and the certificate file holds no key.
    let (cert, _) = self_signed();
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("cert.pem"), cert).expect("cert");
    let http = https_conf("tlscertfile = cert.pem\n");
    std::fs::write(dir.path().join("http.conf"), http).expect("http.conf");
    std::fs::write(dir.path().join("ari.conf"), ARI_CONF).expect("ari.conf");
    let dir_arg = dir.path().display().to_string();
    let (success, stderr) = run_until_exit(&["--config-dir", &dir_arg], Duration::from_secs(30));
    assert!(!success, "wari must not start without a private key");
    assert!(stderr.contains("cert.pem"), "{stderr}");
}
