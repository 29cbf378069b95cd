//! What a WebAssembly app may name besides its own channels and bridges.
//!
//! An app shares the server with other tenants' applications and recordings, so every
//! parameter of a host call or `ari.request` that names such an object is checked:
//!
//! - **Applications**: only the app's own (`move`, `snoop`: `app=` must be its name). A
//!   channel can never be handed to another tenant's application.
//! - **Recordings**: each app has its own namespace, the folder named like the app: it
//!   records, plays (`recording:` media) and overwrites only stored recordings named
//!   `<app>/...` (e.g. app `voicemail` records `voicemail/msg-1`). What other apps and ARI
//!   users recorded elsewhere can be neither overwritten nor played.

/// Why a name is refused: its text is the message of a 403 for the guest.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum Refusal {
    #[error("Application '{}' is not this app's own ('{own}')", .app.escape_debug())]
    App { app: String, own: String },
    #[error("Recording '{}' is outside this app's recordings ('{own}/...')", .name.escape_debug())]
    Recording { name: String, own: String },
}

/// `app` must be the guest's own application `own`.
pub(crate) fn own_app(own: &str, app: &str) -> Result<(), Refusal> {
    if app == own {
        Ok(())
    } else {
        Err(Refusal::App {
            app: app.to_string(),
            own: own.to_string(),
        })
    }
}

/// Recording `name` must lie in the namespace of app `own`: `<own>/` followed by plain
/// path segments.
pub(crate) fn own_recording(own: &str, name: &str) -> Result<(), Refusal> {
    let inside = name
        .strip_prefix(own)
        .and_then(|rest| rest.strip_prefix('/'))
        .is_some_and(|rest| {
            rest.split('/')
                .all(|segment| !matches!(segment, "" | "." | ".."))
        });
    if inside {
        Ok(())
    } else {
        Err(Refusal::Recording {
            name: name.to_string(),
            own: own.to_string(),
        })
    }
}

/// Every `recording:` item of a media list (items may also be comma-separated, as in
/// `play?media=`) must be in the namespace of app `own`.
pub(crate) fn own_media<'a>(
    own: &str,
    media: impl IntoIterator<Item = &'a str>,
) -> Result<(), Refusal> {
    for item in media.into_iter().flat_map(|m| m.split(',')) {
        let item = item.trim();
        let (scheme, name) = item.split_once(':').unwrap_or((item, ""));
        if scheme.trim().eq_ignore_ascii_case("recording") {
            own_recording(own, name)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_own_app_and_the_own_recordings_pass() {
        assert!(own_app("evil", "evil").is_ok());
        assert!(own_app("evil", "victimapp").is_err());
        assert_eq!(
            own_app("evil", "victim\napp").map_err(|r| r.to_string()),
            Err("Application 'victim\\napp' is not this app's own ('evil')".into())
        );
        assert!(own_app("evil", "Evil").is_err());
        assert!(own_recording("evil", "evil/take1").is_ok());
        assert!(own_recording("evil", "evil/calls/take1").is_ok());
        for name in [
            "victimrec",
            "evil",
            "evil/",
            "evilx/take",
            "evil/../victimrec",
            "evil//x",
            "evil/./x",
            "other/evil/x",
        ] {
            assert!(own_recording("evil", name).is_err(), "{name}");
        }
        assert!(own_media("evil", ["sound:hello", "tone:440", "recording:evil/a"]).is_ok());
        assert_eq!(
            own_media("evil", ["sound:hello,recording:victimrec"]).map_err(|r| r.to_string()),
            Err("Recording 'victimrec' is outside this app's recordings ('evil/...')".into())
        );
        assert!(own_media("evil", [" Recording :victimrec"]).is_err());
    }
}
