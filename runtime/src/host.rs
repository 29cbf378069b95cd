//! Assembling a running wari from its configuration: the core, the ARI pipeline, the
//! WebAssembly host and the HTTP listeners. This is the composition root: the only module
//! that names both the pipeline and the WebAssembly host, and wires each to the other
//! through [`crate::host_api`]. The binary and tests start wari through [`start`].

use std::sync::{Arc, Weak};

use crate::ari::{Ari, SetupError};
use crate::config::Config;
use crate::config::{Problems, Severity};
use crate::core::CoreError;
use crate::core::dialplan::Dialplan;
use crate::core::tech::sip::SipTech;
use crate::core::tech::test::{self as test_phone, TestPhones};
use crate::core::tech::websocket_media::{MediaSockets, WebSocketTech};
use crate::core::{Core, CoreConfig, SystemInfo};
use crate::events::outbound::media_client::MediaClients;
use crate::host_api::{AriDispatch, WasmApps};
use crate::http::{self, HttpError, HttpServer};
use crate::wasm::{WasmHost, WasmSettings};

/// Why wari could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The embedded API declarations or handlers do not fit (a bug).
    #[error(transparent)]
    Setup(#[from] SetupError),
    /// A listener could not be opened.
    #[error(transparent)]
    Http(#[from] HttpError),
    /// The WebAssembly host could not be built.
    #[error(transparent)]
    Wasm(#[from] CoreError),
    /// The store file (`wari.redb`) could not be opened.
    #[error(transparent)]
    Store(#[from] crate::store::OpenError),
    /// The store opened but what it holds could not be read.
    #[error("cannot read the store: {0}")]
    StoreRead(#[from] crate::store::StoreError),
    /// A channel technology could not start (e.g. its socket).
    #[error(transparent)]
    Technology(#[from] crate::core::tech::StartError),
}

/// A running wari.
#[derive(Debug)]
pub struct Host {
    /// The configuration it runs with.
    pub config: Arc<Config>,
    /// The telephony core.
    pub core: Arc<Core>,
    /// The ARI request pipeline.
    pub ari: Arc<Ari>,
    /// The WebAssembly host and its apps.
    pub wasm: Arc<WasmHost>,
    /// The listeners, with the addresses they are bound to.
    pub http: HttpServer,
    /// The SIP transports (pjsip.conf) with the addresses they are bound to: the banner's
    /// scheme (`sip-udp`, `sip-tcp`) and URL (`udp://127.0.0.1:5060`) of each.
    pub sip_listening: Vec<(String, String)>,
}

/// Where wari keeps what users upload (WebAssembly apps), recordings, and the store of
/// device states, mailboxes, recordings' owners and apps' keys (`wari.redb`).
#[derive(Debug, Clone)]
pub struct Paths {
    /// The directory itself: `recordings/`, the uploaded apps and `wari.redb` go under it.
    pub data_dir: std::path::PathBuf,
}

/// The core's configuration derived from the files: the dialplan from extensions.conf and
/// the Test phones from test_phones.conf. Problems found on the way are added to
/// `problems`; `wari check-config` reports the same ones.
pub fn core_config(config: &Config, problems: &mut Problems) -> CoreConfig {
    let dialplan = match &config.extensions {
        Some(file) => Dialplan::from_conf(file, problems),
        None => Dialplan::empty(),
    };
    CoreConfig {
        channelvars: config.ari.channelvars.clone(),
        dialplan,
        technologies: vec![Arc::new(TestPhones::with_profiles(test_phone::profiles(
            &config.test_phones,
            problems,
        )))],
        store: crate::store::Store::default(),
        app_ownership: config.ari.app_ownership,
        quotas: crate::core::quota::Quotas::new(
            config
                .ari
                .users
                .values()
                .map(|u| (u.name.as_str(), u.limits)),
            config.options.maxcalls,
        ),
    }
}

/// What start-up would refuse in the configuration beyond what [`crate::config::load`]
/// reports (for `wari check-config`): each SIP TLS transport's certificate and key.
pub fn check_start_up(config: &Config, problems: &mut Problems) {
    crate::core::tech::sip::transport::check(&config.pjsip.transports, problems);
}

/// Starts the media engine: sounds from `asterisk.conf`'s `astdatadir` (else Debian's
/// `/usr/share/asterisk/sounds` when present), recordings under `<data-dir>/recordings`.
/// Without a sounds directory every `sound:` playback fails; wari still runs.
fn start_media(core: &Core, config: &Config, data_dir: &std::path::Path) {
    use crate::media::sounds::SoundIndex;
    let dir = config.directories.sounds_dir();
    // A configured astdatadir must hold sounds; Asterisk's default may simply be absent.
    let sounds = if config.directories.astdatadir.is_none() && !dir.is_dir() {
        tracing::info!(dir = %dir.display(), "no sounds directory (asterisk.conf astdatadir)");
        SoundIndex::empty(dir)
    } else {
        SoundIndex::scan(&dir).unwrap_or_else(|error| {
            tracing::warn!(dir = %dir.display(), %error, "cannot index the sounds directory");
            SoundIndex::empty(dir)
        })
    };
    tracing::info!(sounds = sounds.len(), dir = %sounds.dir().display(), "sounds indexed");
    let recordings_dir = data_dir.join("recordings");
    crate::media::recovery::recover(&recordings_dir);
    let setup = crate::core::media::MediaSetup {
        sounds: Arc::new(sounds),
        recordings_dir,
        moh: Arc::new(config.moh.clone()),
    };
    if let Err(error) = core.start_media(setup) {
        tracing::error!(%error, "cannot start the media engine: media operations answer 501");
    }
}

/// Opens `<data-dir>/wari.redb` and reads what the core keeps in it, off the async workers.
async fn open_store(
    data_dir: &std::path::Path,
) -> Result<(crate::store::Store, crate::store::CoreSaved), StartError> {
    let path = data_dir.join(crate::store::FILE_NAME);
    let opened = tokio::task::spawn_blocking(move || {
        let store = crate::store::Store::open(&path)?;
        let saved = store.core_saved()?;
        tracing::info!(
            file = %path.display(),
            device_states = saved.device_states.len(),
            mailboxes = saved.mailboxes.len(),
            "store opened"
        );
        Ok::<_, StartError>((store, saved))
    })
    .await;
    opened.map_err(|e| crate::store::StoreError::Task(e.to_string()))?
}

/// The ARI pipeline and the WebAssembly host, each given the other through the trait it
/// depends on ([`crate::host_api`]): the pipeline owns the host (`/wasm`,
/// [`WasmApps`]); the host reaches the pipeline (apps' `ari.request`, [`AriDispatch`])
/// through a `Weak` made by [`Arc::new_cyclic`], so both are complete when built and
/// neither keeps the other alive.
fn wire_ari_and_wasm(
    config: &Arc<Config>,
    core: &Arc<Core>,
    data_dir: &std::path::Path,
) -> Result<(Arc<Ari>, Arc<WasmHost>), StartError> {
    let pipeline = Ari::new(config.clone(), core.clone())?;
    let mut wasm = None;
    let ari = Arc::new_cyclic(|ari: &Weak<Ari>| {
        let dispatch: Weak<dyn AriDispatch> = ari.clone();
        let host = WasmHost::with_ari(
            core.clone(),
            data_dir,
            WasmSettings::from_config(&config.wasm),
            Some(dispatch),
        );
        let pipeline = match &host {
            Ok(host) => pipeline.with_wasm(host.clone() as Arc<dyn WasmApps>),
            Err(_) => pipeline,
        };
        wasm = Some(host);
        pipeline
    });
    let wasm =
        wasm.ok_or_else(|| CoreError::Internal("the WebAssembly host was not built".into()))??;
    Ok((ari, wasm))
}

/// Builds the core, the ARI pipeline and the WebAssembly host (loading stored apps), then
/// starts the HTTP listeners.
pub async fn start(config: Config, paths: Paths) -> Result<Host, StartError> {
    crate::fd_limit::raise();
    let config = Arc::new(config);
    let mut problems = Problems::default();
    let (store, saved) = open_store(&paths.data_dir).await?;
    let mut core_config = core_config(&config, &mut problems);
    core_config.store = store;
    // pjsip.conf with a transport: the PJSIP technology (none otherwise, nothing changes).
    let sip =
        (!config.pjsip.is_empty()).then(|| Arc::new(SipTech::new(Arc::new(config.pjsip.clone()))));
    if let Some(sip) = &sip {
        core_config.technologies.push(sip.clone());
    }
    // WebSocket media: channels wait for their application on the HTTP server's
    // `/media/<id>`, or connect to websocket_client.conf connections.
    let media_sockets = Arc::new(MediaSockets::default());
    core_config.technologies.push(Arc::new(WebSocketTech::new(
        media_sockets.clone(),
        Arc::new(MediaClients::new(config.websocket_clients.clone())),
        config.chan_websocket.clone(),
    )));
    let core = Core::new(SystemInfo::new(), core_config);
    // The console's call stories (it needs ARI: without it none are kept).
    if config.ari.enabled {
        core.set_story_limits(crate::core::call_story::StoryLimits {
            calls: config.ari.console_calls,
            events_per_call: config.ari.console_call_events,
            events_total: config.ari.console_events,
        });
    }
    core.restore(saved);
    for problem in problems.iter() {
        match problem.severity {
            Severity::Error => tracing::error!("{problem}"),
            Severity::Warning => tracing::warn!("{problem}"),
        }
    }
    // The configured Test phones and PJSIP endpoints become endpoints here.
    core.start_technologies()?;
    let sip_listening = sip
        .map(|sip| {
            sip.listening()
                .iter()
                .map(|l| (l.scheme(), l.url()))
                .collect()
        })
        .unwrap_or_default();
    start_media(&core, &config, &paths.data_dir);
    let (ari, wasm) = wire_ari_and_wasm(&config, &core, &paths.data_dir)?;
    wasm.load_stored().await;
    crate::events::outbound::start(&ari);
    let http = http::start_with_media(&config.http, ari.clone(), media_sockets).await?;
    Ok(Host {
        config,
        core,
        ari,
        wasm,
        http,
        sip_listening,
    })
}
