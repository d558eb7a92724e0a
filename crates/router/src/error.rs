//! The one error type of the crate: why a route table could not be compiled.

/// Why [`crate::Router::new`] could not compile a route table.
///
/// Tables that `sluice_ingress_model::build` produces never cause one; the variants exist so that
/// an unexpected table fails loudly instead of panicking or routing differently from the
/// reference matcher.
#[derive(thiserror::Error, Debug)]
#[non_exhaustive]
pub enum RouterError {
    /// The path tree refused a key derived from a route's path.
    #[error("host {host}: path {pattern:?} cannot be indexed: {reason}")]
    Index {
        /// The virtual host's pattern as displayed (`*` for any host).
        host: String,
        /// The route's path match as displayed (`=/exact`, `/prefix*`).
        pattern: String,
        /// What the tree reported.
        reason: String,
    },
    /// More routes (or path keys) than the router's 32-bit ids can name.
    #[error("host {host}: too many routes at path {pattern:?}")]
    TooManyRoutes {
        /// The virtual host's pattern as displayed.
        host: String,
        /// The route's path match as displayed.
        pattern: String,
    },
}
