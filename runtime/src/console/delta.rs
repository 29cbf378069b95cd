//! What the live feed sends: the first view whole, then only what changed between two
//! views (rows added or changed, ids removed). Sans-IO: views in, JSON out.

use std::collections::HashMap;

use serde_json::{Value, json};

use crate::core::live::{LiveBridge, LiveChannel, LiveView};

/// The whole view: the feed's first message.
pub(crate) fn snapshot(view: &LiveView) -> Value {
    json!({
        "type": "snapshot",
        "channels": view.channels.iter().map(LiveChannel::json).collect::<Vec<_>>(),
        "bridges": view.bridges.iter().map(LiveBridge::json).collect::<Vec<_>>(),
    })
}

/// What changed from `before` to `after`; `None` when nothing did.
pub(crate) fn delta(before: &LiveView, after: &LiveView) -> Option<Value> {
    let (upsert_channels, remove_channels) = changes(
        &before.channels,
        &after.channels,
        |c| &c.id,
        LiveChannel::json,
    );
    let (upsert_bridges, remove_bridges) =
        changes(&before.bridges, &after.bridges, |b| &b.id, LiveBridge::json);
    if upsert_channels.is_empty()
        && remove_channels.is_empty()
        && upsert_bridges.is_empty()
        && remove_bridges.is_empty()
    {
        return None;
    }
    Some(json!({
        "type": "delta",
        "channels": { "upsert": upsert_channels, "remove": remove_channels },
        "bridges": { "upsert": upsert_bridges, "remove": remove_bridges },
    }))
}

/// Rows of `after` that are new or differ from `before`, and ids only `before` has.
fn changes<T: PartialEq>(
    before: &[T],
    after: &[T],
    id: impl Fn(&T) -> &String,
    json: impl Fn(&T) -> Value,
) -> (Vec<Value>, Vec<String>) {
    let old: HashMap<&String, &T> = before.iter().map(|row| (id(row), row)).collect();
    let upsert = after
        .iter()
        .filter(|row| old.get(id(row)).is_none_or(|was| *was != *row))
        .map(&json)
        .collect();
    let new: std::collections::HashSet<&String> = after.iter().map(&id).collect();
    let remove = before
        .iter()
        .map(&id)
        .filter(|i| !new.contains(i))
        .cloned()
        .collect();
    (upsert, remove)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn channel(id: &str, state: &'static str) -> LiveChannel {
        LiveChannel {
            id: id.into(),
            name: format!("Test/{id}-00000001"),
            state,
            technology: "Test".into(),
            caller: Default::default(),
            connected: Default::default(),
            app: Some("demo".into()),
            app_kind: None,
            bridge: None,
            created: String::new(),
            created_ms: 0,
        }
    }

    #[test]
    fn only_changes_are_sent() {
        let before = LiveView {
            channels: vec![channel("a", "Ring"), channel("b", "Up")],
            bridges: vec![],
        };
        assert_eq!(delta(&before, &before), None);
        let after = LiveView {
            channels: vec![channel("a", "Up"), channel("c", "Down")],
            bridges: vec![LiveBridge {
                id: "br".into(),
                name: String::new(),
                kind: "mixing",
                technology: "simple_bridge",
                members: vec!["a".into()],
                created_ms: 0,
            }],
        };
        let d = delta(&before, &after).expect("changed");
        let upserted: Vec<&str> = d["channels"]["upsert"]
            .as_array()
            .expect("list")
            .iter()
            .map(|c| c["id"].as_str().unwrap_or_default())
            .collect();
        assert_eq!(upserted, ["a", "c"]);
        assert_eq!(d["channels"]["upsert"][0]["state"], "Up");
        assert_eq!(d["channels"]["remove"], json!(["b"]));
        assert_eq!(d["bridges"]["upsert"][0]["members"], json!(["a"]));
        assert_eq!(d["bridges"]["remove"], json!([]));
        let s = snapshot(&after);
        assert_eq!(s["type"], "snapshot");
        assert_eq!(s["channels"].as_array().map(Vec::len), Some(2));
    }
}
