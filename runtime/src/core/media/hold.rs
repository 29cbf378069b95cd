//! Music on hold and silence: on a channel (`POST/DELETE /channels/{id}/moh` and
//! `/silence`) and on a bridge (`/bridges/{id}/moh`), as engine sources that play a
//! musiconhold.conf class (or silence when the class has no playable file).

use std::sync::Arc;

use super::Media;
use crate::core::control::ControlApi;
use crate::core::{Core, CoreError};
use crate::media::engine::{Command, Hold, HoldKind, Source};
use crate::media::frame::AudioFrame;
use crate::media::frame::Rate;
use crate::media::moh::MohPlayer;

/// A music-on-hold class as an engine source.
struct MohSource(MohPlayer);

impl Source for MohSource {
    fn next_frame(&mut self) -> Option<AudioFrame> {
        Some(self.0.next_frame())
    }
}

/// Silence forever: music on hold of a class without files.
struct SilentSource(Rate);

impl Source for SilentSource {
    fn next_frame(&mut self) -> Option<AudioFrame> {
        Some(AudioFrame::silence(self.0))
    }
}

/// The music of class `class` (empty: `default`; unknown: `default` too, as Asterisk
/// falls back), or silence when the class has no playable file.
pub(super) fn moh_source(media: &Media, class: &str, rate: Rate) -> Box<dyn Source> {
    let config = &media.setup.moh;
    let name = match config.class(class) {
        Some(_) => class,
        None => {
            tracing::warn!(
                class,
                "unknown music on hold class; playing the default class"
            );
            ""
        }
    };
    match MohPlayer::open_named(config, name, rate, media.opener.clone()) {
        Ok(player) => Box::new(MohSource(player)),
        Err(error) => {
            tracing::warn!(class = name, %error, "music on hold has nothing to play: silence instead");
            Box::new(SilentSource(rate))
        }
    }
}

impl Core {
    /// The channel of a music-on-hold or silence request (404, 409, 412).
    fn hold_target(&self, id: &str) -> Result<Arc<str>, CoreError> {
        self.with_state(|state| Ok(self.controllable(state, id, true)?.id.clone()))
    }

    /// Sends the engine a hold command for a channel's leg (after [`Core::hold_target`]'s
    /// checks).
    fn channel_hold(
        &self,
        id: &str,
        command: impl FnOnce(&Media, Arc<str>) -> Command,
    ) -> Result<(), CoreError> {
        let media = self.media()?;
        let leg = self.hold_target(id)?;
        media.engine.send(command(media, leg));
        Ok(())
    }

    /// Starts (`on`) or stops a channel's music on hold of the default class, with the
    /// core's state locked: a hold indicated to a technology that holds with local music.
    /// Only the class's folder is listed here; its files are read by the engine.
    pub(in crate::core) fn channel_moh_locked(&self, leg: &Arc<str>, on: bool) {
        let Ok(media) = self.media() else {
            return;
        };
        let leg = leg.clone();
        media.engine.send(if on {
            Command::StartHold {
                leg,
                hold: Hold::Moh(moh_source(media, "", Rate::Narrow8k)),
            }
        } else {
            Command::StopHold {
                leg,
                kind: HoldKind::Moh,
            }
        });
    }
}

impl ControlApi<'_> {
    /// `POST /channels/{id}/moh`: the channel hears the class (see [`moh_source`]) instead
    /// of anything else, until stopped or a playback starts on it.
    pub fn start_channel_moh(&self, id: &str, class: &str) -> Result<(), CoreError> {
        self.channel_hold(id, |media, leg| Command::StartHold {
            leg,
            hold: Hold::Moh(moh_source(media, class, Rate::Narrow8k)),
        })
    }

    /// `DELETE /channels/{id}/moh`: nothing happens when none is playing.
    pub fn stop_channel_moh(&self, id: &str) -> Result<(), CoreError> {
        self.channel_hold(id, |_, leg| Command::StopHold {
            leg,
            kind: HoldKind::Moh,
        })
    }

    /// `POST /channels/{id}/silence`: the channel hears silence (even in a bridge), until
    /// stopped or a playback starts on it.
    pub fn start_channel_silence(&self, id: &str) -> Result<(), CoreError> {
        self.channel_hold(id, |_, leg| Command::StartHold {
            leg,
            hold: Hold::Silence,
        })
    }

    /// `DELETE /channels/{id}/silence`.
    pub fn stop_channel_silence(&self, id: &str) -> Result<(), CoreError> {
        self.channel_hold(id, |_, leg| Command::StopHold {
            leg,
            kind: HoldKind::Silence,
        })
    }

    /// `POST /bridges/{id}/moh`: 404, 409; the class is mixed into what every member hears
    /// (calling again changes the class).
    pub fn start_bridge_moh(&self, id: &str, class: &str) -> Result<(), CoreError> {
        let media = self.media()?;
        let bridge = self.with_state(|state| self.stasis_bridge(state, id))?;
        let source = moh_source(media, class, Rate::Narrow8k);
        self.with_state(|state| {
            // Checked again: the bridge may have gone while the class was opened.
            let bridge = self.stasis_bridge(state, &bridge)?;
            state.media.bridge_moh.insert(bridge.clone());
            media.engine.send(Command::BridgeMoh {
                bridge,
                source: Some(source),
            });
            Ok(())
        })
    }

    /// `DELETE /bridges/{id}/moh`: 404, 409 (not an ARI bridge, or no music on hold).
    pub fn stop_bridge_moh(&self, id: &str) -> Result<(), CoreError> {
        let media = self.media()?;
        self.with_state(|state| {
            let bridge = self.stasis_bridge(state, id)?;
            if !state.media.bridge_moh.remove(&bridge) {
                return Err(CoreError::Conflict("Bridge isn't playing music".into()));
            }
            media.engine.send(Command::BridgeMoh {
                bridge,
                source: None,
            });
            Ok(())
        })
    }
}
