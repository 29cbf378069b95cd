//! The operator's console: a web page served by wari itself at `{prefix}/console/`
//! (http.conf `prefix`), for ari.conf's users, showing every live channel and bridge and
//! the Stasis applications, with hang-up and a test call with a keypad.
//!
//! The module owns the console's HTTP surface, reached from the front door
//! ([`crate::http::front`]) after http.conf's restrictions have applied:
//!
//! | path under `{prefix}/console` | what |
//! |---|---|
//! | `/` , `/console.css`, `/console.js` | the page ([`assets`], compiled into the binary) |
//! | `POST /login`, `POST /logout` | log in with an ari.conf user, log out ([`login`]) |
//! | `GET /api/session` | who is logged in, whether read-only, the CSRF token |
//! | `GET /api/feed` | the live view as Server-Sent Events: a snapshot, then deltas ([`feed`]) |
//! | `/api/ari/...` | an ARI request run through the ARI pipeline as the logged-in user ([`actions`]) |
//! | `POST /api/keys` | a simulated phone's user presses keys ([`actions`]) |
//! | `GET /api/health` | the last hour of wari's own metrics, one point per step ([`health`]) |
//! | `POST /api/listen`, `GET /api/listen/<id>` (WebSocket) | listen in on a call ([`listen`]) |
//! | `GET /api/outbound` | the applications ari.conf's outbound WebSocket connections serve ([`outbound`]) |
//! | `GET /api/contacts` | the endpoints' contacts: SIP registrations and static AOR contacts with status, RTT, expiry, user agent (`Core::contacts`) |
//!
//! Sessions ([`session`]) are cookies (HttpOnly, SameSite=Strict); every request but a
//! `GET` must also carry the session's CSRF token in `X-Wari-Csrf`. Each request checks
//! the user's acl.conf/ari.conf ACL against the client's address. What the console does
//! goes through the same paths as ARI: hang-up and originate are ARI requests run by the
//! pipeline as the user (so read-only users are refused there with 403, as over ARI), the
//! live view and the keypad are the core's ([`crate::core::live`]).
//!
//! To add a view: its markup in `assets/index.html`, its script in `assets/<view>.js`
//! listed in [`assets::VIEWS`] (it reaches the page's session, API helper and live
//! rows through `window.wariConsole`, see `console.js`), and what it reads either through
//! `/api/ari/...` (what ARI already offers) or a new `/api/...` route here calling a core
//! view.

pub(crate) mod actions;
pub(crate) mod assets;
pub(crate) mod delta;
pub(crate) mod feed;
pub(crate) mod health;
pub(crate) mod listen;
pub(crate) mod login;
pub(crate) mod outbound;
pub(crate) mod session;
pub(crate) mod story;

use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::Instant;

use axum::body::Body as HttpBody;
use axum::extract::Request;
use axum::response::Response;
use http::{HeaderValue, Method, StatusCode, header};

use crate::http::front::Front;
use session::{Session, Sessions};

/// The console's state: its login sessions and the health history.
#[derive(Debug)]
pub(crate) struct Console {
    sessions: Mutex<Sessions>,
    /// Written by the health sampler once a step, read by `GET /api/health`.
    health: Mutex<health::History>,
    /// listen-in: the listens waiting for their page's WebSocket.
    listens: listen::Listens,
}

impl Default for Console {
    fn default() -> Console {
        Console {
            sessions: Mutex::default(),
            health: Mutex::new(health::History::new(
                crate::config::http_conf::DEFAULT_CONSOLE_HEALTH_STEP,
            )),
            listens: listen::Listens::default(),
        }
    }
}

impl Console {
    fn sessions(&self) -> std::sync::MutexGuard<'_, Sessions> {
        self.sessions.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn health(&self) -> std::sync::MutexGuard<'_, health::History> {
        self.health.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The part of `path` after `{prefix}/console` when the request is for the console (the
/// prefix compares case-insensitively, as ARI's does).
pub(crate) fn console_path<'p>(path: &'p str, prefix: &str) -> Option<&'p str> {
    let rest = crate::http::front::after_prefix(path, prefix)?;
    let after = rest.get(..8).filter(|h| *h == "/console")?;
    let remainder = &rest[after.len()..];
    (remainder.is_empty() || remainder.starts_with('/')).then_some(remainder)
}

/// Serves one console request (`sub`: the path after `{prefix}/console`).
pub(crate) async fn serve(
    front: &Front,
    request: Request,
    sub: &str,
    peer: Option<SocketAddr>,
) -> Response {
    if !front.ari.enabled() {
        return message(StatusCode::NOT_FOUND, "The console needs ARI enabled");
    }
    let base = format!("{}/console/", front.http.prefix);
    let method = request.method().clone();
    let mut response = match (&method, sub) {
        (&Method::GET, "") => crate::http::front::redirect(&base),
        (&Method::GET, sub) if let Some((body, kind)) = assets::find(sub) => {
            assets::page(body, kind)
        }
        (&Method::POST, "/login") => login::log_in(front, request, &base, peer).await,
        (_, "/logout") if method == Method::POST => match authorized(front, &request, peer, true) {
            Ok((_, token)) => login::log_out(front, &token, &base),
            Err(refused) => refused.answer(),
        },
        (&Method::GET, "/api/session") => match authorized(front, &request, peer, false) {
            Ok((session, _)) => json(
                StatusCode::OK,
                &serde_json::json!({
                    "user": session.user.name,
                    "read_only": session.user.read_only,
                    "csrf": session.csrf,
                }),
            ),
            Err(refused) => refused.answer(),
        },
        (&Method::GET, "/api/feed") => match authorized(front, &request, peer, false) {
            Ok((session, token)) => feed::open(front, session, token),
            Err(refused) => refused.answer(),
        },
        (&Method::POST, "/api/keys") => match authorized(front, &request, peer, true) {
            Ok((session, _)) => actions::press_keys(front, request, &session).await,
            Err(refused) => refused.answer(),
        },
        // listen-in routes
        (&Method::POST, "/api/listen") => match authorized(front, &request, peer, true) {
            Ok((session, _)) => listen::start(front, request, &session).await,
            Err(refused) => refused.answer(),
        },
        (&Method::GET, sub) if let Some(id) = listen::listen_id(sub) => {
            match authorized(front, &request, peer, false) {
                Ok((session, _)) => listen::socket(front, request, id, &session, peer),
                Err(refused) => refused.answer(),
            }
        }

        // call story routes
        (&Method::GET, sub) if sub == "/api/stories" || sub.starts_with("/api/stories/") => {
            match authorized(front, &request, peer, false) {
                Ok(_) => story::serve(front, sub, request.uri().query()),
                Err(refused) => refused.answer(),
            }
        }
        (_, sub) if sub == "/api/stories" || sub.starts_with("/api/stories/") => {
            message(StatusCode::METHOD_NOT_ALLOWED, "Method not allowed")
        }

        // applications routes
        (&Method::GET, "/api/outbound") => match authorized(front, &request, peer, false) {
            Ok(_) => outbound::serve(front.ari.config()),
            Err(refused) => refused.answer(),
        },
        (_, "/api/outbound") => message(StatusCode::METHOD_NOT_ALLOWED, "Method not allowed"),

        // endpoints routes
        (&Method::GET, "/api/contacts") => match authorized(front, &request, peer, false) {
            Ok(_) => match serde_json::to_value(front.ari.core().contacts()) {
                Ok(contacts) => json(StatusCode::OK, &contacts),
                Err(error) => {
                    tracing::warn!("console contacts cannot be listed: {error}");
                    message(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "Contacts cannot be listed",
                    )
                }
            },
            Err(refused) => refused.answer(),
        },
        (_, "/api/contacts") => message(StatusCode::METHOD_NOT_ALLOWED, "Method not allowed"),

        // health routes
        (&Method::GET, "/api/health") => match authorized(front, &request, peer, false) {
            Ok(_) => health::sampler::answer(front),
            Err(refused) => refused.answer(),
        },
        (_, "/api/health") => message(StatusCode::METHOD_NOT_ALLOWED, "Method not allowed"),
        (_, sub) if sub.starts_with("/api/ari/") => {
            let writes = method != Method::GET && method != Method::HEAD;
            match authorized(front, &request, peer, writes) {
                Ok((session, _)) => {
                    let ari_path = sub["/api/ari".len()..].to_string();
                    actions::ari(front, request, ari_path, &session, peer).await
                }
                Err(refused) => refused.answer(),
            }
        }
        (_, "/login" | "/api/session" | "/api/feed") => {
            message(StatusCode::METHOD_NOT_ALLOWED, "Method not allowed")
        }
        (_, sub) if assets::find(sub).is_some() => {
            message(StatusCode::METHOD_NOT_ALLOWED, "Method not allowed")
        }
        _ => message(StatusCode::NOT_FOUND, "Not found"),
    };
    let headers = response.headers_mut();
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; connect-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
        ),
    );
    response
}

/// The session of a request's cookie, checked: the user's ACL allows the client's
/// address, and for a state-changing request (`writes`), the CSRF header matches and the
/// browser does not say the request comes from another site. Returns the session and its
/// cookie token, or the refusal to answer with.
fn authorized(
    front: &Front,
    request: &Request,
    peer: Option<SocketAddr>,
    writes: bool,
) -> Result<(Session, String), Refused> {
    let headers = request.headers();
    let token = session::cookie(headers, session::COOKIE)
        .ok_or(Refused(StatusCode::UNAUTHORIZED, "Not logged in"))?;
    let session = front
        .console
        .sessions()
        .touch(token, Instant::now())
        .ok_or(Refused(StatusCode::UNAUTHORIZED, "Not logged in"))?;
    if let Some(peer) = peer
        && !session.user.acl.allows(peer.ip())
    {
        tracing::info!(user = %crate::log_text::Escaped(&session.user.name), %peer, "console request denied by the user's ACL");
        return Err(Refused(StatusCode::FORBIDDEN, "Access denied by ACL"));
    }
    if writes {
        let cross_site = headers
            .get("sec-fetch-site")
            .is_some_and(|v| v.as_bytes() != b"same-origin" && v.as_bytes() != b"none");
        let csrf_ok = headers
            .get(session::CSRF_HEADER)
            .is_some_and(|v| session::csrf_matches(&session.csrf, v.as_bytes()));
        if cross_site || !csrf_ok {
            tracing::info!(user = %crate::log_text::Escaped(&session.user.name), peer = ?peer, path = %crate::log_text::Escaped(request.uri().path()), "console request refused: missing or wrong CSRF token");
            return Err(Refused(
                StatusCode::FORBIDDEN,
                "Missing or wrong CSRF token: reload the console",
            ));
        }
    }
    Ok((session, token.to_string()))
}

/// Why [`authorized`] refused a request: its status and message.
#[derive(Debug, Clone, Copy)]
struct Refused(StatusCode, &'static str);

impl Refused {
    fn answer(self) -> Response {
        message(self.0, self.1)
    }
}

/// A JSON answer.
pub(crate) fn json(status: StatusCode, value: &serde_json::Value) -> Response {
    let mut response = Response::new(HttpBody::from(value.to_string()));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// An error answer: `status` with `{"message": text}`, as ARI answers.
pub(crate) fn message(status: StatusCode, text: &str) -> Response {
    json(status, &serde_json::json!({ "message": text }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn console_paths() {
        assert_eq!(console_path("/console", ""), Some(""));
        assert_eq!(console_path("/console/", ""), Some("/"));
        assert_eq!(console_path("/console/api/feed", ""), Some("/api/feed"));
        assert_eq!(console_path("/consoles", ""), None);
        assert_eq!(console_path("/ari/console", ""), None);
        assert_eq!(console_path("/console/", "/asterisk"), None);
        assert_eq!(console_path("/Asterisk/console/", "/asterisk"), Some("/"));
    }
}
