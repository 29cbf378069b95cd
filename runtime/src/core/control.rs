//! The ARI control API: the view of the core the REST handlers (`crate::ari::resources`)
//! are given, and the WebAssembly host's typed calls that do what a REST request would
//! (answer, play, bridge ...). It holds the operations on channels, bridges, playbacks,
//! recordings, sounds, endpoints, device states, mailboxes, variables and applications;
//! their code lives with the concern they change (`channels/control.rs`, `bridges.rs`,
//! `media.rs` ...) in `impl ControlApi` blocks.
//!
//! A [`ControlApi`] is a borrowed `&Core` ([`Core::control`]): making one costs nothing,
//! takes no lock and allocates nothing. What the technologies and the channel runners call
//! (state transitions, publishing, the state lock) stays private to the core.

use std::ops::Deref;

use super::Core;

/// The core as the ARI control API sees it (see the module header).
#[derive(Debug, Clone, Copy)]
pub struct ControlApi<'a> {
    core: &'a Core,
}

impl Core {
    /// The ARI control API of this core.
    pub fn control(&self) -> ControlApi<'_> {
        ControlApi { core: self }
    }
}

/// The operations' code in the core reaches the core's own (private) methods through this;
/// outside the core only [`Core`]'s public methods are reachable.
impl Deref for ControlApi<'_> {
    type Target = Core;

    fn deref(&self) -> &Core {
        self.core
    }
}
