//! The server under test: its ARI base URL, credentials, and HTTP clients for it.

use std::net::IpAddr;
use std::time::Duration;

use anyhow::{Context, bail};
use base64::Engine;

/// An ARI server on this machine.
#[derive(Debug, Clone)]
pub struct Target {
    /// `host:port`, for raw connections and the `Host` header.
    pub authority: String,
    /// The ARI path prefix, e.g. `/ari` (no trailing slash).
    pub prefix: String,
    pub user: String,
    pub password: String,
    /// The value of the `Authorization` header.
    pub authorization: String,
}

impl Target {
    /// A target from the server's URL: `http://127.0.0.1:8088` (ARI at `/ari`) or a URL
    /// that already ends in `/ari` (as wari's banner prints it, with any http.conf prefix).
    /// Only loopback hosts are accepted: benchmarks never leave this machine.
    pub fn new(url: &str, user: &str, password: &str) -> anyhow::Result<Target> {
        let rest = url
            .strip_prefix("http://")
            .with_context(|| format!("--url must start with http:// (got {url})"))?;
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, ""),
        };
        let host = match authority.rsplit_once(':') {
            Some((host, port)) if port.parse::<u16>().is_ok() => host,
            _ => authority,
        };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let loopback = host.eq_ignore_ascii_case("localhost")
            || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback());
        if !loopback {
            bail!("refusing {url}: benchmarks run against loopback servers only");
        }
        let path = path.trim_end_matches('/');
        let prefix = if path.ends_with("/ari") {
            path.to_string()
        } else {
            format!("{path}/ari")
        };
        let credentials =
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        Ok(Target {
            authority: authority.to_string(),
            prefix,
            user: user.to_string(),
            password: password.to_string(),
            authorization: format!("Basic {credentials}"),
        })
    }

    /// `http://host:port/ari` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}{path}", self.authority, self.prefix)
    }

    /// The events WebSocket URL for `app`, authenticated by `api_key`.
    pub fn events_url(&self, app: &str) -> String {
        format!(
            "ws://{}{}/events?app={}&api_key={}:{}",
            self.authority,
            self.prefix,
            encode(app),
            encode(&self.user),
            encode(&self.password)
        )
    }

    /// A client that keeps one connection to the server alive, and talks to it directly:
    /// a loopback target is never reached through a proxy from the environment.
    pub fn client(&self) -> anyhow::Result<reqwest::Client> {
        reqwest::Client::builder()
            .no_proxy()
            .pool_max_idle_per_host(1)
            .tcp_nodelay(true)
            .timeout(Duration::from_secs(30))
            .build()
            .context("HTTP client")
    }
}

/// Percent-encodes everything but RFC 3986's unreserved characters.
pub fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_and_loopback() {
        let t = Target::new("http://127.0.0.1:8088", "u", "p w").expect("loopback");
        assert_eq!(t.url("/channels"), "http://127.0.0.1:8088/ari/channels");
        assert_eq!(
            t.events_url("bench app"),
            "ws://127.0.0.1:8088/ari/events?app=bench%20app&api_key=u:p%20w"
        );
        let t = Target::new("http://localhost:1/asterisk/ari/", "u", "p").expect("prefix");
        assert_eq!(t.prefix, "/asterisk/ari");
        assert!(Target::new("http://[::1]:8088", "u", "p").is_ok());
        assert!(Target::new("http://10.0.0.1:8088", "u", "p").is_err());
        assert!(Target::new("http://example.com", "u", "p").is_err());
        assert!(Target::new("https://127.0.0.1", "u", "p").is_err());
    }
}
