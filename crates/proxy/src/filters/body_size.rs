//! `proxy-body-size` against the declared `Content-Length` (nginx checks it when it picks the
//! location, before the location's rewrite phase): a larger declared body gets 413 at once.
//! Bodies without a length are counted while they are read (`request_body`).

use http::StatusCode;
use http::header::CONTENT_LENGTH;

use crate::filter::{Filter, Flow, RequestContext};
use crate::filters::redirect::page;

/// 413 for a declared body larger than the route's limit.
#[derive(Clone, Copy, Debug, Default)]
pub struct BodySize;

impl Filter for BodySize {
    fn request(&self, ctx: &mut RequestContext, req: &mut http::request::Parts) -> Flow {
        let Some(limit) = ctx
            .route
            .as_ref()
            .and_then(|r| r.policy.request_body.max_bytes)
        else {
            return Flow::Continue;
        };
        let declared = req
            .headers
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        if declared.is_some_and(|len| len > limit) {
            return Flow::Respond(page(StatusCode::PAYLOAD_TOO_LARGE));
        }
        Flow::Continue
    }
}
