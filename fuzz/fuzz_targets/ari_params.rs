//! ARI request decoding (`runtime/src/ari/params.rs`, `auth.rs`, and the `variables`
//! body of the channel operations): the query string, a form or JSON body, typed parameter
//! reads, comma lists, and credentials from the `Authorization` header or `api_key`.
//!
//! Input: one byte choosing the content type, then the query string, NUL, the body, NUL,
//! the `Authorization` header value.

#![no_main]

use http::{HeaderMap, HeaderValue, header};
use libfuzzer_sys::fuzz_target;
use wari::ari::Params;
use wari::ari::auth;
use wari::ari::params::split_list;
use wari::ari::resources::channels::parse_variables;
use wari_fuzz::parts;

const CONTENT_TYPES: [Option<&str>; 5] = [
    None,
    Some("application/json"),
    Some("application/x-www-form-urlencoded"),
    Some("application/json; charset=utf-8"),
    Some("text/plain"),
];

/// Names the fuzzer may also write into the query or body.
const NAMES: [&str; 6] = ["a", "app", "channelId", "timeout", "variables", "api_key"];

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let content_type = CONTENT_TYPES[usize::from(selector) % CONTENT_TYPES.len()];
    let p = parts(rest, 3);
    let query = String::from_utf8_lossy(p[0]);
    let Ok(params) = Params::parse(Some(&query), content_type, p[1]) else {
        return;
    };
    for name in NAMES {
        if let Some(value) = params.string(name) {
            let _ = split_list(&value);
        }
        let _ = params.required_string(name);
        let _ = params.integer(name);
        let _ = params.boolean(name);
        let _ = params.list(name);
    }
    if let Some(variables) = params.body().and_then(|body| body.get("variables")) {
        let _ = parse_variables(variables);
    }
    let mut headers = HeaderMap::new();
    if let Ok(value) = HeaderValue::from_bytes(p[2]) {
        headers.insert(header::AUTHORIZATION, value);
    }
    let _ = auth::unusable_authorization(&headers);
    let _ = auth::credentials(&headers, &params);
});
