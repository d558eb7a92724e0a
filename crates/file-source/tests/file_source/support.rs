//! Fixtures and helpers shared by the tests.

use std::path::{Path, PathBuf};
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

use sluice_file_source::{Diagnostic, Loaded};

/// How long a watch test waits for an expected state before failing (a liveness bound).
pub const PATIENCE: Duration = Duration::from_secs(5);

/// Writes `text` to `dir/name` and returns the path.
pub fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// A v1 Ingress routing `/` of `host` to Service `service` port 80.
pub fn ingress(name: &str, host: &str, service: &str) -> String {
    format!(
        "apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: {name}
spec:
  ingressClassName: sluice
  rules:
  - host: {host}
    http:
      paths:
      - path: /
        pathType: Prefix
        backend:
          service:
            name: {service}
            port:
              number: 80
"
    )
}

/// A ConfigMap with one key.
pub fn config_map(name: &str, value: &str) -> String {
    format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  key: \"{value}\"\n"
    )
}

/// The diagnostics rendered as lines, for assertions and failure messages.
pub fn lines(diagnostics: &[Diagnostic]) -> Vec<String> {
    diagnostics.iter().map(ToString::to_string).collect()
}

/// Receives snapshots until one satisfies `done`; panics after [`PATIENCE`].
pub fn wait_for(receiver: &Receiver<Loaded>, what: &str, done: impl Fn(&Loaded) -> bool) -> Loaded {
    let deadline = Instant::now() + PATIENCE;
    let mut last = None;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match receiver.recv_timeout(left) {
            Ok(loaded) if done(&loaded) => return loaded,
            Ok(loaded) => last = Some(loaded),
            Err(_) => panic!("no snapshot with {what} within {PATIENCE:?}; last: {last:#?}"),
        }
    }
}

/// The names of the ConfigMaps in a snapshot with their `key` values.
pub fn config_values(loaded: &Loaded) -> Vec<(String, String)> {
    loaded
        .snapshot
        .config_maps
        .values()
        .map(|c| {
            (
                c.key.name.clone(),
                c.data.get("key").cloned().unwrap_or_default(),
            )
        })
        .collect()
}
