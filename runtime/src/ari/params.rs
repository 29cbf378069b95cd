//! Operation parameters gathered from the path, the query string, a form body and a JSON
//! body, with ARI's precedence and type coercion.
//!
//! Precedence, lowest to highest: form body, query string (last occurrence wins), top-level
//! keys of a JSON object body, path variables.

use std::collections::HashMap;

use serde_json::{Map, Value};

use super::response::AriError;

/// Most items a list parameter may carry.
pub const MAX_LIST_ITEMS: usize = 128;

/// The parameters of one request.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Params {
    /// Form and query pairs in order (form first, so query values win).
    pairs: Vec<(String, String)>,
    /// The body, when it was a JSON object.
    body: Option<Map<String, Value>>,
    /// Variables captured from the path.
    path: HashMap<String, String>,
}

/// Why a request's body or parameters cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParamsError {
    /// The body is not valid for its content type.
    BadBody,
}

impl From<ParamsError> for AriError {
    fn from(_: ParamsError) -> AriError {
        AriError::bad_request("Error parsing request body")
    }
}

/// Is this content type (parameters after `;` ignored) exactly `wanted`, case-insensitively?
fn content_type_is(content_type: Option<&str>, wanted: &str) -> bool {
    content_type
        .and_then(|ct| ct.split(';').next())
        .is_some_and(|ct| ct.trim().eq_ignore_ascii_case(wanted))
}

impl Params {
    /// Gathers parameters from the raw query string and the body.
    ///
    /// A form body (`application/x-www-form-urlencoded`) adds pairs before the query's; a JSON
    /// body (`application/json`) that is an object provides typed values, an array is
    /// ignored, and so is an empty body. As for Asterisk (whose JSON reader takes only an
    /// object or an array at the top), anything else is an error: invalid JSON, a scalar,
    /// `null`, a body of only whitespace.
    pub fn parse(
        query: Option<&str>,
        content_type: Option<&str>,
        body: &[u8],
    ) -> Result<Params, ParamsError> {
        let mut params = Params::default();
        let mut has_form = false;
        if !body.is_empty() && content_type_is(content_type, "application/x-www-form-urlencoded") {
            if std::str::from_utf8(body).is_err() {
                return Err(ParamsError::BadBody);
            }
            params.pairs.extend(
                form_urlencoded::parse(body).map(|(k, v)| (k.into_owned(), v.into_owned())),
            );
            has_form = !params.pairs.is_empty();
        }
        if let Some(query) = query {
            params.pairs.extend(
                form_urlencoded::parse(query.as_bytes())
                    .map(|(k, v)| (k.into_owned(), v.into_owned())),
            );
        }
        if !has_form && !body.is_empty() && content_type_is(content_type, "application/json") {
            match serde_json::from_slice::<Value>(body) {
                Ok(Value::Object(map)) => params.body = Some(map),
                Ok(Value::Array(_)) => {}
                Ok(_) | Err(_) => return Err(ParamsError::BadBody),
            }
        }
        Ok(params)
    }

    /// Sets the variables captured from the path.
    pub fn set_path_vars(&mut self, vars: impl IntoIterator<Item = (String, String)>) {
        self.path.extend(vars);
    }

    /// The first `api_key` pair (form before query), for authentication.
    pub fn api_key(&self) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == "api_key")
            .map(|(_, v)| v.as_str())
    }

    /// The first form or query value of `name` (the events WebSocket reads `app` and
    /// `subscribeAll` this way, where operations take the last).
    pub fn first(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The whole JSON body object, for operations that take a body parameter.
    pub fn body(&self) -> Option<&Map<String, Value>> {
        self.body.as_ref()
    }

    fn raw(&self, name: &str) -> Option<Raw<'_>> {
        if let Some(v) = self.path.get(name) {
            return Some(Raw::Text(v));
        }
        if let Some(v) = self.body.as_ref().and_then(|b| b.get(name)) {
            return Some(Raw::Json(v));
        }
        self.pairs
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| Raw::Text(v))
    }

    /// A string parameter. A JSON value that is not a string counts as absent.
    pub fn string(&self, name: &str) -> Option<String> {
        match self.raw(name)? {
            Raw::Text(t) => Some(t.to_string()),
            Raw::Json(Value::String(s)) => Some(s.clone()),
            Raw::Json(_) => None,
        }
    }

    /// A string parameter that must be present and non-empty.
    pub fn required_string(&self, name: &str) -> Result<String, AriError> {
        self.string(name)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| AriError::bad_request(format!("Missing required parameter: {name}")))
    }

    /// An integer parameter; a value that is not an integer is a 400.
    pub fn integer(&self, name: &str) -> Result<Option<i64>, AriError> {
        let invalid = || {
            AriError::bad_request(format!(
                "Invalid value for parameter {name}: expected an integer"
            ))
        };
        match self.raw(name) {
            None => Ok(None),
            Some(Raw::Text(t)) => t.trim().parse::<i64>().map(Some).map_err(|_| invalid()),
            Some(Raw::Json(Value::Number(n))) => n.as_i64().map(Some).ok_or_else(invalid),
            Some(Raw::Json(Value::String(s))) => {
                s.trim().parse::<i64>().map(Some).map_err(|_| invalid())
            }
            Some(Raw::Json(_)) => Err(invalid()),
        }
    }

    /// A boolean parameter: `yes/true/y/t/1/on` in text, `true` in JSON.
    pub fn boolean(&self, name: &str) -> Option<bool> {
        match self.raw(name)? {
            Raw::Text(t) => Some(crate::config::values::is_true(t)),
            Raw::Json(Value::Bool(b)) => Some(*b),
            Raw::Json(Value::String(s)) => Some(crate::config::values::is_true(s)),
            Raw::Json(_) => Some(false),
        }
    }

    /// A list parameter: comma-separated text (see [`split_list`]), or a JSON array or scalar.
    pub fn list(&self, name: &str) -> Result<Option<Vec<String>>, AriError> {
        let items = match self.raw(name) {
            None => return Ok(None),
            Some(Raw::Text(t)) => split_list(t),
            Some(Raw::Json(Value::Array(values))) => values.iter().map(json_text).collect(),
            Some(Raw::Json(v)) => vec![json_text(v)],
        };
        if items.len() >= MAX_LIST_ITEMS {
            return Err(AriError::bad_request(format!("Too many values for {name}")));
        }
        Ok(Some(items))
    }
}

enum Raw<'a> {
    Text(&'a str),
    Json(&'a Value),
}

fn json_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Splits a comma list the way Asterisk separates application arguments: commas inside
/// `(...)`, `[...]` or double quotes do not split, quotes are removed, `\x` is a literal `x`,
/// a trailing comma gives a trailing empty item, and an empty string is one empty item.
pub fn split_list(text: &str) -> Vec<String> {
    let mut items = Vec::new();
    let mut current = String::new();
    let mut parens = 0usize;
    let mut brackets = 0usize;
    let mut quoted = false;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let Some(next) = chars.next() {
                    current.push(next);
                }
            }
            '"' => quoted = !quoted,
            '(' if !quoted => {
                parens += 1;
                current.push(c);
            }
            ')' if !quoted => {
                parens = parens.saturating_sub(1);
                current.push(c);
            }
            '[' if !quoted => {
                brackets += 1;
                current.push(c);
            }
            ']' if !quoted => {
                brackets = brackets.saturating_sub(1);
                current.push(c);
            }
            ',' if !quoted && parens == 0 && brackets == 0 => {
                items.push(std::mem::take(&mut current));
            }
            _ => current.push(c),
        }
    }
    items.push(current);
    items
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(query: &str, ct: Option<&str>, body: &str) -> Params {
        Params::parse(Some(query), ct, body.as_bytes()).expect("valid request")
    }

    #[test]
    fn query_last_occurrence_wins_and_plus_is_space() {
        let p = parse("a=1&a=2&b=x+y%21", None, "");
        assert_eq!(p.string("a").as_deref(), Some("2"));
        assert_eq!(p.string("b").as_deref(), Some("x y!"));
    }

    #[test]
    fn query_overrides_form_and_json_overrides_query() {
        let form = Some("application/x-www-form-urlencoded");
        let p = parse("a=query", form, "a=form&c=form");
        assert_eq!(p.string("a").as_deref(), Some("query"));
        assert_eq!(p.string("c").as_deref(), Some("form"));
        let p = parse(
            "a=query",
            Some("application/json; charset=utf-8"),
            r#"{"a":"json"}"#,
        );
        assert_eq!(p.string("a").as_deref(), Some("json"));
    }

    #[test]
    fn path_vars_override_everything() {
        let mut p = parse(
            "channelId=q",
            Some("application/json"),
            r#"{"channelId":"j"}"#,
        );
        p.set_path_vars([("channelId".to_string(), "path".to_string())]);
        assert_eq!(p.string("channelId").as_deref(), Some("path"));
    }

    #[test]
    fn json_types_coerce() {
        let p = parse(
            "",
            Some("application/json"),
            r#"{"n":30,"s":"12","b":true,"bs":"yes","notstr":5,"list":["a","b"],"one":"x"}"#,
        );
        assert_eq!(p.integer("n"), Ok(Some(30)));
        assert_eq!(p.integer("s"), Ok(Some(12)));
        assert_eq!(p.boolean("b"), Some(true));
        assert_eq!(p.boolean("bs"), Some(true));
        assert_eq!(p.string("notstr"), None);
        assert_eq!(p.list("list"), Ok(Some(vec!["a".into(), "b".into()])));
        assert_eq!(p.list("one"), Ok(Some(vec!["x".into()])));
        assert_eq!(p.body().map(|b| b.len()), Some(7));
    }

    #[test]
    fn bad_integers_are_errors() {
        let p = parse("t=abc", None, "");
        assert_eq!(
            p.integer("t").map_err(|e| e.status),
            Err(http::StatusCode::BAD_REQUEST)
        );
        assert_eq!(p.integer("missing"), Ok(None));
    }

    #[test]
    fn json_arrays_and_empty_bodies_are_ignored_scalars_refused() {
        let json = Some("application/json");
        assert_eq!(parse("", json, "[]").body(), None);
        assert_eq!(parse("", json, "").body(), None);
        assert_eq!(parse("", Some("application/octet-stream"), "").body(), None);
        for body in ["{not json", "  \n", "null", "5", "\"x\"", "true", "{}[]"] {
            assert_eq!(
                Params::parse(None, json, body.as_bytes()),
                Err(ParamsError::BadBody),
                "{body}"
            );
        }
        assert_eq!(parse("", Some("text/plain"), "{not json").body(), None);
    }

    #[test]
    fn list_splitting_follows_application_argument_rules() {
        assert_eq!(split_list("a,b"), ["a", "b"]);
        assert_eq!(split_list(""), [""]);
        assert_eq!(split_list("a,"), ["a", ""]);
        assert_eq!(
            split_list("f(x,y),[1,2],\"q,r\""),
            ["f(x,y)", "[1,2]", "q,r"]
        );
        assert_eq!(split_list(r"a\,b,c"), ["a,b", "c"]);
    }

    #[test]
    fn too_many_list_items_is_an_error() {
        let long = vec!["x"; MAX_LIST_ITEMS].join(",");
        let p = parse(&format!("media={long}"), None, "");
        let err = p.list("media").expect_err("too many");
        assert_eq!(err.message, "Too many values for media");
        let _ = json!(null);
    }

    #[test]
    fn api_key_prefers_the_first_pair() {
        let p = parse("api_key=a:b&api_key=c:d", None, "");
        assert_eq!(p.api_key(), Some("a:b"));
    }
}
