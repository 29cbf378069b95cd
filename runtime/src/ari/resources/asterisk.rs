//! `/asterisk`: system information, global variables, modules, log channels and the
//! read-only view of dynamic configuration.

use serde_json::{Value, json};

use super::{Ctx, Entry};
use crate::ari::response::{AriError, AriResponse, AriResult};
use crate::ari_handler;
use crate::core::{modules, time};

/// GET /asterisk/info
pub(crate) async fn get_info(ctx: Ctx) -> AriResult {
    let only = ctx.params.list("only")?;
    let data = ctx
        .core
        .system()
        .info_bytes(only.as_deref(), ctx.config.ari.pretty);
    Ok(AriResponse::ok_json_text(data))
}

/// GET /asterisk/ping: the keys in Asterisk's order.
pub(crate) async fn ping(ctx: Ctx) -> AriResult {
    Ok(AriResponse::ok(json!({
        "ping": "pong",
        "timestamp": time::now(),
        "asterisk_id": ctx.core.system().entity_id,
    })))
}

/// GET /asterisk/variable: a global variable, or one of the values Asterisk 23.4.1
/// computes without a channel (`EPOCH`, `ENTITYID`, `SYSTEMNAME`); unset is `""`. As
/// there, the name is taken as given (not trimmed) and a function call such as
/// `GLOBAL(X)` is not evaluated: it reads as `""`.
pub(crate) async fn get_global_var(ctx: Ctx) -> AriResult {
    let name = variable_name(&ctx)?;
    let value = match name.as_str() {
        "EPOCH" => chrono::Utc::now().timestamp().to_string(),
        "ENTITYID" => ctx.core.system().entity_id.clone(),
        "SYSTEMNAME" => String::new(),
        _ if name.ends_with(')') => String::new(),
        _ => ctx.control().global_var(&name),
    };
    Ok(AriResponse::ok(json!({ "value": value })))
}

/// POST /asterisk/variable: without `value` the variable is removed. `GLOBAL(X)` sets
/// global `X`; any other function call is accepted and changes nothing, as in Asterisk
/// 23.4.1 (which writes through the function and answers 204 whatever it did).
pub(crate) async fn set_global_var(ctx: Ctx) -> AriResult {
    let name = variable_name(&ctx)?;
    let value = ctx.params.string("value");
    if name.ends_with(')') {
        match crate::core::functions::global_target(&name) {
            Some(target) if !target.is_empty() => {
                ctx.control().set_global_var(target, value.as_deref());
            }
            _ => {
                tracing::info!(variable = %name.escape_debug(), "no such writable function; nothing set")
            }
        }
    } else {
        ctx.control().set_global_var(&name, value.as_deref());
    }
    Ok(AriResponse::no_content())
}

fn variable_name(ctx: &Ctx) -> Result<String, AriError> {
    ctx.params
        .string("variable")
        .filter(|v| !v.is_empty())
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
pub(crate) async fn list_modules(_ctx: Ctx) -> AriResult {
    Ok(AriResponse::ok(Value::Array(
        modules::MODULES.iter().map(module_json).collect(),
    )))
}

/// GET /asterisk/modules/{moduleName}
pub(crate) async fn get_module(ctx: Ctx) -> AriResult {
    Ok(AriResponse::ok(module_json(known_module(&ctx)?)))
}

/// POST /asterisk/modules/{moduleName}: wari's components are built in, so a known one
/// is "already loaded" and any other declines to load, in Asterisk 23.4.1's words.
pub(crate) async fn load_module(ctx: Ctx) -> AriResult {
    let name = ctx.params.string("moduleName").unwrap_or_default();
    Err(match modules::find(&name) {
        Some(_) => AriError::conflict("Module is already loaded"),
        None => AriError::conflict("Module load declined"),
    })
}

/// A running module, for unload and reload (404 `Module not found in running modules`,
/// Asterisk's words for these two operations).
fn running_module(ctx: &Ctx) -> Result<&'static modules::Module, AriError> {
    let name = ctx.params.string("moduleName").unwrap_or_default();
    modules::find(&name).ok_or_else(|| AriError::not_found("Module not found in running modules"))
}

/// DELETE /asterisk/modules/{moduleName}
pub(crate) async fn unload_module(ctx: Ctx) -> AriResult {
    running_module(&ctx)?;
    Err(AriError::conflict("Module could not be unloaded"))
}

/// PUT /asterisk/modules/{moduleName}
pub(crate) async fn reload_module(ctx: Ctx) -> AriResult {
    running_module(&ctx)?;
    Err(AriError::conflict("Module does not support reloading"))
}

const CONSOLE: &str = "console";

/// GET /asterisk/logging: wari logs to its console (standard error), filtered by RUST_LOG.
pub(crate) async fn list_log_channels(_ctx: Ctx) -> AriResult {
    let levels = std::env::var("RUST_LOG").unwrap_or_else(|_| "info".to_string());
    Ok(AriResponse::ok(json!([{
        "channel": CONSOLE,
        "type": "Console",
        "status": "Enabled",
        "configuration": levels,
    }])))
}

/// POST /asterisk/logging/{logChannelName}
pub(crate) async fn add_log(ctx: Ctx) -> AriResult {
    let name = ctx.params.string("logChannelName").unwrap_or_default();
    if ctx
        .params
        .string("configuration")
        .is_none_or(|c| c.trim().is_empty())
    {
        return Err(AriError::bad_request("Configuration levels are required"));
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
pub(crate) async fn delete_log(ctx: Ctx) -> AriResult {
    let name = ctx.params.string("logChannelName").unwrap_or_default();
    if name == CONSOLE {
        return Err(AriError::forbidden(
            "The console log channel cannot be deleted",
        ));
    }
    Err(AriError::not_found("Log channel does not exist"))
}

/// PUT /asterisk/logging/{logChannelName}/rotate: the console has nothing to rotate.
pub(crate) async fn rotate_log(ctx: Ctx) -> AriResult {
    let name = ctx.params.string("logChannelName").unwrap_or_default();
    if name == CONSOLE {
        return Ok(AriResponse::no_content());
    }
    Err(AriError::not_found("Log channel does not exist"))
}

/// The attributes of an object type wari exposes under `res_ari`, in Asterisk's order.
const GENERAL_ATTRIBUTES: [&str; 6] = [
    "websocket_write_timeout",
    "allowed_origins",
    "pretty",
    "auth_realm",
    "channelvars",
    "enabled",
];
const USER_ATTRIBUTES: [&str; 4] = ["type", "password_format", "password", "read_only"];

/// One `{configClass}/{objectType}/{id}` of the configuration classes wari exposes
/// read-only: `res_ari` with object types `general` (id `general`) and `user` (ids are
/// user names). Asterisk 23.4.1's 404s: `configClass '<c>' not found`, `objectType '<t>'
/// not found`; `None` when there is no such object. Passwords are never shown.
fn config_object(ctx: &Ctx) -> Result<(String, String, Option<Value>), AriError> {
    let class = ctx.params.string("configClass").unwrap_or_default();
    let kind = ctx.params.string("objectType").unwrap_or_default();
    let id = ctx.params.string("id").unwrap_or_default();
    if class != "res_ari" {
        return Err(AriError::not_found(format!(
            "configClass '{class}' not found"
        )));
    }
    let ari = &ctx.config.ari;
    let tuples: Option<Vec<(&str, String)>> = match kind.as_str() {
        "general" => (id == "general").then(|| {
            vec![
                (
                    "websocket_write_timeout",
                    ari.websocket_write_timeout.as_millis().to_string(),
                ),
                ("allowed_origins", ari.allowed_origins.join(",")),
                ("pretty", yes_no(ari.pretty)),
                ("auth_realm", ari.auth_realm.clone()),
                ("channelvars", ari.channelvars.join(",")),
                ("enabled", yes_no(ari.enabled)),
            ]
        }),
        "user" => ari.users.get(&id).map(|user| {
            vec![
                (
                    "password_format",
                    match user.password {
                        crate::config::Password::Plain(_) => "plain".to_string(),
                        crate::config::Password::Crypt(_) => "crypt".to_string(),
                    },
                ),
                ("read_only", yes_no(user.read_only)),
            ]
        }),
        _ => {
            return Err(AriError::not_found(format!(
                "objectType '{kind}' not found"
            )));
        }
    };
    let object = tuples.map(|tuples| {
        Value::Array(
            tuples
                .into_iter()
                .map(|(attribute, value)| json!({ "attribute": attribute, "value": value }))
                .collect(),
        )
    });
    Ok((kind, id, object))
}

fn object_not_found(id: &str) -> AriError {
    AriError::not_found(format!("Object with id '{id}' not found"))
}

fn yes_no(b: bool) -> String {
    if b { "yes" } else { "no" }.to_string()
}

/// GET /asterisk/config/dynamic/{configClass}/{objectType}/{id}
pub(crate) async fn get_object(ctx: Ctx) -> AriResult {
    let (_, id, object) = config_object(&ctx)?;
    Ok(AriResponse::ok(
        object.ok_or_else(|| object_not_found(&id))?,
    ))
}

/// PUT /asterisk/config/dynamic/{configClass}/{objectType}/{id}: configuration comes from
/// files, which ARI cannot change. Asterisk 23.4.1's answers for such objects: without
/// `fields`, an existing object is 400 `Fields must be provided to update object '<id>'`;
/// an attribute the type does not have is 400 `Update (or Creation) of object '<id>'
/// failed field value validation`; otherwise 403 `Cannot update (create) sorcery objects
/// of type '<type>'`.
pub(crate) async fn update_object(ctx: Ctx) -> AriResult {
    let (kind, id, object) = config_object(&ctx)?;
    let exists = object.is_some();
    let fields = ctx.params.body().and_then(|b| b.get("fields"));
    if fields.is_none() && exists {
        return Err(AriError::bad_request(format!(
            "Fields must be provided to update object '{id}'"
        )));
    }
    let known: &[&str] = if kind == "general" {
        &GENERAL_ATTRIBUTES
    } else {
        &USER_ATTRIBUTES
    };
    let unknown = fields
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|field| field.get("attribute").and_then(Value::as_str))
        .any(|attribute| !known.contains(&attribute));
    let (what, verb) = if exists {
        ("Update", "update")
    } else {
        ("Creation", "create")
    };
    if unknown {
        return Err(AriError::bad_request(format!(
            "{what} of object '{id}' failed field value validation"
        )));
    }
    Err(AriError::forbidden(format!(
        "Cannot {verb} sorcery objects of type '{kind}'"
    )))
}

/// DELETE /asterisk/config/dynamic/{configClass}/{objectType}/{id}: 404 `Object with id
/// '<id>' not found`, or, as the files cannot be changed, 403 `Could not delete object
/// with id '<id>'`.
pub(crate) async fn delete_object(ctx: Ctx) -> AriResult {
    let (_, id, object) = config_object(&ctx)?;
    if object.is_none() {
        return Err(object_not_found(&id));
    }
    Err(AriError::forbidden(format!(
        "Could not delete object with id '{id}'"
    )))
}

/// The `/asterisk` operations.
pub(crate) fn handlers() -> Vec<Entry> {
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
