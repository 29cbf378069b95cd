//! Logging in to the console with an ari.conf user (plain or crypt password), and out.
//!
//! The credentials come in a form body (`user`, `password`), never in the URL, and are
//! checked by the ARI pipeline's own login ([`crate::ari::Ari::authenticate`]): the same
//! users, the same failed-login lockout per address, the same ACL. A refused login is
//! logged with its reason and answered with one message whatever was wrong.

use std::net::SocketAddr;
use std::time::Instant;

use axum::extract::Request;
use axum::response::Response;
use http::{HeaderValue, StatusCode, header};
use http_body_util::BodyExt;

use super::{message, session};
use crate::ari::AriRequest;
use crate::http::front::Front;

/// What every refused login is told.
const REFUSED: &str = "Login failed: wrong user name or password, or not allowed from here";

/// `POST /console/login` with `user` and `password` (form-encoded).
pub(crate) async fn log_in(
    front: &Front,
    request: Request,
    base: &str,
    peer: Option<SocketAddr>,
) -> Response {
    let (parts, body) = request.into_parts();
    let is_form = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| {
            v.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        });
    if !is_form {
        return message(
            StatusCode::BAD_REQUEST,
            "Send user and password as a form (application/x-www-form-urlencoded)",
        );
    }
    let limited = http_body_util::Limited::new(body, crate::http::front::MAX_BODY);
    let Ok(collected) = limited.collect().await else {
        return message(StatusCode::BAD_REQUEST, "Error reading request body");
    };
    let body = collected.to_bytes();
    let mut user = None;
    let mut password = None;
    for (key, value) in form_urlencoded::parse(&body) {
        match &*key {
            "user" => user = Some(value.into_owned()),
            "password" => password = Some(value.into_owned()),
            _ => {}
        }
    }
    let (Some(user), Some(password)) = (user, password) else {
        return message(StatusCode::BAD_REQUEST, "Send user and password");
    };
    // The pipeline's login reads Basic credentials: hand it these as such.
    let mut check = AriRequest::head_of(&parts, String::new(), peer);
    check.query = None;
    check.headers.remove(header::COOKIE);
    match HeaderValue::from_str(&crate::ari::auth::basic_authorization(&user, &password)) {
        Ok(value) => {
            check.headers.insert(header::AUTHORIZATION, value);
        }
        Err(_) => return message(StatusCode::BAD_REQUEST, "Send user and password"),
    }
    let account = match front.ari.authenticate(&check) {
        Ok(account) => account,
        Err(error) => {
            tracing::info!(
                user = %crate::log_text::Escaped(&user),
                peer = ?peer,
                status = error.status.as_u16(),
                reason = %crate::log_text::Escaped(&error.message),
                "console login failed"
            );
            if error.status == StatusCode::TOO_MANY_REQUESTS {
                return message(error.status, &error.message);
            }
            return message(StatusCode::UNAUTHORIZED, REFUSED);
        }
    };
    tracing::info!(user = %crate::log_text::Escaped(&account.name), peer = ?peer, read_only = account.read_only, "console login");
    let name = account.name.clone();
    let read_only = account.read_only;
    let token = front.console.sessions().start(account, Instant::now());
    let only_tls = !front.http.enabled && front.http.tls.is_some();
    let mut response = super::json(
        StatusCode::OK,
        &serde_json::json!({ "user": name, "read_only": read_only }),
    );
    if let Ok(cookie) = HeaderValue::from_str(&session::set_cookie(&token, base, only_tls)) {
        response.headers_mut().insert(header::SET_COOKIE, cookie);
    }
    response
}

/// `POST /console/logout`: the session ends and the cookie is removed.
pub(crate) fn log_out(front: &Front, token: &str, base: &str) -> Response {
    front.console.sessions().end(token);
    let mut response = Response::new(axum::body::Body::empty());
    *response.status_mut() = StatusCode::NO_CONTENT;
    if let Ok(cookie) = HeaderValue::from_str(&session::clear_cookie(base)) {
        response.headers_mut().insert(header::SET_COOKIE, cookie);
    }
    response
}
