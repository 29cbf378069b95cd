//! The seams between the ARI pipeline ([`crate::ari`]) and the WebAssembly host
//! ([`crate::wasm`]). Each needs something of the other: ARI's `/wasm` resource deploys,
//! lists and removes apps; a guest's `ari.request` runs a request through the ARI
//! pipeline. Neither names the other: each depends on a small trait defined here, below
//! both, and the composition root ([`crate::host`]) hands each the other as `Arc<dyn ...>`
//! / `Weak<dyn ...>`.
//!
//! - [`WasmApps`] ([`apps`]): what the `/wasm` resource asks of the app host; implemented
//!   by `wasm::WasmHost`.
//! - [`AriDispatch`] ([`dispatch`]): "serve this request as wari's own user"; implemented
//!   by `ari::Ari`.
//! - [`wire`]: ARI's conventions both follow (how a path splits into segments, which status
//!   a core error answers with), so that a guest's request is checked and answered exactly
//!   as the pipeline reads it.

pub(crate) mod apps;
pub(crate) mod dispatch;
pub(crate) mod wire;

pub use apps::{Actor, AppLogReply, WasmApps};
pub use dispatch::{AriDispatch, InternalRequest, InternalResponse};
