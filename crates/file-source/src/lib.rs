//! Reads directories of Kubernetes YAML into ingress-model snapshots and re-reads them on change.
//!
//! It must never guess: unknown kinds and parse errors are reported, not dropped silently.
