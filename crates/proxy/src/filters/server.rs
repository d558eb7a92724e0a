//! `Server: sluice` on responses whose upstream sent no `Server` header.

use http::HeaderValue;
use http::header::SERVER;

use crate::filter::{Filter, RequestContext};

/// Adds `Server: sluice` when the response has none.
#[derive(Clone, Copy, Debug, Default)]
pub struct ServerHeader;

impl Filter for ServerHeader {
    fn response(&self, _ctx: &mut RequestContext, res: &mut http::response::Parts) {
        res.headers
            .entry(SERVER)
            .or_insert(HeaderValue::from_static("sluice"));
    }
}
