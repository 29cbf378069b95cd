//! A small HTTP/1.1 client for the `wari app` subcommands: one request per connection to a
//! running wari, with Basic authentication and bounded waits.
//!
//! It is hyper's own connection-level client over a tokio `TcpStream` (hyper is already in the
//! binary for the server side; its `client` feature adds little), rather than reqwest, which
//! would bring a connection pool, redirects, proxies and a URL parser the binary does not
//! otherwise need. Plain `http://` only: for an HTTPS-only wari, use curl with the same API.

use std::time::Duration;

use anyhow::{Context, bail};
use bytes::Bytes;
use http::{HeaderValue, Method, Request, StatusCode, Uri, header};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use serde_json::Value;

/// How long connecting may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a whole request may take once connected (an upload is compiled before wari
/// answers, which takes seconds for a large component in a debug build).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(300);

/// Where a wari listens, and who we are to it.
#[derive(Debug, Clone)]
pub(crate) struct Server {
    /// `http://host:port[/prefix]`, for messages.
    url: String,
    /// The host to connect to (an IPv6 address without brackets).
    host: String,
    port: u16,
    /// The `Host` header.
    authority: String,
    /// The http.conf `prefix`, if the URL has one: empty or `/something`.
    prefix: String,
    authorization: HeaderValue,
}

/// A response: its status and whole body.
#[derive(Debug)]
pub(crate) struct Reply {
    pub status: StatusCode,
    pub body: Bytes,
}

impl Reply {
    /// The body as JSON.
    pub(crate) fn json(&self) -> anyhow::Result<Value> {
        serde_json::from_slice(&self.body).with_context(|| {
            format!(
                "wari answered {} with a body that is not JSON: {}",
                self.status,
                String::from_utf8_lossy(&self.body).trim()
            )
        })
    }

    /// The `message` of an ARI error body, if it has one.
    pub(crate) fn message(&self) -> Option<String> {
        serde_json::from_slice::<Value>(&self.body)
            .ok()
            .and_then(|v| v.get("message").and_then(Value::as_str).map(String::from))
    }

    /// What went wrong, for a 4xx/5xx: `400 Bad Request: <the server's message>`.
    pub(crate) fn error(&self) -> String {
        let message = self
            .message()
            .unwrap_or_else(|| String::from_utf8_lossy(&self.body).trim().to_string());
        if message.is_empty() {
            self.status.to_string()
        } else {
            format!("{}: {message}", self.status)
        }
    }
}

/// A response whose body is read as it arrives (see [`Server::open`]); the connection is
/// closed when it is dropped.
#[derive(Debug)]
pub(crate) struct Opened {
    pub status: StatusCode,
    pub body: hyper::body::Incoming,
    /// The connection's driver, stopped when the response is dropped.
    pub driver: Driver,
}

/// A connection's task, aborted when dropped.
#[derive(Debug)]
pub(crate) struct Driver(tokio::task::JoinHandle<Result<(), hyper::Error>>);

impl Drop for Driver {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl Server {
    /// Parses `url` (`http://host[:port][/prefix]`; a trailing `/ari` is allowed, and a URL
    /// without a scheme is taken as `http://`).
    pub(crate) fn new(url: &str, user: &str, password: &str) -> anyhow::Result<Server> {
        let given = url.trim();
        let with_scheme = if given.contains("://") {
            given.to_string()
        } else {
            format!("http://{given}")
        };
        let uri: Uri = with_scheme
            .parse()
            .with_context(|| format!("invalid URL {given:?}"))?;
        match uri.scheme_str() {
            Some("http") => {}
            Some("https") => bail!(
                "{given}: https is not supported by `wari app`; use a plain http listener, or \
                 curl with the same API (e.g. curl -u USER:PASSWORD -T app.wasm -H \
                 'Content-Type: application/wasm' https://HOST/ari/wasm/APP)"
            ),
            _ => bail!("{given}: only http:// URLs are supported"),
        }
        let Some(authority) = uri.authority() else {
            bail!("{given}: the URL has no host");
        };
        if authority.as_str().contains('@') {
            bail!("{given}: give the credentials with --user and --password, not in the URL");
        }
        if uri.query().is_some() {
            bail!("{given}: the URL must not have a query");
        }
        let host = authority
            .host()
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        if host.is_empty() {
            bail!("{given}: the URL has no host");
        }
        // What follows the host: nothing, or `:PORT` (http accepts any text there).
        let port = match &authority.as_str()[authority.host().len()..] {
            "" => 80,
            rest => match rest.strip_prefix(':').map(str::parse::<u16>) {
                Some(Ok(port)) => port,
                _ => bail!("{given}: invalid port {:?}", rest.trim_start_matches(':')),
            },
        };
        let mut prefix = uri.path().trim_end_matches('/').to_string();
        if let Some(stripped) = prefix.strip_suffix("/ari") {
            prefix = stripped.to_string();
        }
        let authorization =
            HeaderValue::from_str(&wari::ari::auth::basic_authorization(user, password))
                .context("the user name or password cannot be sent in an HTTP header")?;
        Ok(Server {
            url: format!("http://{}{prefix}", authority.as_str()),
            host,
            port,
            authority: authority.as_str().to_string(),
            prefix,
            authorization,
        })
    }

    /// `http://host:port[/prefix]`.
    pub(crate) fn url(&self) -> &str {
        &self.url
    }

    /// The request path for an ARI path (`/wasm/ivr` → `/prefix/ari/wasm/ivr`).
    pub(crate) fn path(&self, ari_path: &str) -> String {
        format!("{}/ari{ari_path}", self.prefix)
    }

    /// A connection to the server, within [`CONNECT_TIMEOUT`].
    async fn connect(&self) -> anyhow::Result<tokio::net::TcpStream> {
        match tokio::time::timeout(
            CONNECT_TIMEOUT,
            tokio::net::TcpStream::connect((self.host.as_str(), self.port)),
        )
        .await
        {
            Ok(Ok(stream)) => Ok(stream),
            Ok(Err(e)) => bail!(
                "cannot reach wari at {}: {e} (is it running? set the address with --url or \
                 WARI_URL)",
                self.url
            ),
            Err(_) => bail!(
                "cannot reach wari at {}: no connection within {} s (set the address with \
                 --url or WARI_URL)",
                self.url,
                CONNECT_TIMEOUT.as_secs()
            ),
        }
    }

    /// Sends a GET to `ari_path` and returns once the response head arrived (within
    /// [`REQUEST_TIMEOUT`]), its body still to be read as it comes, for as long as the
    /// server sends it (a followed log).
    pub(crate) async fn open(&self, ari_path: &str) -> anyhow::Result<Opened> {
        let path = self.path(ari_path);
        let request = self.request(&Method::GET, &path, None)?;
        let stream = self.connect().await?;
        self.within_timeout(&Method::GET, &path, async {
            let (response, driver) = exchange(stream, request).await?;
            Ok(Opened {
                status: response.status(),
                body: response.into_body(),
                driver,
            })
        })
        .await
    }

    /// Sends one request to `ari_path` (below `/ari`) and reads the whole response.
    pub(crate) async fn send(
        &self,
        method: Method,
        ari_path: &str,
        body: Option<(&'static str, Bytes)>,
    ) -> anyhow::Result<Reply> {
        let path = self.path(ari_path);
        let mut request = self.request(&method, &path, body)?;
        request
            .headers_mut()
            .insert(header::ACCEPT, HeaderValue::from_static("application/json"));
        let stream = self.connect().await?;
        self.within_timeout(&method, &path, async {
            // The driver is dropped (and the connection closed) once the body is read.
            let (response, _driver) = exchange(stream, request).await?;
            let status = response.status();
            let body = response.into_body().collect().await?.to_bytes();
            Ok(Reply { status, body })
        })
        .await
    }

    /// A request to the server's `path` with its Host, Authorization and User-Agent, and the
    /// body with its content type, if any.
    fn request(
        &self,
        method: &Method,
        path: &str,
        body: Option<(&'static str, Bytes)>,
    ) -> anyhow::Result<Request<Full<Bytes>>> {
        let mut request = Request::builder()
            .method(method.clone())
            .uri(path)
            .header(header::HOST, self.authority.as_str())
            .header(header::AUTHORIZATION, self.authorization.clone())
            .header(
                header::USER_AGENT,
                concat!("wari/", env!("CARGO_PKG_VERSION")),
            );
        let body = match body {
            Some((content_type, bytes)) => {
                request = request.header(header::CONTENT_TYPE, content_type);
                bytes
            }
            None => Bytes::new(),
        };
        request
            .body(Full::new(body))
            .with_context(|| format!("cannot build the request for {path}"))
    }

    /// Runs `exchange` within [`REQUEST_TIMEOUT`]; its failure or the timeout as an error
    /// naming the request.
    async fn within_timeout<T>(
        &self,
        method: &Method,
        path: &str,
        exchange: impl Future<Output = Result<T, hyper::Error>>,
    ) -> anyhow::Result<T> {
        match tokio::time::timeout(REQUEST_TIMEOUT, exchange).await {
            Ok(Ok(done)) => Ok(done),
            Ok(Err(e)) => bail!("{method} {}{path}: {e}", self.authority_url()),
            Err(_) => bail!(
                "{method} {}{path}: no answer within {} s",
                self.authority_url(),
                REQUEST_TIMEOUT.as_secs()
            ),
        }
    }

    fn authority_url(&self) -> String {
        format!("http://{}", self.authority)
    }
}

/// One HTTP/1.1 exchange on a fresh connection: the response head, and the task driving the
/// connection (aborted when the [`Driver`] is dropped).
async fn exchange(
    stream: tokio::net::TcpStream,
    request: Request<Full<Bytes>>,
) -> Result<(http::Response<hyper::body::Incoming>, Driver), hyper::Error> {
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    let driver = Driver(tokio::spawn(connection));
    let response = sender.send_request(request).await?;
    Ok((response, driver))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_with_and_without_scheme_prefix_and_ari() {
        let s = Server::new("http://127.0.0.1:8088", "a", "b").unwrap();
        assert_eq!((s.host.as_str(), s.port), ("127.0.0.1", 8088));
        assert_eq!(s.path("/wasm"), "/ari/wasm");
        assert_eq!(s.url(), "http://127.0.0.1:8088");

        let s = Server::new("localhost:9000/asterisk/ari/", "a", "b").unwrap();
        assert_eq!((s.host.as_str(), s.port), ("localhost", 9000));
        assert_eq!(s.path("/wasm/x"), "/asterisk/ari/wasm/x");

        let s = Server::new("http://[::1]:8088/", "a", "b").unwrap();
        assert_eq!((s.host.as_str(), s.port), ("::1", 8088));
        assert_eq!(s.authority, "[::1]:8088");

        let s = Server::new("http://example.org", "a", "b").unwrap();
        assert_eq!(s.port, 80);
    }

    #[test]
    fn unsupported_urls_are_refused_with_a_reason() {
        let err = |url: &str| Server::new(url, "a", "b").unwrap_err().to_string();
        assert!(err("https://h:8089").contains("https is not supported"));
        assert!(err("ftp://h").contains("only http://"));
        assert!(err("http://u:p@h:1").contains("--user"));
        assert!(err("http://h:1/?x=1").contains("query"));
        assert!(err("http://h:notaport").contains("invalid port \"notaport\""));
        assert!(err("http://h:70000").contains("invalid port"));
        assert!(err("http://h:1:2").contains("invalid"));
    }

    #[test]
    fn basic_authorization() {
        let s = Server::new("http://h", "asterisk", "secret").unwrap();
        assert_eq!(s.authorization, "Basic YXN0ZXJpc2s6c2VjcmV0");
    }

    #[test]
    fn error_messages_prefer_the_servers_message() {
        let reply = |status: u16, body: &str| Reply {
            status: StatusCode::from_u16(status).unwrap(),
            body: Bytes::from(body.to_string()),
        };
        assert_eq!(
            reply(400, r#"{"message": "Invalid component"}"#).error(),
            "400 Bad Request: Invalid component"
        );
        assert_eq!(
            reply(502, "bad gateway\n").error(),
            "502 Bad Gateway: bad gateway"
        );
        assert_eq!(reply(404, "").error(), "404 Not Found");
    }
}
