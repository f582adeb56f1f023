//! Uploads: GraphQL multipart requests (a CSV import), accepted only from
//! callers whose credentials hold the permission uploads need, checked
//! before the body is read, and bounded in size as the body streams.

use async_graphql::{
    ParseRequestError,
    http::{MultipartOptions, receive_body},
};
use axum::{
    body::Body,
    http::{HeaderMap, StatusCode, header},
    response::Response,
};
use futures_util::TryStreamExt;

use super::{
    caller::{Peer, identify},
    execute::answer_one,
    negotiation::{MediaType, body_over},
    parsing::prepare,
    render::{bad_request, request_error, too_large},
};
use crate::{domain::identity::permission::Permission, graphql::error::ErrorCode, http::HttpState};

/// The permission an upload needs: `productImport` (a CSV import) is the
/// one field that takes a file.
const UPLOAD_PERMISSION: Permission = Permission::CatalogWrite;

/// `POST /graphql` as a GraphQL multipart request (file uploads, e.g. a CSV
/// import). A form can send `multipart/form-data` across origins, so it is
/// only accepted with an `Authorization` header, which a form cannot set.
/// The credentials are checked, and the permission uploads need, before
/// any of the body is read; then the body is parsed as it arrives, the size
/// limit holding while it streams.
pub(super) async fn post_multipart(
    state: HttpState,
    peer: Peer,
    headers: HeaderMap,
    body: Body,
    media: MediaType,
) -> Response {
    if !headers.contains_key(header::AUTHORIZATION) {
        return request_error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            media,
            ErrorCode::UnsupportedMediaType,
            "multipart requests (uploads) need an Authorization header",
        );
    }
    let caller = match identify(&state, &headers, &peer, media).await {
        Ok(c) => c,
        Err(res) => return res,
    };
    if !caller.principal.can(UPLOAD_PERMISSION) {
        return request_error(
            StatusCode::FORBIDDEN,
            media,
            ErrorCode::Forbidden,
            format!("uploads need the `{UPLOAD_PERMISSION}` permission"),
        );
    }
    let limit = state.app.config.limits.max_upload_bytes;
    if body_over(&headers, limit) {
        return too_large(media, "the upload", limit);
    }
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    // One file; the limit holds for it and for the whole stream.
    let opts = MultipartOptions::default()
        .max_num_files(1)
        .max_file_size(limit);
    let reader = body
        .into_data_stream()
        .map_err(std::io::Error::other)
        .into_async_read();
    let request = match receive_body(content_type, reader, opts).await {
        Ok(r) => r,
        Err(ParseRequestError::PayloadTooLarge) => return too_large(media, "the upload", limit),
        Err(e) => return bad_request(media, format!("bad multipart request: {e}")),
    };
    let prepared = prepare(request, state.app.config.limits.max_aliases);
    answer_one(&state, &headers, &caller, media, prepared, None).await
}
