//! The applications view's own route: `GET /console/api/outbound` says which Stasis
//! applications ari.conf's `type = outbound_websocket` sections serve (wari connects out to
//! a server of websocket_client.conf), so the page can tell them from the applications of
//! WebSocket clients that connected in. ARI's `/applications` answers as Asterisk's does
//! and does not say how an application is served.
//!
//! Read-only: any logged-in user may read it. It names the connections, their client
//! section, how they connect and their applications; never a URI or credentials.

use axum::response::Response;
use http::StatusCode;
use serde_json::{Value, json};

use super::json;
use crate::config::Config;
use crate::config::websocket_client_conf::ConnectionType;

/// Serves `GET /api/outbound`.
pub(crate) fn serve(config: &Config) -> Response {
    json(StatusCode::OK, &connections(config))
}

/// `{"connections": [{name, client, per_call, apps}]}`, the valid sections in ari.conf's
/// order. `per_call`: each call gets its own connection and its own application
/// `<app>:<channel name>`.
fn connections(config: &Config) -> Value {
    let list: Vec<Value> = config
        .ari
        .outbound
        .iter()
        .filter(|o| o.valid)
        .map(|o| {
            let per_call = config
                .websocket_clients
                .get(&o.client_id)
                .is_some_and(|c| c.connection_type == ConnectionType::PerCall);
            json!({
                "name": o.name,
                "client": o.client_id,
                "per_call": per_call,
                "apps": o.apps,
            })
        })
        .collect();
    json!({ "connections": list })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ConfigSource;

    #[test]
    fn names_the_valid_connections_and_their_apps_never_the_uri() {
        let dir = tempfile::tempdir().expect("temp dir");
        let write = |name: &str, text: &str| {
            std::fs::write(dir.path().join(name), text).expect("write config")
        };
        write(
            "websocket_client.conf",
            "[srv]\ntype = websocket_client\nuri = ws://u:secret@127.0.0.1:9/ari\nconnection_type = persistent\n\n\
             [bot]\ntype = websocket_client\nuri = ws://127.0.0.1:9/bot\nconnection_type = per_call_config\n",
        );
        write(
            "ari.conf",
            "[general]\nenabled = yes\n\n[u]\ntype = user\npassword = p\n\n\
             [remote]\ntype = outbound_websocket\nwebsocket_client_id = srv\napps = a, b\nlocal_ari_user = u\n\n\
             [voicebot]\ntype = outbound_websocket\nwebsocket_client_id = bot\napps = bot\nlocal_ari_user = u\n\n\
             [broken]\ntype = outbound_websocket\nwebsocket_client_id = srv\napps = c\nlocal_ari_user = ghost\n",
        );
        let (config, _) =
            crate::config::load(&ConfigSource::Dir(dir.path().to_path_buf())).expect("config");
        let answer = connections(&config);
        assert_eq!(
            answer,
            json!({ "connections": [
                { "name": "remote", "client": "srv", "per_call": false, "apps": ["a", "b"] },
                { "name": "voicebot", "client": "bot", "per_call": true, "apps": ["bot"] },
            ] })
        );
        assert!(!answer.to_string().contains("secret"));
    }
}
