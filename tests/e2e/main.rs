//! End-to-end tests: each starts the real `wari` binary on an ephemeral loopback port and
//! talks HTTP to it.

mod support;

mod acl;
mod api_docs;
mod ari_ws;
mod auth;
mod bad_input;
mod bench_harness;
mod bridges_apps;
mod channels_rest;
mod check_config;
mod cli_app;
mod cors;
mod crash;
mod external_media;
mod http_transport;
mod isolation;
mod locations;
mod media;
mod media_bridges;
mod media_hangup;
mod media_misc;
mod media_phone_dtmf;
mod media_support;
mod metrics;
mod node_client;
mod outbound_ws;
mod prefix;
mod rest_over_ws;
mod routing_answers;
mod schema;
mod snoop;
mod soak;
mod stasis_flows;
mod third_party_flow;
mod tls;
mod wasm_apps;
mod wasm_config;
mod wasm_upload;
mod ws_handshake;
