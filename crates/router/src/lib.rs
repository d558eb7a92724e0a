//! `sluice-router` compiles the routes of a `sluice_ingress_model::RouteTable` into a fast
//! matcher for the proxy: which [`Route`](sluice_ingress_model::Route) serves a request's host
//! and path (and, for conditional routes such as canary-by-header, its headers, cookies, query
//! and method).
//!
//! # Contract
//! - [`Router::lookup_request`] returns exactly what the model's reference matcher,
//!   `Routes::lookup` (`RouteTable::lookup`), returns for every host, path and request; that
//!   linear matcher *defines* the semantics, this crate only makes them fast. A property test
//!   compares the two on arbitrary tables and requests, raw and normalised paths alike.
//! - It never does I/O, never panics on table or request contents, and does not allocate on a
//!   lookup in the common case (an upper-case host is lowercased into a new string, and matchit
//!   keeps a backtracking stack that allocates when a path walks past a catch-all into a
//!   deeper key, i.e. nested prefixes).
//!
//! # Normalisation
//! The host is normalised here with [`normalize_host`], as the reference does. The path is
//! matched as given: the proxy first applies [`normalize_path`], whose policy (dot segments,
//! `//`, percent-escapes, `%2F`) is written down in `sluice_ingress_model::path`. Both are
//! re-exported so callers use the very same functions.
//!
//! # How
//! 1. Hosts: an exact map, a map of one-label wildcards keyed by their suffix (the request host
//!    minus its first, non-empty label), then the host-less virtual host.
//! 2. Paths of a host: Exact and Prefix routes go into a `matchit` tree of small ids (see
//!    `path.rs`); regex routes are scanned linearly, best precedence first, with their regexes
//!    compiled once, and only while they could beat the tree's answer.
//! 3. Conditions are compiled once; when a candidate's conditions fail, the next-best matching
//!    route (e.g. a shorter prefix) is found through precomputed links.
//! 4. No match, or no virtual host: the table's default route.

mod condition;
mod error;
mod host;
mod linear;
mod path;
mod router;

pub use error::RouterError;
pub use router::Router;
pub use sluice_ingress_model::host::normalize_host;
pub use sluice_ingress_model::path::normalize_path;
