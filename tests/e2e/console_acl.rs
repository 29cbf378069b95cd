//! Logging in to the console follows ARI's rules: a user whose ari.conf ACL refuses the
//! client's address is refused with the same message as a wrong password, and an address
//! is locked out after ari.conf's `max_login_failures` wrong passwords, even for the right
//! one.

use crate::support::{Wari, client};

const ARI_CONF: &str = "[general]\nenabled = yes\nmax_login_failures = 2\n\n\
     [local]\ntype = user\npassword = pw\ndeny = 0.0.0.0/0\npermit = 127.0.0.1/32\n\n\
     [elsewhere]\ntype = user\npassword = pw\ndeny = 127.0.0.0/8\n";

/// Logs in through the console's form: the status and the message, if any.
async fn log_in(wari: &Wari, user: &str, password: &str) -> (u16, String) {
    let response = client()
        .post(wari.url("/console/login"))
        .form(&[("user", user), ("password", password)])
        .send()
        .await
        .expect("login");
    let status = response.status().as_u16();
    let body: serde_json::Value = response.json().await.unwrap_or_default();
    (
        status,
        body["message"].as_str().unwrap_or_default().to_string(),
    )
}

#[tokio::test]
async fn console_logins_follow_the_users_acl_and_the_lockout() {
    let wari = Wari::with(&[("ari.conf", ARI_CONF)]);
    let (refused, said) = log_in(&wari, "elsewhere", "pw").await;
    assert_eq!(refused, 401, "{said}");
    let (wrong, said_wrong) = log_in(&wari, "local", "nope").await;
    assert_eq!(wrong, 401);
    assert_eq!(said, said_wrong, "the same message, whatever was wrong");
    assert!(
        wari.log().contains("console login failed"),
        "refusals are logged"
    );
    let (ok, _) = log_in(&wari, "local", "pw").await;
    assert_eq!(ok, 200, "the ACL permits 127.0.0.1 for this user");

    // A second wrong password reaches max_login_failures: the address is locked out.
    let (_, _) = log_in(&wari, "local", "still-wrong").await;
    let (locked, message) = log_in(&wari, "local", "pw").await;
    assert_eq!(locked, 429, "{message}");
    assert!(!message.is_empty());
}
