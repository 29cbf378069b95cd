//! A call's story in the console: `GET /console/api/stories` lists the calls whose story
//! the core keeps (live ones, then recent ended ones, newest first), and
//! `GET /console/api/stories/{channel id}?after=N` gives one call's events (those numbered
//! after `N`, for a page following a live call) with its recordings. Read-only: any
//! logged-in user may read them, as any ARI user may read every channel. The stories
//! themselves are the core's ([`crate::core::call_story`]); the recordings' audio is ARI's
//! `/recordings/stored/{name}/file`, which the page reaches through `/api/ari/...`.

use axum::response::Response;
use http::StatusCode;

use super::{json, message};
use crate::http::front::Front;

/// Serves `GET /api/stories` and `GET /api/stories/{id}` (`sub`: the path after
/// `{prefix}/console`, `query`: the request's query).
pub(crate) fn serve(front: &Front, sub: &str, query: Option<&str>) -> Response {
    let control = front.ari.core().control();
    let Some(rest) = sub.strip_prefix("/api/stories") else {
        return message(StatusCode::NOT_FOUND, "Not found");
    };
    if rest.is_empty() || rest == "/" {
        return json(
            StatusCode::OK,
            &serde_json::json!({ "calls": control.call_stories() }),
        );
    }
    let Some(encoded) = rest.strip_prefix('/') else {
        return message(StatusCode::NOT_FOUND, "Not found");
    };
    let Ok(id) = percent_encoding::percent_decode_str(encoded).decode_utf8() else {
        return message(StatusCode::BAD_REQUEST, "The channel id is not UTF-8");
    };
    let after = match after(query) {
        Ok(after) => after,
        Err(text) => return message(StatusCode::BAD_REQUEST, text),
    };
    match control.call_story(&id, after) {
        Some(view) => json(StatusCode::OK, &control.story_json(&view)),
        None => message(
            StatusCode::NOT_FOUND,
            "No story is kept for that channel (never seen, or forgotten)",
        ),
    }
}

/// The `after` query parameter: the last event number the page has.
fn after(query: Option<&str>) -> Result<Option<u64>, &'static str> {
    let Some(query) = query else {
        return Ok(None);
    };
    match form_urlencoded::parse(query.as_bytes()).find(|(k, _)| k == "after") {
        None => Ok(None),
        Some((_, v)) => v
            .parse::<u64>()
            .map(Some)
            .map_err(|_| "after must be an event number"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn after_is_read_or_refused() {
        assert_eq!(after(None), Ok(None));
        assert_eq!(after(Some("x=1")), Ok(None));
        assert_eq!(after(Some("after=12")), Ok(Some(12)));
        assert!(after(Some("after=-1")).is_err());
        assert!(after(Some("after=a")).is_err());
    }
}
