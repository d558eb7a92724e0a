//! The host index: which virtual host serves a normalised request host. An exact map, a map of
//! one-label wildcards keyed by their suffix, and the host-less virtual host, consulted in that
//! order, as `Routes::virtual_host` does linearly.

use std::borrow::Cow;
use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::sync::Arc;

use sluice_ingress_model::{HostPattern, normalize_host};

/// Host patterns to their values (compiled virtual hosts). Cheap to clone: keys are shared.
#[derive(Clone, Debug)]
pub(crate) struct HostIndex<T> {
    exact: HashMap<Arc<str>, T>,
    wildcard: HashMap<Arc<str>, T>,
    any: Option<T>,
}

impl<T> Default for HostIndex<T> {
    fn default() -> Self {
        Self {
            exact: HashMap::new(),
            wildcard: HashMap::new(),
            any: None,
        }
    }
}

impl<T> HostIndex<T> {
    /// Adds `value` for `pattern` unless the pattern has one already (the first wins);
    /// whether it was added.
    pub(crate) fn insert(&mut self, pattern: &HostPattern, value: T) -> bool {
        let (map, key) = match pattern {
            HostPattern::Exact(name) => (&mut self.exact, name),
            HostPattern::Wildcard(suffix) => (&mut self.wildcard, suffix),
            HostPattern::Any => {
                let vacant = self.any.is_none();
                if vacant {
                    self.any = Some(value);
                }
                return vacant;
            }
        };
        match map.entry(Arc::from(key.as_str())) {
            Entry::Vacant(slot) => {
                slot.insert(value);
                true
            }
            Entry::Occupied(_) => false,
        }
    }

    /// Whether a pattern has a value.
    pub(crate) fn contains(&self, pattern: &HostPattern) -> bool {
        match pattern {
            HostPattern::Exact(name) => self.exact.contains_key(name.as_str()),
            HostPattern::Wildcard(suffix) => self.wildcard.contains_key(suffix.as_str()),
            HostPattern::Any => self.any.is_some(),
        }
    }

    /// Takes a pattern's value out.
    pub(crate) fn remove(&mut self, pattern: &HostPattern) {
        match pattern {
            HostPattern::Exact(name) => {
                self.exact.remove(name.as_str());
            }
            HostPattern::Wildcard(suffix) => {
                self.wildcard.remove(suffix.as_str());
            }
            HostPattern::Any => self.any = None,
        }
    }

    /// The value of a pattern itself.
    pub(crate) fn get(&self, pattern: &HostPattern) -> Option<&T> {
        match pattern {
            HostPattern::Exact(name) => self.exact.get(name.as_str()),
            HostPattern::Wildcard(suffix) => self.wildcard.get(suffix.as_str()),
            HostPattern::Any => self.any.as_ref(),
        }
    }

    /// The value of a normalised request host: exact, then one-label wildcard, then any.
    pub(crate) fn find(&self, host: &str) -> Option<&T> {
        self.find_named(host).or(self.any.as_ref())
    }

    /// As [`HostIndex::find`] without the host-less value.
    pub(crate) fn find_named(&self, host: &str) -> Option<&T> {
        if !self.exact.is_empty()
            && let Some(value) = self.exact.get(host)
        {
            return Some(value);
        }
        if !self.wildcard.is_empty()
            && let Some((first, suffix)) = host.split_once('.')
            && !first.is_empty()
            && let Some(value) = self.wildcard.get(suffix)
        {
            return Some(value);
        }
        None
    }
}

pub(crate) fn normalize(host: &str) -> Cow<'_, str> {
    let bytes = host.as_bytes();
    let plain = bytes
        .iter()
        .all(|&b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.');
    if plain && bytes.last() != Some(&b'.') {
        Cow::Borrowed(host)
    } else {
        normalize_host(host)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn fast_normalisation_equals_the_model(host in "[a-zA-Z0-9.:@\\[\\] _-]{0,12}") {
            prop_assert_eq!(normalize(&host), normalize_host(&host));
        }
    }

    #[test]
    fn normal_hosts_are_borrowed() {
        assert!(matches!(
            normalize("api.example.com"),
            Cow::Borrowed("api.example.com")
        ));
        assert_eq!(normalize("Api.Example.com.:80"), "api.example.com");
        assert_eq!(normalize("example.com."), "example.com");
    }

    #[test]
    fn exact_beats_wildcard_beats_any_and_first_of_duplicates_wins() {
        let mut index = HostIndex::default();
        assert!(index.insert(&HostPattern::Any, 0));
        assert!(index.insert(&HostPattern::Wildcard("example.com".into()), 1));
        assert!(index.insert(&HostPattern::Exact("a.example.com".into()), 2));
        assert!(!index.insert(&HostPattern::Exact("a.example.com".into()), 3));
        assert!(!index.insert(&HostPattern::Any, 4));
        assert_eq!(index.find("a.example.com"), Some(&2));
        assert_eq!(index.find("b.example.com"), Some(&1));
        assert_eq!(index.find("c.b.example.com"), Some(&0));
        assert_eq!(index.find(".example.com"), Some(&0));
        assert_eq!(index.find("example.com"), Some(&0));
        assert_eq!(HostIndex::<u32>::default().find("x"), None);
        index.remove(&HostPattern::Exact("a.example.com".into()));
        index.remove(&HostPattern::Any);
        assert_eq!(index.find("a.example.com"), Some(&1));
        assert_eq!(index.find("example.com"), None);
    }
}
