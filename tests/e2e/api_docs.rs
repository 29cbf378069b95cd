//! The API documents wari serves: the Swagger 1.1 resource listing and declarations under
//! `/ari/api-docs/`, read the way a Swagger client reads them, and the OpenAPI 3.1 version at
//! `/ari/openapi.json`.

use std::collections::{BTreeMap, BTreeSet};

use reqwest::Method;
use serde_json::Value;

use crate::support::{Reply, Wari, client, raw_body, raw_request, raw_status, send};

/// The resources of ARI, in the order of the resource listing (ari-rest.md §1.5): exactly
/// Asterisk 23.4.1's eleven. wari's own `wasm` extension is declared but not listed.
const RESOURCES: [&str; 11] = [
    "asterisk",
    "endpoints",
    "channels",
    "bridges",
    "recordings",
    "sounds",
    "playbacks",
    "deviceStates",
    "mailboxes",
    "events",
    "applications",
];

/// Swagger 1.1 primitive types used in ARI declarations.
const PRIMITIVES: [&str; 9] = [
    "string", "int", "long", "double", "boolean", "object", "Date", "binary", "void",
];

/// GET `url` (a whole URL) with the read/write user.
async fn get(url: &str) -> Reply {
    send(client().get(url).basic_auth("asterisk", Some("secret"))).await
}

/// The resource listing and every declaration it points at, fetched as a Swagger client
/// does: `basePath` + the listed path with `{format}` = `json`.
async fn fetch_all(wari: &Wari) -> (Value, BTreeMap<String, Value>) {
    let Reply {
        status,
        body: listing,
        ..
    } = get(&wari.url("/ari/api-docs/resources.json")).await;
    assert_eq!(status, 200, "{listing}");
    let base = listing["basePath"]
        .as_str()
        .unwrap_or_else(|| panic!("basePath in {listing}"))
        .to_string();
    let mut declarations = BTreeMap::new();
    for api in listing["apis"].as_array().expect("apis") {
        let path = api["path"].as_str().expect("path");
        let url = format!("{base}{}", path.replace("{format}", "json"));
        let Reply {
            status, body: doc, ..
        } = get(&url).await;
        assert_eq!(status, 200, "{url}: {doc}");
        let name = path
            .strip_prefix("/api-docs/")
            .and_then(|p| p.strip_suffix(".{format}"))
            .unwrap_or_else(|| panic!("listed path {path}"))
            .to_string();
        declarations.insert(name, doc);
    }
    (listing, declarations)
}

#[tokio::test]
async fn resource_listing_names_every_resource_and_each_declaration_loads() {
    let wari = Wari::start_default();
    let (listing, declarations) = fetch_all(&wari).await;
    assert_eq!(listing["swaggerVersion"], "1.1");
    assert!(listing["apiVersion"].is_string(), "{listing}");
    assert_eq!(
        listing["basePath"],
        format!("http://{}/ari", wari.addr()),
        "basePath is built from the Host header"
    );
    let paths: Vec<&str> = listing["apis"]
        .as_array()
        .expect("apis")
        .iter()
        .map(|a| a["path"].as_str().unwrap_or_default())
        .collect();
    let expected: Vec<String> = RESOURCES
        .iter()
        .map(|r| format!("/api-docs/{r}.{{format}}"))
        .collect();
    assert_eq!(paths, expected);
    for api in listing["apis"].as_array().expect("apis") {
        assert!(
            api["description"].as_str().is_some_and(|d| !d.is_empty()),
            "{api}"
        );
    }

    assert_eq!(declarations.len(), RESOURCES.len());
    // wari's own extension is declared where a client that knows it looks, but a client
    // that builds itself from the listing gets Asterisk's resources only.
    let Reply {
        status, body: wasm, ..
    } = get(&wari.url("/ari/api-docs/wasm.json")).await;
    assert_eq!(status, 200, "{wasm}");
    assert_eq!(wasm["resourcePath"], "/api-docs/wasm.{format}");
    for (name, doc) in &declarations {
        assert_eq!(
            doc["resourcePath"],
            format!("/api-docs/{name}.{{format}}"),
            "{name}"
        );
        assert_eq!(
            doc["basePath"],
            format!("http://{}/ari", wari.addr()),
            "{name}"
        );
        assert!(doc["swaggerVersion"].is_string(), "{name}");
        assert!(doc["apiVersion"].is_string(), "{name}");
        let apis = doc["apis"].as_array().unwrap_or_else(|| panic!("{name}"));
        assert!(!apis.is_empty(), "{name} declares operations");
        assert!(doc["models"].is_object(), "{name} has models");
        for api in apis {
            let path = api["path"].as_str().unwrap_or_default();
            assert!(
                path == format!("/{name}") || path.starts_with(&format!("/{name}/")),
                "{name}: {path} is under /{name}"
            );
            for op in api["operations"].as_array().expect("operations") {
                for key in ["httpMethod", "nickname", "responseClass", "summary"] {
                    assert!(op[key].is_string(), "{name} {path}: {key}");
                }
                for param in op["parameters"].as_array().into_iter().flatten() {
                    for key in ["name", "paramType", "dataType"] {
                        assert!(param[key].is_string(), "{name} {path}: {param}");
                    }
                    for key in ["required", "allowMultiple"] {
                        assert!(param[key].is_boolean(), "{name} {path}: {param}");
                    }
                    assert!(
                        ["path", "query", "body"]
                            .contains(&param["paramType"].as_str().unwrap_or("")),
                        "{name} {path}: {param}"
                    );
                }
                for error in op["errorResponses"].as_array().into_iter().flatten() {
                    assert!(
                        error["code"].is_u64() && error["reason"].is_string(),
                        "{name} {path}: {error}"
                    );
                }
            }
        }
    }
}

/// Sends a raw GET for `target` with the given Host header line (if any).
fn raw_get(wari: &Wari, version: &str, target: &str, host: Option<&str>) -> (u16, Value) {
    let mut request = format!(
        "GET {target} {version}\r\nConnection: close\r\nAuthorization: Basic YXN0ZXJpc2s6c2VjcmV0\r\n"
    );
    if let Some(host) = host {
        request.push_str(&format!("Host: {host}\r\n"));
    }
    request.push_str("\r\n");
    let response = raw_request(wari.addr(), request.as_bytes());
    (
        raw_status(&response),
        serde_json::from_str(raw_body(&response)).unwrap_or(Value::Null),
    )
}

#[tokio::test]
async fn base_path_and_servers_follow_the_host_header() {
    let wari = Wari::start_default();
    for target in [
        "/ari/api-docs/resources.json",
        "/ari/api-docs/channels.json",
    ] {
        let (status, doc) = raw_get(&wari, "HTTP/1.1", target, Some("pbx.example:9999"));
        assert_eq!(status, 200, "{target}");
        assert_eq!(doc["basePath"], "http://pbx.example:9999/ari", "{target}");
        // Without a Host header there is nothing to build it from: no basePath.
        let (status, doc) = raw_get(&wari, "HTTP/1.0", target, None);
        assert_eq!(status, 200, "{target}");
        assert!(doc.get("basePath").is_none(), "{target}: {doc}");
        assert!(doc.get("apis").is_some(), "{target}");
    }
    let (status, doc) = raw_get(&wari, "HTTP/1.1", "/ari/openapi.json", Some("pbx.example"));
    assert_eq!(status, 200);
    assert_eq!(doc["servers"][0]["url"], "http://pbx.example/ari");
}

#[tokio::test]
async fn base_path_includes_the_http_prefix() {
    let http = "[general]\nenabled = yes\nbindaddr = 127.0.0.1\nbindport = 0\nprefix = asterisk\n";
    let wari = Wari::with(&[("http.conf", http)]);
    let expected = format!("http://{}/asterisk/ari", wari.addr());
    let Reply {
        status,
        body: listing,
        ..
    } = get(&wari.url("/asterisk/ari/api-docs/resources.json")).await;
    assert_eq!(status, 200);
    assert_eq!(listing["basePath"], expected);
    // The listed declarations are reachable from that basePath.
    let Reply {
        status, body: doc, ..
    } = get(&format!("{expected}/api-docs/asterisk.json")).await;
    assert_eq!(status, 200);
    assert_eq!(doc["basePath"], expected);
    let Reply {
        status,
        body: openapi,
        ..
    } = get(&wari.url("/asterisk/ari/openapi.json")).await;
    assert_eq!(status, 200);
    assert_eq!(openapi["servers"][0]["url"], expected);
}

#[tokio::test]
async fn api_docs_need_auth_only_answer_get_and_404_unknown_files() {
    let wari = Wari::start_default();
    for path in [
        "/ari/api-docs/resources.json",
        "/ari/api-docs/asterisk.json",
        "/ari/api-docs/nothing.json",
        "/ari/openapi.json",
    ] {
        let response = client().get(wari.url(path)).send().await.expect("request");
        assert_eq!(response.status().as_u16(), 401, "{path}");
        assert!(
            response.headers().contains_key("www-authenticate"),
            "{path}"
        );
        let response = client()
            .get(wari.url(path))
            .basic_auth("asterisk", Some("wrong"))
            .send()
            .await
            .expect("request");
        assert_eq!(
            response.status().as_u16(),
            401,
            "{path} with a wrong password"
        );
    }
    // Reading documentation is a GET: read-only users may.
    let response = client()
        .get(wari.url("/ari/api-docs/resources.json"))
        .basic_auth("viewer", Some("look"))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status().as_u16(), 200);

    for method in [Method::POST, Method::PUT, Method::DELETE] {
        for path in [
            "/ari/api-docs/resources.json",
            "/ari/api-docs/events.json",
            "/ari/openapi.json",
        ] {
            let response = client()
                .request(method.clone(), wari.url(path))
                .basic_auth("asterisk", Some("secret"))
                .send()
                .await
                .expect("request");
            assert_eq!(response.status().as_u16(), 405, "{method} {path}");
            let body: Value = response.json().await.expect("json");
            assert_eq!(body["message"], "Unsupported method", "{method} {path}");
        }
    }

    for path in [
        "/ari/api-docs/nothing.json",
        "/ari/api-docs/asterisk",
        "/ari/api-docs/asterisk.yaml",
        "/ari/api-docs/ASTERISK.json",
        "/ari/api-docs/..%2Fari.conf",
        "/ari/api-docs/sub/asterisk.json",
    ] {
        let Reply { status, body, .. } = get(&wari.url(path)).await;
        assert_eq!(status, 404, "{path}: {body}");
        assert_eq!(body["message"], "Resource not found", "{path}");
    }
    // The configuration directory is not reachable through the documents.
    let (status, body) = raw_get(&wari, "HTTP/1.1", "/ari/api-docs/../../ari.conf", Some("x"));
    assert_ne!(status, 200, "{body}");
    assert!(!body.to_string().contains("secret"));
}

#[tokio::test]
async fn openapi_has_every_declared_operation_and_event() {
    let wari = Wari::start_default();
    let (_, mut declarations) = fetch_all(&wari).await;
    // The OpenAPI document also has wari's own resource, which the listing leaves out.
    let Reply {
        status, body: wasm, ..
    } = get(&wari.url("/ari/api-docs/wasm.json")).await;
    assert_eq!(status, 200, "{wasm}");
    declarations.insert("wasm".to_string(), wasm);
    let Reply {
        status,
        body: openapi,
        ..
    } = get(&wari.url("/ari/openapi.json")).await;
    assert_eq!(status, 200);
    assert!(
        openapi["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3.1")),
        "{}",
        openapi["openapi"]
    );
    assert!(openapi["info"]["title"].is_string());
    assert!(openapi["info"]["version"].is_string());
    assert_eq!(
        openapi["servers"][0]["url"],
        format!("http://{}/ari", wari.addr())
    );

    let paths = openapi["paths"].as_object().expect("paths");
    let mut declared = BTreeSet::new();
    for (name, doc) in &declarations {
        for api in doc["apis"].as_array().expect("apis") {
            let path = api["path"].as_str().expect("path");
            for op in api["operations"].as_array().expect("operations") {
                let method = op["httpMethod"]
                    .as_str()
                    .expect("httpMethod")
                    .to_lowercase();
                let converted = &paths
                    .get(path)
                    .unwrap_or_else(|| panic!("{name}: {path} missing from openapi"))[&method];
                assert!(
                    converted.is_object(),
                    "{name}: {method} {path} missing from openapi"
                );
                assert!(
                    converted["responses"]
                        .as_object()
                        .is_some_and(|r| !r.is_empty()),
                    "{method} {path} has responses"
                );
                // Every declared path and query parameter is there.
                for param in op["parameters"].as_array().into_iter().flatten() {
                    if param["paramType"] == "body" {
                        continue;
                    }
                    let pname = &param["name"];
                    assert!(
                        converted["parameters"]
                            .as_array()
                            .into_iter()
                            .flatten()
                            .any(|p| p["name"] == *pname && p["in"] == param["paramType"]),
                        "{method} {path}: parameter {pname}"
                    );
                }
                declared.insert((path.to_string(), method));
            }
        }
    }
    // And nothing that is not declared.
    let mut converted = BTreeSet::new();
    for (path, item) in paths {
        for method in item.as_object().expect("path item").keys() {
            converted.insert((path.clone(), method.clone()));
        }
    }
    assert_eq!(converted, declared);

    let schemas = openapi["components"]["schemas"]
        .as_object()
        .expect("components.schemas");
    let events = &declarations["events"]["models"]["Event"];
    let subtypes = events["subTypes"].as_array().expect("Event.subTypes");
    assert!(!subtypes.is_empty());
    for event in subtypes {
        let event = event.as_str().expect("subtype name");
        assert!(schemas.contains_key(event), "event {event} in openapi");
    }
    for (name, doc) in &declarations {
        for model in doc["models"].as_object().expect("models").keys() {
            assert!(
                schemas.contains_key(model),
                "{name}: model {model} in openapi"
            );
        }
    }
    // Every schema reference resolves.
    let mut refs = Vec::new();
    collect_refs(&openapi, &mut refs);
    assert!(!refs.is_empty());
    for reference in refs {
        let name = reference
            .strip_prefix("#/components/schemas/")
            .unwrap_or_else(|| panic!("unexpected $ref {reference}"));
        assert!(schemas.contains_key(name), "dangling $ref {reference}");
    }
}

fn collect_refs(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, v) in map {
                match (key.as_str(), v) {
                    ("$ref", Value::String(s)) => out.push(s.clone()),
                    _ => collect_refs(v, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| collect_refs(v, out)),
        _ => {}
    }
}

#[tokio::test]
async fn every_event_model_is_an_event_subtype() {
    let wari = Wari::start_default();
    let (_, declarations) = fetch_all(&wari).await;
    let models = declarations["events"]["models"]
        .as_object()
        .expect("events models");
    let subtypes: BTreeSet<&str> = models["Event"]["subTypes"]
        .as_array()
        .expect("Event.subTypes")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let extending: BTreeSet<&str> = models
        .iter()
        .filter(|(_, m)| m["extends"] == "Event")
        .map(|(name, _)| name.as_str())
        .collect();
    assert_eq!(
        subtypes, extending,
        "Event.subTypes lists exactly the models that extend Event"
    );
    assert_eq!(models["Event"]["extends"], "Message");
    assert!(
        models["Message"]["subTypes"]
            .as_array()
            .is_some_and(|s| s.iter().any(|t| t == "Event")),
        "Message.subTypes has Event"
    );
    assert_eq!(models["Message"]["discriminator"], "type");
    for name in &subtypes {
        assert!(models.contains_key(*name), "{name} is declared");
    }
    // Events are declared in events.json only.
    for (name, doc) in &declarations {
        if name == "events" {
            continue;
        }
        for model in doc["models"].as_object().expect("models").values() {
            assert_ne!(model["extends"], "Event", "{name}: {}", model["id"]);
        }
    }
}

#[tokio::test]
async fn every_referenced_type_is_primitive_or_declared_exactly_once() {
    let wari = Wari::start_default();
    let (_, declarations) = fetch_all(&wari).await;
    let mut declared: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (name, doc) in &declarations {
        for (model, body) in doc["models"].as_object().expect("models") {
            assert_eq!(
                body["id"],
                model.as_str(),
                "{name}: model key equals its id"
            );
            declared
                .entry(model.clone())
                .or_default()
                .push(name.clone());
        }
    }
    let mut references = Vec::new();
    for (name, doc) in &declarations {
        for api in doc["apis"].as_array().expect("apis") {
            for op in api["operations"].as_array().expect("operations") {
                let nickname = op["nickname"].as_str().unwrap_or("?");
                references.push((
                    format!("{name}.{nickname} responseClass"),
                    op["responseClass"].as_str().unwrap_or("").to_string(),
                ));
                for param in op["parameters"].as_array().into_iter().flatten() {
                    references.push((
                        format!("{name}.{nickname}({})", param["name"]),
                        param["dataType"].as_str().unwrap_or("").to_string(),
                    ));
                }
            }
        }
        for (model, body) in doc["models"].as_object().expect("models") {
            for (property, spec) in body["properties"].as_object().into_iter().flatten() {
                references.push((
                    format!("{name}: {model}.{property}"),
                    spec["type"].as_str().unwrap_or("").to_string(),
                ));
            }
            if let Some(parent) = body["extends"].as_str() {
                references.push((format!("{name}: {model} extends"), parent.to_string()));
            }
            for sub in body["subTypes"].as_array().into_iter().flatten() {
                references.push((
                    format!("{name}: {model} subTypes"),
                    sub.as_str().unwrap_or("").to_string(),
                ));
            }
        }
    }
    assert!(references.len() > 100, "{} references", references.len());
    let mut problems = Vec::new();
    for (place, data_type) in &references {
        let base = data_type
            .strip_prefix("List[")
            .and_then(|t| t.strip_suffix(']'))
            .unwrap_or(data_type);
        if PRIMITIVES.contains(&base) {
            continue;
        }
        match declared.get(base).map(Vec::len) {
            Some(1) => {}
            Some(_) => problems.push(format!(
                "{place}: {data_type} is declared in {:?}",
                declared[base]
            )),
            None => problems.push(format!("{place}: {data_type} is not declared")),
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
