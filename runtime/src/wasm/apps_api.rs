//! [`WasmHost`] as the ARI pipeline's `/wasm` resource sees it: the
//! [`WasmApps`](crate::host_api::WasmApps) implementation, each operation the host's own.

use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::future::BoxFuture;
use serde_json::Value;

use super::{WasmHost, app_log, log_follow};
use crate::config::User;
use crate::core::CoreError;
use crate::host_api::{Actor, AppLogReply, WasmApps};

impl WasmApps for WasmHost {
    fn max_upload_bytes(&self) -> usize {
        WasmHost::max_upload_bytes(self)
    }

    fn spool_dir(&self) -> &Path {
        WasmHost::spool_dir(self)
    }

    fn check_deploy(&self, name: &str, actor: &Actor) -> Result<(), CoreError> {
        WasmHost::check_deploy(self, name, actor)
    }

    fn deploy<'a>(
        &'a self,
        name: &'a str,
        bytes: Bytes,
        actor: Option<&'a Actor>,
    ) -> BoxFuture<'a, Result<Value, CoreError>> {
        Box::pin(WasmHost::deploy(self, name, bytes, actor))
    }

    fn deploy_file<'a>(
        &'a self,
        name: &'a str,
        path: &'a Path,
        actor: Option<&'a Actor>,
    ) -> BoxFuture<'a, Result<Value, CoreError>> {
        Box::pin(WasmHost::deploy_file(self, name, path, actor))
    }

    fn list(&self) -> Value {
        WasmHost::list(self)
    }

    fn get(&self, name: &str) -> Result<Value, CoreError> {
        WasmHost::get(self, name)
    }

    fn remove<'a>(
        self: Arc<Self>,
        name: &'a str,
        actor: &'a Actor,
        immediate: bool,
    ) -> BoxFuture<'a, Result<Option<Value>, CoreError>> {
        Box::pin(async move { WasmHost::remove(&self, name, actor, immediate).await })
    }

    fn rollback<'a>(
        &'a self,
        name: &'a str,
        actor: &'a Actor,
    ) -> BoxFuture<'a, Result<Value, CoreError>> {
        Box::pin(WasmHost::rollback(self, name, actor))
    }

    fn logs(
        &self,
        name: &str,
        user: &User,
        lines: Option<i64>,
        follow: bool,
    ) -> Result<AppLogReply, CoreError> {
        let lines = app_log::lines(lines).map_err(|e| CoreError::BadRequest(e.to_string()))?;
        let log = self.app_log(name, user)?;
        if !follow {
            let entries = log.recent(lines).iter().map(|e| e.to_json(name)).collect();
            return Ok(AppLogReply::Recent(Value::Array(entries)));
        }
        let (backlog, rx) = log.follow(lines);
        // The stream holds no reference to the log itself: it ends when the app's runtime
        // is gone and the broadcast closes.
        drop(log);
        Ok(AppLogReply::Follow(log_follow::entries(
            name.to_string(),
            backlog,
            rx,
        )))
    }
}
