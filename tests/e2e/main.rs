//! End-to-end tests: each starts the real `wari` binary on an ephemeral loopback port and
//! talks HTTP to it.

mod support;

mod acl;
mod api_docs;
mod auth;
mod bad_input;
mod check_config;
mod cors;
mod node_client;
mod prefix;
mod tls;
