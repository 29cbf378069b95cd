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
        let total = INDEX_HTML.len() + CSS.len() + JS.len();
        assert!(total < 200 * 1024, "{total} bytes");
        for asset in [INDEX_HTML, CSS, JS] {
            assert!(!asset.contains("http://") && !asset.contains("https://"));
        }
    }
}
