//! The pipeline as [`AriDispatch`]: requests made inside wari (a WebAssembly app's
//! `ari.request`) run through [`Ari::handle`] as wari's own internal user, their JSON body
//! typed as such, their answer reduced to a status and a text body.

use futures_util::future::BoxFuture;
use http::{HeaderMap, HeaderValue, header};

use super::{Ari, AriRequest, Body};
use crate::host_api::{AriDispatch, InternalRequest, InternalResponse};

impl AriDispatch for Ari {
    fn serve_internal(&self, request: InternalRequest) -> BoxFuture<'_, InternalResponse> {
        Box::pin(async move {
            let mut headers = HeaderMap::new();
            if request.json_body.is_some() {
                headers.insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                );
            }
            let request = AriRequest {
                method: request.method,
                path: request.path,
                query: request.query,
                headers,
                body: request.json_body.unwrap_or_default(),
                peer: None,
                trusted_user: Some(self.internal_user()),
                upload: None,
                quota_owner: request.quota_owner,
            };
            let response = self.handle(request).await;
            let body = match response.body {
                Body::Json(value) => value.to_string(),
                Body::Raw { data, .. } => String::from_utf8_lossy(&data).into_owned(),
                // Files are stored recordings, which apps cannot read through ARI.
                Body::Empty | Body::File { .. } | Body::Stream(_) => String::new(),
                Body::Page(message) => message,
            };
            InternalResponse {
                status: response.status.as_u16(),
                body,
            }
        })
    }
}
