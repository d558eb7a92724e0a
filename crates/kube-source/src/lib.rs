//! Watches the Kubernetes API and turns what it sees into ingress-model snapshots.
//!
//! It must never touch the proxy, pick a k8s-openapi version feature, or run a subprocess.
