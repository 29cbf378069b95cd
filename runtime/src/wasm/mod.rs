//! Stasis applications as sandboxed WebAssembly components.
//!
//! An uploaded component is validated, precompiled and stored ([`store`]), then registered
//! with the core as the handler of its Stasis application ([`runtime`]). Each call that
//! enters the application gets its own instance ([`session`]) with memory, CPU and time
//! limits ([`limits`]); the app drives the call through the host imports, which run the same
//! core operations as the REST API, restricted to the session's own channels and bridges.

pub(crate) mod app_log;
pub(crate) mod apps_api;
pub(crate) mod audit;
pub(crate) mod bindings;
pub mod convert;
pub(crate) mod drain;
pub mod engine;
mod guest_ari;
pub(crate) mod kv;
pub mod limits;
pub(crate) mod log_follow;
pub(crate) mod names;
pub(crate) mod output;
mod ownership;
pub mod runtime;
pub(crate) mod session;
mod settings;
pub(crate) mod store;

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex, Weak};

use bytes::Bytes;
use serde_json::Value;
use wasmtime::component::{Component, Linker};

use crate::core::{Core, CoreError};
use crate::host_api::AriDispatch;
use audit::{Action, Actor, Outcome};
use bindings::{StasisApp, StasisAppPre};
use engine::WasmEngine;
use kv::AppKv;
pub use ownership::is_app_name;
use ownership::{check_owner, not_owner, owner_or_admin, validate_name};
use runtime::{AppRuntime, AppVersion};
use session::SessionState;
pub use settings::WasmSettings;
use store::{AppStore, StoredApp, sha256_hex};

/// What every app and session shares.
pub struct Shared {
    /// The engine every app is compiled with.
    pub engine: WasmEngine,
    /// The engine's compatibility hash: names cached precompiled artifacts.
    compat: String,
    /// The telephony core the apps' host calls act on.
    pub core: Arc<Core>,
    linker: Linker<SessionState>,
    /// The ARI pipeline serving `ari.request` (`None`: requests answer 503).
    ari: Option<Weak<dyn AriDispatch>>,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared").finish_non_exhaustive()
    }
}

/// The WebAssembly host: deployed apps and their store.
#[derive(Debug)]
pub struct WasmHost {
    shared: Arc<Shared>,
    store: AppStore,
    settings: WasmSettings,
    apps: Mutex<HashMap<String, Arc<AppRuntime>>>,
    /// Serialises deployments so two uploads of one name cannot interleave.
    deploying: tokio::sync::Mutex<()>,
}

/// Where a deployed version's compiled code came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Origin {
    Cache,
    Compiled,
}

impl WasmHost {
    /// A host storing apps under `data_dir`, without ARI: its apps' `ari.request` answers
    /// 503 (in-process benchmarks and tests).
    pub fn new(
        core: Arc<Core>,
        data_dir: &Path,
        settings: WasmSettings,
    ) -> Result<Arc<WasmHost>, CoreError> {
        WasmHost::with_ari(core, data_dir, settings, None)
    }

    /// A host storing apps under `data_dir` whose apps' `ari.request` runs through `ari`
    /// (held weakly: the pipeline owns the host).
    pub fn with_ari(
        core: Arc<Core>,
        data_dir: &Path,
        settings: WasmSettings,
        ari: Option<Weak<dyn AriDispatch>>,
    ) -> Result<Arc<WasmHost>, CoreError> {
        let engine = WasmEngine::new(settings.max_sessions, &settings.largest_memory())
            .map_err(|e| CoreError::Internal(e.to_string()))?;
        let mut linker = Linker::new(&engine.engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)
            .map_err(|e| CoreError::Internal(e.to_string()))?;
        StasisApp::add_to_linker::<_, wasmtime::component::HasSelf<_>>(&mut linker, |s| s)
            .map_err(|e| CoreError::Internal(e.to_string()))?;
        Ok(Arc::new(WasmHost {
            shared: Arc::new(Shared {
                compat: engine.compatibility_hash(),
                engine,
                core,
                linker,
                ari,
            }),
            store: AppStore::new(data_dir),
            settings,
            apps: Mutex::new(HashMap::new()),
            deploying: tokio::sync::Mutex::new(()),
        }))
    }

    /// The largest upload accepted.
    pub fn max_upload_bytes(&self) -> usize {
        self.settings.max_upload_bytes
    }

    /// Loads every stored app (precompiled artifacts from the cache when they match this
    /// engine). Failures are logged; the app is skipped.
    pub async fn load_stored(&self) {
        self.store.clear_spool();
        self.forget_orphan_kv().await;
        for stored in self.store.list() {
            let name = stored.name.clone();
            if stored.owner.is_none() {
                tracing::info!(app = %name, "WebAssembly app has no owner (stored before owners were recorded, or deployed from apps_dir): only an admin may replace or delete it");
            }
            match self.load(stored).await {
                Ok(origin) => {
                    tracing::info!(app = %name, from_cache = (origin == Origin::Cache), "WebAssembly app loaded")
                }
                Err(e) => {
                    tracing::error!(app = %name, error = %e, "cannot load stored WebAssembly app")
                }
            }
        }
        if let Some(dir) = self.settings.apps_dir.clone() {
            self.deploy_dir(&dir).await;
        }
    }

    /// Deploys every `*.wasm` in `dir` (named by file stem) that is not already deployed
    /// with the same content.
    async fn deploy_dir(&self, dir: &Path) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            tracing::warn!(dir = %dir.display(), "wasm.conf apps_dir cannot be read");
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().and_then(|e| e.to_str()) != Some("wasm") {
                continue;
            }
            let Some(name) = path
                .file_stem()
                .and_then(|n| n.to_str())
                .map(str::to_string)
            else {
                continue;
            };
            let bytes = match std::fs::read(&path) {
                Ok(bytes) => bytes,
                Err(e) => {
                    tracing::error!(file = %path.display(), error = %e, "cannot read app");
                    continue;
                }
            };
            let sha = sha256_hex(&bytes);
            let current = self
                .apps
                .lock()
                .ok()
                .and_then(|a| a.get(&name).map(|r| r.current().stored.sha256.clone()));
            if current.as_deref() == Some(sha.as_str()) {
                continue;
            }
            match self.deploy(&name, Bytes::from(bytes), None).await {
                Ok(_) => {
                    tracing::info!(app = %name, file = %path.display(), "WebAssembly app deployed from apps_dir")
                }
                Err(e) => {
                    tracing::error!(app = %name, file = %path.display(), error = %e, "cannot deploy app from apps_dir")
                }
            }
        }
    }

    /// Removes the key-value stores of apps that were deleted (a deletion cut short by a
    /// crash), so that a new app of the same name starts empty. An app whose stored state
    /// cannot be read keeps its keys.
    async fn forget_orphan_kv(&self) {
        let kv = self.shared.core.store().clone();
        let apps = self.store.clone();
        let orphans = tokio::task::spawn_blocking(move || {
            let names = kv.kv_apps()?;
            Ok::<_, crate::store::StoreError>(
                names
                    .into_iter()
                    .filter(|name| matches!(apps.current(name), Ok(None)))
                    .collect::<Vec<_>>(),
            )
        })
        .await;
        let orphans = match orphans {
            Ok(Ok(orphans)) => orphans,
            Ok(Err(error)) => {
                tracing::error!(%error, "cannot list the apps' key-value stores");
                return;
            }
            Err(error) => {
                tracing::error!(%error, "cannot list the apps' key-value stores");
                return;
            }
        };
        for app in orphans {
            let app_name = crate::log_text::Escaped(&app);
            match self.shared.core.store().kv_delete_app(&app).await {
                Ok(()) => {
                    tracing::info!(app = %app_name, "key-value store of a deleted app removed")
                }
                Err(error) => {
                    tracing::error!(app = %app_name, %error, "cannot remove the key-value store of a deleted app")
                }
            }
        }
    }

    /// The key-value store of an app about to be installed: read from disk unless the app
    /// is already running (a replacement keeps its store).
    async fn app_kv(&self, name: &str) -> Result<Option<AppKv>, CoreError> {
        if self.app(name).is_some() {
            return Ok(None);
        }
        let store = self.shared.core.store().clone();
        let app = name.to_string();
        let entries = tokio::task::spawn_blocking(move || store.kv_entries(&app))
            .await
            .map_err(|e| CoreError::Internal(e.to_string()))?
            .map_err(|e| {
                CoreError::Internal(format!("cannot read the app's key-value store: {e}"))
            })?;
        Ok(Some(AppKv::new(
            name,
            self.shared.core.store().clone(),
            entries,
        )))
    }

    async fn load(&self, stored: StoredApp) -> Result<Origin, CoreError> {
        let (component, origin) = self.compile_stored(&stored).await?;
        let pre = self.prepare(&component)?;
        let kv = self.app_kv(&stored.name).await?;
        self.install(stored, pre, origin, kv)?;
        Ok(origin)
    }

    /// The compiled code of a stored version: its cached artifact when it matches this
    /// engine, else compiled from the stored component (and cached).
    async fn compile_stored(&self, stored: &StoredApp) -> Result<(Component, Origin), CoreError> {
        let compat = self.shared.compat.clone();
        let engine = self.shared.engine.engine.clone();
        let store = self.store.clone();
        let loaded = {
            let stored = stored.clone();
            tokio::task::spawn_blocking(move || -> Result<(Component, Origin), CoreError> {
                if let Some(artifact) = store.compiled(&stored, &compat)
                    && let Some(component) = cached_component(&engine, &artifact)
                {
                    return Ok((component, Origin::Cache));
                }
                let bytes = store
                    .component(&stored)
                    .map_err(|e| CoreError::Internal(e.to_string()))?;
                let component = Component::new(&engine, &bytes)
                    .map_err(|e| CoreError::BadRequest(format!("{e:#}")))?;
                if let Ok(artifact) = component.serialize() {
                    let _ = store.save_compiled(&stored, &compat, &artifact);
                }
                Ok((component, Origin::Compiled))
            })
            .await
            .map_err(|e| CoreError::Internal(e.to_string()))??
        };
        Ok(loaded)
    }

    fn prepare(&self, component: &Component) -> Result<StasisAppPre<SessionState>, CoreError> {
        let instance_pre = self.shared.linker.instantiate_pre(component).map_err(|e| {
            CoreError::BadRequest(format!(
                "the component's imports cannot be satisfied: {e:#}"
            ))
        })?;
        StasisAppPre::new(instance_pre).map_err(|e| {
            CoreError::BadRequest(format!(
                "the component does not export the wari:stasis handler: {e:#}"
            ))
        })
    }

    fn install(
        &self,
        stored: StoredApp,
        pre: StasisAppPre<SessionState>,
        origin: Origin,
        kv: Option<AppKv>,
    ) -> Result<Arc<AppRuntime>, CoreError> {
        let name = stored.name.clone();
        let version = AppVersion {
            limits: self.settings.limits_for(&stored.name),
            stored,
            pre,
            sessions: Default::default(),
        };
        let mut apps = self
            .apps
            .lock()
            .map_err(|_| CoreError::Internal("app table poisoned".into()))?;
        if let Some(existing) = apps.get(&name) {
            existing.replace(version);
            existing.set_origin(origin == Origin::Cache);
            if existing.drain.is_draining() {
                // Deployed again by its owner or an admin while its calls drained: the
                // removal is called off and the new version takes calls, like a hot swap.
                existing.drain.cancel();
                tracing::info!(app = %name, "WebAssembly app deployed again during its drain: it takes calls again");
            }
            return Ok(existing.clone());
        }
        let kv =
            kv.unwrap_or_else(|| AppKv::new(&name, self.shared.core.store().clone(), Vec::new()));
        let runtime = AppRuntime::new(name.clone(), self.shared.clone(), version, kv);
        runtime.set_origin(origin == Origin::Cache);
        self.shared
            .core
            .app_host()
            .register_apps(
                std::slice::from_ref(&name),
                runtime.clone(),
                false,
                crate::core::stasis::apps::Claim::Component,
            )
            .map_err(|e| CoreError::Conflict(e.to_string()))?;
        apps.insert(name, runtime.clone());
        Ok(runtime)
    }

    /// Where uploads in progress are spooled (`<data-dir>/uploads`).
    pub fn spool_dir(&self) -> &Path {
        self.store.spool_dir()
    }

    /// `PUT /ari/wasm/{app}` with the component in a spool file: read into memory only
    /// once it is this upload's turn to compile, one upload at a time.
    pub async fn deploy_file(
        &self,
        name: &str,
        path: &Path,
        actor: Option<&Actor>,
    ) -> Result<Value, CoreError> {
        validate_name(name)?;
        let _guard = self.deploying.lock().await;
        let path = path.to_path_buf();
        let bytes = tokio::task::spawn_blocking(move || std::fs::read(path))
            .await
            .map_err(|e| CoreError::Internal(e.to_string()))?
            .map_err(|e| CoreError::Internal(format!("cannot read the upload: {e}")))?;
        self.deploy_audited(name, Bytes::from(bytes), actor).await
    }

    /// `PUT /ari/wasm/{app}`: validates, precompiles and stores a component and makes it the
    /// app's current version (live sessions finish on the old one). `actor` is the ARI
    /// user asking (the app's owner when it is new; only the owner or an admin may replace
    /// it); `None` is the operator (wasm.conf `apps_dir`), who may replace any app.
    pub async fn deploy(
        &self,
        name: &str,
        bytes: Bytes,
        actor: Option<&Actor>,
    ) -> Result<Value, CoreError> {
        validate_name(name)?;
        let _guard = self.deploying.lock().await;
        self.deploy_audited(name, bytes, actor).await
    }

    /// [`WasmHost::deploy`] once the deploy lock is held: the ownership check (again: the
    /// head's was made before the lock), the deployment and its audit line.
    async fn deploy_audited(
        &self,
        name: &str,
        bytes: Bytes,
        actor: Option<&Actor>,
    ) -> Result<Value, CoreError> {
        let sha = sha256_hex(&bytes);
        let existing = self.owner_of(name);
        let (action, owner) = match actor {
            Some(actor) => match self.may_deploy(name, actor) {
                Ok(action) => (
                    action,
                    existing
                        .clone()
                        .unwrap_or_else(|| Some(actor.user.name.clone())),
                ),
                Err(e) => {
                    let action = if existing.is_some() {
                        Action::Replace
                    } else {
                        Action::Deploy
                    };
                    audit::record(
                        action,
                        Outcome::Refused,
                        Some(actor),
                        name,
                        Some(&sha),
                        &e.to_string(),
                    );
                    return Err(e);
                }
            },
            None if existing.is_some() => (Action::Replace, existing.clone().flatten()),
            None => (Action::Deploy, None),
        };
        let result = self.deploy_locked(name, bytes, sha.clone(), owner).await;
        let (outcome, reason) = match &result {
            Ok(_) => (Outcome::Done, String::new()),
            Err(e) => (Outcome::Failed, e.to_string()),
        };
        audit::record(action, outcome, actor, name, Some(&sha), &reason);
        result
    }

    /// Deploys once the deploy lock is held and the deployment is allowed.
    async fn deploy_locked(
        &self,
        name: &str,
        bytes: Bytes,
        sha256: String,
        owner: Option<String>,
    ) -> Result<Value, CoreError> {
        if bytes.is_empty() {
            return Err(CoreError::BadRequest(
                "Empty body: send the component's bytes with Content-Type: application/wasm".into(),
            ));
        }
        if bytes.len() >= 8 && bytes[..4] == *b"\0asm" && bytes[4..8] == [1, 0, 0, 0] {
            return Err(CoreError::BadRequest(
                "This is a core WebAssembly module, not a component: build for wasm32-wasip2 (or wrap the module with `wasm-tools component new`)".into(),
            ));
        }
        // A name an owner's WebSocket serves is refused before compiling (a read-only
        // user's socket holds nothing: the deploy takes the name over).
        self.shared
            .core
            .app_host()
            .check_component_claim(name)
            .map_err(|e| CoreError::Conflict(e.to_string()))?;
        let engine = self.shared.engine.engine.clone();
        let compile_bytes = bytes.clone();
        let (component, artifact) = tokio::task::spawn_blocking(move || {
            let component = Component::new(&engine, &compile_bytes)
                .map_err(|e| CoreError::BadRequest(format!("Invalid component: {e:#}")))?;
            let artifact = component
                .serialize()
                .map_err(|e| CoreError::Internal(e.to_string()))?;
            Ok::<_, CoreError>((component, artifact))
        })
        .await
        .map_err(|e| CoreError::Internal(e.to_string()))??;
        let pre = self.prepare(&component)?;
        let stored = StoredApp {
            name: name.to_string(),
            sha256,
            size: bytes.len() as u64,
            uploaded: crate::core::time::now(),
            owner,
        };
        let store = self.store.clone();
        let compat = self.shared.compat.clone();
        {
            let stored = stored.clone();
            tokio::task::spawn_blocking(move || store.save(&stored, &bytes, &compat, &artifact))
                .await
                .map_err(|e| CoreError::Internal(e.to_string()))?
                .map_err(|e| CoreError::Internal(format!("cannot store the app: {e}")))?;
        }
        let kv = self.app_kv(name).await?;
        let runtime = self.install(stored, pre, Origin::Compiled, kv)?;
        tracing::info!(app = name, "WebAssembly app deployed");
        Ok(runtime.json())
    }

    /// `GET /ari/wasm`.
    pub fn list(&self) -> Value {
        let apps = self.apps.lock().map(|a| {
            let mut list: Vec<_> = a.values().map(|r| r.json()).collect();
            list.sort_by(|x, y| x["name"].as_str().cmp(&y["name"].as_str()));
            list
        });
        Value::Array(apps.unwrap_or_default())
    }

    /// `GET /ari/wasm/{app}`.
    pub fn get(&self, name: &str) -> Result<Value, CoreError> {
        self.apps
            .lock()
            .ok()
            .and_then(|a| a.get(name).map(|r| r.json()))
            .ok_or_else(|| CoreError::NotFound(format!("No WebAssembly app named '{name}'")))
    }

    /// The log of app `name` for `user` (`GET /ari/wasm/{app}/logs`): only its owner or an
    /// admin may read it.
    pub fn app_log(
        &self,
        name: &str,
        user: &crate::config::User,
    ) -> Result<Arc<app_log::AppLog>, CoreError> {
        let runtime = self
            .app(name)
            .ok_or_else(|| CoreError::NotFound(format!("No WebAssembly app named '{name}'")))?;
        let owner = runtime.current().stored.owner.clone();
        if !owner_or_admin(user, owner.as_deref()) {
            return Err(not_owner(name, owner.as_deref(), "read its log"));
        }
        Ok(runtime.log().clone())
    }

    /// The runtime of a deployed app (the core's handler of its Stasis application), for
    /// in-process benchmarks and diagnostics.
    pub fn app(&self, name: &str) -> Option<Arc<AppRuntime>> {
        self.apps.lock().ok().and_then(|a| a.get(name).cloned())
    }

    /// `DELETE /ari/wasm/{app}`: the app stops taking calls (a new call hangs up or
    /// continues per `on_failure`) and its stored files go at once, so nothing brings it
    /// back. Its live sessions drain: they keep their events until they end, for at most
    /// wasm.conf `drain_seconds`, after which those still live are ended; with `immediate`
    /// (or `drain_seconds = 0`) they end at once. The app's key-value store is deleted when
    /// the drain ends. Only its owner or an admin may remove it; the attempt is written to
    /// the audit log. Returns the app (`status: draining`) while it drains, `None` once it
    /// is gone.
    pub async fn remove(
        self: &Arc<Self>,
        name: &str,
        actor: &Actor,
        immediate: bool,
    ) -> Result<Option<Value>, CoreError> {
        let not_found = || CoreError::NotFound(format!("No WebAssembly app named '{name}'"));
        // Not while a deploy, a rollback or the end of a drain of the same app runs.
        let _guard = self.deploying.lock().await;
        let runtime = self.app(name).ok_or_else(not_found)?;
        let stored = runtime.current().stored.clone();
        check_owner(Action::Remove, actor, name, &stored)?;
        let already_draining = runtime.drain.is_draining();
        if !already_draining {
            runtime.log().push(app_log::LogEntry::now(
                runtime::version_tag(&stored.sha256),
                None,
                app_log::EntryKind::Deploy,
                format!("app deleted by user {}", actor.user.name),
            ));
        }
        let result = self
            .remove_locked(name, &runtime, immediate, already_draining)
            .await;
        let (outcome, reason) = match &result {
            Ok(_) => (Outcome::Done, String::new()),
            Err(e) => (Outcome::Failed, e.to_string()),
        };
        audit::record(
            Action::Remove,
            outcome,
            Some(actor),
            name,
            Some(&stored.sha256),
            &reason,
        );
        result
    }

    async fn remove_locked(
        self: &Arc<Self>,
        name: &str,
        runtime: &Arc<AppRuntime>,
        immediate: bool,
        already_draining: bool,
    ) -> Result<Option<Value>, CoreError> {
        if !already_draining {
            // The files first: a crash from here on leaves the app deleted (and its keys
            // are removed at the next start).
            let store = self.store.clone();
            let app = name.to_string();
            tokio::task::spawn_blocking(move || store.delete(&app))
                .await
                .map_err(|e| CoreError::Internal(e.to_string()))?
                .map_err(|e| CoreError::Internal(format!("cannot delete the stored app: {e}")))?;
        }
        let length = if immediate {
            std::time::Duration::ZERO
        } else {
            self.settings.drain
        };
        if length.is_zero() || runtime.live_sessions() == 0 {
            self.finish_removal(name, runtime).await?;
            tracing::info!(app = name, "WebAssembly app removed");
            return Ok(None);
        }
        if already_draining {
            return Ok(Some(runtime.json()));
        }
        let generation = runtime.drain.start(length);
        tracing::info!(
            app = name,
            sessions_live = runtime.live_sessions(),
            drain_seconds = length.as_secs(),
            "WebAssembly app removed: it takes no new calls; its calls in progress are draining"
        );
        let host = self.clone();
        let draining = runtime.clone();
        let app = name.to_string();
        tokio::spawn(async move {
            let drained = drain::wait(&draining, length, generation).await;
            host.end_drain(&app, &draining, generation, drained).await;
        });
        Ok(Some(runtime.json()))
    }

    /// The drain of `generation` is over: the app goes, unless it was deployed again.
    async fn end_drain(
        &self,
        name: &str,
        runtime: &Arc<AppRuntime>,
        generation: u64,
        drained: drain::Drained,
    ) {
        let _guard = self.deploying.lock().await;
        if !runtime.drain.is_current(generation) {
            tracing::info!(
                app = name,
                "WebAssembly app deployed again during its drain: the removal is called off and the app stays"
            );
            return;
        }
        let ended = runtime.live_sessions();
        match drained {
            drain::Drained::Idle => {
                tracing::info!(
                    app = name,
                    "WebAssembly app drained: its last call ended; it is gone"
                )
            }
            drain::Drained::Expired => {
                tracing::warn!(
                    app = name,
                    sessions_ended = ended,
                    "WebAssembly app's drain_seconds ran out: its calls still in progress are ended"
                )
            }
            // Only when the drain is no longer current, which is handled above.
            drain::Drained::CalledOff => return,
        }
        if let Err(e) = self.finish_removal(name, runtime).await {
            tracing::error!(app = name, error = %e, "removing a drained WebAssembly app");
        }
    }

    /// The app goes for good: out of the table, no longer the handler of its Stasis
    /// application, its sessions still live ended, its key-value store deleted.
    async fn finish_removal(&self, name: &str, runtime: &Arc<AppRuntime>) -> Result<(), CoreError> {
        if let Ok(mut apps) = self.apps.lock()
            && apps.get(name).is_some_and(|r| Arc::ptr_eq(r, runtime))
        {
            apps.remove(name);
        }
        self.shared
            .core
            .app_host()
            .unregister_app(name, crate::core::stasis::EventSink::id(&**runtime));
        runtime.retire();
        runtime.kv().delete_all().await.map_err(|e| {
            CoreError::Internal(format!("cannot delete the app's key-value store: {e}"))
        })
    }

    /// `POST /ari/wasm/{app}/rollback`: the version that was current before the current one
    /// becomes current again (new calls get it; calls in progress finish on theirs), on
    /// disk first, so that it survives a restart. Only the owner or an admin; audited.
    pub async fn rollback(&self, name: &str, actor: &Actor) -> Result<Value, CoreError> {
        let not_found = || CoreError::NotFound(format!("No WebAssembly app named '{name}'"));
        let _guard = self.deploying.lock().await;
        let runtime = self
            .app(name)
            .filter(|r| !r.drain.is_draining())
            .ok_or_else(not_found)?;
        let current = runtime.current().stored.clone();
        check_owner(Action::Rollback, actor, name, &current)?;
        let result = self.rollback_locked(name, &current).await;
        let (outcome, reason, sha) = match &result {
            Ok(value) => (
                Outcome::Done,
                String::new(),
                value["sha256"].as_str().unwrap_or_default().to_string(),
            ),
            Err(e) => (Outcome::Failed, e.to_string(), current.sha256.clone()),
        };
        audit::record(
            Action::Rollback,
            outcome,
            Some(actor),
            name,
            Some(&sha),
            &reason,
        );
        result
    }

    async fn rollback_locked(&self, name: &str, current: &StoredApp) -> Result<Value, CoreError> {
        let store = self.store.clone();
        let app = name.to_string();
        let previous = tokio::task::spawn_blocking(move || store.previous(&app))
            .await
            .map_err(|e| CoreError::Internal(e.to_string()))?
            .map_err(|e| CoreError::Internal(format!("cannot read the app's versions: {e}")))?;
        let Some(target) = previous.last().cloned() else {
            return Err(CoreError::Conflict(format!(
                "WebAssembly app '{name}' has no earlier version to roll back to (wari keeps the last {} versions of an app; this one is the first since the app was deployed)",
                store::KEPT_VERSIONS
            )));
        };
        // Compiled before anything changes: a version that cannot load is not rolled
        // back to.
        let (component, origin) = self.compile_stored(&target).await?;
        let pre = self.prepare(&component)?;
        let store = self.store.clone();
        let app = name.to_string();
        let sha = target.sha256.clone();
        let owner = current.owner.clone();
        let restored = tokio::task::spawn_blocking(move || store.roll_back(&app, &sha, owner))
            .await
            .map_err(|e| CoreError::Internal(e.to_string()))?
            .map_err(|e| CoreError::Internal(format!("cannot switch the app's version: {e}")))?;
        let runtime = self.install(restored, pre, origin, None)?;
        tracing::info!(app = name, from = %runtime::version_tag(&current.sha256), to = %runtime::version_tag(&target.sha256), "WebAssembly app rolled back");
        Ok(runtime.json())
    }
}

/// A component from its cached artifact (`None` when the artifact does not load).
#[expect(
    unsafe_code,
    reason = "wasmtime cannot check precompiled code: it must come from a trusted source"
)]
fn cached_component(engine: &wasmtime::Engine, artifact: &[u8]) -> Option<Component> {
    // SAFETY: the artifact was produced by `Component::serialize` of this same engine
    // configuration and written by wari into its own data directory.
    unsafe { Component::deserialize(engine, artifact) }.ok()
}
