//! End-to-end tests: each starts the real `wari` binary on an ephemeral loopback port and
//! talks HTTP to it.

mod support;

mod auth;
