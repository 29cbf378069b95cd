//! Call stories: the ARI events each channel produced, kept for the operator console (a
//! call's timeline, live and for a while after it ended), in bounded memory.
//!
//! The core records each event it publishes ([`Stories::record`], under the core's lock it
//! already holds: no lock of its own, and an event is kept by sharing it, not copying it)
//! into the story of every channel it concerns: the channels of its scope, its `channel`
//! field, and for a recording or playback the channel it targets. A story begins with the
//! first event of a live channel and ends with its `ChannelDestroyed`; ended stories are
//! kept, the newest [`StoryLimits::calls`], then forgotten.
//!
//! Three bounds hold whatever the load (ari.conf `console_calls`, `console_call_events`,
//! `console_events`): a story keeps at most `events_per_call` events (its first half and
//! its latest half, counting those left out between); all stories together keep at most
//! `events_total` (when full, the oldest ended stories are forgotten first, then a live
//! story keeps only its first events and its latest ones in the room it already has);
//! and the live stories are those of live channels (a story whose channel has gone without
//! its `ChannelDestroyed` is ended when found).

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use serde_json::{Value, json};

use super::control::ControlApi;
use super::event::{Event, Field};

/// How much the stories keep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoryLimits {
    /// Ended calls whose story is kept (the newest).
    pub calls: usize,
    /// Events kept per call (0: no stories at all).
    pub events_per_call: usize,
    /// Events kept over every story, live and ended, together (0: no stories at all).
    pub events_total: usize,
}

impl StoryLimits {
    /// ari.conf's defaults: 200 ended calls, 500 events each, 20,000 events in all.
    pub const DEFAULT: StoryLimits = StoryLimits {
        calls: 200,
        events_per_call: 500,
        events_total: 20_000,
    };
    /// No stories: nothing is recorded.
    pub const OFF: StoryLimits = StoryLimits {
        calls: 0,
        events_per_call: 0,
        events_total: 0,
    };

    /// Whether stories are recorded at all.
    pub fn enabled(&self) -> bool {
        self.events_per_call > 0 && self.events_total > 0
    }

    /// How many first events a story keeps; the rest of its room is for its latest ones.
    fn head(&self) -> usize {
        self.events_per_call.div_ceil(2)
    }

    fn tail(&self) -> usize {
        self.events_per_call - self.head()
    }
}

impl Default for StoryLimits {
    fn default() -> Self {
        StoryLimits::OFF
    }
}

/// One channel's events.
#[derive(Debug)]
struct Story {
    /// Its first events.
    head: Vec<Arc<Event>>,
    /// Its latest events after the first ones.
    tail: VecDeque<Arc<Event>>,
    /// Events it ever had (kept or not).
    total: u64,
    /// Whether its channel is gone.
    ended: bool,
}

impl Story {
    fn kept(&self) -> usize {
        self.head.len() + self.tail.len()
    }

    /// Counts `event` and keeps it if there is room (`head` first events, `tail` latest
    /// ones; `full`: all stories together keep as many as they may). True when the store
    /// keeps one event more.
    fn add(&mut self, event: &Arc<Event>, head: usize, tail: usize, full: bool) -> bool {
        self.total += 1;
        // The first events are kept only while none was left out, so that the kept ones
        // are the story's first events and its latest ones, each run without a gap.
        let head_open = self.head.len() < head && self.head.len() as u64 == self.total - 1;
        if head_open && !full {
            self.head.push(event.clone());
            true
        } else if tail > 0 && !self.tail.is_empty() && (self.tail.len() >= tail || full) {
            // Room for the latest only: the oldest of them makes way.
            self.tail.pop_front();
            self.tail.push_back(event.clone());
            false
        } else if tail > 0 && !full {
            self.tail.push_back(event.clone());
            true
        } else {
            false
        }
    }

    /// The kept events with their sequence numbers (0 = the story's first event).
    fn events(&self) -> impl Iterator<Item = (u64, &Arc<Event>)> {
        let tail_start = self.total - self.tail.len() as u64;
        let head = self.head.iter().enumerate().map(|(i, e)| (i as u64, e));
        let tail = self
            .tail
            .iter()
            .enumerate()
            .map(move |(i, e)| (tail_start + i as u64, e));
        head.chain(tail)
    }
}

/// Every channel's story, within [`StoryLimits`].
#[derive(Debug, Default)]
pub struct Stories {
    limits: StoryLimits,
    stories: HashMap<Arc<str>, Story>,
    /// Ended stories, oldest first.
    ended: VecDeque<Arc<str>>,
    /// Events kept over all stories.
    kept: usize,
}

/// What a story is: one call's kept events (see [`ControlApi::call_story`]).
#[derive(Debug, Clone)]
pub struct StoryView {
    /// The channel's id.
    pub id: String,
    /// Whether the channel is gone.
    pub ended: bool,
    /// Events the channel produced.
    pub total: u64,
    /// Events kept of them.
    pub kept: usize,
    /// The Stasis application the channel entered, if any.
    pub app: Option<String>,
    /// Its recordings (see [`recordings`]).
    pub recordings: Vec<Value>,
    /// The kept events after the sequence number asked for, each with its number.
    pub events: Vec<(u64, Arc<Event>)>,
}

impl Stories {
    /// Empty stories within `limits`.
    pub fn new(limits: StoryLimits) -> Stories {
        Stories {
            limits,
            ..Stories::default()
        }
    }

    /// Whether events are recorded (when not, no event needs building for a story).
    pub fn enabled(&self) -> bool {
        self.limits.enabled()
    }

    /// Events kept now over all stories.
    pub fn kept(&self) -> usize {
        self.kept
    }

    /// Records `event` in the story of each channel it concerns. `live(id)` says whether
    /// a channel exists now: only a live channel's story may begin. `live_channels` is how
    /// many channels exist (to find stories whose channel went without a word).
    pub fn record(
        &mut self,
        event: &Arc<Event>,
        live: impl Fn(&str) -> bool,
        live_channels: usize,
    ) {
        if !self.enabled() {
            return;
        }
        for (i, id) in event.scope.channels.iter().enumerate() {
            if !event.scope.channels[..i].contains(id) {
                self.record_for(id, Some(id), event, &live, live_channels);
            }
        }
        let in_scope = |id: &str| event.scope.channels.iter().any(|c| &**c == id);
        let channel = event.channel_id();
        if let Some(id) = channel
            && !in_scope(id)
        {
            self.record_for(id, None, event, &live, live_channels);
        }
        if let Some(id) = media_target(event)
            && !in_scope(id)
            && channel != Some(id)
        {
            self.record_for(id, None, event, &live, live_channels);
        }
    }

    /// Records `event` in channel `id`'s story (`shared`: the id as the core shares it,
    /// when the event has it so, to keep without a copy). A story that exists already
    /// costs one lookup.
    fn record_for(
        &mut self,
        id: &str,
        shared: Option<&Arc<str>>,
        event: &Arc<Event>,
        live: &impl Fn(&str) -> bool,
        live_channels: usize,
    ) {
        while self.kept >= self.limits.events_total && self.forget_oldest_ended(id) {}
        let full = self.kept >= self.limits.events_total;
        let (head, tail) = (self.limits.head(), self.limits.tail());
        let ends = if let Some(story) = self.stories.get_mut(id) {
            let added = story.add(event, head, tail, full);
            self.kept += usize::from(added);
            !story.ended && event.kind == "ChannelDestroyed" && event.channel_id() == Some(id)
        } else {
            if !live(id) {
                return;
            }
            let live_stories = self.stories.len() - self.ended.len();
            let mut full = full;
            if live_stories > 2 * live_channels + 64 {
                self.end_gone(live);
                while self.kept >= self.limits.events_total && self.forget_oldest_ended(id) {}
                full = self.kept >= self.limits.events_total;
            }
            // One allocation for a usual call's events.
            let mut story = Story {
                head: Vec::with_capacity(head.min(16)),
                tail: VecDeque::new(),
                total: 0,
                ended: false,
            };
            let added = story.add(event, head, tail, full);
            self.kept += usize::from(added);
            self.stories
                .insert(shared.cloned().unwrap_or_else(|| Arc::from(id)), story);
            event.kind == "ChannelDestroyed" && event.channel_id() == Some(id)
        };
        if ends {
            self.end(id);
        }
    }

    /// Marks a story ended and forgets the oldest ended ones beyond the limit.
    fn end(&mut self, id: &str) {
        let Some(story) = self.stories.get_mut(id) else {
            return;
        };
        story.ended = true;
        let Some((key, _)) = self.stories.get_key_value(id) else {
            return;
        };
        self.ended.push_back(key.clone());
        while self.ended.len() > self.limits.calls {
            let Some(oldest) = self.ended.pop_front() else {
                break;
            };
            self.forget(&oldest);
        }
    }

    /// Forgets the oldest ended story, unless it is `keep`'s; false when none was.
    fn forget_oldest_ended(&mut self, keep: &str) -> bool {
        if self.ended.front().is_some_and(|oldest| &**oldest != keep)
            && let Some(oldest) = self.ended.pop_front()
        {
            self.forget(&oldest);
            return true;
        }
        false
    }

    fn forget(&mut self, id: &str) {
        if let Some(story) = self.stories.remove(id) {
            self.kept -= story.kept();
        }
    }

    /// Ends the live stories whose channel has gone (without a recorded ChannelDestroyed).
    fn end_gone(&mut self, live: &impl Fn(&str) -> bool) {
        let gone: Vec<Arc<str>> = self
            .stories
            .iter()
            .filter(|(id, story)| !story.ended && !live(id))
            .map(|(id, _)| id.clone())
            .collect();
        for id in gone {
            self.end(&id);
        }
    }

    /// The story of channel `id`: its events numbered after `after` (all with `None`).
    pub fn story(&self, id: &str, after: Option<u64>) -> Option<StoryView> {
        let story = self.stories.get(id)?;
        Some(StoryView {
            id: id.to_string(),
            ended: story.ended,
            total: story.total,
            kept: story.kept(),
            app: story_app(story).map(str::to_string),
            recordings: recordings(story.events().map(|(_, e)| &**e), id),
            events: story
                .events()
                .filter(|(seq, _)| after.is_none_or(|a| *seq > a))
                .map(|(seq, e)| (seq, e.clone()))
                .collect(),
        })
    }

    /// A summary of every story: live ones (by channel id) then ended ones, newest first.
    pub fn summaries(&self) -> Vec<Value> {
        let mut live: Vec<(&Arc<str>, &Story)> =
            self.stories.iter().filter(|(_, s)| !s.ended).collect();
        live.sort_by(|a, b| a.0.cmp(b.0));
        let ended = self
            .ended
            .iter()
            .rev()
            .filter_map(|id| self.stories.get_key_value(id));
        live.into_iter()
            .chain(ended)
            .map(|(id, story)| summary(id, story))
            .collect()
    }
}

/// The channel a recording or playback event's `target_uri` names (`channel:ID`).
fn media_target(event: &Event) -> Option<&str> {
    let key = if event.kind.starts_with("Recording") {
        "recording"
    } else if event.kind.starts_with("Playback") {
        "playback"
    } else {
        return None;
    };
    event
        .json(key)?
        .get("target_uri")?
        .as_str()?
        .strip_prefix("channel:")
}

/// One story's line in the list of calls.
fn summary(id: &str, story: &Story) -> Value {
    let first = story.events().next().map(|(_, e)| e);
    let channel = first
        .and_then(|e| e.field("channel"))
        .map(Field::to_value)
        .unwrap_or(Value::Null);
    let destroyed = story
        .events()
        .map(|(_, e)| e)
        .find(|e| e.kind == "ChannelDestroyed" && e.channel_id() == Some(id));
    json!({
        "id": id,
        "name": channel.get("name"),
        "caller": channel.get("caller"),
        "app": story_app(story),
        "started": first.map(|e| e.timestamp.as_str()),
        "ended": story.ended,
        "ended_at": destroyed.map(|e| e.timestamp.as_str()),
        "cause_txt": destroyed.and_then(|e| e.json("cause_txt")),
        "events": story.total,
        "recordings": recordings(story.events().map(|(_, e)| &**e), id).len(),
    })
}

/// The Stasis application the story's channel entered, if any.
fn story_app(story: &Story) -> Option<&str> {
    story
        .events()
        .find(|(_, e)| e.kind == "StasisStart")
        .and_then(|(_, e)| e.scope.only_app.as_deref())
}

/// The recordings of channel `id` among `events`: each name once, with its latest state.
pub fn recordings<'e>(events: impl Iterator<Item = &'e Event>, id: &str) -> Vec<Value> {
    let mut found: Vec<Value> = Vec::new();
    for event in events.filter(|e| e.kind.starts_with("Recording")) {
        let Some(recording) = event.json("recording") else {
            continue;
        };
        if recording.get("target_uri").and_then(Value::as_str)
            != Some(format!("channel:{id}").as_str())
        {
            continue;
        }
        let name = recording.get("name").cloned().unwrap_or(Value::Null);
        let entry = json!({
            "name": name,
            "format": recording.get("format"),
            "state": recording.get("state"),
            "duration": recording.get("duration"),
        });
        match found.iter_mut().find(|r| r["name"] == name) {
            Some(r) => *r = entry,
            None => found.push(entry),
        }
    }
    found
}

impl ControlApi<'_> {
    /// Channel `id`'s story (its events numbered after `after`), or `None` when no story
    /// of it is kept. A story whose channel is gone is shown ended.
    pub fn call_story(&self, id: &str, after: Option<u64>) -> Option<StoryView> {
        let state = self.lock_state();
        let mut view = state.stories.story(id, after)?;
        view.ended |= !state.channels.contains_key(id);
        Some(view)
    }

    /// A line per kept story: live calls first, then ended ones, newest first.
    pub fn call_stories(&self) -> Vec<Value> {
        let state = self.lock_state();
        let mut lines = state.stories.summaries();
        for line in &mut lines {
            if line["ended"] == false
                && let Some(id) = line["id"].as_str()
                && !state.channels.contains_key(id)
            {
                line["ended"] = Value::Bool(true);
            }
        }
        lines
    }

    /// A story as the console shows it: each event as ARI writes it to the channel's
    /// application, with its number, and the channel's recordings.
    pub fn story_json(&self, view: &StoryView) -> Value {
        let app = view.app.as_deref().unwrap_or_default();
        let asterisk_id = &self.system().entity_id;
        let events: Vec<Value> = view
            .events
            .iter()
            .map(|(seq, e)| {
                let application = e.scope.only_app.as_deref().unwrap_or(app);
                json!({"seq": seq, "event": e.to_json(application, asterisk_id)})
            })
            .collect();
        json!({
            "id": view.id,
            "ended": view.ended,
            "total": view.total,
            "kept": view.kept,
            "app": view.app,
            "events": events,
            "recordings": view.recordings,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::event::Scope;

    fn event(kind: &'static str, id: &str) -> Arc<Event> {
        let arc: Arc<str> = Arc::from(id);
        Arc::new(
            Event::new(kind, Scope::channel(&arc))
                .with("channel", json!({"id": id, "name": format!("Test/{id}")})),
        )
    }

    fn limits(calls: usize, events_per_call: usize, events_total: usize) -> StoryLimits {
        StoryLimits {
            calls,
            events_per_call,
            events_total,
        }
    }

    fn kinds(stories: &Stories, id: &str) -> Vec<(u64, &'static str)> {
        stories
            .story(id, None)
            .map(|v| v.events.iter().map(|(seq, e)| (*seq, e.kind)).collect())
            .unwrap_or_default()
    }

    fn ids(stories: &Stories) -> Vec<String> {
        stories
            .summaries()
            .iter()
            .map(|s| s["id"].as_str().unwrap_or_default().to_string())
            .collect()
    }

    #[test]
    fn the_oldest_ended_call_is_dropped() {
        let mut stories = Stories::new(limits(2, 10, 1000));
        for id in ["a", "b", "c"] {
            stories.record(&event("ChannelCreated", id), |_| true, 3);
            stories.record(&event("ChannelDestroyed", id), |_| true, 3);
        }
        assert_eq!(ids(&stories), ["c", "b"], "newest first, a forgotten");
        assert!(stories.story("a", None).is_none());
        assert_eq!(
            kinds(&stories, "c"),
            [(0, "ChannelCreated"), (1, "ChannelDestroyed")]
        );
        assert_eq!(stories.kept(), 4);
        // A live call is listed before the ended ones and is never forgotten for them.
        stories.record(&event("ChannelCreated", "d"), |_| true, 1);
        assert_eq!(ids(&stories), ["d", "c", "b"]);
        assert_eq!(stories.summaries()[0]["ended"], false);
        assert_eq!(stories.summaries()[1]["ended"], true);
    }

    #[test]
    fn events_per_call_are_capped_keeping_the_first_and_the_latest() {
        let mut stories = Stories::new(limits(5, 4, 1000));
        stories.record(&event("ChannelCreated", "a"), |_| true, 1);
        for _ in 0..7 {
            stories.record(&event("ChannelVarset", "a"), |_| true, 1);
        }
        stories.record(&event("ChannelDestroyed", "a"), |_| true, 1);
        assert_eq!(
            kinds(&stories, "a"),
            [
                (0, "ChannelCreated"),
                (1, "ChannelVarset"),
                (7, "ChannelVarset"),
                (8, "ChannelDestroyed")
            ]
        );
        let view = stories.story("a", None).expect("kept");
        assert_eq!((view.total, view.kept, view.ended), (9, 4, true));
        assert_eq!(stories.kept(), 4);
        // Polling after the last event seen returns only what came after it.
        let after: Vec<u64> = stories
            .story("a", Some(7))
            .expect("kept")
            .events
            .iter()
            .map(|(seq, _)| *seq)
            .collect();
        assert_eq!(after, [8]);
    }

    #[test]
    fn a_flood_of_events_cannot_grow_the_store() {
        let mut stories = Stories::new(limits(3, 6, 10));
        // Ended calls fill part of the room; a flood on live calls takes it from them,
        // oldest first, and then stays within it.
        for id in ["old1", "old2"] {
            stories.record(&event("ChannelCreated", id), |_| true, 1);
            stories.record(&event("ChannelDestroyed", id), |_| true, 1);
        }
        for n in 0..10_000 {
            let id = format!("live{}", n % 50);
            stories.record(&event("ChannelVarset", &id), |_| true, 50);
            assert!(stories.kept() <= 10, "{} kept", stories.kept());
        }
        assert!(stories.story("old1", None).is_none());
        assert!(stories.story("old2", None).is_none());
        let live = stories.summaries();
        assert_eq!(live.len(), 50, "each live call still has its story");
        assert_eq!(
            live.iter()
                .map(|s| s["events"].as_u64().unwrap_or(0))
                .sum::<u64>(),
            10_000,
            "every event is counted, kept or not"
        );
    }

    #[test]
    fn stories_begin_only_for_live_channels_and_end_when_their_channel_goes() {
        let mut stories = Stories::new(limits(5, 10, 100));
        stories.record(&event("ChannelVarset", "ghost"), |_| false, 0);
        assert!(stories.story("ghost", None).is_none());
        // Stories whose channel vanished without a ChannelDestroyed end when many more
        // stories than channels are live.
        for n in 0..100 {
            let id = format!("c{n}");
            // Only the newest channel exists: each earlier one went without a word.
            stories.record(&event("ChannelCreated", &id), |c| c == id, 1);
        }
        let live = stories
            .summaries()
            .iter()
            .filter(|s| s["ended"] == false)
            .count();
        assert!(live <= 67, "{live} live stories for one live channel");
        assert!(
            stories.stories.len() <= 67 + 5,
            "the ended ones are bounded too"
        );
    }

    #[test]
    fn a_recording_and_stasis_events_go_to_their_channel() {
        let mut stories = Stories::new(StoryLimits::DEFAULT);
        stories.record(&event("ChannelCreated", "a"), |_| true, 1);
        let start = Event::new("StasisStart", Scope::app("desk"))
            .with("channel", json!({"id": "a", "name": "Test/a"}));
        stories.record(&Arc::new(start), |_| true, 1);
        let recording = |kind, state| {
            Arc::new(Event::new(kind, Scope::app("desk")).with(
                "recording",
                json!({"name": "r1", "format": "wav", "state": state, "target_uri": "channel:a"}),
            ))
        };
        stories.record(&recording("RecordingStarted", "recording"), |_| true, 1);
        stories.record(&event("ChannelDestroyed", "a"), |_| true, 0);
        // After the channel has gone, its recording's end still joins its story.
        stories.record(&recording("RecordingFinished", "done"), |_| false, 0);
        let view = stories.story("a", None).expect("kept");
        assert_eq!(view.app.as_deref(), Some("desk"));
        assert_eq!(
            view.events.iter().map(|(_, e)| e.kind).collect::<Vec<_>>(),
            [
                "ChannelCreated",
                "StasisStart",
                "RecordingStarted",
                "ChannelDestroyed",
                "RecordingFinished"
            ]
        );
        assert_eq!(view.recordings.len(), 1);
        assert_eq!(view.recordings[0]["state"], "done");
        assert_eq!(view.recordings[0]["name"], "r1");
    }

    #[test]
    fn no_limits_no_stories() {
        let mut stories = Stories::new(StoryLimits::OFF);
        stories.record(&event("ChannelCreated", "a"), |_| true, 1);
        assert!(stories.story("a", None).is_none() && stories.kept() == 0);
    }
}
