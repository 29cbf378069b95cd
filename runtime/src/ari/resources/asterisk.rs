//! `/asterisk`: system information, global variables, modules, log channels and the
//! read-only view of dynamic configuration.

use serde_json::{Value, json};

use super::{Ctx, Entry};
use crate::ari::response::{AriError, AriResponse, AriResult, Body};
use crate::ari_handler;
use crate::core::{modules, time};

/// GET /asterisk/info
pub async fn get_info(ctx: Ctx) -> AriResult {
    let only = ctx.params.list("only")?;
    let data = ctx
        .core
        .system()
        .info_bytes(only.as_deref(), ctx.config.ari.pretty);
    Ok(AriResponse {
        status: http::StatusCode::OK,
        headers: Vec::new(),
        body: Body::Raw {
            content_type: "application/json",
            data,
        },
    })
}

/// GET /asterisk/ping
pub async fn ping(ctx: Ctx) -> AriResult {
    Ok(AriResponse::ok(json!({
        "asterisk_id": ctx.core.system().entity_id,
        "ping": "pong",
        "timestamp": time::now(),
    })))
}

/// GET /asterisk/variable
pub async fn get_global_var(ctx: Ctx) -> AriResult {
    let name = variable_name(&ctx)?;
    Ok(AriResponse::ok(
        json!({ "value": ctx.core.global_var(&name) }),
    ))
}

/// POST /asterisk/variable
pub async fn set_global_var(ctx: Ctx) -> AriResult {
    let name = variable_name(&ctx)?;
    let value = ctx.params.string("value");
    ctx.core.set_global_var(&name, value.as_deref());
    Ok(AriResponse::no_content())
}

fn variable_name(ctx: &Ctx) -> Result<String, AriError> {
    ctx.params
        .string("variable")
        .filter(|v| !v.trim().is_empty())
        .ok_or_else(|| AriError::bad_request("Variable name is required"))
}

fn module_json(module: &modules::Module) -> Value {
    json!({
        "name": module.name,
        "description": module.description,
        "use_count": 0,
        "status": "Running",
        "support_level": "core",
    })
}

fn known_module(ctx: &Ctx) -> Result<&'static modules::Module, AriError> {
    let name = ctx.params.string("moduleName").unwrap_or_default();
    modules::find(&name)
        .ok_or_else(|| AriError::not_found("Module could not be found in running modules"))
}

/// GET /asterisk/modules
pub async fn list_modules(_ctx: Ctx) -> AriResult {
    Ok(AriResponse::ok(Value::Array(
        modules::MODULES.iter().map(module_json).collect(),
    )))
}

/// GET /asterisk/modules/{moduleName}
pub async fn get_module(ctx: Ctx) -> AriResult {
    Ok(AriResponse::ok(module_json(known_module(&ctx)?)))
}

/// POST /asterisk/modules/{moduleName}: wari's components are built in.
pub async fn load_module(ctx: Ctx) -> AriResult {
    let name = ctx.params.string("moduleName").unwrap_or_default();
    Err(match modules::find(&name) {
        Some(_) => AriError::conflict("Module is already loaded"),
        None => AriError::conflict("Module could not be loaded: wari has no loadable modules"),
    })
}

/// DELETE /asterisk/modules/{moduleName}
pub async fn unload_module(ctx: Ctx) -> AriResult {
    known_module(&ctx)?;
    Err(AriError::conflict(
        "Module cannot be unloaded: it is built into wari",
    ))
}

/// PUT /asterisk/modules/{moduleName}
pub async fn reload_module(ctx: Ctx) -> AriResult {
    known_module(&ctx)?;
    Err(AriError::conflict("Module does not support reloading"))
}

const CONSOLE: &str = "console";

/// GET /asterisk/logging: wari logs to its console (standard error), filtered by RUST_LOG.
pub async fn list_log_channels(_ctx: Ctx) -> AriResult {
    let levels = std::env::var("RUST_LOG").unwrap_or_else(|_| "info".to_string());
    Ok(AriResponse::ok(json!([{
        "channel": CONSOLE,
        "type": "Console",
        "status": "Enabled",
        "configuration": levels,
    }])))
}

/// POST /asterisk/logging/{logChannelName}
pub async fn add_log(ctx: Ctx) -> AriResult {
    let name = ctx.params.string("logChannelName").unwrap_or_default();
    if ctx
        .params
        .string("configuration")
        .is_none_or(|c| c.trim().is_empty())
    {
        return Err(AriError::bad_request(
            "Log channel configuration (the levels to log) is required",
        ));
    }
    if name == CONSOLE {
        return Err(AriError::conflict("Log channel already exists"));
    }
    Err(AriError::new(
        http::StatusCode::NOT_IMPLEMENTED,
        "wari logs only to its console; file log channels are not supported",
    ))
}

/// DELETE /asterisk/logging/{logChannelName}
pub async fn delete_log(ctx: Ctx) -> AriResult {
    let name = ctx.params.string("logChannelName").unwrap_or_default();
    if name == CONSOLE {
        return Err(AriError::forbidden(
            "The console log channel cannot be deleted",
        ));
    }
    Err(AriError::not_found("Log channel does not exist"))
}

/// PUT /asterisk/logging/{logChannelName}/rotate: the console has nothing to rotate.
pub async fn rotate_log(ctx: Ctx) -> AriResult {
    let name = ctx.params.string("logChannelName").unwrap_or_default();
    if name == CONSOLE {
        return Ok(AriResponse::no_content());
    }
    Err(AriError::not_found("Log channel does not exist"))
}

/// The configuration classes wari exposes read-only: `res_ari` with object types `general`
/// (id `general`) and `user` (ids are user names). Passwords are never shown.
fn config_object(ctx: &Ctx) -> Result<Value, AriError> {
    let class = ctx.params.string("configClass").unwrap_or_default();
    let kind = ctx.params.string("objectType").unwrap_or_default();
    let id = ctx.params.string("id").unwrap_or_default();
    if class != "res_ari" {
        return Err(AriError::not_found(format!(
            "Config class '{class}' not found"
        )));
    }
    let ari = &ctx.config.ari;
    let tuples: Vec<(&str, String)> = match kind.as_str() {
        "general" if id == "general" => vec![
            ("enabled", yes_no(ari.enabled)),
            ("pretty", yes_no(ari.pretty)),
            ("allowed_origins", ari.allowed_origins.join(",")),
            ("auth_realm", ari.auth_realm.clone()),
            (
                "websocket_write_timeout",
                ari.websocket_write_timeout.as_millis().to_string(),
            ),
            ("channelvars", ari.channelvars.join(",")),
        ],
        "user" => match ari.users.get(&id) {
            Some(user) => vec![
                (
                    "password_format",
                    match user.password {
                        crate::config::Password::Plain(_) => "plain".to_string(),
                        crate::config::Password::Crypt(_) => "crypt".to_string(),
                    },
                ),
                ("read_only", yes_no(user.read_only)),
            ],
            None => return Err(AriError::not_found(format!("Object '{id}' not found"))),
        },
        "general" => return Err(AriError::not_found(format!("Object '{id}' not found"))),
        _ => {
            return Err(AriError::not_found(format!(
                "Object type '{kind}' not found"
            )));
        }
    };
    Ok(Value::Array(
        tuples
            .into_iter()
            .map(|(attribute, value)| json!({ "attribute": attribute, "value": value }))
            .collect(),
    ))
}

fn yes_no(b: bool) -> String {
    if b { "yes" } else { "no" }.to_string()
}

/// GET /asterisk/config/dynamic/{configClass}/{objectType}/{id}
pub async fn get_object(ctx: Ctx) -> AriResult {
    Ok(AriResponse::ok(config_object(&ctx)?))
}

/// PUT /asterisk/config/dynamic/{configClass}/{objectType}/{id}: configuration comes from
/// files, so existing objects exist but cannot be changed over ARI.
pub async fn update_object(ctx: Ctx) -> AriResult {
    config_object(&ctx)?;
    Err(AriError::forbidden(
        "wari's configuration is read from files and cannot be changed over ARI",
    ))
}

/// DELETE /asterisk/config/dynamic/{configClass}/{objectType}/{id}
pub async fn delete_object(ctx: Ctx) -> AriResult {
    config_object(&ctx)?;
    Err(AriError::forbidden(
        "wari's configuration is read from files and cannot be changed over ARI",
    ))
}

/// The `/asterisk` operations.
pub fn handlers() -> Vec<Entry> {
    vec![
        ari_handler!("asterisk", "getInfo", get_info),
        ari_handler!("asterisk", "ping", ping),
        ari_handler!("asterisk", "getGlobalVar", get_global_var),
        ari_handler!("asterisk", "setGlobalVar", set_global_var),
        ari_handler!("asterisk", "listModules", list_modules),
        ari_handler!("asterisk", "getModule", get_module),
        ari_handler!("asterisk", "loadModule", load_module),
        ari_handler!("asterisk", "unloadModule", unload_module),
        ari_handler!("asterisk", "reloadModule", reload_module),
        ari_handler!("asterisk", "listLogChannels", list_log_channels),
        ari_handler!("asterisk", "addLog", add_log),
        ari_handler!("asterisk", "deleteLog", delete_log),
        ari_handler!("asterisk", "rotateLog", rotate_log),
        ari_handler!("asterisk", "getObject", get_object),
        ari_handler!("asterisk", "updateObject", update_object),
        ari_handler!("asterisk", "deleteObject", delete_object),
    ]
}
