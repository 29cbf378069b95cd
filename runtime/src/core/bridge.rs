//! Bridges: channels joined so they hear each other (mixing) or wait together (holding).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use chrono::{DateTime, Local};
use serde_json::{Value, json};

use super::time::ari_timestamp;

/// Mixing or holding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BridgeType {
    Mixing,
    Holding,
}

impl BridgeType {
    /// The `bridge_type` string.
    pub fn as_str(self) -> &'static str {
        match self {
            BridgeType::Mixing => "mixing",
            BridgeType::Holding => "holding",
        }
    }
}

/// Bridge creation flags parsed from ARI's `type` list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BridgeFlags {
    pub kind: BridgeType,
    /// `dtmf_events` / `proxy_media`: media flows through wari (no native bridging).
    pub media_through_core: bool,
    pub video_mode: &'static str,
}

impl BridgeFlags {
    /// Parses a `type` list (`mixing,dtmf_events`, `holding`, `video_sfu`, ...); unknown
    /// tokens are ignored, the default is `mixing`. `holding` with `mixing` is an error.
    pub fn parse(list: &str) -> Result<BridgeFlags, String> {
        let mut mixing = false;
        let mut holding = false;
        let mut media_through_core = false;
        let mut video_mode = "talker";
        for token in list.split(',').map(str::trim) {
            match token {
                "mixing" => mixing = true,
                "holding" => holding = true,
                "dtmf_events" | "proxy_media" => media_through_core = true,
                "video_sfu" => {
                    video_mode = "sfu";
                    mixing = true;
                }
                "video_single" => video_mode = "single",
                _ => {}
            }
        }
        if mixing && holding {
            return Err("A bridge cannot be both mixing and holding".to_string());
        }
        Ok(BridgeFlags {
            kind: if holding {
                BridgeType::Holding
            } else {
                BridgeType::Mixing
            },
            media_through_core,
            video_mode: if holding { "none" } else { video_mode },
        })
    }
}

/// Who made a bridge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BridgeClass {
    /// Created over ARI (or by a WASM app): controllable by ARI.
    Stasis,
    /// Created by the dialplan (Dial): not controllable by ARI.
    Basic,
}

/// One bridge.
#[derive(Debug, Clone)]
pub struct Bridge {
    pub id: Arc<str>,
    pub name: String,
    pub flags: BridgeFlags,
    pub class: BridgeClass,
    /// Member channel ids, in joining order.
    pub channels: Vec<Arc<str>>,
    pub creationtime: DateTime<Local>,
    /// Bridge variables by name.
    pub vars: BTreeMap<String, String>,
    /// Variables set with `report_events`: shown in the snapshot's `bridgevars`.
    pub reported: BTreeSet<String>,
}

impl Bridge {
    /// The ARI `Bridge` object.
    pub fn json(&self) -> Value {
        let technology = match (self.flags.kind, self.channels.len()) {
            (BridgeType::Holding, _) => "holding_bridge",
            (_, n) if n > 2 => "softmix",
            _ => "simple_bridge",
        };
        let (class, creator) = match self.class {
            BridgeClass::Stasis => ("stasis", "Stasis"),
            BridgeClass::Basic => ("basic", "Dial"),
        };
        let mut json = json!({
            "id": &*self.id,
            "technology": technology,
            "bridge_type": self.flags.kind.as_str(),
            "bridge_class": class,
            "creator": creator,
            "name": self.name,
            "channels": self.channels.iter().map(|c| c.to_string()).collect::<Vec<_>>(),
            "creationtime": ari_timestamp(&self.creationtime),
            "video_mode": self.flags.video_mode,
        });
        let reported: serde_json::Map<String, Value> = self
            .reported
            .iter()
            .filter_map(|name| {
                self.vars
                    .get(name)
                    .map(|value| (name.clone(), Value::String(value.clone())))
            })
            .collect();
        if !reported.is_empty()
            && let Some(object) = json.as_object_mut()
        {
            object.insert("bridgevars".into(), Value::Object(reported));
        }
        json
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_lists() {
        let f = BridgeFlags::parse("mixing,dtmf_events").expect("valid");
        assert_eq!(f.kind, BridgeType::Mixing);
        assert!(f.media_through_core);
        assert_eq!(
            BridgeFlags::parse("holding").expect("valid").kind,
            BridgeType::Holding
        );
        assert_eq!(
            BridgeFlags::parse("").expect("valid").kind,
            BridgeType::Mixing
        );
        assert!(BridgeFlags::parse("mixing,holding").is_err());
    }
}
