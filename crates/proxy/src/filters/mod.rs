//! The built-in filters. [`builtin`] lists them in the order the proxy installs them, ahead of
//! any filter an embedder adds.

mod forwarded;
mod ratelimit;
mod request_id;
mod server;

use std::sync::Arc;

pub use crate::state::FeatureHeaders;
pub use forwarded::ForwardedHeaders;
pub use ratelimit::RateLimits;
pub use request_id::RequestId;
pub use server::ServerHeader;

use crate::filter::Filter;

/// The filters every proxy runs first: request id, forwarded headers, `Server` header, rate
/// and connection limits, and the response headers of the traffic features.
pub fn builtin() -> Vec<Arc<dyn Filter>> {
    vec![
        Arc::new(RequestId),
        Arc::new(ForwardedHeaders),
        Arc::new(ServerHeader),
        Arc::new(RateLimits::default()),
        Arc::new(FeatureHeaders),
    ]
}
