//! The same API as an OpenAPI 3.1 document (`/ari/openapi.json`), converted from the
//! Swagger 1.1 declarations so the two can never disagree.

use serde_json::{Map, Value, json};

use super::docs::ApiDocs;

/// Primitive Swagger 1.1 types and their JSON Schema.
fn primitive_schema(data_type: &str) -> Option<Value> {
    Some(match data_type {
        "string" | "Date" => json!({ "type": "string" }),
        "int" => json!({ "type": "integer", "format": "int32" }),
        "long" => json!({ "type": "integer", "format": "int64" }),
        "double" => json!({ "type": "number" }),
        "boolean" => json!({ "type": "boolean" }),
        "object" => json!({ "type": "object" }),
        "binary" => json!({ "type": "string", "format": "binary" }),
        _ => return None,
    })
}

/// The schema of a Swagger type: a primitive, `List[X]`, or a model reference.
fn type_schema(data_type: &str) -> Value {
    if let Some(inner) = data_type
        .strip_prefix("List[")
        .and_then(|t| t.strip_suffix(']'))
    {
        return json!({ "type": "array", "items": type_schema(inner) });
    }
    primitive_schema(data_type)
        .unwrap_or_else(|| json!({ "$ref": format!("#/components/schemas/{data_type}") }))
}

/// Applies `allowableValues` (LIST → enum, RANGE → minimum/maximum) to a schema.
fn constrain(mut schema: Value, allowable: Option<&Value>) -> Value {
    let (Some(allowable), Some(object)) = (allowable, schema.as_object_mut()) else {
        return schema;
    };
    match allowable.get("valueType").and_then(Value::as_str) {
        Some("LIST") => {
            if let Some(values) = allowable.get("values") {
                object.insert("enum".into(), values.clone());
            }
        }
        Some("RANGE") => {
            for (from, to) in [("min", "minimum"), ("max", "maximum")] {
                if let Some(v) = allowable.get(from) {
                    object.insert(to.into(), v.clone());
                }
            }
        }
        _ => {}
    }
    schema
}

/// A string holding something besides whitespace (what Rust's `str::trim` removes): wari,
/// like Asterisk, treats an empty or blank required value as a missing one.
const NOT_BLANK: &str = "[^\\t\\n\\u000B\\f\\r \\u0085\\u00A0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000]";

/// Constrains the schema of a required parameter: a string must not be blank, an object
/// (a required body member such as `variables`) must not be empty.
fn require_non_empty(schema: &mut Value) {
    let Some(object) = schema.as_object_mut() else {
        return;
    };
    match object.get("type").and_then(Value::as_str) {
        Some("string") if !object.contains_key("enum") && !object.contains_key("format") => {
            object.insert("pattern".into(), json!(NOT_BLANK));
        }
        Some("object") => {
            object.insert("minProperties".into(), json!(1));
        }
        _ => {}
    }
}

/// The `variables` body member: an object of variable names to values, whose values each
/// resource checks differently (see `resources::*`). Swagger 1.1 can only say `object`.
fn variables_schema(resource: &str) -> Value {
    let values = match resource {
        // A user event carries any JSON values.
        "events" => json!({}),
        // Message variables are plain strings.
        "endpoints" => json!({ "type": "string" }),
        // Channel and bridge variables: a string, or {"value": ..., "report_events": ...}.
        _ => {
            return json!({
                "type": "object",
                "propertyNames": { "pattern": NOT_BLANK },
                "additionalProperties": channel_variable_value(),
            });
        }
    };
    json!({ "type": "object", "additionalProperties": values })
}

/// A channel or bridge variable's value: a string, or {"value": ..., "report_events": ...}.
fn channel_variable_value() -> Value {
    json!({
            "anyOf": [
                { "type": "string" },
                {
                    "type": "object",
                    "properties": {
                        "value": { "type": "string" },
                        "report_events": { "type": "boolean" },
                    },
                    "required": ["value"],
                },
            ],
    })
}

/// The success status of an operation, from its method and response class.
fn success_status(
    resource: &str,
    nickname: &str,
    method: &str,
    response_class: &str,
) -> &'static str {
    match (resource, nickname) {
        ("events", "eventWebsocket") => "101",
        ("endpoints", "sendMessage" | "refer" | "sendMessageToEndpoint" | "referToEndpoint") => {
            "202"
        }
        _ if method == "POST" && matches!(response_class, "Playback" | "LiveRecording") => "201",
        _ if response_class == "void" => "204",
        _ => "200",
    }
}

fn operation(resource: &str, api_path: &str, op: &Value) -> Value {
    let text = |key: &str| op.get(key).and_then(Value::as_str).unwrap_or("");
    let nickname = text("nickname");
    let method = text("httpMethod");
    let response_class = text("responseClass");
    let mut parameters = Vec::new();
    let mut body_properties = Map::new();
    let mut body_required = Vec::new();
    // The body is the raw bytes of one binary parameter (a WebAssembly upload).
    let mut binary_body = false;
    for param in op
        .get("parameters")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let ptext = |key: &str| param.get(key).and_then(Value::as_str).unwrap_or("");
        let required = param
            .get("required")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let multiple = param
            .get("allowMultiple")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let mut schema = if ptext("paramType") == "body" && ptext("name") == "variables" {
            variables_schema(resource)
        } else {
            constrain(type_schema(ptext("dataType")), param.get("allowableValues"))
        };
        if let (Some(default), Some(object)) = (param.get("defaultValue"), schema.as_object_mut()) {
            object.insert("default".into(), default.clone());
        }
        if required {
            require_non_empty(&mut schema);
        }
        if multiple {
            schema = json!({ "type": "array", "items": schema });
            if required && let Some(object) = schema.as_object_mut() {
                object.insert("minItems".into(), json!(1));
            }
        }
        match ptext("paramType") {
            "body" if ptext("dataType") == "binary" => binary_body = true,
            "body" => {
                if required {
                    body_required.push(json!(ptext("name")));
                }
                body_properties.insert(ptext("name").to_string(), schema);
            }
            location => {
                let mut p = json!({
                    "name": ptext("name"),
                    "in": location,
                    "required": required || location == "path",
                    "description": ptext("description"),
                    "schema": schema,
                });
                if multiple && let Some(object) = p.as_object_mut() {
                    object.insert("style".into(), json!("form"));
                    object.insert("explode".into(), json!(false));
                }
                parameters.push(p);
            }
        }
    }
    let mut responses = Map::new();
    let status = success_status(resource, nickname, method, response_class);
    let success = if response_class == "void" || status == "101" || status == "202" {
        json!({ "description": "Success" })
    } else {
        let content_type = if response_class == "binary" {
            "application/octet-stream"
        } else {
            "application/json"
        };
        json!({
            "description": "Success",
            "content": { content_type: { "schema": type_schema(response_class) } },
        })
    };
    responses.insert(status.to_string(), success);
    for error in op
        .get("errorResponses")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if let Some(code) = error.get("code").and_then(Value::as_u64) {
            responses.insert(
                code.to_string(),
                json!({
                    "description": error.get("reason").and_then(Value::as_str).unwrap_or(""),
                    "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } },
                }),
            );
        }
    }
    // Every operation reads its parameters (and any JSON body) before anything else, so any
    // of them can answer 400 for a value of the wrong type or a body that is not JSON.
    responses.entry("400").or_insert_with(|| {
        json!({
            "description": "Invalid parameters or request body",
            "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } },
        })
    });
    let mut out = json!({
        "operationId": format!("{resource}.{nickname}"),
        "summary": text("summary"),
        "tags": [resource],
        "parameters": parameters,
        "responses": responses,
    });
    if let Some(object) = out.as_object_mut() {
        if binary_body {
            let bytes = json!({ "schema": { "type": "string", "format": "binary" } });
            object.insert(
                "requestBody".into(),
                json!({
                    "required": true,
                    "content": { "application/wasm": bytes, "application/octet-stream": bytes },
                }),
            );
        } else if !body_properties.is_empty() {
            object.insert(
                "requestBody".into(),
                json!({
                    "required": !body_required.is_empty(),
                    "content": { "application/json": { "schema": {
                        "type": "object",
                        "properties": body_properties,
                        "required": body_required,
                    } } },
                }),
            );
        }
        let _ = api_path;
    }
    out
}

fn model_schema(model: &Value) -> Value {
    let mut properties = Map::new();
    let mut required = Vec::new();
    for (name, property) in model
        .get("properties")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        let data_type = property
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or("object");
        let mut schema = constrain(type_schema(data_type), property.get("allowableValues"));
        if let (Some(d), Some(o)) = (property.get("description"), schema.as_object_mut())
            && !o.contains_key("$ref")
        {
            o.insert("description".into(), d.clone());
        }
        properties.insert(name.clone(), schema);
        if property.get("required").and_then(Value::as_bool) == Some(true) {
            required.push(Value::String(name.clone()));
        }
    }
    let own = json!({
        "type": "object",
        "description": model.get("description").cloned().unwrap_or(Value::Null),
        "properties": properties,
        "required": required,
    });
    match model.get("extends").and_then(Value::as_str) {
        Some(parent) => json!({
            "allOf": [ { "$ref": format!("#/components/schemas/{parent}") }, own ]
        }),
        None => own,
    }
}

/// Converts every declaration into one OpenAPI 3.1 document (without `servers`).
pub(crate) fn convert(docs: &ApiDocs) -> Value {
    let mut paths = Map::new();
    let mut schemas = Map::new();
    schemas.insert(
        "Error".into(),
        json!({
            "type": "object",
            "properties": { "message": { "type": "string" } },
            "required": ["message"],
        }),
    );
    let mut tags = Vec::new();
    for (resource, doc) in docs.declarations() {
        tags.push(json!({ "name": resource }));
        for api in doc
            .get("apis")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let Some(path) = api.get("path").and_then(Value::as_str) else {
                continue;
            };
            let entry = paths.entry(path.to_string()).or_insert_with(|| json!({}));
            for op in api
                .get("operations")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let method = op
                    .get("httpMethod")
                    .and_then(Value::as_str)
                    .unwrap_or("get")
                    .to_ascii_lowercase();
                if let Some(object) = entry.as_object_mut() {
                    object.insert(method, operation(resource, path, op));
                }
            }
        }
        for (name, model) in doc
            .get("models")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            schemas.insert(name.clone(), model_schema(model));
        }
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "wari ARI",
            "description": "The Asterisk REST Interface as served by wari.",
            "version": env!("CARGO_PKG_VERSION"),
        },
        "tags": tags,
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "basic": { "type": "http", "scheme": "basic" },
                "apiKey": { "type": "apiKey", "in": "query", "name": "api_key" },
            },
        },
        "security": [ { "basic": [] }, { "apiKey": [] } ],
    })
}

/// The converted document with `servers` pointing at this server as the client reached it.
pub(crate) fn with_server(document: &Value, host: Option<&str>, prefix: &str) -> Value {
    let mut doc = document.clone();
    if let (Some(host), Some(object)) = (host, doc.as_object_mut()) {
        object.insert(
            "servers".into(),
            json!([ { "url": format!("http://{host}{prefix}/ari") } ]),
        );
    }
    doc
}
