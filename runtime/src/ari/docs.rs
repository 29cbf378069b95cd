//! The API declarations (runtime/api-docs/*.json), embedded in the binary: served as
//! Swagger 1.1 documents under `/ari/api-docs/`, and the source the router is built from.

use std::sync::OnceLock;

use serde_json::Value;

use super::response::AriError;

const LISTING: &str = include_str!("../../api-docs/resources.json");

const DECLARATIONS: [(&str, &str); 12] = [
    ("asterisk", include_str!("../../api-docs/asterisk.json")),
    ("endpoints", include_str!("../../api-docs/endpoints.json")),
    ("channels", include_str!("../../api-docs/channels.json")),
    ("bridges", include_str!("../../api-docs/bridges.json")),
    ("recordings", include_str!("../../api-docs/recordings.json")),
    ("sounds", include_str!("../../api-docs/sounds.json")),
    ("playbacks", include_str!("../../api-docs/playbacks.json")),
    (
        "deviceStates",
        include_str!("../../api-docs/deviceStates.json"),
    ),
    ("mailboxes", include_str!("../../api-docs/mailboxes.json")),
    ("events", include_str!("../../api-docs/events.json")),
    (
        "applications",
        include_str!("../../api-docs/applications.json"),
    ),
    ("wasm", include_str!("../../api-docs/wasm.json")),
];

/// A declaration that cannot be used (a bug in the embedded documents).
#[derive(Debug, Clone, thiserror::Error)]
#[error("API declaration {file}: {problem}")]
pub struct DocsError {
    pub file: String,
    pub problem: String,
}

/// One declared operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeclaredOperation {
    pub resource: String,
    /// Path template relative to `/ari`, e.g. `/channels/{channelId}`.
    pub path: String,
    pub method: http::Method,
    pub nickname: String,
    /// The operation upgrades to a WebSocket.
    pub websocket: bool,
    /// The declared `responseClass`.
    pub response_class: String,
}

/// Every declaration, parsed.
#[derive(Debug)]
pub(crate) struct ApiDocs {
    listing: Value,
    declarations: Vec<(String, Value)>,
    operations: Vec<DeclaredOperation>,
}

impl ApiDocs {
    /// The embedded declarations, parsed once.
    pub(crate) fn embedded() -> Result<&'static ApiDocs, DocsError> {
        static DOCS: OnceLock<Result<ApiDocs, DocsError>> = OnceLock::new();
        DOCS.get_or_init(ApiDocs::parse)
            .as_ref()
            .map_err(Clone::clone)
    }

    fn parse() -> Result<ApiDocs, DocsError> {
        let listing = with_header_keys(parse_json("resources.json", LISTING)?);
        let mut declarations = Vec::new();
        let mut operations = Vec::new();
        for (name, text) in DECLARATIONS {
            let file = format!("{name}.json");
            let doc = parse_json(&file, text)?;
            operations.extend(declared_operations(name, &file, &doc)?);
            declarations.push((name.to_string(), with_header_keys(doc)));
        }
        Ok(ApiDocs {
            listing,
            declarations,
            operations,
        })
    }

    /// Every declared operation, in declaration order.
    pub(crate) fn operations(&self) -> &[DeclaredOperation] {
        &self.operations
    }

    /// Every declaration with its resource name.
    pub(crate) fn declarations(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.declarations.iter().map(|(n, v)| (n.as_str(), v))
    }

    /// The document served for `api-docs/<file>`, with `basePath` pointing at this server as
    /// the client reached it (`http://<Host><prefix>/ari`), or removed without a Host.
    pub(crate) fn document(
        &self,
        file: &str,
        host: Option<&str>,
        prefix: &str,
    ) -> Result<Value, AriError> {
        let mut doc = if file == "resources.json" {
            self.listing.clone()
        } else {
            let name = file
                .strip_suffix(".json")
                .ok_or_else(|| AriError::not_found("Resource not found"))?;
            self.declarations
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, d)| d.clone())
                .ok_or_else(|| AriError::not_found("Resource not found"))?
        };
        if let Some(object) = doc.as_object_mut() {
            match host {
                Some(host) => {
                    object.insert(
                        "basePath".into(),
                        Value::String(format!("http://{host}{prefix}/ari")),
                    );
                }
                None => {
                    object.remove("basePath");
                }
            }
        }
        Ok(doc)
    }
}

/// Puts the three keys every Asterisk API document starts with (`_copyright`, `_author`,
/// `_svn_revision`; clients that read the documents may expect them) first, with wari's own
/// values.
fn with_header_keys(doc: Value) -> Value {
    let Value::Object(rest) = doc else {
        return doc;
    };
    let mut object = serde_json::Map::with_capacity(rest.len() + 3);
    object.insert(
        "_copyright".into(),
        Value::from("Copyright (C) the wari authors; Apache-2.0"),
    );
    object.insert("_author".into(), Value::from("wari"));
    object.insert(
        "_svn_revision".into(),
        Value::from(concat!("wari ", env!("CARGO_PKG_VERSION"))),
    );
    object.extend(rest);
    Value::Object(object)
}

fn parse_json(file: &str, text: &str) -> Result<Value, DocsError> {
    serde_json::from_str(text).map_err(|e| DocsError {
        file: file.to_string(),
        problem: e.to_string(),
    })
}

fn declared_operations(
    resource: &str,
    file: &str,
    doc: &Value,
) -> Result<Vec<DeclaredOperation>, DocsError> {
    let err = |problem: String| DocsError {
        file: file.to_string(),
        problem,
    };
    let apis = doc
        .get("apis")
        .and_then(Value::as_array)
        .ok_or_else(|| err("no apis array".into()))?;
    let mut out = Vec::new();
    for api in apis {
        let path = api
            .get("path")
            .and_then(Value::as_str)
            .ok_or_else(|| err("api without path".into()))?;
        let operations = api
            .get("operations")
            .and_then(Value::as_array)
            .ok_or_else(|| err(format!("{path}: no operations")))?;
        for op in operations {
            let text = |key: &str| {
                op.get(key)
                    .and_then(Value::as_str)
                    .ok_or_else(|| err(format!("{path}: operation without {key}")))
            };
            let method = text("httpMethod")?
                .parse::<http::Method>()
                .map_err(|e| err(format!("{path}: {e}")))?;
            out.push(DeclaredOperation {
                resource: resource.to_string(),
                path: path.to_string(),
                method,
                nickname: text("nickname")?.to_string(),
                websocket: op.get("upgrade").and_then(Value::as_str) == Some("websocket"),
                response_class: text("responseClass")?.to_string(),
            });
        }
    }
    Ok(out)
}
