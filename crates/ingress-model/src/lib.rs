//! The pure core of sluice: a [`Snapshot`] of Kubernetes objects in, a deterministic
//! [`RouteTable`] plus [`Diagnostic`]s out ([`build`]), the reload decision ([`diff`]), and the
//! reference matcher ([`RouteTable::lookup`]) that defines which route serves a request.
//! [`Incremental`] gives the same tables one change after another, re-building only the hosts
//! a change touches; unchanged virtual hosts keep their allocation, so everything downstream
//! ([`Routes::host_changes`]) sees them unchanged by pointer.
//!
//! This crate must never do I/O, spawn, read clocks or the environment, or depend on an async
//! runtime, HTTP or TLS stack. It never panics on object contents: a bad object becomes a
//! diagnostic naming the object and field, and everything else is still served.
//!
//! # Matching rules
//! 1. **Class.** An Ingress is ours when `spec.ingressClassName` names an IngressClass whose
//!    `spec.controller` is ours (or, by option, whose name is our class); else when the
//!    `kubernetes.io/ingress.class` annotation equals our class; else, without any class, when
//!    watching class-less Ingresses is enabled or one of our IngressClasses is the default.
//! 2. **Hosts** are exact (`foo.example.com`) or a wildcard `*.example.com` matching exactly one
//!    extra label; case-insensitive; the request's port and trailing dot are ignored. A rule
//!    without a host matches every host no other rule claims. An exact host beats a wildcard.
//! 3. **Paths.** `Exact` compares the whole path. `Prefix` compares path elements split by `/`:
//!    `/foo` matches `/foo`, `/foo/` and `/foo/bar`, never `/foobar`, and `/foo/` is the same
//!    prefix as `/foo`. `ImplementationSpecific` (or no pathType) is a Prefix. In regex mode
//!    (ingress-nginx `use-regex`) a path is a case-insensitive regex anchored at the start.
//! 4. **Precedence.** Of the matching routes of the chosen host, the longest path wins; at equal
//!    length Exact beats Prefix beats Regex. Unmatched requests go to the host's Ingress
//!    `defaultBackend`, then the controller's default backend, then 404.
//! 5. **Conflicts.** Ingresses are taken oldest `creationTimestamp` first, then by
//!    `namespace/name`; the first to claim a host+path (or a host's TLS) keeps it and the others
//!    get a diagnostic.
//! 6. **Normalisation.** Request paths are matched after [`path::normalize_path`]: dot segments
//!    resolved, `//` collapsed, unreserved percent-escapes decoded, `%2F` kept encoded.
//! 7. **Missing objects.** A missing Service, port or endpoint set makes that route answer 503;
//!    a missing or invalid TLS Secret falls back to the default certificate. Both are reported.
//! 8. **Annotations** (ingress-nginx's, under `--annotations-prefix`; see [`annotations`]): an
//!    invalid value, a blocked word or a too risky annotation rejects the whole Ingress (it
//!    contributes no route and no TLS); a `*-snippet` annotation rejects it or is ignored per
//!    [`SnippetPolicy`]; auth or client-certificate misconfiguration keeps the Ingress but its
//!    routes answer 503 ([`policy::Policy::deny`]). Absent annotations take the controller
//!    ConfigMap's value ([`config`]), itself defaulting to ingress-nginx's default.
//! 9. **Regex mode.** When any accepted Ingress of a host has `use-regex: "true"` or a
//!    `rewrite-target`, every path of that host, in every Ingress, is a [`PathMatch::Regex`]:
//!    case-insensitive, anchored at the start only, longest pattern first (rule 4).
//! 10. **Redirects and aliases.** `permanent-redirect`/`temporal-redirect` (temporal first) turn
//!     the Ingress's routes into [`Action::Redirect`]; `server-alias` copies a host's routes to
//!     each alias that is not a host of its own; `from-to-www-redirect` adds the www/non-www
//!     twin host whose only route redirects to the rule host.
//! 11. **Canaries.** A canary Ingress adds no route: each of its paths attaches as
//!     [`Canary`] to the main route with the same host and path. The route [`RouteTable::lookup`]
//!     returns is unchanged; the proxy chooses between main and canary per request.
//!
//! The Kubernetes documentation's examples, which the tests check row by row:
//!
//! | Kind   | Path(s)                 | Request     | Matches?                        |
//! |--------|-------------------------|-------------|---------------------------------|
//! | Prefix | `/`                     | (all)       | yes                             |
//! | Exact  | `/foo`                  | `/foo`      | yes                             |
//! | Exact  | `/foo`                  | `/bar`      | no                              |
//! | Exact  | `/foo`                  | `/foo/`     | no                              |
//! | Exact  | `/foo/`                 | `/foo`      | no                              |
//! | Prefix | `/foo`                  | `/foo`, `/foo/` | yes                         |
//! | Prefix | `/foo/`                 | `/foo`, `/foo/` | yes                         |
//! | Prefix | `/aaa/bb`               | `/aaa/bbb`  | no                              |
//! | Prefix | `/aaa/bbb`              | `/aaa/bbb`  | yes                             |
//! | Prefix | `/aaa/bbb/`             | `/aaa/bbb`  | yes, ignores trailing slash     |
//! | Prefix | `/aaa/bbb`              | `/aaa/bbb/` | yes, matches trailing slash     |
//! | Prefix | `/aaa/bbb`              | `/aaa/bbb/ccc` | yes, matches subpath         |
//! | Prefix | `/aaa/bbb`              | `/aaa/bbbxyz` | no, not a string prefix       |
//! | Prefix | `/`, `/aaa`             | `/aaa/ccc`  | yes, `/aaa`                     |
//! | Prefix | `/`, `/aaa`, `/aaa/bbb` | `/aaa/bbb`  | yes, `/aaa/bbb`                 |
//! | Prefix | `/`, `/aaa`, `/aaa/bbb` | `/ccc`      | yes, `/`                        |
//! | Prefix | `/aaa`                  | `/ccc`      | no, default backend             |
//! | Mixed  | `/foo` Prefix, `/foo` Exact | `/foo`  | yes, Exact                      |

pub mod annotations;
pub mod build;
pub mod compat;
pub mod condition;
pub mod config;
pub mod diagnostic;
pub mod diff;
pub mod host;
pub mod key;
pub mod lookup;
pub mod objects;
pub mod path;
pub mod policy;
pub mod snapshot;
pub mod table;
pub mod template;
pub mod values;

#[cfg(feature = "k8s")]
pub mod k8s;

pub use build::{Built, Incremental, Reuse, build, is_ours};
pub use condition::{Condition, NoAttributes, RequestAttributes, ValueMatch};
pub use diagnostic::{Diagnostic, DiagnosticKind, Severity};
pub use diff::{EndpointUpdate, Plan, diff};
pub use host::{HostPattern, normalize_host};
pub use key::{Kind, ObjectKey, ObjectRef};
pub use objects::*;
pub use path::{PathMatch, normalize_path};
pub use policy::{BackendProtocol, HostPolicy, Policy, Settings, Timeouts, UpstreamPolicy};
pub use snapshot::{
    BuildOptions, DEFAULT_ANNOTATION_PREFIX, DEFAULT_CONTROLLER_CLASS, ServiceRef, Snapshot,
    SnippetPolicy,
};
pub use table::*;
pub use template::Template;
