//! The Asterisk REST Interface: one request pipeline shared by every transport.
//!
//! [`Ari::handle`] takes a transport-neutral [`AriRequest`] and runs Asterisk's check order:
//! body parsing, authentication, per-user ACL (HTTP only), read-only users, trailing slash,
//! api-docs, routing, OPTIONS, method binding, and finally the operation's handler. CORS
//! headers are added to whatever comes out.

pub mod auth;
pub(crate) mod cors;
pub(crate) mod docs;
pub(crate) mod internal;
pub(crate) mod login_throttle;
pub(crate) mod openapi;
pub mod params;
pub mod resources;
pub(crate) mod response;
pub(crate) mod router;
pub(crate) mod stream_body;
pub(crate) mod upload;

use std::net::SocketAddr;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::FutureExt;
use http::{HeaderMap, HeaderValue, Method, StatusCode, header};

use crate::config::Config;
use crate::core::Core;
use crate::host_api::WasmApps;
/// Path decoding as routing does it (shared with the WebAssembly host's request checks).
pub(crate) use crate::host_api::wire::{decode_segment, decode_segments};
use docs::ApiDocs;
pub use params::Params;
pub use response::{AriError, AriResponse, AriResult, Body};
use router::Router;
pub use upload::Upload;

/// A request as ARI sees it, whatever carried it.
#[derive(Debug, Clone)]
pub struct AriRequest {
    /// The HTTP method (or a `RESTRequest`'s `method`).
    pub method: Method,
    /// The raw (still percent-encoded) path after `/ari`, e.g. `/asterisk/info`.
    pub path: String,
    /// The raw query string, without `?`.
    pub query: Option<String>,
    /// The request headers (`Authorization`, `Content-Type`, `Origin` ...); empty for a
    /// `RESTRequest` that carries none.
    pub headers: HeaderMap,
    /// The request body as received, not yet parsed.
    pub body: Bytes,
    /// The client's address (per-user ACLs apply): the HTTP client's, or that of the
    /// inbound WebSocket a `RESTRequest` arrived on; `None` for requests made inside wari
    /// and over outbound WebSockets.
    pub peer: Option<SocketAddr>,
    /// Already authenticated (requests made inside wari, e.g. by a WebAssembly app, and
    /// requests over an inbound WebSocket, as the user its upgrade authenticated as): no
    /// credentials are checked, the user's ACL still is when `peer` is known.
    pub trusted_user: Option<Arc<crate::config::User>>,
    /// A body the transport spooled to disk instead of `body` (component uploads).
    pub upload: Option<Arc<Upload>>,
    /// The ARI user whose quotas what the request makes counts against, when it is not the
    /// authenticated user: a WebAssembly app's owner for the app's `ari.request`.
    pub quota_owner: Option<String>,
}

impl AriRequest {
    /// An HTTP request for the pipeline: its head, the path after `/ari` and the body read,
    /// from the client at `peer`.
    pub fn from_http(
        parts: http::request::Parts,
        path: String,
        body: Bytes,
        peer: Option<SocketAddr>,
    ) -> AriRequest {
        AriRequest {
            method: parts.method,
            path,
            query: parts.uri.query().map(str::to_string),
            headers: parts.headers,
            body,
            peer,
            trusted_user: None,
            upload: None,
            quota_owner: None,
        }
    }

    /// The head of an HTTP request alone (no body), for the checks made before a body is
    /// read or a connection upgraded; the transport keeps `parts`.
    pub fn head_of(
        parts: &http::request::Parts,
        path: String,
        peer: Option<SocketAddr>,
    ) -> AriRequest {
        AriRequest {
            method: parts.method.clone(),
            path,
            query: parts.uri.query().map(str::to_string),
            headers: parts.headers.clone(),
            body: Bytes::new(),
            peer,
            trusted_user: None,
            upload: None,
            quota_owner: None,
        }
    }
}

/// What carried a request to the pipeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Transport {
    Http,
    /// A `RESTRequest` frame on an ARI WebSocket.
    WebSocket,
}

/// The outcome of the checks before an operation runs.
enum Routed<'a> {
    /// Answered without an operation handler (api-docs, OPTIONS).
    Done(AriResponse),
    /// The operation to run, its parameters and the authenticated user.
    Operation {
        operation: &'a router::Operation,
        params: Params,
        user: Arc<crate::config::User>,
    },
}

/// Permission to upgrade a request to a WebSocket resource.
#[derive(Debug)]
pub struct UpgradeGrant {
    /// The resource (`events`).
    pub resource: String,
    /// The upgrade request's parameters (`app`, `subscribeAll`, ...).
    pub params: Params,
    /// The authenticated user the socket belongs to.
    pub user: Arc<crate::config::User>,
    /// The client's address, for the socket's later requests.
    pub peer: Option<SocketAddr>,
}

/// Why the ARI layer could not be set up (a bug in the embedded declarations or handlers).
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// An embedded API declaration does not parse.
    #[error(transparent)]
    Docs(#[from] docs::DocsError),
    /// A declared operation has no handler.
    #[error(transparent)]
    Routes(#[from] router::UndeclaredHandler),
}

/// The ARI request pipeline.
#[derive(Debug)]
pub struct Ari {
    config: Arc<Config>,
    core: Arc<Core>,
    auth: auth::Authenticator,
    /// Failed logins per client address.
    logins: login_throttle::LoginThrottle,
    docs: &'static ApiDocs,
    router: Router,
    openapi: serde_json::Value,
    internal_user: Arc<crate::config::User>,
    /// The WebAssembly app host, for the `/wasm` resource (`None`: it is not running).
    wasm: Option<Arc<dyn WasmApps>>,
}

impl Ari {
    /// Builds the pipeline for this configuration and core.
    pub fn new(config: Arc<Config>, core: Arc<Core>) -> Result<Ari, SetupError> {
        let docs = ApiDocs::embedded()?;
        let router = Router::build(docs.operations(), &resources::handlers())?;
        let openapi = openapi::convert(docs);
        Ok(Ari {
            auth: auth::Authenticator::new(config.ari.users.clone()),
            logins: login_throttle::LoginThrottle::new(
                config.ari.max_login_failures,
                config.ari.login_lockout,
            ),
            config,
            core,
            docs,
            router,
            openapi,
            internal_user: Arc::new(crate::config::User {
                name: "<wari>".to_string(),
                password: crate::config::Password::Plain(String::new()),
                read_only: false,
                admin: false,
                limits: crate::config::user_limits::UserLimits::default(),
                acl: crate::acl::Acl::default(),
            }),
            wasm: None,
        })
    }

    /// The routed operations (for diagnostics and tests).
    pub fn router(&self) -> &Router {
        &self.router
    }

    /// True when ari.conf enables ARI.
    pub fn enabled(&self) -> bool {
        self.config.ari.enabled
    }

    /// The identity of requests wari makes itself (WebAssembly apps' `ari.request`): a
    /// read/write user that exists only inside the process.
    pub fn internal_user(&self) -> Arc<crate::config::User> {
        self.internal_user.clone()
    }

    /// The pipeline serving the `/wasm` resource with `apps` (before it is shared).
    pub fn with_wasm(mut self, apps: Arc<dyn WasmApps>) -> Ari {
        self.wasm = Some(apps);
        self
    }

    /// The WebAssembly app host, when it runs.
    pub fn wasm(&self) -> Option<&Arc<dyn WasmApps>> {
        self.wasm.as_ref()
    }

    /// The core this pipeline drives.
    pub fn core(&self) -> &Arc<Core> {
        &self.core
    }

    /// The configuration in force.
    pub fn config(&self) -> &Arc<Config> {
        &self.config
    }

    /// Whether JSON should be indented (ari.conf `pretty`).
    pub fn pretty(&self) -> bool {
        self.config.ari.pretty
    }

    /// Runs one request through the pipeline.
    pub async fn handle(&self, request: AriRequest) -> AriResponse {
        self.handle_from(request, Transport::Http).await
    }

    /// Runs one request that arrived as a `RESTRequest` over an ARI WebSocket (inbound or
    /// outbound) through the same pipeline. The request carries the socket's credentials;
    /// a WebSocket resource cannot be opened from inside a WebSocket.
    pub async fn handle_over_websocket(&self, request: AriRequest) -> AriResponse {
        self.handle_from(request, Transport::WebSocket).await
    }

    async fn handle_from(&self, request: AriRequest, transport: Transport) -> AriResponse {
        let mut response = match self.process(&request, transport).await {
            Ok(response) => response,
            Err(error) => {
                if error.status == StatusCode::TOO_MANY_REQUESTS {
                    tracing::debug!(method = %request.method, path = %crate::log_text::Escaped(&request.path), "ARI request refused: address locked out");
                } else if error.status.is_server_error() {
                    tracing::warn!(method = %request.method, path = %crate::log_text::Escaped(&request.path), status = error.status.as_u16(), message = %crate::log_text::Escaped(&error.message), "ARI request failed");
                } else {
                    tracing::info!(method = %request.method, path = %crate::log_text::Escaped(&request.path), status = error.status.as_u16(), message = %crate::log_text::Escaped(&error.message), "ARI request refused");
                }
                error.into()
            }
        };
        // The HTTP server's own error pages carry no CORS headers.
        if !matches!(response.body, Body::Page(_))
            && let Some(origin) =
                cors::allowed_origin(&self.config.ari.allowed_origins, &request.headers)
        {
            response.headers.extend(cors::simple_headers(origin));
        }
        response
    }

    /// Runs every check up to choosing the operation: body, authentication, ACL, read-only,
    /// slash, api-docs, routing, OPTIONS, method.
    fn route(&self, request: &AriRequest) -> Result<Routed<'_>, AriError> {
        // Body problems are reported before authentication.
        let content_type = request
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok());
        let mut params = Params::parse(request.query.as_deref(), content_type, &request.body)?;

        if let Some(problem) = auth::unusable_authorization(&request.headers) {
            tracing::info!(peer = ?request.peer, problem, "ARI request's Authorization header ignored");
        }
        let user = match &request.trusted_user {
            Some(user) => user.clone(),
            None => self.log_in(request, &params)?,
        };

        if let Some(peer) = request.peer
            && !user.acl.allows(peer.ip())
        {
            tracing::info!(user = %user.name, peer = %peer, "ARI request denied by the user's ACL");
            return Err(AriError::forbidden("Access denied by ACL"));
        }
        if user.read_only && request.method != Method::GET && request.method != Method::OPTIONS {
            return Err(AriError::forbidden("Write access denied"));
        }

        let path = request.path.as_str();
        if path.len() > 1
            && let Some(trimmed) = path.strip_suffix('/')
        {
            return Err(AriError::not_found(format!(
                "ARI URLs do not end with a slash. Try /ari{trimmed}"
            )));
        }
        let segments = decode_segments(path);

        let host = request
            .headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok());
        match segments.as_slice() {
            [first, file] if first == "api-docs" => {
                if request.method != Method::GET {
                    return Err(AriError::new(
                        StatusCode::METHOD_NOT_ALLOWED,
                        "Unsupported method",
                    ));
                }
                return Ok(Routed::Done(AriResponse::ok(self.docs.document(
                    file,
                    host,
                    &self.config.http.prefix,
                )?)));
            }
            [file] if file == "openapi.json" => {
                if request.method != Method::GET {
                    return Err(AriError::new(
                        StatusCode::METHOD_NOT_ALLOWED,
                        "Unsupported method",
                    ));
                }
                return Ok(Routed::Done(AriResponse::ok(openapi::with_server(
                    &self.openapi,
                    host,
                    &self.config.http.prefix,
                ))));
            }
            _ => {}
        }

        let found = self
            .router
            .find(&segments)
            .ok_or_else(|| AriError::not_found("Resource not found"))?;
        let allow = self.router.allow(&found);
        if request.method == Method::OPTIONS {
            let mut response = AriResponse::no_content();
            if let Ok(value) = HeaderValue::from_str(&allow) {
                response.headers.push((header::ALLOW, value));
            }
            if cors::allowed_origin(&self.config.ari.allowed_origins, &request.headers).is_some() {
                response
                    .headers
                    .extend(cors::preflight_headers(&request.headers, &allow));
            }
            return Ok(Routed::Done(response));
        }
        let invalid_method = || {
            let error = AriError::new(StatusCode::METHOD_NOT_ALLOWED, "Invalid method");
            match HeaderValue::from_str(&allow) {
                Ok(value) => error.with_header(header::ALLOW, value),
                Err(_) => error,
            }
        };
        let operation = self
            .router
            .operation(&found, &request.method)
            .ok_or_else(invalid_method)?;
        params.set_path_vars(found.vars);
        Ok(Routed::Operation {
            operation,
            params,
            user,
        })
    }

    async fn process(&self, request: &AriRequest, transport: Transport) -> AriResult {
        let (operation, params, user) = match self.route(request)? {
            Routed::Done(response) => return Ok(response),
            Routed::Operation {
                operation,
                params,
                user,
            } => (operation, params, user),
        };
        if operation.declared.websocket && transport == Transport::WebSocket {
            return Err(AriError::bad_request(
                "Can't upgrade to websocket from a websocket",
            ));
        }
        if operation.declared.websocket {
            // Asterisk's WebSocket layer answers a plain GET with its bare 426 page.
            return Ok(AriResponse::page(StatusCode::UPGRADE_REQUIRED, ""));
        }
        let Some(handler) = operation.handler else {
            return Err(AriError::new(
                StatusCode::NOT_IMPLEMENTED,
                "Method not implemented",
            ));
        };
        let ctx = resources::Ctx {
            core: self.core.clone(),
            config: self.config.clone(),
            params,
            user,
            peer: request.peer,
            body: request.body.clone(),
            upload: request.upload.clone(),
            wasm: self.wasm.clone(),
            quota_owner: request.quota_owner.clone(),
        };
        match AssertUnwindSafe(handler(ctx)).catch_unwind().await {
            Ok(result) => result,
            Err(_) => {
                tracing::error!(
                    resource = %operation.declared.resource,
                    operation = %operation.declared.nickname,
                    "ARI handler panicked"
                );
                Err(AriError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Internal error",
                ))
            }
        }
    }

    /// For a WebSocket upgrade request: the same checks as any request; when the path is a
    /// WebSocket resource, the authenticated user and parameters for the transport to
    /// upgrade with. Otherwise the response to send instead.
    pub async fn authorize_upgrade(
        &self,
        request: &AriRequest,
    ) -> Result<UpgradeGrant, AriResponse> {
        let routed = self.route(request);
        if let Ok(Routed::Operation {
            operation,
            params,
            user,
        }) = routed
            && operation.declared.websocket
        {
            return Ok(UpgradeGrant {
                resource: operation.declared.resource.clone(),
                params,
                user,
                peer: request.peer,
            });
        }
        Err(self.handle(request.clone()).await)
    }

    /// Runs every check before the body is needed (credentials, ACL, read-only, routing,
    /// method) on a request whose body has not been read: `Err` is the answer to send
    /// instead of reading it. Uploads are checked so, before a byte of their body is taken.
    /// A component upload is also checked against the app's owner and the user's
    /// `max_apps` here.
    pub async fn authorize_head(&self, request: &AriRequest) -> Result<(), AriResponse> {
        match self.route(request) {
            Ok(Routed::Operation {
                operation,
                params,
                user,
            }) if operation.declared.resource == "wasm"
                && operation.declared.nickname == "deploy" =>
            {
                let Some(wasm) = &self.wasm else {
                    return Ok(());
                };
                let actor = crate::host_api::Actor {
                    user,
                    peer: request.peer,
                };
                let name = params.string("appName").unwrap_or_default();
                match wasm.check_deploy(&name, &actor) {
                    Ok(()) => Ok(()),
                    Err(e) => {
                        let error = AriError::from(e);
                        tracing::info!(method = %request.method, path = %crate::log_text::Escaped(&request.path), status = error.status.as_u16(), message = %crate::log_text::Escaped(&error.message), "ARI request refused");
                        Err(error.into())
                    }
                }
            }
            Ok(_) => Ok(()),
            Err(_) => Err(self.handle(request.clone()).await),
        }
    }

    /// Authenticates a request that is not an ARI operation (`/metrics`) as ARI does:
    /// Basic or `api_key` credentials of an ari.conf user, then the user's ACL. Read-only
    /// users pass; the caller decides what they may do.
    pub fn authenticate(&self, request: &AriRequest) -> Result<Arc<crate::config::User>, AriError> {
        let params = Params::parse(request.query.as_deref(), None, &[])?;
        let user = self.log_in(request, &params)?;
        if let Some(peer) = request.peer
            && !user.acl.allows(peer.ip())
        {
            return Err(AriError::forbidden("Access denied by ACL"));
        }
        Ok(user)
    }

    /// The user whose credentials (Basic or `api_key`) the request carries: refused while
    /// its address is locked out after failed logins, and every wrong password counted
    /// against the address.
    fn log_in(
        &self,
        request: &AriRequest,
        params: &Params,
    ) -> Result<Arc<crate::config::User>, AriError> {
        let peer = request.peer.map(|p| p.ip());
        if let Some(peer) = peer
            && let Some(left) = self.logins.locked(peer)
        {
            // Logged once, when the lockout starts: a flood of refusals must not flood the log.
            tracing::debug!(%peer, "ARI login refused: the address is locked out after failed logins");
            let error = AriError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "Too many failed logins: try again later",
            );
            return Err(
                error.with_header(header::RETRY_AFTER, HeaderValue::from(left.as_secs() + 1))
            );
        }
        let credentials =
            auth::credentials(&request.headers, params).ok_or_else(|| self.unauthorized())?;
        if let Some(user) = self.auth.authenticate(&credentials) {
            return Ok(user);
        }
        tracing::info!(
            user = %crate::log_text::Escaped(&credentials.user),
            peer = ?request.peer,
            "ARI authentication failed"
        );
        if let Some(peer) = peer
            && self.logins.failed(peer)
        {
            tracing::warn!(
                %peer,
                failures = self.config.ari.max_login_failures,
                lockout_ms = self.config.ari.login_lockout.as_millis() as u64,
                "too many failed ARI logins: the address is locked out"
            );
        }
        Err(self.unauthorized())
    }

    fn unauthorized(&self) -> AriError {
        let error = AriError::new(StatusCode::UNAUTHORIZED, "Authentication required");
        let challenge = format!("Basic realm=\"{}\"", self.config.ari.auth_realm);
        match HeaderValue::from_str(&challenge) {
            Ok(value) => error.with_header(header::WWW_AUTHENTICATE, value),
            Err(_) => error,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_handler_is_declared_and_every_declaration_is_routed() {
        let docs = ApiDocs::embedded().expect("embedded docs parse");
        let handlers = resources::handlers();
        let router = Router::build(docs.operations(), &handlers).expect("handlers declared");
        assert_eq!(router.operations().len(), docs.operations().len());
        for op in docs.operations() {
            let segments: Vec<String> = op
                .path
                .split('/')
                .filter(|s| !s.is_empty())
                .map(|s| s.trim_start_matches('{').trim_end_matches('}').to_string())
                .collect();
            // Variables are matched by any value that is not a sibling literal; use the
            // template itself, which never collides with a literal.
            let found = router
                .find(&segments)
                .unwrap_or_else(|| panic!("{} not routed", op.path));
            let routed = router
                .operation(&found, &op.method)
                .unwrap_or_else(|| panic!("{} {} not bound", op.method, op.path));
            assert_eq!(routed.declared.nickname, op.nickname, "{}", op.path);
        }
        for (resource, nickname, _) in &handlers {
            assert!(
                router
                    .operations()
                    .iter()
                    .any(|o| o.declared.resource == *resource
                        && o.declared.nickname == *nickname
                        && o.handler.is_some()),
                "{resource}.{nickname}"
            );
        }
    }

    #[test]
    fn an_undeclared_handler_is_refused() {
        let docs = ApiDocs::embedded().expect("embedded docs parse");
        let mut handlers = resources::handlers();
        let (_, _, any) = handlers[0];
        handlers.push(("asterisk", "noSuchOperation", any));
        let err = Router::build(docs.operations(), &handlers).expect_err("must fail");
        assert_eq!(err.nickname, "noSuchOperation");
    }
}
