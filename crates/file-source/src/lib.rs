//! Reads files and directories of multi-document Kubernetes YAML into an ingress-model
//! [`Snapshot`](sluice_ingress_model::Snapshot), and watches them to deliver a new one on change.
//! It is the source behind `sluice gateway|check|routes --manifests PATH...`.
//!
//! ```no_run
//! use sluice_file_source::FileSource;
//!
//! let mut source = FileSource::new(["manifests/"]);
//! let loaded = source.load();
//! for diagnostic in &loaded.diagnostics {
//!     eprintln!("{diagnostic}");
//! }
//! let _handle = source.watch(|loaded| {
//!     // Hand `loaded.snapshot` to `ingress_model::build`, log `loaded.diagnostics`.
//!     let _ = loaded;
//! })?;
//! # Ok::<(), sluice_file_source::Error>(())
//! ```
//!
//! What it reads:
//! - **Paths.** A directory contributes every `*.yaml`/`*.yml` file directly inside it (it does
//!   not recurse; hidden entries such as kubelet's `..data` are skipped), sorted by name; a file
//!   named directly is read whatever its extension. Later objects win over earlier ones with the
//!   same kind and `namespace/name`, with a warning.
//! - **Documents.** Multi-document streams; empty documents are skipped but still counted, so
//!   document indices (0-based) match the file. A `v1 List` contributes its `items`.
//! - **Kinds.** `Ingress` (networking.k8s.io/v1; the legacy networking.k8s.io/v1beta1 and
//!   extensions/v1beta1 convert, with a warning), `IngressClass` (networking.k8s.io/v1 and
//!   v1beta1), and `Service`, `Endpoints`, `Secret`, `ConfigMap` (v1), `EndpointSlice`
//!   (discovery.k8s.io/v1). Other kinds are reported at info level and skipped; a known kind in
//!   another apiVersion is an error. A namespaced object without a namespace is in `default`.
//! - **YAML.** YAML 1.2 through serde-saphyr: duplicate keys are errors, only `true`/`false` are
//!   booleans (`yes`, `on` stay strings), alias expansion and nesting are bounded (see
//!   [`MAX_FILE_BYTES`] and [`MAX_DEPTH`]).
//! - **Failures.** A file with any error keeps serving the objects of its last successful read;
//!   on its first read the documents that decoded are served. Each problem is a [`Diagnostic`]
//!   naming the file, line, document, object and field.
//!
//! It must never guess, and never stay silent: an unknown kind, a bad document or a duplicate is
//! reported, not dropped quietly. It must never panic on any bytes, never follow directories
//! recursively, and never depend on an async runtime: watching runs on its own std thread and
//! reports through a callback, which async code can forward into a channel.

mod decode;
mod diagnostic;
mod error;
mod fold;
mod kinds;
mod source;
mod split;
mod watch;

use std::path::PathBuf;

pub use decode::{MAX_DEPTH, MAX_FILE_BYTES};
pub use diagnostic::{Diagnostic, ObjectId};
pub use error::Error;
pub use source::{FileSource, Loaded, parse_bytes};
pub use watch::{MAX_DELAY, QUIET, SETTLED_QUIET, WatchHandle};

/// Reads `paths` once: shorthand for `FileSource::new(paths).load()`.
pub fn load(paths: &[PathBuf]) -> Loaded {
    FileSource::new(paths.iter().cloned()).load()
}
