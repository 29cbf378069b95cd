//! Answers outside ARI's operations, as Asterisk 23.4.1 gives them (observed with the same
//! requests): every node of the route tree is a resource, so the root `/ari` and inner
//! paths such as `/ari/asterisk` refuse methods with 405 and `Allow: OPTIONS`; a trailing
//! slash is named with one slash less; HEAD is refused like any unbound method; the API
//! documents start with the keys Asterisk's do.

use reqwest::Method;
use serde_json::json;

use crate::support::Wari;

const RW: (&str, &str) = ("asterisk", "secret");

#[tokio::test]
async fn the_root_and_inner_paths_refuse_methods_with_allow_options() {
    let wari = Wari::start_default();
    // Asterisk 23.4.1: 405 {"message":"Invalid method"} with `Allow: OPTIONS` for each.
    for (method, path) in [
        (Method::GET, "/ari"),
        (Method::GET, "/ari/"),
        (Method::POST, "/ari/"),
        (Method::DELETE, "/ari"),
        (Method::GET, "/ari/asterisk"),
        (Method::GET, "/ari/recordings"),
        (Method::GET, "/ari/events/user"),
        (Method::GET, "/ari//asterisk/info"),
        (Method::GET, "/ari/asterisk//info"),
        (Method::POST, "/ari/events"),
    ] {
        let answer = wari.ari_as(RW, method.clone(), path, None).await;
        assert_eq!(answer.status, 405, "{method} {path}: {}", answer.body);
        assert_eq!(
            answer.body,
            json!({"message": "Invalid method"}),
            "{method} {path}"
        );
        assert_eq!(answer.header("allow"), Some("OPTIONS"), "{method} {path}");
    }
    // OPTIONS: 204 with `Allow: OPTIONS`.
    for path in ["/ari", "/ari/asterisk", "/ari/events"] {
        let answer = wari.ari_as(RW, Method::OPTIONS, path, None).await;
        assert_eq!(answer.status, 204, "{path}");
        assert_eq!(answer.header("allow"), Some("OPTIONS"), "{path}");
    }
    // A read-only user writing is refused first (403), an unknown child is 404.
    let answer = wari
        .ari_as(("viewer", "look"), Method::POST, "/ari", None)
        .await;
    assert_eq!(answer.status, 403);
    assert_eq!(answer.body, json!({"message": "Write access denied"}));
    let answer = wari
        .ari_as(RW, Method::GET, "/ari/asterisk/nope", None)
        .await;
    assert_eq!(answer.status, 404);
    assert_eq!(answer.body, json!({"message": "Resource not found"}));
    // HEAD is a method no resource binds: 405 with the resource's Allow. (Asterisk also
    // writes the 28-byte body after the head, which HTTP forbids for HEAD: wari sends the
    // same head, Content-Length included, without the body.)
    let answer = wari
        .ari_as(RW, Method::HEAD, "/ari/asterisk/info", None)
        .await;
    assert_eq!(answer.status, 405);
    assert_eq!(answer.header("allow"), Some("OPTIONS,GET"));
    assert_eq!(answer.header("content-length"), Some("28"));
}

#[tokio::test]
async fn a_trailing_slash_is_named_with_one_slash_less() {
    let wari = Wari::start_default();
    for (path, suggestion) in [
        ("/ari//", "/ari/"),
        ("/ari/asterisk/info//", "/ari/asterisk/info/"),
        ("/ari/channels/", "/ari/channels"),
    ] {
        let answer = wari.ari_as(RW, Method::GET, path, None).await;
        assert_eq!(answer.status, 404, "{path}");
        assert_eq!(
            answer.body["message"],
            format!("ARI URLs do not end with a slash. Try {suggestion}"),
            "{path}"
        );
    }
}

#[tokio::test]
async fn api_documents_start_with_asterisks_header_keys() {
    let wari = Wari::start_default();
    // Asterisk 23.4.1's documents start with `_copyright`, `_author` and `_svn_revision`
    // (strings); wari's carry its own values.
    for file in ["resources.json", "channels.json", "events.json"] {
        let answer = wari
            .ari_as(RW, Method::GET, &format!("/ari/api-docs/{file}"), None)
            .await;
        assert_eq!(answer.status, 200, "{file}");
        let keys: Vec<&String> = answer
            .body
            .as_object()
            .expect("an object")
            .keys()
            .take(3)
            .collect();
        assert_eq!(keys, ["_copyright", "_author", "_svn_revision"], "{file}");
        for key in keys {
            assert!(answer.body[key].is_string(), "{file}: {key}");
        }
    }
}
