//! The built-in filters. [`builtin`] lists them in the order the proxy installs them, ahead of
//! any filter an embedder adds.

mod forwarded;
mod request_id;
mod server;

use std::sync::Arc;

pub use forwarded::ForwardedHeaders;
pub use request_id::RequestId;
pub use server::ServerHeader;

use crate::filter::Filter;

/// The filters every proxy runs first: request id, forwarded headers, `Server` header.
pub fn builtin() -> Vec<Arc<dyn Filter>> {
    vec![
        Arc::new(RequestId),
        Arc::new(ForwardedHeaders),
        Arc::new(ServerHeader),
    ]
}
