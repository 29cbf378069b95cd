//! The Stasis application at the top of an originated or created channel (not entered
//! from the dialplan): entering it sets STASISSTATUS to `""` and makes `Stasis` the
//! channel's dialplan application (silently for an originate, with ChannelDialplan for a
//! create); when the channel is done with it (hung up, after any dialplan it continued in)
//! STASISSTATUS is set again and the dialplan application it replaced (`AppDial2` for an
//! originate, none for a create) comes back for the channel's last snapshot.

use std::sync::Arc;

use crate::core::channels::channel::Execution;
use crate::core::{Core, State};

/// How the channel's dialplan application becomes `Stasis`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Announce {
    /// Silently (an originated channel: the application is run on it directly).
    Silently,
    /// With ChannelDialplan (a created channel).
    WithEvent,
}

impl Core {
    /// The channel starts running application `app`: the application it replaces is kept,
    /// its dialplan application becomes `Stasis(app,args)`, STASISSTATUS is set to `""`.
    pub(in crate::core) fn begin_app_run(
        &self,
        state: &mut State,
        id: &Arc<str>,
        app: &str,
        args: &[String],
        announce: Announce,
    ) {
        let Some(channel) = state.channels.get_mut(id) else {
            return;
        };
        let mut data =
            String::with_capacity(app.len() + args.iter().map(|a| a.len() + 1).sum::<usize>());
        data.push_str(app);
        for arg in args {
            data.push(',');
            data.push_str(arg);
        }
        let saved_app = std::mem::replace(&mut channel.dialplan.app_name, "Stasis".to_string());
        let saved_data = std::mem::replace(&mut channel.dialplan.app_data, data);
        channel.execution = Execution::App {
            saved_app,
            saved_data,
        };
        if announce == Announce::WithEvent {
            let position = channel.dialplan.clone();
            self.set_dialplan_position(state, id, position);
        }
        self.set_var_locked(state, id, "STASISSTATUS", Some(""), None);
    }

    /// The application run of the channel is over with `status` (SUCCESS or FAILED):
    /// STASISSTATUS is set and the dialplan application it replaced comes back.
    pub(in crate::core) fn end_app_run(&self, state: &mut State, id: &Arc<str>, status: &str) {
        let Some(channel) = state.channels.get_mut(id) else {
            return;
        };
        let Execution::App {
            saved_app,
            saved_data,
        } = std::mem::take(&mut channel.execution)
        else {
            return;
        };
        self.set_var_locked(state, id, "STASISSTATUS", Some(status), None);
        if let Some(channel) = state.channels.get_mut(id) {
            channel.dialplan.app_name = saved_app;
            channel.dialplan.app_data = saved_data;
        }
    }
}
