//! Host labels of the request metrics: which label a request host counts under (an exact
//! host, a wildcard pattern as written, or `-`), kept in step with the table's virtual hosts.

use std::sync::Arc;

use sluice_ingress_model::HostPattern;

use super::labels::UNKNOWN_HOST;

/// The host label of a request host: exact hosts, then wildcard suffixes, else `-`.
#[derive(Clone, Debug)]
pub struct HostLabels {
    exact: hashbrown::HashMap<Arc<str>, Arc<str>>,
    wildcard: hashbrown::HashMap<Arc<str>, Arc<str>>,
    unknown: Arc<str>,
}

impl Default for HostLabels {
    fn default() -> Self {
        Self {
            exact: hashbrown::HashMap::new(),
            wildcard: hashbrown::HashMap::new(),
            unknown: Arc::from(UNKNOWN_HOST),
        }
    }
}

impl HostLabels {
    /// The label of a normalised request host.
    pub fn label(&self, host: &str) -> &Arc<str> {
        match self.exact.get(host) {
            Some(label) => label,
            None => self.label_of_unnamed(host),
        }
    }

    /// The label of a normalised request host that no virtual host names exactly.
    pub(super) fn label_of_unnamed(&self, host: &str) -> &Arc<str> {
        host.split_once('.')
            .and_then(|(_, suffix)| self.wildcard.get(suffix))
            .unwrap_or(&self.unknown)
    }

    /// The label of hosts no virtual host names (`-`).
    pub(super) fn unknown(&self) -> &Arc<str> {
        &self.unknown
    }

    /// Adds the label of a host pattern and returns it.
    pub(super) fn learn(&mut self, pattern: &HostPattern) -> Arc<str> {
        match pattern {
            HostPattern::Exact(host) => {
                let label: Arc<str> = Arc::from(host.as_str());
                self.exact.insert(label.clone(), label.clone());
                label
            }
            HostPattern::Wildcard(suffix) => {
                let label: Arc<str> = Arc::from(format!("*.{suffix}"));
                self.wildcard
                    .insert(Arc::from(suffix.as_str()), label.clone());
                label
            }
            HostPattern::Any => self.unknown.clone(),
        }
    }

    /// Removes the label of a host pattern.
    pub(super) fn forget(&mut self, pattern: &HostPattern) {
        match pattern {
            HostPattern::Exact(host) => self.exact.remove(host.as_str()),
            HostPattern::Wildcard(suffix) => self.wildcard.remove(suffix.as_str()),
            HostPattern::Any => None,
        };
    }

    /// The label of a host pattern this index knows (`-` for others).
    pub(super) fn of_pattern(&self, pattern: &HostPattern) -> Arc<str> {
        match pattern {
            HostPattern::Exact(host) => self.exact.get(host.as_str()).cloned(),
            HostPattern::Wildcard(suffix) => self.wildcard.get(suffix.as_str()).cloned(),
            HostPattern::Any => None,
        }
        .unwrap_or_else(|| self.unknown.clone())
    }
}
