//! The [`App`] trait and [`export_app!`](crate::export_app).

use crate::types::{Channel, Event, Playback, TimerId};

/// A Stasis application.
///
/// One value of the app (made with [`Default`]) lives for the whole session: a session is one
/// call (the channel that entered the app, plus the channels it originates), runs in its own
/// instance of the component, and gets its events one at a time, in order. Keep the call's
/// state in the struct's fields; state shared between calls goes in [`kv`](crate::kv).
///
/// For each event wari calls the specific method below, if there is one, then
/// [`on_event`](App::on_event). Every method does nothing by default.
///
/// A panic (or any trap, or running past the host's CPU or memory limits) ends the session:
/// wari hangs its channels up, or lets them continue in the dialplan, as configured.
pub trait App {
    /// A channel entered the app, with the arguments of `Stasis(app,arg1,...)` or of the
    /// originate that created it.
    fn on_stasis_start(&mut self, channel: &Channel, args: &[String]) {
        let _ = (channel, args);
    }

    /// A channel left the app (hung up, continued in the dialplan, moved to another app).
    fn on_stasis_end(&mut self, channel: &Channel) {
        let _ = channel;
    }

    /// A DTMF digit (`0`-`9`, `*`, `#`, `A`-`D`) was received on a channel.
    fn on_dtmf(&mut self, channel: &Channel, digit: char) {
        let _ = (channel, digit);
    }

    /// A timer set with [`timers::set_timer`](crate::timers::set_timer) fired.
    fn on_timer(&mut self, id: TimerId) {
        let _ = id;
    }

    /// Someone asked a channel to hang up; a [`on_stasis_end`](App::on_stasis_end) follows.
    fn on_hangup_requested(&mut self, channel: &Channel) {
        let _ = channel;
    }

    /// A playback finished.
    fn on_playback_finished(&mut self, playback: &Playback) {
        let _ = playback;
    }

    /// Called for every event, after the specific method above (if any).
    fn on_event(&mut self, event: &Event) {
        let _ = event;
    }
}

/// Delivers one event to an app: the specific [`App`] method for it (if any), then
/// [`App::on_event`]. This is what the exported handler does for each event, and what
/// [`MockHost::deliver`](crate::mock::MockHost::deliver) does in tests.
pub fn dispatch<A: App + ?Sized>(app: &mut A, event: &Event) {
    match event {
        Event::StasisStart { channel, args } => app.on_stasis_start(channel, args),
        Event::StasisEnd { channel } => app.on_stasis_end(channel),
        Event::Dtmf { channel, digit, .. } => app.on_dtmf(channel, *digit),
        Event::Timer(id) => app.on_timer(*id),
        Event::HangupRequested { channel, .. } => app.on_hangup_requested(channel),
        Event::PlaybackFinished { playback } => app.on_playback_finished(playback),
        _ => {}
    }
    app.on_event(event);
}

/// Exports an [`App`] as the component's `wari:stasis/handler`.
///
/// ```ignore
/// #[derive(Default)]
/// struct MyApp;
/// impl wari_guest_sdk::App for MyApp {}
/// wari_guest_sdk::export_app!(MyApp);
/// ```
///
/// The type must implement [`App`] and [`Default`]. The first event of the session creates the
/// value with `Default::default()`; it then lives, and gets every event, until the session
/// ends. Use the macro once per component, at the crate's top level. On native targets it
/// only checks the type, so the crate still builds for its unit tests.
#[macro_export]
macro_rules! export_app {
    ($app:ty) => {
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            #[doc(hidden)]
            pub struct __WariStasisApp;

            impl $crate::__private::Guest for __WariStasisApp {
                fn on_event(event: $crate::__private::WitEvent) {
                    ::std::thread_local! {
                        static APP: ::core::cell::RefCell<::core::option::Option<$app>> =
                            const { ::core::cell::RefCell::new(::core::option::Option::None) };
                    }
                    $crate::__private::handle_event(&APP, event);
                }
            }

            $crate::__private::export!(
                __WariStasisApp with_types_in $crate::__private::bindings
            );
        };

        #[cfg(not(target_arch = "wasm32"))]
        const _: () = {
            const fn assert_app<A: $crate::App + ::core::default::Default>() {}
            assert_app::<$app>();
        };
    };
}
