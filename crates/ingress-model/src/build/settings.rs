//! The controller ConfigMap, read through [`crate::config::parse_config`].

use crate::config::Config;
use crate::diagnostic::Diagnostic;
use crate::snapshot::{BuildOptions, Snapshot};

/// Reads the controller ConfigMap named by the options; defaults when there is none.
pub fn config(
    snapshot: &Snapshot,
    opts: &BuildOptions,
    diagnostics: &mut Vec<Diagnostic>,
) -> Config {
    let Some(key) = opts.controller_config.as_ref() else {
        return Config::default();
    };
    match snapshot.config_maps.get(key) {
        Some(config) => crate::config::parse_config(key, &config.data, diagnostics),
        None => Config::default(),
    }
}
