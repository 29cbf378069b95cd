//! ARI's conventions that both the pipeline and the WebAssembly host follow: how a request
//! path splits into decoded segments (routing, http.conf restrictions, and the check of what
//! a guest's `ari.request` touches) and which status each core error answers with (REST
//! replies and the errors of guests' typed host calls).

use http::StatusCode;

use crate::core::CoreError;

/// Splits the path on `/` (stopping at the first empty segment) and decodes each segment as
/// Asterisk does: `+` is a space, `%XX` a byte, and a `%` not followed by two hex digits stays
/// as it is. Bytes that are not UTF-8 become U+FFFD (no resource or id can contain them).
pub(crate) fn decode_segments(path: &str) -> Vec<String> {
    path.strip_prefix('/')
        .unwrap_or(path)
        .split('/')
        .take_while(|raw| !raw.is_empty())
        .map(|raw| decode_segment(raw).into_owned())
        .collect()
}

/// One path segment decoded as routing decodes it: `+` is a space, `%XX` a byte, a `%` not
/// followed by two hex digits stays; bytes that are not UTF-8 become U+FFFD. Borrowed when
/// there is nothing to decode. http.conf restrictions compare paths in this form too.
pub(crate) fn decode_segment(raw: &str) -> std::borrow::Cow<'_, str> {
    if !raw.contains(['+', '%']) {
        return std::borrow::Cow::Borrowed(raw);
    }
    let spaced = raw.replace('+', " ");
    std::borrow::Cow::Owned(
        percent_encoding::percent_decode_str(&spaced)
            .decode_utf8_lossy()
            .into_owned(),
    )
}

/// The ARI status and message of a core error.
pub(crate) fn core_error(error: CoreError) -> (StatusCode, String) {
    match error {
        CoreError::BadRequest(m) => (StatusCode::BAD_REQUEST, m),
        CoreError::NotFound(m) => (StatusCode::NOT_FOUND, m),
        CoreError::Conflict(m) => (StatusCode::CONFLICT, m),
        CoreError::InvalidState(m) => (StatusCode::PRECONDITION_FAILED, m),
        CoreError::Unprocessable(m) => (StatusCode::UNPROCESSABLE_ENTITY, m),
        CoreError::NotImplemented(m) => (StatusCode::NOT_IMPLEMENTED, m),
        CoreError::Forbidden(m) => (StatusCode::FORBIDDEN, m),
        CoreError::Internal(m) => (StatusCode::INTERNAL_SERVER_ERROR, m),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_decode_individually() {
        assert_eq!(
            decode_segments("/recordings/stored/sub%2Fdir+x"),
            ["recordings", "stored", "sub/dir x"]
        );
        assert_eq!(decode_segments(""), Vec::<String>::new());
        assert_eq!(decode_segments("/a//b"), ["a"], "stops at an empty segment");
        assert_eq!(
            decode_segments("/a%zz/b%4"),
            ["a%zz", "b%4"],
            "kept as sent"
        );
        assert_eq!(decode_segments("/a%ff"), ["a\u{fffd}"], "not UTF-8");
    }
}
