//! `sluice-router` compiles the routes of a `sluice_ingress_model::RouteTable` into a fast
//! matcher for the proxy: which [`Route`](sluice_ingress_model::Route) serves a request's host
//! and path (and, for routes with extra conditions, its headers, cookies, query and method).
//!
//! # Contract
//! - [`Router::lookup_request`] returns exactly what the model's reference matcher,
//!   `Routes::lookup` (`RouteTable::lookup`), returns for every host, path and request; that
//!   linear matcher *defines* the semantics, this crate only makes them fast. A property test
//!   compares the two on arbitrary tables and requests, raw and normalised paths alike.
//! - It never does I/O and never panics on table or request contents. [`Router::new`] fails
//!   (with [`RouterError`]) only if the path tree refuses a key, which no table has been found
//!   to cause: braces are escaped and each key is inserted once.
//! - A lookup does not allocate in the common case. Two cases do: a host with upper-case
//!   letters, a port or a trailing dot is normalised into a new string (as the reference does),
//!   and matchit pushes onto a backtracking stack when a path walks past a Prefix route's
//!   catch-all into a longer key below it (e.g. `/api/health` with Prefix `/api` and Exact
//!   `/api/health`).
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
//!    `path.rs`). Regex routes are scanned linearly, best precedence first, with their regexes
//!    compiled once, and only while they could beat the tree's answer. Exact and Prefix paths
//!    without a leading `/` (the empty path included), which `build` never produces but the
//!    reference matches as plain strings, join that linear list instead of the tree.
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
pub use router::{HostMatch, Router, SharedRoute};
pub use sluice_ingress_model::host::normalize_host;
pub use sluice_ingress_model::path::normalize_path;
