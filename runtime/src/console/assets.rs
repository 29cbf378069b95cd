//! The console's page, compiled into the binary from `assets/`: one HTML document, one
//! style sheet, one script, all written for wari (no framework, nothing fetched from
//! elsewhere). The page paints its login form or its views from the HTML alone; the
//! script then asks for the session and opens the live feed.

use axum::body::Body as HttpBody;
use axum::response::Response;
use http::{HeaderValue, header};

/// The page.
pub(crate) const INDEX_HTML: &str = include_str!("assets/index.html");
/// Its style sheet.
pub(crate) const CSS: &str = include_str!("assets/console.css");
/// Its script.
pub(crate) const JS: &str = include_str!("assets/console.js");

/// The scripts of views beyond the core page, each loaded after `console.js` (which
/// gives them `window.wariConsole`): `(file name, script)`. A view adds its line here,
/// its `<script>` tag, tab and section in `index.html`.
pub(crate) const VIEWS: &[(&str, &str)] = &[
    // listen-in
    ("listen.js", include_str!("assets/listen.js")),
    // call story
    ("story.js", include_str!("assets/story.js")),
    // endpoints
    ("endpoints.js", include_str!("assets/endpoints.js")),
    // health
    ("health.js", include_str!("assets/health.js")),
];

/// The asset at `sub` (a path under `{prefix}/console`), with its content type.
pub(crate) fn find(sub: &str) -> Option<(&'static str, &'static str)> {
    match sub {
        "/" => Some((INDEX_HTML, "text/html; charset=utf-8")),
        "/console.css" => Some((CSS, "text/css; charset=utf-8")),
        "/console.js" => Some((JS, "text/javascript; charset=utf-8")),
        _ => VIEWS
            .iter()
            .find(|(name, _)| sub.strip_prefix('/') == Some(*name))
            .map(|(_, script)| (*script, "text/javascript; charset=utf-8")),
    }
}

/// One asset as a response.
pub(crate) fn page(body: &'static str, content_type: &'static str) -> Response {
    let mut response = Response::new(HttpBody::from(body));
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_is_small_and_self_contained() {
        let views = VIEWS.iter().map(|(_, script)| *script);
        let assets: Vec<&str> = [INDEX_HTML, CSS, JS].into_iter().chain(views).collect();
        let total: usize = assets.iter().map(|a| a.len()).sum();
        assert!(total < 200 * 1024, "{total} bytes");
        for asset in assets {
            assert!(!asset.contains("http://") && !asset.contains("https://"));
        }
    }
}
