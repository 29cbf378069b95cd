//! Bridges: channels joined so they hear each other (mixing) or wait together (holding).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use chrono::{DateTime, Local};
use serde_json::{Value, json};

use crate::core::time::ari_timestamp;

/// Mixing or holding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BridgeType {
    Mixing,
    Holding,
}

impl BridgeType {
    /// The `bridge_type` string.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            BridgeType::Mixing => "mixing",
            BridgeType::Holding => "holding",
        }
    }
}

/// Bridge creation flags parsed from ARI's `type` list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BridgeFlags {
    pub kind: BridgeType,
    /// `dtmf_events` / `proxy_media`: media flows through wari (no native bridging).
    pub media_through_core: bool,
    pub video_mode: &'static str,
    /// `video_sfu`: always mixed by the multi-party mixer (`softmix`), whatever the count.
    pub always_multimix: bool,
}

/// A `type` list that asks for no way of bridging (neither `mixing`, `holding` nor
/// `video_sfu`), or for both mixing and holding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("no usable bridge type")]
pub(crate) struct NoBridgeType;

impl BridgeFlags {
    /// Parses a `type` list as Asterisk 23.4.1 does: comma-separated, each token trimmed;
    /// an empty list is `mixing`; `mixing`, `holding`, `video_sfu` (which implies mixing)
    /// give the bridge its kind, `dtmf_events`/`proxy_media`, `video_single` and
    /// `sdp_label` only modify it, and anything else is ignored. A list that gives no kind
    /// (`bogus`, `dtmf_events` alone) or both mixing and holding is refused.
    pub(crate) fn parse(list: &str) -> Result<BridgeFlags, NoBridgeType> {
        let list = if list.is_empty() { "mixing" } else { list };
        let mut mixing = false;
        let mut holding = false;
        let mut media_through_core = false;
        let mut video_mode = "talker";
        for token in list.split(',').map(str::trim) {
            match token {
                "mixing" => mixing = true,
                "holding" => holding = true,
                "dtmf_events" | "proxy_media" => media_through_core = true,
                "video_sfu" => video_mode = "sfu",
                "video_single" => video_mode = "single",
                _ => {}
            }
        }
        let always_multimix = video_mode == "sfu";
        if always_multimix {
            // An SFU bridge is a multi-party mixing bridge, whatever else was asked.
            (mixing, holding) = (true, false);
        }
        let kind = match (mixing, holding) {
            (true, false) => BridgeType::Mixing,
            (false, true) => BridgeType::Holding,
            _ => return Err(NoBridgeType),
        };
        Ok(BridgeFlags {
            kind,
            media_through_core,
            video_mode,
            always_multimix,
        })
    }

    /// The bridging technology for `members` channels, as Asterisk's smart bridges pick
    /// it: holding bridges hold, two parties or fewer are bridged simply, more are mixed.
    pub(crate) fn technology(&self, members: usize) -> &'static str {
        match self.kind {
            BridgeType::Holding => "holding_bridge",
            BridgeType::Mixing if self.always_multimix || members > 2 => "softmix",
            BridgeType::Mixing => "simple_bridge",
        }
    }
}

/// Who made a bridge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BridgeClass {
    /// Created over ARI (or by a WASM app): controllable by ARI.
    Stasis,
    /// Created by the dialplan (Dial): not controllable by ARI.
    Basic,
}

/// One bridge.
#[derive(Debug, Clone)]
pub(crate) struct Bridge {
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
    /// The technology snapshots show. As in Asterisk, it changes only once a change of
    /// members has been announced ([`Bridge::reconfigured`]): the ChannelEnteredBridge of a
    /// third party still shows `simple_bridge`, the ChannelLeftBridge back to two `softmix`.
    pub technology: &'static str,
    /// The channel chosen with `videoSource` (video mode `single`).
    pub video_source: Option<Arc<str>>,
    /// The video source the last published state showed: BridgeVideoSourceChanged is
    /// sent when a publication shows another (see `Core::publish_bridge_state_locked`).
    pub published_video_source: Option<Arc<str>>,
}

impl Bridge {
    /// After a change of members has been announced: the technology now fits them.
    pub(crate) fn reconfigured(&mut self) {
        self.technology = self.flags.technology(self.channels.len());
    }

    /// The ARI `Bridge` object.
    pub(crate) fn json(&self) -> Value {
        let technology = self.technology;
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
        if let Some(object) = json.as_object_mut() {
            if let Some(source) = &self.video_source {
                object.insert("video_source_id".into(), Value::String(source.to_string()));
            }
            if !reported.is_empty() {
                object.insert("bridgevars".into(), Value::Object(reported));
            }
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
        // Asterisk 23.4.1 refuses these (500 on POST /bridges; 400 in wari).
        for refused in [
            "mixing,holding",
            "bogus",
            "dtmf_events",
            "video_single",
            ",",
        ] {
            assert_eq!(BridgeFlags::parse(refused), Err(NoBridgeType), "{refused}");
        }
        let holding = BridgeFlags::parse("holding,dtmf_events").expect("valid");
        assert_eq!(holding.video_mode, "talker");
        assert_eq!(holding.technology(5), "holding_bridge");
        let sfu = BridgeFlags::parse("video_sfu").expect("valid");
        assert_eq!(
            (sfu.kind, sfu.technology(1)),
            (BridgeType::Mixing, "softmix")
        );
        let mixing = BridgeFlags::parse(" mixing , video_single").expect("valid");
        assert_eq!(mixing.video_mode, "single");
        assert_eq!(
            (mixing.technology(2), mixing.technology(3)),
            ("simple_bridge", "softmix")
        );
    }
}
